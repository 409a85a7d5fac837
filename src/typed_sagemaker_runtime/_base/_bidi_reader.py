"""A bidirectional stream's response, item by item, sans-I/O (awscrt not imported).

awscrt's callbacks report what arrives as :data:`Item` s; :class:`ResponseReader` turns
them into the response's status and headers, its events, or the error that ends it,
mapped as botocore would map it, so that nothing of awscrt's reaches a caller.
"""

from __future__ import annotations

from typing import Any

from .._core._bidi_events import BidiEvent, BidiEventDecoder
from .._core._bidi_response import MAX_ERROR_BODY, http_error
from .._core._exceptions import ServiceError, TransportError

Item = tuple[str, Any]
"""What awscrt's thread reports: ``("headers", (status, headers))``, ``("body", bytes)``,
``("end", exception or None)`` (the service ended its side) or ``("complete", exception or
None)`` (both sides ended, or the stream failed)."""


def crt_error(exc: BaseException, doing: str) -> TransportError:
    """One of the library's exceptions for an awscrt failure (its name kept, nothing else)."""
    # awscrt's AwsCrtError carries the CRT's error name; this module does not import awscrt.
    name = getattr(exc, "name", None) if type(exc).__name__ == "AwsCrtError" else None
    name = name if isinstance(name, str) else type(exc).__name__
    return TransportError(f"bidirectional stream: {doing} failed: {name}{_HINTS.get(name, '')}")


_HINTS = {
    "AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE": (
        " (is the endpoint's certificate trusted? The trust store is the boto3 client's: "
        "verify=, AWS_CA_BUNDLE or the profile's ca_bundle)"
    ),
}


class ResponseReader:
    """What the twins do with each :data:`Item`, sans-I/O: headers, errors, events.

    ``read(item)`` returns the events the item completes and whether the response is over.
    A non-200 response's body is gathered until the stream ends (or its ``content-length``
    is reached), then raised as the mapped :class:`ServiceError`; a failed stream raises
    :class:`TransportError`.
    """

    def __init__(self) -> None:
        self.status: int | None = None
        """The response's HTTP status, once its headers have arrived."""
        self.headers: list[tuple[str, str]] = []
        """The response's headers (``:status`` among them, as awscrt gives them)."""
        self._decoder = BidiEventDecoder()
        self._error_body = bytearray()
        self._error_length: int | None = None

    @property
    def streaming(self) -> bool:
        """Whether a 200 response's headers have arrived (events may follow)."""
        return self.status == 200

    def read(self, item: Item) -> tuple[list[BidiEvent], bool]:
        """The events ``item`` completes, and whether the response has ended."""
        kind, value = item
        if kind == "headers":
            self.status, self.headers = value
            self._error_length = _content_length(self.headers) if self.status != 200 else None
            if self._error_length == 0:
                raise http_error(self.status or 0, self.headers, b"")
            return [], False
        if kind == "body":
            if self.status == 200:
                return self._decoder.feed(value), False
            if len(self._error_body) < MAX_ERROR_BODY:
                self._error_body += value
            if self._error_length is not None and len(self._error_body) >= self._error_length:
                # A sized error body is whole: raise now, not when the service ends its side.
                raise http_error(self.status or 0, self.headers, bytes(self._error_body))
            return [], False
        if kind == "complete" and value is None and self.status == 200:
            return [], False  # our side ended too; the "end" item says whether theirs did
        if self.status is None:
            raise _failure(value, "the stream ended before its response headers")
        if self.status != 200:
            raise http_error(self.status, self.headers, bytes(self._error_body))
        if value is not None:
            raise _failure(value, "the response ended abnormally")
        self._decoder.finish()
        return [], True

    def give_up(self) -> ServiceError:
        """The error response as it stands: its body did not end within the grace."""
        return http_error(self.status or 0, self.headers, bytes(self._error_body))


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None


def _failure(exc: BaseException | None, otherwise: str) -> TransportError:
    if exc is None or isinstance(exc, RuntimeError):
        return TransportError(f"bidirectional stream: {otherwise}")
    return crt_error(exc, "receiving")

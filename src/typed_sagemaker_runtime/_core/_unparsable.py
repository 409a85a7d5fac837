"""Error responses botocore's parser cannot read, as a :class:`ServiceError`, sans-I/O.

botocore parses an error body outside its own ``try``: a JSON body that is not UTF-8 (a
proxy's Latin-1 page), or one nested deeper than Python's recursion limit, escapes a
call as ``UnicodeDecodeError`` or ``RecursionError``. The ``before-parse`` hook
(:func:`remember_error_response`) keeps the status, headers and the start of the body
of each error response; :func:`unparsable_response_error` turns the parser's exception
into a :class:`ServiceError` with them. Without the hook (botocore before 1.35.16,
older aiobotocore) the status is unknown, but the error is still a ``ServiceError``.
"""

from __future__ import annotations

import contextvars
import http
import traceback
from collections.abc import Mapping
from typing import Any, cast

from ._exceptions import ServiceError
from ._service_errors import RETRYABLE_ERRORS, page_excerpt, service_error_class

_KEPT = 4096  # bytes of the body kept for the excerpt (which is much shorter)
_PARSERS = frozenset({"botocore.parsers", "aiobotocore.parsers"})


class _ErrorResponse:
    """What is kept of a response until the parser has read it."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: object, body: bytes) -> None:
        self.status = status
        self.headers = headers  # botocore's, read only if the parser fails
        self.body = body

    def lowered_headers(self) -> dict[str, str]:
        """The headers with lower-case names, as botocore's ``HTTPHeaders`` gives them."""
        raw = self.headers
        if not isinstance(raw, Mapping):
            return {}
        headers = cast("Mapping[object, object]", raw)
        return {str(key).lower(): str(value) for key, value in headers.items()}


_last_error_response: contextvars.ContextVar[_ErrorResponse | None] = contextvars.ContextVar(
    "typed_sagemaker_runtime_last_error_response", default=None
)


def remember_error_response(response_dict: Mapping[str, Any], **_: Any) -> None:
    """botocore ``before-parse`` hook: keep a response for :func:`unparsable_response_error`.

    The status and headers of every response (a 2xx body can fail to parse too: an
    ``InvokeEndpointAsync`` answer that is not UTF-8), the start of the body of an error.
    A sync function, awaited as is by aiobotocore's emitter; the context variable is the
    calling thread's (sync client) or task's (asyncio client).
    """
    status = response_dict.get("status_code")
    if not isinstance(status, int):
        _last_error_response.set(None)
        return
    body: object = response_dict.get("body")
    kept = b""
    if status >= 300 and isinstance(body, (bytes, bytearray)):
        kept = bytes(body[:_KEPT])
    _last_error_response.set(_ErrorResponse(status, response_dict.get("headers"), kept))


def _raised_by_parser(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside botocore's (or aiobotocore's) response parser."""
    return any(
        frame.f_globals.get("__name__") in _PARSERS
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _reason(status: int) -> str:
    try:
        return f" {http.HTTPStatus(status).phrase}"
    except ValueError:
        return ""


def unparsable_response_error(exc: BaseException, operation: str) -> ServiceError | None:
    """The :class:`ServiceError` for an error response botocore's parser failed on.

    ``None`` unless ``exc`` is a ``UnicodeDecodeError``, ``RecursionError`` or
    ``ValueError`` raised by the parser. The message names the status and one line of
    the body, decoded with replacement characters.
    """
    if not isinstance(exc, (ValueError, RecursionError)) or not _raised_by_parser(exc):
        return None
    kept = _last_error_response.get()
    _last_error_response.set(None)
    status = kept.status if kept is not None else None
    headers = kept.lowered_headers() if kept is not None else {}
    request_id = headers.get("x-amzn-requestid") or None
    excerpt = page_excerpt(kept.body.decode("utf-8", "replace")) if kept is not None else ""
    what = "nested too deeply" if isinstance(exc, RecursionError) else "not valid"
    if isinstance(exc, UnicodeDecodeError):
        what = "not UTF-8"
    response = f"an HTTP {status}{_reason(status)} response" if status is not None else "a response"
    text = f"{operation}: {response} whose body botocore could not parse ({what})"
    if excerpt:
        text = f"{text}: {excerpt}"
    code = str(status) if status is not None else "Unknown"
    cls = service_error_class(code, status)
    return cls(
        text,
        code=code,
        http_status=status,
        response={
            "Error": {"Code": code, "Message": excerpt},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "RequestId": request_id,
                "HTTPHeaders": headers,
            },
        },
        request_id=request_id,
        operation=operation,
        retryable=issubclass(cls, RETRYABLE_ERRORS),
    )

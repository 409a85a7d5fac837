"""One bidirectional stream's request side, and what its runner asks the connection to write.

:class:`RequestStream` lives on the connection's thread: it decodes the request's outer
frames, checks each event's chained signature and hands the parts to the backend's
iterator (:meth:`RequestStream.parts`, read on the runner's thread). The runner writes
through :data:`Post` with the actions below; the connection performs them in order,
``SendData`` within HTTP/2 flow control.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from ..._core._bidi_events import BidiPayloadPart, decode_request_part
from ..._core._bidi_signing import utc_now
from ..._core._bidi_verify import EventChainVerifier, SignatureMismatch, verify_request_signature
from ..._core._eventstream import FrameDecoder

_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"
_NOT_HTTP2 = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


@dataclass(frozen=True, slots=True)
class SendHeaders:
    """Send the response headers (without END_STREAM)."""

    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SendData:
    """Send response bytes, as flow control allows."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndStream:
    """End the response (END_STREAM)."""


@dataclass(frozen=True, slots=True)
class ResetStream:
    """Reset the stream (RST_STREAM with ``code``)."""

    code: int


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """Give ``size`` request bytes back to the stream's window (its backend took them)."""

    size: int


@dataclass(frozen=True, slots=True)
class DropConnection:
    """Reset the whole TCP connection (RST, not FIN)."""


Action: TypeAlias = "SendHeaders | SendData | EndStream | ResetStream | DropConnection | OpenWindow"
Post: TypeAlias = Callable[[int, Action], None]
"""Queues an action for a stream id; safe from any thread."""


def error_actions(
    status: int, headers: list[tuple[str, str]], body: bytes
) -> list[SendHeaders | SendData | EndStream | ResetStream]:
    """A complete error response, then RST_STREAM NO_ERROR: "stop sending" (RFC 9113 8.1).

    Headers HTTP/2 forbids (connection-specific ones) and a given ``content-length`` are
    left out; the body's length is sent.
    """
    head = [(":status", str(status))]
    head.extend((k.lower(), v) for k, v in headers if k.lower() not in _NOT_HTTP2)
    head.append(("content-length", str(len(body))))
    return [SendHeaders(tuple(head)), SendData(body), EndStream(), ResetStream(0)]


def json_error(status: int, code: str, message: str, request_id: str) -> list[Action]:
    """An AWS JSON error response for ``code`` (``x-amzn-errortype``, ``{"message": ...}``)."""
    headers = [
        ("x-amzn-errortype", f"{code}:{_ERROR_NAMESPACE}"),
        ("x-amzn-requestid", request_id),
        ("content-type", "application/json"),
    ]
    return list(error_actions(status, headers, json.dumps({"message": message}).encode()))


class RequestRefused(Exception):
    """The request is answered with an error instead of a stream."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


_SIGNATURE_MESSAGES = {
    "InvalidSignatureException": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    ),
    "UnrecognizedClientException": "The security token included in the request is invalid.",
}


def verify_request(
    headers: Mapping[str, str], secret_for: Callable[[str], str | None]
) -> EventChainVerifier:
    """Check the request's SigV4; the verifier of its event chain, or :class:`RequestRefused`.

    A bad signature is refused ``403 InvalidSignatureException``, an unknown access key
    ``403 UnrecognizedClientException``, as AWS's JSON services answer them.
    """
    try:
        seed, region, secret = verify_request_signature(
            method="POST",
            authority=headers.get(":authority") or headers.get("host", ""),
            path=headers.get(":path", ""),
            headers=headers,
            secret_for=secret_for,
            clock=utc_now,
        )
    except SignatureMismatch as exc:
        code = "InvalidSignatureException"
        if "access key id is not known" in str(exc):
            code = "UnrecognizedClientException"
        raise RequestRefused(403, code, _SIGNATURE_MESSAGES[code]) from None
    return EventChainVerifier(seed_signature=seed, secret_key=secret, region=region, clock=utc_now)


MAX_BACKLOG = 8 * 1024 * 1024
"""Response bytes a stream may have waiting for flow control before its backend is held."""


class Backlog:
    """Response bytes posted by a runner and not yet handed to h2 (flow control holds them).

    The runner waits in :meth:`add` while the backlog is over :data:`MAX_BACKLOG`, so a
    client that reads slower than the backend writes holds the backend back instead of
    filling the server's memory.
    """

    def __init__(self, cancelled: threading.Event, limit: int = MAX_BACKLOG) -> None:
        self._cancelled = cancelled
        self._limit = limit
        self._bytes = 0
        self._changed = threading.Condition()

    def add(self, size: int) -> None:
        """Count ``size`` more bytes, once the backlog is under the limit (or the stream gone)."""
        with self._changed:
            while self._bytes >= self._limit and not self._cancelled.is_set():
                self._changed.wait(0.5)
            self._bytes += size

    def sent(self, size: int) -> None:
        """``size`` bytes went to h2."""
        with self._changed:
            self._bytes -= size
            self._changed.notify_all()

    def wake(self) -> None:
        """Wake a waiting runner (the stream is gone)."""
        with self._changed:
            self._changed.notify_all()


class RequestStream:
    """The request side of one stream: verified parts, handed over as they arrive.

    Flow control follows the backend: while parts wait for it, the bytes that arrive are
    given back (:attr:`give_back`) only as it takes the parts they made, so a client that
    sends faster than the backend reads is held by its stream window (16 MiB and one
    event at most wait here), not queued without bound.
    """

    def __init__(self, stream_id: int, verifier: EventChainVerifier) -> None:
        self.stream_id = stream_id
        self.verifier = verifier
        self.cancelled = threading.Event()
        """Set when the stream or its connection is gone: waits and the backend stop."""
        self.backlog = Backlog(self.cancelled)
        self.give_back: Callable[[int], None] = lambda _size: None
        """Reopens the stream's window by ``size`` bytes (set by the connection)."""
        self._frames = FrameDecoder()
        self._parts: queue.Queue[tuple[BidiPayloadPart | None, int]] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0  # parts not yet taken by the backend
        self._withheld = 0  # bytes received since the last part, not yet given back

    def receive(self, data: bytes, size: int | None = None) -> None:
        """Decode and verify request bytes; raises ``SignatureMismatch``/``StreamDecodeError``.

        ``size``: the flow-controlled length of the DATA frame (``len(data)`` by default).
        """
        size = len(data) if size is None else size
        now = 0
        with self._lock:
            if self._waiting:
                self._withheld += size
            else:
                now = size
        for raw_headers, payload in self._frames.feed(data):
            inner = self.verifier.verify(raw_headers, payload)
            part = decode_request_part(inner) if inner else None
            with self._lock:
                credit, self._withheld = self._withheld, 0
                if part is None:
                    now, credit = now + credit, 0
                else:
                    self._waiting += 1
            self._parts.put((part, credit))
        if now:
            self.give_back(now)

    def end_input(self) -> None:
        """The request's side ended (END_STREAM, or a refused event): the parts end."""
        self._parts.put((None, 0))

    def cancel(self) -> None:
        """The stream or the connection is gone."""
        self.cancelled.set()
        self._parts.put((None, 0))
        self.backlog.wake()

    def parts(self) -> Iterator[BidiPayloadPart]:
        """The request's parts, blocking for each; ends with the input or the stream.

        The iterator's ``cancelled`` event tells a backend whose parts ended why: set when
        the stream or its connection went away (a container's relay then drops its socket).
        """
        return _Parts(self)

    def take(self) -> BidiPayloadPart | None:
        """The next part (blocking), ``None`` once the input or the stream has ended."""
        if self.cancelled.is_set():
            return None
        part, credit = self._parts.get()
        if part is None:
            return None
        with self._lock:
            self._waiting -= 1
        if credit:
            self.give_back(credit)
        return part


class _Parts(Iterator[BidiPayloadPart]):
    """A request's parts as a backend iterates them, with the stream's ``cancelled`` event."""

    def __init__(self, request: RequestStream) -> None:
        self._request = request
        self.cancelled = request.cancelled

    def __next__(self) -> BidiPayloadPart:
        part = self._request.take()
        if part is None:
            raise StopIteration
        return part

"""A container's bidirectional streams: the stream's parts over a WebSocket to the container.

What SageMaker's sidecar does (docs ``bidi-protocol.md`` section 6) and how it is done here:

* It opens a WebSocket to ``ws://HOST:PORT/invocations-bidirectional-stream``. When the
  request has ``X-Amzn-SageMaker-Model-Invocation-Path`` and/or ``-Model-Query-String``, the
  URL is ``/{path}?{query}`` instead (``v1/listen?model=nova-3`` for Deepgram); that the
  sidecar honours them on this WebSocket is *inferred* from Deepgram's usage, not documented.
  No request header is forwarded in the handshake (none is documented).
* Each request part is one WebSocket message, sent as it arrives: a text frame for UTF8, a
  binary frame for BINARY or no ``DataType``. A PARTIAL part is its own message too: the
  private-beta contract says PARTIAL fragments are "passed through as-is and are not
  aggregated", so it is neither joined with the next part nor sent as a WebSocket fragment
  (most WebSocket servers join fragments, which would be aggregation). A UTF8 part's bytes go
  out unchanged, valid UTF-8 or not (a container rejects invalid text with close code 1007).
* Each message from the container comes back at once as one COMPLETE part: text as UTF8,
  binary as BINARY.
* When the caller's input ends (its signed end frame), the WebSocket is closed with code
  1000 once the container has been silent for ``input_end_grace`` seconds (1 s) since the
  input ended and since its last frame, and the container's frames keep being read until
  its own close frame. AWS does not document this step. Closing at once would race any
  answer still in flight (a WebSocket server answers a close frame at once, and a message
  its handler sends afterwards is lost), and never closing would leave a container that
  waits for its client to close (an echo) hanging; the grace keeps answers in flight and
  costs at most a second. A container that ends the stream itself (Deepgram after
  ``{"type": "CloseStream"}``) ends it at once.
* The response ends when the container closes with 1000 (or a close frame with no code).
* Pings: the container's pings are answered (the library does); the sidecar's own pings
  (every 60 s, the connection dropped after 5 unanswered) are sent with websockets'
  keepalive.

Failures end the stream with a ``ModelStreamError`` event. The listener has already sent
the 200 response headers when a backend starts (a model may speak first), so a refused
connection cannot become the 424 ``ModelError`` AWS likely answers; the codes:

* ``ModelConnectionFailed``: no TCP connection, or the WebSocket handshake was refused or
  timed out (the message says which, with the container's HTTP status);
* ``ModelClosedWithError``: the container closed with any other code than 1000 (the
  message carries the code and reason);
* ``StreamBroken``: the connection dropped without a close frame, or the container broke
  the protocol (an oversized or invalid frame);
* ``ModelInvocationTimeExceeded``: the container stopped answering pings.

Why websockets' threading client and not its asyncio one: the backend already runs on a
thread of its own and reads a blocking iterator of parts, and the threading connection may
be sent to from one thread while another receives, which is exactly full duplex here: a
pump thread sends the parts while the backend's thread yields what the container sends. An
event loop would add a thread and a hand-over on each side for nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from ..._core._bidi_events import MAX_PART_BYTES, BidiPayloadPart
from ..._core._events import ModelStreamError
from .._bidi_model import BidiInvocation, BidiOutput

__all__ = ["DEFAULT_PATH", "WebSocketTarget", "serve_over_websocket"]

DEFAULT_PATH = "invocations-bidirectional-stream"
"""Where the sidecar connects when the request names no invocation path."""

_NORMAL = 1000
_NO_STATUS = 1005  # a close frame without a code, as websockets reports it
_KEEPALIVE_REASON = "keepalive ping timeout"
_STATUS_BODY = 200  # characters of a refusal's body kept in the message


@dataclass(frozen=True, slots=True)
class WebSocketTarget:
    """Where and how to reach the container's WebSocket."""

    host: str
    port: int
    base: str
    """The container URL's path prefix, without a trailing slash (usually empty)."""
    name: str
    """The container's name in messages (``primary``)."""
    connect_timeout: float = 5.0
    """For the TCP connect and, again, for the WebSocket handshake."""
    ping_interval: float = 60.0
    """Seconds between the sidecar's pings."""
    pings_unanswered: int = 5
    """Pings left unanswered before the connection is dropped."""
    close_timeout: float = 10.0
    """How long to wait for the container's answer to a close frame."""
    input_end_grace: float = 1.0
    """Silence from the container, after the input ended, before the WebSocket is closed."""

    def uri(self, invocation_path: str | None, query_string: str | None) -> str:
        """The WebSocket URL for a request with these invocation path and query string."""
        path = f"{self.base}/{invocation_path or DEFAULT_PATH}"
        query = f"?{query_string}" if query_string else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{path}{query}"


class _OpenFailed(Exception):
    """The WebSocket could not be opened; the message says why."""


def serve_over_websocket(
    invocation: BidiInvocation, target: WebSocketTarget
) -> Iterator[BidiOutput]:
    """Carry one bidirectional stream over a WebSocket to the container; see the module doc."""
    uri = target.uri(invocation.model_invocation_path, invocation.model_query_string)
    with contextlib.ExitStack() as stack:
        try:
            ws = _open(uri, target, stack)
        except _OpenFailed as exc:
            yield ModelStreamError(message=str(exc), error_code="ModelConnectionFailed")
            return
        yield from _relay(invocation, ws, target)


def _relay(
    invocation: BidiInvocation, ws: ClientConnection, target: WebSocketTarget
) -> Iterator[BidiOutput]:
    """Pump the parts to the container on a thread; yield what it sends as it arrives."""
    session = _Session(ws, target)
    pump = threading.Thread(
        target=session.pump, args=(invocation,), name=f"bidi-ws-pump-{invocation.request_id}"
    )
    pump.daemon = True
    pump.start()
    try:
        while True:
            try:
                message = ws.recv()
            except ConnectionClosed as exc:
                failure = _failure(exc, target)
                if failure is not None:
                    yield failure
                return
            session.heard()
            if isinstance(message, str):
                yield BidiPayloadPart(message.encode("utf-8"), "UTF8", "COMPLETE")
            else:
                yield BidiPayloadPart(bytes(message), "BINARY", "COMPLETE")
    finally:
        session.finished.set()
        ws.close()


class _Session:
    """The sending side of one stream: the pump, and when to close after the input ends."""

    def __init__(self, ws: ClientConnection, target: WebSocketTarget) -> None:
        self._ws = ws
        self._grace = target.input_end_grace
        self._last_heard = time.monotonic()
        self.finished = threading.Event()
        """Set once the container's side has ended (or the caller went away)."""

    def heard(self) -> None:
        """Note that a frame came from the container just now."""
        self._last_heard = time.monotonic()

    def pump(self, invocation: BidiInvocation) -> None:
        """Send each part as it arrives; close with 1000 once the input ended and all is quiet."""
        try:
            for part in invocation.parts:
                if self.finished.is_set():
                    return
                self._ws.send(part.data, text=part.data_type == "UTF8")
            cancelled = getattr(invocation.parts, "cancelled", None)
            if isinstance(cancelled, threading.Event) and cancelled.is_set():
                # The stream is gone (its client, or LocalRuntime.stop()): no close handshake
                # with a container that may never answer; the relay's recv() ends at once.
                with contextlib.suppress(OSError):
                    self._ws.socket.shutdown(socket.SHUT_RDWR)
                return
            ended = time.monotonic()
            while not self.finished.is_set():
                quiet_since = max(ended, self._last_heard)
                remaining = quiet_since + self._grace - time.monotonic()
                if remaining <= 0:
                    self._ws.close(_NORMAL)
                    return
                self.finished.wait(remaining)
        except ConnectionClosed:
            return  # the container ended the stream; what the caller still sends has nowhere to go


def _open(uri: str, target: WebSocketTarget, stack: contextlib.ExitStack) -> ClientConnection:
    where = f"container {target.name} at {uri}"
    try:
        sock = socket.create_connection((target.host, target.port), timeout=target.connect_timeout)
    except OSError as exc:
        raise _OpenFailed(f"could not connect to {where}: {exc}") from exc
    # Silence is normal on a stream; websockets 15 keeps a given socket's timeout (17 does not).
    sock.settimeout(None)
    try:
        # Entered as a context manager: websockets 16 and later connect on entry.
        return stack.enter_context(
            connect(
                uri,
                sock=sock,
                open_timeout=target.connect_timeout,
                ping_interval=target.ping_interval,
                ping_timeout=target.ping_interval * target.pings_unanswered,
                close_timeout=target.close_timeout,
                max_size=MAX_PART_BYTES,
                compression=None,
                user_agent_header=None,
            )
        )
    except InvalidStatus as exc:
        sock.close()
        response = exc.response
        body = response.body.decode("utf-8", "replace")[:_STATUS_BODY] if response.body else ""
        detail = f": {body.strip()}" if body.strip() else ""
        raise _OpenFailed(
            f"{where} refused the WebSocket with HTTP {response.status_code}{detail}"
        ) from exc
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        sock.close()
        raise _OpenFailed(f"the WebSocket handshake with {where} failed: {exc!r}") from exc


def _failure(exc: ConnectionClosed, target: WebSocketTarget) -> ModelStreamError | None:
    """The error event a closed WebSocket ends the stream with, ``None`` for a normal end."""
    received, sent = exc.rcvd, exc.sent
    container_first = received is not None and (sent is None or bool(exc.rcvd_then_sent))
    if container_first:
        assert received is not None
        if received.code in (_NORMAL, _NO_STATUS):
            return None
        reason = f": {received.reason}" if received.reason else ""
        return ModelStreamError(
            message=(
                f"container {target.name} closed the WebSocket with code {received.code}{reason}"
            ),
            error_code="ModelClosedWithError",
        )
    if sent is not None and sent.code == _NORMAL:
        return None  # the input ended; the container then closed, with a frame or not
    if sent is not None and sent.reason == _KEEPALIVE_REASON:
        waited = target.ping_interval * target.pings_unanswered
        return ModelStreamError(
            message=f"container {target.name} answered no ping for {waited:g} s",
            error_code="ModelInvocationTimeExceeded",
        )
    why = f" (code {sent.code}: {sent.reason})" if sent is not None else ""
    return ModelStreamError(
        message=f"the connection to container {target.name} broke mid-stream{why}",
        error_code="StreamBroken",
    )

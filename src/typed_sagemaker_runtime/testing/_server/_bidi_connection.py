"""One HTTP/2 connection of the bidirectional listener: the h2 state machine on its thread.

The thread completes the TLS handshake (ALPN ``h2`` required), then runs a sans-I/O ``h2``
connection on the non-blocking socket with a selector. Request streams are opened through
the listener (:class:`StreamOpener`), which verifies them and starts their runners; request
data is verified and handed to the stream on this thread. Runners write from their own
threads by posting actions (:data:`Post`) to an outbox and waking the selector through a
socket pair; this thread performs them in order, response data within flow control.

Flow control: each DATA frame's bytes are given back to the connection at once, and to its
stream as soon as the backend has taken the parts waiting before them (at once when none
waits); windows start 16 MiB above HTTP/2's default. With h2's
``acknowledge_received_data`` (an update per half window) and default windows, awscrt stalls
on a delayed ACK (~40 ms) per window: 1 MB/s upstream on loopback (notes/bidi-transport.md).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import selectors
import socket
import ssl
import struct
import threading
import time
from collections.abc import Mapping
from typing import Protocol

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from ..._core._bidi_verify import SignatureMismatch
from ..._core._exceptions import StreamDecodeError
from ._bidi_runner import StreamRunner
from ._bidi_stream import (
    Action,
    Backlog,
    DropConnection,
    EndStream,
    OpenWindow,
    ResetStream,
    SendData,
    SendHeaders,
)

logger = logging.getLogger("typed_sagemaker_runtime.testing")

EXTRA_WINDOW = 16 * 1024 * 1024
_HANDSHAKE_TIMEOUT = 5.0


class StreamOpener(Protocol):
    """What a connection needs from its listener."""

    stopping: threading.Event

    def open_stream(
        self, stream_id: int, headers: Mapping[str, str], post: _PostFn
    ) -> StreamRunner | None:
        """Verify and route a request; its started runner, or ``None`` once refused."""
        ...

    def input_ended(self, signed_end: bool) -> None:
        """A request ended its side; ``signed_end``: its signed end frame came first."""
        ...

    def event_refused(self, reason: str) -> None:
        """A request event failed its check (for tests)."""
        ...


class _PostFn(Protocol):
    def __call__(self, stream_id: int, action: Action, /) -> None: ...


class _Dropped(Exception):
    """A fault asked for the connection to be reset."""


class BidiConnection:
    """One client connection; :meth:`run` on its own thread, :meth:`shutdown` from any."""

    def __init__(
        self,
        opener: StreamOpener,
        raw: socket.socket,
        context: ssl.SSLContext,
        idle_timeout: float | None = None,
    ) -> None:
        self._opener = opener
        self._idle_timeout = idle_timeout
        self._last_active = time.monotonic()
        self._raw = raw
        self._context = context
        self._tls: ssl.SSLSocket | None = None  # set before the handshake (it owns the fd)
        self._sock: ssl.SSLSocket | None = None  # set once the handshake is done
        self._h2 = h2.connection.H2Connection(
            # Headers stay bytes: a value that is not UTF-8 must fail its signature, not h2.
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self._wake_r, self._wake_w = socket.socketpair()
        self._outbox: queue.Queue[tuple[int, Action]] = queue.Queue()
        self._pending: dict[int, collections.deque[Action]] = {}
        self._open: set[int] = set()
        self._runners: dict[int, StreamRunner] = {}
        self._backlogs: dict[int, Backlog] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.runners: list[StreamRunner] = []
        """Every stream runner started on this connection (their threads are joined at stop)."""

    def shutdown(self) -> None:
        """Wake the connection's thread so that it sees the listener stopping."""
        with self._lock:
            if self._closed:
                return
            if self._sock is None:  # still in the TLS handshake: end it now
                with contextlib.suppress(OSError):
                    (self._tls or self._raw).shutdown(socket.SHUT_RDWR)
        self.post(0, EndStream())

    def post(self, stream_id: int, action: Action) -> None:
        """Queue ``action`` for ``stream_id`` and wake the thread; safe from any thread."""
        self._outbox.put((stream_id, action))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def run(self) -> None:
        """Serve the connection until it ends or the listener stops."""
        try:
            self._handshake()
            self._serve()
        except (OSError, ssl.SSLError, _Dropped):
            pass
        except h2.exceptions.ProtocolError as exc:
            logger.debug("bidirectional connection closed: %r", exc)
        except Exception as exc:  # whatever a hostile client provokes ends its connection only
            logger.warning("bidirectional connection closed: %s", type(exc).__name__)
        finally:
            for runner in self._runners.values():
                runner.request.cancel()
            with self._lock:
                self._closed = True
                with contextlib.suppress(OSError):
                    (self._tls or self._raw).close()
                self._wake_r.close()
                self._wake_w.close()

    def _handshake(self) -> None:
        self._raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle waits
        self._raw.settimeout(_HANDSHAKE_TIMEOUT)
        # wrap_socket takes the raw socket's descriptor: shutdown() must reach it through
        # the TLS socket, so that it is kept before the handshake starts.
        sock = self._context.wrap_socket(self._raw, server_side=True, do_handshake_on_connect=False)
        with self._lock:
            self._tls = sock
        if self._opener.stopping.is_set():
            raise OSError("stopping")
        sock.do_handshake()
        with self._lock:
            self._sock = sock
        if self._sock.selected_alpn_protocol() != "h2":
            raise OSError("the client did not negotiate h2")

    def _serve(self) -> None:
        assert self._sock is not None
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(EXTRA_WINDOW)
        self._flush()
        self._sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ, "net")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._opener.stopping.is_set():
                for key, _ in selector.select(timeout=1.0):
                    if key.data == "wake":
                        self._wake_r.recv(4096)
                        self._drain_outbox()
                    elif not self._read():
                        return
                self._flush()
                if self._idle():
                    self._h2.close_connection()  # GOAWAY, then the close
                    self._flush()
                    return

    def _idle(self) -> bool:
        """No stream is being answered and nothing has come for ``idle_timeout`` seconds."""
        if self._idle_timeout is None:
            return False
        if any(runner.thread.is_alive() for runner in self._runners.values()):
            return False
        return time.monotonic() - self._last_active > self._idle_timeout

    def _read(self) -> bool:
        assert self._sock is not None
        self._last_active = time.monotonic()
        while True:
            try:
                data = self._sock.recv(65536)
            except ssl.SSLWantReadError:
                return True
            if not data:
                return False
            for event in self._h2.receive_data(data):
                self._handle(event)
            if not self._sock.pending():
                return True

    def _flush(self) -> None:
        """Write what h2 has to send; a client reading nothing for ``idle_timeout`` is dropped."""
        assert self._sock is not None
        view = memoryview(self._h2.data_to_send())
        stalled_since: float | None = None
        while view:
            try:
                sent = self._sock.send(view)
            except (ssl.SSLWantWriteError, BlockingIOError):
                now = time.monotonic()
                stalled_since = now if stalled_since is None else stalled_since
                if self._idle_timeout is not None and now - stalled_since > self._idle_timeout:
                    raise OSError("the client reads nothing") from None
                _wait_writable(self._sock, min(1.0, self._idle_timeout or 1.0))
                if self._opener.stopping.is_set():
                    raise OSError("stopping") from None
                continue
            stalled_since = None
            view = view[sent:]

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers = {_text(k): _text(v) for k, v in event.headers or []}
            self._open.add(event.stream_id)
            runner = self._opener.open_stream(event.stream_id, headers, self.post)
            if runner is not None:
                self._widen_stream(event.stream_id, EXTRA_WINDOW)
                stream_id = event.stream_id
                runner.request.give_back = lambda size: self.post(stream_id, OpenWindow(size))
                self._runners[event.stream_id] = runner
                self._backlogs[event.stream_id] = runner.request.backlog
                self.runners = [r for r in self.runners if r.thread.is_alive()]
                self.runners.append(runner)
        elif isinstance(event, h2.events.DataReceived):
            consumed = event.flow_controlled_length or 0
            if consumed:
                self._h2.increment_flow_control_window(consumed)
            runner = self._runners.get(event.stream_id)
            if runner is None:
                self._widen_stream(event.stream_id, consumed)
            else:  # the stream's window reopens as its backend takes the parts
                self._receive(runner, event.data or b"", consumed)
        elif isinstance(event, h2.events.StreamEnded):
            runner = self._runners.get(event.stream_id)
            if runner is not None:
                self._opener.input_ended(runner.request.verifier.ended)
                runner.request.end_input()
        elif isinstance(event, h2.events.StreamReset):
            self._forget(event.stream_id)
        elif isinstance(event, h2.events.WindowUpdated):
            for stream_id in list(self._pending):
                self._send_pending(stream_id)

    def _widen_stream(self, stream_id: int, size: int) -> None:
        # The client may have ended or reset the stream in the same read (h2 may have
        # forgotten it already: a KeyError); its StreamReset/StreamEnded event follows.
        if size <= 0 or stream_id not in self._open:
            return
        with contextlib.suppress(h2.exceptions.ProtocolError, KeyError):
            self._h2.increment_flow_control_window(size, stream_id)

    def _receive(self, runner: StreamRunner, data: bytes, size: int) -> None:
        try:
            runner.request.receive(data, size)
        except (SignatureMismatch, StreamDecodeError) as exc:
            code = "InvalidSignatureException" if isinstance(exc, SignatureMismatch) else "400"
            self._opener.event_refused(str(exc))
            del self._runners[runner.request.stream_id]  # later data is ignored
            runner.refuse_event(code, str(exc))

    def _forget(self, stream_id: int) -> None:
        """The stream is gone (reset by either side): its runner stops, its output is dropped."""
        self._open.discard(stream_id)
        self._pending.pop(stream_id, None)
        self._backlogs.pop(stream_id, None)
        runner = self._runners.pop(stream_id, None)
        if runner is not None:
            runner.request.cancel()

    def _drain_outbox(self) -> None:
        while True:
            try:
                stream_id, action = self._outbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(action, OpenWindow):  # never waits behind the stream's data
                self._widen_stream(stream_id, action.size)
            elif stream_id in self._open:
                self._pending.setdefault(stream_id, collections.deque()).append(action)
                self._send_pending(stream_id)

    def _send_pending(self, stream_id: int) -> None:
        """Perform a stream's queued actions in order, its data as flow control allows."""
        pending = self._pending.get(stream_id)
        while pending:
            action = pending[0]
            if isinstance(action, SendData):
                window = min(
                    self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
                )
                if window <= 0:
                    return
                self._h2.send_data(stream_id, action.data[:window])
                backlog = self._backlogs.get(stream_id)
                if backlog is not None:
                    backlog.sent(min(window, len(action.data)))
                if len(action.data) > window:
                    pending[0] = SendData(action.data[window:])
                else:
                    pending.popleft()
                continue
            pending.popleft()
            try:
                self._perform(stream_id, action)
            except h2.exceptions.ProtocolError:  # the client reset or closed it meanwhile
                self._forget(stream_id)
                return
        self._pending.pop(stream_id, None)

    def _perform(self, stream_id: int, action: Action) -> None:
        if isinstance(action, SendHeaders):
            self._h2.send_headers(stream_id, list(action.headers))
        elif isinstance(action, EndStream):
            self._h2.end_stream(stream_id)
        elif isinstance(action, ResetStream):
            self._h2.reset_stream(stream_id, action.code)
            self._forget(stream_id)
        elif isinstance(action, DropConnection):
            self._drop()

    def _drop(self) -> None:
        """Close the TCP connection with a reset (SO_LINGER 0), mid-whatever it was doing."""
        sock = self._tls or self._raw
        with contextlib.suppress(OSError):
            self._flush()  # what was sent before the reset goes out first
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raise _Dropped


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _wait_writable(sock: socket.socket, timeout: float) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        selector.select(timeout=timeout)

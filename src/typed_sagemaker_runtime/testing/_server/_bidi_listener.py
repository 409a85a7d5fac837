"""A local HTTP/2 + TLS listener for InvokeEndpointWithBidirectionalStream (issue 21).

awscrt speaks HTTP/2 only over TLS with ALPN ``h2`` (docs ``bidi-protocol.md`` section 3),
so the listener makes a certificate authority and a ``localhost``/``127.0.0.1`` certificate
at start (trustme) and exposes the CA file as :attr:`BidiListener.ca_bundle`.

One thread accepts; each connection runs a sans-I/O ``h2`` state machine on its own thread,
and each request stream runs its backend on a thread of its own: the backend receives the
request's parts as they arrive (a blocking iterator) and yields response events, which are
written as they come, while request data still arrives (full duplex). The request's SigV4
and every event's chained ``:chunk-signature`` are checked with :mod:`._bidi_verify`; a bad
request signature is answered ``403`` ``InvalidSignatureException`` (an unknown key
``UnrecognizedClientException``) as AWS's JSON services answer, a bad event signature with
an in-stream error message, after which the stream ends.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import selectors
import shutil
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import trustme

from ..._core._bidi_events import (
    BidiEvent,
    BidiPayloadPart,
    decode_request_part,
    encode_response_event as encode_event,
)
from ..._core._bidi_signing import EVENT_STREAM_CONTENT_TYPE, utc_now
from ..._core._bidi_verify import EventChainVerifier, SignatureMismatch, verify_request_signature
from ..._core._eventstream import FrameDecoder, encode_frame
from ..._core._exceptions import StreamDecodeError

BidiBackend = Callable[[Iterator[BidiPayloadPart]], Iterable[BidiEvent]]
"""Receives the request's parts as they arrive and yields the response's events."""

_PATH = re.compile(r"/endpoints/(?P<name>[A-Za-z0-9-]{1,63})/invocations-bidirectional-stream")
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"
_END = object()
_EXTRA_WINDOW = 16 * 1024 * 1024


def echo_backend(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
    """Answers every part with itself, at once."""
    yield from parts


class _Stream:
    """One request stream: its signature chain, its parts queue and its backend thread."""

    def __init__(self, stream_id: int, verifier: EventChainVerifier) -> None:
        self.stream_id = stream_id
        self.verifier = verifier
        self.frames = FrameDecoder()
        self.parts: queue.Queue[BidiPayloadPart | object] = queue.Queue()
        self.closed = False
        self.thread: threading.Thread | None = None

    def incoming(self) -> Iterator[BidiPayloadPart]:
        while not self.closed:
            item = self.parts.get()
            if item is _END:
                return
            assert isinstance(item, BidiPayloadPart)
            yield item


class _Connection:
    """One client connection: h2 on a TLS socket, woken by backends through a socket pair."""

    def __init__(self, listener: BidiListener, sock: ssl.SSLSocket) -> None:
        self._listener = listener
        self._sock = sock
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self._wake_r, self._wake_w = socket.socketpair()
        self._outbox: queue.Queue[tuple[int, bytes | None]] = queue.Queue()
        self._pending: dict[int, list[bytes | None]] = {}
        self._streams: dict[int, _Stream] = {}

    def run(self) -> None:
        try:
            self._serve()
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            for stream in self._streams.values():
                stream.closed = True
                stream.parts.put(_END)
            with contextlib.suppress(OSError):
                self._sock.close()
            self._wake_r.close()
            self._wake_w.close()

    def _serve(self) -> None:
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_EXTRA_WINDOW)
        self._flush()
        self._sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ, "net")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._listener.stopping.is_set():
                for key, _ in selector.select(timeout=0.5):
                    if key.data == "wake":
                        self._wake_r.recv(4096)
                        self._drain_outbox()
                    elif not self._read():
                        return
                self._flush()

    def _read(self) -> bool:
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
        data = self._h2.data_to_send()
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
            except (ssl.SSLWantWriteError, BlockingIOError):
                _wait_writable(self._sock)
                continue
            view = view[sent:]

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._open(event.stream_id, {_text(k): _text(v) for k, v in event.headers or []})
        elif isinstance(event, h2.events.DataReceived):
            self._open_window(event.stream_id, event.flow_controlled_length)
            stream = self._streams.get(event.stream_id)
            if stream is not None and not stream.closed:
                self._receive(stream, event.data or b"")
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                with self._listener.ends_changed:
                    self._listener.ended.append(stream.verifier.ended)
                    self._listener.ends_changed.notify_all()
                stream.parts.put(_END)
        elif isinstance(event, h2.events.StreamReset):
            stream = self._streams.pop(event.stream_id, None)
            self._pending.pop(event.stream_id, None)
            if stream is not None:
                stream.closed = True
                stream.parts.put(_END)
        elif isinstance(event, h2.events.WindowUpdated):
            for stream_id in list(self._pending):
                self._send_pending(stream_id)

    def _open_window(self, stream_id: int, consumed: int) -> None:
        # Each DATA frame's bytes are given back at once, to the stream and the connection,
        # whose windows start _EXTRA_WINDOW above the default 64 KiB. With h2's
        # acknowledge_received_data (an update per half window) and default windows, awscrt
        # stalls on a delayed ACK (~40 ms) per window: 1 MB/s upstream on loopback.
        if consumed:
            self._h2.increment_flow_control_window(consumed)
            with contextlib.suppress(h2.exceptions.ProtocolError):  # the stream may have ended
                self._h2.increment_flow_control_window(consumed, stream_id)

    def _open(self, stream_id: int, headers: Mapping[str, str]) -> None:
        self._listener.requests.append(dict(headers))
        path = headers.get(":path", "")
        # AWS's Python client sends an empty query (``...-stream?``); the path is what precedes it.
        if headers.get(":method") != "POST" or _PATH.fullmatch(path.partition("?")[0]) is None:
            self._respond_error(stream_id, 404, "UnknownOperationException", "Not found")
            return
        try:
            seed, region, secret = verify_request_signature(
                method="POST",
                authority=headers.get(":authority") or headers.get("host", ""),
                path=path,
                headers=headers,
                secret_for=self._listener.credentials.get,
                clock=utc_now,
            )
        except SignatureMismatch as exc:
            code = "InvalidSignatureException"
            if "access key id is not known" in str(exc):
                code = "UnrecognizedClientException"
            self._respond_error(stream_id, 403, code, _MESSAGES.get(code, str(exc)))
            return
        verifier = EventChainVerifier(
            seed_signature=seed, secret_key=secret, region=region, clock=utc_now
        )
        stream = _Stream(stream_id, verifier)
        self._h2.increment_flow_control_window(_EXTRA_WINDOW, stream_id)
        self._streams[stream_id] = stream
        response_headers = [
            (":status", "200"),
            ("content-type", EVENT_STREAM_CONTENT_TYPE),
            ("x-amzn-requestid", str(uuid.uuid4())),
            ("x-amzn-invoked-production-variant", "AllTraffic"),
        ]
        self._h2.send_headers(stream_id, response_headers)
        stream.thread = threading.Thread(
            target=self._run_backend, args=(stream,), name=f"bidi-backend-{stream_id}", daemon=True
        )
        stream.thread.start()

    def _respond_error(self, stream_id: int, status: int, code: str, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self._h2.send_headers(
            stream_id,
            [
                (":status", str(status)),
                ("x-amzn-errortype", f"{code}:{_ERROR_NAMESPACE}"),
                ("x-amzn-requestid", str(uuid.uuid4())),
                ("content-type", "application/json"),
                ("content-length", str(len(body))),
            ],
        )
        self._h2.send_data(stream_id, body, end_stream=True)
        # The response is complete: ask the client to stop sending (RFC 9113 section 8.1).
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.NO_ERROR)

    def _receive(self, stream: _Stream, data: bytes) -> None:
        try:
            for raw_headers, payload in stream.frames.feed(data):
                inner = stream.verifier.verify(raw_headers, payload)
                if inner:
                    stream.parts.put(decode_request_part(inner))
                else:
                    stream.parts.put(_END)
        except (SignatureMismatch, StreamDecodeError) as exc:
            code = "InvalidSignatureException" if isinstance(exc, SignatureMismatch) else "400"
            self._listener.refusals.append(str(exc))
            stream.closed = True
            stream.parts.put(_END)
            frame = encode_frame(
                {":message-type": "error", ":error-code": code, ":error-message": str(exc)}
            )
            self._pending.setdefault(stream.stream_id, []).extend([frame, None])
            self._send_pending(stream.stream_id)

    def _run_backend(self, stream: _Stream) -> None:
        try:
            for event in self._listener.backend(stream.incoming()):
                if stream.closed:
                    return
                self._post(stream.stream_id, encode_event(event))
        except Exception:  # a failing backend ends its stream, not the listener
            self._post(
                stream.stream_id,
                encode_frame(
                    {
                        ":message-type": "error",
                        ":error-code": "InternalStreamFailure",
                        ":error-message": "the backend failed",
                    }
                ),
            )
        if not stream.closed:
            self._post(stream.stream_id, None)

    def _post(self, stream_id: int, data: bytes | None) -> None:
        self._outbox.put((stream_id, data))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _drain_outbox(self) -> None:
        while True:
            try:
                stream_id, data = self._outbox.get_nowait()
            except queue.Empty:
                return
            if stream_id in self._streams and not self._streams[stream_id].closed:
                self._pending.setdefault(stream_id, []).append(data)
                self._send_pending(stream_id)

    def _send_pending(self, stream_id: int) -> None:
        """Send what flow control allows of a stream's queued frames, in order."""
        pending = self._pending.get(stream_id, [])
        while pending:
            data = pending[0]
            if data is None:
                with contextlib.suppress(h2.exceptions.ProtocolError):
                    self._h2.end_stream(stream_id)
                pending.clear()
                break
            window = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            if window <= 0:
                return
            self._h2.send_data(stream_id, data[:window])
            if len(data) > window:
                pending[0] = data[window:]
            else:
                pending.pop(0)
        self._pending.pop(stream_id, None)


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _wait_writable(sock: socket.socket) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        selector.select(timeout=1.0)


_MESSAGES = {
    "InvalidSignatureException": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    ),
    "UnrecognizedClientException": "The security token included in the request is invalid.",
}


class BidiListener:
    """The local endpoint's HTTP/2 TLS listener for bidirectional streams.

    ``credentials`` maps access key ids to their secrets; ``backend`` answers each stream.
    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        backend: BidiBackend = echo_backend,
        *,
        credentials: Mapping[str, str],
        host: str = "127.0.0.1",
    ) -> None:
        self.backend = backend
        self.credentials = dict(credentials)
        self.stopping = threading.Event()
        self.requests: list[dict[str, str]] = []
        """The headers of every request received, pseudo-headers included (for tests)."""
        self.refusals: list[str] = []
        """Why each refused event was refused."""
        self.ended: list[bool] = []
        """For each request that ended its side: whether its signed end frame came first."""
        self.ends_changed = threading.Condition()
        self._host = host
        self._directory = Path(tempfile.mkdtemp(prefix="smr-bidi-"))
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._connections: list[ssl.SSLSocket] = []
        self._context = self._make_context()

    def _make_context(self) -> ssl.SSLContext:
        authority = trustme.CA()
        certificate = authority.issue_cert("localhost", "127.0.0.1", "::1")
        authority.cert_pem.write_to_path(str(self._directory / "ca.pem"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["h2"])
        key_and_chain = str(self._directory / "server.pem")
        certificate.private_key_and_cert_chain_pem.write_to_path(key_and_chain)
        context.load_cert_chain(key_and_chain)
        return context

    def wait_for_ends(self, count: int, timeout: float = 5.0) -> list[bool]:
        """:attr:`ended` once ``count`` requests have ended their side (or ``timeout`` passed)."""
        with self.ends_changed:
            self.ends_changed.wait_for(lambda: len(self.ended) >= count, timeout)
            return list(self.ended)

    @property
    def ca_bundle(self) -> str:
        """The PEM file of the authority that signed the listener's certificate."""
        return str(self._directory / "ca.pem")

    @property
    def port(self) -> int:
        """The port the listener is bound to."""
        assert self._sock is not None, "the listener is not started"
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """``https://localhost:PORT``: the endpoint URL a client connects to."""
        return f"https://localhost:{self.port}"

    def start(self) -> BidiListener:
        """Bind and start accepting connections."""
        self._sock = socket.create_server((self._host, 0))
        thread = threading.Thread(target=self._accept, name="bidi-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self.stopping.is_set():
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            try:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle waits
                raw.settimeout(5.0)
                sock = self._context.wrap_socket(raw, server_side=True)
                sock.settimeout(None)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            if sock.selected_alpn_protocol() != "h2":
                sock.close()
                continue
            self._connections.append(sock)
            thread = threading.Thread(
                target=_Connection(self, sock).run, name="bidi-connection", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop accepting, end every connection, join the threads, remove the certificate."""
        self.stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._sock.close()
        for sock in self._connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5.0)
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> BidiListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

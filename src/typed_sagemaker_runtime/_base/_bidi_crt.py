"""What the sync and asyncio bidirectional transports share: awscrt's HTTP/2 stream (issue 21).

awscrt's ``Http2ClientConnection`` with ``manual_write=True`` writes the request body frame
by frame while its event-loop thread delivers the response (docs ``bidi-protocol.md``
section 3): full duplex, with thread-safe futures that both twins can wait on. Here: TLS
options (ALPN ``h2``; awscrt speaks HTTP/2 only over TLS), the stream with its callbacks
(:class:`CrtBidiStream`), what each callback means for the caller (:class:`ResponseReader`),
and awscrt's failures turned into the library's exceptions, so that none of awscrt's
reaches a caller. awscrt is the ``bidi`` extra: imported only when a stream is opened.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError

from awscrt import http as crt_http, io as crt_io

from .._core._bidi_events import BidiPayloadPart, encode_part
from .._core._bidi_request import OpenedRequest
from .._core._exceptions import StreamError, TransportError
from ._bidi_reader import Item, crt_error
from ._bidi_setup import BidiSettings

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for the connection, a write, or the next response bytes."""


def _stamp(ca_file: str | None) -> tuple[int, int, int] | None:
    """What identifies a CA file's content cheaply: a file rewritten in place is read again."""
    if ca_file is None:
        return None
    try:
        stat = os.stat(ca_file)
    except OSError:
        return None  # _tls_context names the missing file
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _tls_context(
    ca_file: str | None, verify: bool, stamp: tuple[int, int, int] | None = None
) -> crt_io.ClientTlsContext:
    # About 11 ms to build (the trust store is read): once per CA file (as it is), not per
    # stream.
    del stamp  # only part of the cache key
    options = crt_io.TlsContextOptions()
    options.alpn_list = ["h2"]
    options.verify_peer = verify
    if ca_file is not None:
        options.override_default_trust_store_from_path(None, ca_file)
    return crt_io.ClientTlsContext(options)


def tls_options(host: str, ca_file: str | None, verify: bool = True) -> crt_io.TlsConnectionOptions:
    """TLS for ``host`` with ALPN ``h2``, trusting ``ca_file`` instead of the system's if given.

    A CA file that cannot be read raises :class:`TransportError` naming it.
    """
    try:
        context = _tls_context(ca_file, verify, _stamp(ca_file))
    except Exception as exc:
        reason = "no such file" if isinstance(exc, OSError) else "no PEM certificate in it"
        raise TransportError(
            f"bidirectional stream: the CA bundle {ca_file!r} cannot be used: {reason}"
        ) from exc
    connection = context.new_connection_options()
    connection.set_server_name(host.strip("[]"))
    return connection


def crt_request(opened: OpenedRequest, user_agent: str | None = None) -> crt_http.HttpRequest:
    """The signed request for awscrt; it sends ``host`` as HTTP/2's ``:authority``.

    awscrt adds no ``user-agent`` of its own; ``user_agent`` (unsigned) is sent as one.
    """
    headers = list(opened.request.headers)
    if user_agent:
        headers.append(("user-agent", user_agent))
    return crt_http.HttpRequest(
        method=opened.request.method,
        path=opened.request.path,
        headers=crt_http.HttpHeaders(headers),
    )


def require_tls(opened: OpenedRequest) -> None:
    """Refuse ``http://``: awscrt never speaks cleartext HTTP/2 (no prior knowledge)."""
    if not opened.endpoint.tls:
        raise TransportError(
            f"bidirectional streams need https://, not {opened.endpoint.url!r} (awscrt "
            "speaks HTTP/2 only over TLS): check bidi_endpoint_url= and "
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2"
        )


RECEIVE_WINDOW = 16 * 1024 * 1024
"""The stream's and the connection's receive windows, and so the most response bytes held
for a caller who does not read. With HTTP/2's default 64 KiB, each
window waits for a WINDOW_UPDATE, and awscrt's updates sit out a delayed ACK (~40 ms) on
loopback: 9.8 MB/s down for 300 KiB parts, 34 MB/s with these windows."""


def connect(
    opened: OpenedRequest, settings: BidiSettings
) -> Future[crt_http.Http2ClientConnection]:
    """Start an HTTP/2 connection to the stream's endpoint (a future of the connection).

    The TCP connect is bounded by the client's ``connect_timeout`` (awscrt's own default
    is 5 s); the TLS handshake is bounded by the caller's wait.
    """
    require_tls(opened)
    endpoint = opened.endpoint
    socket_options = crt_io.SocketOptions()
    socket_options.connect_timeout_ms = max(1, int(settings.connect_timeout * 1000))
    dialled = crt_http.Http2ClientConnection.new(
        host_name=endpoint.host.strip("[]"),
        port=endpoint.port,
        socket_options=socket_options,
        tls_connection_options=tls_options(endpoint.host, settings.ca_file, settings.verify),
        initial_settings=[
            crt_http.Http2Setting(crt_http.Http2SettingID.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW)
        ],
        # The stream's window is opened as the caller reads (CrtBidiStream.grant), so a
        # model that answers faster than the caller reads waits instead of filling memory.
        manual_window_management=True,
        initial_window_size=RECEIVE_WINDOW,
    )
    connected: Future[crt_http.Http2ClientConnection] = Future()

    def widen(future: Future[crt_http.Http2ClientConnection]) -> None:
        # awscrt's thread: the connection window is not a setting, it is widened by an update.
        if future.cancelled():
            connected.cancel()
        elif (error := future.exception()) is not None:
            with contextlib.suppress(InvalidStateError):  # the caller gave up waiting
                connected.set_exception(error)
        else:
            connection = future.result()
            if connected.cancelled():  # connected after the caller's timeout: nobody uses it
                connection.close()
                return
            connection.update_window(RECEIVE_WINDOW)
            try:
                connected.set_result(connection)
            except InvalidStateError:  # cancelled meanwhile
                connection.close()

    dialled.add_done_callback(widen)
    return connected


WRITE_AHEAD = 1024 * 1024
"""Bytes of parts handed to awscrt and not yet written before ``send()`` waits: signing the
next part overlaps writing the last, and a peer that stops reading still stops the caller."""


class PendingWrites:
    """Writes handed to awscrt and not yet done, in order (awscrt completes them in order).

    Shared by the senders of one stream (the caller's threads, the ``input=`` sender).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[tuple[Future[None], int]] = deque()
        self._bytes = 0

    def add(self, written: Future[None], size: int) -> None:
        """Count a write until it is done."""
        with self._lock:
            self._pending.append((written, size))
            self._bytes += size

    def settle(self) -> BaseException | None:
        """Forget the writes that are done; return the failure of one that failed, if any."""
        with self._lock:
            while self._pending and self._pending[0][0].done():
                written, size = self._pending.popleft()
                self._bytes -= size
                failure = None if written.cancelled() else written.exception()
                if failure is not None:
                    return failure
        return None

    def within(self, limit: int | None) -> bool:
        """Whether at most ``limit`` bytes are not yet written (``None``: no write at all)."""
        with self._lock:
            return not self._pending or (limit is not None and self._bytes <= limit)


class CrtBidiStream:
    """One request stream on its own connection, for either twin.

    awscrt's callbacks (on its event-loop thread) only hand :data:`Item` s to ``sink``; the
    sync twin puts them on a ``queue.Queue``, the asyncio twin on an ``asyncio.Queue``
    through ``call_soon_threadsafe``. Writes return awscrt's ``concurrent.futures.Future``,
    which the twins wait on their own way. Signing and writing share one lock, so frames
    reach the wire in the order their signatures chain.
    """

    def __init__(
        self,
        opened: OpenedRequest,
        connection: crt_http.Http2ClientConnection,
        sink: Callable[[Item], None],
        user_agent: str | None = None,
    ) -> None:
        self._signer = opened.signer
        self._connection = connection
        self._sink = sink
        self._lock = threading.Lock()
        self._ended = False
        self._closed = False
        self._stream = connection.request(
            crt_request(opened, user_agent),
            on_response=self._on_response,
            on_body=self._on_body,
            manual_write=True,
        )
        self._stream.remote_end_stream_future.add_done_callback(self._on_remote_end)
        self._stream.completion_future.add_done_callback(self._on_complete)
        self._stream.activate()

    def _on_response(self, status_code: int, headers: list[tuple[str, str]], **_: object) -> None:
        self._sink(("headers", (status_code, list(headers))))

    def _on_body(self, chunk: bytes, **_: object) -> None:
        self._sink(("body", bytes(chunk)))

    def _on_remote_end(self, future: Future[None]) -> None:
        self._sink(("end", None if future.cancelled() else future.exception()))

    def _on_complete(self, future: Future[int]) -> None:
        self._sink(("complete", None if future.cancelled() else future.exception()))

    def write_part(self, part: BidiPayloadPart) -> Future[None]:
        """Sign ``part`` and hand it to awscrt; the future completes once it is written."""
        with self._lock:
            if self._closed:
                raise StreamError("the bidirectional stream was closed")
            if self._ended:
                raise StreamError("the input has ended: nothing can be sent after end_input()")
            return self._write(self._signer.sign(encode_part(part)), end_stream=False)

    def write_end(self) -> Future[None] | None:
        """The signed empty end frame with END_STREAM; ``None`` if the input already ended."""
        with self._lock:
            if self._ended:
                return None
            self._ended = True
            return self._write(self._signer.end_frame(), end_stream=True)

    def _write(self, frame: bytes, *, end_stream: bool) -> Future[None]:
        try:
            return self._stream.write_data(io.BytesIO(frame), end_stream=end_stream)
        except Exception as exc:  # awscrt raises RuntimeError once the stream has completed
            raise crt_error(exc, "writing") from exc

    def grant(self, size: int) -> None:
        """Reopen the receive window by ``size`` bytes the caller has taken."""
        if size > 0:
            with contextlib.suppress(Exception):  # a stream that has ended needs no window
                self._stream.update_window(size)

    def close(self) -> Future[None]:
        """Refuse further writes and close the connection (the stream with it)."""
        with self._lock:
            self._ended = self._closed = True
        return self._connection.close()

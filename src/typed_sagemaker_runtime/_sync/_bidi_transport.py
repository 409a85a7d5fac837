"""The synchronous HTTP/2 transport of a bidirectional stream, on awscrt (issue 21).

awscrt's ``Http2ClientConnection`` with ``manual_write=True`` writes the request body frame by
frame while its event-loop thread delivers the response (docs ``bidi-protocol.md`` section
3): full duplex from plain threads. One connection per stream. The CRT's callbacks only put
tagged items on a thread-safe queue; everything else (decoding, errors) happens on the
caller's thread. Signing and writing share one lock, so frames reach the wire in the order
their signatures chain. awscrt is the ``bidi`` extra: this module is imported only when a
bidirectional stream is opened.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any

from awscrt import exceptions as crt_exceptions, http as crt_http, io as crt_io

from .._core._bidi_events import BidiEvent, BidiEventDecoder, BidiPayloadPart, encode_part
from .._core._bidi_request import OpenedRequest
from .._core._bidi_response import MAX_ERROR_BODY, http_error
from .._core._exceptions import StreamError, TimeoutError, TransportError

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for the connection, a write, or the next response bytes."""

_Item = tuple[str, Any]


def tls_options(host: str, ca_file: str | None, verify: bool = True) -> crt_io.TlsConnectionOptions:
    """TLS for ``host`` with ALPN ``h2``, trusting ``ca_file`` instead of the system's if given."""
    options = crt_io.TlsContextOptions()
    options.alpn_list = ["h2"]
    options.verify_peer = verify
    if ca_file is not None:
        options.override_default_trust_store_from_path(None, ca_file)
    connection = crt_io.ClientTlsContext(options).new_connection_options()
    connection.set_server_name(host.strip("[]"))
    return connection


def crt_error(exc: BaseException, doing: str) -> TransportError:
    """One of the library's exceptions for an awscrt failure (its name kept, nothing else)."""
    name = exc.name if isinstance(exc, crt_exceptions.AwsCrtError) else type(exc).__name__
    return TransportError(f"bidirectional stream: {doing} failed: {name}")


class SyncBidiConnection:
    """One bidirectional stream over its own HTTP/2 connection; see :meth:`open`."""

    def __init__(
        self,
        opened: OpenedRequest,
        connection: crt_http.Http2ClientConnection,
        timeout: float,
    ) -> None:
        self._signer = opened.signer
        self._connection = connection
        self._timeout = timeout
        self._items: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()
        self._ended = False
        self._decoder = BidiEventDecoder()
        self.status: int | None = None
        """The response's HTTP status, once its headers have arrived."""
        self.headers: list[tuple[str, str]] = []
        """The response's headers, once they have arrived."""
        request = crt_http.HttpRequest(
            method=opened.request.method,
            path=opened.request.path,
            headers=crt_http.HttpHeaders(list(opened.request.headers)),
        )
        self._stream = connection.request(
            request, on_response=self._on_response, on_body=self._on_body, manual_write=True
        )
        self._stream.remote_end_stream_future.add_done_callback(self._on_remote_end)
        self._stream.completion_future.add_done_callback(self._on_complete)
        self._stream.activate()

    @classmethod
    def open(
        cls,
        opened: OpenedRequest,
        *,
        ca_file: str | None = None,
        verify: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> SyncBidiConnection:
        """Connect to ``opened.endpoint`` and send the request's headers (no body yet)."""
        endpoint = opened.endpoint
        if not endpoint.tls:
            raise TransportError(
                "bidirectional streams need https:// (awscrt speaks HTTP/2 only over TLS)"
            )
        future: Future[crt_http.Http2ClientConnection] = crt_http.Http2ClientConnection.new(
            host_name=endpoint.host.strip("[]"),
            port=endpoint.port,
            tls_connection_options=tls_options(endpoint.host, ca_file, verify),
        )
        try:
            connection = future.result(timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise TimeoutError(f"bidirectional stream: no connection within {timeout} s") from exc
        except Exception as exc:
            raise crt_error(exc, "connecting") from exc
        return cls(opened, connection, timeout)

    # -- the CRT's thread: enqueue only ----------------------------------------------------

    def _on_response(self, status_code: int, headers: list[tuple[str, str]], **_: object) -> None:
        self._items.put(("headers", (status_code, list(headers))))

    def _on_body(self, chunk: bytes, **_: object) -> None:
        self._items.put(("body", bytes(chunk)))

    def _on_remote_end(self, future: Future[None]) -> None:
        self._items.put(("end", future.exception()))

    def _on_complete(self, future: Future[int]) -> None:
        self._items.put(("complete", future.exception()))

    # -- the caller's side -------------------------------------------------------------------

    def send(self, part: BidiPayloadPart) -> None:
        """Sign and write one part; returns once awscrt has written it."""
        with self._lock:
            if self._ended:
                raise StreamError("the input has ended: nothing can be sent after end_input()")
            frame = self._signer.sign(encode_part(part))
            written = self._stream.write_data(io.BytesIO(frame), end_stream=False)
        self._wait_written(written)

    def end_input(self) -> None:
        """Write the signed empty end frame with END_STREAM; later calls do nothing."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            written = self._stream.write_data(io.BytesIO(self._signer.end_frame()), end_stream=True)
        self._wait_written(written)

    def _wait_written(self, written: Future[None]) -> None:
        try:
            written.result(self._timeout)
        except FutureTimeout as exc:
            raise TimeoutError(
                f"bidirectional stream: a write took over {self._timeout} s"
            ) from exc
        except Exception as exc:
            raise crt_error(exc, "writing") from exc

    def _next(self) -> _Item:
        try:
            return self._items.get(timeout=self._timeout)
        except queue.Empty:
            raise TimeoutError(
                f"bidirectional stream: nothing received for {self._timeout} s"
            ) from None

    def wait_response(self) -> None:
        """Wait for the response's headers; raise the mapped error for a non-200 status."""
        while self.status is None:
            kind, value = self._next()
            if kind == "headers":
                self.status, self.headers = value
            elif kind in ("end", "complete"):
                raise self._failure(value, "the stream ended before its response headers")
        if self.status != 200:
            raise self._error_response()

    def _error_response(self) -> Exception:
        body = bytearray()
        while True:
            kind, value = self._next()
            if kind == "body" and len(body) < MAX_ERROR_BODY:
                body += value
            elif kind in ("end", "complete"):
                break
        assert self.status is not None
        return http_error(self.status, self.headers, bytes(body))

    def _failure(self, exc: BaseException | None, otherwise: str) -> TransportError:
        if exc is None or isinstance(exc, RuntimeError):
            return TransportError(f"bidirectional stream: {otherwise}")
        return crt_error(exc, "receiving")

    def events(self) -> Iterator[BidiEvent]:
        """The response's events as they arrive, until the service ends its side."""
        self.wait_response()
        while True:
            kind, value = self._next()
            if kind == "body":
                yield from self._decoder.feed(value)
            elif kind == "end":
                if value is not None:
                    raise self._failure(value, "the response ended abnormally")
                self._decoder.finish()
                return
            elif kind == "complete" and value is not None:
                raise self._failure(value, "the stream failed")

    def close(self) -> None:
        """Close the connection (the stream with it); waits for awscrt's shutdown briefly."""
        with self._lock:
            self._ended = True
        shutdown = self._connection.close()
        with contextlib.suppress(Exception):  # best effort: the connection is gone either way
            shutdown.result(self._timeout)

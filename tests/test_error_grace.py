"""The grace after an error event is bounded by the clock, whatever the server sends.

After an error event a stream reads the body's end for at most ``ERROR_GRACE`` (design
section 10: at most 250 ms) so the connection can be reused. A hostile server that opens
a 1 KiB HTTP chunk after the error event and trickles it one byte every 20 ms must not
stretch that grace (it once took 21 s: the grace was a per-``recv`` socket timeout, and
http.client reads a whole chunk in one call). A raw HTTP server in the test sends those
bytes; both clients run against it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.config import Config

from _twins import Client, Clients
from typed_sagemaker_runtime import (
    ModelStreamError,
    ModelStreamInterruptedError,
    PayloadPart,
    RetryPolicy,
)
from typed_sagemaker_runtime._core._eventstream import encode_event

BOUND = 2.0
"""Generous: the grace is 200 ms; the trickle would last about 21 s."""
TRICKLE_BYTES = 1024
TRICKLE_PAUSE = 0.02


class _Trickler(BaseHTTPRequestHandler):
    """``/endpoints/trickle/...``: a part, an error event, then a chunk sent byte by byte.

    ``/endpoints/sized/...``: the same with a ``Content-Length`` body, its end trickled.

    ``/endpoints/ok/...``: a part and the end of the body.
    """

    protocol_version = "HTTP/1.1"

    @property
    def _server(self) -> _Server:
        assert isinstance(self.server, _Server)
        return self.server

    def setup(self) -> None:
        super().setup()
        self._server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("X-Amzn-Requestid", "trickle-request")
        if "/sized/" in self.path:
            self._sized()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(encode_event(PayloadPart(b'data: {"token":{"text":"Hi"}}\n\n')))
        if "/trickle/" not in self.path:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        self._chunk(encode_event(ModelStreamError("the model stopped", "StreamBroken")))
        try:
            self.wfile.write(b"%x\r\n" % TRICKLE_BYTES)
            for _ in range(TRICKLE_BYTES):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(TRICKLE_PAUSE)
            self.wfile.write(b"\r\n0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self._server.client_left.set()
            self.close_connection = True

    def _sized(self) -> None:
        """A ``Content-Length`` body: the frames, then the rest trickled byte by byte."""
        frames = encode_event(PayloadPart(b"p1")) + encode_event(
            ModelStreamError("the model stopped", "StreamBroken")
        )
        self.send_header("Content-Length", str(len(frames) + TRICKLE_BYTES))
        self.end_headers()
        self.wfile.write(frames)
        self.wfile.flush()
        try:
            for _ in range(TRICKLE_BYTES):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(TRICKLE_PAUSE)
        except OSError:
            self._server.client_left.set()
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Trickler)
        self.connections = 0
        self.client_left = threading.Event()


@pytest.fixture(name="trickler")
def _trickler() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _client(clients: Clients, server: _Server) -> Client:
    host, port = server.server_address[:2]
    return clients.build(
        endpoint_url=f"http://{host!s}:{port}",
        region_name="us-east-1",
        config=Config(max_pool_connections=1, read_timeout=60),
        retry=RetryPolicy.disabled(),
    )


def _grace_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("smr-error-grace")]


@pytest.mark.parametrize("helper", ["read", "tokens", "events"])
def test_a_trickle_after_an_error_event_does_not_stretch_the_grace(
    clients: Clients, trickler: _Server, helper: str
) -> None:
    """The error arrives within the bound; the connection is closed, not pooled."""
    smr = _client(clients, trickler)
    started = time.monotonic()
    with smr.stream("trickle", b"{}") as stream:
        if helper == "events":
            events: list[Any] = list(stream)
            assert events[0] == PayloadPart(b'data: {"token":{"text":"Hi"}}\n\n')
            assert isinstance(events[-1], ModelStreamError)
        else:
            with pytest.raises(ModelStreamInterruptedError):
                result = getattr(stream, helper)()
                if helper != "read":
                    list(result)
        elapsed = time.monotonic() - started
        assert stream.closed
    assert elapsed < BOUND, f"{helper} took {elapsed:.1f} s after the error event"
    assert trickler.client_left.wait(BOUND), "the trickling connection was kept open"
    assert not _grace_threads(), "a grace timer outlived the stream"
    with smr.stream("ok", b"{}") as stream:
        assert stream.read() == b'data: {"token":{"text":"Hi"}}\n\n'
    assert trickler.connections == 2, "the trickling connection went back to the pool"


def test_a_trickled_content_length_body_does_not_stretch_the_grace(
    clients: Clients, trickler: _Server
) -> None:
    """A sized body: the error event is read as it arrives, not once 64 KiB have."""
    from urllib3.response import HTTPResponse

    if not clients.is_async and not hasattr(HTTPResponse, "read1"):
        pytest.skip("urllib3 before 2.2 has no read1: a sized body is read 64 KiB at a time")
    smr = _client(clients, trickler)
    started = time.monotonic()
    with smr.stream("sized", b"{}") as stream, pytest.raises(ModelStreamInterruptedError):
        stream.read()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"read() took {elapsed:.1f} s after the error event"
    assert trickler.client_left.wait(BOUND), "the trickling connection was kept open"
    with smr.stream("ok", b"{}") as stream:
        stream.read()
    assert trickler.connections == 2, "the trickling connection went back to the pool"

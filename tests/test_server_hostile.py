"""The local endpoint against hostile clients: raw sockets sending what no SDK would.

``smr serve --host 0.0.0.0`` is reachable by anyone. Whatever a client sends, it gets a
4xx answer or a clean close, no server thread dies or hangs, and the server answers a
normal boto3 call afterwards.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import exceptions as bce
from botocore.config import Config
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from typed_sagemaker_runtime.testing import LocalRuntime

LIMIT = 6291456  # InvokeEndpoint's Body limit in botocore's model: SageMaker's 6 MB
ECHO = b"POST /endpoints/echo/invocations HTTP/1.1\r\nHost: x\r\n"
TIMEOUT = 10.0  # no test waits this long unless the server misbehaves


@pytest.fixture(name="thread_failures")
def _thread_failures(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """Exceptions that escaped any thread while the test ran (a dead connection thread)."""
    failures: list[BaseException | None] = []

    def record(args: threading.ExceptHookArgs) -> None:
        failures.append(args.exc_value)

    monkeypatch.setattr(threading, "excepthook", record)
    return failures


@pytest.fixture(name="local")
def _local(thread_failures: list[BaseException | None]) -> Iterator[LocalRuntime]:
    with LocalRuntime(idle_timeout=5.0, request_timeout=1.0) as local:
        local.add_endpoint("echo")
        yield local
    assert thread_failures == []


@pytest.fixture(name="raw")
def _raw(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    client = local.boto3_client(Config(retries={"total_max_attempts": 1}, read_timeout=TIMEOUT))
    yield client
    client.close()


def _still_serves(raw: SageMakerRuntimeClient) -> None:
    assert raw.invoke_endpoint(EndpointName="echo", Body=b"still here")["Body"].read() == (
        b"still here"
    )


def _connect(local: LocalRuntime) -> socket.socket:
    return socket.create_connection(("127.0.0.1", local.port), timeout=TIMEOUT)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response (``Content-Length`` framed): status, lower-cased headers, body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer (got {data[:80]!r})"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _closed(sock: socket.socket) -> bool:
    """Whether the server ends the connection (EOF or reset) before the socket's timeout."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


# --- bodies over the service's limit: answered unread -----------------------------------


def test_a_declared_terabyte_is_answered_413_without_reading_it(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Content-Length: 1 TiB used to kill the connection thread with MemoryError."""
    with _connect(local) as sock:
        sock.sendall(ECHO + b"Content-Length: 1099511627776\r\n\r\n")
        status, headers, body = _read_response(sock)
        assert _closed(sock)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body) == {"message": f"HTTP content length exceeded {LIMIT} bytes."}
    assert "x-amzn-errortype" not in headers  # as SageMaker: botocore's code is "413"
    assert local.requests == []
    _still_serves(raw)


def test_an_oversized_body_is_refused_before_it_is_sent(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """The answer comes after the head: the server does not wait for 64 MiB first."""
    with _connect(local) as sock:
        sock.sendall(ECHO + b"Content-Length: 67108864\r\n\r\n" + b"x" * 65536)
        status, _, _ = _read_response(sock)  # 64 KiB of 64 MiB sent
    assert status == 413
    _still_serves(raw)


def test_an_oversized_body_waiting_for_100_continue_is_refused_at_once(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """``Expect: 100-continue`` over the limit: 413 instead of an invitation to send 7 MB."""
    with _connect(local) as sock:
        sock.sendall(ECHO + b"Content-Length: 7000000\r\nExpect: 100-continue\r\n\r\n")
        status, _, _ = _read_response(sock)
        assert _closed(sock)
    assert status == 413
    _still_serves(raw)


@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_boto3_gets_sagemakers_413_for_a_body_over_6_mb(
    local: LocalRuntime, raw: SageMakerRuntimeClient, operation: str
) -> None:
    """Raw boto3 sends any size; SageMaker answers ``(413) HTTP content length exceeded``."""
    call: Any = getattr(raw, operation)
    with pytest.raises(bce.ClientError) as info:
        call(EndpointName="echo", Body=b"x" * (LIMIT + 1))
    error: Any = info.value.response
    assert error["Error"]["Code"] == "413"
    assert error["Error"]["Message"] == f"HTTP content length exceeded {LIMIT} bytes."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert local.requests == []
    body = raw.invoke_endpoint(EndpointName="echo", Body=b"y" * LIMIT)["Body"].read()
    assert len(body) == LIMIT  # the limit itself passes


class _UnsizedFile:
    """A body botocore cannot size, so it goes out with ``Transfer-Encoding: chunked``."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def tell(self) -> int:
        return self._data.tell()

    def seek(self, position: int, whence: int = 0) -> int:
        if whence != 0:
            raise io.UnsupportedOperation("no end")
        return self._data.seek(position)


def test_a_chunked_body_over_6_mb_gets_413(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """A chunked body is counted as it arrives; past the limit the server answers 413."""
    with pytest.raises(bce.ClientError) as info:
        raw.invoke_endpoint(EndpointName="echo", Body=_UnsizedFile(b"x" * (LIMIT + 1)))  # type: ignore[arg-type]
    error: Any = info.value.response
    assert error["Error"]["Code"] == "413"
    assert local.requests == []
    _still_serves(raw)


def test_tiny_chunks_cost_the_server_no_more_memory_than_the_body() -> None:
    """A body sent as 100,000 two-byte chunks is held as its 200 KB, not as 100,000 objects.

    Kept as a list of parts, each two bytes cost about 40 (a 6 MB body in 2-byte chunks
    held 120 MB per connection).
    """
    with LocalRuntime(request_timeout=TIMEOUT) as local:
        local.add_endpoint("echo", handler=lambda request: b"%d" % len(request.body))
        chunks = 100_000
        request = (
            ECHO
            + b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"2\r\nxy\r\n" * chunks
            + b"0\r\n\r\n"
        )
        tracemalloc.start()
        try:
            with _connect(local) as sock:
                sock.sendall(request)
                status, _, body = _read_response(sock)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (status, body) == (200, b"%d" % (2 * chunks))
    assert peak < 2_000_000, f"{peak:,} bytes traced for a {2 * chunks:,} byte body"


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0.0, 1e10])
@pytest.mark.parametrize("name", ["idle_timeout", "request_timeout"])
def test_a_timeout_no_socket_can_take_is_refused_up_front(name: str, value: float) -> None:
    """An infinite timeout was accepted, then every connection died of an OverflowError."""
    with pytest.raises(ValueError, match=name):
        LocalRuntime(**{name: value})


# --- malformed requests: a 4xx answer and a close -----------------------------------------

_MALFORMED = {
    "negative Content-Length": (ECHO + b"Content-Length: -1\r\n\r\n", 400),
    "signed Content-Length": (ECHO + b"Content-Length: +5\r\n\r\nhello", 400),
    "non-numeric Content-Length": (ECHO + b"Content-Length: 1_0\r\n\r\n0123456789", 400),
    "two Content-Lengths": (
        ECHO + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    "Content-Length beyond 64 bits": (ECHO + b"Content-Length: " + b"9" * 30 + b"\r\n\r\n", 413),
    "chunk size beyond 64 bits": (
        ECHO + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nxx",
        413,
    ),
    "chunk size with 0x": (
        ECHO + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "chunked and Content-Length": (
        ECHO + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "unknown Transfer-Encoding": (ECHO + b"Transfer-Encoding: gzip\r\n\r\n", 501),
    "a bare CR in a header value (echoed into Content-Type)": (
        ECHO + b"Accept: a\rSet-Cookie: z\r\nContent-Length: 2\r\n\r\nhi",
        400,
    ),
    "a NUL in a header value": (ECHO + b"Accept: a\0b\r\nContent-Length: 2\r\n\r\nhi", 400),
    "1,000 headers": (ECHO + b"X-Flood: 1\r\n" * 1000 + b"\r\n", 431),
    "a 70 KB header line": (ECHO + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    "100 KB of headers": (
        ECHO + b"".join(b"X-Wide-%d: %s\r\n" % (i, b"b" * 1000) for i in range(90)) + b"\r\n",
        431,
    ),
}


@pytest.mark.parametrize(
    ("request_bytes", "status"), list(_MALFORMED.values()), ids=list(_MALFORMED)
)
def test_malformed_requests_get_a_4xx_and_a_close(
    local: LocalRuntime, raw: SageMakerRuntimeClient, request_bytes: bytes, status: int
) -> None:
    """Each used to be served, kill its thread, or get a vaguer status."""
    with _connect(local) as sock:
        sock.sendall(request_bytes)
        answer, headers, _ = _read_response(sock)
        assert _closed(sock)
    assert answer == status
    assert headers["connection"] == "close"
    assert local.requests == []
    _still_serves(raw)


def test_non_http_bytes_without_a_line_end_are_dropped_in_time(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """A TLS ClientHello on the plain port: answered 408 after ``request_timeout``."""
    hello = bytes.fromhex("160301020001") + bytes(range(11, 200))  # no line feed in it
    with _connect(local) as sock:
        started = time.monotonic()
        sock.sendall(hello)
        status, _, _ = _read_response(sock)
        assert _closed(sock)
    assert status == 408
    assert time.monotonic() - started < 5  # request_timeout is 1 s
    _still_serves(raw)


# --- slow and idle clients ----------------------------------------------------------------


def _trickle_until_closed(sock: socket.socket, seconds: float) -> bool:
    """Send one byte every 50 ms; ``True`` once the server closed (it answers 408 first)."""
    sock.settimeout(0.05)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sock.sendall(b"a")
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except OSError:  # reset, or a broken pipe: closed
            return True
    return False


@pytest.mark.parametrize(
    "start",
    [ECHO + b"X-Slow: ", ECHO + b"Content-Length: 100000\r\n\r\n"],
    ids=["mid-headers", "mid-body"],
)
def test_slowloris_is_cut_off_at_the_request_timeout(
    local: LocalRuntime, raw: SageMakerRuntimeClient, start: bytes
) -> None:
    """A byte every 50 ms never trips a per-recv timeout; the request's deadline does."""
    with _connect(local) as sock:
        sock.sendall(start)
        assert _trickle_until_closed(sock, seconds=6)  # request_timeout is 1 s
    _still_serves(raw)


def _connection_threads(local: LocalRuntime) -> int:
    prefix = f"local-sagemaker-conn-{local.port}-"
    return sum(thread.name.startswith(prefix) for thread in threading.enumerate())


def _wait_for(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_idle_connections_time_out_and_their_threads_end(
    thread_failures: list[BaseException | None],
) -> None:
    """100 idle connections used to hold 100 threads until the runtime stopped."""
    with LocalRuntime(idle_timeout=0.3) as local:
        local.add_endpoint("echo")
        sockets = [_connect(local) for _ in range(20)]
        try:
            sockets[0].sendall(ECHO + b"Content-Length: 2\r\n\r\nhi")  # then idle, kept alive
            assert _read_response(sockets[0])[0] == 200
            assert _wait_for(lambda: local.connections_opened == 20)
            assert all(_closed(sock) for sock in sockets)
            assert _wait_for(lambda: _connection_threads(local) == 0)
        finally:
            for sock in sockets:
                sock.close()
        client = local.boto3_client(Config(retries={"total_max_attempts": 1}))
        try:
            _still_serves(client)
        finally:
            client.close()
    assert thread_failures == []


def test_connections_beyond_the_limit_wait_for_a_free_slot() -> None:
    """With every slot busy mid-request, a new connection is not served until one ends."""
    with LocalRuntime(max_connections=2, request_timeout=None) as local:
        local.add_endpoint("echo")
        busy = [_connect(local) for _ in range(2)]
        for sock in busy:
            sock.sendall(ECHO + b"Content-Length: 2\r\n\r\n")  # the body is still to come
        assert _wait_for(lambda: local.connections_opened == 2)
        waiting = [_connect(local) for _ in range(5)]
        for sock in waiting:
            sock.sendall(ECHO + b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
        assert not _wait_for(lambda: local.connections_opened > 2, seconds=0.3)
        assert _connection_threads(local) == 2
        for sock in busy:
            sock.sendall(b"hi")
            assert _read_response(sock)[0] == 200
            sock.close()
        for sock in waiting:
            assert _read_response(sock)[2] == b"ok"
            sock.close()
        assert local.connections_opened == 7


def test_a_full_server_closes_an_idle_keep_alive_connection_to_make_room() -> None:
    """Pooled idle connections do not lock new clients out until the idle timeout."""
    config = Config(retries={"total_max_attempts": 1}, read_timeout=TIMEOUT)
    with LocalRuntime(max_connections=2, idle_timeout=60) as local:
        local.add_endpoint("echo")
        clients = [local.boto3_client(config) for _ in range(3)]
        try:
            started = time.monotonic()
            for client in clients:  # the first two stay pooled and idle
                _still_serves(client)
            assert time.monotonic() - started < 10  # not the 60 s idle timeout
            assert local.connections_opened == 3
        finally:
            for client in clients:
                client.close()


def test_silent_connections_cannot_hold_every_slot() -> None:
    """Connections that never send a byte are closed after a second when others wait."""
    config = Config(retries={"total_max_attempts": 1}, read_timeout=TIMEOUT)
    with LocalRuntime(max_connections=3, idle_timeout=60) as local:
        local.add_endpoint("echo")
        silent = [_connect(local) for _ in range(3)]
        assert _wait_for(lambda: local.connections_opened == 3)
        client = local.boto3_client(config)
        try:
            started = time.monotonic()
            _still_serves(client)
            assert time.monotonic() - started < 10  # about a second, not the 60 s idle timeout
            assert _closed(silent[0])  # the longest silent one made room
        finally:
            client.close()
            for sock in silent:
                sock.close()

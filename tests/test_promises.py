"""The README's promises, tried as an adversary would, through the real stack.

* "always released": a stream's connection goes back to the pool or is closed however
  the stream ends: read to its end, an error event (also one after which the server
  keeps the body open), a helper that raises while the caller keeps the exception,
  ``close()`` from another thread during a blocked read, ``close()`` racing the end.
* "a truncated or corrupt stream raises": a chunked body cut, a ``Content-Length``
  body cut at a frame boundary, a partial frame, a corrupt frame; ``invoke()`` with a
  short ``Content-Length`` body.
* "nothing but typed exceptions": every fault shape the local endpoint has.

Tests taking ``clients`` run twice, sync and async (see ``_twins``); the others name
their flavour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

import typed_sagemaker_runtime as smr_pkg
from _twins import Client, Clients
from typed_sagemaker_runtime import (
    ModelStreamError,
    PayloadPart,
    RetryPolicy,
    SageMakerRuntime,
    SageMakerRuntimeError,
    StreamDecodeError,
    StreamError,
)
from typed_sagemaker_runtime._base._stream import declared_length
from typed_sagemaker_runtime._core._eventstream import encode_event
from typed_sagemaker_runtime._sync._stream import connection_socket
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    CorruptFrame,
    EndpointResponse,
    ErrorResponse,
    Fault,
    InvocationRequest,
    LocalRuntime,
    RawFrames,
    RawResponse,
    ShortContentLength,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    TruncatedFrame,
)

LONG = 10.0
"""How long an adversarial server holds on; every bound asserted is far below it."""
BOUND = 1.0
"""The generous bound asserted for what the library promises to do within 100-250 ms."""


def _three_parts(request: InvocationRequest) -> Iterator[bytes]:
    yield b"p1"
    yield b"p2"
    yield b"p3"


@pytest.fixture(name="pool_of_one")
def _pool_of_one(clients: Clients) -> Client:
    """A client with one pooled connection and no retries (reuse shows in the count)."""
    config = Config(max_pool_connections=1, read_timeout=LONG * 3)
    return clients.local(config=config, retry=RetryPolicy.disabled())


class KeepsStreaming:
    """A handler that sends ``parts``, then filler until the client goes away."""

    def __init__(self, *parts: bytes | RawFrames, content_type: str = "text/event-stream") -> None:
        self.parts = parts
        self.content_type = content_type
        self.client_left = threading.Event()

    def __call__(self, request: InvocationRequest) -> EndpointResponse:
        return EndpointResponse(self._body(), content_type=self.content_type)

    def _body(self) -> Iterator[bytes | RawFrames]:
        try:
            yield from self.parts
            while True:
                yield b"\n" * 1024
        finally:
            self.client_left.set()


# --- always released --------------------------------------------------------------------

TGI_ERROR = (
    b'data: {"token":{"id":1,"text":"Hi","special":false}}\n\n',
    b'data: {"error":"CUDA out of memory","error_type":"generation"}\n\n',
)
INVALID_UTF8 = (b"ok\n", b"\xff\n\n")
_FRAME = encode_event(PayloadPart(b"xx"))
CORRUPT_FRAME = (b"ok\n", RawFrames(_FRAME[:-5] + b"\x00" + _FRAME[-4:]))
ERROR_EVENT = (b"ok\n", RawFrames(encode_event(ModelStreamError("stopped", "StreamBroken"))))


@pytest.mark.parametrize(
    ("helper", "parts", "error"),
    [
        ("tokens", TGI_ERROR, smr_pkg.GenerationError),
        ("text", INVALID_UTF8, StreamDecodeError),
        ("lines", INVALID_UTF8, StreamDecodeError),
        ("sse", INVALID_UTF8, StreamDecodeError),
        ("payloads", CORRUPT_FRAME, StreamDecodeError),
        ("read", CORRUPT_FRAME, StreamDecodeError),
        ("tokens", ERROR_EVENT, smr_pkg.ModelStreamInterruptedError),
        ("read", ERROR_EVENT, smr_pkg.ModelStreamInterruptedError),
    ],
)
def test_always_released_when_a_helper_raises_and_the_exception_is_kept(
    local: LocalRuntime,
    pool_of_one: Client,
    helper: str,
    parts: tuple[bytes, ...],
    error: type[StreamError],
) -> None:
    """Without ``with``: the socket closes before the exception reaches the caller."""
    server = KeepsStreaming(*parts)
    local.add_endpoint("ep", server)
    kept: list[BaseException] = []
    try:
        result = getattr(pool_of_one.stream("ep", b"{}"), helper)()
        if helper != "read":
            list(result)
    except error as exc:
        kept.append(exc)  # the exception (and its traceback) outlives the call
    assert len(kept) == 1, f"{helper}() did not raise {error.__name__}"
    assert server.client_left.wait(LONG / 2), (
        f"{helper}() raised {error.__name__} with the connection still open"
    )
    assert pool_of_one.invoke("echo", b"next")["body"] == b"next"
    assert local.connections_opened == 2


@pytest.mark.parametrize("helper", ["payloads", "text", "lines", "sse", "tokens", "read"])
def test_always_released_to_the_pool_after_an_error_event(
    local: LocalRuntime, pool_of_one: Client, helper: str
) -> None:
    """An error event followed at once by the body's end: the connection is reused."""
    local.add_endpoint(
        "failing",
        lambda r: iter([b'data: {"token":{"text":"x"}}\n\n']),
        faults=[StreamErrorEvent(1)],
    )
    for _ in range(3):
        with pytest.raises(smr_pkg.ModelStreamInterruptedError):
            result = getattr(pool_of_one.stream("failing", b"{}"), helper)()
            if helper != "read":
                list(result)
        pool_of_one.invoke("echo", b"x")
    assert local.connections_opened == 1


@pytest.mark.parametrize("fault", [StreamErrorEvent, StreamFailureEvent])
@pytest.mark.parametrize("helper", ["payloads", "tokens", "read", "events"])
def test_always_released_at_once_after_an_error_event_when_the_body_is_held_open(
    local: LocalRuntime, pool_of_one: Client, helper: str, fault: type[StreamErrorEvent]
) -> None:
    """The helpers raise (and the loop ends) within the grace; the socket is closed."""
    local.add_endpoint("held", _three_parts, faults=[fault(1, hold_seconds=LONG)])
    started = time.monotonic()
    with pool_of_one.stream("held", b"{}") as stream:
        if helper == "events":
            events = list(stream)
            assert events[0] == PayloadPart(b"p1")
            assert not isinstance(events[-1], PayloadPart)
        else:
            with pytest.raises(StreamError):
                result = getattr(stream, helper)()
                if helper != "read":
                    list(result)
        elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{helper} waited {elapsed:.2f} s for a body held open"
    assert pool_of_one.invoke("echo", b"next")["body"] == b"next"
    assert local.connections_opened == 2, "a connection held open was closed, not reused"


def _wait_until_blocked_reading(thread: threading.Thread) -> None:
    """Wait until ``thread`` is inside a socket read (its stack shows ``SocketIO.readinto``)."""
    pause = threading.Event()
    for _ in range(int(LONG / 0.005)):
        frame = sys._current_frames().get(thread.ident or 0)  # pyright: ignore[reportPrivateUsage]
        while frame is not None:
            if frame.f_code.co_name == "readinto" and frame.f_code.co_filename.endswith(
                "socket.py"
            ):
                return
            frame = frame.f_back
        pause.wait(0.005)
    raise AssertionError("the reader never blocked in a socket read")


def test_always_released_when_close_from_another_thread_wakes_a_stalled_read(
    local: LocalRuntime,
) -> None:
    """close() returns at once, the blocked reader raises at once, the socket is closed."""
    local.add_endpoint("stalls", _three_parts, faults=[Stall(LONG, after_parts=1)])
    woken: list[tuple[float, BaseException | None]] = []
    reading = threading.Event()
    with local.client(config=Config(read_timeout=LONG * 3)) as smr:
        stream = smr.stream("stalls", b"{}")
        events = iter(stream)
        assert next(events) == PayloadPart(b"p1")
        sock = connection_socket(stream._raw)  # pyright: ignore[reportPrivateUsage]
        assert sock is not None

        def reader() -> None:
            reading.set()
            try:
                next(events)
            except BaseException as exc:  # the outcome is asserted below
                woken.append((time.monotonic(), exc))
            else:
                woken.append((time.monotonic(), None))

        thread = threading.Thread(target=reader)
        thread.start()
        assert reading.wait(LONG)
        _wait_until_blocked_reading(thread)
        assert not woken, "the server stalls: the reader is blocked"
        started = time.monotonic()
        stream.close()
        closed = time.monotonic()
        thread.join(LONG)
    assert closed - started < BOUND, f"close() took {closed - started:.2f} s"
    assert not thread.is_alive()
    [(at, exc)] = woken
    assert isinstance(exc, StreamError), exc
    assert "closed while it was being read" in exc.message
    assert at - started < BOUND, f"the reader woke {at - started:.2f} s after close()"
    assert sock.fileno() == -1, "the socket is closed"


def test_always_released_when_aclose_from_another_task_wakes_a_stalled_read(
    local: LocalRuntime,
) -> None:
    """The async twin: aclose() from another task ends the blocked read at once."""
    pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
    local.add_endpoint("stalls", _three_parts, faults=[Stall(LONG, after_parts=1)])

    async def scenario() -> tuple[float, float, BaseException | None]:
        async with local.async_client(config=Config(read_timeout=LONG * 3)) as smr:
            stream = await smr.stream("stalls", b"{}")
            events = stream.__aiter__()
            assert await events.__anext__() == PayloadPart(b"p1")
            reader = asyncio.ensure_future(events.__anext__())
            for _ in range(10):  # let the reader start and block on the stalled socket
                await asyncio.sleep(0)
            assert not reader.done(), "the server stalls: the reader is blocked"
            started = time.monotonic()
            await stream.aclose()
            closed = time.monotonic() - started
            outcome: BaseException | None = None
            try:
                await asyncio.wait_for(reader, LONG)
            except BaseException as exc:  # the outcome is asserted below
                outcome = exc
            return closed, time.monotonic() - started, outcome

    closed, woke, outcome = asyncio.run(scenario())
    assert closed < BOUND, f"aclose() took {closed:.2f} s"
    assert woke < BOUND, f"the reader woke {woke:.2f} s after aclose()"
    assert isinstance(outcome, StreamError), outcome


def _idle_connections(smr: SageMakerRuntime, url: str) -> list[Any]:
    """The connections urllib3's pool holds for ``url`` (test introspection of urllib3)."""
    manager: Any = smr.client._endpoint.http_session._manager  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    pool: Any = manager.connection_from_url(url)
    return [conn for conn in list(pool.pool.queue) if conn is not None]


def test_always_released_once_when_close_races_the_end_of_the_stream(
    local: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """A close() from another thread racing the end never hands a connection back twice."""
    local.add_endpoint("short", lambda request: iter([b"a", b"b"]))
    endless = KeepsStreaming()
    local.add_endpoint("endless", endless)
    config = Config(max_pool_connections=4)
    switch = sys.getswitchinterval()
    with local.client(config=config, retry=RetryPolicy.disabled()) as smr:
        # One connection stays checked out, so the pool has room for a duplicate.
        holder = smr.stream("endless", b"{}")
        next(iter(holder))
        sys.setswitchinterval(1e-6)  # switch threads as often as possible
        try:
            for attempt in range(300):
                stream = smr.stream("short", b"{}")
                events = iter(stream)
                barrier = threading.Barrier(2)

                def closer(
                    stream: Any = stream, barrier: threading.Barrier = barrier, spin: int = attempt
                ) -> None:
                    barrier.wait()
                    for _ in range(spin % 60 * 25):  # spread the close() over the stream's life
                        pass
                    stream.close()

                thread = threading.Thread(target=closer)
                thread.start()
                barrier.wait()
                with contextlib.suppress(StreamError):  # closed while it was being read
                    list(events)
                thread.join(LONG)
                idle = _idle_connections(smr, local.endpoint_url)
                assert len({id(conn) for conn in idle}) == len(idle), (
                    f"attempt {attempt}: the pool holds one connection twice"
                )
        finally:
            sys.setswitchinterval(switch)
        holder.close()
    discarded = [r for r in caplog.records if "pool is full" in r.getMessage()]
    assert not discarded, "a connection was handed back to a full pool (released twice)"


def test_the_private_socket_accessor_still_finds_urllib3s_socket(local: LocalRuntime) -> None:
    """close() from another thread needs the socket under urllib3's response: still there?"""
    local.add_endpoint("ep", _three_parts)
    with local.client() as smr, smr.stream("ep", b"{}") as stream:
        sock = connection_socket(stream._raw)  # pyright: ignore[reportPrivateUsage]
        assert isinstance(sock, socket.socket), (
            "urllib3's HTTPResponse no longer exposes its socket as .connection.sock: "
            "ResponseStream.close() from another thread cannot wake a blocked read; "
            "update connection_socket() in _sync/_stream.py for this urllib3 version"
        )
        assert sock.fileno() != -1
        list(stream)
    assert connection_socket(stream._raw) is None, "released: no socket any more"  # pyright: ignore[reportPrivateUsage]


# --- a truncated or corrupt stream raises -----------------------------------------------

TRUNCATIONS: list[Fault] = [
    TruncatedFrame(2),
    TruncatedFrame(2, clean_end=False),
    ShortContentLength(2),
    ShortContentLength(0),
    CorruptFrame(2),
]


@pytest.mark.parametrize("fault", TRUNCATIONS, ids=repr)
@pytest.mark.parametrize("helper", ["events", "read"])
def test_truncated_stream_raises(
    local: LocalRuntime, pool_of_one: Client, fault: Fault, helper: str
) -> None:
    local.add_endpoint("cut", _three_parts, faults=[fault])
    with pool_of_one.stream("cut", b"{}") as stream, pytest.raises(StreamDecodeError) as info:
        if helper == "events":
            list(stream)
        else:
            stream.read()
    assert info.value.request_id == local.requests[-1].request_id
    assert pool_of_one.invoke("echo", b"next")["body"] == b"next"


def test_truncated_stream_raises_not_for_a_whole_content_length_body(
    local: LocalRuntime, smr_twin: Client
) -> None:
    """The control: an event stream sent with a ``Content-Length`` and complete is read."""
    body = b"".join(encode_event(PayloadPart(part)) for part in (b"p1", b"p2"))
    headers = {"Content-Type": "application/vnd.amazon.eventstream", "x-amzn-RequestId": "r"}
    local.add_endpoint("whole", faults=[RawResponse(200, body, headers)])
    with smr_twin.stream("whole", b"{}") as stream:
        assert stream.read() == b"p1p2"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-length": "120"}, 120),
        ({"content-length": " 7 "}, 7),
        ({"content-length": "120", "transfer-encoding": "chunked"}, None),
        ({"content-length": "120", "content-encoding": "gzip"}, None),
        ({"content-length": "120", "content-encoding": "identity"}, 120),
        ({"content-length": "\u00b2"}, None),  # a digit to str.isdigit, not to int()
        ({"content-length": "-1"}, None),
        ({"content-length": "12, 12"}, None),
        ({}, None),
    ],
)
def test_truncated_stream_raises_only_against_a_binding_content_length(
    headers: dict[str, str], expected: int | None
) -> None:
    assert declared_length(headers) == expected


def test_truncated_invoke_body_raises(local: LocalRuntime, smr_twin: Client) -> None:
    """A ``Content-Length`` body cut short is an error, never a short result."""
    local.add_endpoint("cut", faults=[ShortContentLength()])
    with pytest.raises(smr_pkg.TransportError) as info:
        smr_twin.invoke("cut", b"x" * 1000)
    assert info.value.request_id == local.requests[-1].request_id


@pytest.fixture(name="smr_twin")
def _smr_twin(clients: Clients) -> Client:
    return clients.local(retry=RetryPolicy.disabled())


# --- nothing but typed exceptions ---------------------------------------------------------

FAULTS: list[Fault] = [
    ErrorResponse("ModelError"),
    ErrorResponse("InternalFailure"),
    RawResponse(502, b"<html><body>Bad Gateway</body></html>"),
    StreamErrorEvent(1),
    StreamErrorEvent(1, hold_seconds=LONG),
    StreamFailureEvent(1),
    TruncatedFrame(1),
    TruncatedFrame(1, clean_end=False),
    CorruptFrame(1),
    ConnectionReset(),
    ConnectionReset(after_parts=1),
    Stall(LONG),
    Stall(LONG, after_parts=1),
    SlowTokens(0.001),
    ShortContentLength(),
    ShortContentLength(1),
]


@pytest.mark.parametrize("fault", FAULTS, ids=repr)
@pytest.mark.parametrize("call", ["invoke", "events", "read", "tokens"])
def test_nothing_but_typed_exceptions_from_any_fault(
    local: LocalRuntime, clients: Clients, fault: Fault, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="typed_sagemaker_runtime.testing")
    local.add_endpoint("ep", _three_parts, faults=[fault])
    smr = clients.local(config=Config(read_timeout=0.3), retry=RetryPolicy.disabled())
    try:
        if call == "invoke":
            smr.invoke("ep", b"{}")
        else:
            with smr.stream("ep", b"{}") as stream:
                if call == "events":
                    list(stream)
                elif call == "read":
                    stream.read()
                else:
                    list(stream.tokens("text"))
    except SageMakerRuntimeError:
        pass  # typed: the promise holds


def test_error_event_is_the_last_event_even_when_the_body_is_held_open(
    local: LocalRuntime, smr_twin: Client
) -> None:
    local.add_endpoint(
        "held",
        _three_parts,
        faults=[StreamErrorEvent(2, error_code="StreamBroken", hold_seconds=LONG)],
    )
    with smr_twin.stream("held", b"{}") as stream:
        events = list(stream)
    assert events[:2] == [PayloadPart(b"p1"), PayloadPart(b"p2")]
    assert isinstance(events[2], ModelStreamError)
    assert events[2].error_code == "StreamBroken"

"""aiobotocore's httpx backend: ``AioConfig(http_session_cls=HttpxSession)``.

The real stack, aiobotocore's ``HttpxSession`` and httpx (or its fork httpx2, which
aiobotocore prefers) over loopback against ``LocalRuntime``, with the promises of the
aiohttp path: typed events, a truncated stream raises, only our exceptions, and a
stream's connection goes back to httpx's pool when read to its end and is closed at
once when abandoned. Tests skip themselves when aiobotocore or httpx is missing.

httpx sends the full URL as the request target (absolute form), so the local endpoint
must accept it; the first test checks that with a raw socket, no httpx needed.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import io
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _twins import Loop
from typed_sagemaker_runtime import (
    AsyncResponseStream,
    AsyncSageMakerRuntime,
    ModelError,
    ModelStreamError,
    ModelStreamInterruptedError,
    PayloadPart,
    RetryPolicy,
    ServiceError,
    StreamDecodeError,
    StreamError,
    TimeoutError,
    TransportError,
)
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    DemoLLM,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    RawResponse,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    TruncatedFrame,
)

pytestmark = pytest.mark.filterwarnings(
    # aiobotocore 3.x warns that the legacy httpx package is deprecated in favour of httpx2.
    "ignore:aiobotocore's httpx backend now prefers httpx2:DeprecationWarning"
)


def test_absolute_form_request_target_is_served(local: LocalRuntime) -> None:
    """``POST http://host:port/endpoints/...`` (RFC 9112 3.2.2), as httpx sends it."""
    target = f"http://127.0.0.1:{local.port}/endpoints/echo/invocations"
    with socket.create_connection(("127.0.0.1", local.port), timeout=10) as sock:
        sock.sendall(
            f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{local.port}\r\n".encode()
            + b"Content-Length: 5\r\nConnection: close\r\n\r\nhello"
        )
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"\r\n\r\nhello")
    assert local.requests[-1].endpoint_name == "echo"


# --- the httpx backend ---------------------------------------------------------------


def _httpx_session_cls() -> Any:
    """aiobotocore's ``HttpxSession``; skips the test when it or httpx is not installed."""
    pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
    if not any(importlib.util.find_spec(name) for name in ("httpx2", "httpx")):
        pytest.skip("neither httpx2 nor httpx is installed")
    try:
        from aiobotocore.httpxsession import HttpxSession
    except ImportError:
        pytest.skip("this aiobotocore has no httpx backend (it came in aiobotocore 2.23)")
    try:
        HttpxSession()
    except RuntimeError as exc:  # an aiobotocore that cannot import the httpx it knows
        pytest.skip(str(exc))
    return HttpxSession


def _config(**options: Any) -> Any:
    session_cls = _httpx_session_cls()  # first: it skips the test without aiobotocore
    from aiobotocore.config import AioConfig

    # A pool of one: a connection never handed back makes the next call wait for it.
    options.setdefault("max_pool_connections", 1)
    options.setdefault("read_timeout", 10)
    return AioConfig(http_session_cls=session_cls, **options)


def _client(local: LocalRuntime, **options: Any) -> AsyncSageMakerRuntime:
    return local.async_client(config=_config(**options), retry=RetryPolicy.disabled())


def _parts(*parts: bytes) -> Any:
    return lambda request: iter(parts)


def test_the_facade_keeps_the_httpx_backend(local: LocalRuntime) -> None:
    """The client the facade builds uses httpx: the config it passes on keeps the backend.

    (aiobotocore 2's ``AioConfig.merge`` drops ``http_session_cls``.) So every test here
    runs on httpx, not silently on aiohttp.
    """
    session_cls = _httpx_session_cls()

    async def main() -> str:
        async with _client(local) as smr:
            session = smr.client._endpoint.http_session  # type: ignore[attr-defined]
            assert type(session) is session_cls
            response = await smr.client.invoke_endpoint_with_response_stream(
                EndpointName="echo", Body=b"x"
            )
            raw = response["Body"]._raw_stream  # type: ignore[attr-defined]
            await raw.aclose()
            return type(raw).__module__

    assert asyncio.run(main()).split(".")[0] in ("httpx", "httpx2")


def test_invoke_round_trips_and_reuses_the_connection(local: LocalRuntime) -> None:
    async def main() -> list[bytes]:
        async with _client(local) as smr:
            return [(await smr.invoke("echo", body))["body"] for body in (b"one", b"two")]

    assert asyncio.run(main()) == [b"one", b"two"]
    assert local.connections_opened == 1


def test_invoke_model_error_is_typed(local: LocalRuntime) -> None:
    local.add_endpoint("broken", faults=[ErrorResponse("ModelError", times=1)])

    async def main() -> None:
        async with _client(local) as smr:
            with pytest.raises(ModelError) as info:
                await smr.invoke("broken", b"x")
            assert info.value.http_status == 424
            assert (await smr.invoke("broken", b"after"))["body"] == b"after"

    asyncio.run(main())


def test_invoke_connection_refused_is_a_retryable_transport_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        smr = AsyncSageMakerRuntime(
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            config=_config(connect_timeout=5),
            retry=RetryPolicy.disabled(),
        )

        async def main() -> None:
            async with smr:
                with pytest.raises(TransportError) as info:
                    await smr.invoke("ep", b"x")
                assert info.value.retryable
                assert "nothing was sent" in str(info.value)

        asyncio.run(main())


@pytest.mark.parametrize(
    "body",
    [b"bytes", bytearray(b"bytes"), memoryview(b"bytes"), "bytes", io.BytesIO(b"bytes")],
    ids=["bytes", "bytearray", "memoryview", "str", "file"],
)
def test_invoke_accepts_every_body_type(local: LocalRuntime, body: Any) -> None:
    async def main() -> bytes:
        async with _client(local) as smr:
            return (await smr.invoke("echo", body))["body"]

    assert asyncio.run(main()) == b"bytes"
    assert local.requests[-1].body == b"bytes"


@pytest.mark.parametrize("dest", [None, "file"])
def test_async_inference_results_are_read_and_closed(local: LocalRuntime, dest: Any) -> None:
    """The S3 client inherits the httpx backend: an upload, then bodies closed by awaiting."""

    s3 = local.s3_client()
    bucket = f"httpx-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.close()

    async def main() -> bytes:
        async with _client(local) as smr:
            # Uploaded, then invoked by location: botocore before 1.43.29 has no inline body.
            job = await smr.invoke_async_upload("echo", b"ready", s3_prefix=f"s3://{bucket}/in/")
            await asyncio.to_thread(local.wait_for_async_jobs)
            if dest is None:
                return (await smr.wait_for_async_result(job, timeout=30))["body"]
            buffer = io.BytesIO()
            await smr.wait_for_async_result(job, timeout=30, dest=buffer)
            return buffer.getvalue()

    assert asyncio.run(main()) == b"ready"


@pytest.mark.parametrize(
    ("fault", "expected", "says"),
    [
        (ConnectionReset(), TransportError, "before a response arrived; the request may have"),
        (ConnectionReset(1), TransportError, "failed while reading the response body"),
        (Stall(30), TimeoutError, "no response after 0.5s"),
        (Stall(30, after_parts=1), TimeoutError, "no response after 0.5s"),
        (RawResponse(502, b"<html>Bad Gateway</html>"), ServiceError, "Bad Gateway"),
    ],
    ids=["reset-before-response", "reset-mid-body", "slow-first-byte", "stall-mid-body", "html"],
)
def test_invoke_failures_are_typed(
    local: LocalRuntime, fault: Any, expected: type, says: str
) -> None:
    """Each failure is ours, not retryable, and says what happened, as on aiohttp.

    The pool of one then serves the next call.
    """
    local.add_endpoint("faulty", _parts(b"a" * 100, b"b" * 100), faults=[fault])

    async def main() -> None:
        async with _client(local, read_timeout=0.5) as smr:
            with pytest.raises(expected) as info:
                await smr.invoke("faulty", b"x")
            assert not info.value.retryable
            assert says in str(info.value)
            assert (await asyncio.wait_for(smr.invoke("echo", b"next"), 10))["body"] == b"next"

    asyncio.run(main())


def test_stream_events_and_the_connection_goes_back_to_the_pool(local: LocalRuntime) -> None:
    local.add_endpoint("parts", _parts(b"a", b"b", b"c"))

    async def main() -> list[list[Any]]:
        async with _client(local) as smr:
            seen = []
            for _ in range(3):
                async with await smr.stream("parts", b"{}") as stream:
                    seen.append([event async for event in stream])
            assert (await smr.invoke("echo", b"next"))["body"] == b"next"
            return seen

    assert asyncio.run(main()) == [[PayloadPart(b"a"), PayloadPart(b"b"), PayloadPart(b"c")]] * 3
    assert local.connections_opened == 1


def test_tokens_match_the_sync_client(local: LocalRuntime) -> None:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    request = {"inputs": "hello", "parameters": {"max_new_tokens": 12}, "stream": True}
    with local.client() as sync:
        expected = list(sync.stream("demo", json=request).tokens())

    async def main() -> list[str]:
        async with _client(local) as smr, await smr.stream("demo", json=request) as stream:
            return [token async for token in stream.tokens()]

    assert len(expected) > 3
    assert asyncio.run(main()) == expected


def test_error_event_is_typed_and_the_connection_is_reused(local: LocalRuntime) -> None:
    local.add_endpoint(
        "failing", _parts(b"a", b"b"), faults=[StreamErrorEvent(1, error_code="StreamBroken")]
    )

    async def main() -> list[Any]:
        async with _client(local) as smr:
            async with await smr.stream("failing", b"{}") as stream:
                events = [event async for event in stream]
            async with await smr.stream("failing", b"{}") as stream:
                with pytest.raises(ModelStreamInterruptedError) as info:
                    await stream.read()
                assert info.value.error_code == "StreamBroken"
            return events

    events = asyncio.run(main())
    assert events[0] == PayloadPart(b"a")
    assert isinstance(events[1], ModelStreamError)
    assert events[1].error_code == "StreamBroken"
    assert len(events) == 2
    assert local.connections_opened == 1


@pytest.mark.parametrize("clean_end", [True, False], ids=["clean-chunked-end", "fin"])
def test_a_truncated_stream_raises(local: LocalRuntime, clean_end: bool) -> None:
    local.add_endpoint(
        "cut", _parts(b"a", b"b", b"c"), faults=[TruncatedFrame(1, clean_end=clean_end)]
    )

    async def main() -> list[bytes]:
        got: list[bytes] = []
        async with _client(local) as smr, await smr.stream("cut", b"{}") as stream:
            with pytest.raises(StreamDecodeError) as info:
                async for data in stream.payloads():
                    got.append(data)
            assert info.value.request_id == stream.request_id
            assert (await smr.invoke("echo", b"next"))["body"] == b"next"
        return got

    assert asyncio.run(main()) == [b"a"]


def test_a_content_length_body_cut_at_a_frame_boundary_raises() -> None:
    """A stream body shorter than its ``Content-Length``, cut between two whole frames."""
    from typed_sagemaker_runtime.testing._server._stream import _encode

    config = _config()  # first: it skips the test where there is no httpx backend
    first = _encode(PayloadPart(b"first"))
    declared = len(first + _encode(PayloadPart(b"second")))
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer_short() -> None:
            conn, _ = server.accept()
            with conn, conn.makefile("rb") as request:
                length = 0
                while (line := request.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                request.read(length)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
                    + f"Content-Length: {declared}\r\n\r\n".encode()
                    + first
                )

        thread = threading.Thread(target=answer_short, daemon=True)
        thread.start()
        smr = AsyncSageMakerRuntime(
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{server.getsockname()[1]}",
            config=config,
            retry=RetryPolicy.disabled(),
        )

        async def main() -> list[Any]:
            got: list[Any] = []
            async with smr, await smr.stream("ep", b"{}") as stream:
                with pytest.raises(StreamDecodeError):
                    async for event in stream:
                        got.append(event)
            return got

        assert asyncio.run(main()) == [PayloadPart(b"first")]
        thread.join(10)


def test_a_reset_mid_stream_is_a_transport_error(local: LocalRuntime) -> None:
    local.add_endpoint("reset", _parts(b"a", b"b"), faults=[ConnectionReset(1)])

    async def main() -> None:
        async with _client(local) as smr, await smr.stream("reset", b"{}") as stream:
            with pytest.raises(TransportError) as info:
                async for _ in stream:
                    pass
            assert not isinstance(info.value, StreamError)
            assert (await smr.invoke("echo", b"next"))["body"] == b"next"

    asyncio.run(main())


def test_a_stall_mid_stream_is_a_timeout(local: LocalRuntime) -> None:
    local.add_endpoint("stalled", _parts(b"a", b"b"), faults=[Stall(30, after_parts=1)])

    async def main() -> float:
        async with _client(local, read_timeout=0.5) as smr:
            stream = await smr.stream("stalled", b"{}")
            events = stream.__aiter__()
            assert await events.__anext__() == PayloadPart(b"a")
            started = time.monotonic()
            with pytest.raises(TimeoutError, match="read_timeout"):
                await events.__anext__()
            return time.monotonic() - started

    assert asyncio.run(main()) < 5


def test_a_read_after_a_cancelled_read_fails_and_never_ends_quietly(local: LocalRuntime) -> None:
    """httpx closes the connection when a read is cancelled: the body cannot go on.

    (aiohttp keeps the bytes and the next read goes on; httpx's iterator is finished.)
    """
    from typed_sagemaker_runtime._aio._errors import map_aio_stream_exception
    from typed_sagemaker_runtime._aio._httpx_body import HttpxBody, aio_body

    local.add_endpoint("stalled", _parts(b"a", b"b"), faults=[Stall(30, after_parts=1)])

    async def main() -> None:
        async with _client(local) as smr:
            response = await smr.client.invoke_endpoint_with_response_stream(
                EndpointName="stalled", Body=b"x"
            )
            body = aio_body(response["Body"]._raw_stream)  # type: ignore[attr-defined]
            assert isinstance(body, HttpxBody)
            data, _ = await body.content.readchunk()
            assert data
            reader = asyncio.create_task(body.content.readchunk())
            for _ in range(20):  # let the reader reach its wait on the stalled socket
                await asyncio.sleep(0)
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
            with pytest.raises(ConnectionAbortedError) as info:
                await body.content.readchunk()
            mapped = map_aio_stream_exception(
                info.value, operation="InvokeEndpointWithResponseStream"
            )
            assert type(mapped) is TransportError
            body.close()
            assert (await asyncio.wait_for(smr.invoke("echo", b"next"), 10))["body"] == b"next"

    asyncio.run(main())


class EndlessStream:
    """A handler that streams until the client goes away, and says when it noticed."""

    def __init__(self) -> None:
        self.client_left = threading.Event()

    def __call__(self, request: InvocationRequest) -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            self.client_left.set()


@pytest.mark.parametrize("how", ["break", "exception", "aclose", "unread", "cancel", "gc"])
def test_an_abandoned_stream_closes_its_connection(local: LocalRuntime, how: str) -> None:
    """The server sees the client leave; the pool of one serves the next call at once."""
    endless = EndlessStream()
    local.add_endpoint("endless", endless)

    async def abandon(smr: AsyncSageMakerRuntime) -> AsyncResponseStream | None:
        """Abandon a stream; return it when the caller still holds it."""
        stream: AsyncResponseStream | None = None
        if how == "break":
            async with await smr.stream("endless", b"{}") as stream:
                async for _ in stream:
                    break
                assert await asyncio.to_thread(endless.client_left.wait, 10)
        elif how == "exception":
            with pytest.raises(KeyError):
                async with await smr.stream("endless", b"{}") as stream:
                    async for _ in stream.payloads():
                        raise KeyError("user code failed")
        elif how == "aclose":
            stream = await smr.stream("endless", b"{}")
            events = stream.__aiter__()
            await events.__anext__()
            await stream.aclose()
            with pytest.raises(StopAsyncIteration):
                await events.__anext__()
        elif how == "unread":
            stream = await smr.stream("endless", b"{}")
            await stream.aclose()
        elif how == "cancel":
            reading = asyncio.Event()

            async def consume() -> None:
                async with await smr.stream("endless", b"{}") as stream:
                    async for _ in stream:
                        reading.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(reading.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            dropped = await smr.stream("endless", b"{}")
            await dropped.__aiter__().__anext__()
            del dropped
            gc.collect()
        return stream

    async def main() -> None:
        async with _client(local) as smr:
            # Held while the next call runs: what frees the pool is closing, not collection.
            held = await abandon(smr)
            assert await asyncio.to_thread(endless.client_left.wait, 10)
            assert (await asyncio.wait_for(smr.invoke("echo", b"next"), 10))["body"] == b"next"
            assert held is None or held.closed

    asyncio.run(main())
    assert local.connections_opened == 2


def test_a_stream_collected_outside_the_loop_closes_its_socket_at_once(
    local: LocalRuntime,
) -> None:
    """Dropped while no loop runs: the server sees the client leave before the loop runs again.

    The server is paced so that the client's receive buffer never fills: with a full
    buffer, a socket shut down but not yet closed gets no data, so sends no reset, and the
    server only notices when the loop runs and closes it (aiohttp's backend alike).
    """
    endless = EndlessStream()
    local.add_endpoint("endless", endless, faults=[SlowTokens(0.01)])
    smr = _client(local)  # first: it skips the test where there is no httpx backend
    loop = Loop()
    try:
        loop.run(smr.__aenter__())
        stream = loop.run(smr.stream("endless", b"{}"))
        events = stream.__aiter__()
        loop.run(events.__anext__())
        del stream, events
        gc.collect()
        assert endless.client_left.wait(10)
        result = loop.run(asyncio.wait_for(smr.invoke("echo", b"next"), 10))
        assert result["body"] == b"next"
    finally:
        loop.run(smr.aclose())
        loop.close()
    assert local.connections_opened == 2


def test_aclose_from_another_task_wakes_a_stalled_reader(local: LocalRuntime) -> None:
    local.add_endpoint("stalled", _parts(b"a", b"b"), faults=[Stall(30, after_parts=1)])

    async def main() -> float:
        async with _client(local, read_timeout=30) as smr:
            stream = await smr.stream("stalled", b"{}")
            events = stream.__aiter__()
            assert await events.__anext__() == PayloadPart(b"a")
            reader = asyncio.create_task(events.__anext__())
            for _ in range(20):  # let the reader reach its wait on the stalled socket
                await asyncio.sleep(0)
            started = time.monotonic()
            await stream.aclose()
            with pytest.raises((StreamError, StopAsyncIteration)):
                await asyncio.wait_for(reader, 10)
            elapsed = time.monotonic() - started
            assert (await asyncio.wait_for(smr.invoke("echo", b"next"), 10))["body"] == b"next"
            return elapsed

    assert asyncio.run(main()) < 1
    assert local.connections_opened == 2


def test_every_test_here_passes_on_the_legacy_httpx_package_too() -> None:
    """aiobotocore 3 prefers httpx2 when both are installed: run this file on httpx alone."""
    _httpx_session_cls()
    if not all(importlib.util.find_spec(name) for name in ("httpx2", "httpx")):
        pytest.skip("needs both httpx2 and httpx installed")
    if importlib.util.find_spec("aiobotocore._httpx") is None:
        pytest.skip("this aiobotocore knows only httpx")
    code = (
        "import sys; sys.modules['httpx2'] = None\n"  # aiobotocore then falls back to httpx
        "import pytest\n"
        f"raise SystemExit(pytest.main([{__file__!r}, '-q', '-k', 'not legacy']))\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in summary
    assert "skipped" not in summary
    assert "failed" not in summary


def test_without_httpx_streams_work_on_aiohttp(local: LocalRuntime) -> None:
    """httpx stays optional: nothing imports it, and the aiohttp path maps its errors."""
    pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
    local.add_endpoint("cut", _parts(b"a", b"b"), faults=[TruncatedFrame(1, clean_end=False)])
    code = (
        "import sys; sys.modules['httpx'] = sys.modules['httpx2'] = None\n"
        "import asyncio\n"
        "from typed_sagemaker_runtime import StreamDecodeError\n"
        "from typed_sagemaker_runtime.testing._boto import dummy_aio_session\n"
        "from typed_sagemaker_runtime import AsyncSageMakerRuntime\n"
        "async def main():\n"
        f"    async with AsyncSageMakerRuntime(session=dummy_aio_session('us-east-1'), "
        f"endpoint_url={local.endpoint_url!r}) as smr:\n"
        "        async with await smr.stream('echo', b'x') as stream:\n"
        "            print([e async for e in stream.payloads()])\n"
        "        try:\n"
        "            async with await smr.stream('cut', b'x') as stream:\n"
        "                await stream.read()\n"
        "        except StreamDecodeError as exc:\n"
        "            print(type(exc).__name__)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["[b'x']", "StreamDecodeError"]

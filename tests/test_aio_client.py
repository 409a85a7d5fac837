"""AsyncSageMakerRuntime and AsyncResponseStream: what only the asyncio client has.

The behaviour both clients share runs from one test body for both (test_client.py,
test_streaming.py, test_async_inference.py, through ``_twins``). This file holds the
rest: the signatures of the twins, ``async with`` and ``aclose``, 100 concurrent
streams on one event loop, cancellation, and the package without aiobotocore. Each
test runs its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")

import typed_sagemaker_runtime as smr_pkg
from _models import INLINE_ASYNC_BODY
from typed_sagemaker_runtime import (
    AsyncResponseStream,
    AsyncSageMakerRuntime,
    PayloadPart,
    ResponseStream,
    RetryPolicy,
    SageMakerRuntime,
    StreamConsumedError,
    StreamEvent,
)
from typed_sagemaker_runtime._base._stream import EventStreamCore
from typed_sagemaker_runtime._core._eventstream import encode_event
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    RawFrames,
    StreamErrorEvent,
)

# --- the twins cannot drift ----------------------------------------------------------

# Parameter annotations that differ on purpose: the async client takes aiobotocore clients.
_ASYNC_ANNOTATIONS = {
    "S3ClientLike | None": "AioS3ClientLike | None",
    "SageMakerRuntimeClient | None": "SageMakerRuntimeClient | None",
    "boto3.session.Session | None": "AioSession | None",
    "Iterable[BidiInput] | None": "Iterable[BidiInput] | AsyncIterable[BidiInput] | None",
    "Iterable[Body] | None": "Iterable[Body] | AsyncIterable[Body] | None",
    "Iterable[object] | None": "Iterable[object] | AsyncIterable[object] | None",
}
_ASYNC_RETURNS = {"ResponseStream": "AsyncResponseStream"}
_STREAM_REQUEST = "AsyncStreamRequest"
"""What the stream-opening methods return: awaitable, or entered directly by ``async with``."""
_RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def _public_methods(cls: type) -> dict[str, Any]:
    """The public methods of ``cls``, inherited ones included (the clients are mixins)."""
    methods: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, member in vars(klass).items():
            public = not name.startswith("_") or name in ("__enter__", "__exit__")
            if callable(member) and public:
                methods.setdefault(name, member)
    return methods


def _assert_twins(sync_cls: type, async_cls: type) -> set[str]:
    """Check each public method of ``sync_cls`` against its twin; return the names checked."""
    checked: set[str] = set()
    for name, method in _public_methods(sync_cls).items():
        checked.add(name)
        twin_name = _RENAMED.get(name, name)
        twin = getattr(async_cls, twin_name, None)
        assert twin is not None, f"{async_cls.__name__} has no {twin_name} (twin of {name})"
        sync_sig = inspect.signature(method)
        async_sig = inspect.signature(twin)
        assert list(sync_sig.parameters) == list(async_sig.parameters), name
        for param, sync_param in sync_sig.parameters.items():
            async_param = async_sig.parameters[param]
            assert async_param.kind == sync_param.kind, (name, param)
            assert async_param.default == sync_param.default, (name, param)
            expected = _ASYNC_ANNOTATIONS.get(str(sync_param.annotation), sync_param.annotation)
            assert async_param.annotation == expected, (name, param)
        sync_return = str(sync_sig.return_annotation)
        async_return = str(async_sig.return_annotation)
        if sync_return.startswith("Iterator["):
            # Generators and iterator helpers become async iterators.
            assert async_return == "Async" + sync_return, name
            assert not inspect.iscoroutinefunction(twin), name
        elif sync_return == "ResponseStream" and async_cls.__name__ == "AsyncSageMakerRuntime":
            assert async_return == _STREAM_REQUEST, name
            assert not inspect.iscoroutinefunction(twin), name
        elif sync_return == "InvokeMany" and name == "invoke_many":
            # Not awaited: the run starts at the first ``__anext__``.
            assert async_return == "AsyncInvokeMany", name
            assert not inspect.iscoroutinefunction(twin), name
        elif sync_return == "BidiStream" and name == "bidi_stream":
            # Opened by ``async with`` or ``await``, as a stream request is.
            assert async_return == "AsyncBidiStream", name
            assert not inspect.iscoroutinefunction(twin), name
        else:
            assert inspect.iscoroutinefunction(twin), f"{async_cls.__name__}.{twin_name}"
            if name == "__enter__":
                assert async_return == "Self", name
            else:
                assert async_return in (sync_return, _ASYNC_RETURNS.get(sync_return)), name
    return checked


_CLIENT_METHODS = {
    "__enter__",
    "__exit__",
    "close",
    "invoke",
    "stream",
    "invoke_async",
    "invoke_async_upload",
    "wait_for_async_result",
    "chat",
    "chat_stream",
    "generate",
    "generate_stream",
    "bidi_stream",
    "invoke_many",
}


def test_every_sync_method_has_an_async_twin_with_the_same_parameters() -> None:
    """The parameters are identical; the async methods return awaitables (or async iterators)."""
    assert _assert_twins(SageMakerRuntime, AsyncSageMakerRuntime) >= _CLIENT_METHODS
    assert list(inspect.signature(SageMakerRuntime).parameters) == list(
        inspect.signature(AsyncSageMakerRuntime).parameters
    )
    for name in ("client", "retry"):
        assert isinstance(getattr(AsyncSageMakerRuntime, name), property), name


def test_every_stream_method_has_an_async_twin() -> None:
    _assert_twins(ResponseStream, AsyncResponseStream)
    for name in ("metadata", "request_id", "closed"):
        assert isinstance(getattr(AsyncResponseStream, name), property), name
    assert inspect.signature(ResponseStream).parameters.keys() == (
        inspect.signature(AsyncResponseStream).parameters.keys()
    )


def test_every_bidi_stream_method_has_an_async_twin() -> None:
    from typed_sagemaker_runtime import AsyncBidiStream, BidiStream

    assert _assert_twins(BidiStream, AsyncBidiStream) >= {"send", "end_input", "messages", "close"}
    for name in ("request_id", "invoked_production_variant"):
        assert isinstance(getattr(AsyncBidiStream, name), property), name


# --- lifecycle -----------------------------------------------------------------------


@pytest.fixture(name="local")
def _local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_endpoint("echo")
        yield runtime


def test_async_with_creates_and_closes_the_client(local: LocalRuntime) -> None:
    async def main() -> None:
        smr = local.async_client()
        with pytest.raises(RuntimeError, match="async with"):
            _ = smr.client
        async with smr as entered:
            assert entered is smr
            assert (await smr.invoke("echo", b"x"))["body"] == b"x"
            assert smr.client.meta.region_name == "us-east-1"
        assert await smr.__aexit__(None, None, None) is None  # idempotent, returns None
        with pytest.raises(RuntimeError, match="closed"):
            await smr.invoke("echo", b"x")

    asyncio.run(main())


def test_aclose_without_async_with(local: LocalRuntime) -> None:
    async def main() -> None:
        smr = local.async_client()
        assert (await smr.invoke("echo", b"lazy"))["body"] == b"lazy"
        await smr.aclose()
        await smr.aclose()

    asyncio.run(main())


def test_aexit_never_swallows(local: LocalRuntime) -> None:
    async def main() -> None:
        with pytest.raises(KeyError):
            async with local.async_client() as smr, await smr.stream("echo", b"x"):
                raise KeyError("user error")

    asyncio.run(main())


def test_wrapping_an_existing_aiobotocore_client(local: LocalRuntime) -> None:
    from typed_sagemaker_runtime.testing._boto import dummy_aio_session

    async def main() -> None:
        session = dummy_aio_session("us-east-1")
        async with session.create_client(
            "sagemaker-runtime", endpoint_url=local.endpoint_url
        ) as raw:
            smr = AsyncSageMakerRuntime(client=raw)
            assert smr.client is raw
            assert smr.retry.max_attempts == 1, "a wrapped client keeps its own retries"
            local.add_endpoint(
                "ep", faults=[ErrorResponse("ValidationError", fields={"ErrorCode": "X"})]
            )
            with pytest.raises(smr_pkg.ValidationError) as info:
                await smr.invoke("ep", b"{}")
            assert info.value.error_code == "X"
            await smr.aclose()
            assert (await smr.invoke("echo", b"still open"))["body"] == b"still open"

    asyncio.run(main())


def test_sync_iteration_of_an_async_stream_fails_loudly(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr, await smr.stream("echo", b"x") as stream:
            with pytest.raises(TypeError):
                iter(stream)  # type: ignore[call-overload]
            assert [event async for event in stream] == [PayloadPart(b"x")]
            with pytest.raises(StreamConsumedError):
                stream.__aiter__()

    asyncio.run(main())


def test_without_aiobotocore_the_package_imports_and_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['aiobotocore'] = None; sys.modules['aiobotocore.session'] = None\n"
        "import typed_sagemaker_runtime as t\n"
        "t.SageMakerRuntime; t.AsyncResponseStream\n"
        "try:\n"
        "    t.AsyncSageMakerRuntime(region_name='us-east-1')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "pip install -e '.[aio]'" in result.stdout
    assert "pip install aiobotocore" in result.stdout


# --- concurrency ---------------------------------------------------------------------

STREAMS = 100


class AllArrived:
    """A handler whose streams end only once every one of ``count`` requests has arrived.

    Each stream sends its first part at once, then waits (in its server thread) until
    all ``count`` requests are in before sending its last part. If any stream on the
    client blocked another, the last requests would never arrive and no stream could end.
    """

    def __init__(self, count: int) -> None:
        self._count = count
        self._arrived = 0
        self._lock = threading.Lock()
        self.all_arrived = threading.Event()

    def __call__(self, request: InvocationRequest) -> Iterator[bytes]:
        with self._lock:
            self._arrived += 1
            if self._arrived == self._count:
                self.all_arrived.set()
        yield b"first"
        if not self.all_arrived.wait(30):
            raise RuntimeError("not every request arrived")
        yield b"last"


def test_100_concurrent_streams_do_not_block_each_other(local: LocalRuntime) -> None:
    handler = AllArrived(STREAMS)
    local.add_endpoint("gated", handler)
    config = Config(max_pool_connections=STREAMS, read_timeout=60)

    async def one(smr: AsyncSageMakerRuntime) -> list[bytes]:
        async with await smr.stream("gated", b"{}") as stream:
            return [data async for data in stream.payloads()]

    async def main() -> list[list[bytes]]:
        async with local.async_client(config=config) as smr:
            return await asyncio.gather(*(one(smr) for _ in range(STREAMS)))

    # No stream can end before all 100 are open at once on the server: had one stream
    # blocked another, the gate would never open and every handler would fail.
    assert asyncio.run(main()) == [[b"first", b"last"]] * STREAMS
    assert handler.all_arrived.is_set()
    assert local.connections_opened == STREAMS


def test_the_first_event_is_not_held_back_by_a_backlog(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read takes one HTTP chunk, even with the whole body already received.

    Later reads take everything aiohttp holds (one pass of the decoder for many frames),
    but the first event of a stream that starts behind (a busy loop, many streams) is
    yielded as soon as its own chunk is decoded, not after the backlog behind it.
    """
    frames = [encode_event(PayloadPart(b"token %d" % index)) for index in range(50)]
    local.add_endpoint("backlog", lambda r: EndpointResponse([RawFrames(f) for f in frames]))
    fed: list[int] = []
    real_feed = EventStreamCore.feed

    def recording_feed(core: EventStreamCore, chunk: bytes) -> list[StreamEvent]:
        fed.append(len(chunk))
        return real_feed(core, chunk)

    monkeypatch.setattr(EventStreamCore, "feed", recording_feed)

    async def main() -> list[bytes]:
        async with local.async_client() as smr, await smr.stream("backlog", b"{}") as stream:
            content: Any = stream._raw.content  # pyright: ignore[reportPrivateUsage]
            deadline = time.monotonic() + 30
            while not content.is_eof():  # wait until the whole body is in aiohttp's buffer
                assert time.monotonic() < deadline, "the body never arrived"
                await asyncio.sleep(0.001)
            events = aiter(stream)
            first = await anext(events)
            assert fed == [len(frames[0])]
            assert isinstance(first, PayloadPart)
            return [first.data] + [e.data async for e in events if isinstance(e, PayloadPart)]

    assert asyncio.run(main()) == [b"token %d" % index for index in range(50)]
    assert fed == [len(frames[0]), sum(len(f) for f in frames[1:])]


class EndlessStream:
    """A handler that streams until the client goes away, and says when it noticed."""

    def __init__(self) -> None:
        self.client_left = threading.Event()
        self.started = threading.Event()

    def __call__(self, request: InvocationRequest) -> Iterator[bytes]:
        try:
            while True:
                self.started.set()
                yield b"x" * 1024
        finally:
            self.client_left.set()


def test_cancelling_a_task_mid_stream_releases_its_connection(local: LocalRuntime) -> None:
    """With a pool of one, aiohttp would wait forever for a connection never released."""
    endless = EndlessStream()
    local.add_endpoint("endless", endless)
    config = Config(max_pool_connections=1, read_timeout=10)

    async def main() -> None:
        async with local.async_client(config=config, retry=RetryPolicy.disabled()) as smr:
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
            assert await asyncio.to_thread(endless.client_left.wait, 10)
            result = await asyncio.wait_for(smr.invoke("echo", b"next"), 10)
            assert result["body"] == b"next"

    asyncio.run(main())
    assert local.connections_opened == 2


@pytest.mark.parametrize("how", ["break", "exception", "aclose"])
def test_an_abandoned_async_for_closes_the_socket_at_once(local: LocalRuntime, how: str) -> None:
    """Native ``async for``: the server sees the client leave before the block ends."""
    endless = EndlessStream()
    local.add_endpoint("endless", endless)
    config = Config(max_pool_connections=1, read_timeout=10)

    async def main() -> None:
        async with local.async_client(config=config, retry=RetryPolicy.disabled()) as smr:
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
            else:
                stream = await smr.stream("endless", b"{}")
                events = stream.__aiter__()
                await events.__anext__()
                await stream.aclose()
                with pytest.raises(StopAsyncIteration):
                    await events.__anext__()
            assert await asyncio.to_thread(endless.client_left.wait, 10)
            assert (await asyncio.wait_for(smr.invoke("echo", b"next"), 10))["body"] == b"next"

    asyncio.run(main())
    assert local.connections_opened == 2


def test_a_cancelled_stream_does_not_stop_the_others(local: LocalRuntime) -> None:
    endless = EndlessStream()
    local.add_endpoint("endless", endless)
    local.add_endpoint(
        "failing", lambda r: iter([b"a", b"b"]), faults=[StreamErrorEvent(1, error_code="X")]
    )
    config = Config(max_pool_connections=10, read_timeout=10)

    async def main() -> list[bytes]:
        async with local.async_client(config=config) as smr:
            reading = asyncio.Event()

            async def endless_reader() -> None:
                async with await smr.stream("endless", b"{}") as stream:
                    async for _ in stream:
                        reading.set()

            task = asyncio.create_task(endless_reader())
            await reading.wait()
            others = [smr.invoke("echo", str(i)) for i in range(5)]
            bodies = [r["body"] for r in await asyncio.gather(*others)]
            async with await smr.stream("failing", b"{}") as stream:
                with pytest.raises(smr_pkg.ModelStreamInterruptedError):
                    await stream.read()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return bodies

    assert asyncio.run(main()) == [str(i).encode() for i in range(5)]
    assert endless.client_left.wait(10)


# --- async inference: what only asyncio has -------------------------------------------


@INLINE_ASYNC_BODY
def test_cancelling_wait_for_async_result_stops_at_once() -> None:
    gate = threading.Event()

    def slow(request: InvocationRequest) -> bytes:
        gate.wait(30)
        return b"late"

    with LocalRuntime() as local:
        local.add_endpoint("slow", slow)
        try:

            async def main() -> float:
                async with local.async_client() as smr:
                    job = await smr.invoke_async("slow", body=b"x")
                    task = asyncio.create_task(
                        smr.wait_for_async_result(job, timeout=None, poll_interval=60)
                    )
                    await asyncio.sleep(0.3)  # let it reach its sleep between polls
                    started = time.monotonic()
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                    return time.monotonic() - started

            assert asyncio.run(main()) < 1.0
        finally:
            gate.set()


@INLINE_ASYNC_BODY
def test_wait_with_a_caller_aiobotocore_s3_client() -> None:
    """An S3 client passed in is used as given and not closed."""
    with LocalRuntime() as local:
        local.add_endpoint("echo")
        from typed_sagemaker_runtime.testing._boto import dummy_aio_session

        async def main() -> bytes:
            session = dummy_aio_session("us-east-1")
            async with (
                session.create_client("s3", endpoint_url=local.s3_endpoint_url) as s3,
                local.async_client() as smr,
            ):
                job = await smr.invoke_async("echo", body=b"ready")
                output = await smr.wait_for_async_result(job, timeout=30, s3_client=s3)
                await s3.list_buckets()  # still open
                return output["body"]

        assert asyncio.run(main()) == b"ready"


class _Operations:
    """The S3 operations an aiobotocore client sends (botocore's ``before-send`` event)."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, event_name: str, **kwargs: Any) -> None:
        self.names.append(event_name.rsplit(".", 1)[-1])


def _waiter_requests(setup: str) -> list[str]:
    """Run the asyncio waiter once against the local endpoint; the S3 operations it sent."""
    from typed_sagemaker_runtime.testing._boto import dummy_aio_session

    gate = threading.Event()

    def slow(request: InvocationRequest) -> bytes:
        gate.wait(30)
        return b"late"

    def broken(request: InvocationRequest) -> bytes:
        raise RuntimeError("boom")

    with LocalRuntime() as local:
        local.add_endpoint("echo")
        local.add_endpoint("slow", slow)
        local.add_endpoint("broken", broken)

        async def main() -> list[str]:
            session = dummy_aio_session("us-east-1")
            async with (
                session.create_client("s3", endpoint_url=local.s3_endpoint_url) as s3,
                local.async_client() as smr,
            ):
                endpoint = {"output": "echo", "failure": "broken", "deadline": "slow"}[setup]
                job = await smr.invoke_async(endpoint, body=b"x")
                if setup != "deadline":
                    await asyncio.to_thread(local.wait_for_async_jobs)
                log = _Operations(s3)
                if setup == "output":
                    await smr.wait_for_async_result(job, s3_client=s3)
                elif setup == "failure":
                    with pytest.raises(smr_pkg.AsyncInferenceFailedError):
                        await smr.wait_for_async_result(job, s3_client=s3)
                else:
                    with pytest.raises(smr_pkg.AsyncInferenceTimeoutError):
                        await smr.wait_for_async_result(
                            job, timeout=0.8, poll_interval=0.2, s3_client=s3
                        )
                sent = list(log.names)
                gate.set()
                await asyncio.to_thread(local.wait_for_async_jobs)
                assert log.names == sent, "nothing kept polling after the wait returned"
                return sent

        try:
            return asyncio.run(main())
        finally:
            gate.set()


@INLINE_ASYNC_BODY
def test_async_waiter_existing_output_costs_one_head_and_one_get() -> None:
    assert _waiter_requests("output") == ["HeadObject", "GetObject"]


@INLINE_ASYNC_BODY
def test_async_waiter_existing_failure_costs_two_heads_and_one_get() -> None:
    assert _waiter_requests("failure") == ["HeadObject", "HeadObject", "GetObject"]


@INLINE_ASYNC_BODY
def test_async_waiter_sends_no_more_than_its_schedule() -> None:
    """Until the deadline: at most two HEADs per scheduled round, one HeadBucket, no GET."""
    from typed_sagemaker_runtime._core._async_inference import PollSchedule

    sent = _waiter_requests("deadline")
    rounds = len(PollSchedule.round_starts(0.8, 0.2))
    heads = sent.count("HeadObject")
    assert 2 <= heads <= 2 * rounds
    assert heads % 2 == 0
    assert sent.count("HeadBucket") == 1
    assert len(sent) == heads + 1

"""``async with smr.stream(...)`` without ``await``: the stream methods' ``AsyncStreamRequest``.

``stream``, ``chat_stream`` and ``generate_stream`` of the asyncio client return a
request that is awaited (giving the ``AsyncResponseStream``) or entered directly with
``async with`` (httpx's ``client.stream`` is the model). Nothing is sent before either;
an exception in the block closes the stream and propagates.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Iterator

import pytest
from botocore.config import Config

pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")

from typed_sagemaker_runtime import (
    AsyncResponseStream,
    AsyncStreamRequest,
    ChatMessage,
    EndpointNotFoundError,
    RetryPolicy,
    StreamConsumedError,
)
from typed_sagemaker_runtime.testing import (
    DemoLLM,
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
)

HELLO: list[ChatMessage] = [{"role": "user", "content": "Hello"}]


class Endless:
    """A handler that streams until the client goes away."""

    def __init__(self) -> None:
        self.client_left = threading.Event()

    def __call__(self, request: InvocationRequest) -> EndpointResponse:
        return EndpointResponse(self._body())

    def _body(self) -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 64
        finally:
            self.client_left.set()


@pytest.fixture(name="local")
def _local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_endpoint("llm", DemoLLM(tokens_per_second=None))
        runtime.add_endpoint("echo")
        yield runtime


def test_chat_stream_and_generate_stream_enter_without_await(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            async with smr.chat_stream("llm", HELLO, max_tokens=8) as stream:
                assert isinstance(stream, AsyncResponseStream)
                text = "".join([token async for token in stream.tokens()])
            assert text
            assert stream.closed
            async with smr.generate_stream("llm", "Hello", parameters={"max_new_tokens": 4}) as s:
                generation = await s.generation()
            assert generation.text
            async with smr.stream("echo", b"raw") as raw:
                assert await raw.read() == b"raw"

    asyncio.run(main())


def test_await_still_gives_the_stream(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            request = smr.stream("echo", b"x")
            assert isinstance(request, AsyncStreamRequest)
            stream = await request
            assert isinstance(stream, AsyncResponseStream)
            async with stream:
                assert await stream.read() == b"x"
            with pytest.raises(StreamConsumedError, match="sent once"):
                await request

    asyncio.run(main())


def test_nothing_is_sent_until_awaited_or_entered(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                request = smr.chat_stream("llm", HELLO)
                assert "not sent" in repr(request)
                del request
                gc.collect()
                await asyncio.sleep(0)
            assert local.requests == []
            assert [str(w.message) for w in caught] == [], "a dropped request warned"

    asyncio.run(main())


def test_a_wrong_call_raises_at_the_call_and_names_the_client(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            with pytest.raises(TypeError, match=r"^AsyncSageMakerRuntime\.chat_stream\(\) missing"):
                smr.chat_stream("llm")  # type: ignore[call-arg]

    asyncio.run(main())


def test_an_exception_in_the_block_closes_the_stream_and_propagates(local: LocalRuntime) -> None:
    endless = Endless()
    local.add_endpoint("endless", endless)
    config = Config(max_pool_connections=1, read_timeout=10)

    async def main() -> None:
        async with local.async_client(config=config, retry=RetryPolicy.disabled()) as smr:
            stream: AsyncResponseStream | None = None
            with pytest.raises(KeyError, match="user code"):
                async with smr.stream("endless", b"{}") as stream:
                    async for _ in stream.payloads():
                        raise KeyError("user code failed")
            assert stream is not None
            assert stream.closed
            assert await asyncio.to_thread(endless.client_left.wait, 10)
            assert (await smr.invoke("echo", b"next"))["body"] == b"next"

    asyncio.run(main())
    assert local.connections_opened == 2


def test_an_error_before_the_first_event_raises_at_entry(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            with pytest.raises(EndpointNotFoundError):
                async with smr.stream("missing", b"{}"):
                    raise AssertionError("the block must not run")

    asyncio.run(main())


def test_tasks_and_gather_take_the_request_as_they_took_a_coroutine(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            task = asyncio.create_task(smr.stream("echo", b"task"))
            gathered = await asyncio.gather(smr.stream("echo", b"a"), smr.stream("echo", b"b"))
            streams = [await task, *gathered]
            for stream, body in zip(streams, [b"task", b"a", b"b"], strict=True):
                async with stream:
                    assert await stream.read() == body
            request = smr.stream("echo", b"x")
            driven = asyncio.ensure_future(request)
            async with await driven as stream:
                assert await stream.read() == b"x"
            with pytest.raises(StreamConsumedError):
                await request

    asyncio.run(main())


def test_a_task_cancelled_while_sending_raises_cancelled(local: LocalRuntime) -> None:
    async def main() -> None:
        async with local.async_client() as smr:
            task = asyncio.create_task(smr.stream("echo", b"x"))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert local.requests == [], "cancelled before its first step: nothing sent"

    asyncio.run(main())


def test_a_task_shows_the_method_and_its_stack_as_with_a_coroutine(local: LocalRuntime) -> None:
    """A task's repr, get_stack() and print_stack() see the request's own coroutine."""

    async def main() -> None:
        async with local.async_client() as smr:
            task = asyncio.create_task(smr.chat_stream("llm", HELLO))
            await asyncio.sleep(0)  # the task's first step: the request is under way
            assert "AsyncSageMakerRuntime.chat_stream()" in repr(task)
            assert task.get_stack(), "a pending task has the request's frame"
            async with await task as stream:
                await stream.read()

    asyncio.run(main())

"""Run one test body against both clients: ``SageMakerRuntime`` and ``AsyncSageMakerRuntime``.

The async client is driven through a thin bridge that gives it the sync client's shape:
every method call is ``loop.run_until_complete(coroutine)`` on one event loop per test,
and a stream's iterators advance with ``run_until_complete(iterator.__anext__())``. So a
test written for the sync client runs unchanged against the async one, through
aiobotocore, aiohttp and the local endpoint (the "await or not" helper of openai's test
suite, applied to whole objects). Nothing is reimplemented here: no decoding, no error
handling; exceptions pass through untouched.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

import boto3
from botocore.config import Config

from typed_sagemaker_runtime import (
    AsyncResponseStream,
    AsyncSageMakerRuntime,
    RetryPolicy,
    SageMakerRuntime,
)
from typed_sagemaker_runtime.testing import LocalRuntime

_T = TypeVar("_T")

FLAVOURS = ["sync", "async"]


class Loop:
    """One private event loop, driven from the test's thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def close(self) -> None:
        gc.collect()  # finalise what the test dropped while the loop can still run
        self.run(asyncio.sleep(0))
        self.run(self.loop.shutdown_asyncgens())
        self.loop.close()


class SyncIter(Generic[_T]):
    """``next()`` on an async iterator: one ``__anext__`` per step."""

    def __init__(self, loop: Loop, iterator: AsyncIterator[_T]) -> None:
        self._loop = loop
        self._iterator = iterator

    def __iter__(self) -> SyncIter[_T]:
        return self

    def __next__(self) -> _T:
        try:
            item: _T = self._loop.run(self._iterator.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None
        return item


class StreamBridge:
    """An ``AsyncResponseStream`` with ``ResponseStream``'s sync shape."""

    def __init__(self, loop: Loop, stream: AsyncResponseStream) -> None:
        self._loop = loop
        self.stream = stream

    @property
    def metadata(self) -> Any:
        return self.stream.metadata

    @property
    def request_id(self) -> str | None:
        return self.stream.request_id

    @property
    def closed(self) -> bool:
        return self.stream.closed

    def __repr__(self) -> str:
        return repr(self.stream)

    def __enter__(self) -> StreamBridge:
        self._loop.run(self.stream.__aenter__())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return self._loop.run(self.stream.__aexit__(*exc_info))  # type: ignore[no-any-return]

    def close(self) -> None:
        self._loop.run(self.stream.aclose())

    def __iter__(self) -> SyncIter[Any]:
        return SyncIter(self._loop, self.stream.__aiter__())

    def read(self) -> bytes:
        return self._loop.run(self.stream.read())  # type: ignore[no-any-return]

    def payloads(self) -> SyncIter[bytes]:
        return SyncIter(self._loop, self.stream.payloads())

    def text(self) -> SyncIter[str]:
        return SyncIter(self._loop, self.stream.text())

    def lines(self) -> SyncIter[str]:
        return SyncIter(self._loop, self.stream.lines())

    def sse(self) -> SyncIter[Any]:
        return SyncIter(self._loop, self.stream.sse())

    def tokens(self, format: Any = "auto") -> SyncIter[str]:
        return SyncIter(self._loop, self.stream.tokens(format))

    def chunks(self, format: Any = "auto") -> SyncIter[Any]:
        return SyncIter(self._loop, self.stream.chunks(format))

    def generation(self, format: Any = "auto") -> Any:
        return self._loop.run(self.stream.generation(format))


class RunBridge:
    """An ``AsyncInvokeMany`` with ``InvokeMany``'s sync shape."""

    def __init__(self, loop: Loop, run: Any) -> None:
        self._loop = loop
        self.run = run

    @property
    def stats(self) -> Any:
        return self.run.stats

    def __iter__(self) -> RunBridge:
        return self

    def __next__(self) -> Any:
        try:
            return self._loop.run(self.run.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def __enter__(self) -> RunBridge:
        self._loop.run(self.run.__aenter__())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._loop.run(self.run.__aexit__(*exc_info))

    def stop(self) -> None:
        self.run.stop()

    def close(self) -> None:
        self._loop.run(self.run.aclose())


class ClientBridge:
    """An ``AsyncSageMakerRuntime`` with ``SageMakerRuntime``'s sync shape.

    The aiobotocore client is created at once (``async with``'s entry), so construction
    errors surface where the sync client raises them.
    """

    def __init__(self, loop: Loop, client: AsyncSageMakerRuntime) -> None:
        self._loop = loop
        self.aio = client
        loop.run(client.__aenter__())

    @property
    def client(self) -> Any:
        return self.aio.client

    @property
    def retry(self) -> RetryPolicy:
        return self.aio.retry

    def __repr__(self) -> str:
        return repr(self.aio)

    def __enter__(self) -> ClientBridge:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        self._loop.run(self.aio.aclose())

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self.aio.invoke(*args, **kwargs))

    def invoke_async(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self.aio.invoke_async(*args, **kwargs))

    def invoke_async_upload(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self.aio.invoke_async_upload(*args, **kwargs))

    def wait_for_async_result(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self.aio.wait_for_async_result(*args, **kwargs))

    def stream(self, *args: Any, **kwargs: Any) -> StreamBridge:
        return StreamBridge(self._loop, self._loop.run(self.aio.stream(*args, **kwargs)))

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self.aio.chat(*args, **kwargs))

    def chat_stream(self, *args: Any, **kwargs: Any) -> StreamBridge:
        return StreamBridge(self._loop, self._loop.run(self.aio.chat_stream(*args, **kwargs)))

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self.aio.generate(*args, **kwargs))

    def generate_stream(self, *args: Any, **kwargs: Any) -> StreamBridge:
        stream = self._loop.run(self.aio.generate_stream(*args, **kwargs))
        return StreamBridge(self._loop, stream)

    def invoke_many(self, *args: Any, **kwargs: Any) -> RunBridge:
        return RunBridge(self._loop, self.aio.invoke_many(*args, **kwargs))


Client = Any
"""``SageMakerRuntime`` or a ``ClientBridge``: what the twin tests call."""


class Clients:
    """Makes clients of one flavour ("sync" or "async") and closes them at teardown."""

    def __init__(self, flavour: str, local: LocalRuntime) -> None:
        self.flavour = flavour
        self.is_async = flavour == "async"
        self._local = local
        self._loop = Loop() if self.is_async else None
        self._made: list[Any] = []

    @property
    def loop(self) -> Loop:
        assert self._loop is not None, "only async clients have a loop"
        return self._loop

    def _keep(self, client: Any) -> Any:
        self._made.append(client)
        return client

    def local(self, config: Config | None = None, retry: RetryPolicy | None = None) -> Client:
        """``local.client(...)`` or ``local.async_client(...)``."""
        if not self.is_async:
            return self._keep(self._local.client(config=config, retry=retry))
        aio = self._local.async_client(config=config, retry=retry)
        return self._keep(ClientBridge(self.loop, aio))

    def build(self, **options: Any) -> Client:
        """``SageMakerRuntime(**options)`` or its async twin (a boto3 ``session`` is converted)."""
        if not self.is_async:
            return self._keep(SageMakerRuntime(**options))
        session = options.pop("session", None)
        if session is not None:
            from aiobotocore.session import AioSession

            aio_session = AioSession()
            aio_session.set_config_variable("region", session.region_name)
            options["session"] = aio_session
        return self._keep(ClientBridge(self.loop, AsyncSageMakerRuntime(**options)))

    def session(self, region_name: str) -> Any:
        return boto3.session.Session(region_name=region_name)

    def close(self) -> None:
        for client in self._made:
            client.close()
        if self._loop is not None:
            self._loop.close()

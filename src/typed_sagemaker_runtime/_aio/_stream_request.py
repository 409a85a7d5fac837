"""``AsyncStreamRequest``: what the asyncio client's stream methods return.

``await smr.stream(...)`` gives the ``AsyncResponseStream``; ``async with
smr.stream(...) as stream:`` sends the request on entry and closes the stream on exit
(httpx's ``client.stream`` and aiohttp's ``session.get`` work this way). The request is
a coroutine created by the call and started only by ``await`` or ``async with``: a
request neither awaited nor entered sends nothing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Generator
from types import CodeType, CoroutineType, FrameType, TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, cast, final

from .._core._exceptions import StreamConsumedError
from .._core._public import public

if TYPE_CHECKING:
    from ._stream import AsyncResponseStream

__all__ = ["AsyncStreamRequest", "stream_request"]

_P = ParamSpec("_P")


@public
@final
class AsyncStreamRequest(Coroutine[Any, Any, "AsyncResponseStream"]):
    """A stream request of ``AsyncSageMakerRuntime``, sent by ``await`` or ``async with``.

    Returned by ``stream``, ``chat_stream`` and ``generate_stream``. Both forms work::

        async with smr.chat_stream("ep", messages) as stream:      # closed on exit
            async for token in stream.tokens():
                ...

        stream = await smr.chat_stream("ep", messages)              # the stream itself
        async with stream:
            ...

    Nothing is sent until it is awaited or entered; it is used once (a second ``await``
    or ``async with`` raises ``StreamConsumedError``). Leaving ``async with`` closes the
    stream, also when an exception leaves the block (which is never swallowed). It is a
    coroutine (``collections.abc.Coroutine``), so ``asyncio.create_task``, ``gather``
    and task groups take it as they took the coroutine these methods returned before.
    """

    __slots__ = ("_driven", "_request", "_stream", "_used")

    def __init__(self, request: Coroutine[Any, Any, AsyncResponseStream]) -> None:
        self._request = request
        self._stream: AsyncResponseStream | None = None
        self._used = False
        self._driven = False  # driven through send/throw, as a task drives a coroutine

    def __await__(self) -> Generator[Any, None, AsyncResponseStream]:
        return self._take().__await__()

    def send(self, value: Any, /) -> Any:
        """Run the request to its next suspension (what a task driving it calls)."""
        if not self._driven:
            self._claim()
            self._driven = True
        return self._request.send(value)

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None, /) -> Any:
        """Raise an exception inside the request (what a task cancelling it calls)."""
        self._used = self._driven = True
        if val is None and tb is None:
            return self._request.throw(typ)
        return self._request.throw(typ, val, tb)  # the three-argument form (deprecated)

    def close(self) -> None:
        """Close the request; if it was never started, nothing is sent."""
        self._used = True
        self._request.close()

    async def __aenter__(self) -> AsyncResponseStream:
        stream = await self._take()
        self._stream = stream
        return await stream.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.__aexit__(exc_type, exc, traceback)

    def __repr__(self) -> str:
        state = "sent" if self._used else "not sent"
        return f"<AsyncStreamRequest {state}>"

    # The request's own, for what inspects a task's coroutine (the task's repr, its
    # get_stack() and print_stack(), asyncio's debug mode) as it did before.
    @property
    def _coroutine(self) -> CoroutineType[Any, Any, AsyncResponseStream]:
        # An ``async def`` method's coroutine (what ``stream_request`` wraps).
        return cast("CoroutineType[Any, Any, AsyncResponseStream]", self._request)

    @property
    def __name__(self) -> str:  # pyright: ignore[reportIncompatibleVariableOverride]
        """The method's qualified name (``AsyncSageMakerRuntime.stream``)."""
        return self._coroutine.__qualname__

    @property
    def cr_frame(self) -> FrameType | None:
        """The request's frame while it runs or waits, else ``None``."""
        return self._coroutine.cr_frame

    @property
    def cr_code(self) -> CodeType:
        """The request's code object."""
        return self._coroutine.cr_code

    @property
    def cr_running(self) -> bool:
        """Whether the request is running now."""
        return self._coroutine.cr_running

    @property
    def cr_await(self) -> Any:
        """What the request waits on, if anything."""
        return self._coroutine.cr_await

    def __del__(self) -> None:
        if not getattr(self, "_used", True):
            self._request.close()  # never started: nothing was sent, nothing to warn about

    def _take(self) -> Coroutine[Any, Any, AsyncResponseStream]:
        self._claim()
        return self._request

    def _claim(self) -> None:
        """Mark the request used; raise ``StreamConsumedError`` if it was already."""
        if self._used:
            raise StreamConsumedError(
                "a stream request is sent once: await it or enter it with `async with`, "
                "not both, and not twice"
            )
        self._used = True


def stream_request(
    method: Callable[_P, Coroutine[Any, Any, AsyncResponseStream]],
) -> Callable[_P, AsyncStreamRequest]:
    """Make a coroutine method that opens a stream return an :class:`AsyncStreamRequest`.

    The arguments are bound at the call (a wrong call raises ``TypeError`` there); the
    coroutine's body, which validates and sends, runs when the request is awaited or
    entered.
    """

    @functools.wraps(method)
    def request(*args: _P.args, **kwargs: _P.kwargs) -> AsyncStreamRequest:
        return AsyncStreamRequest(method(*args, **kwargs))

    signature = inspect.signature(method).replace(return_annotation="AsyncStreamRequest")
    request.__signature__ = signature  # type: ignore[attr-defined]
    return request

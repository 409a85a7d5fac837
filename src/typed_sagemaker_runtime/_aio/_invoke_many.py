"""``AsyncInvokeMany``: a bulk run of InvokeEndpoint calls as tasks, as an async iterator.

The scheduling is ``_base._bulk.BulkRun``'s; this module is its I/O on one event loop.
The iterating task reads the input and decides what to send; each request is a task of
its own that appends its end to a deque and sets an event the iterating task waits on
(no ``asyncio.wait`` over every task per wake: that costs a callback per task). An
async iterable input is read by a task of its own, so a slow producer does not hold up
the answers already in.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .._base._bulk import Attempt, BulkRun
from .._base._bulk_request import RequestTemplate
from .._base._calls import rewind
from .._core._bulk_types import InvokeManyStats, InvokeOutcome
from .._core._public import public
from .._core._types import InvokeResult
from ._errors import map_aio_exception

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from .._base._limiter import Limiter
    from .._core._retry import RetryPolicy

__all__ = ["AsyncInvokeMany"]

_Done = tuple[Attempt, "InvokeResult | None", "BaseException | None", float]
Send = Callable[[dict[str, Any], int, str, "str | None"], Awaitable[InvokeResult]]
"""One attempt: (params, retries so far, endpoint name, inference component) -> result."""
Start = Callable[[], Awaitable["float | None"]]
"""Make the client ready; return its read timeout."""


@public
class AsyncInvokeMany:
    """The outcomes of a bulk run, as they come: an async iterator and async context manager.

    Returned by :meth:`AsyncSageMakerRuntime.invoke_many` (no ``await``); nothing is
    read or sent before the first ``__anext__``. Leaving the ``async with`` block or
    :meth:`aclose` cancels what is in flight and leaves no task behind.
    """

    def __init__(
        self,
        start: Start,
        send: Send,
        endpoint_name: str,
        template: RequestTemplate,
        records: Iterable[object] | AsyncIterable[object],
        *,
        limiter: Limiter,
        policy: RetryPolicy,
        ordered: bool,
        window: int,
        component: str | None = None,
    ) -> None:
        self._start = start
        self._send = send
        self._endpoint_name = endpoint_name
        self._component = component
        self._template = template
        self._records = records
        self._limiter = limiter
        self._policy = policy
        self._ordered = ordered
        self._window = window
        self._run: BulkRun | None = None
        self._input: Iterator[object] | AsyncIterator[object] | None = None
        self._reading: asyncio.Task[object] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: deque[_Done] = deque()
        self._wake: asyncio.Event | None = None
        self._stop_requested = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<AsyncInvokeMany endpoint={self._endpoint_name!r}>"

    @property
    def stats(self) -> InvokeManyStats:
        """A snapshot of the run: records completed and failed, throttles, retries, rate."""
        if self._run is None:
            limiter = self._limiter
            return InvokeManyStats(0, 0, 0, 0, limiter.in_flight, limiter.limit, 0.0)
        return self._run.stats(time.monotonic())

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> InvokeOutcome:
        run = self._run
        if run is None:
            if self._closed:
                raise StopAsyncIteration
            read_timeout = await self._start()
            run = self._run = BulkRun(
                self._limiter,
                ordered=self._ordered,
                window=self._window,
                policy=self._policy,
                read_timeout=read_timeout,
                mapper=map_aio_exception,
            )
            self._wake = asyncio.Event()
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._stop_requested:
                run.stop()
                self._cancel_reading()
            fatal = run.fatal
            if fatal is not None:
                await self.aclose()
                raise fatal.error from fatal.cause
            now = time.monotonic()
            self._read_and_send(run, now)
            outcome = run.pop(now)
            if outcome is not None:
                return outcome
            if run.finished() and self._reading is None:
                await self.aclose()
                error = run.take_input_error()
                if error is not None and not self._stop_requested:
                    raise error
                raise StopAsyncIteration
            await self._wait(run.next_due())

    def _read_and_send(self, run: BulkRun, now: float) -> None:
        if run.reading and self._input is None:
            records = self._records
            self._input = aiter(records) if isinstance(records, AsyncIterable) else iter(records)
        build = self._template.params
        while run.wants_input():
            record = self._next_record(run)
            if record is _PENDING:
                break
            run.add(record, build)
        sending = run.to_send(now)
        wake = self._wake
        assert wake is not None
        for attempt in sending:
            # Not a method: a task must not keep a dropped run alive (its __del__ cancels them).
            task = asyncio.create_task(
                _attempt(
                    self._send, attempt, self._endpoint_name, self._component, self._done, wake
                )
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _next_record(self, run: BulkRun) -> object:
        """The next record, or ``_PENDING`` while an async input has none ready yet."""
        records = self._input
        if isinstance(records, AsyncIterator):
            reading = self._reading
            if reading is None:
                reading = self._reading = asyncio.ensure_future(anext(records))
                wake = self._wake
                assert wake is not None
                reading.add_done_callback(lambda _: wake.set())
            if not reading.done():
                return _PENDING
            self._reading = None
            error = reading.exception()
            if error is None:
                return reading.result()
            run.end_input(None if isinstance(error, StopAsyncIteration) else error)
            return _PENDING
        assert records is not None
        try:
            return next(records)
        except StopIteration:
            run.end_input()
        except Exception as exc:
            run.end_input(exc)
        return _PENDING

    def _woken(self, _: object) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _wait(self, due: float | None) -> None:
        """Wait for an attempt to end, a record to be read, or the next retry to be due."""
        wake = self._wake
        assert wake is not None
        assert self._run is not None
        if not self._done:
            wake.clear()
            if due is None:
                await wake.wait()
            else:
                timer = asyncio.get_running_loop().call_at(due, wake.set)
                try:
                    await wake.wait()
                finally:
                    timer.cancel()
        run = self._run
        done = self._done
        while done:
            attempt, result, exc, ended_at = done.popleft()
            if result is not None:
                run.succeeded(attempt, result, ended_at)
            else:
                assert exc is not None
                run.failed(attempt, exc, ended_at)

    def stop(self) -> None:
        """Read and send nothing more; the loop then yields what was in flight and ends.

        In input order, the outcomes yielded stop at the first record that will not be.
        """
        self._stop_requested = True
        self._woken(None)

    async def aclose(self) -> None:
        """Cancel what is in flight and end the run; idempotent. No task is left behind."""
        if self._closed:
            return
        self._closed = True
        if self._run is not None:
            self._run.abandon(time.monotonic())
        self._woken(None)  # an iteration waiting in another task stops
        await self._shut_down()

    def _cancel_reading(self) -> None:
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.cancel()

    async def _shut_down(self) -> None:
        self._cancel_reading()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        tasks: list[asyncio.Future[Any]] = list(getattr(self, "_tasks", ()))
        reading = getattr(self, "_reading", None)
        if reading is not None:
            tasks.append(reading)
        for task in tasks:
            if not task.done() and not task.get_loop().is_closed():
                task.cancel()


async def _attempt(
    send: Send,
    attempt: Attempt,
    endpoint_name: str,
    component: str | None,
    done: deque[_Done],
    wake: asyncio.Event,
) -> None:
    """Make one attempt and post how it ended."""
    try:
        if attempt.number > 1:
            rewind(attempt.params["Body"], attempt.start)
        result = await send(attempt.params, attempt.number - 1, endpoint_name, component)
    except Exception as exc:
        done.append((attempt, None, exc, time.monotonic()))
    else:
        done.append((attempt, result, None, time.monotonic()))
    wake.set()


_PENDING: Any = object()

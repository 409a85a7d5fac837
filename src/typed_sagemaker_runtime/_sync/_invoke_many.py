"""``InvokeMany``: a bulk run of InvokeEndpoint calls on threads, as an iterator.

The scheduling is ``_base._bulk.BulkRun``'s; this module is its I/O. The caller's thread
reads the input and decides what to send (so a generator is only ever advanced by the
thread iterating the run, and nothing is read or sent between two ``next()`` calls);
the requests run on a ``ThreadPoolExecutor`` that grows to the in-flight limit, and
each worker posts its attempt's end to a ``SimpleQueue`` the caller's thread waits on.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .._base._bulk import Attempt, BulkRun
from .._base._bulk_request import RequestTemplate
from .._base._calls import rewind
from .._core._bulk_types import InvokeManyStats, InvokeOutcome
from .._core._public import public
from .._core._types import InvokeResult

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from .._base._limiter import Limiter
    from .._core._retry import RetryPolicy

__all__ = ["InvokeMany"]

_Done = tuple[Attempt, "InvokeResult | None", "BaseException | None", float]
Send = Callable[[dict[str, Any], int, str, "str | None"], InvokeResult]
"""One attempt: (params, retries so far, endpoint name, inference component) -> result."""


@public
class InvokeMany:
    """The outcomes of a bulk run, as they come: an iterator and a context manager.

    Returned by :meth:`SageMakerRuntime.invoke_many`; nothing is read or sent before the
    first ``next()``. Leaving the ``with`` block, :meth:`close`, or dropping the object
    stops the run and lets its threads end.
    """

    def __init__(
        self,
        send: Send,
        endpoint_name: str,
        template: RequestTemplate,
        records: Iterable[object],
        *,
        limiter: Limiter,
        policy: RetryPolicy,
        read_timeout: float | None,
        ordered: bool,
        window: int,
        threads: int,
        component: str | None = None,
    ) -> None:
        self._send = send
        self._endpoint_name = endpoint_name
        self._component = component
        self._template = template
        self._records = records
        self._input: Iterator[object] | None = None
        self._run = BulkRun(
            limiter, ordered=ordered, window=window, policy=policy, read_timeout=read_timeout
        )
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._done: queue.SimpleQueue[_Done | None] = queue.SimpleQueue()
        self._stop_requested = False
        self._closed = False
        # The run is the iterating thread's; close() from another thread takes it too.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<InvokeMany endpoint={self._endpoint_name!r}>"

    @property
    def stats(self) -> InvokeManyStats:
        """A snapshot of the run: records completed and failed, throttles, retries, rate."""
        return self._run.stats(time.monotonic())

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> InvokeOutcome:
        while True:
            with self._lock:
                outcome, due = self._advance()
            if outcome is not None:
                return outcome
            self._wait(due)

    def _advance(self) -> tuple[InvokeOutcome | None, float | None]:
        """Read, send and pop what can be now; else say until when to wait."""
        run = self._run
        if self._closed:
            raise StopIteration
        if self._stop_requested:
            run.stop()
        fatal = run.fatal
        if fatal is not None:
            self.close()
            raise fatal.error from fatal.cause
        now = time.monotonic()
        self._read_and_send(now)
        outcome = run.pop(now)
        if outcome is not None:
            return outcome, None
        if run.finished():
            self.close()
            error = run.take_input_error()
            if error is not None and not self._stop_requested:
                raise error
            raise StopIteration
        return None, run.next_due()

    def _read_and_send(self, now: float) -> None:
        run = self._run
        if run.reading and self._input is None:
            self._input = iter(self._records)
        build = self._template.params
        records = self._input
        while records is not None and run.wants_input():
            try:
                record = next(records)
            except StopIteration:
                run.end_input()
                break
            except Exception as exc:
                run.end_input(exc)
                break
            run.add(record, build)
        sending = run.to_send(now)
        if not sending:
            return
        executor = self._executor
        if executor is None:
            executor = self._executor = ThreadPoolExecutor(
                self._threads, thread_name_prefix="smr-invoke-many"
            )
        for attempt in sending:
            executor.submit(
                _attempt, self._send, attempt, self._endpoint_name, self._component, self._done
            )

    def _wait(self, due: float | None) -> None:
        """Wait for an attempt to end, or for the next retry to be due."""
        timeout = None if due is None else max(0.0, due - time.monotonic())
        try:
            item = self._done.get(timeout=timeout)
        except queue.Empty:
            return
        while item is not None:
            with self._lock:
                if self._closed:
                    return
                self._take(item)
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                return

    def _take(self, item: _Done) -> None:
        attempt, result, exc, ended_at = item
        if result is not None:
            self._run.succeeded(attempt, result, ended_at)
        else:
            assert exc is not None
            self._run.failed(attempt, exc, ended_at)

    def stop(self) -> None:
        """Read and send nothing more; the loop then yields what was in flight and ends.

        In input order, the outcomes yielded stop at the first record that will not be.
        Safe to call from a signal handler (it only sets a flag and wakes the loop).
        """
        self._stop_requested = True
        self._done.put(None)

    def close(self) -> None:
        """Stop the run and wait for the requests in flight to end; idempotent.

        Their outcomes are discarded. No thread of the run is left afterwards. Safe to
        call from another thread while one iterates: that one then stops iterating.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._run.abandon(time.monotonic())
        self._done.put(None)  # wakes an iteration waiting in another thread
        self._shut_down(wait=True)

    def _shut_down(self, *, wait: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _attempt(
    send: Send,
    attempt: Attempt,
    endpoint_name: str,
    component: str | None,
    done: queue.SimpleQueue[_Done | None],
) -> None:
    """Make one attempt on a worker thread and post how it ended."""
    try:
        if attempt.number > 1:
            rewind(attempt.params["Body"], attempt.start)
        result = send(attempt.params, attempt.number - 1, endpoint_name, component)
    except BaseException as exc:
        done.put((attempt, None, exc, time.monotonic()))
    else:
        done.put((attempt, result, None, time.monotonic()))

"""The scheduler of a bulk run, sans-I/O: shared by ``InvokeMany`` and ``AsyncInvokeMany``.

A ``BulkRun`` decides what to read, what to send, what to retry and when, and what to
yield; the runners only move records between it and the I/O (threads, or tasks), passing
the time in. Its rules:

- Input is read only when a request could be sent at once (the limiter has room) and
  fewer than ``window`` records are held (read and not yet yielded): memory is bounded
  by the window, not by the input.
- A failed attempt goes through the client's :class:`RetryPolicy`; a retry waits its
  backoff without holding a place in flight, and is sent before new records.
- Throttling, 503 and ``ModelNotReadyError`` tell the limiter the endpoint is
  overloaded. An error that would fail every record (endpoint not found, access
  denied, no credentials) ends the run; any other error is the record's own.
- ``ordered``: outcomes are yielded in input order, else as they complete.
- ``stop()``: nothing more is read or sent (retries included); what is in flight still
  completes and is yielded (in order: up to the first record that will not be).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from .._core._bulk_types import InvokeManyStats, InvokeOutcome
from .._core._errors import map_exception
from .._core._exceptions import (
    AccessDeniedError,
    ClientValidationError,
    CredentialsError,
    EndpointNotFoundError,
    ModelNotReadyError,
    SageMakerRuntimeError,
    ServiceUnavailableError,
    ThrottlingError,
    TransportError,
)
from .._core._retry import RetryPolicy
from .._core._types import InvokeResult
from ._calls import Mapper, after_failure, body_position
from ._limiter import Limiter, Sample, Signal

__all__ = ["Attempt", "BulkRun", "Fatal"]

_OVERLOAD = (ThrottlingError, ServiceUnavailableError, ModelNotReadyError)
_FATAL = (EndpointNotFoundError, AccessDeniedError, CredentialsError)
_RATE_SPAN = 5.0
"""Seconds of history behind ``records_per_second``."""


class Attempt:
    """One request to send: a record's parameters and which attempt this is."""

    __slots__ = ("index", "number", "params", "sample", "start")

    def __init__(self, index: int, params: dict[str, Any]) -> None:
        self.index = index
        self.params = params
        self.number = 1
        self.start = body_position(params["Body"])
        self.sample: Sample | None = None


class Fatal:
    """An error that ends the run, and the exception it was mapped from (for chaining)."""

    __slots__ = ("cause", "error")

    def __init__(self, error: BaseException, cause: BaseException | None) -> None:
        self.error = error
        self.cause = cause


class BulkRun:
    """What a bulk run reads, sends, retries and yields; see the module docstring."""

    def __init__(
        self,
        limiter: Limiter,
        *,
        ordered: bool,
        window: int,
        policy: RetryPolicy,
        read_timeout: float | None,
        mapper: Mapper = map_exception,
    ) -> None:
        self._limiter = limiter
        self._ordered = ordered
        self._window = window
        self._policy = policy
        self._read_timeout = read_timeout
        self._mapper = mapper
        self._read = 0
        self._yielded = 0
        self._dropped = 0
        self._input_ended = False
        self._input_error: BaseException | None = None
        self._stopped = False
        self.fatal: Fatal | None = None
        self._ready: deque[Attempt] = deque()
        self._waiting: list[tuple[float, int, Attempt]] = []  # heap of retries by due time
        self._in_flight: set[Attempt] = set()
        self._done_in_order: dict[int, InvokeOutcome] = {}
        self._done: deque[InvokeOutcome] = deque()
        self._next_index = 0
        self._completed = 0
        self._failed = 0
        self._throttled = 0
        self._retried = 0
        self._rate_marks: deque[tuple[float, int]] = deque()

    # -- input ---------------------------------------------------------------------------

    def wants_input(self) -> bool:
        """Whether to read another record now."""
        if self._input_ended or self._stopped or self.fatal is not None:
            return False
        held = self._read - self._yielded - self._dropped
        return held < self._window and len(self._ready) < self._limiter.available()

    def add(self, record: object, build: Callable[[int, object], dict[str, Any]]) -> None:
        """Take the next record: ``build(index, record)`` makes its parameters, or raises."""
        index = self._read
        self._read += 1
        try:
            params = build(index, record)
        except ClientValidationError as exc:
            self._finish(InvokeOutcome(index, None, exc))
            return
        self._ready.append(Attempt(index, params))

    def end_input(self, error: BaseException | None = None) -> None:
        """The input is exhausted, or raised ``error`` (raised once what was read is yielded)."""
        self._input_ended = True
        self._input_error = error

    @property
    def reading(self) -> bool:
        """Whether more input may still be read."""
        return not (self._input_ended or self._stopped or self.fatal is not None)

    # -- sending -------------------------------------------------------------------------

    def to_send(self, now: float) -> list[Attempt]:
        """The attempts to send now, each counted in flight."""
        if self._stopped or self.fatal is not None:
            return []
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            self._ready.appendleft(heapq.heappop(waiting)[2])
        sending: list[Attempt] = []
        ready = self._ready
        limiter = self._limiter
        while ready and limiter.available() > 0:
            attempt = ready.popleft()
            attempt.sample = limiter.on_send(now)
            self._in_flight.add(attempt)
            sending.append(attempt)
        return sending

    def next_due(self) -> float | None:
        """When the earliest waiting retry is due, if any may still be sent."""
        if self._waiting and not self._stopped:
            return self._waiting[0][0]
        return None

    # -- completion ----------------------------------------------------------------------

    def succeeded(self, attempt: Attempt, result: InvokeResult, now: float) -> None:
        """``attempt`` was answered with ``result``."""
        self._release(attempt, now, "ok")
        self._finish(InvokeOutcome(attempt.index, result, None))

    def failed(self, attempt: Attempt, exc: BaseException, now: float) -> None:
        """``attempt`` raised ``exc``: retry it, yield its error, or end the run."""
        failure = after_failure(
            exc,
            operation="InvokeEndpoint",
            policy=self._policy,
            attempt=attempt.number,
            read_timeout=self._read_timeout,
            body=attempt.params["Body"],
            start=attempt.start,
            mapper=self._mapper,
        )
        error = failure.error
        if error is None and isinstance(exc, Exception) and _is_file(attempt.params["Body"]):
            error = _unreadable(attempt.index, exc)
        if error is None:  # not an error of a call: a bug, or the runner being torn down
            self._release(attempt, now, "dropped")
            self.fatal = Fatal(exc, None)
            return
        self._release(attempt, now, _signal(error))
        if isinstance(error, _OVERLOAD):
            self._throttled += 1
        if isinstance(error, _FATAL):
            self.fatal = Fatal(error, None if error is exc else exc)
        elif failure.delay is None:
            self._finish(InvokeOutcome(attempt.index, None, _chained(error, exc)))
        elif self._stopped:
            self._dropped += 1
        else:
            self._retried += 1
            attempt.number += 1
            heapq.heappush(self._waiting, (now + failure.delay, attempt.index, attempt))

    def _release(self, attempt: Attempt, now: float, signal: Signal) -> None:
        self._in_flight.discard(attempt)
        if attempt.sample is not None:
            self._limiter.on_done(attempt.sample, now, signal)
            attempt.sample = None

    def _finish(self, outcome: InvokeOutcome) -> None:
        if self._ordered:
            self._done_in_order[outcome.index] = outcome
        else:
            self._done.append(outcome)

    # -- output --------------------------------------------------------------------------

    def pop(self, now: float) -> InvokeOutcome | None:
        """The next outcome to yield, if one is ready."""
        if self._ordered:
            outcome = self._done_in_order.pop(self._next_index, None)
            if outcome is None:
                return None
            self._next_index += 1
        elif self._done:
            outcome = self._done.popleft()
        else:
            return None
        self._yielded += 1
        if outcome.error is None:
            self._completed += 1
        else:
            self._failed += 1
        self._mark_rate(now)
        return outcome

    def finished(self) -> bool:
        """Whether nothing more will be yielded (check ``fatal`` and ``input_error`` first)."""
        if self._in_flight:
            return False
        if self._stopped:
            return True  # what is held but not yieldable in order is dropped
        return (
            self._input_ended
            and not self._ready
            and not self._waiting
            and self._read == self._yielded
        )

    def take_input_error(self) -> BaseException | None:
        """What the input raised (once), to raise when everything read before it is yielded."""
        error, self._input_error = self._input_error, None
        return error

    def stop(self) -> None:
        """Read and send nothing more; what is in flight is still yielded."""
        self._stopped = True
        self._dropped += len(self._ready) + len(self._waiting)
        self._ready.clear()
        self._waiting.clear()

    def in_flight(self) -> list[Attempt]:
        """The attempts sent and not yet answered."""
        return list(self._in_flight)

    def abandon(self, now: float) -> None:
        """Forget what is in flight (the run is being closed): the limiter gets its places back."""
        self.stop()
        for attempt in list(self._in_flight):
            self._release(attempt, now, "dropped")

    # -- stats ---------------------------------------------------------------------------

    def _mark_rate(self, now: float) -> None:
        marks = self._rate_marks
        if not marks or now - marks[-1][0] >= 0.25:
            marks.append((now, self._yielded))
            while len(marks) > 2 and now - marks[1][0] >= _RATE_SPAN:
                marks.popleft()

    def stats(self, now: float) -> InvokeManyStats:
        """A snapshot of the run's counters."""
        marks = self._rate_marks
        rate = 0.0
        if marks:
            since, count = marks[0]
            if now - since > 0:
                rate = (self._yielded - count) / (now - since)
        return InvokeManyStats(
            completed=self._completed,
            failed=self._failed,
            throttled=self._throttled,
            retried=self._retried,
            in_flight=self._limiter.in_flight,
            concurrency=self._limiter.limit,
            records_per_second=rate,
        )


def _signal(error: SageMakerRuntimeError) -> Signal:
    if isinstance(error, _OVERLOAD):
        return "overload"
    if isinstance(error, TransportError):
        return "dropped"
    return "ok"


def _is_file(body: object) -> bool:
    return callable(getattr(body, "read", None))


def _unreadable(index: int, exc: Exception) -> ClientValidationError:
    """A file body failed while it was sent (botocore does not wrap what its read() raises)."""
    field = f"bodies[{index}]"
    error = ClientValidationError(
        f"{field}: the file could not be read while it was sent ({type(exc).__name__})",
        field=field,
        operation="InvokeEndpoint",
    )
    error.__cause__ = exc
    return error


def _chained(error: SageMakerRuntimeError, exc: BaseException) -> SageMakerRuntimeError:
    if error is not exc and error.__cause__ is None:
        error.__cause__ = exc
    return error

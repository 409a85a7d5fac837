"""What bulk invocation (``invoke_many``) yields: ``InvokeOutcome``, ``InvokeManyStats``."""

from __future__ import annotations

from dataclasses import dataclass

from ._exceptions import SageMakerRuntimeError
from ._public import public
from ._types import InvokeResult

__all__ = ["InvokeManyStats", "InvokeOutcome"]


@public
@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """One input record's outcome: its ``result`` or its ``error``, exactly one of the two.

    The repr names the record and the error's class, never a body.
    """

    index: int
    """The record's position in the input, from 0."""
    result: InvokeResult | None
    """The response, when the endpoint answered the record successfully."""
    error: SageMakerRuntimeError | None
    """The record's own failure (e.g. :class:`ModelError`), once retries gave up."""

    def __repr__(self) -> str:
        if self.error is not None:
            return f"InvokeOutcome(index={self.index}, error={type(self.error).__name__})"
        return f"InvokeOutcome(index={self.index}, result=<InvokeResult>)"


@public
@dataclass(frozen=True, slots=True)
class InvokeManyStats:
    """A snapshot of a bulk run: what a progress bar shows."""

    completed: int
    """Records yielded with a result."""
    failed: int
    """Records yielded with an error."""
    throttled: int
    """Attempts the endpoint refused as overloaded: throttling, 503 or ``ModelNotReadyError``."""
    retried: int
    """Attempts made again after a retryable failure."""
    in_flight: int
    """Requests sent and not yet answered."""
    concurrency: int
    """The current limit of requests in flight."""
    records_per_second: float
    """Records yielded per second over the last few seconds."""

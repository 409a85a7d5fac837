"""The retry policy, sans-I/O: which failures to retry and how long to wait.

The facade retries instead of botocore, because botocore's default retries read
timeouts (so one slow inference can run three times) and does not retry
ModelNotReadyException on InvokeEndpoint. Clients built by the facade have
botocore's retries switched off.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._exceptions import (
    ModelNotReadyError,
    SageMakerRuntimeError,
    ServiceError,
    TimeoutError,
)

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how the client retries a failed call.

    By default only failures that were provably not processed, or that SageMaker
    reports as transient, are retried: connection failures before the request was
    sent, throttling, ``ModelNotReadyError``, ``InternalFailureError`` (500) and
    ``ServiceUnavailableError`` (503). Read timeouts are not retried: the model may
    still be running. Failures in the middle of a stream are never retried.
    """

    max_attempts: int = 3
    """Attempts in total, the first one included; 1 disables retries."""
    initial_backoff: float = 0.5
    """Upper bound of the first wait in seconds; it doubles on each retry (full jitter)."""
    max_backoff: float = 20.0
    """Upper bound of any single wait in seconds."""
    retry_model_not_ready: bool = True
    """Retry ``ModelNotReadyError`` (a multi-model endpoint still loading the model)."""
    retry_read_timeouts: bool = False
    """Retry read timeouts too. Only for idempotent models: the first attempt may still run."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff times must not be negative")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    @classmethod
    def from_botocore_retries(cls, retries: Mapping[str, Any] | None) -> RetryPolicy:
        """Honour the attempt count of a botocore ``Config(retries=...)`` dict."""
        if not retries:
            return cls()
        if "total_max_attempts" in retries:
            return cls(max_attempts=max(1, int(retries["total_max_attempts"])))
        if "max_attempts" in retries:
            # botocore counts retries here, not attempts.
            return cls(max_attempts=max(1, int(retries["max_attempts"]) + 1))
        return cls()

    def should_retry(self, error: SageMakerRuntimeError, attempt: int) -> bool:
        """Whether to make another attempt after ``error`` ended attempt number ``attempt``."""
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, ModelNotReadyError):
            return self.retry_model_not_ready
        if isinstance(error, TimeoutError) and not error.retryable:
            return self.retry_read_timeouts
        return error.retryable

    def backoff(self, error: SageMakerRuntimeError, attempt: int) -> float:
        """Seconds to wait before the next attempt, honouring a ``Retry-After`` header."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        delay = random.uniform(0, ceiling)
        if isinstance(error, ServiceError):
            retry_after = _retry_after(error.response)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.max_backoff))
        return delay


def _retry_after(response: Mapping[str, Any]) -> float | None:
    metadata: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    headers: Mapping[str, Any] = metadata.get("HTTPHeaders") or {}
    value: object = headers.get("retry-after")
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        return None

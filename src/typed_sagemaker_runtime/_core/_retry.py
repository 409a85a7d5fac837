"""The retry policy, sans-I/O: which failures to retry and how long to wait.

The facade retries instead of botocore, because botocore's default retries read
timeouts (so one slow inference can run three times) and does not retry
ModelNotReadyException on InvokeEndpoint. Clients built by the facade have
botocore's retries switched off.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from ._exceptions import (
    ClientValidationError,
    ModelNotReadyError,
    SageMakerRuntimeError,
    ServiceError,
    TimeoutError,
)
from ._public import public

__all__ = ["RetryPolicy"]

MAX_WAIT = 86_400.0
"""The longest ``initial_backoff`` or ``max_backoff`` accepted, in seconds (one day)."""


@public
@dataclass(frozen=True)
class RetryPolicy:
    """When and how the client retries a failed call.

    By default only failures that were provably not processed, or that SageMaker
    reports as transient, are retried: connection failures before the request was
    sent, throttling, ``ModelNotReadyError``, ``InternalFailureError`` (500) and
    ``ServiceUnavailableError`` (503). Read timeouts are not retried: the model may
    still be running. Failures in the middle of a stream are never retried.

    Settings out of range (``max_attempts`` below 1, waits negative, NaN or over a day)
    raise :class:`ClientValidationError` naming the setting.
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
        if not _is_count(self.max_attempts) or self.max_attempts < 1:
            raise ClientValidationError(
                f"max_attempts: must be an int of at least 1, got {self.max_attempts!r}",
                field="max_attempts",
            )
        for name in ("initial_backoff", "max_backoff"):
            seconds: object = getattr(self, name)
            if not _is_number(seconds) or not 0 <= seconds <= MAX_WAIT:  # also rejects NaN
                raise ClientValidationError(
                    f"{name}: must be a number of seconds from 0 to {MAX_WAIT:,.0f}, "
                    f"got {seconds!r}",
                    field=name,
                )

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
            return cls(max_attempts=max(1, _count(retries, "total_max_attempts")))
        if "max_attempts" in retries:
            # botocore counts retries here, not attempts.
            return cls(max_attempts=max(1, _count(retries, "max_attempts") + 1))
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

    def backoff_ceiling(self, attempt: int) -> float:
        """The upper bound of the wait after attempt number ``attempt``.

        ``min(max_backoff, initial_backoff * 2 ** (attempt - 1))``, for any ``attempt``:
        the exponent stops growing once the product passes ``max_backoff``, so it never
        overflows a float.
        """
        # initial < 2**initial_exp and max < 2**max_exp: more doublings change nothing.
        _, initial_exp = math.frexp(self.initial_backoff)
        _, max_exp = math.frexp(self.max_backoff)
        doublings = max(0, min(attempt - 1, max_exp - initial_exp + 1))
        return min(self.max_backoff, math.ldexp(self.initial_backoff, doublings))

    def backoff(self, error: SageMakerRuntimeError, attempt: int) -> float:
        """Seconds to wait before the next attempt, honouring a ``Retry-After`` header.

        A random wait up to :meth:`backoff_ceiling` (full jitter), or the server's
        ``Retry-After`` when longer; never more than ``max_backoff``.
        """
        delay = random.uniform(0, self.backoff_ceiling(attempt))
        if isinstance(error, ServiceError):
            retry_after = _retry_after(error.response)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.max_backoff))
        return delay


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(retries: Mapping[str, Any], key: str) -> int:
    value: object = retries[key]
    # An int is whole however large (math.isfinite would overflow converting it).
    if _is_count(value):
        return value
    if not isinstance(value, float) or not value.is_integer():
        raise ClientValidationError(
            f"config: retries[{key!r}] must be a whole number, got {value!r}", field="config"
        )
    return int(value)


def _retry_after(response: Mapping[str, Any]) -> float | None:
    metadata: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    headers: Mapping[str, Any] = metadata.get("HTTPHeaders") or {}
    value: object = headers.get("retry-after")
    if not isinstance(value, str):
        return None
    try:
        seconds = float(value)
    except ValueError:  # an HTTP date: not worth parsing for a retry
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None

"""Concurrency limiters, sans-I/O (placeholder: the adaptive one is being designed).

Not thread-safe: the runners call a limiter from one thread or one event loop.
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["AdaptiveLimiter", "FixedLimiter", "Limiter", "Sample", "Signal"]

Signal = Literal["ok", "overload", "dropped"]
"""How a request ended: answered, refused as overloaded, or no information."""


class Sample:
    """One request in flight: when it was sent."""

    __slots__ = ("done", "sent_at")

    def __init__(self, sent_at: float) -> None:
        self.sent_at: float = sent_at
        self.done: bool = False


class Limiter(Protocol):
    """How many requests may be in flight."""

    @property
    def limit(self) -> int:
        """Requests allowed in flight now, at least 1."""
        ...

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet done."""
        ...

    def available(self) -> int:
        """How many more requests may be sent now."""
        ...

    def on_send(self, now: float) -> Sample:
        """A request leaves at ``now``."""
        ...

    def on_done(self, sample: Sample, now: float, signal: Signal) -> None:
        """The request of ``sample`` ended at ``now``, as ``signal`` says."""
        ...


class FixedLimiter:
    """A fixed limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._in_flight = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def available(self) -> int:
        return max(0, self._limit - self._in_flight)

    def on_send(self, now: float) -> Sample:
        self._in_flight += 1
        return Sample(now)

    def on_done(self, sample: Sample, now: float, signal: Signal) -> None:  # noqa: ARG002
        if not sample.done:
            sample.done = True
            self._in_flight -= 1


class AdaptiveLimiter(FixedLimiter):
    """Additive increase, multiplicative decrease (placeholder)."""

    def __init__(self, *, maximum: int = 64, initial: int = 4) -> None:
        super().__init__(min(initial, maximum))
        self._maximum = maximum
        self._estimate = float(self._limit)

    def on_done(self, sample: Sample, now: float, signal: Signal) -> None:
        if sample.done:
            return
        super().on_done(sample, now, signal)
        if signal == "overload":
            self._estimate = max(1.0, self._estimate * 0.9)
        elif signal == "ok" and self._in_flight + 1 >= self._limit:
            self._estimate = min(float(self._maximum), self._estimate + 1.0 / self._estimate)
        self._limit = int(self._estimate)

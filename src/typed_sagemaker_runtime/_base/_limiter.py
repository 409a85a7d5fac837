"""How many requests a bulk run keeps in flight: a fixed limit, or one that adapts (sans-I/O).

``AdaptiveLimiter`` follows TCP's congestion control, as Netflix's concurrency-limits carried it
over to request concurrency, with the parts chosen for an endpoint that throttles:

- An explicit throttle (ThrottlingError, 503, ModelNotReadyError) is packet loss. The first
  one since the limit last grew sets the limit, and a remembered ceiling, to one below the
  in-flight count the refused request found. Throttles that persist after that halve the limit
  (AIMD's multiplicative decrease) and keep the ceiling. A refusal with nothing else in flight
  (not ready) drops the limit to 1. Throttles of requests sent before a decrease are already
  paid for: one decrease per round trip. One throttle at the ceiling, with no probe running,
  lowers the limit and keeps the ceiling, because over HTTP the endpoint may free a slot a
  moment after the client counts it free. A second one before a clean measurement lowers the
  ceiling too.
- The ceiling is CUBIC's ``W_max``, which botocore's adaptive mode keeps for a request
  *rate* (a token bucket that knows neither the requests in flight nor their latency). Below
  the ceiling the limit grows as in slow start, doubling each round trip. At the ceiling it
  holds, then probes one step above. The wait before a probe is counted in answers, 8 to a
  unit: 2 units at first, twice as many after each probe a throttle ends, up to 32 units
  (256 answers). A steady endpoint therefore throttles well under 2% of attempts (0.1-0.9% in
  ``tests/test_limiter.py``'s simulations). A probe that pays doubles the next step. The limit
  settles at a fallen capacity within a round trip, and at a grown one within 256 answers plus a
  few probes.
- Latency counts only through throughput, by Little's law: throughput = in flight / latency.
  A higher level is kept only if it raised throughput by at least half the share it raised the
  concurrency. If latency rose and throughput did not, requests are queueing, and the limit goes
  back without a throttle. Slow start's doublings are judged each round trip. A probe's small
  step is judged over at least 32 answers, so latency noise does not decide it. Vegas and
  Gradient2 compare latency with the least seen, so they also stop on a batching endpoint whose
  latency grows with load while its throughput still grows. BBR's ``max rate x min RTT`` fails
  the same way.
- As in concurrency-limits, the limit does not grow while the caller keeps fewer than half of
  it in flight (app-limited: a slow consumer).

Every call is O(1) and reads no clock: ``now`` is passed in (``time.monotonic()``). The limiter
is not thread-safe; its caller serialises the calls (a lock, or one event loop). ``on_done``
for a ``Sample`` already done is ignored, so releasing twice never corrupts ``in_flight``.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

from .._core._exceptions import ClientValidationError

__all__ = ["AdaptiveLimiter", "FixedLimiter", "Limiter", "Sample", "Signal"]

Signal = Literal["ok", "overload", "dropped"]
"""How a request ended: ``"ok"`` the endpoint answered (its latency means something),
``"overload"`` throttled or not ready (lower the limit), ``"dropped"`` no information."""

_GAIN_SHARE = 0.5  # a higher concurrency must add this share of its proportional throughput
_JUDGE_ANSWERS = 32  # once a ceiling is known, throughput is measured over this many answers
_PROBE_WAIT_UNIT = 8  # answers; the wait before a probe is counted in these
_FIRST_PROBE_WAIT = 2
_LONGEST_PROBE_WAIT = 32
_PROBE_PATIENCE = 3  # measurements that may miss a probe's load before it is given up


def _check_limit(name: str, value: int) -> None:
    if type(value) is not int or value < 1:
        raise ClientValidationError(f"{name} must be an integer >= 1, got {value!r}", field=name)


class Sample:
    """The ticket of one request, from ``on_send`` to ``on_done``; only its limiter reads it."""

    __slots__ = ("done", "in_flight", "sent", "seq")

    def __init__(self, sent: float, seq: int, in_flight: int) -> None:
        self.sent: float = sent
        """When the request left (the ``now`` given to ``on_send``)."""
        self.seq: int = seq
        """How many requests the limiter had sent, this one included."""
        self.in_flight: int = in_flight
        """Requests in flight once this one left, this one included."""
        self.done: bool = False
        """Whether ``on_done`` has been called for it."""


class Limiter(Protocol):
    """What a bulk run asks of its limiter."""

    @property
    def limit(self) -> int:
        """Requests allowed in flight now, at least 1."""
        ...

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet done."""
        ...

    def available(self) -> int:
        """How many more requests may be sent now: ``max(0, limit - in_flight)``."""
        ...

    def on_send(self, now: float) -> Sample:
        """Count one request leaving at ``now``; pass its ``Sample`` to ``on_done``."""
        ...

    def on_done(self, sample: Sample, now: float, signal: Signal) -> None:
        """Count the request of ``sample`` as ended at ``now`` with ``signal``."""
        ...


class FixedLimiter:
    """A limit that never moves."""

    __slots__ = ("_in_flight", "_limit", "_seq")

    def __init__(self, limit: int) -> None:
        _check_limit("concurrency", limit)
        self._limit = limit
        self._in_flight = 0
        self._seq = 0

    @property
    def limit(self) -> int:
        """The fixed limit."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet done."""
        return self._in_flight

    def available(self) -> int:
        """How many more requests may be sent now."""
        return max(0, self._limit - self._in_flight)

    def on_send(self, now: float) -> Sample:
        """Count one request leaving at ``now``."""
        self._in_flight += 1
        self._seq += 1
        return Sample(now, self._seq, self._in_flight)

    def on_done(self, sample: Sample, now: float, signal: Signal) -> None:  # noqa: ARG002
        """Release the request of ``sample`` (a second call for it is ignored)."""
        if not sample.done:
            sample.done = True
            self._in_flight -= 1


class AdaptiveLimiter:
    """A limit that finds the endpoint's capacity as it goes, between 1 and ``maximum``."""

    __slots__ = (
        "_answers",
        "_busy",
        "_ceiling",
        "_decreased_round",
        "_decreased_to",
        "_in_flight",
        "_latency_sum",
        "_limit",
        "_load_sum",
        "_maximum",
        "_overloaded",
        "_probe_base",
        "_probe_every",
        "_probe_misses",
        "_probe_step",
        "_probe_wait",
        "_recovery",
        "_ref_load",
        "_ref_rate",
        "_round_end",
        "_rounds",
        "_seq",
        "_struck",
    )

    def __init__(self, *, maximum: int = 64, initial: int = 4) -> None:
        _check_limit("max_concurrency", maximum)
        _check_limit("initial", initial)
        self._maximum = maximum
        self._limit = min(initial, maximum)
        self._ceiling = 0  # the limit that last worked; 0 while unknown (slow start)
        self._in_flight = 0
        self._seq = 0
        self._rounds = 0
        self._round_end = 1  # a round trip ends when a request numbered from here is done
        # The measurement in progress (one round trip or more): answers, their latencies and
        # in-flight counts, whether the limit was reached (not app-limited), any overload.
        self._answers = 0
        self._latency_sum = 0.0
        self._load_sum = 0
        self._busy = False
        self._overloaded = False
        self._ref_load = 0.0  # Little's law at the last accepted level: mean in flight ...
        self._ref_rate: float = 0.0  # ... and the throughput it gave
        self._recovery = 0  # overloads of requests numbered below this are answered already
        self._decreased_round = -2
        self._decreased_to = 0  # the limit the last decrease set
        self._probe_base = 0  # the ceiling a probe in progress is above; 0 when none is
        self._probe_step = 1
        self._probe_every = _FIRST_PROBE_WAIT
        self._probe_wait = float(_FIRST_PROBE_WAIT)
        self._probe_misses = 0
        self._struck = False  # a throttle came at the ceiling, which was kept

    @property
    def limit(self) -> int:
        """Requests allowed in flight now, between 1 and ``maximum``."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet done."""
        return self._in_flight

    def available(self) -> int:
        """How many more requests may be sent now."""
        return max(0, self._limit - self._in_flight)

    def on_send(self, now: float) -> Sample:
        """Count one request leaving at ``now``."""
        self._in_flight += 1
        self._seq += 1
        if self._in_flight >= self._limit:
            self._busy = True
        return Sample(now, self._seq, self._in_flight)

    def on_done(self, sample: Sample, now: float, signal: Signal) -> None:
        """Release ``sample``'s request and learn from how it ended (a second call is ignored)."""
        if sample.done:
            return
        sample.done = True
        self._in_flight -= 1
        if signal == "ok":
            self._answers += 1
            self._latency_sum += now - sample.sent
            self._load_sum += sample.in_flight
            top = self._ceiling or self._maximum
            if self._limit < top and not self._probe_base and 2 * sample.in_flight >= self._limit:
                self._limit += 1
        elif signal == "overload" and sample.seq >= self._recovery:
            self._decrease(sample.in_flight)
        if sample.seq >= self._round_end:
            self._end_round()

    def _decrease(self, refused_at: int) -> None:
        if refused_at <= 1:  # refused with nothing else in flight: not ready, not a capacity
            self._limit = 1
        elif self._probe_base or self._limit > self._decreased_to or self._calm():
            # The first throttle since the limit last grew: the capacity is just below it.
            below = min(self._limit, refused_at) - 1
            if not self._probe_base and not self._struck and below >= self._ceiling - 1 > 0:
                # At the ceiling that worked, once: the endpoint's count may lag ours.
                self._limit = max(1, below)
                self._struck = True
            else:
                self._settle(below, failed=bool(self._probe_base))
        else:  # throttles persist after a decrease: halve, keep the ceiling to regrow to
            self._limit = max(1, self._limit // 2)
        self._decreased_to = self._limit
        self._probe_base = 0
        self._probe_step = 1
        self._probe_wait = self._probe_every
        self._recovery = self._seq + 1
        self._decreased_round = self._rounds
        self._overloaded = True

    def _calm(self) -> bool:
        return self._rounds - self._decreased_round >= 2

    def _end_round(self) -> None:
        self._rounds += 1
        self._round_end = self._seq + 1
        usable = self._busy and not self._overloaded and self._latency_sum > 0
        if usable and self._ceiling and self._answers < _JUDGE_ANSWERS:
            # A probe's small step needs more answers than a slow-start doubling to stand out.
            return
        load = self._load_sum / self._answers if usable else 0.0
        if self._probe_base and load < self._ref_load + 0.5:
            self._probe_misses += 1  # the probe's own requests are not back yet
            if self._probe_misses > _PROBE_PATIENCE:  # the caller could not fill it
                self._limit = self._probe_base
                self._probe_base = 0
        elif usable:
            self._judge(load, load * self._answers / self._latency_sum)
        self._answers = 0
        self._latency_sum = 0.0
        self._load_sum = 0
        self._busy = self._in_flight >= self._limit
        self._overloaded = False

    def _judge(self, load: float, rate: float) -> None:
        """Keep a higher level only if it raised throughput; probe above a held ceiling."""
        if self._ref_load and load >= self._ref_load + 0.5:
            wanted = self._ref_rate * (1 + _GAIN_SHARE * (load / self._ref_load - 1))
            if rate < wanted:  # latency rose and throughput did not: requests queue
                self._settle(math.ceil(self._ref_load), failed=False)
                return
            if self._probe_base:  # the probe paid: probe again at once, twice as far
                self._ceiling = self._limit
                self._probe_base = 0
                self._probe_step *= 2
                self._probe_every = _FIRST_PROBE_WAIT
                self._probe_wait = 0.0
        elif self._ref_load and load > self._ref_load - 0.5:
            rate = max(rate, 0.9 * self._ref_rate + 0.1 * rate)  # one slow round is noise
            self._struck = self._struck and self._limit < self._ceiling
        self._ref_load, self._ref_rate = load, rate
        if self._ceiling and self._ceiling <= self._limit < self._maximum:
            self._probe_wait -= self._answers / _PROBE_WAIT_UNIT
            if self._probe_wait <= 0:
                self._probe_base = self._ceiling
                self._probe_misses = 0
                self._limit = min(self._maximum, self._ceiling + self._probe_step)

    def _settle(self, limit: int, *, failed: bool) -> None:
        """Hold at ``limit`` (the new ceiling); after a failed probe, probe half as often."""
        self._limit = self._ceiling = max(1, min(self._limit, limit))
        if failed:
            self._probe_every = min(2 * self._probe_every, _LONGEST_PROBE_WAIT)
        self._probe_base = 0
        self._probe_step = 1
        self._probe_wait = self._probe_every

"""A discrete-event simulation of a SageMaker endpoint and a client driving a limiter; no I/O.

The endpoint has the busy endpoint's knobs (``testing.Capacity``): ``capacity`` requests are
served at once, each taking ``latency * (1 + latency_growth * (served_now - 1))`` seconds; up to
``queue`` more wait for a free slot (their latency includes the wait); a request beyond
``capacity + queue`` is answered at once with a throttle. The capacity may change at given
times, and the endpoint may answer every request with ModelNotReady for a while.

The client sends a record whenever the limiter has a free slot, retries a throttled record after
an exponential backoff (the wait takes no slot), and may consume outcomes slowly (at most
``window`` records sent but not yet consumed, one consumed every ``consume_every`` seconds).
Time is simulated: a run of thousands of requests takes milliseconds and is deterministic.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from typed_sagemaker_runtime._base._limiter import Limiter, Sample


@dataclass(frozen=True)
class Endpoint:
    """The simulated endpoint's behaviour."""

    capacity: int
    latency: float = 0.05
    latency_growth: float = 0.0
    queue: int = 0
    capacity_changes: Sequence[tuple[float, int]] = ()  # (time, new capacity)
    not_ready: tuple[float, float] | None = None  # (from, until): every request is refused
    refuse_latency: float = 0.0  # how long a throttle takes to come back
    jitter: float = 0.0  # each latency times a uniform factor in [1 - jitter, 1 + jitter]


@dataclass
class Run:
    """What one simulated run measured."""

    records: int
    elapsed: float
    attempts: int
    throttled: int
    limit_trace: list[tuple[float, int]] = field(default_factory=list[tuple[float, int]])
    max_in_flight: int = 0

    @property
    def throughput(self) -> float:
        """Records completed per simulated second."""
        return self.records / self.elapsed

    @property
    def throttled_share(self) -> float:
        """Throttled attempts over all attempts."""
        return self.throttled / self.attempts

    def mean_limit(self, since: float = 0.0) -> float:
        """The limit averaged over simulated time from ``since`` to the end."""
        total = 0.0
        points = [*self.limit_trace, (self.elapsed, self.limit_trace[-1][1])]
        for (start, limit), (end, _) in itertools.pairwise(points):
            lo, hi = max(start, since), end
            if hi > lo:
                total += (hi - lo) * limit
        return total / (self.elapsed - since)

    def limit_at(self, when: float) -> int:
        """The limit in force at simulated time ``when``."""
        current = self.limit_trace[0][1]
        for time, limit in self.limit_trace:
            if time > when:
                break
            current = limit
        return current


_DONE, _REFUSED, _RETRY, _CONSUME, _CAPACITY = range(5)


def simulate(
    endpoint: Endpoint,
    limiter: Limiter,
    records: int,
    *,
    backoff: float = 0.05,
    window: int | None = None,
    consume_every: float = 0.0,
    seed: int = 0,
) -> Run:
    """Send ``records`` requests through ``limiter`` to ``endpoint`` until all succeed."""
    rng = random.Random(seed)
    # (time, tie-break, kind, the request's sample if any, its attempt or a new capacity)
    events: list[tuple[float, int, int, Sample | None, int]] = []
    order = itertools.count()

    def at(time: float, kind: int, sample: Sample | None = None, number: int = 0) -> None:
        heapq.heappush(events, (time, next(order), kind, sample, number))

    capacity = endpoint.capacity
    serving = 0
    waiting: deque[tuple[Sample, int]] = deque()  # (sample, attempt) queued at the endpoint
    ready: deque[int] = deque()  # attempts of throttled records due for a retry
    fresh = records
    done = 0
    unconsumed = 0  # records sent whose outcome the slow consumer has not yet taken
    completed = 0  # of those, the ones whose outcome is there to take
    run = Run(records=records, elapsed=0.0, attempts=0, throttled=0)
    run.limit_trace.append((0.0, limiter.limit))
    now = 0.0

    def start_service(sample: Sample, attempt: int) -> None:
        nonlocal serving
        serving += 1
        took = endpoint.latency * (1 + endpoint.latency_growth * (serving - 1))
        if endpoint.jitter:
            took *= 1 + endpoint.jitter * (2 * rng.random() - 1)
        at(now + took, _DONE, sample, attempt)

    def send_all() -> None:
        nonlocal fresh, unconsumed
        while limiter.available() > 0 and (ready or fresh):
            if not ready and window is not None and unconsumed >= window:
                return
            if ready:
                attempt = ready.popleft()
            else:
                fresh -= 1
                unconsumed += 1
                attempt = 0
            sample = limiter.on_send(now)
            run.attempts += 1
            run.max_in_flight = max(run.max_in_flight, limiter.in_flight)
            refused = endpoint.not_ready is not None and (
                endpoint.not_ready[0] <= now < endpoint.not_ready[1]
            )
            if not refused and serving < capacity:
                start_service(sample, attempt)
            elif not refused and len(waiting) < endpoint.queue:
                waiting.append((sample, attempt))
            else:
                refuse(sample, attempt)

    def refuse(sample: Sample, attempt: int) -> None:
        if endpoint.refuse_latency:
            at(now + endpoint.refuse_latency, _REFUSED, sample, attempt)
        else:
            refused(sample, attempt)

    def refused(sample: Sample, attempt: int) -> None:
        run.throttled += 1
        limiter.on_done(sample, now, "overload")
        pause = min(backoff * 2**attempt, 2.0) * (0.5 + rng.random())
        at(now + pause, _RETRY, None, attempt + 1)

    def record_limit() -> None:
        if run.limit_trace[-1][1] != limiter.limit:
            run.limit_trace.append((now, limiter.limit))

    def admit_waiting() -> None:
        while waiting and serving < capacity:
            start_service(*waiting.popleft())

    for change_at, new_capacity in endpoint.capacity_changes:
        at(change_at, _CAPACITY, None, new_capacity)
    if window is not None:
        at(consume_every, _CONSUME)
    send_all()
    record_limit()
    while done < records:
        now, _, kind, sample, number = heapq.heappop(events)
        if kind == _DONE and sample is not None:
            serving -= 1
            done += 1
            completed += 1
            limiter.on_done(sample, now, "ok")
            admit_waiting()
        elif kind == _REFUSED and sample is not None:
            refused(sample, number)
        elif kind == _RETRY:
            ready.append(number)
        elif kind == _CONSUME:
            if completed > 0:
                completed -= 1
                unconsumed -= 1
            at(now + consume_every, _CONSUME)
        elif kind == _CAPACITY:
            capacity = number
            admit_waiting()
        send_all()
        record_limit()
    run.elapsed = now
    return run


def best_fixed(
    endpoint: Endpoint,
    make: Callable[[int], Limiter],
    records: int,
    limits: range = range(1, 65),
) -> tuple[int, Run]:
    """The fixed limit with the highest throughput (the smallest of equals), and its run."""
    best: tuple[int, Run] | None = None
    for limit in limits:
        run = simulate(endpoint, make(limit), records)
        if best is None or run.throughput > best[1].throughput * 1.0001:
            best = (limit, run)
    assert best is not None
    return best


FIGURES = {
    "C=8": Endpoint(8),
    "C=16": Endpoint(16),
    "C=48": Endpoint(48),
    "C=8, queue 8": Endpoint(8, queue=8),
    "C=16, queue 32": Endpoint(16, queue=32),
    "C=48, queue 16": Endpoint(48, queue=16),
    "C=16, latency +5%/request": Endpoint(16, latency_growth=0.05),
    "C=16, latency +5%/request, queue 8": Endpoint(16, latency_growth=0.05, queue=8),
    "no cap, latency +2%/request": Endpoint(10_000, latency_growth=0.02),
    "C=1": Endpoint(1),
    "C=2, queue 2": Endpoint(2, queue=2),
    "C=100 (above maximum 64)": Endpoint(100),
}


def figures(records: int = 4000, jitter: float = 0.0) -> str:
    """The markdown table of ``notes/limiter.md``: ``AdaptiveLimiter`` against the best fixed."""
    from typed_sagemaker_runtime._base._limiter import AdaptiveLimiter, FixedLimiter

    lines = [
        "| endpoint | best fixed | its records/s | auto / best | auto throttled | mean limit |",
        "|---|---|---|---|---|---|",
    ]
    for name, endpoint in FIGURES.items():
        endpoint = dataclasses.replace(endpoint, jitter=jitter)
        best, _ = best_fixed(endpoint, FixedLimiter, 1000)
        fixed = simulate(endpoint, FixedLimiter(best), records)
        auto = simulate(endpoint, AdaptiveLimiter(maximum=64), records)
        lines.append(
            f"| {name} | {best} | {fixed.throughput:.0f} | {auto.throughput / fixed.throughput:.3f}"
            f" | {100 * auto.throttled_share:.2f}% | {auto.mean_limit():.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(figures())
    print()
    print(figures(jitter=0.2))

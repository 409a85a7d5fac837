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
    client = _Client(limiter, records, window, consume_every)
    _run_clients(endpoint, [client], backoff, seed)
    return client.run


def simulate_shared(
    endpoint: Endpoint, limiters: Sequence[Limiter], records: int, *, seed: int = 0
) -> list[Run]:
    """Clients with a limiter each send ``records`` requests apiece to one ``endpoint``.

    The run ends when every client is done; a client done early stops sending.
    """
    clients = [_Client(limiter, records, None, 0.0) for limiter in limiters]
    _run_clients(endpoint, clients, 0.05, seed)
    return [client.run for client in clients]


@dataclass
class _Client:
    limiter: Limiter
    fresh: int
    window: int | None
    consume_every: float
    ready: deque[int] = field(default_factory=deque[int])  # attempts due for a retry
    done: int = 0
    unconsumed: int = 0  # records sent whose outcome the slow consumer has not yet taken
    completed: int = 0  # of those, the ones whose outcome is there to take
    run: Run = field(init=False)

    def __post_init__(self) -> None:
        self.run = Run(records=self.fresh, elapsed=0.0, attempts=0, throttled=0)
        self.run.limit_trace.append((0.0, self.limiter.limit))


def _run_clients(endpoint: Endpoint, clients: list[_Client], backoff: float, seed: int) -> None:
    rng = random.Random(seed)
    # (time, tie-break, kind, client, the request's sample if any, its attempt or a capacity)
    events: list[tuple[float, int, int, int, Sample | None, int]] = []
    order = itertools.count()

    def at(time: float, kind: int, who: int = 0, sample: Sample | None = None, n: int = 0) -> None:
        heapq.heappush(events, (time, next(order), kind, who, sample, n))

    capacity = endpoint.capacity
    serving = 0
    waiting: deque[tuple[int, Sample, int]] = deque()  # (client, sample, attempt) queued
    now = 0.0

    def start_service(who: int, sample: Sample, attempt: int) -> None:
        nonlocal serving
        serving += 1
        took = endpoint.latency * (1 + endpoint.latency_growth * (serving - 1))
        if endpoint.jitter:
            took *= 1 + endpoint.jitter * (2 * rng.random() - 1)
        at(now + took, _DONE, who, sample, attempt)

    def send_all(who: int) -> None:
        client = clients[who]
        limiter = client.limiter
        while limiter.available() > 0 and (client.ready or client.fresh):
            window = client.window
            if not client.ready and window is not None and client.unconsumed >= window:
                return
            if client.ready:
                attempt = client.ready.popleft()
            else:
                client.fresh -= 1
                client.unconsumed += 1
                attempt = 0
            sample = limiter.on_send(now)
            client.run.attempts += 1
            client.run.max_in_flight = max(client.run.max_in_flight, limiter.in_flight)
            refused = endpoint.not_ready is not None and (
                endpoint.not_ready[0] <= now < endpoint.not_ready[1]
            )
            if not refused and serving < capacity:
                start_service(who, sample, attempt)
            elif not refused and len(waiting) < endpoint.queue:
                waiting.append((who, sample, attempt))
            elif endpoint.refuse_latency:
                at(now + endpoint.refuse_latency, _REFUSED, who, sample, attempt)
            else:
                refuse(who, sample, attempt)

    def refuse(who: int, sample: Sample, attempt: int) -> None:
        clients[who].run.throttled += 1
        clients[who].limiter.on_done(sample, now, "overload")
        pause = min(backoff * 2**attempt, 2.0) * (0.5 + rng.random())
        at(now + pause, _RETRY, who, None, attempt + 1)

    def admit_waiting() -> None:
        while waiting and serving < capacity:
            start_service(*waiting.popleft())

    def step_all() -> None:
        for who, client in enumerate(clients):
            send_all(who)
            trace = client.run.limit_trace
            if trace[-1][1] != client.limiter.limit:
                trace.append((now, client.limiter.limit))

    for change_at, new_capacity in endpoint.capacity_changes:
        at(change_at, _CAPACITY, n=new_capacity)
    for who, client in enumerate(clients):
        if client.window is not None:
            at(client.consume_every, _CONSUME, who)
    step_all()
    while any(client.done < client.run.records for client in clients):
        now, _, kind, who, sample, number = heapq.heappop(events)
        client = clients[who]
        if kind == _DONE and sample is not None:
            serving -= 1
            client.done += 1
            client.completed += 1
            client.limiter.on_done(sample, now, "ok")
            if client.done == client.run.records:
                client.run.elapsed = now
            admit_waiting()
        elif kind == _REFUSED and sample is not None:
            refuse(who, sample, number)
        elif kind == _RETRY:
            client.ready.append(number)
        elif kind == _CONSUME:
            if client.completed > 0:
                client.completed -= 1
                client.unconsumed -= 1
            at(now + client.consume_every, _CONSUME, who)
        elif kind == _CAPACITY:
            capacity = number
            admit_waiting()
        step_all()


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
    print()
    print(figures(jitter=0.5))

"""The concurrency limiters (``_base/_limiter.py``), on simulated endpoints: no I/O, no sleeps.

``tests/_endpoint_sim.py`` simulates the busy endpoint's model (a capacity served at once, a
queue, throttles beyond both, latency that grows with load) in simulated time, so each run of
thousands of requests is deterministic and takes milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st

from _endpoint_sim import Endpoint, Run, best_fixed, simulate, simulate_shared
from typed_sagemaker_runtime._base._limiter import (
    AdaptiveLimiter,
    FixedLimiter,
    Limiter,
    Sample,
    Signal,
)
from typed_sagemaker_runtime._core._exceptions import ClientValidationError

LATENCY = 0.05  # one round trip of an idle endpoint, in simulated seconds

FIXED_CAPACITY = {
    "C8": Endpoint(8),
    "C16": Endpoint(16),
    "C48": Endpoint(48),
    "C8 queue 8": Endpoint(8, queue=8),
    "C16 queue 32": Endpoint(16, queue=32),
    "C48 queue 16": Endpoint(48, queue=16),
    "C16 latency growing 5% per request": Endpoint(16, latency_growth=0.05),
    "C16 queue 8, latency +-20%": Endpoint(16, queue=8, jitter=0.2),
    "C16 latency growing 5% per request, +-50%": Endpoint(16, latency_growth=0.05, jitter=0.5),
    "C48 latency +-50%": Endpoint(48, jitter=0.5),
}


def _limits(run: Run) -> list[int]:
    return [limit for _, limit in run.limit_trace]


@pytest.mark.parametrize("name", FIXED_CAPACITY)
def test_auto_reaches_the_best_fixed_concurrency_with_few_throttles(name: str) -> None:
    endpoint = FIXED_CAPACITY[name]
    best, _ = best_fixed(endpoint, FixedLimiter, 1000)
    fixed = simulate(endpoint, FixedLimiter(best), 3000)
    auto = simulate(endpoint, AdaptiveLimiter(maximum=64), 3000)
    assert auto.throughput >= 0.9 * fixed.throughput
    assert auto.throttled_share <= 0.02
    assert all(1 <= limit <= 64 for limit in _limits(auto))


def test_latency_rising_while_throughput_does_not_keeps_the_queue_empty() -> None:
    # Any limit from 16 to 48 gives the same throughput; above 16 requests only wait.
    run = simulate(Endpoint(16, queue=32), AdaptiveLimiter(maximum=64), 3000)
    assert run.mean_limit(since=1.0) <= 1.25 * 16
    assert run.throttled <= 1  # at most the one that ends the first slow start


def test_latency_that_grows_without_a_cap_still_grows_the_limit() -> None:
    # Throughput n / (1 + 0.02 (n - 1)) grows with n while latency grows: not queueing.
    run = simulate(Endpoint(10_000, latency_growth=0.02), AdaptiveLimiter(maximum=64), 3000)
    assert run.limit_trace[-1][1] >= 32


def _settled_after(run: Run, start: float, end: float, low: int, high: int) -> float:
    """How long after ``start`` the limit entered ``[low, high]`` to stay there until ``end``."""
    entered: float | None = start if low <= run.limit_at(start) <= high else None
    for when, limit in run.limit_trace:
        if start <= when < end:
            if not low <= limit <= high:
                entered = None
            elif entered is None:
                entered = when
    assert entered is not None, "the limit never settled"
    return entered - start


@pytest.mark.parametrize("queue", [0, 8])
def test_settles_at_a_changed_capacity_within_a_bounded_number_of_round_trips(queue: int) -> None:
    endpoint = Endpoint(16, queue=queue, capacity_changes=[(10.0, 4), (20.0, 32)])
    run = simulate(endpoint, AdaptiveLimiter(maximum=64), 12_000)
    assert run.elapsed > 25.0
    assert _settled_after(run, 10.0, 20.0, 4, 4 + max(queue, 1)) <= 5 * LATENCY
    assert _settled_after(run, 20.0, run.elapsed, 30, 32 + queue) <= 100 * LATENCY
    assert run.throttled_share <= 0.02


def test_a_burst_of_not_ready_drops_the_limit_to_one_and_it_recovers() -> None:
    endpoint = Endpoint(16, not_ready=(5.0, 7.0), refuse_latency=0.005)
    run = simulate(endpoint, AdaptiveLimiter(maximum=64), 8000)
    assert run.limit_at(5.5) == 1
    assert run.limit_at(7.0 + 10 * LATENCY) >= 15


@pytest.mark.parametrize("window", [2, 4, 8])
def test_a_slow_consumer_keeps_the_limit_near_what_it_can_fill(window: int) -> None:
    run = simulate(
        Endpoint(64), AdaptiveLimiter(maximum=64), 1000, window=window, consume_every=0.01
    )
    assert run.max_in_flight <= window
    assert max(_limits(run)) <= max(4, 2 * window + 1)


def test_the_limit_grows_to_the_maximum_when_the_endpoint_has_room() -> None:
    run = simulate(Endpoint(100), AdaptiveLimiter(maximum=40), 2000)
    assert run.limit_trace[-1][1] == 40
    assert max(_limits(run)) == 40


@pytest.mark.parametrize("queue", [0, 16])
def test_clients_sharing_an_endpoint_fill_it_and_share_it(queue: int) -> None:
    # Ray workers: each with its own limiter, one endpoint serving 32 at once.
    runs = simulate_shared(Endpoint(32, queue=queue), [AdaptiveLimiter() for _ in range(4)], 3000)
    records_per_second = sum(run.records for run in runs) / max(run.elapsed for run in runs)
    assert records_per_second >= 0.9 * 32 / LATENCY
    assert sum(run.throttled for run in runs) <= 0.02 * sum(run.attempts for run in runs)
    assert all(4 <= run.mean_limit() <= 16 for run in runs)


def test_one_throttle_lowers_the_limit_once_per_round_trip() -> None:
    limiter = AdaptiveLimiter(maximum=64, initial=8)
    sent = [limiter.on_send(0.0) for _ in range(8)]
    limiter.on_done(sent[-1], 0.01, "overload")  # refused with 8 in flight
    assert limiter.limit == 7
    limiter.on_done(sent[-2], 0.01, "overload")  # sent before the decrease: already paid for
    assert limiter.limit == 7


def test_throttles_that_persist_after_a_decrease_halve_the_limit() -> None:
    limiter = AdaptiveLimiter(maximum=64, initial=8)
    sent = [limiter.on_send(0.0) for _ in range(8)]
    limiter.on_done(sent[-1], 0.01, "overload")
    limiter.on_done(sent[0], 0.02, "dropped")
    limiter.on_done(limiter.on_send(0.02), 0.03, "overload")  # refused with 7 in flight
    assert limiter.limit == 3


def _held_at(capacity: int) -> tuple[AdaptiveLimiter, float]:
    limiter = AdaptiveLimiter()
    run = simulate(Endpoint(capacity), limiter, 2000)
    assert (limiter.limit, limiter.in_flight) == (capacity, 0)
    return limiter, run.elapsed


def _refused_at_the_limit(limiter: AdaptiveLimiter, now: float) -> None:
    """Fill the limit; the last request is refused, the others answered."""
    sent = [limiter.on_send(now) for _ in range(limiter.limit)]
    limiter.on_done(sent[-1], now, "overload")
    for sample in sent[:-1]:
        limiter.on_done(sample, now + LATENCY, "ok")


def test_a_throttle_at_the_ceiling_is_forgiven_once_and_a_second_lowers_it() -> None:
    # Over HTTP the endpoint may free a slot a moment after the client counts it free.
    limiter, now = _held_at(8)
    _refused_at_the_limit(limiter, now)
    assert limiter.limit == 8  # one below, then straight back up to the level that worked
    _refused_at_the_limit(limiter, now + 1)
    assert limiter.limit == 7


def test_a_refusal_with_nothing_else_in_flight_drops_the_limit_to_one() -> None:
    limiter = AdaptiveLimiter(maximum=64, initial=8)
    limiter.on_done(limiter.on_send(0.0), 0.01, "overload")
    assert limiter.limit == 1


def test_dropped_requests_only_release_their_slot() -> None:
    limiter = AdaptiveLimiter(maximum=64, initial=8)
    sent = [limiter.on_send(0.0) for _ in range(8)]
    for sample in sent:
        limiter.on_done(sample, 5.0, "dropped")
    assert (limiter.limit, limiter.in_flight, limiter.available()) == (8, 0, 8)


def test_maximum_one_stays_one() -> None:
    limiter = AdaptiveLimiter(maximum=1, initial=4)
    assert limiter.limit == 1
    run = simulate(Endpoint(16), limiter, 500)
    assert set(_limits(run)) == {1}
    assert run.max_in_flight == 1


def test_the_fixed_limiter_never_moves() -> None:
    limiter = FixedLimiter(8)
    run = simulate(Endpoint(4), limiter, 500)  # half its requests throttled
    assert run.throttled > 0
    assert set(_limits(run)) == {8}
    assert (limiter.limit, limiter.in_flight) == (8, 0)


@pytest.mark.parametrize("make", [lambda: AdaptiveLimiter(initial=4), lambda: FixedLimiter(4)])
def test_a_second_on_done_for_a_sample_is_ignored(make: Callable[[], Limiter]) -> None:
    limiter = make()
    first, second = limiter.on_send(0.0), limiter.on_send(0.0)
    limiter.on_done(first, 0.05, "ok")
    limiter.on_done(first, 0.05, "overload")
    assert limiter.in_flight == 1
    limiter.on_done(second, 0.06, "ok")
    assert limiter.in_flight == 0


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: AdaptiveLimiter(maximum=0), "max_concurrency"),
        (lambda: AdaptiveLimiter(initial=0), "initial"),
        (lambda: FixedLimiter(0), "concurrency"),
        (lambda: FixedLimiter(True), "concurrency"),
    ],
)
def test_a_limit_below_one_is_refused_naming_the_argument(
    make: Callable[[], Limiter], field: str
) -> None:
    with pytest.raises(ClientValidationError) as raised:
        make()
    assert raised.value.field == field


def test_an_initial_above_the_maximum_starts_at_the_maximum() -> None:
    assert AdaptiveLimiter(maximum=3, initial=8).limit == 3


_SIGNALS: tuple[Signal, ...] = ("ok", "overload", "dropped")


@settings(max_examples=300, deadline=None)
@given(
    maximum=st.integers(1, 70),
    initial=st.integers(1, 70),
    steps=st.lists(
        st.tuples(
            st.integers(0, 3), st.integers(0, 1000), st.sampled_from(_SIGNALS), st.floats(0, 1)
        ),
        max_size=300,
    ),
)
def test_in_flight_accounting_is_exact_and_the_limit_stays_in_bounds(
    maximum: int, initial: int, steps: list[tuple[int, int, Signal, float]]
) -> None:
    limiter = AdaptiveLimiter(maximum=maximum, initial=initial)
    outstanding: list[Sample] = []
    finished: list[Sample] = []
    now = 0.0
    for action, pick, signal, pause in steps:
        now += pause
        if action <= 1:  # send (twice as likely as each other action)
            outstanding.append(limiter.on_send(now))
        elif action == 2 and outstanding:
            sample = outstanding.pop(pick % len(outstanding))
            limiter.on_done(sample, now, signal)
            finished.append(sample)
        elif finished:  # done again: ignored
            limiter.on_done(finished[pick % len(finished)], now, signal)
        assert limiter.in_flight == len(outstanding)
        assert 1 <= limiter.limit <= maximum
        assert limiter.available() == max(0, limiter.limit - len(outstanding))


def test_a_send_and_its_done_cost_microseconds() -> None:
    limiter = AdaptiveLimiter()
    started = time.perf_counter()
    for n in range(20_000):
        limiter.on_done(limiter.on_send(n * 0.001), n * 0.001 + 0.05, "ok")
    assert time.perf_counter() - started < 1.0  # about 3 us a pair; 50 us is the bound

"""A busy endpoint: how many requests the local endpoint serves at once, and how fast.

``LocalRuntime.add_endpoint(name, handler, capacity=Capacity(...))`` gives an endpoint
SageMaker's behaviour under load: up to ``concurrency`` requests are served at once, each
``latency`` seconds (longer as more are served: ``latency_growth``) on top of the
handler's own time; up to ``queue`` more wait for a free slot; any further request is
refused at once with ``ThrottlingException`` (or ``ModelNotReadyException``, or 503).

:class:`CapacityGate` is the slot accounting of one endpoint: a semaphore with a bounded
FIFO wait queue, under one lock. A waiting request sleeps on a condition of its own (no
polling) and is handed the slot directly by the request that frees it, so a newcomer never
overtakes the queue. ``close()`` (from ``LocalRuntime.stop()``) wakes every waiter.
"""

from __future__ import annotations

import math
import operator
import random
import threading
import time
from collections import deque
from dataclasses import KW_ONLY, dataclass
from typing import Literal, TypeAlias

from ._server._http import CloseConnection

__all__ = ["Capacity", "CapacityGate", "CapacityStats", "Overload", "OVERLOAD_ERRORS"]

Overload: TypeAlias = Literal["throttle", "model_not_ready", "unavailable"]
"""How a request beyond ``concurrency + queue`` is refused (see :class:`Capacity`)."""

OVERLOAD_ERRORS: dict[Overload, str] = {
    "throttle": "ThrottlingException",
    "model_not_ready": "ModelNotReadyException",
    "unavailable": "ServiceUnavailable",
}
"""The SageMaker error code each ``overload`` answers with."""


def _check_count(name: str, value: int, least: int) -> None:
    try:
        ok = not isinstance(value, bool) and operator.index(value) >= least
    except TypeError:  # 2.5, "4"
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {least}, not {value!r}")


def _check_seconds(name: str, value: float) -> None:
    try:
        ok = not isinstance(value, bool) and 0 <= value < math.inf  # NaN fails too
    except TypeError:  # "0.1"
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much load an endpoint of the local runtime takes before it throttles.

    Up to ``concurrency`` requests are served at once. Each waits ``latency`` seconds x
    (1 + ``latency_growth`` x (requests being served, itself included, - 1)) before its
    handler runs, so with ``latency_growth=0.5`` the fourth request served at once takes
    2.5 x ``latency``: latency that grows with load. Up to ``queue`` more requests wait
    for a free slot, first come first served (their latency includes the wait). A request
    beyond ``concurrency + queue`` is refused at once, its handler never called, as
    ``overload`` says: ``"throttle"`` answers SageMaker's ``ThrottlingException`` (400,
    ``Rate exceeded``, as :class:`ErrorResponse` sends it), ``"model_not_ready"``
    ``ModelNotReadyException`` (429), ``"unavailable"`` ``ServiceUnavailable`` (503).

    It applies to InvokeEndpoint and InvokeEndpointWithResponseStream; a stream holds its
    slot until its body ends. A request's slot is freed just before the last byte of its
    answer is sent, so a client that has read a whole answer can be served again at once.
    Change it while requests are served with ``LocalRuntime.set_capacity``; read what it
    did with ``LocalRuntime.capacity_stats``. Invalid values raise ``ValueError`` naming
    the field.
    """

    concurrency: int
    """Requests served at once (>= 1)."""
    latency: float = 0.0
    """Seconds added to each request served alone (>= 0)."""
    queue: int = 0
    """Requests that may wait for a free slot (>= 0); beyond them requests are refused."""
    latency_growth: float = 0.0
    """How much ``latency`` grows per other request being served (>= 0)."""
    _: KW_ONLY
    jitter: float = 0.0
    """Each added latency times a random factor from ``1 - jitter`` to ``1 + jitter`` (0 to 1),
    drawn from the endpoint's seeded generator (``LocalRuntime(seed=...)``)."""
    overload: Overload = "throttle"
    """How a refused request is answered: ``"throttle"``, ``"model_not_ready"`` or
    ``"unavailable"``."""

    def __post_init__(self) -> None:
        _check_count("concurrency", self.concurrency, 1)
        _check_seconds("latency", self.latency)
        _check_count("queue", self.queue, 0)
        _check_seconds("latency_growth", self.latency_growth)
        _check_seconds("jitter", self.jitter)
        if self.jitter > 1:
            raise ValueError(f"jitter must be from 0 to 1, not {self.jitter!r}")
        if self.overload not in OVERLOAD_ERRORS:
            raise ValueError(
                f"overload must be one of {', '.join(map(repr, OVERLOAD_ERRORS))}, "
                f"not {self.overload!r}"
            )

    def latency_for(self, serving: int) -> float:
        """The seconds added to a request admitted when ``serving`` are served (itself too),
        before ``jitter``."""
        return self.latency * (1.0 + self.latency_growth * (serving - 1))


@dataclass(frozen=True, slots=True)
class CapacityStats:
    """What an endpoint's capacity did so far: ``LocalRuntime.capacity_stats(name)``.

    Counted over InvokeEndpoint and InvokeEndpointWithResponseStream requests since the
    endpoint was added, with or without a :class:`Capacity` (without one, nothing is
    refused and nothing waits).
    """

    served: int
    """Requests given a slot (at once or after waiting)."""
    throttled: int
    """Requests refused (answered as the capacity's ``overload`` says)."""
    queued: int
    """Requests served after waiting for a slot."""
    in_service: int
    """Requests holding a slot now."""
    waiting: int
    """Requests waiting for a slot now."""
    peak_concurrency: int
    """The most requests that held a slot at once."""
    peak_waiting: int
    """The most requests that waited at once."""
    longest_wait: float
    """The longest wait for a slot, in seconds (measured by the server)."""
    longest_latency: float
    """The most latency added to one request, in seconds (``Capacity.latency_for``)."""


class _Ticket:
    """A request waiting for a slot: woken alone, when granted one or at close."""

    __slots__ = ("granted", "latency", "wakeup")

    def __init__(self, lock: threading.Lock) -> None:
        self.wakeup = threading.Condition(lock)
        self.granted = False
        self.latency = 0.0


class Slot:
    """A slot held by one request; :meth:`release` frees it (once, whoever calls it)."""

    __slots__ = ("_gate", "_released", "latency")

    def __init__(self, gate: CapacityGate, latency: float) -> None:
        self._gate = gate
        self._released = False
        self.latency = latency
        """Seconds to wait before the handler runs."""

    def release(self) -> None:
        """Free the slot (the first call; later ones do nothing). Called by one thread."""
        if not self._released:
            self._released = True
            self._gate.release()


class CapacityGate:
    """The slot accounting of one endpoint; every method is safe from many threads."""

    def __init__(self, capacity: Capacity | None = None, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()
        self._lock = threading.Lock()
        self._capacity = capacity
        self._waiters: deque[_Ticket] = deque()
        self._closed = False
        self._in_service = 0
        self._served = 0
        self._throttled = 0
        self._queued = 0
        self._peak_concurrency = 0
        self._peak_waiting = 0
        self._longest_wait = 0.0
        self._longest_latency = 0.0

    @property
    def capacity(self) -> Capacity | None:
        """The capacity in force (``None``: unlimited)."""
        return self._capacity

    def set(self, capacity: Capacity | None) -> None:
        """Change the capacity now; waiters that now fit are served at once.

        Requests being served keep their slots (a lower ``concurrency`` admits no one
        until enough have ended); requests already waiting keep waiting, even beyond a
        smaller ``queue``.
        """
        with self._lock:
            self._capacity = capacity
            self._grant()

    def admit(self) -> Slot | Overload:
        """A slot for one request, after waiting in the queue if need be; if refused, how
        to answer (the ``overload`` of the capacity that refused it).

        Raises ``CloseConnection`` once :meth:`close` was called (the runtime is stopping).
        """
        with self._lock:
            if self._closed:
                raise CloseConnection
            capacity = self._capacity
            if capacity is None or (not self._waiters and self._in_service < capacity.concurrency):
                return Slot(self, self._start())
            if len(self._waiters) >= capacity.queue:
                self._throttled += 1
                return capacity.overload
            ticket = _Ticket(self._lock)
            self._waiters.append(ticket)
            self._peak_waiting = max(self._peak_waiting, len(self._waiters))
            since = time.monotonic()
            while not ticket.granted and not self._closed:
                ticket.wakeup.wait()
            if not ticket.granted:
                raise CloseConnection
            self._queued += 1
            self._longest_wait = max(self._longest_wait, time.monotonic() - since)
            return Slot(self, ticket.latency)

    def release(self) -> None:
        """Free one slot: the longest waiter that fits gets it."""
        with self._lock:
            self._in_service -= 1
            self._grant()

    def close(self) -> None:
        """Refuse every request from now on and wake the waiters (they raise)."""
        with self._lock:
            self._closed = True
            for ticket in self._waiters:
                ticket.wakeup.notify()
            self._waiters.clear()

    def stats(self) -> CapacityStats:
        """A snapshot of the counters."""
        with self._lock:
            return CapacityStats(
                served=self._served,
                throttled=self._throttled,
                queued=self._queued,
                in_service=self._in_service,
                waiting=len(self._waiters),
                peak_concurrency=self._peak_concurrency,
                peak_waiting=self._peak_waiting,
                longest_wait=self._longest_wait,
                longest_latency=self._longest_latency,
            )

    # --- under the lock -------------------------------------------------------------

    def _start(self) -> float:
        """Count one request into service; its added latency."""
        self._in_service += 1
        self._served += 1
        self._peak_concurrency = max(self._peak_concurrency, self._in_service)
        capacity = self._capacity
        latency = 0.0 if capacity is None else capacity.latency_for(self._in_service)
        if capacity is not None and capacity.jitter:
            latency *= 1.0 + capacity.jitter * (2.0 * self._rng.random() - 1.0)
        self._longest_latency = max(self._longest_latency, latency)
        return latency

    def _grant(self) -> None:
        """Hand free slots to the waiters, oldest first."""
        capacity = self._capacity
        while self._waiters and (capacity is None or self._in_service < capacity.concurrency):
            ticket = self._waiters.popleft()
            ticket.granted = True
            ticket.latency = self._start()
            ticket.wakeup.notify()

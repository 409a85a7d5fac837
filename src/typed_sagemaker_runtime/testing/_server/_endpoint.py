"""One registered endpoint: its handler, default content type and faults."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .._capacity import Capacity, CapacityGate
from .._faults import ErrorResponse, Fault, fault_operations
from .._model import Handler, InvocationRequest, Operation

if TYPE_CHECKING:
    from .._rechunk import Rechunk


def echo(request: InvocationRequest) -> bytes:
    """The default handler: answer with the request body."""
    return request.body


class Endpoint:
    """An endpoint of the local runtime; ``take_fault`` is safe to call from many threads."""

    __slots__ = (
        "_lock",
        "_operations",
        "_remaining",
        "_streams",
        "content_type",
        "faults",
        "gate",
        "handler",
        "max_chunk_bytes",
        "name",
        "rechunk",
        "rng",
    )

    def __init__(
        self,
        name: str,
        handler: Handler,
        content_type: str | None,
        faults: Iterable[Fault],
        max_chunk_bytes: int | None,
        rng: random.Random | None = None,
        rechunk: Rechunk | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        if max_chunk_bytes is not None and max_chunk_bytes < 1:
            raise ValueError(f"max_chunk_bytes must be None or >= 1, not {max_chunk_bytes}")
        self.name = name
        self.max_chunk_bytes = max_chunk_bytes
        self.handler = handler
        self.content_type = content_type
        self.faults = tuple(faults)
        self._remaining = [fault.times for fault in self.faults]
        self._operations = [fault_operations(fault) for fault in self.faults]
        self._lock = threading.Lock()
        self.rng = rng if rng is not None else random.Random()
        self.rechunk = rechunk
        self._streams = itertools.count()
        self.gate = CapacityGate(capacity, self.rng)
        """Its slots: how many requests it serves at once (see ``Capacity``)."""

    def part_sizes(self) -> Iterator[int] | None:
        """The PayloadPart sizes of the next stream, or ``None`` when it is not re-cut."""
        if self.rechunk is None:
            return None
        return self.rechunk.part_sizes(f"{self.name}/{next(self._streams)}")

    def take_fault(self, operation: Operation) -> Fault | None:
        """The first fault that applies to ``operation`` and is not used up; uses it once."""
        with self._lock:
            for index, fault in enumerate(self.faults):
                if operation not in self._operations[index]:
                    continue
                left = self._remaining[index]
                if left is not None and left <= 0:
                    continue
                rate = fault.rate if isinstance(fault, ErrorResponse) else None
                if rate is not None and self.rng.random() >= rate:
                    continue  # spared this time; not used up
                if left is not None:
                    self._remaining[index] = left - 1
                return fault
        return None

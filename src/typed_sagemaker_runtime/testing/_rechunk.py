"""``Rechunk``: PayloadParts cut the way SageMaker cuts them, not one record each.

SageMaker forwards the model's streamed bytes in PayloadParts of its own sizes: a record
(an SSE event, a JSON line) may be split across parts, and several may share one. A local
endpoint that sends each record whole never runs a client's reassembly code; with a
``Rechunk`` it does.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import cast

from .._core._events import PayloadPart, StreamEvent
from ._model import RawFrames

__all__ = ["Rechunk"]

PACED_SECONDS = 0.005
"""A handler that took longer than this for its last item is paced (a model writing
tokens): what is left of a record then goes out before the next one is waited for, as
SageMaker forwards what it has, instead of lagging a whole token behind. An unpaced
handler's item takes microseconds (at most 0.1 ms in 9,000 items, measured with a
thread and two processes spinning on two cores), so its seeded cuts still repeat."""


@dataclass(frozen=True, slots=True)
class Rechunk:
    """How ``LocalRuntime`` cuts a response stream's payload into PayloadParts.

    The bytes of consecutive PayloadParts from the handler are joined and cut again:

    * ``Rechunk.fixed(1)``: one byte per part (every record split at every byte);
    * ``Rechunk.fixed(5, 300)``: parts of 5, then 300 bytes, repeated;
    * ``Rechunk.random(1, 512, seed=0)``: sizes drawn uniformly from 1 to 512 bytes.

    A part goes out as soon as it is full. A record's tail waits for the next record
    (and shares its part) only while the handler produces faster than it can be sent:
    when the handler took more than 5 ms for its last item (a paced model), what is
    left goes out as a shorter part before the next item is waited for, so text still
    arrives as it is written. What is left when the handler's stream ends (or before an
    error event) goes out as a shorter part. With a ``seed``, each endpoint's n-th stream is cut the
    same way on every run; ``seed=None`` cuts differently every time.

    ``sizes`` (fixed sizes, used in turn) wins over ``min_size``/``max_size`` (random).
    """

    sizes: tuple[int, ...] = ()
    """Part sizes in bytes, used in turn and repeated; empty: random sizes."""
    min_size: int = 1
    """Smallest random part size in bytes."""
    max_size: int = 512
    """Largest random part size in bytes."""
    seed: int | None = 0
    """Seed of the random sizes (per endpoint and stream); ``None``: different every run."""

    def __post_init__(self) -> None:
        if not _whole_sizes(self.sizes):  # checked at run time: callers may not be type-checked
            raise ValueError(f"Rechunk sizes must be a tuple of ints >= 1, not {self.sizes!r}")
        if any(size < 1 for size in self.sizes):
            raise ValueError(f"Rechunk sizes must be >= 1, not {self.sizes!r}")
        if not (_whole(self.min_size) and _whole(self.max_size)):
            raise ValueError(
                f"Rechunk min_size and max_size must be ints, not {self.min_size!r}, "
                f"{self.max_size!r}"
            )
        if not 1 <= self.min_size <= self.max_size:
            raise ValueError(
                f"Rechunk needs 1 <= min_size <= max_size, not {self.min_size}..{self.max_size}"
            )

    @classmethod
    def fixed(cls, *sizes: int) -> Rechunk:
        """Parts of ``sizes`` bytes, in turn and repeated (``fixed(1)``: byte by byte)."""
        if not sizes:
            raise ValueError("Rechunk.fixed() needs at least one size")
        return cls(sizes=tuple(sizes))

    @classmethod
    def random(cls, min_size: int = 1, max_size: int = 512, *, seed: int | None = 0) -> Rechunk:
        """Parts of random sizes from ``min_size`` to ``max_size`` bytes."""
        return cls(min_size=min_size, max_size=max_size, seed=seed)

    def part_sizes(self, key: str) -> Iterator[int]:
        """The sizes of one stream's parts; ``key`` names the stream (endpoint and number)."""
        if self.sizes:
            return itertools.cycle(self.sizes)
        rng = random.Random(None if self.seed is None else f"{self.seed}/{key}")
        return (rng.randint(self.min_size, self.max_size) for _ in itertools.count())


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole_sizes(value: object) -> bool:
    return isinstance(value, tuple) and all(map(_whole, cast("tuple[object, ...]", value)))


def rechunked(
    items: Generator[StreamEvent | RawFrames, None, None], sizes: Iterator[int]
) -> Generator[StreamEvent | RawFrames, None, None]:
    """``items`` with the PayloadParts' bytes cut into parts of ``sizes``; closes ``items``.

    Other events (an error event, raw frames) go out as they are, after the bytes before
    them. If the handler fails, the bytes it produced go out first, then the failure.
    """
    pending = bytearray()
    size = next(sizes)
    waited = 0.0
    try:
        while True:
            if pending and waited > PACED_SECONDS:  # the tail would wait for the next record
                yield PayloadPart(bytes(pending))
                pending.clear()
            started = time.monotonic()
            try:
                item = next(items)
            except StopIteration:
                break
            except Exception:
                if pending:
                    yield PayloadPart(bytes(pending))
                raise
            waited = time.monotonic() - started
            if not isinstance(item, PayloadPart):
                if pending:
                    yield PayloadPart(bytes(pending))
                    pending.clear()
                yield item
                continue
            pending += item.data
            while len(pending) >= size:
                yield PayloadPart(bytes(pending[:size]))
                del pending[:size]
                size = next(sizes)
        if pending:
            yield PayloadPart(bytes(pending))
    finally:
        items.close()

"""Accumulating the chunks of a stream into a :class:`Generation` (sans-I/O).

Text joined, the last finish reason and usage, tool-call fragments joined into calls,
and the times from the request to the first text and to the end. ``generation()`` and
a ``chunks()`` pass read to its end use it; so does ``smr chat``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .._core._llm_types import Generation, GenerationChunk, ToolCall, ToolCallDelta, Usage

__all__ = ["GenerationBuilder", "generation_of"]

_BLOCK = 1024  # texts joined into one string at a time


class GenerationBuilder:
    """Accumulates the chunks of choice 0 into a :class:`Generation` (sans-I/O).

    ``clock`` gives seconds (``time.monotonic`` by default); ``started`` is when the
    request was made (default: now).
    """

    __slots__ = (
        "_blocks",
        "_calls",
        "_clock",
        "_finish",
        "_first",
        "_latest",
        "_length",
        "_started",
        "_texts",
        "_usage",
    )

    def __init__(
        self, *, started: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._started = clock() if started is None else started
        self._texts: list[str] = []  # the latest texts, joined into a block every _BLOCK
        self._blocks: list[str] = []
        self._length = 0
        self._first: float | None = None
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._calls: dict[int, tuple[str | None, str | None, list[str]]] = {}
        self._latest: dict[int, int] = {}  # a fragment index -> the call it now continues

    @property
    def kept_length(self) -> int:
        """Characters kept so far: the text, and the tool calls' ids, names and arguments."""
        return self._length

    def add(self, chunk: GenerationChunk, limit: int | None = None) -> bool:
        """Take one chunk into account (chunks of other choices are ignored).

        ``limit``: the most characters to keep (text, and the tool calls' ids, names and
        arguments); a chunk that would go over it is not kept, and ``False`` is returned.
        """
        if chunk.index != 0:
            return True
        text = chunk.text
        calls = chunk.tool_calls
        length = len(text)
        for delta in calls:
            length += len(delta.id or "") + len(delta.name or "") + len(delta.arguments)
        if limit is not None and self._length + length > limit:
            return False
        self._length += length
        if text:
            if self._first is None:
                self._first = self._clock()
            texts = self._texts
            texts.append(text)
            if len(texts) == _BLOCK:  # a str per token would take ~15 bytes a character
                self._blocks.append("".join(texts))
                texts.clear()
        if chunk.finish_reason is not None:
            self._finish = chunk.finish_reason
        if chunk.usage is not None:
            self._usage = chunk.usage
        for delta in calls:
            self._add_call(delta)
        return True

    def _add_call(self, delta: ToolCallDelta) -> None:
        """Join a fragment to its call: the one at its index, unless its id is another's.

        A server that sends no ``index`` gives every fragment index 0; a fragment with
        an ``id`` other than the one the call at its index has then starts a new call
        (the next index), which that index's later fragments continue.
        """
        calls = self._calls
        key = self._latest.get(delta.index, delta.index)
        call_id, name, arguments = calls.setdefault(key, (None, None, []))
        if delta.id and call_id and delta.id != call_id:
            key = max(calls) + 1
            self._latest[delta.index] = key
            call_id, name, arguments = calls[key] = (None, None, [])
        if delta.arguments:
            arguments.append(delta.arguments)
        if call_id is None or name is None:
            calls[key] = (call_id or delta.id, name or delta.name, arguments)

    def build(self) -> Generation:
        """The generation so far; its ``duration`` ends now."""
        end = self._clock()
        calls = tuple(
            ToolCall(index=index, id=call_id, name=name or "", arguments="".join(arguments))
            for index, (call_id, name, arguments) in sorted(self._calls.items())
        )
        first = self._first
        return Generation(
            text="".join([*self._blocks, *self._texts]),
            finish_reason=self._finish,
            usage=self._usage,
            tool_calls=calls,
            time_to_first_token=None if first is None else first - self._started,
            duration=end - self._started,
        )


def generation_of(
    chunks: Iterable[GenerationChunk],
    *,
    started: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Generation:
    """Consume ``chunks`` and accumulate them (see :class:`GenerationBuilder`)."""
    builder = GenerationBuilder(started=started, clock=clock)
    for chunk in chunks:
        builder.add(chunk)
    return builder.build()

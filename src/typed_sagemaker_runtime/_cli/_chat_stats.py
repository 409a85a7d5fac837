"""``smr chat --stats``: when an answer's tokens arrived, and the line that reports it.

Tokens per second is the pace of generation, the wait for the first token left out:
the completion tokens after the first, divided by the time from the first token's
arrival to the last's. A demo endpoint generating 50 tokens/s reads 50.0.
"""

from __future__ import annotations

from .._core._llm_types import Generation, GenerationChunk

__all__ = ["STATS_HELP", "AnswerTiming"]

STATS_HELP = (
    "after each answer, print on stderr the time to first token, tokens/s (the completion "
    "tokens after the first over the time from the first token to the last), the finish "
    "reason and usage"
)


class AnswerTiming:
    """When the first and the last token of one answer arrived (sans-I/O: times are given).

    A token is a chunk of choice 0 with text, a tool call fragment or the finish reason
    (servers send the last token with it); the usage chunk that follows is no token.
    """

    __slots__ = ("_first", "_last", "_started")

    def __init__(self, started: float) -> None:
        self._started = started
        self._first: float | None = None
        self._last: float | None = None

    def add(self, chunk: GenerationChunk, now: float) -> None:
        """Note the arrival of ``chunk`` at ``now``."""
        if chunk.index != 0:
            return
        if chunk.text or chunk.tool_calls or chunk.finish_reason is not None:
            if self._first is None:
                self._first = now
            self._last = now

    def tokens_per_second(self, completion_tokens: int | None) -> float | None:
        """The pace between the first and the last token; ``None`` without two of them."""
        first, last = self._first, self._last
        if completion_tokens is None or completion_tokens < 2 or first is None or last is None:
            return None
        if last <= first:
            return None
        return (completion_tokens - 1) / (last - first)

    def line(self, generation: Generation) -> str:
        """``smr: time to first token ..., N tokens/s, total ..., finish_reason ..., usage ...``."""
        usage = generation.usage
        parts: list[str] = []
        if self._first is None:
            parts.append("no tokens")
        else:
            parts.append(f"time to first token {self._first - self._started:.3f} s")
        rate = self.tokens_per_second(usage["completion_tokens"] if usage is not None else None)
        if rate is not None:
            parts.append(f"{rate:.1f} tokens/s")
        parts.append(f"total {generation.duration:.3f} s")
        parts.append(f"finish_reason {generation.finish_reason}")
        if usage is not None:
            parts.append(
                f"usage prompt={usage['prompt_tokens']} "
                f"completion={usage['completion_tokens']} total={usage['total_tokens']}"
            )
        return "smr: " + ", ".join(parts)

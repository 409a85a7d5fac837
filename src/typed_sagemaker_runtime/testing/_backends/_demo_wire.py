"""The demo LLM's answers in the wire shapes of each API it speaks.

Hugging Face TGI's generate API (``generated_text`` documents and token events) and the
Messages API (``chat.completion`` documents and ``chat.completion.chunk`` events, tool
calls included), as compact JSON with raw UTF-8 and server-sent events. Each answer takes
the tokens at their pace; when that stops with :class:`Interrupted`, a stream ends with a
``ModelStreamError`` event and a document fails as a timed-out invocation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..._core._events import ModelStreamError
from .._failure import ModelFailure
from ._demo_text import tokenize

if TYPE_CHECKING:
    from ._demo_requests import Request
    from ._demo_text import Token

__all__ = ["Interrupted", "chat_events", "document", "dumps", "tgi_events"]

_STREAM_ERROR_MESSAGE = "Model invocation time exceeded while streaming the response."
_TIMED_OUT = (
    "Your invocation timed out while waiting for a response from container primary. "
    "Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, "
    "and try again."
)


def dumps(value: object) -> str:
    """Compact JSON with raw UTF-8, as TGI's serde writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _sse(value: object) -> bytes:
    return f"data: {dumps(value)}\n\n".encode()


class Interrupted(Exception):
    """``fail_after_tokens`` was reached."""


def _finish_reason(tokens: list[Token]) -> str:
    return "eos_token" if tokens and tokens[-1].special else "length"


def tgi_events(
    request: Request, tokens: list[Token], paced: Iterator[Token]
) -> Iterator[bytes | ModelStreamError]:
    generated = "".join(token.text for token in tokens if not token.special)
    try:
        for index, token in enumerate(paced, start=1):
            last = index == len(tokens)
            details = None
            if last and request.details:
                details = {
                    "finish_reason": _finish_reason(tokens),
                    "generated_tokens": len(tokens),
                    "seed": request.seed,
                    "input_length": len(tokenize(request.prompt)),
                }
            yield _sse(
                {
                    "index": index,
                    "token": token.wire(),
                    "generated_text": generated if last else None,
                    "details": details,
                }
            )
    except Interrupted:
        yield ModelStreamError(_STREAM_ERROR_MESSAGE, "ModelInvocationTimeExceeded")


def chat_events(
    request: Request, tokens: list[Token], paced: Iterator[Token]
) -> Iterator[bytes | ModelStreamError]:
    created = int(time.time())
    finish = "stop" if _finish_reason(tokens) == "eos_token" else "length"
    tool = request.tool
    if tool is not None and finish == "stop":
        finish = "tool_calls"

    def chunk(choices: list[object], usage: object) -> bytes:
        return _sse(
            {
                "object": "chat.completion.chunk",
                "id": "",
                "created": created,
                "model": request.model,
                "system_fingerprint": "demo",
                "choices": choices,
                "usage": usage,
            }
        )

    try:
        for index, token in enumerate(paced, start=1):
            delta: dict[str, object] = {
                "role": "assistant",
                "content": "" if token.special else token.text,
            }
            if tool is not None and not token.special:
                call: dict[str, object] = {"index": 0, "function": {"arguments": token.text}}
                if index == 1:
                    call = {
                        "index": 0,
                        "id": tool.id,
                        "type": "function",
                        "function": {"name": tool.name, "arguments": token.text},
                    }
                delta = {"role": "assistant", "tool_calls": [call]}
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish if index == len(tokens) else None,
            }
            yield chunk([choice], None)
    except Interrupted:
        yield ModelStreamError(_STREAM_ERROR_MESSAGE, "ModelInvocationTimeExceeded")
        return
    if request.include_usage:
        yield chunk([], _usage(request, tokens))
    yield b"data: [DONE]\n\n"


def _usage(request: Request, tokens: list[Token]) -> dict[str, int]:
    prompt_tokens = len(tokenize(request.prompt))
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(tokens),
        "total_tokens": prompt_tokens + len(tokens),
    }


def document(request: Request, tokens: list[Token], paced: Iterator[Token]) -> Iterator[bytes]:
    """A non-streamed answer: produced after every token was generated."""
    try:
        for _ in paced:
            pass
    except Interrupted:
        raise ModelFailure(0, _TIMED_OUT) from None
    text = "".join(token.text for token in tokens if not token.special)
    finish = _finish_reason(tokens)
    if request.chat:
        message: dict[str, object] = {"role": "assistant", "content": text}
        reason = "stop" if finish == "eos_token" else "length"
        if request.tool is not None:
            call = {
                "id": request.tool.id,
                "type": "function",
                "function": {"name": request.tool.name, "arguments": text},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            reason = "tool_calls" if reason == "stop" else reason
        yield dumps(
            {
                "object": "chat.completion",
                "id": "",
                "created": int(time.time()),
                "model": request.model,
                "system_fingerprint": "demo",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": reason,
                    }
                ],
                "usage": _usage(request, tokens),
            }
        ).encode()
        return
    answer: dict[str, object] = {"generated_text": text}
    if request.details:
        answer["details"] = {
            "finish_reason": finish,
            "generated_tokens": len(tokens),
            "seed": request.seed,
            "prefill": [],
            "tokens": [token.wire() for token in tokens],
        }
    yield dumps([answer]).encode()

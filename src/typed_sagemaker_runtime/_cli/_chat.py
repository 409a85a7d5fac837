"""``smr chat``: talk to an LLM endpoint through the Messages API, streaming each answer.

With a prompt it streams one answer and exits. Without, it is a conversation: each line
read from standard input is a turn, the history is kept and sent with the next one,
answers are printed as they arrive; end of input (Ctrl-D) exits 0 and Ctrl-C stops the
answer in flight and returns to the prompt. ``--stats`` writes time to first token,
tokens per second, the finish reason and usage to standard error after each answer.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, TextIO

from .._core._exceptions import ClientValidationError, SageMakerRuntimeError
from .._core._llm_types import ChatMessage, Generation
from .._decoders._chunks import GenerationBuilder
from ._common import add_connection_options, build_client

if TYPE_CHECKING:
    from .._sync._client import SageMakerRuntime

__all__ = ["add_chat_arguments", "run_chat"]

_PROMPT = "> "


def add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments and options of ``smr chat``."""
    parser.add_argument("endpoint", help="the endpoint name")
    parser.add_argument(
        "prompt", nargs="?", help="one message to answer; without it, read turns from stdin"
    )
    parser.add_argument("--system", help="a system message that opens the conversation")
    parser.add_argument("--max-tokens", type=int, help="the most tokens per answer")
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.add_argument("--model", help="the model name some servers ask for")
    parser.add_argument(
        "--stats",
        action="store_true",
        help="after each answer, print time to first token, tokens/s and usage on stderr",
    )
    parser.add_argument("--target-variant", help="the production variant to call")
    parser.add_argument("--inference-component", help="the inference component to call")
    add_connection_options(parser)


def run_chat(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``smr chat``; return the exit status."""
    history: list[ChatMessage] = []
    if args.system:
        history.append({"role": "system", "content": args.system})
    with build_client(args) as smr:
        if args.prompt is not None:
            history.append({"role": "user", "content": args.prompt})
            _answer(smr, args, history, out)
            return 0
        return _converse(smr, args, history, out)


def _converse(
    smr: SageMakerRuntime, args: argparse.Namespace, history: list[ChatMessage], out: TextIO
) -> int:
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = _read_turn(interactive)
        except KeyboardInterrupt:  # at the prompt: a fresh prompt, like Python's REPL
            out.write("\n")
            continue
        if line is None:
            if interactive:
                out.write("\n")
                out.flush()
            return 0
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        try:
            text = _answer(smr, args, history, out)
        except KeyboardInterrupt:
            _error("smr: answer interrupted")
            history.pop()
            continue
        except ClientValidationError:
            raise
        except SageMakerRuntimeError as exc:
            _error(f"smr: error: {type(exc).__name__}: {exc.message}")
            history.pop()
            continue
        history.append({"role": "assistant", "content": text})


def _read_turn(interactive: bool) -> str | None:
    """The next line the user typed (without its newline); ``None`` at end of input."""
    if interactive:
        try:
            return input(_PROMPT)
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.rstrip("\r\n") if line else None


def _answer(
    smr: SageMakerRuntime, args: argparse.Namespace, history: list[ChatMessage], out: TextIO
) -> str:
    """Stream one answer to ``out``; return its text."""
    builder = GenerationBuilder(started=time.monotonic())
    try:
        with smr.chat_stream(
            args.endpoint,
            history,
            model=args.model,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            target_variant=args.target_variant,
            inference_component_name=args.inference_component,
        ) as stream:
            for chunk in stream.chunks():
                builder.add(chunk)
                if chunk.text:
                    out.write(chunk.text)
                    out.flush()
    finally:  # end the line, also before an error message on stderr
        out.write("\n")
        out.flush()
    generation = builder.build()
    if args.stats:
        _error(_stats(generation))
    return generation.text


def _error(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _stats(generation: Generation) -> str:
    usage = generation.usage
    parts: list[str] = []
    first = generation.time_to_first_token
    parts.append(f"time to first token {first:.3f} s" if first is not None else "no text")
    completion = usage["completion_tokens"] if usage is not None else None
    if completion and first is not None and generation.duration > first:
        parts.append(f"{completion / (generation.duration - first):.1f} tokens/s")
    parts.append(f"total {generation.duration:.3f} s")
    parts.append(f"finish_reason {generation.finish_reason}")
    if usage is not None:
        parts.append(
            f"usage prompt={usage['prompt_tokens']} completion={usage['completion_tokens']} "
            f"total={usage['total_tokens']}"
        )
    return "smr: " + ", ".join(parts)

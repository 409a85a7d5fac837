"""``smr chat``: talk to an LLM endpoint through the Messages API, streaming each answer.

With a prompt it streams one answer and exits. Without, it is a conversation: each line
read from standard input is a turn, the history is kept and sent with the next one,
answers are printed as they arrive; end of input (Ctrl-D) ends it and Ctrl-C stops the
answer in flight and returns to the prompt. A turn that fails is one ``smr: error:`` line
and the conversation goes on; the exit status is then the one-shot form's for that
failure (the highest, if several failed). ``--stats`` writes time to first token, tokens
per second, the finish reason and usage to standard error after each answer.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import TYPE_CHECKING, TextIO

from .._core._exceptions import ClientValidationError, SageMakerRuntimeError
from .._core._llm_types import ChatMessage
from .._decoders._chunks import GenerationBuilder
from ._chat_stats import STATS_HELP, AnswerTiming
from ._common import add_connection_options, build_client, is_utf8, live_text, standard_input
from ._failures import describe, exit_status

if TYPE_CHECKING:
    from .._sync._client import SageMakerRuntime
    from .._sync._stream import ResponseStream

__all__ = ["add_chat_arguments", "run_chat"]

_PROMPT = "> "
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # what a JSON escape may give
_NOT_TYPED_IN_UTF8 = "the line typed is not UTF-8 text"
_CONVERSATION = "conversation"  # the field of a turn refused for the conversation's size
_HINT = "smr: Ctrl-Z then Enter to end" if os.name == "nt" else "smr: Ctrl-D to end"


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
    parser.add_argument("--stats", action="store_true", help=STATS_HELP)
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
    interactive = standard_input().isatty()
    if interactive:
        _error(f"{_HINT}, Ctrl-C to stop an answer")
    status = 0
    number = 0
    while True:
        number += 1
        try:
            line = _read_turn(interactive, number)
        except KeyboardInterrupt:  # at the prompt: a fresh prompt, like Python's REPL
            out.write("\n")
            continue
        except ClientValidationError as exc:  # a line that is not UTF-8
            _error(describe(exc))
            status = max(status, exit_status(exc))
            continue
        if line is None:
            if interactive:
                out.write("\n")
                out.flush()
            return status
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        try:
            text = _answer(smr, args, history, out)
        except KeyboardInterrupt:
            _error("smr: answer interrupted")
            history.pop()
            continue
        except ClientValidationError as exc:
            if exc.field != _CONVERSATION:  # every turn would be refused the same way
                raise
            _error(describe(exc))  # too long: the next, shorter turn may go through
            status = max(status, exit_status(exc))
            history.pop()
            continue
        except SageMakerRuntimeError as exc:
            _error(describe(exc))
            status = max(status, exit_status(exc))
            history.pop()
            continue
        history.append({"role": "assistant", "content": text})


def _read_turn(interactive: bool, number: int) -> str | None:
    """The next line the user typed (without its newline); ``None`` at end of input.

    A line that is not UTF-8 raises :class:`ClientValidationError`.
    """
    if interactive:
        try:
            line = input(_PROMPT)
        except EOFError:
            return None
        except UnicodeDecodeError:  # under a strict UTF-8 locale
            raise ClientValidationError(_NOT_TYPED_IN_UTF8) from None
        if not is_utf8(line):  # undecodable bytes as lone surrogates (Python's UTF-8 mode)
            raise ClientValidationError(_NOT_TYPED_IN_UTF8)
        return line
    try:
        data = standard_input().readline()
    except OSError as exc:
        raise ClientValidationError(f"cannot read standard input: {exc.strerror}") from exc
    if not data:
        return None
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ClientValidationError(
            f"line {number} of standard input is not UTF-8 text "
            f"(byte {exc.start + 1} cannot start or continue a character)"
        ) from None


def _answer(
    smr: SageMakerRuntime, args: argparse.Namespace, history: list[ChatMessage], out: TextIO
) -> str:
    """Stream one answer to ``out``, ending its line; return its text, fit to be sent back."""
    started = time.monotonic()
    builder = GenerationBuilder(started=started)
    timing = AnswerTiming(started)
    with live_text(out) as write, _send(smr, args, history) as stream:
        for chunk in stream.chunks():
            timing.add(chunk, time.monotonic())
            builder.add(chunk)
            write(chunk.text)
    generation = builder.build()
    if args.stats:
        _error(timing.line(generation))
    return _LONE_SURROGATE.sub("\ufffd", generation.text)  # or no request could carry it


def _send(
    smr: SageMakerRuntime, args: argparse.Namespace, history: list[ChatMessage]
) -> ResponseStream:
    """Send the conversation; one too large to send names the conversation, not a BODY."""
    try:
        return smr.chat_stream(
            args.endpoint,
            history,
            model=args.model,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            target_variant=args.target_variant,
            inference_component_name=args.inference_component,
        )
    except ClientValidationError as exc:
        if exc.field != "body":
            raise
        message = exc.message.removeprefix("body: ")
        raise ClientValidationError(
            f"the conversation: {message}; this turn was not sent", field=_CONVERSATION
        ) from exc


def _error(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()

"""The ``smr`` command line: the subcommands, and one way every failure ends.

Expected failures print one line naming the exception, its code and the request id,
and exit non-zero; no traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from botocore.exceptions import BotoCoreError

from .._core._exceptions import SageMakerRuntimeError
from ._bidi import add_bidi_arguments, run_bidi
from ._chat import add_chat_arguments, run_chat
from ._common import refuse_undecodable_arguments
from ._demo import add_demo_arguments, run_demo
from ._failures import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    describe,
    exit_status,
)
from ._invoke import add_invoke_arguments, run_invoke
from ._invoke_async import add_invoke_async_arguments, run_invoke_async
from ._invoke_many import add_invoke_many_arguments, run_invoke_many
from ._serve import add_serve_arguments, run_serve
from ._stream import add_stream_arguments, run_stream

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_USAGE", "main"]

Run = Callable[[argparse.Namespace, TextIO], int]

# name, help, the function adding its arguments, the function running it
_SUBCOMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None], Run], ...] = (
    ("invoke", "call an endpoint and print the response body", add_invoke_arguments, run_invoke),
    (
        "stream",
        "stream a response, printing tokens as they arrive",
        add_stream_arguments,
        run_stream,
    ),
    (
        "chat",
        "chat with an LLM endpoint (Messages API), answers streamed as they arrive",
        add_chat_arguments,
        run_chat,
    ),
    (
        "bidi",
        "a bidirectional stream: send lines (or --file) while printing the answers",
        add_bidi_arguments,
        run_bidi,
    ),
    (
        "invoke-many",
        "send each line of a JSON Lines file, records written in order, with progress",
        add_invoke_many_arguments,
        run_invoke_many,
    ),
    (
        "invoke-async",
        "queue an asynchronous inference; --wait for its result",
        add_invoke_async_arguments,
        run_invoke_async,
    ),
    (
        "demo",
        "a walkthrough against the built-in local endpoint (no AWS needed)",
        add_demo_arguments,
        run_demo,
    ),
    (
        "serve",
        "run a local SageMaker Runtime endpoint (the demo LLM by default)",
        add_serve_arguments,
        run_serve,
    ),
)


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``smr`` parser, and each subcommand's parser by name."""
    parser = argparse.ArgumentParser(
        prog="smr", description="Call Amazon SageMaker endpoints, typed and streaming."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers: dict[str, argparse.ArgumentParser] = {}
    for name, summary, add_arguments, run in _SUBCOMMANDS:
        command = commands.add_parser(name, help=summary)
        add_arguments(command)
        command.set_defaults(run=run)
        parsers[name] = command
    return parser, parsers


def _parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    """The parsed command line and the subcommand's parser; positionals anywhere among options.

    ``smr chat demo --max-tokens 5 "a prompt"``: argparse stops filling positionals at
    the first option and calls the prompt "unrecognized"; the subcommand's parser then
    reads its arguments again, intermixed.
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser, parsers = _build_parser()
    args, unrecognized = parser.parse_known_args(arguments)
    command = parsers[args.command]
    if not unrecognized:
        return args, command
    if arguments[0] != args.command:  # something before the command: argparse's own error
        return parser.parse_args(arguments), command
    named = argparse.Namespace(command=args.command)
    return command.parse_intermixed_args(arguments[1:], named), command


def _discard_output(out: TextIO) -> None:
    """Point ``out``'s file descriptor at the null device, so the last flush cannot fail too.

    What Python's documentation recommends for a closed pipe (the ``signal`` module's
    "Note on SIGPIPE"); without it the interpreter prints an error while exiting.
    """
    try:
        descriptor = out.fileno()
    except (OSError, ValueError):  # not a file: nothing is flushed at exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)


def _replace_what_cannot_be_encoded(out: TextIO) -> None:
    """Characters ``out``'s encoding cannot carry print as ``?`` instead of raising.

    A model's JSON can escape a lone surrogate (``"\\ud800"``), and
    ``PYTHONIOENCODING=ascii`` leaves no room for ``é``.
    """
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the ``smr`` command line; return the exit status."""
    args, command = _parse(argv)
    stdout = out if out is not None else sys.stdout
    if stdout is None:  # started with standard output closed (smr ... >&-)
        print("smr: error: standard output is closed", file=sys.stderr)
        return EXIT_FAILURE
    _replace_what_cannot_be_encoded(stdout)
    run: Run = args.run
    try:
        refuse_undecodable_arguments(args, command)
        return run(args, stdout)
    except SageMakerRuntimeError as exc:
        print(describe(exc), file=sys.stderr)
        return exit_status(exc)
    except BotoCoreError as exc:  # configuration problems: unknown profile, no region
        print(f"smr: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("smr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (smr ... | head): end quietly, like cat
        _discard_output(stdout)
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # writing the answer failed (a full disk, smr ... > /dev/full)
        print(f"smr: error: {type(exc).__name__}: {exc.strerror or exc}", file=sys.stderr)
        _discard_output(stdout)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

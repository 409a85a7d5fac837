"""The ``smr`` command line: invoke, stream and serve SageMaker endpoints.

Expected failures print one line naming the exception, its code and the request id,
and exit non-zero; no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import BotoCoreError

from .._core._errors import PROFILE_HINT
from .._core._exceptions import (
    ClientValidationError,
    CredentialsError,
    SageMakerRuntimeError,
    ServiceError,
)
from ._chat import add_chat_arguments, run_chat
from ._common import (
    add_connection_options,
    build_client,
    read_body,
    refuse_non_json,
    write_bytes,
)
from ._demo import add_demo_arguments, run_demo
from ._invoke_async import add_invoke_async_arguments, run_invoke_async
from ._serve import add_serve_arguments, run_serve

if TYPE_CHECKING:
    pass

__all__ = ["main"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell shows for a tool that SIGPIPE ended


def _body_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", help="the endpoint name")
    parser.add_argument("body", nargs="?", help="the request body as text")
    parser.add_argument("--file", help="read the body from FILE ('-' for standard input)")
    parser.add_argument(
        "--content-type",
        default="application/json",
        help="default: application/json. With a JSON type (application/json or any +json) "
        "the body must parse as JSON, or nothing is sent",
    )
    parser.add_argument(
        "--no-json-check",
        action="store_true",
        help="send the body even if it does not parse as JSON under a JSON --content-type",
    )
    parser.add_argument("--accept", help="the response type to ask for")
    parser.add_argument("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes")
    parser.add_argument("--target-variant", help="the production variant to call")
    parser.add_argument(
        "--target-container-hostname", help="container of a multi-container endpoint"
    )
    parser.add_argument("--inference-id", help="an id for your own tracing")
    parser.add_argument("--inference-component", help="the inference component to call")
    parser.add_argument("--session-id", help="a stateful session id (or NEW_SESSION)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smr", description="Call Amazon SageMaker endpoints, typed and streaming."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    invoke = commands.add_parser("invoke", help="call an endpoint and print the response body")
    _body_options(invoke)
    invoke.add_argument("--target-model", help="the model of a multi-model endpoint")
    invoke.add_argument(
        "--json", action="store_true", help="print the whole result as JSON (body as text)"
    )
    add_connection_options(invoke)
    invoke.set_defaults(run=_run_invoke)

    stream = commands.add_parser("stream", help="stream a response, printing tokens as they arrive")
    _body_options(stream)
    stream.add_argument(
        "--format",
        default="auto",
        choices=["auto", "tgi", "openai", "lmi", "json", "text"],
        help="how the model server writes tokens (default: auto-detect)",
    )
    shown = stream.add_mutually_exclusive_group()
    shown.add_argument("--events", action="store_true", help="print the typed events instead")
    shown.add_argument("--raw", action="store_true", help="write the payload bytes unchanged")
    add_connection_options(stream)
    stream.set_defaults(run=_run_stream)

    chat = commands.add_parser(
        "chat", help="chat with an LLM endpoint (Messages API), answers streamed as they arrive"
    )
    add_chat_arguments(chat)
    chat.set_defaults(run=run_chat)

    invoke_async = commands.add_parser(
        "invoke-async", help="queue an asynchronous inference; --wait for its result"
    )
    add_invoke_async_arguments(invoke_async)
    invoke_async.set_defaults(run=run_invoke_async)

    demo = commands.add_parser(
        "demo", help="a walkthrough against the built-in local endpoint (no AWS needed)"
    )
    add_demo_arguments(demo)
    demo.set_defaults(run=run_demo)

    serve = commands.add_parser(
        "serve", help="run a local SageMaker Runtime endpoint (the demo LLM by default)"
    )
    add_serve_arguments(serve)
    serve.set_defaults(run=run_serve)
    return parser


def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "content_type": args.content_type,
        "accept": args.accept,
        "custom_attributes": args.custom_attributes,
        "target_variant": args.target_variant,
        "target_container_hostname": args.target_container_hostname,
        "inference_id": args.inference_id,
        "inference_component_name": args.inference_component,
        "session_id": args.session_id,
    }


def _body(args: argparse.Namespace) -> bytes:
    body = read_body(args) or b""
    if not args.no_json_check:
        refuse_non_json(body, args.content_type)
    return body


def _run_invoke(args: argparse.Namespace, out: TextIO) -> int:
    body = _body(args)
    with build_client(args) as smr:
        result = smr.invoke(args.endpoint, body, target_model=args.target_model, **_common(args))
    if args.json:
        shaped = dict(result)
        shaped["body"] = result["body"].decode("utf-8", "replace")
        write_bytes(out, (json.dumps(shaped, indent=2) + "\n").encode())
    else:
        write_bytes(out, result["body"])
        if not result["body"].endswith(b"\n") and out.isatty():
            out.write("\n")
            out.flush()
    return 0


def _run_stream(args: argparse.Namespace, out: TextIO) -> int:
    body = _body(args)
    with build_client(args) as smr, smr.stream(args.endpoint, body, **_common(args)) as stream:
        if args.events:
            for event in stream:
                out.write(f"{event!r}\n")
                out.flush()
        elif args.raw:
            for data in stream.payloads():
                write_bytes(out, data)
        else:
            try:
                for token in stream.tokens(args.format):
                    out.write(token)
                    out.flush()
            finally:  # end the line, also before an error message on stderr
                out.write("\n")
                out.flush()
    return 0


# The Python arguments a message can name, as the command line spells them.
_OPTIONS: Mapping[str, str] = {
    "region_name": "--region",
    "endpoint_url": "--endpoint-url",
    "read_timeout": "--read-timeout",
    "max_attempts": "--max-attempts",
    "endpoint_name": "ENDPOINT",
    "body": "BODY",
    "content_type": "--content-type",
    "accept": "--accept",
    "custom_attributes": "--custom-attributes",
    "target_model": "--target-model",
    "target_variant": "--target-variant",
    "target_container_hostname": "--target-container-hostname",
    "inference_id": "--inference-id",
    "inference_component_name": "--inference-component",
    "session_id": "--session-id",
    "input_location": "--input",
    "request_ttl_seconds": "--request-ttl",
    "invocation_timeout_seconds": "--invocation-timeout",
}
# Python spellings inside messages, as whole phrases first.
_PHRASES: Mapping[str, str] = {
    PROFILE_HINT: "--profile NAME",
    "region_name=": "--region REGION",
    "read_timeout in botocore.config.Config": "--read-timeout",
}
# Only names with an underscore are replaced inside a message: "body" is also a word.
_ARGUMENT_WORDS = re.compile(r"\b(" + "|".join(name for name in _OPTIONS if "_" in name) + r")\b")


def _command_line_message(exc: SageMakerRuntimeError) -> str:
    """``exc.message`` naming the command line's options instead of Python arguments."""
    message = exc.message
    field = exc.field if isinstance(exc, ClientValidationError) else None
    option = _OPTIONS.get(field) if field is not None else None
    if option is not None and message.startswith(f"{field}: "):
        message = f"{option}: {message.removeprefix(f'{field}: ')}"
    for python, command_line in _PHRASES.items():
        message = message.replace(python, command_line)
    return _ARGUMENT_WORDS.sub(lambda match: _OPTIONS[match.group(1)], message)


def _describe(exc: SageMakerRuntimeError) -> str:
    parts = [type(exc).__name__]
    if isinstance(exc, ServiceError):
        parts.append(f"code={exc.code}")
        if exc.http_status is not None:
            parts.append(f"status={exc.http_status}")
    error_code = getattr(exc, "error_code", None)
    if isinstance(error_code, str):
        parts.append(f"error_code={error_code}")
    if exc.request_id:
        parts.append(f"request_id={exc.request_id}")
    return f"smr: error: {' '.join(parts)}: {_command_line_message(exc)}"


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


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the ``smr`` command line; return the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    stdout = out if out is not None else sys.stdout
    run: Callable[[argparse.Namespace, TextIO], int] = args.run
    try:
        return run(args, stdout)
    except (ClientValidationError, CredentialsError) as exc:  # nothing was sent
        print(_describe(exc), file=sys.stderr)
        return EXIT_USAGE
    except SageMakerRuntimeError as exc:
        print(_describe(exc), file=sys.stderr)
        return EXIT_FAILURE
    except BotoCoreError as exc:  # configuration problems: unknown profile, no region
        print(f"smr: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("smr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (smr ... | head): end quietly, like cat
        _discard_output(stdout)
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())

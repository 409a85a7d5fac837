"""What the ``smr`` subcommands share: connection and request options, the body, the client."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, cast

from .._core._exceptions import ClientValidationError

if TYPE_CHECKING:
    from .._sync._client import SageMakerRuntime


def add_connection_options(parser: argparse.ArgumentParser, *, s3: bool = False) -> None:
    """``--endpoint-url``, ``--region``, ``--profile``, timeouts and retries (and S3's URL)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--endpoint-url", help="SageMaker Runtime URL (default: boto3's)")
    group.add_argument("--region", help="AWS region (default: boto3's)")
    group.add_argument("--profile", help="AWS profile from your config files")
    group.add_argument("--read-timeout", type=float, help="seconds to wait for data")
    group.add_argument(
        "--max-attempts", type=int, help="attempts in total for retryable failures (default 3)"
    )
    if s3:
        group.add_argument(
            "--s3-endpoint-url", help="S3 URL for --wait and --upload-to (default: boto3's)"
        )


# Options naming local files: any bytes the file system accepts are fine there.
_PATH_OPTIONS = frozenset({"file", "output", "config"})


def refuse_undecodable_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Raise :class:`ClientValidationError` for an argument whose bytes are not UTF-8.

    Python hands such bytes over as lone surrogates, which no request can carry.
    ``parser`` is the subcommand's: the message names the option, or the positional.
    """
    for name, value in vars(args).items():
        values = cast("list[object]", value) if isinstance(value, list) else [value]
        texts = [text for text in values if isinstance(text, str)]  # repeatable options too
        if name not in _PATH_OPTIONS and not all(is_utf8(text) for text in texts):
            raise ClientValidationError(f"{_argument_name(name, parser)} is not UTF-8 text")


def _argument_name(dest: str, parser: argparse.ArgumentParser) -> str:
    """``--dest-name`` if ``parser`` has that option, else the positional's ``DEST``."""
    option = "--" + dest.replace("_", "-")
    usage = parser.format_usage()
    return option if re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", usage) else dest.upper()


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def standard_input() -> BinaryIO:
    """Standard input's bytes; :class:`ClientValidationError` if it was closed (``<&-``)."""
    if sys.stdin is None:
        raise ClientValidationError("standard input is closed")
    return sys.stdin.buffer


def read_standard_input() -> bytes:
    """All of standard input, or :class:`ClientValidationError` saying why it cannot be read."""
    try:
        return standard_input().read()
    except OSError as exc:  # a directory (< /tmp), a descriptor opened for writing only
        raise ClientValidationError(f"cannot read standard input: {exc.strerror}") from exc


def read_body(args: argparse.Namespace) -> bytes | None:
    """The body from the ``body`` argument or ``--file`` (``-`` is standard input)."""
    if args.file is not None and args.body is not None:
        raise ClientValidationError("pass the body as an argument or with --file, not both")
    if args.file == "-":
        return read_standard_input()
    if args.file is not None:
        try:
            with open(args.file, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise ClientValidationError(f"cannot read --file: {exc.strerror}", field="file")
    return None if args.body is None else str(args.body).encode("utf-8")


def add_request_options(parser: argparse.ArgumentParser) -> None:
    """ENDPOINT, BODY, ``--file`` and the request headers of ``invoke`` and ``stream``."""
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


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``invoke``/``stream`` that :func:`add_request_options` reads."""
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


def request_body(args: argparse.Namespace) -> bytes:
    """The body to send: checked as JSON under a JSON ``--content-type`` unless told not to."""
    body = read_body(args) or b""
    if not args.no_json_check:
        refuse_non_json(body, args.content_type)
    return body


def write_bytes(out: TextIO, data: bytes) -> None:
    """Write all of ``data`` to ``out``'s binary buffer (as text if it has none), then flush.

    A buffered write can return a short count without an error, when the reader of a pipe
    closes it in the middle of a large write; writing the rest raises the
    ``BrokenPipeError`` that ``smr``'s main turns into a quiet exit.
    """
    out.flush()  # what was written as text goes first
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode("utf-8", "replace"))
    else:
        rest = memoryview(data)
        while rest:
            rest = rest[buffer.write(rest) :]
    out.flush()


@contextmanager
def live_text(out: TextIO) -> Generator[Callable[[str], None], None, None]:
    """A writer printing text to ``out`` as it arrives; the line is ended on leaving.

    Ended always when the text ended normally (one line per answer) and on Ctrl-C (the
    terminal echoed ``^C`` on it); after a failure only if text is on it, so the error's
    line on standard error follows no empty line.
    """
    open_line = False  # text written since the last newline

    def write(text: str) -> None:
        nonlocal open_line
        if text:
            out.write(text)
            out.flush()
            open_line = not text.endswith("\n")

    try:
        yield write
    except KeyboardInterrupt:
        _end_line(out)
        raise
    except BaseException:
        if open_line:
            _end_line(out)
        raise
    _end_line(out)


def _end_line(out: TextIO) -> None:
    out.write("\n")
    out.flush()


def is_json_type(content_type: str) -> bool:
    """Whether ``content_type`` is JSON: ``application/json`` or a ``+json`` type."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def refuse_non_json(body: bytes, content_type: str) -> None:
    """Raise :class:`ClientValidationError` for a JSON ``content_type`` and a body that is not JSON.

    The message says where parsing stopped, never what the body holds.
    """
    if not is_json_type(content_type):
        return
    if not body.strip():
        problem = "the body is empty"
    else:
        try:
            json.loads(body)
        except UnicodeDecodeError:
            problem = "the body is not JSON (not UTF-8 text)"
        except json.JSONDecodeError as exc:
            problem = f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        else:
            return
    raise ClientValidationError(
        f"{problem}, but --content-type is {content_type}: pass the body's own --content-type "
        "(e.g. text/plain), or --no-json-check to send it as it is",
        field="content_type",
    )


def build_client(args: argparse.Namespace, *, connections: int | None = None) -> SageMakerRuntime:
    """A client from the connection options (a boto3 session for ``--profile``/``--region``).

    ``connections``: the HTTP connections it keeps (the client keeps 64 unless told).
    """
    import boto3
    from botocore.config import Config

    from .._core._retry import RetryPolicy
    from .._sync._client import SageMakerRuntime

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    settings: dict[str, Any] = {"read_timeout": args.read_timeout} if args.read_timeout else {}
    if connections is not None:
        settings["max_pool_connections"] = connections
    config = Config(**settings) if settings else None
    retry = RetryPolicy(max_attempts=args.max_attempts) if args.max_attempts else None
    return SageMakerRuntime(
        session=session,
        endpoint_url=args.endpoint_url,
        config=config,
        retry=retry,
        s3_endpoint_url=getattr(args, "s3_endpoint_url", None),
    )

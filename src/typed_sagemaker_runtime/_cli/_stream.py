"""``smr stream ENDPOINT [BODY]``: stream a response, printing tokens as they arrive."""

from __future__ import annotations

import argparse
from typing import TextIO, get_args

from .._decoders._tokens import TokenFormat
from ._common import (
    add_connection_options,
    add_request_options,
    build_client,
    live_text,
    request_body,
    request_options,
    write_bytes,
)

__all__ = ["add_stream_arguments", "run_stream"]


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments and options of ``smr stream``."""
    add_request_options(parser)
    parser.add_argument(
        "--format",
        default="auto",
        choices=get_args(TokenFormat),
        help="how the model server writes tokens (default: auto-detect)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--events", action="store_true", help="print the typed events instead")
    shown.add_argument("--raw", action="store_true", help="write the payload bytes unchanged")
    add_connection_options(parser)


def run_stream(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``smr stream``; return the exit status."""
    body = request_body(args)
    with (
        build_client(args) as smr,
        smr.stream(args.endpoint, body, **request_options(args)) as stream,
    ):
        if args.events:
            for event in stream:
                out.write(f"{event!r}\n")
                out.flush()
        elif args.raw:
            for data in stream.payloads():
                write_bytes(out, data)
        else:
            with live_text(out) as write:
                for token in stream.tokens(args.format):
                    write(token)
    return 0

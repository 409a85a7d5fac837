"""``smr invoke ENDPOINT [BODY]``: call an endpoint and print the response body."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from ._common import (
    add_connection_options,
    add_request_options,
    build_client,
    request_body,
    request_options,
    write_bytes,
)

__all__ = ["add_invoke_arguments", "run_invoke"]


def add_invoke_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments and options of ``smr invoke``."""
    add_request_options(parser)
    parser.add_argument("--target-model", help="the model of a multi-model endpoint")
    parser.add_argument(
        "--json", action="store_true", help="print the whole result as JSON (body as text)"
    )
    add_connection_options(parser)


def run_invoke(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``smr invoke``; return the exit status."""
    body = request_body(args)
    with build_client(args) as smr:
        result = smr.invoke(
            args.endpoint, body, target_model=args.target_model, **request_options(args)
        )
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

"""``smr invoke-async ENDPOINT``: queue an asynchronous inference and, with ``--wait``, its result.

::

    smr invoke-async my-endpoint '{"inputs": "..."}'              # inline body (<= 128,000 bytes)
    smr invoke-async my-endpoint --input s3://bucket/in/req.json  # the request is in S3
    smr invoke-async my-endpoint --file big.json --upload-to s3://bucket/in/
    smr invoke-async my-endpoint --file req.json --wait --timeout 600 > result.json

Without ``--wait`` it prints the inference id and the output and failure locations as JSON.
With it, a progress line with the elapsed time is kept up to date on standard error (when
that is a terminal), then the result body goes to standard output, or to ``--output``.
Expected failures raise this package's exceptions; ``smr``'s main prints them as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from .._core._exceptions import ClientValidationError
from ._common import add_connection_options, build_client, read_body, write_bytes

if TYPE_CHECKING:
    from .._core._types import InvokeAsyncResult
    from .._sync._client import SageMakerRuntime

__all__ = ["add_invoke_async_arguments", "run_invoke_async"]


def add_invoke_async_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``smr invoke-async`` to ``parser`` (a subcommand's parser)."""
    parser.add_argument("endpoint", help="the endpoint name")
    parser.add_argument(
        "body", nargs="?", help="the request body as text (inline: at most 128,000 bytes)"
    )
    source = parser.add_argument_group("input (one of: BODY, --file, --input)")
    source.add_argument("--file", help="read the body from FILE ('-' for standard input)")
    source.add_argument(
        "--input", metavar="S3_URI", help="the S3 object holding the request (InputLocation)"
    )
    source.add_argument(
        "--upload-to",
        metavar="S3_PREFIX",
        help="upload the body under this S3 prefix and pass its location "
        "(for bodies over 128,000 bytes)",
    )
    request = parser.add_argument_group("request")
    request.add_argument(
        "--content-type", default="application/json", help="default: application/json"
    )
    request.add_argument("--accept", help="the response type to ask for")
    request.add_argument("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes")
    request.add_argument("--inference-id", help="an id for your own tracing")
    request.add_argument(
        "--request-ttl", type=int, metavar="SECONDS", help="queue TTL, 60-21600 (default 6 h)"
    )
    request.add_argument(
        "--invocation-timeout",
        type=int,
        metavar="SECONDS",
        help="how long the model may run, 1-3600 (default 900)",
    )
    waiting = parser.add_argument_group("waiting")
    waiting.add_argument("--wait", action="store_true", help="wait for the result and print it")
    waiting.add_argument(
        "--timeout", type=float, default=900.0, metavar="SECONDS", help="default: 900"
    )
    waiting.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="longest pause between S3 polls (default 5; polling starts at 0.1 s)",
    )
    waiting.add_argument("--output", metavar="FILE", help="write the result to FILE, streamed")
    add_connection_options(parser, s3=True)


def _submit(smr: SageMakerRuntime, args: argparse.Namespace) -> InvokeAsyncResult:
    body = read_body(args)
    common: dict[str, Any] = {
        "content_type": args.content_type,
        "accept": args.accept,
        "custom_attributes": args.custom_attributes,
        "inference_id": args.inference_id,
        "request_ttl_seconds": args.request_ttl,
        "invocation_timeout_seconds": args.invocation_timeout,
    }
    if args.upload_to is not None:
        if body is None:
            raise ClientValidationError("--upload-to needs a body (BODY or --file)")
        if args.input is not None:
            raise ClientValidationError("pass --input or --upload-to, not both")
        return smr.invoke_async_upload(args.endpoint, body, s3_prefix=args.upload_to, **common)
    return smr.invoke_async(args.endpoint, input_location=args.input, body=body, **common)


class _Progress:
    """The ``--wait`` progress line on standard error, rewritten in place on a terminal."""

    def __init__(self, err: TextIO, job: InvokeAsyncResult) -> None:
        self._err = err
        self._live = err.isatty()
        self._what = job["inference_id"] or job["output_location"] or "the result"
        self._started = time.monotonic()
        if self._live:
            self(0.0)
        else:
            err.write(f"waiting for {self._what}...\n")
            err.flush()

    def __call__(self, elapsed: float) -> None:
        if self._live:
            self._err.write(f"\rwaiting for {self._what}: {elapsed:.1f} s\x1b[K")
            self._err.flush()

    def finish(self, outcome: str) -> None:
        elapsed = time.monotonic() - self._started
        if self._live:
            self._err.write(f"\r{outcome} after {elapsed:.1f} s\x1b[K\n")
        else:
            self._err.write(f"{outcome} after {elapsed:.1f} s\n")
        self._err.flush()


def _write_body(out: TextIO, body: bytes) -> None:
    write_bytes(out, body)
    if body and not body.endswith(b"\n") and out.isatty():
        out.write("\n")
        out.flush()


def run_invoke_async(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``smr invoke-async`` with parsed ``args``; return the exit status.

    Prints to ``out`` and ``err`` (default: the process's standard output and error).
    Expected failures raise :class:`~typed_sagemaker_runtime.SageMakerRuntimeError`
    subclasses (``AsyncInferenceFailedError``, ``AsyncInferenceTimeoutError``, ...).
    """
    stdout: TextIO = sys.stdout if out is None else out
    stderr: TextIO = sys.stderr if err is None else err
    with build_client(args) as smr:
        job = _submit(smr, args)
        if not args.wait:
            shown = {
                "inference_id": job["inference_id"],
                "output_location": job["output_location"],
                "failure_location": job["failure_location"],
            }
            stdout.write(json.dumps(shown, indent=2) + "\n")
            stdout.flush()
            return 0
        progress = _Progress(stderr, job)
        try:
            result = smr.wait_for_async_result(
                job,
                timeout=args.timeout,
                poll_interval=args.poll_interval,
                dest=args.output,
                progress=progress,
            )
        except KeyboardInterrupt:
            progress.finish("interrupted")
            raise
        except Exception:
            progress.finish("failed")
            raise
        progress.finish("done")
    if args.output is None:
        _write_body(stdout, result["body"])
    return 0

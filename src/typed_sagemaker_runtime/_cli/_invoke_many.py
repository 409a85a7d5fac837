"""``smr invoke-many ENDPOINT INPUT.jsonl -o OUTPUT.jsonl``: one request per input line.

Records are sent with ``invoke_many`` (adaptive concurrency unless ``--concurrency N``),
each line as ``application/json`` when it parses as JSON, else as ``text/plain``
(``--content-type`` sends every line with the type it names), and written to OUTPUT
in input order, one line each, as soon as they complete an in-order prefix. Ctrl-C
stops sending, waits for what is in flight, writes what completes the prefix and exits
130; ``--resume`` continues from there.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from .._base._bulk_request import TypedBody
from .._core._exceptions import ClientValidationError
from ._common import add_connection_options, build_client, standard_input
from ._failures import EXIT_FAILURE, EXIT_INTERRUPTED
from ._interrupts import Interrupts
from ._jsonl import (
    JSON_TYPE,
    TEXT_TYPE,
    InputLine,
    count_records,
    error_code,
    error_line,
    input_lines,
    is_json,
    result_line,
)
from ._jsonl_output import Done, OutputFile, open_output
from ._progress import Snapshot, Ticker, clock, open_display

if TYPE_CHECKING:
    from .._core._bulk_types import InvokeOutcome
    from .._sync._invoke_many import InvokeMany

__all__ = ["add_invoke_many_arguments", "run_invoke_many"]


def _concurrency(text: str) -> int | str:
    if text == "auto":
        return text
    return _positive(text)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return number


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= threading.TIMEOUT_MAX:  # inf: no wait that long (OverflowError)
        raise argparse.ArgumentTypeError(
            f"expected seconds > 0, at most {threading.TIMEOUT_MAX:.0f}, got {text!r}"
        )
    return seconds


def add_invoke_many_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments and options of ``smr invoke-many``."""
    parser.add_argument("endpoint", help="the endpoint name")
    # dest "file": a path, which may be any bytes (not checked as UTF-8 like other arguments)
    parser.add_argument(
        "file", metavar="INPUT.jsonl", help="one request body per line ('-': standard input)"
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT.jsonl", help="one record per line"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue after the last record OUTPUT holds"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default="auto",
        metavar="N|auto",
        help="requests in flight: a fixed N, or auto (default) to find the endpoint's capacity",
    )
    parser.add_argument(
        "--max-concurrency", type=_positive, default=64, help="the most auto tries (default 64)"
    )
    parser.add_argument(
        "--content-type",
        help="the type of every record (default: each line's own, application/json when it "
        "parses as JSON, else text/plain)",
    )
    parser.add_argument("--accept", help="the response type to ask for")
    parser.add_argument("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes")
    parser.add_argument("--target-variant", help="the production variant to call")
    parser.add_argument("--target-model", help="the model of a multi-model endpoint")
    parser.add_argument(
        "--target-container-hostname", help="container of a multi-container endpoint"
    )
    parser.add_argument("--inference-component", help="the inference component to call")
    parser.add_argument(
        "--progress-interval",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="seconds between progress lines when standard error is not a terminal (default 2)",
    )
    add_connection_options(parser)


def _open_input(path: str) -> IO[bytes]:
    if path == "-":
        return standard_input()
    try:
        return open(path, "rb")  # closed by run_invoke_many
    except OSError as exc:
        raise ClientValidationError(f"cannot read INPUT: {exc.strerror}", field="file")


def _total(path: str, source: IO[bytes], after: int) -> int | None:
    """How many records INPUT holds after index ``after``; ``None`` unless INPUT is a
    regular file (standard input, a pipe such as ``<(zcat in.gz)``: read once only)."""
    if path == "-" or not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
        return None
    with open(path, "rb") as lines:
        total = count_records(lines, after=after)
    if total is None:
        raise ClientValidationError(
            f"OUTPUT's last record (index {after}) is not a record of INPUT: "
            "--resume continues the OUTPUT of this INPUT only",
            field="output",
        )
    return total


def run_invoke_many(args: argparse.Namespace, _out: TextIO) -> int:
    """Run ``smr invoke-many``; return the exit status (standard output is not used)."""
    source = _open_input(args.file)
    try:  # INPUT first: a mistyped INPUT leaves no empty OUTPUT behind
        output, done = open_output(
            args.output,
            input_path=None if args.file == "-" else args.file,
            resume=args.resume,
            overwrite=args.overwrite,
        )
        try:
            total = _total(args.file, source, done.last_index)
            records = input_lines(source, after=done.last_index)
            if sys.stderr is not None:
                return _Run(args, output, done, sys.stderr).run(records, total)
            with open(os.devnull, "w") as nowhere:  # started with standard error closed (2>&-)
                return _Run(args, output, done, nowhere).run(records, total)
        finally:
            output.close()
    finally:
        if args.file != "-":
            source.close()


class _Run:
    """One run: the records sent, their lines written in order, the counters, the display."""

    def __init__(
        self, args: argparse.Namespace, output: OutputFile, done: Done, err: TextIO
    ) -> None:
        self._args = args
        self._err = err
        self._output = output
        self._done = done
        self._written = 0
        self._failed = 0
        # The indexes of the records sent whose lines are not written yet, in input order
        # (blank lines are not sent, so an index is not the outcome's).
        self._pending: deque[int] = deque()
        self._invocation: InvokeMany | None = None
        self._total: int | None = None
        self._stopping = False

    def run(self, records: Iterator[InputLine], total: int | None) -> int:
        args = self._args
        if self._done.torn:
            self._tell(
                "smr: OUTPUT's last line was cut short (a run that ended abruptly): "
                "removed, and its record is sent again"
            )
        self._total = total
        started = time.monotonic()
        most = args.concurrency if isinstance(args.concurrency, int) else args.max_concurrency
        with build_client(args, connections=most) as smr:  # a connection per request in flight
            self._invocation = smr.invoke_many(
                args.endpoint,
                # TypedBody is package-private: the public bodies= type does not name it
                cast("Iterable[bytes]", self._bodies(records)),
                concurrency=args.concurrency,
                max_concurrency=args.max_concurrency,
                **self._request_options(),
            )
            display = open_display(self._err, self._total, interval=args.progress_interval)
            ticker = Ticker(display, self._snapshot)
            interrupts = Interrupts(self._stop, lambda: ticker.close(final=False))
            try:
                with interrupts, self._invocation as invocation:
                    for outcome in invocation:
                        interrupts.write(self._output.write_line, self._line(outcome))
            finally:
                ticker.close()
        summary = self._summary(time.monotonic() - started, interrupted=interrupts.interrupted)
        self._tell(summary)
        if interrupts.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILURE if self._failed or self._done.failed else 0

    def _tell(self, line: str) -> None:
        """``line`` on standard error, if it takes it: a full one (``2>/dev/full``) does not
        fail the run, as it does not stop the progress lines."""
        with suppress(OSError, ValueError):
            print(line, file=self._err, flush=True)

    def _request_options(self) -> dict[str, Any]:
        args = self._args
        return {
            "content_type": args.content_type or None,
            "accept": args.accept,
            "custom_attributes": args.custom_attributes,
            "target_variant": args.target_variant,
            "target_model": args.target_model,
            "target_container_hostname": args.target_container_hostname,
            "inference_component_name": args.inference_component,
        }

    def _bodies(self, records: Iterable[InputLine]) -> Iterator[bytes | TypedBody]:
        """Each line as it is, with its own type unless ``--content-type`` names one."""
        for record in records:
            self._pending.append(record.index)
            if self._args.content_type:
                yield record.body
            else:
                yield TypedBody(record.body, JSON_TYPE if is_json(record.body) else TEXT_TYPE)

    def _line(self, outcome: InvokeOutcome) -> bytes:
        index = self._pending.popleft()
        self._written += 1
        if outcome.error is not None:
            self._failed += 1
            return error_line(index, error_code(outcome.error), outcome.error.message)
        assert outcome.result is not None
        return result_line(index, outcome.result["body"])

    def _stop(self) -> None:
        self._stopping = True
        if self._invocation is not None:
            self._invocation.stop()

    def _snapshot(self) -> Snapshot:
        stats = self._invocation.stats if self._invocation is not None else None
        return Snapshot(
            written=self._written,
            total=self._total,
            failed=self._failed,
            throttled=0 if stats is None else stats.throttled,
            retried=0 if stats is None else stats.retried,
            in_flight=0 if stats is None else stats.in_flight,
            records_per_second=0.0 if stats is None else stats.records_per_second,
            stopping=self._stopping,
        )

    def _summary(self, elapsed: float, *, interrupted: bool) -> str:
        snapshot = self._snapshot()
        rate = self._written / elapsed if elapsed > 0 else 0.0
        head = "smr: interrupted: " if interrupted else "smr: "
        done = self._done
        failed_before = f", {done.failed:,} of them failed" if done.failed else ""
        earlier = (
            f" (after the {done.records:,} OUTPUT held{failed_before})" if done.records else ""
        )
        tail = "; --resume continues" if interrupted else ""
        return (
            f"{head}{self._written:,} records{earlier}, {self._written - self._failed:,} ok, "
            f"{self._failed:,} failed, {snapshot.throttled:,} throttled, "
            f"{snapshot.retried:,} retried, {clock(elapsed)} elapsed, {rate:,.0f} records/s{tail}"
        )

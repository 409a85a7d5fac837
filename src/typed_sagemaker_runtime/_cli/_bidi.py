"""``smr bidi ENDPOINT``: a bidirectional stream, sending standard input while printing answers.

Each line of standard input is sent as a UTF8 part as soon as it is read (``--file``:
a file's bytes as BINARY parts, paced with ``--rate``), from the stream's sender thread,
while the main thread prints the model's answers as they arrive. The end of the input
ends the request and waits for the answer's end; Ctrl-C closes the stream at once.
"""

from __future__ import annotations

import argparse
import codecs
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, TextIO

from .._base._stream import raise_for_event
from .._core._bidi_events import MAX_PART_BYTES, OPERATION, BidiPayloadPart
from .._core._exceptions import ClientValidationError, StreamDecodeError
from ._bidi_input import Source, chunks, lines
from ._common import write_bytes
from ._failures import EXIT_USAGE

if TYPE_CHECKING:
    from .._sync._bidi_stream import BidiStream
    from .._sync._client import SageMakerRuntime

__all__ = ["add_bidi_arguments", "run_bidi"]

_DESCRIPTION = """\
Open a bidirectional stream (InvokeEndpointWithBidirectionalStream) and print the
model's answers as they arrive, while sending.

Each line of standard input is sent as one UTF8 part as soon as it is read, WITHOUT its
newline (--keep-newlines sends it as read); blank lines are not sent. With --file, the
file's bytes are sent as BINARY parts of --chunk-bytes, at --rate bytes per second if
given. The end of the input (Ctrl-D on a terminal) ends the request, then smr waits for
the rest of the answer; Ctrl-C aborts at once (exit 130).

UTF8 answers are printed as text as they arrive (PARTIAL parts too), with a newline
after each COMPLETE message unless it ends with one. BINARY answers print a note
"[N bytes]" per message, or are written unchanged to --binary-output FILE.

Errors (an error response such as 403 or 424, an error event from the model) are one
"smr: error:" line on standard error and a non-zero exit.
"""

_EXAMPLES = """\
examples:
  printf 'hello\\nworld\\n' | smr bidi my-endpoint
  smr bidi my-endpoint --file call.raw --rate 32000 \\
      --model-invocation-path v1/listen --model-query-string model=nova-3
"""
_CHUNK_BYTES = 3200  # 100 ms of 16 kHz 16-bit mono audio
_TYPING_TIMEOUT = 24 * 3600.0  # botocore refuses no limit at all
_HINT = (
    "smr: type lines to send; Ctrl-Z then Enter to end, Ctrl-C to abort"
    if os.name == "nt"
    else "smr: type lines to send; Ctrl-D to end, Ctrl-C to abort"
)


def add_bidi_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments and options of ``smr bidi``."""
    parser.description = _DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EXAMPLES
    parser.add_argument("endpoint", help="the endpoint name")
    sent = parser.add_argument_group("what is sent")
    sent.add_argument(
        "--keep-newlines",
        action="store_true",
        help="send each line with its newline (default: without it)",
    )
    sent.add_argument(
        "--file",
        metavar="PATH",
        help="send PATH's bytes as BINARY parts instead of lines ('-': standard input's bytes)",
    )
    sent.add_argument(
        "--chunk-bytes",
        type=int,
        metavar="N",
        help="bytes per part with --file (default 3200: 100 ms of 16 kHz 16-bit mono audio)",
    )
    sent.add_argument(
        "--rate",
        type=float,
        metavar="BYTES_PER_SECOND",
        help="with --file, send at this pace, e.g. 32000 for 16 kHz 16-bit mono in real time "
        "(default: as fast as the stream takes them)",
    )
    request = parser.add_argument_group("request")
    request.add_argument("--model-invocation-path", help="path the container is called at")
    request.add_argument("--model-query-string", help="query string passed to the container")
    request.add_argument("--target-variant", help="the production variant to call")
    shown = parser.add_argument_group("output")
    shown.add_argument(
        "--binary-output",
        dest="output",  # a path: any bytes the file system accepts
        metavar="FILE",
        help="write BINARY answers' bytes to FILE ('-': standard output) instead of notes",
    )
    shown.add_argument(
        "--stats",
        action="store_true",
        help="at the end, write parts sent and received and the first answer's latency to "
        "standard error",
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument(
        "--bidi-endpoint-url",
        metavar="URL",
        help="the HTTP/2 endpoint, https://HOST:PORT (default: "
        "$AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2, else the region's :8443)",
    )
    connection.add_argument("--region", help="AWS region (default: boto3's)")
    connection.add_argument("--profile", help="AWS profile from your config files")
    connection.add_argument(
        "--read-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds without an answer (or a part taken) before giving up (default 60; "
        "a day while reading lines from a terminal)",
    )


class _Stats:
    """What ``--stats`` reports."""

    def __init__(self) -> None:
        self.parts_sent = self.bytes_sent = self.parts_received = self.bytes_received = 0
        self.opened = time.monotonic()
        self.first_sent: float | None = None
        self.first_received: float | None = None

    def sent(self, size: int) -> None:
        if self.first_sent is None:
            self.first_sent = time.monotonic()
        self.parts_sent += 1
        self.bytes_sent += size

    def received(self, size: int) -> None:
        if self.first_received is None:
            self.first_received = time.monotonic()
        self.parts_received += 1
        self.bytes_received += size

    def line(self) -> str:
        parts = [
            f"smr: sent {self.parts_sent} parts ({self.bytes_sent:,} bytes), "
            f"received {self.parts_received} parts ({self.bytes_received:,} bytes)"
        ]
        if self.first_received is not None:
            if self.first_sent is not None and self.first_sent <= self.first_received:
                since, what = self.first_sent, "the first part sent"
            else:  # the model spoke first
                since, what = self.opened, "the stream opened"
            delay = self.first_received - since
            parts.append(f"first answer {delay * 1000:.1f} ms after {what}")
        parts.append(f"{time.monotonic() - self.opened:.2f} s in all")
        return "; ".join(parts)


class _Printer:
    """Prints the model's answers as they arrive: text as text, binary as notes or bytes."""

    def __init__(self, out: TextIO, binary: Callable[[bytes], None] | None, stats: _Stats) -> None:
        self._out = out
        self._binary = binary
        self._stats = stats
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._open_line = False  # text written since the last newline
        self._message_bytes = 0  # of the message in flight, PARTIAL parts so far
        self._message_ends_line = False
        self._in_message = False

    def part(self, part: BidiPayloadPart) -> None:
        self._stats.received(len(part.data))
        complete = part.completion_state != "PARTIAL"
        self._in_message = not complete
        self._message_bytes += len(part.data)
        if part.data_type == "UTF8":
            text = self._decoder.decode(part.data, final=complete)
            if self._message_bytes == len(part.data):  # a message starts
                self.end_line()
            self._write(text)
            if text:
                self._message_ends_line = text.endswith("\n")
            if complete and not self._message_ends_line:
                self.end_line(always=True)
        elif self._binary is not None:  # BINARY, or no type (which the service reads as BINARY)
            self._binary(part.data)
        elif complete:
            self.end_line()
            self._write(f"[{self._message_bytes} bytes]\n")
        if complete:
            self._message_bytes = 0
            self._message_ends_line = False

    def finish(self, stream: BidiStream) -> None:
        """The stream ended: one that ended inside a message fails as ``messages()`` does."""
        if self._in_message:
            self.end_line()
            raise StreamDecodeError(
                f"the stream ended inside a message ({self._message_bytes:,} bytes without "
                "their COMPLETE part)",
                request_id=stream.request_id,
                operation=OPERATION,
            )

    def _write(self, text: str) -> None:
        if text:
            self._out.write(text)
            self._out.flush()
            self._open_line = not text.endswith("\n")

    def after_typed_text(self) -> None:
        """The terminal's cursor is after text the user typed: answers start a new line."""
        self._open_line = True

    def end_line(self, *, always: bool = False) -> None:
        """End the line of text (``always``: even an empty one, for an empty message)."""
        if self._open_line or always:
            self._out.write("\n")
            self._out.flush()
            self._open_line = False


def _check_options(args: argparse.Namespace) -> None:
    if args.file is None:
        for value, option in ((args.rate, "--rate"), (args.chunk_bytes, "--chunk-bytes")):
            if value is not None:
                raise ClientValidationError(f"{option} needs --file (lines are sent as read)")
    elif args.keep_newlines:
        raise ClientValidationError("--keep-newlines is for lines: --file sends bytes unchanged")
    if args.chunk_bytes is None:
        args.chunk_bytes = _CHUNK_BYTES
    if not 1 <= args.chunk_bytes <= MAX_PART_BYTES:
        raise ClientValidationError(f"--chunk-bytes must be 1 to {MAX_PART_BYTES:,}")
    if args.rate is not None and not args.rate > 0:
        raise ClientValidationError("--rate must be a positive number of bytes per second")


def _open_source(args: argparse.Namespace) -> Source:
    """Standard input or ``--file``, opened before anything is sent."""
    if args.file is not None and args.file != "-":
        try:
            return Source(os.open(args.file, os.O_RDONLY), owned=True)
        except OSError as exc:
            raise ClientValidationError(f"cannot read --file: {exc.strerror}") from exc
    if sys.stdin is None:
        raise ClientValidationError("standard input is closed")
    try:
        return Source(sys.stdin.fileno(), owned=False)
    except (OSError, ValueError) as exc:
        raise ClientValidationError("standard input has no file descriptor") from exc


def _client(args: argparse.Namespace, interactive: bool) -> SageMakerRuntime:
    """The client: a boto3 session for ``--profile``/``--region``, the bidi endpoint's URL.

    Someone typing may pause longer than a read timeout: on a terminal the stream waits
    up to a day (Ctrl-C aborts) unless ``--read-timeout`` is given.
    """
    import boto3
    from botocore.config import Config

    from .._sync._client import SageMakerRuntime

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    read_timeout = args.read_timeout
    if read_timeout is None and interactive:
        read_timeout = _TYPING_TIMEOUT
    config = Config(read_timeout=read_timeout) if read_timeout is not None else None
    return SageMakerRuntime(
        session=session, config=config, bidi_endpoint_url=args.bidi_endpoint_url
    )


def run_bidi(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``smr bidi``; return the exit status."""
    _check_options(args)
    source = _open_source(args)
    try:
        interactive = args.file is None and os.isatty(source.descriptor)
        if interactive:
            sys.stderr.write(_HINT + "\n")
            sys.stderr.flush()
        return _run(args, out, source, interactive)
    except KeyboardInterrupt:
        if out.isatty():  # the terminal echoed ^C where its cursor was: end that line
            out.write("\n")
            out.flush()
        raise
    finally:
        source.close()


def _run(args: argparse.Namespace, out: TextIO, source: Source, interactive: bool) -> int:
    stats = _Stats()
    binary, opened = _binary_writer(args.output, out)
    printer = _Printer(out, binary, stats)
    # At a terminal, a last line ended by Ctrl-D leaves the cursor after the typed text.
    typed_tail = printer.after_typed_text if interactive else None
    parts: Iterator[str] | Iterator[bytes] = (
        lines(source, args.keep_newlines, stats.sent, typed_tail)
        if args.file is None
        else chunks(source, args.chunk_bytes, args.rate, stats.sent)
    )
    try:
        with _client(args, interactive) as smr:
            try:
                stream = smr.bidi_stream(
                    args.endpoint,
                    input=parts,
                    model_invocation_path=args.model_invocation_path,
                    model_query_string=args.model_query_string,
                    target_variant=args.target_variant,
                )
            except ImportError as exc:  # awscrt, the bidi extra, is missing
                print(f"smr: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            try:
                _print_answers(stream, printer)
            finally:
                source.stop()  # before close(): its sender thread may be waiting for input
                stream.close()
    finally:
        if opened is not None:
            opened.close()
    if args.stats:
        print(stats.line(), file=sys.stderr)
    return 0


def _print_answers(stream: BidiStream, printer: _Printer) -> None:
    try:
        for event in stream:
            if isinstance(event, BidiPayloadPart):
                printer.part(event)
            else:
                printer.end_line()
                raise_for_event(event, stream.request_id, OPERATION)
        printer.finish(stream)
    except (KeyboardInterrupt, BrokenPipeError):
        raise  # Ctrl-C: run_bidi ends the line; a closed pipe takes nothing more
    except BaseException:
        printer.end_line()
        raise


def _binary_writer(
    path: str | None, out: TextIO
) -> tuple[Callable[[bytes], None] | None, BinaryIO | None]:
    """What writes BINARY answers to ``--binary-output`` (``-``: ``out``), and the file opened."""
    if path is None:
        return None, None
    if path == "-":
        return (lambda data: write_bytes(out, data)), None
    try:
        target = open(path, "wb")  # noqa: SIM115 (closed by the caller)
    except OSError as exc:
        raise ClientValidationError(f"cannot write --binary-output: {exc.strerror}") from exc

    def write(data: bytes) -> None:
        target.write(data)
        target.flush()

    return write, target

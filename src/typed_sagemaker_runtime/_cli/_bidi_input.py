"""What ``smr bidi`` sends: standard input's lines, or a file's bytes paced at a rate.

Read on the stream's sender thread (``input=``); :meth:`Source.stop` wakes a read or a
pause blocked there, so closing the stream leaves no thread waiting for input.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator

from .._core._bidi_events import MAX_PART_BYTES
from .._core._exceptions import ClientValidationError

__all__ = ["Counter", "Source", "Stopped", "chunks", "lines"]

_LINE_READ = 65536

Counter = Callable[[int], None]
"""Told the size of each part as it is handed over to be sent (``--stats``)."""


class Source:
    """A file descriptor read from the stream's sender thread; :meth:`stop` ends a read."""

    def __init__(self, descriptor: int, *, owned: bool) -> None:
        self.descriptor = descriptor
        self._owned = owned
        self._stopped = threading.Event()
        # Where select() works on any descriptor, a pipe wakes a blocked read.
        self._wake: tuple[int, int] | None = os.pipe() if os.name != "nt" else None

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes as they come; ``b""`` at the end; :class:`Stopped` once stopped."""
        if self._stopped.is_set():
            raise Stopped
        if self._wake is not None:
            ready, _, _ = select.select([self.descriptor, self._wake[0]], [], [])
            if self._wake[0] in ready:
                raise Stopped
        if self._stopped.is_set():
            raise Stopped
        try:
            return os.read(self.descriptor, size)
        except OSError as exc:  # a directory (< /tmp), a descriptor opened for writing only
            raise ClientValidationError(f"cannot read the input: {exc.strerror}") from exc

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (pacing); :class:`Stopped` if stopped meanwhile."""
        if self._stopped.wait(seconds):
            raise Stopped

    def stop(self) -> None:
        """Wake and end whatever read or pause the sender thread is in (any thread)."""
        self._stopped.set()
        if self._wake is not None:
            os.write(self._wake[1], b"x")

    def close(self) -> None:
        """Release the descriptors opened for this source."""
        if self._wake is not None:
            os.close(self._wake[0])
            os.close(self._wake[1])
        if self._owned:
            os.close(self.descriptor)


class Stopped(Exception):
    """The input was stopped: the stream is being closed, nothing more is sent."""


def lines(
    source: Source,
    keep_newlines: bool,
    sent: Counter,
    unterminated: Callable[[], None] | None = None,
) -> Iterator[str]:
    """The input's lines as they are read: with or without their newline, blank ones left out.

    ``unterminated`` is called before a last line without its newline is sent.
    """
    pending = bytearray()
    number = 0
    while True:
        data = source.read(_LINE_READ)
        if data:
            pending += data
            *complete, rest = pending.split(b"\n")
            lines = [bytes(line) + b"\n" for line in complete]
            pending = bytearray(rest)
            if len(pending) > MAX_PART_BYTES:  # no newline in sight: refuse before reading on
                raise _too_long(number + len(lines) + 1)
        else:  # the end: a last line without its newline
            lines = [bytes(pending)] if pending else []
            if pending and unterminated is not None:
                unterminated()
        for raw in lines:
            number += 1
            text = _decode_line(raw, number)
            if not keep_newlines:
                text = text.removesuffix("\n").removesuffix("\r")
            size = len(text.encode("utf-8"))
            if size > MAX_PART_BYTES:
                raise _too_long(number)
            if text:
                sent(size)
                yield text
        if not data:
            return


def _too_long(number: int) -> ClientValidationError:
    return ClientValidationError(
        f"line {number} of standard input is over the {MAX_PART_BYTES:,}-byte limit of a part"
    )


def _decode_line(raw: bytes, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientValidationError(
            f"line {number} of standard input is not UTF-8 text "
            f"(byte {exc.start + 1} cannot start or continue a character)"
        ) from None


def chunks(source: Source, size: int, rate: float | None, sent: Counter) -> Iterator[bytes]:
    """The input's bytes in parts of ``size`` (the last may be shorter), paced at ``rate``."""
    started: float | None = None
    offset = 0
    ended = False  # a terminal gives more after an end of input: read none after the first
    while not ended:
        chunk = b""
        while len(chunk) < size:
            data = source.read(size - len(chunk))
            if not data:
                ended = True
                break
            chunk += data
        if not chunk:
            return
        if rate is not None:
            # Part n goes at start + bytes before it / rate: a late part does not delay the rest.
            started = time.monotonic() if started is None else started
            delay = started + offset / rate - time.monotonic()
            if delay > 0:
                source.pause(delay)
        sent(len(chunk))
        yield chunk
        offset += len(chunk)

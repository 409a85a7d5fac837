"""Sans-I/O decoders from payload bytes to text and to lines.

``PayloadPart`` boundaries are arbitrary, so both decoders keep what they cannot
decode yet for the next ``feed``. They are strict: invalid UTF-8 raises
:class:`StreamDecodeError` instead of turning into U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from typing import Generic, TypeVar

from .._core._exceptions import GenerationError, StreamDecodeError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "BaseDecoder", "LineDecoder", "Utf8Decoder"]

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
"""The longest line (or record) a decoder holds before it raises ``StreamDecodeError``."""

_T = TypeVar("_T")
_NEWLINE = re.compile(rb"[\r\n]")
_CR = 0x0D
_LF = 0x0A


class BaseDecoder(Generic[_T]):
    """The ``feed``/``flush`` protocol shared by every decoder, and its error rule.

    When a ``feed`` fails, what it decoded before the failure is returned and the
    error is raised by the next call (``feed`` or ``flush``), so the output before
    an error does not depend on where the input was cut. ``flush`` is the last call
    and raises at once. After an error every call raises it again.
    """

    __slots__ = ("_error",)

    def __init__(self) -> None:
        self._error: StreamDecodeError | GenerationError | None = None

    @property
    def failed(self) -> bool:
        """Whether a call failed: its error is raised by every later call."""
        return self._error is not None

    def feed(self, data: bytes) -> list[_T]:
        """Decode more input; return what is now complete."""
        if self._error is not None:
            raise self._error
        out: list[_T] = []
        try:
            self._feed(data, out)
        except (StreamDecodeError, GenerationError) as exc:
            self._error = exc
            if not out:
                raise
        return out

    def flush(self) -> list[_T]:
        """Signal the end of the stream; return what was held back."""
        if self._error is not None:
            raise self._error
        out: list[_T] = []
        try:
            self._flush(out)
        except (StreamDecodeError, GenerationError) as exc:
            self._error = exc
            raise
        return out

    def _feed(self, data: bytes, out: list[_T]) -> None:
        raise NotImplementedError

    def _flush(self, out: list[_T]) -> None:
        raise NotImplementedError


class Utf8Decoder(BaseDecoder[str]):
    """Incremental, strict UTF-8: a code point split across feeds is joined.

    ``feed`` returns ``[]`` or one non-empty string. An invalid sequence, or an
    incomplete one at ``flush``, raises :class:`StreamDecodeError`.
    """

    __slots__ = ("_decoder", "_offset")

    def __init__(self) -> None:
        super().__init__()
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._offset = 0

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete character held back for the next ``feed`` (at most 3)."""
        return len(self._decoder.getstate()[0])

    def _decode(self, data: bytes, out: list[str], *, final: bool) -> None:
        held = self.buffered
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # The text before the bad sequence is valid and complete: return it too.
            valid = exc.object[: exc.start].decode("utf-8")
            if valid:
                out.append(valid)
            at = self._offset - held + exc.start
            raise StreamDecodeError(f"invalid UTF-8 at byte {at} of the stream: {exc.reason}")
        self._offset += len(data)
        if text:
            out.append(text)

    def _feed(self, data: bytes, out: list[str]) -> None:
        self._decode(data, out, final=False)

    def _flush(self, out: list[str]) -> None:
        self._decode(b"", out, final=True)


class LineDecoder(BaseDecoder[str]):
    """Split bytes into lines on ``\\n``, ``\\r\\n`` and ``\\r``; decode each whole line.

    Splitting happens on bytes, so a character split across feeds needs no care, and
    only these three breaks count: never U+2028, U+2029, U+0085, ``\\x0b``, ``\\x0c``
    or ``\\x1c``-``\\x1e``, which JSON servers write raw inside strings. A ``\\r`` that
    ends one feed and a ``\\n`` that starts the next are one break. Lines come without
    their terminator; empty lines are returned too; ``flush`` returns a last line that
    has no terminator.

    A line longer than ``max_line_bytes`` raises :class:`StreamDecodeError`, so
    memory stays bounded by the longest line. Time is linear in the input: each byte
    is searched once, however the input is cut.
    """

    __slots__ = ("_buffer", "_max_line_bytes", "_offset", "_skip_lf")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__()
        self._buffer = bytearray()  # the current line: never contains a break
        self._max_line_bytes = max_line_bytes
        self._offset = 0  # stream offset of the buffer's first byte
        self._skip_lf = False  # the last break was a "\r" that ended a feed

    @property
    def buffered(self) -> int:
        """Bytes of the incomplete last line held back for the next ``feed``."""
        return len(self._buffer)

    def skip(self, size: int) -> None:
        """Account for ``size`` bytes of whole lines taken without this decoder (a fast path).

        Only valid when nothing is buffered, and the bytes end with ``\n``.
        """
        self._offset += size
        self._skip_lf = False

    def _line(self, raw: bytes | bytearray, at: int) -> str:
        if len(raw) > self._max_line_bytes:
            raise StreamDecodeError(
                f"a line of the stream is longer than {self._max_line_bytes} bytes"
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StreamDecodeError(
                f"invalid UTF-8 at byte {at + exc.start} of the stream: {exc.reason}"
            )

    def _feed(self, data: bytes, out: list[str]) -> None:
        if not data:
            return
        skip = 0
        if self._skip_lf:
            self._skip_lf = False
            skip = 1 if data[0] == _LF else 0
        buffer = self._buffer
        source: bytes | bytearray
        if buffer:  # then the last feed did not end in "\r": skip is 0
            scan = len(buffer)
            buffer += data
            source, start = buffer, 0
        else:
            source, start, scan = data, skip, skip
        base = self._offset  # the stream offset of source[0]
        end = len(source)
        search = _NEWLINE.search
        while True:
            match = search(source, scan)
            if match is None:
                break
            stop = match.start()
            out.append(self._line(source[start:stop], base + start))
            scan = stop + 1
            if source[stop] == _CR:
                if scan == end:
                    self._skip_lf = True
                elif source[scan] == _LF:
                    scan += 1
            start = scan
        self._offset = base + start
        if source is buffer:
            del buffer[:start]
        else:
            buffer += memoryview(source)[start:]
        if len(buffer) > self._max_line_bytes:
            raise StreamDecodeError(
                f"a line of the stream is longer than {self._max_line_bytes} bytes"
            )

    def _flush(self, out: list[str]) -> None:
        self._skip_lf = False
        if self._buffer:
            line = self._line(self._buffer, self._offset)
            self._offset += len(self._buffer)
            self._buffer.clear()
            out.append(line)

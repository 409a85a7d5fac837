"""The record framing: one JSON record per SSE event or per line (``tgi``, ``openai``, ``lmi``).

:class:`RecordDecoder` splits the payload into records, as server-sent events or
JSON lines, decided on the first non-blank line; :class:`RecordTokenDecoder` turns
each record into text deltas with the readers of ``_records``, the same for the
three formats. ``_chunks`` subclasses :class:`RecordDecoder` for structured chunks.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from .._core._exceptions import StreamDecodeError
from ._records import JSON_SPACE, family, loads_stripped, raise_for_error_event, record_texts
from ._sse import ServerSentEvent, SSEParser
from ._text import DEFAULT_MAX_LINE_BYTES, BaseDecoder, LineDecoder
from ._tokens import Framing, TokenFormat

__all__ = ["RecordDecoder", "RecordTokenDecoder"]

_T = TypeVar("_T")

_SSE_LINE = re.compile(r"\ufeff?(?::|(?:data|event|id|retry)(?::|$))")


def _framing_of(line: str, hint: Framing | None) -> Framing | None:
    """The framing announced by the first non-blank line; ``None`` for a blank line."""
    stripped = line.lstrip(JSON_SPACE)
    if not stripped:
        return None
    if _SSE_LINE.match(line):
        return "sse"
    if stripped[0] in "{[":
        return "jsonl"
    return hint or "jsonl"


class RecordDecoder(BaseDecoder[_T]):
    """The framing shared by the record decoders: SSE events or JSON lines, one record each.

    Framing is decided on the first non-blank line: a comment or an SSE field
    (``data:``, ``event:``, ``id:``, ``retry:``) means server-sent events; a line
    starting with ``{`` or ``[`` means JSON lines; anything else follows
    ``framing_hint`` (from the content type), else JSON lines. SSE events of type
    ``error`` raise ``GenerationError``. Subclasses turn each record's text into
    output in ``_take_record``.
    """

    __slots__ = ("_first", "_format", "_framing", "_hint", "_lines", "_max", "_parser")

    def __init__(
        self,
        format: TokenFormat,
        *,
        framing_hint: Framing | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        super().__init__()
        self._format: TokenFormat = format
        self._hint: Framing | None = framing_hint
        self._framing: Framing | None = None
        self._lines = LineDecoder(max_line_bytes=max_line_bytes)
        self._parser = SSEParser(max_data_chars=max_line_bytes, keep_dataless_errors=True)
        self._first = True
        self._max = max_line_bytes

    @property
    def format(self) -> TokenFormat:
        """The format decoded, or detected so far for ``auto`` (``"auto"`` until known)."""
        return self._format

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete line plus characters of an undispatched event."""
        return self._lines.buffered + self._parser.buffered

    def _feed(self, data: bytes, out: list[_T]) -> None:
        # Fast path for what SSE servers write in nearly every part: one ``data:`` line
        # and a blank line. It gives exactly what the general path below gives; anything
        # else (another shape, a pending line or event, invalid UTF-8) takes that path.
        if (
            self._framing == "sse"
            and data[-2:] == b"\n\n"
            and data[:5] == b"data:"
            and len(data) <= self._max
            and data.find(b"\n", 5) == len(data) - 2
            and b"\r" not in data
            and not self._lines.buffered
            and not self._lines.failed
            and self._parser.lone_data()
        ):
            try:
                text = data[6 if data[5:6] == b" " else 5 : -2].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                self._lines.skip(len(data))
                self._parser.skip_lone_data()
                self._take_record(text, out)
                return
        self._take_lines(self._lines.feed(data), out)

    def _flush(self, out: list[_T]) -> None:
        self._take_lines(self._lines.flush(), out)
        if self._framing == "sse":
            event = self._parser.end()
            if event is not None:
                self._take_event(event, out)

    def _take_lines(self, lines: list[str], out: list[_T]) -> None:
        for line in lines:
            framing = self._framing
            if framing is None:
                framing = self._framing = _framing_of(line, self._hint)
                if framing is None:
                    continue
            if framing == "jsonl":
                self._take_record(line, out)
            else:
                event = self._parser.line(line)
                if event is not None:
                    self._take_event(event, out)

    def _take_event(self, event: ServerSentEvent, out: list[_T]) -> None:
        if event.event == "error":
            raise_for_error_event(event.data)
        self._take_record(event.data, out)

    def _take_record(self, text: str, out: list[_T]) -> None:
        raise NotImplementedError


class RecordTokenDecoder(RecordDecoder[str]):
    """``tgi``, ``openai`` and ``lmi``: one JSON record per SSE event or per line.

    Framing is decided on the first non-blank line: a comment or an SSE field
    (``data:``, ``event:``, ``id:``, ``retry:``) means server-sent events; a line
    starting with ``{`` or ``[`` means JSON lines; anything else follows
    ``framing_hint`` (from the content type), else JSON lines. Blank lines,
    comments, ``[DONE]`` and records without text are skipped.

    The three formats share one record reader, because the servers overlap: TGI's
    Messages API writes OpenAI chunks, LMI writes TGI-shaped tokens and passes vLLM
    chunks through. It yields ``token.text`` unless the token is flagged
    ``special``/``special_token``; ``choices[].delta.content``,
    ``choices[].message.content`` (a string, or the ``text`` parts of a list) or
    ``choices[].text`` of the choice with index 0 only (other choices of ``n > 1``
    are dropped; ``role``, ``tool_calls`` and ``reasoning_content`` are not answer
    text and are skipped); each string of ``outputs``;
    ``generated_text`` only when it is a whole response (see :func:`~._records.record_texts`).
    Error records raise ``GenerationError`` with the server's message (see
    :func:`~._records.raise_for_error`), as do LMI tokens with ``error_msg`` or
    ``finish_reason: "error"`` and SSE events of type ``error``. A record that is not
    JSON, or has a known key of the wrong type, raises ``StreamDecodeError``.

    With ``format="auto"``, :attr:`format` becomes ``openai`` at the first record with
    ``choices`` or ``object``, and ``tgi`` (SSE) or ``lmi`` (JSON lines) at the first
    with ``token`` or ``outputs``; decoding is the same either way.
    """

    __slots__ = ()

    def _take_record(self, text: str, out: list[str]) -> None:
        # load_record() inlined: this runs once per record of every tokens() stream.
        text = text.strip(JSON_SPACE)
        if not text or text == "[DONE]":
            return
        try:
            record = loads_stripped(text)
        except (ValueError, RecursionError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise StreamDecodeError(f"a record of the stream is not valid JSON: {message}")
        if self._format == "auto":
            self._format = family(record, self._framing or "jsonl") or "auto"
        texts = record_texts(record, first=self._first)
        if texts:
            self._first = False
            out.extend(texts)

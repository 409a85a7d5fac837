"""Choosing a stream's payload decoder: ``auto`` format detection and :func:`token_decoder`.

Every decoder has the same two methods, like httpx's decoders: ``feed(bytes)``
returns what is complete so far and ``flush()`` ends the stream. They accept the
concatenated ``PayloadPart.data`` cut anywhere, raise only ``StreamDecodeError``
or ``GenerationError``, run in time linear in the input, and hold at most one
record (line, event, JSON line) in memory. The sync and async streams drive the
same decoder objects.

The decoders live in ``_text`` (UTF-8, lines), ``_sse`` (server-sent events),
``_tokens`` (the token formats, their interface, ``text``), ``_records`` and ``_framing``
(LLM record formats) and ``_document`` (``json``); ``auto`` detection and
:func:`token_decoder` are here.
"""

from __future__ import annotations

import json
import re
from typing import Protocol, TypeVar, cast, get_args

from .._core._exceptions import ClientValidationError, GenerationError, StreamDecodeError
from ._document import DocumentTokenDecoder
from ._framing import RecordTokenDecoder
from ._sse import ServerSentEvent, SSEDecoder
from ._text import DEFAULT_MAX_LINE_BYTES, BaseDecoder, LineDecoder, Utf8Decoder
from ._tokens import Framing, TextTokenDecoder, TokenDecoder, TokenFormat

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "Utf8Decoder",
    "LineDecoder",
    "SSEDecoder",
    "ServerSentEvent",
    "TokenFormat",
    "TokenDecoder",
    "token_decoder",
    "check_format",
    "framing_hint",
    "AutoDecoder",
    "FormatDecoder",
]

_T = TypeVar("_T")
_TOKEN_FORMATS: frozenset[str] = frozenset(get_args(TokenFormat))
_JSON_LINES_TYPES = frozenset(
    (
        "application/jsonlines",
        "application/jsonl",
        "application/x-ndjson",
        "application/json-lines",
        "application/x-jsonlines",
        "application/ndjson",
    )
)
_SSE_PREFIXES = (b"data:", b"event:", b"id:", b"retry:")
_NON_BLANK = re.compile(rb"[^ \t\r\n]")
_NEWLINE = re.compile(rb"[\r\n]")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_format(format: str) -> None:
    """Raise ``ClientValidationError`` unless ``format`` is a :data:`TokenFormat`."""
    # The type first: an unhashable value (a list) cannot be looked up in a frozenset.
    given = cast(object, format)
    if not isinstance(given, str) or given not in _TOKEN_FORMATS:
        shown = repr(given) if isinstance(given, str) else f"of type {type(given).__name__}"
        raise ClientValidationError(
            f"format: unknown token format {shown}; expected one of "
            + ", ".join(sorted(_TOKEN_FORMATS)),
            field="format",
        )


def framing_hint(content_type: str | None) -> Framing | None:
    """The record framing a content type announces, if any."""
    media = _media_type(content_type)
    if media == "text/event-stream":
        return "sse"
    if media in _JSON_LINES_TYPES:
        return "jsonl"
    return None


def _is_json_object(line: bytes | bytearray) -> bool:
    try:
        return isinstance(json.loads(line.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


class FormatDecoder(Protocol[_T]):
    """A payload decoder that names its format: what :class:`AutoDecoder` drives."""

    @property
    def format(self) -> TokenFormat:
        """The format decoded (``"auto"`` while undecided)."""
        ...

    @property
    def buffered(self) -> int:
        """How much input is held back for later feeds."""
        ...

    def feed(self, data: bytes) -> list[_T]:
        """Decode more payload bytes."""
        ...

    def flush(self) -> list[_T]:
        """Signal the end of the stream."""
        ...


class AutoDecoder(BaseDecoder[_T]):
    """``auto``: pick the format from the content type, else from the first bytes.

    The decision (see :func:`token_decoder`) is the same whatever the decoders
    produce; subclasses say which decoder reads each format and how their output
    relates to text (:meth:`_said`, :meth:`_trim`, :meth:`_early`).
    """

    __slots__ = (
        "_guess",
        "_guess_error",
        "_guess_fed",
        "_guess_held",
        "_guess_texts",
        "_head",
        "_inner",
        "_max",
        "_scan",
        "_start",
    )

    def __init__(self, content_type: str | None, max_line_bytes: int) -> None:
        super().__init__()
        self._max = max_line_bytes
        self._inner: FormatDecoder[_T] | None = None
        framing = framing_hint(content_type)
        if framing is not None:
            self._inner = self._records(framing)
        elif _media_type(content_type) == "text/plain":
            self._inner = self._text()
        self._head = bytearray()  # everything received while undecided
        self._scan = 0  # where to resume searching the head
        self._start = -1  # offset of the first non-blank byte, once seen
        # A stream starting with "{" or "[" is decoded as a JSON document while we
        # wait for the end of its first line, so LMI's unframed document streams.
        self._guess: FormatDecoder[_T] | None = None
        self._guess_fed = 0
        self._guess_texts: list[_T] = []
        self._guess_held: list[_T] = []  # guess output not to be yielded before the decision
        self._guess_error: StreamDecodeError | GenerationError | None = None

    # --- what subclasses decide -----------------------------------------------------

    def _records(self, framing: Framing) -> FormatDecoder[_T]:
        raise NotImplementedError

    def _document(self) -> FormatDecoder[_T]:
        raise NotImplementedError

    def _text(self) -> FormatDecoder[_T]:
        raise NotImplementedError

    def _said(self, items: list[_T]) -> str:
        """The text that ``items`` carry."""
        raise NotImplementedError

    def _trim(self, items: list[_T], said: str) -> list[_T]:
        """``items`` without the text ``said`` they start with (already yielded)."""
        raise NotImplementedError

    def _early(self, item: _T) -> bool:  # noqa: ARG002
        """Whether the guess's ``item`` may be yielded before the format is decided."""
        return True

    # --- the decision -----------------------------------------------------------------

    @property
    def format(self) -> TokenFormat:
        """The detected format; ``"auto"`` until it is known."""
        return "auto" if self._inner is None else self._inner.format

    @property
    def buffered(self) -> int:
        """Bytes held while deciding, then what the chosen decoder holds."""
        if self._inner is not None:
            return self._inner.buffered
        return len(self._head) + (self._guess.buffered if self._guess is not None else 0)

    def _feed(self, data: bytes, out: list[_T]) -> None:
        if self._inner is not None:
            out.extend(self._inner.feed(data))
            return
        self._head += data
        self._sniff(out, final=False)

    def _flush(self, out: list[_T]) -> None:
        if self._inner is None:
            self._sniff(out, final=True)
        if self._inner is not None:
            out.extend(self._inner.flush())

    def _decide(self, inner: FormatDecoder[_T], out: list[_T], *, rest: int = 0) -> None:
        self._inner = inner
        head, self._head = self._head, bytearray()
        if len(head) > rest:
            out.extend(inner.feed(bytes(head[rest:])))

    def _sniff(self, out: list[_T], *, final: bool) -> None:
        # Every limit below is a byte position in the stream, never a feed size, so
        # the decision does not depend on how the stream was cut.
        head = self._head
        if self._start < 0:
            match = _NON_BLANK.search(head, self._scan)
            if match is None or match.start() > self._max:
                self._scan = len(head)
                if final or len(head) > self._max:
                    self._decide(self._text(), out)
                return
            self._start = self._scan = match.start()
            if head[self._start] in b"{[":
                self._guess = self._document()
        start, guess = self._start, self._guess
        if guess is None:
            opening = bytes(head[start : start + 6])
            if opening[:1] == b":" or opening.startswith(_SSE_PREFIXES):
                self._decide(self._records("sse"), out)
            elif final or not any(prefix.startswith(opening) for prefix in _SSE_PREFIXES):
                self._decide(self._text(), out)
            return
        newline = _NEWLINE.search(head, self._scan)
        stop = len(head) if newline is None else newline.start()
        self._guess_feed(guess, bytes(head[self._guess_fed : stop]), out)
        self._guess_fed = self._scan = stop
        if stop - start > self._max:  # too long for a JSON line
            self._decide_document(guess, out)
        elif newline is None:
            if final:
                self._decide_document(guess, out)
        elif _is_json_object(head[start:stop]):
            self._decide_lines(stop, out)
        else:
            self._decide_document(guess, out)

    def _guess_feed(self, guess: FormatDecoder[_T], data: bytes, out: list[_T]) -> None:
        if self._guess_error is not None or not data:
            return
        try:
            items = guess.feed(data)
        except (StreamDecodeError, GenerationError) as exc:
            self._guess_error = exc
            return
        held = self._guess_held
        for item in items:
            if not held and self._early(item):
                out.append(item)
                self._guess_texts.append(item)
            else:
                held.append(item)

    def _decide_document(self, guess: FormatDecoder[_T], out: list[_T]) -> None:
        if self._guess_error is not None:
            self._inner = guess
            self._head = bytearray()
            raise self._guess_error
        out.extend(self._guess_held)
        self._decide(guess, out, rest=self._guess_fed)

    def _decide_lines(self, stop: int, out: list[_T]) -> None:
        inner = self._records("jsonl")
        self._inner = inner
        head, self._head = self._head, bytearray()
        # The first line's text may have been yielded already by the guess.
        said = self._said(self._guess_texts)
        first = inner.feed(bytes(head[: stop + 1]))
        if said:
            first = self._trim(first, said)
        out.extend(first)
        if len(head) > stop + 1:
            out.extend(inner.feed(bytes(head[stop + 1 :])))


class _AutoTokenDecoder(AutoDecoder[str]):
    """``auto`` for text deltas."""

    __slots__ = ()

    def _records(self, framing: Framing) -> FormatDecoder[str]:
        return RecordTokenDecoder("auto", framing_hint=framing, max_line_bytes=self._max)

    def _document(self) -> FormatDecoder[str]:
        return DocumentTokenDecoder(max_line_bytes=self._max)

    def _text(self) -> FormatDecoder[str]:
        return TextTokenDecoder()

    def _said(self, items: list[str]) -> str:
        return "".join(items)

    def _trim(self, items: list[str], said: str) -> list[str]:
        joined = "".join(items)
        if joined.startswith(said):
            return [joined[len(said) :]] if len(joined) > len(said) else []
        return items


def token_decoder(
    format: TokenFormat = "auto",
    content_type: str | None = None,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> TokenDecoder:
    """Return a decoder from payload bytes to generated-text deltas.

    Formats:

    * ``"tgi"``, ``"openai"``, ``"lmi"``: one JSON record per server-sent event or
      per line (TGI ``token``, OpenAI/vLLM ``choices``, LMI ``token``/``outputs``);
      the three share one reader, see :class:`RecordTokenDecoder` for the rules.
      ``content_type`` breaks the tie when the first line is neither an SSE field
      nor JSON.
    * ``"json"``: one JSON document whose ``generated_text`` streams as it arrives.
    * ``"text"``: the payload is the text (strict incremental UTF-8).
    * ``"auto"`` decides once, buffering only what it needs:

      1. by the media type of ``content_type`` (parameters and case ignored):
         ``text/event-stream`` -> SSE records; ``application/jsonlines``,
         ``application/jsonl``, ``application/json-lines``,
         ``application/x-jsonlines``, ``application/x-ndjson``,
         ``application/ndjson`` -> JSON-lines records; ``text/plain`` -> text;
      2. otherwise (no content type, ``application/json``,
         ``application/octet-stream``, anything else) by the first non-blank bytes:
         ``:``, ``data:``, ``event:``, ``id:`` or ``retry:`` -> SSE records;
         ``{`` or ``[`` -> JSON-lines records if the first line is a complete JSON
         object ended by ``\\n`` or ``\\r``, else the ``json`` document format
         (while that first line is open it is already decoded as a document, so an
         unframed document streams its text); anything else -> text. A stream that
         is blank up to its end is text.

      Records then name the format: the first record with ``choices`` or
      ``object`` -> ``openai``; with ``token`` -> ``tgi`` over SSE or ``lmi`` over
      JSON lines; with ``outputs`` -> ``lmi``. The decoder's ``format`` property
      reports the choice (``"auto"`` until made).

    Unknown formats raise ``ClientValidationError``. ``max_line_bytes`` bounds the
    memory held for one record; a longer record raises ``StreamDecodeError``.
    """
    check_format(format)
    if format == "auto":
        return _AutoTokenDecoder(content_type, max_line_bytes)
    if format == "json":
        return DocumentTokenDecoder(max_line_bytes=max_line_bytes)
    if format == "text":
        return TextTokenDecoder()
    return RecordTokenDecoder(
        format, framing_hint=framing_hint(content_type), max_line_bytes=max_line_bytes
    )

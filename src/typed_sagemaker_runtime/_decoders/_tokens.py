"""Generated-text deltas from the records LLM servers write into a response stream.

The record formats (``tgi``, ``openai``, ``lmi``) and the ``json`` document format
live here; ``auto`` detection and the :func:`token_decoder` factory are in
``_decoders``. See ``docs/stream-formats.md`` for what each server writes.
"""

from __future__ import annotations

import json
import re
from json.scanner import make_scanner
from typing import Any, Literal, Protocol, TypeVar, cast

from .._core._exceptions import GenerationError, StreamDecodeError
from ._sse import ServerSentEvent, SSEParser
from ._text import DEFAULT_MAX_LINE_BYTES, BaseDecoder, LineDecoder, Utf8Decoder

__all__ = [
    "TokenFormat",
    "TokenDecoder",
    "RecordDecoder",
    "RecordTokenDecoder",
    "DocumentTokenDecoder",
    "TextTokenDecoder",
]

TokenFormat = Literal["auto", "tgi", "openai", "lmi", "json", "text"]
"""The payload formats :meth:`ResponseStream.tokens` reads (``"auto"`` picks one)."""

Framing = Literal["sse", "jsonl"]
_T = TypeVar("_T")

_JSON_SPACE = " \t\r\n"
# What json.loads runs, without its wrappers (typeshed types the argument oddly).
_scan_json = make_scanner(cast("Any", json.JSONDecoder()))
_SSE_LINE = re.compile(r"\ufeff?(?::|(?:data|event|id|retry)(?::|$))")


class TokenDecoder(Protocol):
    """A sans-I/O decoder from payload bytes to generated-text deltas."""

    @property
    def format(self) -> TokenFormat:
        """The format being decoded; ``"auto"`` while an auto decoder has not decided."""
        ...

    @property
    def buffered(self) -> int:
        """How much input (bytes or characters) is held back for later feeds."""
        ...

    def feed(self, data: bytes) -> list[str]:
        """Decode more payload bytes; return the text deltas now complete (never ``""``)."""
        ...

    def flush(self) -> list[str]:
        """Signal the end of the stream; return what was held back."""
        ...


# --- Records ------------------------------------------------------------------------


def _as_object(value: object) -> dict[str, object] | None:
    return cast("dict[str, object]", value) if isinstance(value, dict) else None


def _text_field(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise StreamDecodeError(f"malformed record: {what} is not a string")


def _label(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _generation_error(
    message: object, error_type: object = None, code: object = None
) -> GenerationError:
    text = message if isinstance(message, str) and message else "the model server reported an error"
    details = [
        f"{name}: {label}"
        for name, label in (("error_type", _label(error_type)), ("code", _label(code)))
        if label is not None
    ]
    return GenerationError(f"{text} ({', '.join(details)})" if details else text)


def raise_for_error(record: dict[str, object]) -> None:
    """Raise ``GenerationError`` for an in-band error record; return for any other record.

    Recognised: TGI ``{"error": "...", "error_type": ...}``, OpenAI/vLLM
    ``{"error": {"message": ..., "type": ..., "code": ...}}``, LMI
    ``{"code": 500, "error": "..."}`` and old vLLM ``{"object": "error", "message": ...}``.
    """
    error = record.get("error")
    if error is None or error is False:
        if record.get("object") == "error":
            raise _generation_error(record.get("message"), record.get("type"), record.get("code"))
        return
    details = _as_object(error)
    if details is None:
        raise _generation_error(error, record.get("error_type"), record.get("code"))
    raise _generation_error(
        details.get("message", details.get("error_msg")),
        details.get("type", record.get("error_type")),
        details.get("code", details.get("error_code", record.get("code"))),
    )


def token_texts(record: dict[str, object]) -> list[str]:
    """The text of a ``token`` record (none if special); raise for LMI error tokens."""
    token = record["token"]
    if token is None:
        return []
    fields = _as_object(token)
    if fields is None:
        raise StreamDecodeError('malformed record: "token" is not an object')
    error_message = fields.get("error_msg")
    details = _as_object(record.get("details"))
    if error_message is not None or (
        details is not None and details.get("finish_reason") == "error"
    ):
        raise _generation_error(
            error_message or 'the model server stopped with finish_reason "error"',
            code=record.get("code"),
        )
    if fields.get("special") is True or fields.get("special_token") is True:
        return []
    text = _text_field(fields.get("text"), "token.text")
    return [text] if text else []


def choice_texts(choices: object) -> list[str]:
    """The texts of ``choices`` with index 0 (``delta``/``message`` content or ``text``)."""
    if choices is None:
        return []
    if not isinstance(choices, list):
        raise StreamDecodeError('malformed record: "choices" is not a list')
    texts: list[str] = []
    for item in cast("list[object]", choices):
        choice = _as_object(item)
        if choice is None:
            raise StreamDecodeError("malformed record: a choice is not an object")
        index = choice.get("index")
        if index is not None and index != 0:
            continue
        text: str | None = None
        for key in ("delta", "message"):
            part = _as_object(choice.get(key))
            if part is not None:
                text = _content_text(part.get("content"))
                break
        else:
            text = _text_field(choice.get("text"), "choices[].text")
        if text:
            texts.append(text)
    return texts


def _content_text(content: object) -> str | None:
    """``content`` as a string, or a list of parts of which the ``text`` ones count."""
    if not isinstance(content, list):
        return _text_field(content, "content")
    texts: list[str] = []
    for item in cast("list[object]", content):
        part = _as_object(item)
        if part is None:
            raise StreamDecodeError("malformed record: a content part is not an object")
        if part.get("type") == "text":
            texts.append(_text_field(part.get("text"), "content[].text") or "")
    return "".join(texts)


def output_texts(outputs: object) -> list[str]:
    """The non-empty strings of LMI 0.23's ``outputs``."""
    if outputs is None:
        return []
    if isinstance(outputs, str):
        return [outputs] if outputs else []
    if not isinstance(outputs, list):
        raise StreamDecodeError('malformed record: "outputs" is not a list')
    return [
        text for item in cast("list[object]", outputs) if (text := _text_field(item, "outputs[]"))
    ]


def record_texts(record: object, *, first: bool) -> list[str]:
    """The text deltas of one decoded JSON record; raise ``GenerationError`` for errors.

    ``first`` says no text was yielded before: a record with ``generated_text`` and
    no token is then a whole (non-streamed) response and is yielded; after streamed
    tokens it is the summary of text already yielded and is ignored.
    """
    if isinstance(record, list):
        items = cast("list[object]", record)
        record = items[0] if items else None
    fields = _as_object(record)
    if fields is None:
        return []
    raise_for_error(fields)
    if "choices" in fields:
        return choice_texts(fields["choices"])
    if "token" in fields:
        return token_texts(fields)
    if "outputs" in fields:
        return output_texts(fields["outputs"])
    text = fields.get("generated_text")
    return [text] if first and isinstance(text, str) and text else []


def _loads_stripped(text: str) -> object:
    """``json.loads(text)`` for text without leading or trailing JSON whitespace, faster.

    One scan that ends at the end of such text is the same parse; anything else goes
    to ``json.loads``, which raises its usual error.
    """
    try:
        record, end = _scan_json(text, 0)
    except (StopIteration, ValueError, RecursionError):
        record, end = None, -1
    if end == len(text):
        return cast(object, record)
    return cast(object, json.loads(text))


def load_record(text: str) -> object:
    """Parse one record's JSON text (stripped); ``StreamDecodeError`` if it is not JSON."""
    try:
        return _loads_stripped(text)
    except (ValueError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise StreamDecodeError(f"a record of the stream is not valid JSON: {message}")


def family(record: object, framing: Framing) -> TokenFormat | None:
    fields = _as_object(record)
    if fields is None:
        return None
    if "choices" in fields or "object" in fields:
        return "openai"
    if "token" in fields:
        return "tgi" if framing == "sse" else "lmi"
    if "outputs" in fields:
        return "lmi"
    return None


def _framing_of(line: str, hint: Framing | None) -> Framing | None:
    """The framing announced by the first non-blank line; ``None`` for a blank line."""
    stripped = line.lstrip(_JSON_SPACE)
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
        self._parser = SSEParser(max_data_chars=max_line_bytes)
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
            try:
                record: object = json.loads(event.data)
            except (ValueError, RecursionError):
                record = None
            fields = _as_object(record)
            if fields is not None:
                raise_for_error(fields)
            raise _generation_error(event.data.strip() or "the server sent an error event")
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
    ``generated_text`` only when it is a whole response (see :func:`record_texts`).
    Error records raise ``GenerationError`` with the server's message (see
    :func:`raise_for_error`), as do LMI tokens with ``error_msg`` or
    ``finish_reason: "error"`` and SSE events of type ``error``. A record that is not
    JSON, or has a known key of the wrong type, raises ``StreamDecodeError``.

    With ``format="auto"``, :attr:`format` becomes ``openai`` at the first record with
    ``choices`` or ``object``, and ``tgi`` (SSE) or ``lmi`` (JSON lines) at the first
    with ``token`` or ``outputs``; decoding is the same either way.
    """

    __slots__ = ()

    def _take_record(self, text: str, out: list[str]) -> None:
        # load_record() inlined: this runs once per record of every tokens() stream.
        text = text.strip(_JSON_SPACE)
        if not text or text == "[DONE]":
            return
        try:
            record = _loads_stripped(text)
        except (ValueError, RecursionError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise StreamDecodeError(f"a record of the stream is not valid JSON: {message}")
        if self._format == "auto":
            self._format = family(record, self._framing or "jsonl") or "auto"
        texts = record_texts(record, first=self._first)
        if texts:
            self._first = False
            out.extend(texts)


# --- One JSON document --------------------------------------------------------------

_STRUCTURE = re.compile(r'[{}\[\]",:]')
_STRING_END = re.compile(r'["\\]')
_TEXT_SPECIAL = re.compile(r'["\\\x00-\x1f]')
_NOT_SPACE = re.compile(r"[^ \t\r\n]")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_KEY, _TEXT, _OTHER = 0, 1, 2


class DocumentTokenDecoder(BaseDecoder[str]):
    """``json``: one JSON document whose ``generated_text`` is yielded as it arrives.

    LMI 0.24-0.26 writes ``{"generated_text": "`` + each escaped token + ``"}`` with
    no line framing, so the string is decoded incrementally, escapes included
    (``\\uXXXX`` surrogate pairs split across feeds are joined, like ``json.loads``).
    The text is taken from the top-level object, or from the first element of a
    top-level list (TGI's non-streamed ``[{"generated_text": ...}]``). The rest of
    the document is kept without that text and parsed when the document closes:
    ``{"error": ...}`` then raises ``GenerationError``, and invalid JSON raises
    ``StreamDecodeError`` there, at flush, or earlier where it is detected. Any
    other valid document yields nothing; an empty stream yields nothing.
    """

    __slots__ = (
        "_document",
        "_done",
        "_expect_key",
        "_high",
        "_in_string",
        "_index",
        "_key",
        "_key_parts",
        "_max",
        "_pending",
        "_role",
        "_size",
        "_skeleton",
        "_stack",
        "_tail",
        "_utf8",
    )

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__()
        self._utf8 = Utf8Decoder()
        self._max = max_line_bytes
        self._stack: list[str] = []  # open containers, "{" or "["
        self._expect_key = False  # the next string in an object is a key
        self._index = 0  # element index in a top-level list
        self._key: str | None = None  # the last key of the object that holds the text
        self._key_parts: list[str] = []
        self._in_string = False
        self._role = _OTHER
        self._tail = ""  # an escape sequence cut by the end of a feed
        self._high = ""  # a high surrogate waiting for its low half
        self._pending: list[str] = []  # text decoded during this call
        self._skeleton: list[str] = []  # the document without the generated text
        self._size = 0
        self._done = False
        self._document: dict[str, object] | None = None

    @property
    def format(self) -> TokenFormat:
        """Always ``"json"``."""
        return "json"

    @property
    def document(self) -> dict[str, object] | None:
        """The closed document's object (a list's first element) without its text, once parsed."""
        return self._document

    @property
    def buffered(self) -> int:
        """Characters held: the document without its generated text, and cut escapes."""
        return self._size + len(self._tail) + self._utf8.buffered

    def _feed(self, data: bytes, out: list[str]) -> None:
        try:
            for text in self._utf8.feed(data):
                self._scan(text)
        finally:
            self._emit(out)

    def _flush(self, out: list[str]) -> None:
        for text in self._utf8.flush():
            self._scan(text)
        self._emit(out)
        if not self._done and (
            self._in_string or self._tail or "".join(self._skeleton).strip(_JSON_SPACE)
        ):
            self._finish()

    def _emit(self, out: list[str]) -> None:
        if self._pending:
            out.append("".join(self._pending))
            self._pending.clear()

    def _keep(self, text: str) -> None:
        self._skeleton.append(text)
        self._size += len(text)
        if self._size > self._max:
            raise StreamDecodeError(
                f"the JSON document (without its generated text) exceeds {self._max} characters"
            )

    def _scan(self, text: str) -> None:
        if self._tail:
            text = self._tail + text
            self._tail = ""
        at, end = 0, len(text)
        while at < end:
            if self._in_string:
                at = self._text(text, at) if self._role == _TEXT else self._string(text, at)
            elif self._done:
                if _NOT_SPACE.search(text, at):
                    raise StreamDecodeError("the stream continues after its JSON document")
                return
            else:
                at = self._structure(text, at)

    def _holds_text(self) -> bool:
        stack = self._stack
        return stack == ["{"] or (stack == ["[", "{"] and self._index == 0)

    def _structure(self, text: str, at: int) -> int:
        match = _STRUCTURE.search(text, at)
        if match is None:
            self._keep(text[at:])
            return len(text)
        stop = match.start()
        self._keep(text[at : stop + 1])
        char = text[stop]
        stack = self._stack
        if char == '"':
            self._in_string = True
            if not self._holds_text():
                self._role = _OTHER
            elif self._expect_key:
                self._role = _KEY
                self._key_parts.clear()
            else:
                self._role = _TEXT if self._key == "generated_text" else _OTHER
        elif char in "{[":
            stack.append(char)
            self._expect_key = char == "{"
            self._key = None
        elif char in "}]":
            if not stack:
                raise StreamDecodeError(f"the JSON document has an unmatched {char!r}")
            stack.pop()
            self._expect_key = False
            if not stack:
                self._finish()
        elif char == ",":
            if stack and stack[-1] == "{":
                self._expect_key = True
            elif len(stack) == 1:
                self._index += 1
        else:
            self._expect_key = False
        return stop + 1

    def _string(self, text: str, at: int) -> int:
        """Scan a string that is kept whole in the skeleton: a key or another value."""
        match = _STRING_END.search(text, at)
        if match is None:
            self._keep_string(text[at:])
            return len(text)
        stop = match.start()
        if text[stop] == "\\":
            if stop + 1 == len(text):
                self._keep_string(text[at:stop])
                self._tail = "\\"
                return stop + 1
            self._keep_string(text[at : stop + 2])
            return stop + 2
        self._keep_string(text[at:stop])
        self._keep('"')
        self._in_string = False
        if self._role == _KEY:
            self._key = _decode_key("".join(self._key_parts))
        elif not self._stack:
            self._finish()
        return stop + 1

    def _keep_string(self, chunk: str) -> None:
        if chunk:
            self._keep(chunk)
            if self._role == _KEY:
                self._key_parts.append(chunk)

    def _text(self, text: str, at: int) -> int:
        """Decode the generated text into ``_pending``; it is not kept in the skeleton."""
        end = len(text)
        while at < end:
            match = _TEXT_SPECIAL.search(text, at)
            if match is None:
                self._put(text[at:])
                return end
            stop = match.start()
            if stop > at:
                self._put(text[at:stop])
            char = text[stop]
            if char == '"':
                if self._high:
                    self._pending.append(self._high)
                    self._high = ""
                self._keep('"')
                self._in_string = False
                return stop + 1
            if char != "\\":
                raise StreamDecodeError("the generated text contains a raw control character")
            if stop + 1 == end or (text[stop + 1] == "u" and stop + 6 > end):
                self._tail = text[stop:]
                return end
            escape = text[stop + 1]
            if escape == "u":
                digits = text[stop + 2 : stop + 6]
                if not _HEX4.fullmatch(digits):
                    raise StreamDecodeError("the generated text has an invalid \\u escape")
                self._code_point(int(digits, 16))
                at = stop + 6
            else:
                replacement = _ESCAPES.get(escape)
                if replacement is None:
                    raise StreamDecodeError("the generated text has an invalid escape")
                self._put(replacement)
                at = stop + 2
        return at

    def _put(self, text: str) -> None:
        if self._high:
            self._pending.append(self._high)
            self._high = ""
        self._pending.append(text)

    def _code_point(self, code: int) -> None:
        if 0xD800 <= code <= 0xDBFF:
            if self._high:
                self._pending.append(self._high)
            self._high = chr(code)
        elif 0xDC00 <= code <= 0xDFFF and self._high:
            high = ord(self._high) - 0xD800
            self._high = ""
            self._pending.append(chr(0x10000 + (high << 10) + (code - 0xDC00)))
        else:
            self._put(chr(code))

    def _finish(self) -> None:
        self._done = True
        skeleton = "".join(self._skeleton)
        self._skeleton.clear()
        self._size = 0
        try:
            document: object = json.loads(skeleton)
        except (ValueError, RecursionError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise StreamDecodeError(f"the response is not a valid JSON document: {message}")
        if isinstance(document, list):
            items = cast("list[object]", document)
            document = items[0] if items else None
        fields = _as_object(document)
        if fields is not None:
            raise_for_error(fields)
            self._document = fields


def _decode_key(raw: str) -> str | None:
    if "\\" not in raw:
        return raw
    try:
        key: object = json.loads(f'"{raw}"')
    except ValueError:
        return None
    return key if isinstance(key, str) else None


class TextTokenDecoder(Utf8Decoder):
    """``text``: the payload is the generated text, as strict incremental UTF-8."""

    __slots__ = ()

    @property
    def format(self) -> TokenFormat:
        """Always ``"text"``."""
        return "text"

"""The ``json`` format: one JSON document whose ``generated_text`` streams as written.

LMI 0.24-0.26 writes no line framing (see ``docs/stream-formats.md``), so
:class:`DocumentTokenDecoder` parses the document incrementally instead of one record
at a time; the rest of the document is read by ``_records`` once it closes.
"""

from __future__ import annotations

import json
import re
from typing import cast

from .._core._exceptions import StreamDecodeError
from ._records import JSON_SPACE, as_object, raise_for_error
from ._text import DEFAULT_MAX_LINE_BYTES, BaseDecoder, Utf8Decoder
from ._tokens import TokenFormat

__all__ = ["DocumentTokenDecoder"]

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
            self._in_string or self._tail or "".join(self._skeleton).strip(JSON_SPACE)
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
        fields = as_object(document)
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

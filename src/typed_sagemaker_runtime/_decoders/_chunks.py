"""Structured chunks from LLM streams: text with finish reason, usage and tool calls.

The same framing, format detection and error rules as ``tokens()``: the record
decoder of ``_framing`` is reused, and each record's text comes from the same
function of ``_records``, so the chunks' text joined is ``tokens()`` joined, at every
split. What a record says beyond its text is read leniently: a field of an
unexpected shape is ignored, never an error ``tokens()`` would not raise.
"""

from __future__ import annotations

import dataclasses
import json
from typing import cast

from .._core._llm_types import GenerationChunk, ToolCallDelta, Usage
from ._auto import AutoDecoder, FormatDecoder, check_format, framing_hint
from ._document import DocumentTokenDecoder
from ._framing import RecordDecoder
from ._generation import GenerationBuilder, generation_of
from ._records import (
    JSON_SPACE,
    as_object,
    choice_texts,
    family,
    load_record,
    output_texts,
    raise_for_error,
    token_texts,
)
from ._text import DEFAULT_MAX_LINE_BYTES, BaseDecoder, Utf8Decoder
from ._tokens import Framing, TokenFormat

__all__ = [
    "ChunkDecoder",
    "GenerationBuilder",
    "chunk_decoder",
    "generation_of",
    "record_chunk",
    "response_identity",
    "decoded_identity",
    "details_chunk",
    "usage_of",
    "tool_call_deltas",
]

ChunkDecoder = FormatDecoder[GenerationChunk]
"""A sans-I/O decoder from payload bytes to :class:`GenerationChunk` values."""

_NO_CALLS: tuple[ToolCallDelta, ...] = ()


# --- Reading what a record says beside its text ---------------------------------------


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _logprob(value: object) -> float | None:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            return None
    return None


def _reason(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def usage_of(value: object) -> Usage | None:
    """An OpenAI-style ``usage`` object as :class:`Usage`; ``None`` if it is not one."""
    fields = as_object(value)
    if fields is None:
        return None
    return Usage(
        prompt_tokens=_count(fields.get("prompt_tokens")),
        completion_tokens=_count(fields.get("completion_tokens")),
        total_tokens=_count(fields.get("total_tokens")),
    )


def _details_usage(details: dict[str, object]) -> Usage | None:
    """TGI/LMI ``details``: ``generated_tokens`` and, from TGI, ``input_length``."""
    completion = _count(details.get("generated_tokens"))
    prompt = _count(details.get("input_length"))
    if completion is None and prompt is None:
        return None
    total = completion + prompt if completion is not None and prompt is not None else None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def _json_text(value: object) -> str:
    """A JSON value written back as text; ``""`` for ``None`` (or what cannot be written)."""
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return ""


def tool_call_deltas(value: object) -> tuple[ToolCallDelta, ...]:
    """``tool_calls`` fragments (a list, or one object as TGI 2.0-2.4 sent them)."""
    items: list[object]
    if isinstance(value, dict):
        items = [cast(object, value)]
    elif isinstance(value, list) and value:
        items = cast("list[object]", value)
    else:
        return _NO_CALLS
    deltas: list[ToolCallDelta] = []
    for position, item in enumerate(items):
        call = as_object(item)
        if call is None:
            continue
        function = as_object(call.get("function")) or {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            # TGI's non-streamed message carries the arguments as an object.
            arguments = _json_text(arguments)
        index = _count(call.get("index"))
        name = function.get("name")
        call_id = call.get("id")
        deltas.append(
            ToolCallDelta(
                index=position if index is None else index,
                id=call_id if isinstance(call_id, str) else None,
                name=name if isinstance(name, str) else None,
                arguments=arguments,
            )
        )
    return tuple(deltas)


def _details(value: object) -> tuple[str | None, Usage | None]:
    details = as_object(value)
    if details is None:
        return None, None
    return _reason(details.get("finish_reason")), _details_usage(details)


def details_chunk(fields: dict[str, object], text: str = "") -> GenerationChunk | None:
    """A chunk for ``text`` and the ``details`` of a TGI/LMI record or response, if any."""
    finish, usage = _details(fields.get("details"))
    if not (text or finish or usage):
        return None
    return GenerationChunk(text, finish, usage, _NO_CALLS, 0)


def _choices_chunk(fields: dict[str, object], text: str) -> GenerationChunk | None:
    usage = usage_of(fields.get("usage"))
    finish: str | None = None
    calls = _NO_CALLS
    choices = fields.get("choices")
    if isinstance(choices, list):
        for item in cast("list[object]", choices):
            choice = as_object(item)
            if choice is None:
                continue
            index = choice.get("index")
            if index is not None and index != 0:  # the choices tokens() reads
                continue
            finish = _reason(choice.get("finish_reason")) or finish
            part = as_object(choice.get("delta")) or as_object(choice.get("message"))
            if part is not None and "tool_calls" in part:
                calls += tool_call_deltas(part["tool_calls"])
    if not (text or finish or usage or calls):
        return None
    return GenerationChunk(text, finish, usage, calls, 0)


def _token_chunk(fields: dict[str, object], text: str) -> GenerationChunk | None:
    details = fields.get("details")
    finish = usage = None
    if details is not None:
        finish, usage = _details(details)
    if not (text or finish or usage):
        return None
    # The common record: a text token. Checks inlined, as this runs once per record.
    token = fields.get("token")
    token_id = logprob = None
    if type(token) is dict:
        parts = cast("dict[str, object]", token)
        value = parts.get("id")
        token_id = value if type(value) is int else None
        value = parts.get("logprob", parts.get("log_prob"))
        logprob = value if type(value) is float else _logprob(value)
    return GenerationChunk(text, finish, usage, _NO_CALLS, 0, token_id, logprob)


def record_chunk(record: object, *, first: bool) -> GenerationChunk | None:
    """The chunk of one decoded JSON record, or ``None`` when it carries nothing.

    The text and errors are :func:`~._records.record_texts`'s, whose dispatch this
    repeats so each record is read once; ``first`` means the same.
    """
    if type(record) is not dict:
        if isinstance(record, list):
            items = cast("list[object]", record)
            record = items[0] if items else None
        if not isinstance(record, dict):
            return None
    fields = cast("dict[str, object]", record)
    raise_for_error(fields)
    if "choices" in fields:
        texts = choice_texts(fields["choices"])
        return _choices_chunk(fields, texts[0] if len(texts) == 1 else "".join(texts))
    if "token" in fields:
        texts = token_texts(fields)
        return _token_chunk(fields, texts[0] if texts else "")
    if "outputs" in fields:
        text = "".join(output_texts(fields["outputs"]))
        return GenerationChunk(text, None, None, _NO_CALLS, 0) if text else None
    generated = fields.get("generated_text")
    return details_chunk(fields, generated if first and isinstance(generated, str) else "")


def response_identity(record: object) -> tuple[str | None, str | None]:
    """The ``id`` and ``model`` an OpenAI-style answer or stream record names, if any.

    Only records with ``choices`` (chat and completions, streamed or not) are read; an
    empty, non-string or implausibly long value (over 256 characters: what a span or a
    metric series should not take from a server) is none; so is one that is not printable
    (a control character, or a lone surrogate a JSON escape gave, which an OTLP exporter
    cannot encode as UTF-8, failing the export of the batch it is in).
    """
    if type(record) is not dict or "choices" not in record:
        return None, None
    fields = cast("dict[str, object]", record)
    return _name(fields.get("id")), _name(fields.get("model"))


def _name(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 256 and value.isprintable():
        return value
    return None


def decoded_identity(decoder: object) -> tuple[str | None, str | None]:
    """The response id and model the records a chunk decoder read named (first seen)."""
    if isinstance(decoder, _AutoChunkDecoder):
        decoder = decoder.decided
    if isinstance(decoder, RecordChunkDecoder):
        return decoder.identity
    return None, None


# --- Decoders ------------------------------------------------------------------------


def _text_chunk(text: str) -> GenerationChunk:
    return GenerationChunk(text, None, None, _NO_CALLS, 0)


class RecordChunkDecoder(RecordDecoder[GenerationChunk]):
    """``tgi``, ``openai``, ``lmi``: one chunk per record that carries something.

    The records, framing and errors of :class:`~._framing.RecordTokenDecoder`; see
    :func:`record_chunk` for what a chunk takes from a record.
    """

    __slots__ = ("_identity",)

    def __init__(
        self,
        format: TokenFormat,
        *,
        framing_hint: Framing | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        super().__init__(format, framing_hint=framing_hint, max_line_bytes=max_line_bytes)
        self._identity: tuple[str | None, str | None] | None = None

    @property
    def identity(self) -> tuple[str | None, str | None]:
        """The response id and model the first record named (OpenAI-style ``id``, ``model``)."""
        return self._identity or (None, None)

    def _take_record(self, text: str, out: list[GenerationChunk]) -> None:
        text = text.strip(JSON_SPACE)
        if not text or text == "[DONE]":
            return
        record = load_record(text)
        if self._format == "auto":
            self._format = family(record, self._framing or "jsonl") or "auto"
        if self._identity is None:  # the first record's: every OpenAI record repeats it
            self._identity = response_identity(record)
        chunk = record_chunk(record, first=self._first)
        if chunk is not None:
            if chunk.text:
                self._first = False
            out.append(chunk)


class DocumentChunkDecoder(BaseDecoder[GenerationChunk]):
    """``json``: text chunks as the document's ``generated_text`` arrives, then its ``details``."""

    __slots__ = ("_inner", "_summarised")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__()
        self._inner = DocumentTokenDecoder(max_line_bytes=max_line_bytes)
        self._summarised = False

    @property
    def format(self) -> TokenFormat:
        """Always ``"json"``."""
        return "json"

    @property
    def buffered(self) -> int:
        """What the document decoder holds."""
        return self._inner.buffered

    def _feed(self, data: bytes, out: list[GenerationChunk]) -> None:
        self._take(self._inner.feed(data), out)

    def _flush(self, out: list[GenerationChunk]) -> None:
        self._take(self._inner.flush(), out)

    def _take(self, texts: list[str], out: list[GenerationChunk]) -> None:
        out.extend(_text_chunk(text) for text in texts)
        document = self._inner.document
        if document is not None and not self._summarised:
            self._summarised = True
            chunk = details_chunk(document)
            if chunk is not None:
                out.append(chunk)


class TextChunkDecoder(BaseDecoder[GenerationChunk]):
    """``text``: the payload is the text; one chunk per decoded piece."""

    __slots__ = ("_inner",)

    def __init__(self) -> None:
        super().__init__()
        self._inner = Utf8Decoder()

    @property
    def format(self) -> TokenFormat:
        """Always ``"text"``."""
        return "text"

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete character."""
        return self._inner.buffered

    def _feed(self, data: bytes, out: list[GenerationChunk]) -> None:
        out.extend(_text_chunk(text) for text in self._inner.feed(data))

    def _flush(self, out: list[GenerationChunk]) -> None:
        out.extend(_text_chunk(text) for text in self._inner.flush())


class _AutoChunkDecoder(AutoDecoder[GenerationChunk]):
    """``auto`` for chunks: the decision of ``tokens()``'s ``auto``."""

    __slots__ = ()

    @property
    def decided(self) -> ChunkDecoder | None:
        """The decoder chosen for the stream; ``None`` while undecided."""
        return self._inner

    def _records(self, framing: Framing) -> ChunkDecoder:
        return RecordChunkDecoder("auto", framing_hint=framing, max_line_bytes=self._max)

    def _document(self) -> ChunkDecoder:
        return DocumentChunkDecoder(max_line_bytes=self._max)

    def _text(self) -> ChunkDecoder:
        return TextChunkDecoder()

    def _said(self, items: list[GenerationChunk]) -> str:
        return "".join(chunk.text for chunk in items)

    def _early(self, item: GenerationChunk) -> bool:
        # The document's details are only its own once the stream is known to be one.
        return item.finish_reason is None and item.usage is None and not item.tool_calls

    def _trim(self, items: list[GenerationChunk], said: str) -> list[GenerationChunk]:
        joined = self._said(items)
        if not joined.startswith(said):
            return items
        rest = joined[len(said) :]
        trimmed: list[GenerationChunk] = []
        for chunk in items:
            chunk = dataclasses.replace(chunk, text=rest)
            rest = ""
            if chunk.text or chunk.finish_reason or chunk.usage or chunk.tool_calls:
                trimmed.append(chunk)
        return trimmed


def chunk_decoder(
    format: TokenFormat = "auto",
    content_type: str | None = None,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ChunkDecoder:
    """Return a decoder from payload bytes to :class:`GenerationChunk` values.

    Formats, detection and limits are :func:`~._auto.token_decoder`'s. Record
    formats give one chunk per record that carries text, a finish reason, usage or
    tool-call fragments; ``json`` gives text chunks as the document streams, then
    one with its ``details``; ``text`` gives text chunks.
    """
    check_format(format)
    if format == "auto":
        return _AutoChunkDecoder(content_type, max_line_bytes)
    if format == "json":
        return DocumentChunkDecoder(max_line_bytes=max_line_bytes)
    if format == "text":
        return TextChunkDecoder()
    return RecordChunkDecoder(
        format, framing_hint=framing_hint(content_type), max_line_bytes=max_line_bytes
    )


# --- Accumulating a generation --------------------------------------------------------

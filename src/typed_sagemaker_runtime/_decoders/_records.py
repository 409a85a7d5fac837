"""What each LLM server's JSON record says: its text deltas, its errors, its family.

One reader per server family: TGI's ``token`` records, OpenAI-compatible
``choices`` (vLLM, TGI's Messages API, LMI passing vLLM chunks through), LMI's
``outputs``, and the in-band error records they all may send instead. Also how a
record's JSON text is parsed (:func:`load_record`) and which format a record
announces (:func:`family`, for ``auto``). Framing is not read here: SSE events and
JSON lines are split in ``_framing``, the streamed ``json`` document in ``_document``.
See ``docs/stream-formats.md`` for what each server writes.
"""

from __future__ import annotations

import json
from json.scanner import make_scanner
from typing import Any, NoReturn, cast

from .._core._exceptions import GenerationError, StreamDecodeError
from ._tokens import Framing, TokenFormat

__all__ = [
    "JSON_SPACE",
    "as_object",
    "raise_for_error",
    "raise_for_error_event",
    "token_texts",
    "choice_texts",
    "output_texts",
    "record_texts",
    "loads_stripped",
    "load_record",
    "family",
]

JSON_SPACE = " \t\r\n"
"""The whitespace JSON allows around a value; a record's text is stripped of it."""

# What json.loads runs, without its wrappers (typeshed types the argument oddly).
_scan_json = make_scanner(cast("Any", json.JSONDecoder()))


def as_object(value: object) -> dict[str, object] | None:
    """``value`` if it is a JSON object, else ``None``."""
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
    details = as_object(error)
    if details is None:
        raise _generation_error(error, record.get("error_type"), record.get("code"))
    raise _generation_error(
        details.get("message", details.get("error_msg")),
        details.get("type", record.get("error_type")),
        details.get("code", details.get("error_code", record.get("code"))),
    )


def raise_for_error_event(data: str) -> NoReturn:
    """Raise ``GenerationError`` for the data of an SSE event of type ``error``.

    The server's message if the data is an error record (:func:`raise_for_error`),
    else the data itself.
    """
    try:
        record: object = json.loads(data)
    except (ValueError, RecursionError):
        record = None
    fields = as_object(record)
    if fields is not None:
        raise_for_error(fields)
    raise _generation_error(data.strip() or "the server sent an error event")


def token_texts(record: dict[str, object]) -> list[str]:
    """The text of a ``token`` record (none if special); raise for LMI error tokens."""
    token = record["token"]
    if token is None:
        return []
    fields = as_object(token)
    if fields is None:
        raise StreamDecodeError('malformed record: "token" is not an object')
    error_message = fields.get("error_msg")
    details = as_object(record.get("details"))
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
        choice = as_object(item)
        if choice is None:
            raise StreamDecodeError("malformed record: a choice is not an object")
        index = choice.get("index")
        if index is not None and index != 0:
            continue
        text: str | None = None
        for key in ("delta", "message"):
            part = as_object(choice.get(key))
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
        part = as_object(item)
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
    fields = as_object(record)
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


def loads_stripped(text: str) -> object:
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
        return loads_stripped(text)
    except (ValueError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise StreamDecodeError(f"a record of the stream is not valid JSON: {message}")


def family(record: object, framing: Framing) -> TokenFormat | None:
    """The format a record announces (for ``auto``); ``None`` if it announces none."""
    fields = as_object(record)
    if fields is None:
        return None
    if "choices" in fields or "object" in fields:
        return "openai"
    if "token" in fields:
        return "tgi" if framing == "sse" else "lmi"
    if "outputs" in fields:
        return "lmi"
    return None

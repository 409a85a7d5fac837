"""``smr invoke-many``'s records: input lines in, output lines out, no I/O of their own.

A record is a line of the input that is not blank; its index is its line's number,
counted from 0, so ``sed -n "$((index + 1))p" INPUT`` finds the line an output record
answers. A blank line (empty, or only spaces, tabs and ``\\r``) is not sent and has no
output line, as JSON Lines readers skip it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core._exceptions import ServiceError

if TYPE_CHECKING:
    from .._core._exceptions import SageMakerRuntimeError

__all__ = [
    "JSON_TYPE",
    "SUCCESS_ENDING",
    "TEXT_TYPE",
    "InputLine",
    "body_value",
    "count_records",
    "error_code",
    "error_line",
    "input_lines",
    "is_json",
    "result_line",
]

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain"


@dataclass(frozen=True, slots=True)
class InputLine:
    """A record of the input: its index (the line's number from 0) and its bytes."""

    index: int
    body: bytes


def _without_newline(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    return line[:-1] if line.endswith(b"\r") else line


def _is_blank(line: bytes) -> bool:
    return not line.strip(b" \t\r\n")


def input_lines(lines: Iterable[bytes], *, after: int = -1) -> Iterator[InputLine]:
    """The records of ``lines`` (a binary file), skipping those with an index ``<= after``."""
    for index, line in enumerate(lines):
        if index > after and not _is_blank(line):
            yield InputLine(index, _without_newline(line))


def count_records(lines: Iterable[bytes], *, after: int = -1) -> int | None:
    """How many records ``lines`` holds after index ``after`` (the progress bar's total);
    ``None`` when the line of index ``after`` is not a record (``after`` is the last index
    of an OUTPUT written from other lines)."""
    count = 0
    found = after < 0
    for index, line in enumerate(lines):
        if index == after:
            found = not _is_blank(line)
        elif index > after and not _is_blank(line):
            count += 1
    return count if found else None


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # NaN and Infinity: Python reads them, JSON has no such values


def _parsed_json(body: bytes) -> tuple[bool, object]:
    try:
        return True, json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False, None


def is_json(body: bytes) -> bool:
    """Whether ``body`` is one JSON document (UTF-8; ``NaN`` and ``Infinity`` are not JSON)."""
    return _parsed_json(body)[0]


def body_value(body: bytes) -> object:
    """A response body as output JSON: parsed JSON, else its text, else ``{"base64": ...}``."""
    parsed, value = _parsed_json(body)
    if parsed:
        return value
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _line(record: dict[str, object]) -> bytes:
    try:
        text = json.dumps(record, ensure_ascii=False)
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate the model escaped ("\ud800"): keep it escaped
        return (json.dumps(record) + "\n").encode("ascii")


def result_line(index: int, body: bytes) -> bytes:
    """The output line of a record answered with ``body``, newline included."""
    return _line({"index": index, "body": body_value(body), "error": None})


def error_code(error: SageMakerRuntimeError) -> str:
    """The service's error code (``ModelError``, ``ThrottlingException``), else the class name."""
    return error.code if isinstance(error, ServiceError) else type(error).__name__


def error_line(index: int, code: str, message: str) -> bytes:
    """The output line of a record that failed, newline included."""
    return _line({"index": index, "body": None, "error": {"code": code, "message": message}})


# A record that succeeded ends so: error_line and result_line put "error" last.
SUCCESS_ENDING = b', "error": null}\n'

"""``smr invoke-many``'s OUTPUT: refused when it exists, continued with ``--resume``, and
written one whole line at a time, so that no reader and no later run sees a partial record.

Each line goes out in one ``write`` of the complete line (unbuffered: nothing waits in
a buffer when the process ends), and the file is synced to disk when the run ends. A
line torn by a crash or a full disk is the only way OUTPUT can end without a newline;
``--resume`` truncates it away and does that record again.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from typing import cast

from .._core._exceptions import ClientValidationError
from ._jsonl import SUCCESS_ENDING

__all__ = ["Done", "OutputFile", "open_output"]


@dataclass(frozen=True, slots=True)
class Done:
    """What OUTPUT held when the run started (all zero without ``--resume``)."""

    records: int = 0
    failed: int = 0
    last_index: int = -1
    torn: bool = False


class OutputFile:
    """OUTPUT open for appending whole lines."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._regular = stat.S_ISREG(os.fstat(descriptor).st_mode)
        self._offset = os.lseek(descriptor, 0, os.SEEK_END) if self._regular else 0

    def write_line(self, line: bytes) -> None:
        """Append ``line`` (ending with its newline); a line cut by a failure is removed."""
        rest = memoryview(line)
        try:
            while rest:
                rest = rest[os.write(self._descriptor, rest) :]
        except OSError:
            if self._regular:  # a full disk took part of the line: take it back
                os.ftruncate(self._descriptor, self._offset)
            raise
        self._offset += len(line)

    def close(self) -> None:
        """Sync what was written to disk (a regular file), then close."""
        try:
            if self._regular:
                os.fsync(self._descriptor)
        finally:
            os.close(self._descriptor)


def _refuse(message: str) -> ClientValidationError:
    return ClientValidationError(message, field="output")


def open_output(
    path: str, *, input_path: str | None, resume: bool, overwrite: bool
) -> tuple[OutputFile, Done]:
    """OUTPUT opened as the options say, and what it already holds.

    Raises:
        ClientValidationError: OUTPUT exists and neither ``--resume`` nor ``--overwrite``
            was given, it is INPUT itself, it cannot be opened, or it is not the output
            of ``smr invoke-many``.
    """
    if resume and overwrite:
        raise _refuse("pass --resume or --overwrite, not both")
    exists = os.path.lexists(path)
    if exists and input_path is not None and _same_file(path, input_path):
        raise _refuse("OUTPUT is INPUT: write the records to another file")
    if exists and not (resume or overwrite):
        raise _refuse(
            f"OUTPUT {path} exists: --resume to continue it, or --overwrite to replace it"
        )
    done = _scan(path) if resume and exists else Done()
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    if overwrite:
        flags |= os.O_TRUNC
    elif not exists:
        flags |= os.O_EXCL
    try:
        return OutputFile(os.open(path, flags, 0o666)), done
    except OSError as exc:
        raise _refuse(f"cannot open OUTPUT: {exc.strerror}")


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def _scan(path: str) -> Done:
    """What OUTPUT holds: its records, how many failed, the last index; a torn line removed."""
    records = failed = 0
    last = b""
    complete = 0  # bytes up to the end of the last whole line
    try:
        with open(path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                records += 1
                failed += not line.endswith(SUCCESS_ENDING)
                complete += len(line)
                last = line
            torn = handle.tell() > complete
    except OSError as exc:
        raise _refuse(f"cannot read OUTPUT: {exc.strerror}")
    last_index = -1 if not last else _index(last, records)
    if torn:
        os.truncate(path, complete)
    return Done(records, failed, last_index, torn)


def _index(line: bytes, number: int) -> int:
    """The index of OUTPUT's last record, or why OUTPUT is not one ``--resume`` continues."""
    try:
        record: object = json.loads(line)
    except ValueError:
        record = None
    index = cast("dict[str, object]", record).get("index") if isinstance(record, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise _refuse(
            f"line {number} of OUTPUT is not a record of smr invoke-many: "
            "--resume continues only what smr invoke-many wrote"
        )
    return index

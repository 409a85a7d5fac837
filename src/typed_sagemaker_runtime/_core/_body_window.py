"""A file body seen from the position it was passed at, so that "the start" means there.

botocore rewinds a body with ``seek(0)`` (``AWSRequest.reset_stream``), and when awscrt is
installed its SigV4 signer (``botocore.crt.auth``) hashes the body through awscrt, which
leaves it at 0 as well: a file passed at offset 7 was sent whole, from its first byte
(awscrt comes with the ``bidi`` extra). Wrapped in :class:`BodyWindow`, offset 7 is
position 0 for botocore and awscrt alike, and the bytes before it are never sent.
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["BodyWindow", "windowed"]


class BodyWindow(io.RawIOBase):
    """``raw`` from ``start`` on: positions relative to ``start``; closing leaves ``raw`` open."""

    def __init__(self, raw: Any, start: int) -> None:
        super().__init__()
        self._raw = raw
        self._start = start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._raw.read(-1 if size is None else size)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            offset = self._start + max(0, offset)
        return int(self._raw.seek(offset, whence)) - self._start

    def tell(self) -> int:
        return int(self._raw.tell()) - self._start


def windowed(body: Any) -> Any:
    """``body`` itself, or a :class:`BodyWindow` when it is a seekable file not at its start."""
    seekable = getattr(body, "seekable", None)
    try:
        start = int(body.tell()) if callable(seekable) and seekable() else 0
    except (OSError, ValueError):
        return body
    return BodyWindow(body, start) if start > 0 else body

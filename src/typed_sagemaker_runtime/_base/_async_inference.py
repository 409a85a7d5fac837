"""What the sync and asyncio waiters of async inference share: destinations, progress, S3 retries.

The waiting itself (``_sync._async_inference``, ``_aio._async_inference``) is I/O; the
decisions are in ``_core._async_inference``. These are the pieces of the waiters' own
interface that both twins take and check the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeAlias

from botocore.config import Config

from .._core._exceptions import ClientValidationError

__all__ = ["S3_RETRIES", "Destination", "Progress", "check_dest"]

Destination: TypeAlias = "str | os.PathLike[str] | BinaryIO"
Progress: TypeAlias = Callable[[float], object]

# The S3 client built for waiting retries transient failures itself: polls are idempotent.
S3_RETRIES = Config(retries={"mode": "standard", "max_attempts": 3})


def check_dest(dest: Destination) -> None:
    """Fail before waiting, not after, when ``dest`` cannot take the output."""
    if isinstance(dest, (str, os.PathLike)):
        path = Path(dest)
        if not path.parent.is_dir():
            raise ClientValidationError(
                f"dest: the directory {str(path.parent)!r} does not exist", field="dest"
            )
    elif not callable(getattr(dest, "write", None)):
        raise ClientValidationError(
            f"dest: expected a path or a binary file opened for writing, got {type(dest).__name__}",
            field="dest",
        )

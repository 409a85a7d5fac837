"""What a client does around one botocore call, sans-I/O: retry decisions and body rewinds.

Shared by :class:`SageMakerRuntime` and :class:`AsyncSageMakerRuntime`; only the call
itself and the sleep between attempts differ between them (``time.sleep`` versus
``asyncio.sleep``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from .._core._errors import map_exception
from .._core._exceptions import SageMakerRuntimeError
from .._core._retry import RetryPolicy
from .._core._types import Operation

__all__ = ["METHODS", "Mapper", "Failure", "body_position", "after_failure", "rewind"]

logger = logging.getLogger("typed_sagemaker_runtime")

METHODS: Mapping[Operation, str] = {
    "InvokeEndpoint": "invoke_endpoint",
    "InvokeEndpointAsync": "invoke_endpoint_async",
    "InvokeEndpointWithResponseStream": "invoke_endpoint_with_response_stream",
}
"""The botocore (and aiobotocore) client method of each operation."""


Mapper: TypeAlias = Callable[..., "SageMakerRuntimeError | None"]
"""An exception mapper: ``map_exception`` (botocore) or ``map_aio_exception`` (aiobotocore)."""


class Failure:
    """The outcome of a failed attempt: the mapped error, and the wait before a retry.

    ``error is None``: the exception is not ours to map; re-raise it unchanged.
    ``delay is None``: give up and raise ``error`` from the original exception.
    """

    __slots__ = ("delay", "error")

    def __init__(self, error: SageMakerRuntimeError | None, delay: float | None) -> None:
        self.error = error
        self.delay = delay


def body_position(body: Any) -> int | None:
    """The position of a seekable file body, so a retry can send it again."""
    seekable = getattr(body, "seekable", None)
    try:
        return int(body.tell()) if callable(seekable) and seekable() else None
    except (OSError, ValueError):
        return None


def after_failure(
    exc: BaseException,
    *,
    operation: Operation,
    policy: RetryPolicy,
    attempt: int,
    read_timeout: float | None,
    body: Any,
    start: int | None,
    mapper: Mapper = map_exception,
) -> Failure:
    """Decide what follows attempt number ``attempt`` raising ``exc``.

    A file body that cannot be rewound (``start is None``) is never sent twice.
    """
    mapped = mapper(exc, operation=operation, read_timeout=read_timeout)
    if mapped is None:
        return Failure(None, None)
    replayable = start is not None or not callable(getattr(body, "read", None))
    if not (replayable and policy.should_retry(mapped, attempt)):
        return Failure(mapped, None)
    delay = policy.backoff(mapped, attempt)
    logger.info(
        "retrying %s after %s (attempt %d of %d) in %.2fs",
        operation,
        type(mapped).__name__,
        attempt + 1,
        policy.max_attempts,
        delay,
    )
    return Failure(mapped, delay)


def rewind(body: Any, start: int | None) -> None:
    """Seek a file body back to where the first attempt started reading it."""
    if start is not None:
        body.seek(start)

"""The requests of a bulk run, sans-I/O: shared arguments checked once, each record's body.

``invoke_many`` validates everything but the bodies at the call, with the same checks as
``invoke``; each record's body is then encoded and checked on its own, and a body that
fails (too large, not JSON-serialisable) becomes that record's error, named
``bodies[i]`` or ``json[i]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeGuard

from botocore.model import OperationModel

from .._core._exceptions import ClientValidationError
from .._core._params import build_params, encode_body, json_bytes
from .._core._types import Operation
from ._limiter import AdaptiveLimiter, FixedLimiter, Limiter

__all__ = [
    "WINDOW_PER_SLOT",
    "RequestTemplate",
    "TypedBody",
    "check_bulk_arguments",
    "new_limiter",
    "warn_if_pool_is_smaller",
]

logger = logging.getLogger("typed_sagemaker_runtime")

WINDOW_PER_SLOT = 2
"""Records held (read, not yet yielded) per place in flight: room for a slow record's
successors to go on in input order, with memory bounded whatever the input's length."""

_OPERATION: Operation = "InvokeEndpoint"


def check_bulk_arguments(
    bodies: object, json: object, concurrency: object, max_concurrency: object, ordered: object
) -> tuple[bool, int, bool]:
    """Check the run's own arguments; return (json input, in-flight cap, adaptive)."""
    if (bodies is None) == (json is None):
        raise ClientValidationError(
            "bodies: pass the records as bodies= (an iterable of request bodies) or as "
            "json= (an iterable of JSON values), exactly one of the two",
            field="bodies",
        )
    field = "json" if bodies is None else "bodies"
    records: object = json if bodies is None else bodies
    kind = type(records).__name__
    if isinstance(records, (str, bytes, bytearray, memoryview, Mapping)) or not (
        hasattr(records, "__iter__") or hasattr(records, "__aiter__")
    ):
        raise ClientValidationError(
            f"{field}: expected an iterable of records, got {kind} (for one request, use invoke())",
            field=field,
        )
    if not isinstance(ordered, bool):
        raise ClientValidationError(
            f"ordered: expected a bool, got {type(ordered).__name__}", field="ordered"
        )
    if not _is_positive_int(max_concurrency):
        raise ClientValidationError(
            f"max_concurrency: must be an int of at least 1, got {max_concurrency!r}",
            field="max_concurrency",
        )
    if concurrency == "auto":
        return json is not None, max_concurrency, True
    if not _is_positive_int(concurrency):
        raise ClientValidationError(
            f"concurrency: must be 'auto' or an int of at least 1, got {concurrency!r}",
            field="concurrency",
        )
    return json is not None, concurrency, False


def new_limiter(cap: int, adaptive: bool) -> Limiter:
    """The limiter of a run: adaptive up to ``cap``, or fixed at ``cap``."""
    return AdaptiveLimiter(maximum=cap) if adaptive else FixedLimiter(cap)


def warn_if_pool_is_smaller(config: Any, cap: int) -> None:
    """Log a warning when the client keeps fewer connections than the run may have in flight.

    botocore (urllib3) then opens a connection for each request above the pool's size and
    discards it afterwards, logging a warning each time; aiobotocore (aiohttp) makes the
    requests above it wait for a connection.
    """
    pool = getattr(config, "max_pool_connections", None)
    if isinstance(pool, int) and pool < cap:
        logger.warning(
            "invoke_many: up to %d requests in flight, but the client keeps %d connections "
            "(max_pool_connections); build it with botocore.config.Config("
            "max_pool_connections=%d), or lower max_concurrency",
            cap,
            pool,
            cap,
        )


def _is_positive_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class TypedBody(NamedTuple):
    """A record that carries its own content type, instead of the run's (package-private).

    ``smr invoke-many`` sends each line as ``application/json`` when it parses as JSON,
    else as ``text/plain``; the public ``bodies=`` has one content type for every record.
    """

    body: bytes
    content_type: str


class RequestTemplate:
    """The keyword arguments of every InvokeEndpoint call of a run but its body."""

    __slots__ = ("_field", "_json", "_limit", "_shared")

    def __init__(
        self, operation_model: OperationModel, arguments: Mapping[str, object], *, json: bool
    ) -> None:
        given = {**arguments, "body": b""}
        if json and arguments.get("content_type") is None:
            given["content_type"] = "application/json"
        params = build_params(operation_model, given)
        del params["Body"]
        self._shared: dict[str, Any] = params
        self._json = json
        self._field = "json" if json else "bodies"
        input_shape: Any = operation_model.input_shape
        self._limit: int | None = input_shape.members["Body"].metadata.get("max")

    def params(self, index: int, record: object) -> dict[str, Any]:
        """botocore's keyword arguments for the record at ``index``.

        Raises:
            ClientValidationError: The record cannot be sent; ``field`` is e.g. ``bodies[3]``.
        """
        field = f"{self._field}[{index}]"
        content_type = None
        if type(record) is TypedBody:
            record, content_type = record
        try:
            if self._json:
                body: Any = json_bytes(field, record)
            elif isinstance(record, bytes):
                body = record
            else:
                body = encode_body(field, record, _OPERATION)
        except ClientValidationError as exc:
            exc.operation = _OPERATION
            raise
        except Exception as exc:  # a file body whose read() or seekable() fails
            raise ClientValidationError(
                f"{field}: the file could not be read ({type(exc).__name__})",
                field=field,
                operation=_OPERATION,
            ) from exc
        if self._limit is not None and isinstance(body, bytes) and len(body) > self._limit:
            raise ClientValidationError(
                f"{field}: {len(body):,} bytes is over the {self._limit:,}-byte limit of "
                f"{_OPERATION}",
                field=field,
                operation=_OPERATION,
            )
        params = dict(self._shared)
        params["Body"] = body
        if content_type is not None:
            params["ContentType"] = content_type
        return params

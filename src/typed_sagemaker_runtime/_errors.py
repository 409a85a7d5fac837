"""Mapping botocore and urllib3 exceptions to ours, sans-I/O.

One table per family; the most specific match wins. Callers raise the result
``from`` the original exception, so nothing AWS sent is lost.
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Mapping
from typing import Any

from botocore import exceptions as bce
from urllib3 import exceptions as u3e

from ._exceptions import (
    AccessDeniedError,
    ClientValidationError,
    EndpointNotFoundError,
    InternalDependencyError,
    InternalFailureError,
    ModelError,
    ModelNotReadyError,
    SageMakerRuntimeError,
    ServiceError,
    ServiceUnavailableError,
    StreamDecodeError,
    ThrottlingError,
    TimeoutError,
    TransportError,
    ValidationError,
)

# Error codes from botocore's service model, with the class each maps to.
MODELED_ERRORS: Mapping[str, type[ServiceError]] = {
    "ValidationError": ValidationError,
    "ModelError": ModelError,
    "ModelNotReadyException": ModelNotReadyError,
    "InternalFailure": InternalFailureError,
    "ServiceUnavailable": ServiceUnavailableError,
    "InternalDependencyException": InternalDependencyError,
}

# Codes AWS uses for throttling across services (botocore's retry handler lists the same).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)

# Failures the default retry policy treats as transient.
RETRYABLE_ERRORS: tuple[type[ServiceError], ...] = (
    ThrottlingError,
    ModelNotReadyError,
    InternalFailureError,
    ServiceUnavailableError,
)

_BY_STATUS: Mapping[int, type[ServiceError]] = {
    403: AccessDeniedError,
    500: InternalFailureError,
    503: ServiceUnavailableError,
}

_ENDPOINT_NOT_FOUND = re.compile(r"Endpoint \S+ of account \S+ not found")


def _service_error_class(code: str, status: int | None) -> type[ServiceError]:
    if status == 403 or code in ACCESS_DENIED_CODES:
        return AccessDeniedError
    if code in THROTTLING_CODES:
        return ThrottlingError
    modeled = MODELED_ERRORS.get(code)
    if modeled is not None:
        return modeled
    if code.isdigit() and status is not None:
        # No AWS error code at all (e.g. an HTML page from a proxy): go by the status.
        return _BY_STATUS.get(status, ServiceError)
    return ServiceError


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def map_client_error(exc: bce.ClientError, operation: str) -> ServiceError:
    """Turn a botocore ``ClientError`` into the matching :class:`ServiceError`."""
    response: Mapping[str, Any] = exc.response
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    status = _int_or_none(meta.get("HTTPStatusCode"))
    message = _str_or_none(error.get("Message")) or _str_or_none(response.get("Message"))
    cls = _service_error_class(code, status)
    common: dict[str, Any] = {
        "code": code,
        "http_status": status,
        "response": response,
        "request_id": _str_or_none(meta.get("RequestId")),
        "operation": operation,
        "retryable": issubclass(cls, RETRYABLE_ERRORS),
    }
    text = message or f"{operation} failed with {code} (HTTP {status})"
    sub_code = _str_or_none(response.get("ErrorCode"))
    if cls is ValidationError:
        if message and _ENDPOINT_NOT_FOUND.search(message):
            return EndpointNotFoundError(text, error_code=sub_code, **common)
        return ValidationError(text, error_code=sub_code, **common)
    if cls is ModelError:
        return ModelError(
            text,
            original_status_code=_int_or_none(response.get("OriginalStatusCode")),
            original_message=_str_or_none(response.get("OriginalMessage")),
            log_stream_arn=_str_or_none(response.get("LogStreamArn")),
            error_code=sub_code,
            **common,
        )
    return cls(text, **common)


def map_exception(
    exc: BaseException, *, operation: str, read_timeout: float | None = None
) -> SageMakerRuntimeError | None:
    """Map any exception botocore raises from a call; ``None`` if it is not ours to map."""
    if isinstance(exc, SageMakerRuntimeError):
        return exc
    if isinstance(exc, bce.ClientError):
        return map_client_error(exc, operation)
    if isinstance(exc, bce.ReadTimeoutError):
        after = f" after {read_timeout:g}s" if read_timeout is not None else ""
        return TimeoutError(
            f"{operation}: no response{after} (read_timeout); the model may still be running. "
            "Not retried, since inference is not idempotent: raise read_timeout in "
            "botocore.config.Config, or use stream() or invoke_async() for long generations",
            operation=operation,
        )
    if isinstance(exc, bce.ConnectTimeoutError):
        return TimeoutError(
            f"{operation}: timed out connecting to the endpoint; nothing was sent",
            operation=operation,
            retryable=True,
        )
    if isinstance(exc, bce.EndpointConnectionError):
        return TransportError(
            f"{operation}: could not connect to {exc.kwargs.get('endpoint_url', 'the endpoint')}; "
            "nothing was sent",
            operation=operation,
            retryable=True,
        )
    if isinstance(exc, bce.ConnectionClosedError):
        return TransportError(
            f"{operation}: the connection closed before a response arrived; the request may "
            "have been processed",
            operation=operation,
        )
    if isinstance(exc, bce.ResponseStreamingError):
        return TransportError(
            f"{operation}: the connection failed while reading the response body",
            operation=operation,
        )
    if isinstance(exc, (bce.HTTPClientError, bce.ConnectionError, bce.IncompleteReadError)):
        # TLS and proxy failures, a body shorter than its Content-Length, ...
        return TransportError(
            f"{operation}: HTTP transport failed: {type(exc).__name__}", operation=operation
        )
    if isinstance(exc, bce.ParamValidationError):
        # botocore's report can echo parameter values; keep only the parameter names.
        names = sorted(set(re.findall(r"parameter (\w+)", str(exc))))
        field = names[0] if names else None
        return ClientValidationError(
            f"botocore rejected parameter(s) {', '.join(names) or '(unknown)'}",
            field=field,
            operation=operation,
        )
    if isinstance(exc, bce.BotoCoreError):
        return SageMakerRuntimeError(f"{operation}: {exc}", operation=operation)
    if isinstance(exc, (u3e.HTTPError, OSError)):
        # urllib3 errors botocore does not wrap (e.g. a TLS record failure in a body).
        return map_stream_exception(exc, operation=operation, read_timeout=read_timeout)
    return None


def protocol_error_causes(exc: u3e.ProtocolError) -> tuple[object, ...]:
    """What broke the connection, as urllib3 reports it in a ``ProtocolError``.

    urllib3 raises ``ProtocolError("Connection broken: ...", cause) from cause``: the cause
    (an ``IncompleteRead`` for a body cut short, an ``OSError`` for a reset) is in ``args``.
    """
    return (*exc.args, exc.__cause__)


def map_stream_exception(
    exc: BaseException, *, operation: str, read_timeout: float | None = None
) -> SageMakerRuntimeError | None:
    """Map an exception raised while reading a response stream's body.

    botocore hands event streams the raw urllib3 response, so these are urllib3's
    exceptions, not botocore's.
    """
    if isinstance(exc, (u3e.ReadTimeoutError, socket.timeout)):
        after = f" for {read_timeout:g}s" if read_timeout is not None else ""
        return TimeoutError(
            f"{operation}: the stream sent nothing{after} (read_timeout); the model may still "
            "be running",
            operation=operation,
        )
    if isinstance(exc, u3e.ProtocolError):
        causes = [exc, *protocol_error_causes(exc)]
        if any(isinstance(c, (ConnectionError, OSError)) for c in causes) and not any(
            isinstance(c, (http.client.IncompleteRead, u3e.IncompleteRead)) for c in causes
        ):
            return TransportError(
                f"{operation}: the connection was reset in the middle of the stream",
                operation=operation,
            )
        return StreamDecodeError(
            f"{operation}: the connection closed before the stream ended (truncated response)",
            operation=operation,
        )
    if isinstance(exc, (u3e.HTTPError, OSError)):
        return TransportError(
            f"{operation}: the connection failed in the middle of the stream: {type(exc).__name__}",
            operation=operation,
        )
    return map_exception(exc, operation=operation, read_timeout=read_timeout)


def _aiohttp_exceptions() -> tuple[type[BaseException], type[BaseException], type[BaseException]]:
    """aiohttp's ``ClientPayloadError``, ``ClientError`` and ``ClientConnectorError``.

    Imported on use: only the aio client calls the functions that need them.
    """
    import aiohttp

    return aiohttp.ClientPayloadError, aiohttp.ClientError, aiohttp.ClientConnectorError


_RESETS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def _reset_in(exc: BaseException) -> bool:
    """Whether the connection was reset (not closed cleanly), as far as aiohttp tells.

    aiohttp chains a ``ClientPayloadError`` to the parser's complaint only and names the
    socket error in the message alone (``"... . ConnectionResetError(104, ...)"``).
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, _RESETS):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return any(f"{cls.__name__}(" in text for cls in _RESETS)


def map_aio_exception(
    exc: BaseException, *, operation: str, read_timeout: float | None = None
) -> SageMakerRuntimeError | None:
    """Map an exception raised by an aiobotocore call, or while reading its response body.

    aiobotocore turns most aiohttp failures into botocore's exceptions; a body cut short
    (``aiohttp.ClientPayloadError``) reaches the caller as it is. aiobotocore also reports
    a connection reset after the request was sent as ``EndpointConnectionError`` ("could
    not connect"): only a failure to connect (``ClientConnectorError``) means nothing was
    sent, so only that one stays retryable.
    """
    payload_error, client_error, connector_error = _aiohttp_exceptions()
    if isinstance(exc, bce.EndpointConnectionError):
        original = exc.kwargs.get("error")
        if isinstance(original, client_error) and not isinstance(original, connector_error):
            return TransportError(
                f"{operation}: the connection failed before a response arrived; the request "
                "may have been processed",
                operation=operation,
            )
    if isinstance(exc, payload_error):
        return TransportError(
            f"{operation}: the connection failed while reading the response body",
            operation=operation,
        )
    if isinstance(exc, client_error):
        return TransportError(f"{operation}: HTTP transport failed: {exc}", operation=operation)
    return map_exception(exc, operation=operation, read_timeout=read_timeout)


def map_aio_stream_exception(
    exc: BaseException, *, operation: str, read_timeout: float | None = None
) -> SageMakerRuntimeError | None:
    """Map an exception raised while reading a response stream's body through aiohttp.

    The twin of :func:`map_stream_exception` for aiobotocore, which hands event streams
    the raw ``aiohttp.ClientResponse``: a read timeout (``asyncio.TimeoutError``, aiohttp's
    ``ServerTimeoutError``) is a :class:`TimeoutError`; a body that ended early without a
    reset (``ClientPayloadError``) is a truncated stream, :class:`StreamDecodeError`; a
    reset or any other connection failure is a :class:`TransportError`.
    """
    import asyncio  # here, not at the top: the sync client's import need not pay ~8 ms for it

    payload_error, client_error, _ = _aiohttp_exceptions()
    if isinstance(exc, (asyncio.TimeoutError, socket.timeout)):
        after = f" for {read_timeout:g}s" if read_timeout is not None else ""
        return TimeoutError(
            f"{operation}: the stream sent nothing{after} (read_timeout); the model may still "
            "be running",
            operation=operation,
        )
    if isinstance(exc, payload_error) and not _reset_in(exc):
        return StreamDecodeError(
            f"{operation}: the connection closed before the stream ended (truncated response)",
            operation=operation,
        )
    if isinstance(exc, (client_error, OSError)):
        what = "was reset" if _reset_in(exc) else f"failed: {type(exc).__name__}"
        return TransportError(
            f"{operation}: the connection {what} in the middle of the stream",
            operation=operation,
        )
    return map_aio_exception(exc, operation=operation, read_timeout=read_timeout)

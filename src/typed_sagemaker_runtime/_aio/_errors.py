"""Mapping the asyncio client's aiohttp and httpx exceptions to ours, sans-I/O.

aiobotocore sends over aiohttp (or httpx, on its httpx backend). Some of their
exceptions reach the caller as they are (a body cut short or reset, a read timeout),
and some of botocore's mean something else than over urllib3 (a reset after sending
reported as a failure to connect). Those are mapped here; the rest as the sync
client's are (``_core._errors.map_exception``), credentials failures with the hint
for aiobotocore's session. Only the asyncio layer imports this module.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

from botocore import exceptions as bce

from .._core._errors import AIO_PROFILE_HINT, credentials_error, map_exception
from .._core._exceptions import (
    SageMakerRuntimeError,
    StreamDecodeError,
    TimeoutError,
    TransportError,
)


def _aiohttp_exceptions() -> tuple[type[BaseException], type[BaseException], type[BaseException]]:
    """aiohttp's ``ClientPayloadError``, ``ClientError`` and ``ClientConnectorError``.

    Imported on use: only the aio client calls the functions that need them.
    """
    import aiohttp

    return aiohttp.ClientPayloadError, aiohttp.ClientError, aiohttp.ClientConnectorError


def _httpx_exceptions() -> tuple[tuple[type[BaseException], ...], ...]:
    """httpx's timeouts, its ``RemoteProtocolError``, and its base errors, as type tuples.

    aiobotocore's httpx backend hands event streams an ``httpx.Response`` (or one of
    httpx2, its fork). Looked up, not imported: an httpx exception exists only once its
    module is loaded, and the library works without httpx.
    """
    modules: list[Any] = [m for m in map(sys.modules.get, ("httpx", "httpx2")) if m is not None]
    return (
        tuple(m.TimeoutException for m in modules),
        tuple(m.RemoteProtocolError for m in modules),
        tuple(cls for m in modules for cls in (m.HTTPError, m.StreamError)),
    )


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
    sent, so only that one stays retryable. On its httpx backend, a failure after
    connecting is ``HTTPClientError`` (``EndpointConnectionError`` is a failure to
    connect), and aiobotocore 2 hands a body's httpx errors on as they are: a timeout is
    botocore's read timeout, any other a failed read.
    """
    payload_error, client_error, connector_error = _aiohttp_exceptions()
    httpx_timeouts, _, httpx_errors = _httpx_exceptions()
    if isinstance(exc, httpx_timeouts):
        exc = bce.ReadTimeoutError(endpoint_url="", error=exc)
    if isinstance(exc, bce.EndpointConnectionError):
        original = exc.kwargs.get("error")
        if isinstance(original, client_error) and not isinstance(original, connector_error):
            return TransportError(
                f"{operation}: the connection failed before a response arrived; the request "
                "may have been processed",
                operation=operation,
            )
    # Not HTTPClientError's subclasses (read timeouts, ...): they say more themselves.
    if type(exc) is bce.HTTPClientError and isinstance(exc.kwargs.get("error"), httpx_errors):
        return TransportError(
            f"{operation}: the connection failed before a response arrived; the request "
            "may have been processed",
            operation=operation,
        )
    if isinstance(exc, (payload_error, *httpx_errors)):
        return TransportError(
            f"{operation}: the connection failed while reading the response body",
            operation=operation,
        )
    if isinstance(exc, client_error):
        return TransportError(f"{operation}: HTTP transport failed: {exc}", operation=operation)
    credentials = credentials_error(exc, operation, profile_hint=AIO_PROFILE_HINT)
    if credentials is not None:
        return credentials
    return map_exception(exc, operation=operation, read_timeout=read_timeout)


def map_aio_stream_exception(
    exc: BaseException, *, operation: str, read_timeout: float | None = None
) -> SageMakerRuntimeError | None:
    """Map an exception raised while reading a response stream's body through aiohttp or httpx.

    The twin of ``_core._errors.map_stream_exception`` for aiobotocore, which hands event
    streams the raw ``aiohttp.ClientResponse`` (``httpx.Response`` on its httpx backend):
    a read timeout (``asyncio.TimeoutError``, aiohttp's ``ServerTimeoutError``, httpx's
    ``ReadTimeout``) is a :class:`TimeoutError`; a body that ended early without a reset
    (``ClientPayloadError``, httpx's ``RemoteProtocolError``) is a truncated stream,
    :class:`StreamDecodeError`; a reset or any other connection failure is a
    :class:`TransportError`.
    """
    payload_error, client_error, _ = _aiohttp_exceptions()
    httpx_timeouts, httpx_truncations, httpx_errors = _httpx_exceptions()
    if isinstance(exc, (asyncio.TimeoutError, socket.timeout, *httpx_timeouts)):
        after = f" for {read_timeout:g}s" if read_timeout is not None else ""
        return TimeoutError(
            f"{operation}: the stream sent nothing{after} (read_timeout); the model may still "
            "be running",
            operation=operation,
        )
    if isinstance(exc, (payload_error, *httpx_truncations)) and not _reset_in(exc):
        return StreamDecodeError(
            f"{operation}: the connection closed before the stream ended (truncated response)",
            operation=operation,
        )
    if isinstance(exc, (client_error, OSError, *httpx_errors)):
        what = "was reset" if _reset_in(exc) else f"failed: {type(exc).__name__}"
        return TransportError(
            f"{operation}: the connection {what} in the middle of the stream",
            operation=operation,
        )
    return map_aio_exception(exc, operation=operation, read_timeout=read_timeout)

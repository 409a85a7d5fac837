"""Mapping botocore and urllib3 exceptions to ours, sans-I/O.

One table per family; the most specific match wins. Callers raise the result
``from`` the original exception, so nothing AWS sent is lost.
"""

from __future__ import annotations

import html
import http
import http.client
import re
import socket
import sys
from collections.abc import Mapping
from typing import Any

from botocore import exceptions as bce
from urllib3 import exceptions as u3e

from ._exceptions import (
    AccessDeniedError,
    ClientValidationError,
    CredentialsError,
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
from ._params import argument_name

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

# botocore's failures to find or load credentials, all before anything is sent.
_CREDENTIAL_FAILURES: tuple[type[bce.BotoCoreError], ...] = (
    bce.NoCredentialsError,
    bce.PartialCredentialsError,
    bce.CredentialRetrievalError,
    bce.UnknownCredentialError,
    bce.TokenRetrievalError,
    bce.SSOError,
    bce.ProfileNotFound,
)

PROFILE_HINT = "session=boto3.Session(profile_name=NAME)"
"""How a Python caller picks a profile; the CLI says ``--profile NAME`` instead."""

AIO_PROFILE_HINT = "session=aiobotocore.session.AioSession(profile=NAME)"
"""The same for the asyncio client, whose session is aiobotocore's."""


def credentials_hint(profile_hint: str = PROFILE_HINT) -> str:
    """How to configure credentials, naming ``profile_hint`` as the way to pick a profile."""
    return (
        "Configure them with the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment "
        f"variables, with `aws configure`, or with a profile (AWS_PROFILE=NAME, or {profile_hint})"
    )


# The lines of botocore's parameter report (botocore/validate.py), with the problem each
# names. Only the parameter's name is kept: the report also quotes values.
_PATH = r"[\w.\[\]]+"
_REPORT_LINES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(rf'^Missing required parameter in (?P<parent>{_PATH}): "(?P<name>\w+)"', re.M),
        "missing required parameter",
    ),
    (
        re.compile(rf'^Unknown parameter in (?P<parent>{_PATH}): "(?P<name>\w+)"', re.M),
        "unknown parameter",
    ),
    (
        re.compile(rf"^Invalid (?P<kind>type|value|length) for parameter (?P<name>{_PATH}),", re.M),
        "invalid {kind}",
    ),
    (re.compile(rf"^Invalid type for document parameter (?P<name>{_PATH}),", re.M), "invalid type"),
    (
        re.compile(rf"^Invalid parameter (?P<name>{_PATH}) must be json serializable", re.M),
        "not JSON-serialisable",
    ),
    (
        re.compile(
            rf"^Invalid number of parameters set for tagged union structure (?P<name>{_PATH})\.",
            re.M,
        ),
        "more than one member set",
    ),
    (
        re.compile(
            rf"^Must set one of the following keys for tagged union ?structure (?P<name>{_PATH}):",
            re.M,
        ),
        "no member set",
    ),
)

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


_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_EXCERPT_LENGTH = 100


def page_excerpt(page: str) -> str:
    """A page's ``<title>``, or the start of its text, as one short line of plain text."""
    title = _TITLE.search(page)
    text = title.group(1) if title else _TAG.sub(" ", _INVISIBLE.sub(" ", page))
    line = " ".join(html.unescape(text).split())
    if len(line) > _EXCERPT_LENGTH:
        return line[: _EXCERPT_LENGTH - 3].rstrip() + "..."
    return line


def _error_text(operation: str, code: str, status: int | None, message: str | None) -> str:
    if not code.isdigit():
        return message or f"{operation} failed with {code} (HTTP {status})"
    # No AWS error code: botocore put the status there, and the body (if it kept one)
    # in the message. S3 answers HEAD requests that way; a proxy or another server
    # sends a page, often many lines of HTML: keep one line of it.
    try:
        reason = f" {http.HTTPStatus(status or 0).phrase}"
    except ValueError:
        reason = ""
    if not message or not message.strip() or message == reason.strip():
        return f"{operation} failed with HTTP {status}{reason}"  # no body, or botocore's stand-in
    excerpt = page_excerpt(message)
    text = (
        f"{operation}: HTTP {status}{reason}; not an AWS error response "
        "(a proxy, or the wrong endpoint_url?)"
    )
    # A title that says no more than the status line is not repeated.
    return text if excerpt in ("", reason.strip(), f"{status}{reason}") else f"{text}: {excerpt}"


def map_client_error(exc: bce.ClientError, operation: str) -> ServiceError:
    """Turn a botocore ``ClientError`` into the matching :class:`ServiceError`."""
    response: Mapping[str, Any] = exc.response
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    status = _int_or_none(meta.get("HTTPStatusCode"))
    message = _str_or_none(error.get("Message")) or _str_or_none(response.get("Message"))
    page = _str_or_none(error.get("Page"))  # a 5xx page botocore dropped (see _config._keep)
    cls = _service_error_class(code, status)
    common: dict[str, Any] = {
        "code": code,
        "http_status": status,
        "response": response,
        "request_id": _str_or_none(meta.get("RequestId")),
        "operation": operation,
        "retryable": issubclass(cls, RETRYABLE_ERRORS),
    }
    text = _error_text(operation, code, status, page or message)
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


def rejected_parameters(report: str) -> list[tuple[str, str]]:
    """``(parameter, problem)`` for each line of botocore's parameter report, in order.

    A top-level member is named by its Python argument (``"Body"`` -> ``"body"``); a
    nested one by its path (``"Tagging.TagSet[0].Key"``).
    """
    found: list[tuple[int, str, str]] = []
    for pattern, problem in _REPORT_LINES:
        for match in pattern.finditer(report):
            groups = match.groupdict()
            name = groups["name"]
            parent = groups.get("parent")
            if parent is not None and parent != "input":  # botocore's word for the top level
                name = f"{parent}.{name}"
            if "." not in name and "[" not in name:
                name = argument_name(name)
            found.append((match.start(), name, problem.format(kind=groups.get("kind"))))
    return [(name, problem) for _, name, problem in sorted(found)]


def credentials_error(
    exc: BaseException, operation: str | None, *, profile_hint: str = PROFILE_HINT
) -> CredentialsError | None:
    """A :class:`CredentialsError` saying how to configure credentials; ``None``: not one.

    ``operation`` is ``None`` when building the client failed (botocore loads the
    credentials then). ``profile_hint`` names the session of the client that failed.
    """
    if not isinstance(exc, _CREDENTIAL_FAILURES):
        return None
    if isinstance(exc, bce.NoCredentialsError):
        problem = "no AWS credentials found"
    elif isinstance(exc, bce.CredentialRetrievalError):
        # Its text can quote a credential process's output: name the provider only.
        provider = exc.kwargs.get("provider")
        problem = f"AWS credentials could not be loaded (the {provider} provider failed)"
    else:  # botocore's text names the provider, variable or profile
        problem = f"AWS credentials could not be loaded ({exc})"
    prefix = f"{operation}: " if operation else ""
    return CredentialsError(
        f"{prefix}{problem}; nothing was sent. {credentials_hint(profile_hint)}",
        operation=operation,
    )


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
        rejected = rejected_parameters(str(exc.kwargs.get("report") or exc))
        summary = "; ".join(f"{name}: {problem}" for name, problem in rejected)
        return ClientValidationError(
            f"{summary or 'a parameter was rejected'} (botocore's parameter validation)",
            field=rejected[0][0] if rejected else None,
            operation=operation,
        )
    credentials = credentials_error(exc, operation)
    if credentials is not None:
        return credentials
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

    The twin of :func:`map_stream_exception` for aiobotocore, which hands event streams
    the raw ``aiohttp.ClientResponse`` (``httpx.Response`` on its httpx backend): a read
    timeout (``asyncio.TimeoutError``, aiohttp's ``ServerTimeoutError``, httpx's
    ``ReadTimeout``) is a :class:`TimeoutError`; a body that ended early without a reset
    (``ClientPayloadError``, httpx's ``RemoteProtocolError``) is a truncated stream,
    :class:`StreamDecodeError`; a reset or any other connection failure is a
    :class:`TransportError`.
    """
    import asyncio  # here, not at the top: the sync client's import need not pay ~8 ms for it

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

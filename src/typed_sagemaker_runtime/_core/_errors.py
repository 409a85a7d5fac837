"""Mapping botocore and urllib3 exceptions to ours, sans-I/O.

One table per family; the most specific match wins. Callers raise the result
``from`` the original exception, so nothing AWS sent is lost.

:func:`map_exception` is the dispatch for any exception a botocore call raises;
what a service error response means is read in ``_service_errors``. Here too: the
credentials failures and how to fix them, and what breaks a response stream's body
read through urllib3 (:func:`map_stream_exception`). The asyncio client's aiohttp
and httpx failures are mapped in ``_aio._errors``.
"""

from __future__ import annotations

import http.client
import socket

from botocore import exceptions as bce
from urllib3 import exceptions as u3e

from ._exceptions import (
    ClientValidationError,
    CredentialsError,
    SageMakerRuntimeError,
    StreamDecodeError,
    TimeoutError,
    TransportError,
)
from ._service_errors import map_client_error, rejected_parameters
from ._unparsable import unparsable_response_error

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
    unparsable = unparsable_response_error(exc, operation)
    if unparsable is not None:
        return unparsable
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

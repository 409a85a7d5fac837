"""The exceptions raised by typed-sagemaker-runtime.

Every failure is one of these; the original botocore or urllib3 exception is
chained as ``__cause__``. Context lives on attributes, never in the message:
messages never contain request bodies or custom attributes.

* SageMakerRuntimeError              .message .request_id .operation .retryable
  x ClientValidationError (ValueError)   bad arguments, nothing was sent
  x CredentialsError                 no usable AWS credentials, nothing was sent
  x ServiceError                     .code .http_status .response
    + ValidationError (400)          .error_code
      - EndpointNotFoundError
    + AccessDeniedError (403)
    + ModelError (424)               .original_status_code .original_message .log_stream_arn
    + ModelNotReadyError (429)
    + ThrottlingError
    + InternalFailureError (500)
    + ServiceUnavailableError (503)
    + InternalDependencyError (530)
  x TransportError                   connection refused, reset, DNS
    + TimeoutError (also builtins.TimeoutError)
  x StreamError                      .event
    + ModelStreamInterruptedError    .error_code
    + InternalStreamFailureError
    + StreamDecodeError
    + GenerationError
  x AsyncInferenceError
    + AsyncInferenceFailedError      .failure_location .failure
    + AsyncInferenceTimeoutError     .output_location
* StreamConsumedError (RuntimeError) a single-pass stream was iterated twice
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._public import public

if TYPE_CHECKING:
    from ._events import InternalStreamFailure, ModelStreamError, StreamEvent

__all__ = [
    "SageMakerRuntimeError",
    "ClientValidationError",
    "CredentialsError",
    "ServiceError",
    "ValidationError",
    "EndpointNotFoundError",
    "AccessDeniedError",
    "ModelError",
    "ModelNotReadyError",
    "ThrottlingError",
    "InternalFailureError",
    "ServiceUnavailableError",
    "InternalDependencyError",
    "TransportError",
    "TimeoutError",
    "StreamError",
    "ModelStreamInterruptedError",
    "InternalStreamFailureError",
    "StreamDecodeError",
    "GenerationError",
    "AsyncInferenceError",
    "AsyncInferenceFailedError",
    "AsyncInferenceTimeoutError",
    "StreamConsumedError",
]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    """An exception of ``cls`` with ``args``, not initialised: what unpickling restores."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


@public
class SageMakerRuntimeError(Exception):
    """Base class of every error this library raises (except misuse errors)."""

    message: str
    """A human-readable description. Never contains request bodies or custom attributes."""
    request_id: str | None
    """The ``x-amzn-RequestId`` of the call that failed, when a response was received."""
    operation: str | None
    """The AWS operation name, e.g. ``"InvokeEndpoint"``; ``None`` when no call was made."""
    retryable: bool
    """Whether the default retry policy treats this failure as safe to retry."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        operation: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.operation = operation
        self.retryable = retryable

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id: {self.request_id})"
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # BaseException's pickles as ``cls(*args)``, which loses the keyword-only fields
        # (and fails where one is required, e.g. ServiceError's ``code``): rebuild the
        # instance without __init__, then restore every attribute.
        return (_rebuild, (type(self), self.args), self.__dict__)


@public
class ClientValidationError(SageMakerRuntimeError, ValueError):
    """An argument was rejected before anything was sent. ``field`` names it."""

    field: str | None
    """The parameter that was rejected, e.g. ``"endpoint_name"``."""

    def __init__(self, message: str, *, field: str | None = None, operation: str | None = None):
        super().__init__(message, operation=operation)
        self.field = field


@public
class CredentialsError(SageMakerRuntimeError):
    """No usable AWS credentials were found, so nothing was sent.

    None are configured, they are incomplete, a credential provider (SSO, a process, a
    role) failed, or the profile does not exist. The message says how to configure
    them; botocore's exception is the ``__cause__``.

    A direct child of :class:`SageMakerRuntimeError`, beside :class:`ClientValidationError`:
    like it, nothing reached the network, but it is the environment's configuration, not
    an argument, so it is not a ``ValueError``; and no service answered, so it is not a
    :class:`ServiceError` (credentials the service rejects raise :class:`AccessDeniedError`).
    """


# --- Errors returned by the service ------------------------------------------------


@public
class ServiceError(SageMakerRuntimeError):
    """SageMaker answered with an error status. Unknown codes land here with ``code`` set."""

    code: str
    """The AWS error code, e.g. ``"ValidationError"``, or the status as text for non-AWS errors."""
    http_status: int | None
    """The HTTP status code of the error response."""
    response: Mapping[str, Any]
    """botocore's parsed error response (``ClientError.response``), unchanged."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int | None = None,
        response: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, request_id=request_id, operation=operation, retryable=retryable)
        self.code = code
        self.http_status = http_status
        self.response = response if response is not None else {}


@public
class ValidationError(ServiceError):
    """SageMaker rejected the request (HTTP 400), e.g. a wrong header or payload."""

    error_code: str | None
    """The service's sub-code (e.g. ``INFERENCE_COMPONENT_NAME_MISSING``) when it sent one."""

    def __init__(self, message: str, *, error_code: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error_code = error_code


@public
class EndpointNotFoundError(ValidationError):
    """The endpoint does not exist in this account and region.

    SageMaker says so in a ValidationError: "Endpoint X of account Y not found."
    """


@public
class AccessDeniedError(ServiceError):
    """HTTP 403: missing permission, unknown or expired credentials, or a bad signature."""


@public
class ModelError(ServiceError):
    """HTTP 424: the model container answered with an error or did not answer."""

    original_status_code: int | None
    """The status code the container returned."""
    original_message: str | None
    """The body the container returned, as text."""
    log_stream_arn: str | None
    """The CloudWatch log stream of the container, when SageMaker sent it."""
    error_code: str | None
    """SageMaker's sub-code (e.g. ``CLIENT_ERROR_FROM_MODEL``) when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        original_status_code: int | None = None,
        original_message: str | None = None,
        log_stream_arn: str | None = None,
        error_code: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.original_status_code = original_status_code
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn
        self.error_code = error_code


@public
class ModelNotReadyError(ServiceError):
    """HTTP 429: the model is not loaded yet (multi-model endpoints). Retried by default."""


@public
class ThrottlingError(ServiceError):
    """The request was throttled. Retried by default."""


@public
class InternalFailureError(ServiceError):
    """HTTP 500: SageMaker failed internally. Retried by default."""


@public
class ServiceUnavailableError(ServiceError):
    """HTTP 503: the service is unavailable. Retried by default."""


@public
class InternalDependencyError(ServiceError):
    """HTTP 530: a SageMaker dependency failed. Not retried: the model may have run."""


# --- Errors below the HTTP layer ---------------------------------------------------


@public
class TransportError(SageMakerRuntimeError):
    """The connection failed: refused, reset, closed early, DNS, TLS, proxy."""


@public
class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect or read timeout. After a read timeout the model may still be running."""


# --- Errors while consuming a stream -----------------------------------------------


@public
class StreamError(SageMakerRuntimeError):
    """Raised while consuming a response stream."""

    event: StreamEvent | None
    """The stream event that caused the error, when one did."""

    def __init__(self, message: str, *, event: StreamEvent | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.event = event


@public
class ModelStreamInterruptedError(StreamError):
    """The stream carried a ``ModelStreamError`` event (e.g. ModelInvocationTimeExceeded)."""

    error_code: str | None
    """The ``ErrorCode`` of the event: ``ModelInvocationTimeExceeded``, ``StreamBroken``, ..."""

    def __init__(
        self, message: str, *, event: ModelStreamError | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, event=event, **kwargs)
        self.error_code = event.error_code if event is not None else None


@public
class InternalStreamFailureError(StreamError):
    """The stream carried an ``InternalStreamFailure`` event."""

    def __init__(
        self, message: str, *, event: InternalStreamFailure | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, event=event, **kwargs)


@public
class StreamDecodeError(StreamError):
    """Corrupt or truncated event-stream frames, invalid UTF-8, or a malformed record."""


@public
class GenerationError(StreamError):
    """The model server wrote an error record into the stream (in-band, with HTTP 200)."""


# --- Async inference -----------------------------------------------------------------


@public
class AsyncInferenceError(SageMakerRuntimeError):
    """Base class for failures while waiting for an asynchronous inference."""


@public
class AsyncInferenceFailedError(AsyncInferenceError):
    """SageMaker wrote a failure object for the inference."""

    failure_location: str | None
    """The S3 URI of the failure object."""
    failure: str | None
    """The text of the failure object."""

    def __init__(
        self,
        message: str,
        *,
        failure_location: str | None = None,
        failure: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.failure_location = failure_location
        self.failure = failure


@public
class AsyncInferenceTimeoutError(AsyncInferenceError, builtins.TimeoutError):
    """No output or failure object appeared before the deadline."""

    output_location: str | None
    """The S3 URI where the output will appear; poll it later."""

    def __init__(self, message: str, *, output_location: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.output_location = output_location


# --- Misuse ---------------------------------------------------------------------------


@public
class StreamConsumedError(RuntimeError):
    """A response stream is single-pass: it was iterated, read or closed already."""

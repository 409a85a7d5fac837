"""Result types (TypedDicts) and argument type aliases.

Every key of a result is always present; it is ``None`` when AWS sent nothing.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeAlias

from typing_extensions import TypedDict

from ._public import public

__all__ = [
    "ResponseMetadata",
    "InvokeResult",
    "InvokeAsyncResult",
    "StreamMetadata",
    "AsyncOutput",
    "Body",
    "ReadableBody",
    "Operation",
]


@public
class ReadableBody(Protocol):
    """A binary file object: anything with ``read(size) -> bytes``, like ``open(path, "rb")``."""

    def read(self, size: int = ..., /) -> bytes:
        """Read up to ``size`` bytes; all remaining bytes when ``size`` is -1."""
        ...


Body: TypeAlias = bytes | bytearray | memoryview | str | ReadableBody
"""A request body: bytes-like, ``str`` (sent as UTF-8) or a binary file object."""

Operation: TypeAlias = Literal[
    "InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"
]
"""The three SageMaker Runtime operations."""


@public
class ResponseMetadata(TypedDict):
    """What AWS sent about the HTTP exchange itself."""

    request_id: str | None
    """The ``x-amzn-RequestId`` header; quote it in AWS support cases."""
    http_status_code: int
    """The HTTP status of the final attempt."""
    http_headers: dict[str, str]
    """The response headers, names lower-cased."""
    retry_attempts: int
    """How many times the call was retried before this response (0 = first attempt)."""


@public
class InvokeResult(TypedDict):
    """The result of :meth:`SageMakerRuntime.invoke` (InvokeEndpoint)."""

    body: bytes
    """The whole response body; the HTTP stream is already read and closed."""
    content_type: str | None
    """The MIME type the model returned."""
    invoked_production_variant: str | None
    """The production variant that served the request."""
    custom_attributes: str | None
    """The ``X-Amzn-SageMaker-Custom-Attributes`` the model returned."""
    new_session_id: str | None
    """The new session id and its expiry (``"id; Expires=..."``) for stateful sessions."""
    closed_session_id: str | None
    """The session id the model closed."""
    response_metadata: ResponseMetadata
    """Request id, status, headers and retry count."""


@public
class InvokeAsyncResult(TypedDict):
    """The result of :meth:`SageMakerRuntime.invoke_async` (InvokeEndpointAsync)."""

    inference_id: str | None
    """The inference id, yours or one SageMaker generated."""
    output_location: str | None
    """The S3 URI where the output object will be written."""
    failure_location: str | None
    """The S3 URI where a failure object will be written instead."""
    response_metadata: ResponseMetadata
    """Request id, status, headers and retry count."""


@public
class StreamMetadata(TypedDict):
    """What the InvokeEndpointWithResponseStream response said before its events."""

    content_type: str | None
    """The MIME type of the payload the model streams (e.g. ``text/event-stream``)."""
    invoked_production_variant: str | None
    """The production variant that serves the stream."""
    custom_attributes: str | None
    """The ``X-Amzn-SageMaker-Custom-Attributes`` the model returned."""
    response_metadata: ResponseMetadata
    """Request id, status, headers and retry count."""


@public
class AsyncOutput(TypedDict):
    """The output object of a finished asynchronous inference."""

    body: bytes
    """The content of the output object."""
    content_type: str | None
    """The content type of the output object."""
    output_location: str
    """The S3 URI it was read from."""

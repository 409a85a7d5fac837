"""What the local endpoint hands to handlers, and what handlers may give back."""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal, TypeAlias

from .._core._events import StreamEvent
from ._headers import Headers

__all__ = [
    "Operation",
    "InvocationRequest",
    "EndpointResponse",
    "ResponseBody",
    "RawFrames",
    "HandlerResult",
    "Handler",
]

Operation: TypeAlias = Literal[
    "InvokeEndpoint",
    "InvokeEndpointAsync",
    "InvokeEndpointWithResponseStream",
    "InvokeEndpointWithBidirectionalStream",
]
"""The SageMaker Runtime operation a request was sent to.

A bidirectional stream's request is recorded with its headers as received and an empty
``body``: its parts go to the backend as they arrive and are not kept.
"""


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, repr=False)
class InvocationRequest:
    """One request received by the local endpoint, as it arrived on the wire.

    Every property is ``None`` when the request did not carry it. The repr shows the body
    size and whether custom attributes were sent, never their content.
    """

    endpoint_name: str
    """The URL-decoded endpoint name from the request path."""
    operation: Operation
    """Which operation was called."""
    headers: Headers
    """All request headers (case-insensitive)."""
    body: bytes
    """The request body (de-chunked when it was sent with ``Transfer-Encoding: chunked``)."""
    request_id: str
    """The ``x-amzn-RequestId`` the local endpoint answered this request with."""

    def _header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str | None:
        """The request's content type (``X-Amzn-SageMaker-Content-Type`` for async calls)."""
        if self.operation == "InvokeEndpointAsync":
            return self._header("X-Amzn-SageMaker-Content-Type")
        return self._header("Content-Type")

    @property
    def accept(self) -> str | None:
        """The accepted response type (``X-Amzn-SageMaker-Accept`` off InvokeEndpoint)."""
        if self.operation == "InvokeEndpoint":
            return self._header("Accept")
        return self._header("X-Amzn-SageMaker-Accept")

    @property
    def custom_attributes(self) -> str | None:
        """``X-Amzn-SageMaker-Custom-Attributes``."""
        return self._header("X-Amzn-SageMaker-Custom-Attributes")

    @property
    def target_model(self) -> str | None:
        """``X-Amzn-SageMaker-Target-Model`` (multi-model endpoints)."""
        return self._header("X-Amzn-SageMaker-Target-Model")

    @property
    def target_variant(self) -> str | None:
        """``X-Amzn-SageMaker-Target-Variant``."""
        return self._header("X-Amzn-SageMaker-Target-Variant")

    @property
    def target_container_hostname(self) -> str | None:
        """``X-Amzn-SageMaker-Target-Container-Hostname`` (multi-container endpoints)."""
        return self._header("X-Amzn-SageMaker-Target-Container-Hostname")

    @property
    def inference_id(self) -> str | None:
        """``X-Amzn-SageMaker-Inference-Id``."""
        return self._header("X-Amzn-SageMaker-Inference-Id")

    @property
    def enable_explanations(self) -> str | None:
        """``X-Amzn-SageMaker-Enable-Explanations`` (a JMESPath expression, as sent)."""
        return self._header("X-Amzn-SageMaker-Enable-Explanations")

    @property
    def inference_component_name(self) -> str | None:
        """``X-Amzn-SageMaker-Inference-Component``."""
        return self._header("X-Amzn-SageMaker-Inference-Component")

    @property
    def session_id(self) -> str | None:
        """``X-Amzn-SageMaker-Session-Id`` (``"NEW_SESSION"`` opens a session)."""
        return self._header("X-Amzn-SageMaker-Session-Id")

    @property
    def prefix_aware_id(self) -> str | None:
        """``X-Amzn-SageMaker-Prefix-Aware-Id`` (sent only by newer botocore versions)."""
        return self._header("X-Amzn-SageMaker-Prefix-Aware-Id")

    @property
    def input_location(self) -> str | None:
        """``X-Amzn-SageMaker-InputLocation`` (async calls)."""
        return self._header("X-Amzn-SageMaker-InputLocation")

    @property
    def request_ttl_seconds(self) -> int | None:
        """``X-Amzn-SageMaker-RequestTTLSeconds`` as an integer (async calls)."""
        return _int_or_none(self._header("X-Amzn-SageMaker-RequestTTLSeconds"))

    @property
    def invocation_timeout_seconds(self) -> int | None:
        """``X-Amzn-SageMaker-InvocationTimeoutSeconds`` as an integer (async calls)."""
        return _int_or_none(self._header("X-Amzn-SageMaker-InvocationTimeoutSeconds"))

    @property
    def s3_output_path_extension(self) -> str | None:
        """``X-Amzn-SageMaker-S3OutputPathExtension`` (async calls)."""
        return self._header("X-Amzn-SageMaker-S3OutputPathExtension")

    @property
    def filename(self) -> str | None:
        """``X-Amzn-SageMaker-Filename``: the output object's name (async calls)."""
        return self._header("X-Amzn-SageMaker-Filename")

    def json(self) -> Any:
        """Parse the body as JSON (raises ``ValueError`` when it is not JSON)."""
        return _json.loads(self.body)

    def __repr__(self) -> str:
        custom = "<set>" if self.custom_attributes is not None else None
        return (
            f"InvocationRequest(endpoint_name={self.endpoint_name!r}, "
            f"operation={self.operation!r}, body=<{len(self.body)} bytes>, "
            f"content_type={self.content_type!r}, custom_attributes={custom}, "
            f"request_id={self.request_id!r})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class RawFrames:
    """Event-stream bytes a stream handler yields to be sent as they are, in one HTTP chunk.

    For frames SageMaker itself never sends (unknown event types, extra headers) and
    for benchmarks that should not pay for encoding on the server. It counts as one
    part for ``after_parts``. InvokeEndpoint rejects it.
    """

    data: bytes
    """Encoded frames, e.g. from ``encode_frame`` or ``encode_event``."""

    def __repr__(self) -> str:
        return f"RawFrames(<{len(self.data)} bytes>)"


ResponseBody: TypeAlias = bytes | str | Iterable[bytes | str | StreamEvent | RawFrames]
"""A response body: bytes, UTF-8 text, or an iterable of chunks or stream events.

For InvokeEndpoint the chunks are joined. For InvokeEndpointWithResponseStream each chunk
becomes one ``PayloadPart`` (sent as soon as it is produced), a ``ModelStreamError`` or
``InternalStreamFailure`` item ends the stream with that event, and :class:`RawFrames`
are sent verbatim.
"""


@dataclass(frozen=True, slots=True, repr=False)
class EndpointResponse:
    """A handler's answer with response headers; the repr hides the body and custom attributes."""

    body: ResponseBody = b""
    """The response body (see :data:`ResponseBody`)."""
    _: KW_ONLY
    content_type: str | None = None
    """The response content type; defaults to the endpoint's, then to the request's ``Accept``."""
    custom_attributes: str | None = None
    """Sent back as ``X-Amzn-SageMaker-Custom-Attributes``."""
    new_session_id: str | None = None
    """InvokeEndpoint only: sent as ``X-Amzn-SageMaker-New-Session-Id: <id>; Expires=<UTC>``."""
    closed_session_id: str | None = None
    """InvokeEndpoint only: sent as ``X-Amzn-SageMaker-Closed-Session-Id``."""
    invoked_production_variant: str | None = None
    """Overrides ``x-Amzn-Invoked-Production-Variant`` (default: target variant, ``AllTraffic``)."""

    def __repr__(self) -> str:
        if isinstance(self.body, (bytes, bytearray, memoryview)):
            body = f"<{len(self.body)} bytes>"
        elif isinstance(self.body, str):
            body = f"<{len(self.body)} chars>"
        else:
            body = "<iterable>"
        custom = "<set>" if self.custom_attributes is not None else None
        return (
            f"EndpointResponse(body={body}, content_type={self.content_type!r}, "
            f"custom_attributes={custom}, new_session_id={self.new_session_id!r}, "
            f"closed_session_id={self.closed_session_id!r}, "
            f"invoked_production_variant={self.invoked_production_variant!r})"
        )


HandlerResult: TypeAlias = ResponseBody | EndpointResponse
"""What a handler may return: a :data:`ResponseBody` or an :class:`EndpointResponse`."""

Handler: TypeAlias = Callable[[InvocationRequest], HandlerResult]
"""An endpoint's model: called once per InvokeEndpoint or stream request, in a server thread.

A generator function works too; for the stream operation its items are sent as they are
produced. An exception becomes a ``ModelError`` (or, once a stream has started, a
``ModelStreamError`` event with error code ``StreamBroken``).
"""

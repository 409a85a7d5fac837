"""Stream responses for botocore's ``Stubber``: real frames, decoded by botocore itself.

``Stubber.add_response`` validates the response dict against the operation's output shape,
and botocore's validator accepts only a ``dict`` for an event-stream member, so a real
``EventStream`` is rejected::

    Invalid type for parameter Body, value: <botocore.eventstream.EventStream ...>,
    type: <class 'botocore.eventstream.EventStream'>, valid types: <class 'dict'>

:func:`stub_stream_response` works around that check, and only that one:

1. The events are encoded as real event-stream frames and wrapped in a real
   ``urllib3.response.HTTPResponse`` (over ``io.BytesIO``), as botocore's HTTP layer
   would hand them over.
2. botocore's own response parser for the service's protocol builds the response from
   those bytes and SageMaker's response headers: ``ContentType`` and the other header
   members, ``ResponseMetadata``, and a real ``botocore.eventstream.EventStream`` as
   ``Body`` (exactly what ``invoke_endpoint_with_response_stream`` returns over HTTP).
3. ``Stubber.add_response`` validates that response with ``Body`` replaced by a one-event
   dict that is valid for the ``ResponseStream`` shape, so every other member is checked
   as usual (and ``expected_params`` work as usual).
4. The real ``EventStream`` is put back into the dict that the Stubber queued: the Stubber
   queues the dict it was given (it copies only for validation), so the stubbed call
   returns it. The tests of this package check that this keeps holding.

Iterating ``response["Body"]`` then runs botocore's frame decoder and event parser: raw
boto3 code gets botocore's dicts (and ``EventStreamError`` for error events), and
``SageMakerRuntime(client=stubbed_client).stream(...)`` reads the same frames through
``Body._raw_stream`` and yields typed events.
"""

from __future__ import annotations

import functools
import io
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from .._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from .._core._eventstream import encode_event

if TYPE_CHECKING:
    from botocore.eventstream import EventStream
    from botocore.model import ServiceModel
    from botocore.stub import Stubber
    from types_boto3_sagemaker_runtime.type_defs import ResponseStreamTypeDef

__all__ = ["botocore_event_stream", "stub_stream_response"]

_OPERATION = "InvokeEndpointWithResponseStream"
_METHOD = "invoke_endpoint_with_response_stream"
_EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"
# Valid for the ResponseStream shape whether or not a botocore models it as a tagged union.
_PLACEHOLDER_BODY: dict[str, object] = {"PayloadPart": {"Bytes": b""}}


def _encode(events: Iterable[StreamEvent | bytes | str]) -> bytes:
    frames: list[bytes] = []
    for event in events:
        item = cast(object, event)  # checked at run time too: callers may be untyped
        if isinstance(item, (PayloadPart, ModelStreamError, InternalStreamFailure)):
            frames.append(encode_event(item))
        elif isinstance(item, str):
            frames.append(encode_event(PayloadPart(item.encode("utf-8"))))
        elif isinstance(item, (bytes, bytearray)):
            frames.append(encode_event(PayloadPart(bytes(item))))
        else:
            raise TypeError(
                f"expected PayloadPart, ModelStreamError, InternalStreamFailure, bytes or "
                f"str, not {type(item).__name__}"
            )
    return b"".join(frames)


@functools.cache
def _default_service_model() -> ServiceModel:
    import botocore.session

    model: ServiceModel = botocore.session.get_session().get_service_model("sagemaker-runtime")
    return model


def _parsed_response(
    events: Iterable[StreamEvent | bytes | str],
    service_model: ServiceModel,
    *,
    content_type: str | None,
    invoked_production_variant: str | None,
    custom_attributes: str | None,
    request_id: str | None,
) -> dict[str, Any]:
    """What botocore's parser makes of a stream response carrying ``events``."""
    import urllib3
    from botocore.awsrequest import AWSResponse
    from botocore.endpoint import convert_to_response_dict
    from botocore.parsers import create_parser

    raw = urllib3.response.HTTPResponse(
        body=io.BytesIO(_encode(events)),
        headers={"Content-Type": _EVENTSTREAM_TYPE},
        status=200,
        preload_content=False,
        decode_content=False,
    )
    headers = {
        "x-amzn-RequestId": request_id if request_id is not None else str(uuid.uuid4()),
        "Content-Type": _EVENTSTREAM_TYPE,
        "Transfer-Encoding": "chunked",
    }
    if content_type is not None:
        headers["X-Amzn-SageMaker-Content-Type"] = content_type
    if invoked_production_variant is not None:
        headers["x-Amzn-Invoked-Production-Variant"] = invoked_production_variant
    if custom_attributes is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    operation = service_model.operation_model(_OPERATION)
    # botocore wraps the headers in its case-insensitive HeadersDict itself.
    http_response = AWSResponse("http://stubbed.invalid", 200, cast("Any", headers), raw)
    response_dict = convert_to_response_dict(http_response, operation)
    parser: Any = create_parser(service_model.protocol)
    parsed: dict[str, Any] = parser.parse(response_dict, operation.output_shape)
    parsed["ResponseMetadata"]["RetryAttempts"] = 0  # botocore's endpoint adds it
    return parsed


def botocore_event_stream(
    events: Iterable[StreamEvent | bytes | str],
    *,
    service_model: ServiceModel | None = None,
) -> EventStream[ResponseStreamTypeDef]:
    """A real ``botocore.eventstream.EventStream`` that yields ``events``.

    The events (``bytes``/``str`` items are payload parts) are encoded as SageMaker's
    event-stream frames and decoded by botocore when iterated, as over HTTP: payload parts
    come out as ``{"PayloadPart": {"Bytes": ...}}`` and an error event raises botocore's
    ``EventStreamError``. ``service_model`` defaults to botocore's ``sagemaker-runtime``
    model. Close it (or read it to the end) when done.
    """
    model = service_model if service_model is not None else _default_service_model()
    parsed = _parsed_response(
        events,
        model,
        content_type=None,
        invoked_production_variant=None,
        custom_attributes=None,
        request_id=None,
    )
    stream: EventStream[ResponseStreamTypeDef] = parsed["Body"]
    return stream


def stub_stream_response(
    stubber: Stubber,
    events: Iterable[StreamEvent | bytes | str],
    *,
    content_type: str | None = "application/octet-stream",
    invoked_production_variant: str | None = "AllTraffic",
    custom_attributes: str | None = None,
    request_id: str | None = None,
    expected_params: dict[str, Any] | None = None,
) -> None:
    """Queue an ``invoke_endpoint_with_response_stream`` response on a botocore ``Stubber``.

    ::

        with Stubber(client) as stubber:
            stub_stream_response(
                stubber,
                [PayloadPart(b"Hello"), PayloadPart(b" world")],
                content_type="text/plain",
                expected_params={"EndpointName": "ep", "Body": b"hi"},
            )
            with SageMakerRuntime(client=client).stream("ep", b"hi") as stream:
                assert stream.read() == b"Hello world"

    ``events`` are typed events (``bytes``/``str`` items are payload parts); an error
    event ends the stream as it would on AWS. The response is built by botocore's own
    parser from real frames and SageMaker's headers (``content_type`` is sent as
    ``X-Amzn-SageMaker-Content-Type``; ``None`` leaves a header out). See the module
    documentation for how the Stubber's output validation is satisfied.
    """
    parsed = _parsed_response(
        events,
        stubber.client.meta.service_model,
        content_type=content_type,
        invoked_production_variant=invoked_production_variant,
        custom_attributes=custom_attributes,
        request_id=request_id,
    )
    body = parsed["Body"]
    parsed["Body"] = _PLACEHOLDER_BODY
    try:
        stubber.add_response(_METHOD, parsed, expected_params)
    except BaseException:
        body.close()
        raise
    parsed["Body"] = body

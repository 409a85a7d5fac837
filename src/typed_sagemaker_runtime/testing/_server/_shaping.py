"""Turning a handler's result into response bodies, events and headers."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import cast

from ..._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from .._model import EndpointResponse, InvocationRequest, RawFrames, ResponseBody
from ._endpoint import Endpoint
from ._http import http_date

_EVENTS = (PayloadPart, ModelStreamError, InternalStreamFailure, RawFrames)


class ModelFailed(Exception):
    """A handler produced an error event where a plain body was expected."""


def base_headers(request_id: str) -> list[tuple[str, str]]:
    """The headers every SageMaker response carries."""
    return [("x-amzn-RequestId", request_id), ("Date", http_date())]


def as_bytes(item: object) -> bytes:
    """A body chunk as bytes (``str`` is UTF-8 encoded)."""
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, bytearray):
        return bytes(item)
    if isinstance(item, memoryview):
        return item.tobytes()
    if isinstance(item, PayloadPart):
        return item.data
    if isinstance(item, (ModelStreamError, InternalStreamFailure)):
        raise ModelFailed(item.message or type(item).__name__)
    if isinstance(item, RawFrames):
        raise TypeError("RawFrames can only be sent by InvokeEndpointWithResponseStream")
    raise TypeError(
        f"a handler returned a {type(item).__name__}; expected bytes, str, an iterable "
        "of them or of stream events, or an EndpointResponse"
    )


def response_of(result: object) -> EndpointResponse:
    """A handler's result as an :class:`EndpointResponse`."""
    if isinstance(result, EndpointResponse):
        return result
    if result is None:
        raise TypeError(
            "a handler returned None; return bytes, str, an iterable of chunks, "
            "or an EndpointResponse"
        )
    return EndpointResponse(cast(ResponseBody, result))  # checked when it is consumed


def join_body(body: ResponseBody) -> bytes:
    """The whole body of a non-streaming response (an error event raises ``ModelFailed``)."""
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        return as_bytes(body)
    return b"".join(as_bytes(item) for item in body)


def stream_items(body: ResponseBody) -> Generator[StreamEvent | RawFrames, None, None]:
    """The events of a streamed body; empty bare chunks are skipped; closes its source."""
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        data = as_bytes(body)
        if data:
            yield PayloadPart(data)
        return
    iterator = iter(cast(Iterable[object], body))
    try:
        for item in iterator:
            if isinstance(item, _EVENTS):
                yield item
            elif data := as_bytes(item):
                yield PayloadPart(data)
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()


def content_type_for(
    response: EndpointResponse, endpoint: Endpoint, request: InvocationRequest
) -> str:
    """The handler's content type, else the endpoint's, else a plain ``Accept``, else binary."""
    if response.content_type is not None:
        return response.content_type
    if endpoint.content_type is not None:
        return endpoint.content_type
    accept = (request.accept or "").strip()
    if accept and "*" not in accept and "," not in accept:
        return accept
    return "application/octet-stream"


def production_variant(response: EndpointResponse, request: InvocationRequest) -> str:
    """The ``x-Amzn-Invoked-Production-Variant`` value."""
    return response.invoked_production_variant or request.target_variant or "AllTraffic"

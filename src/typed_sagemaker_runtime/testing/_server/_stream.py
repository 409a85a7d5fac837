"""InvokeEndpointWithResponseStream: events written one HTTP chunk each, as produced."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, NoReturn

from ..._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from ..._core._eventstream import encode_event
from .._failure import ModelFailure
from .._faults import (
    ConnectionReset,
    CorruptFrame,
    ErrorResponse,
    Fault,
    RawResponse,
    ShortContentLength,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    TruncatedFrame,
)
from .._model import InvocationRequest, RawFrames
from .._rechunk import rechunked
from ._http import CloseConnection, ResetConnection, ResponseWriter
from ._shaping import base_headers, content_type_for, production_variant, response_of, stream_items

if TYPE_CHECKING:
    from ._endpoint import Endpoint
    from ._service import Service

logger = logging.getLogger("typed_sagemaker_runtime.testing")

_FILLER = PayloadPart(b"local-sagemaker-filler")  # the "next frame" when the handler has none


def _flip_last_byte(frame: bytes) -> bytes:
    # The byte before the message CRC: payload (or header) data, never the prelude.
    return frame[:-5] + bytes([frame[-5] ^ 0xFF]) + frame[-4:]


def stream_response(
    service: Service,
    endpoint: Endpoint,
    request: InvocationRequest,
    writer: ResponseWriter,
    fault: Fault | None,
) -> None:
    """Answer a stream request: a 424 if the handler fails at once, else an event stream."""
    out = _Framer(writer, endpoint.max_chunk_bytes)
    try:
        response = response_of(endpoint.handler(request))
        items = stream_items(response.body)
        sizes = endpoint.part_sizes()
        if sizes is not None:
            if isinstance(fault, SlowTokens):  # per token written, not per part cut from it
                items = _slowed(service, items, fault.delay_seconds, out)
                fault = None
            items = rechunked(items, sizes)
        first = next(items, None)
    except Exception as exc:
        writer.send(*service.model_error(request, exc))
        return
    headers = base_headers(request.request_id)
    headers.append(("Content-Type", "application/vnd.amazon.eventstream"))
    headers.append(("X-Amzn-SageMaker-Content-Type", content_type_for(response, endpoint, request)))
    headers.append(("x-Amzn-Invoked-Production-Variant", production_variant(response, request)))
    if response.custom_attributes is not None:
        headers.append(("X-Amzn-SageMaker-Custom-Attributes", response.custom_attributes))
    if isinstance(fault, ShortContentLength):
        try:
            _send_short(writer, headers, first, items, fault.after_parts or 0)
        finally:
            items.close()
    writer.start_chunked(200, headers)
    try:
        _pump(service, request, out, first, items, fault)
    finally:
        items.close()


class _Framer:
    """Sends event frames as HTTP chunks: each at once, or packed up to ``limit`` bytes."""

    __slots__ = ("_limit", "_pending", "_size", "writer")

    def __init__(self, writer: ResponseWriter, limit: int | None) -> None:
        self.writer = writer
        self._limit = limit
        self._pending: list[bytes] = []
        self._size = 0

    def send(self, frame: bytes) -> None:
        if self._limit is None:
            self.writer.chunk(frame)
            return
        self._pending.append(frame)
        self._size += len(frame)
        if self._size >= self._limit:
            self.flush()

    def flush(self, *, head: bool = False) -> None:
        """Send packed frames now (and, with ``head``, the response head in any case)."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            self.writer.chunk(data)
        if head:
            self.writer.flush_head()

    def end(self, last: StreamEvent | bytes | None = None) -> None:
        """Send what is packed and the ``last`` event (or frame), and end the body, in one write."""
        if last is not None:
            self._pending.append(last if isinstance(last, bytes) else encode_event(last))
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        self.writer.end_chunked(data)


def _slowed(
    service: Service,
    items: Generator[StreamEvent | RawFrames, None, None],
    delay: float,
    out: _Framer,
) -> Generator[StreamEvent | RawFrames, None, None]:
    """``items`` with :class:`SlowTokens`' delay before each after the first."""
    try:
        for index, item in enumerate(items):
            if index:
                out.flush(head=True)
                service.stall(delay)
            yield item
    finally:
        items.close()


def _pump(
    service: Service,
    request: InvocationRequest,
    out: _Framer,
    item: StreamEvent | RawFrames | None,
    items: Generator[StreamEvent | RawFrames, None, None],
    fault: Fault | None,
) -> None:
    """Write events until the stream ends; ``item`` is the next event (``None``: no more).

    The handler is closed before the end of the stream is sent, so a client that saw the
    end knows the handler's ``finally`` blocks ran.
    """
    strike_at: int | None = None
    if fault is not None and not isinstance(fault, (ErrorResponse, RawResponse, SlowTokens)):
        strike_at = fault.after_parts
    parts = 0
    corrupt = False
    while True:
        if strike_at is not None and (item is None or parts >= strike_at):
            strike_at = None
            if isinstance(fault, Stall):
                out.flush(head=True)
                service.stall(fault.seconds)
            elif isinstance(fault, ConnectionReset):
                items.close()
                out.flush(head=True)
                raise ResetConnection
            elif isinstance(fault, (StreamErrorEvent, StreamFailureEvent)):
                items.close()
                if fault.hold_seconds:  # the event now, the end of the body later
                    out.send(encode_event(_error_event(fault)))
                    out.flush(head=True)
                    service.stall(fault.hold_seconds)
                    out.end()
                else:
                    out.end(_error_event(fault))
                return
            elif isinstance(fault, TruncatedFrame):
                items.close()
                out.flush()
                frame = _encode(item or _FILLER)
                out.writer.chunk(frame[: len(frame) // 2])
                if not fault.clean_end:
                    raise CloseConnection
                out.end()
                return
            elif isinstance(fault, CorruptFrame):
                corrupt = True
        if item is None:
            if corrupt:
                out.send(_flip_last_byte(encode_event(_FILLER)))
            out.end()
            return
        frame = _encode(item)
        if corrupt:
            frame, corrupt = _flip_last_byte(frame), False
        if not isinstance(item, (PayloadPart, RawFrames)):  # an error event ends the stream
            items.close()
            out.end(frame)
            return
        if parts and isinstance(fault, SlowTokens):
            out.flush(head=True)
            service.stall(fault.delay_seconds)
        out.send(frame)
        parts += 1
        try:
            item = next(items, None)
        except CloseConnection:  # stop() ended a slow token's wait
            raise
        except Exception as exc:
            failure = isinstance(exc, ModelFailure)
            logger.log(
                logging.INFO if failure else logging.WARNING,
                "handler of endpoint %r failed mid-stream; sending ModelStreamError",
                request.endpoint_name,
                exc_info=None if failure else exc,
            )
            code = exc.stream_error_code if isinstance(exc, ModelFailure) else "StreamBroken"
            out.end(ModelStreamError(message=str(exc), error_code=code))
            return


def _send_short(
    writer: ResponseWriter,
    headers: list[tuple[str, str]],
    item: StreamEvent | RawFrames | None,
    items: Generator[StreamEvent | RawFrames, None, None],
    parts: int,
) -> NoReturn:
    """Send ``parts`` frames under a ``Content-Length`` that also counts the next one; close."""
    frames: list[bytes] = []
    while item is not None and len(frames) < parts:
        frames.append(_encode(item))
        try:
            item = next(items, None)
        except Exception:  # the handler failed: the cut comes here
            item = None
    sent = b"".join(frames)
    writer.send_short(200, headers, sent, len(sent) + len(_encode(item or _FILLER)))
    raise CloseConnection


def _encode(item: StreamEvent | RawFrames) -> bytes:
    return item.data if isinstance(item, RawFrames) else encode_event(item)


def _error_event(
    fault: StreamErrorEvent | StreamFailureEvent,
) -> ModelStreamError | InternalStreamFailure:
    if isinstance(fault, StreamErrorEvent):
        return ModelStreamError(message=fault.message, error_code=fault.error_code)
    return InternalStreamFailure(message=fault.message)

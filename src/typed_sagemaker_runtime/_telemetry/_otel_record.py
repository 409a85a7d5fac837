"""The record of a call that OpenTelemetry sees: its span and its GenAI client metrics.

:class:`Recording` is the :class:`CallRecord` that ``Telemetry.start`` hands out while a
tracer or a meter provider is configured; the span ends and the metrics are recorded once,
when the call returns or fails, or, for a stream, when the stream releases its connection.
Bodies, prompts, completions and custom attributes are never read into a span or a
metric; nor are error messages (a model's error text may echo its input).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from .._core._exceptions import (
    GenerationError,
    ModelStreamInterruptedError,
    ServiceError,
    StreamError,
)
from ._call_record import CHAT, TEXT_COMPLETION, CallRecord

if TYPE_CHECKING:
    from types import TracebackType

    from opentelemetry.trace import Span, Tracer
    from typing_extensions import Self

    from .._base._stream import PayloadDecoder
    from .._core._llm_types import Generation, GenerationChunk, Usage
    from .._decoders._chunks import ChunkDecoder
    from ._instrumentation import Instruments
    from ._otel_api import OtelApi

__all__ = ["PROVIDER", "Recording", "error_type"]

PROVIDER = "aws.sagemaker"
"""``gen_ai.provider.name``: the conventions list no value for SageMaker, so a custom one."""

logger = logging.getLogger("typed_sagemaker_runtime")

_GENERATIVE = frozenset({CHAT, TEXT_COMPLETION})
# Request parameters recorded, by the key chat (OpenAI) and generate (TGI/LMI) send them.
_SAMPLING = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_new_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("seed", "gen_ai.request.seed"),
)


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: the AWS error code of a service error, the stream
    error code of an interrupted stream, else the exception's class name."""
    if isinstance(exc, ServiceError) and exc.code:
        return exc.code
    if isinstance(exc, ModelStreamInterruptedError) and exc.error_code:
        return exc.error_code
    return type(exc).__name__


def _event_error_type(event: StreamEvent) -> str:
    if isinstance(event, ModelStreamError):
        return event.error_code or "ModelStreamError"
    return "InternalStreamFailure"


class Recording(CallRecord):
    """A call whose span is recording or whose metrics are wanted."""

    __slots__ = (
        "_api",
        "_base",
        "_chunks",
        "_ended",
        "_error",
        "_finish",
        "_first_chunk",
        "_identity",
        "_identity_source",
        "_instruments",
        "_kept",
        "_operation",
        "_retries",
        "_span",
        "_started",
        "_stream",
        "_tee",
        "_token",
        "_usage",
    )
    recording = True

    def __init__(
        self,
        api: OtelApi,
        tracer: Tracer | None,
        instruments: Instruments | None,
        operation: str,
        endpoint_name: str,
        endpoint_url: str,
        *,
        stream: bool,
        component: str | None,
        request: Mapping[str, object] | None,
    ) -> None:
        self._api = api
        self._instruments = instruments
        self._operation = operation
        self._stream = stream
        self._kept = False
        self._ended = False
        self._token: Any = None
        self._error: str | None = None
        self._retries = 0
        self._first_chunk: float | None = None
        self._usage: Usage | None = None
        self._finish: dict[int, str] = {}
        self._chunks: ChunkDecoder | None = None
        self._tee: _Tee | None = None
        # The response's id and model: from a non-streamed answer, or the stream's decoder.
        self._identity: tuple[str | None, str | None] = (None, None)
        self._identity_source: object = None
        base: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
            "aws.sagemaker.endpoint_name": endpoint_name,
        }
        model = request.get("model") if request is not None else None
        if isinstance(model, str):
            base["gen_ai.request.model"] = model
        address, port = _server(endpoint_url)
        if address:
            base["server.address"] = address
            if port is not None:
                base["server.port"] = port
        self._base = base
        self._span: Span | None = None
        if tracer is not None:
            attributes = dict(base)
            if stream:
                attributes["gen_ai.request.stream"] = True
            if component is not None:
                attributes["aws.sagemaker.inference_component_name"] = component
            if request is not None:
                attributes.update(_sampling(request))
            name = f"{operation} {model if isinstance(model, str) else endpoint_name}"
            span = tracer.start_span(name, kind=api.trace.SpanKind.CLIENT, attributes=attributes)
            self._span = span if span.is_recording() else None
        # After the span starts: time to first chunk then never exceeds the span's duration.
        self._started = time.perf_counter()

    def __enter__(self) -> Self:
        if self._span is not None:  # botocore's own spans (if instrumented) nest under it
            api = self._api
            self._token = api.context.attach(api.trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            self._api.context.detach(self._token)
            self._token = None
        if exc is not None:
            self.failed(exc)
            self.end(completed=False)
        elif not self._kept:
            self.end()

    def retried(self) -> None:
        self._retries += 1

    def responded(self, request_id: str | None, variant: str | None) -> None:
        span = self._span
        if span is not None:
            if request_id:
                span.set_attribute("aws.request_id", request_id)
            if variant:
                span.set_attribute("aws.sagemaker.invoked_production_variant", variant)

    def stream_started(
        self, request_id: str | None, variant: str | None, content_type: str | None
    ) -> None:
        self.responded(request_id, variant)
        self._kept = True
        from .._decoders._chunks import chunk_decoder  # loaded only while something records

        self._chunks = self._identity_source = chunk_decoder("auto", content_type)

    def generation(self, generation: Generation, answer: bytes | None = None) -> None:
        self._usage = generation.usage
        if generation.finish_reason is not None:
            self._finish[0] = generation.finish_reason
        if answer is not None:
            self._identity = _answer_identity(answer)

    def events(self, events: list[StreamEvent]) -> None:
        for event in events:
            if type(event) is PayloadPart:
                if self._first_chunk is None:
                    self._first_chunk = time.perf_counter() - self._started
                if self._chunks is not None:
                    self._decode(self._chunks.feed, event.data)
            elif isinstance(event, (ModelStreamError, InternalStreamFailure)):
                self._error = self._error or _event_error_type(event)

    def tee(self, decoder: PayloadDecoder[GenerationChunk]) -> PayloadDecoder[GenerationChunk]:
        if self._chunks is None or self._first_chunk is not None or self._ended:
            return decoder  # not before the first part: a pass is under way already
        self._chunks = None  # the reader's own chunks replace the side decoding
        self._identity_source = decoder
        tee = self._tee = _Tee(decoder, self)
        return tee

    def observe(self, chunks: list[GenerationChunk]) -> None:
        """Keep the finish reasons and the usage that ``chunks`` carry."""
        for chunk in chunks:
            if chunk.finish_reason is not None:
                self._finish[chunk.index] = chunk.finish_reason
            if chunk.usage is not None:
                self._usage = chunk.usage

    def _decode(self, step: Any, *data: bytes) -> None:
        """Run the side decoder that reads usage and finish reasons from any stream."""
        try:
            chunks: list[GenerationChunk] = step(*data)
        except GenerationError as exc:  # an in-band error record: the generation failed
            self._chunks = None
            self.failed(exc)
            return
        except Exception:  # not an LLM stream after all (StreamDecodeError): stop looking
            self._chunks = None
            return
        self.observe(chunks)

    def failed(self, exc: BaseException) -> None:
        if not isinstance(exc, Exception):  # cancelled or interrupted: not the call's error
            return
        if self._error is None:
            self._error = error_type(exc)
        request_id = getattr(exc, "request_id", None)
        if self._span is not None and isinstance(request_id, str) and request_id:
            self._span.set_attribute("aws.request_id", request_id)

    def end(self, completed: bool = True) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self._end(completed)
        except Exception:  # instrumentation never fails a call
            logger.debug("OpenTelemetry instrumentation failed at the end of a call", exc_info=True)

    def _end(self, completed: bool) -> None:
        if completed and self._tee is not None:
            self._tee.flush_now()
        elif completed and self._chunks is not None:
            self._decode(self._chunks.flush)
        duration = time.perf_counter() - self._started
        usage = self._usage
        input_tokens = usage["prompt_tokens"] if usage is not None else None
        output_tokens = usage["completion_tokens"] if usage is not None else None
        finish = [self._finish[index] for index in sorted(self._finish)]
        response_id, response_model = self._identity
        if self._identity_source is not None:
            from .._decoders._chunks import decoded_identity

            response_id, response_model = decoded_identity(self._identity_source)
        if not finish and self._operation in _GENERATIVE and (self._error or not completed):
            finish = ["error"]  # the conventions' value for an expected reason not received
        span = self._span
        if span is not None:
            if finish:
                span.set_attribute("gen_ai.response.finish_reasons", finish)
            if input_tokens is not None:
                span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
            if output_tokens is not None:
                span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
            if response_id is not None:
                span.set_attribute("gen_ai.response.id", response_id)
            if response_model is not None:
                span.set_attribute("gen_ai.response.model", response_model)
            if self._stream and self._first_chunk is not None:
                span.set_attribute("gen_ai.response.time_to_first_chunk", self._first_chunk)
            if self._retries:
                span.set_attribute("typed_sagemaker_runtime.retry_attempts", self._retries)
            if self._error is not None:
                span.set_attribute("error.type", self._error)
                span.set_status(self._api.trace.StatusCode.ERROR, self._error)
            span.end()
        instruments = self._instruments
        if instruments is None:
            return
        base = self._base
        if response_model is not None:
            base = {**base, "gen_ai.response.model": response_model}
        attributes = base
        if self._error is not None:
            attributes = {**attributes, "error.type": self._error}
        instruments.duration.record(duration, attributes)
        if self._stream and self._first_chunk is not None:
            instruments.first_chunk.record(self._first_chunk, attributes)
        for kind, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                instruments.tokens.record(count, {**base, "gen_ai.token.type": kind})


class _Tee:
    """A reader's chunk decoder, observed: what it decodes also goes to the call's record.

    The stream ends its record when the body ends, before the reader flushes its decoder;
    so the record flushes it then, keeps the outcome, and hands it to the reader's own
    ``flush`` when that comes.
    """

    __slots__ = ("_decoder", "_flushed", "_record")

    def __init__(self, decoder: PayloadDecoder[GenerationChunk], record: Recording) -> None:
        self._decoder = decoder
        self._record = record
        self._flushed: list[GenerationChunk] | Exception | None = None

    def feed(self, data: bytes, /) -> list[GenerationChunk]:
        try:
            chunks = self._decoder.feed(data)
        except StreamError as exc:
            self._record.failed(exc)
            raise
        self._record.observe(chunks)
        return chunks

    def flush(self) -> list[GenerationChunk]:
        flushed, self._flushed = self._flushed, None
        if flushed is None:
            return self._decoder.flush()
        if isinstance(flushed, Exception):
            raise flushed
        return flushed

    def flush_now(self) -> None:
        """Flush the reader's decoder for the record; its ``flush`` gets the same outcome."""
        if self._flushed is not None:
            return
        try:
            self._flushed = chunks = self._decoder.flush()
        except Exception as exc:
            self._flushed = exc
            if isinstance(exc, StreamError):
                self._record.failed(exc)
            return
        self._record.observe(chunks)


def _answer_identity(answer: bytes) -> tuple[str | None, str | None]:
    """The ``id`` and ``model`` of a non-streamed OpenAI-style answer; nothing else of it."""
    import json

    from .._decoders._chunks import response_identity

    try:
        document: object = json.loads(answer)
    except (ValueError, RecursionError):
        return None, None
    return response_identity(document)


def _server(url: str) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` of an endpoint URL."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.hostname, port


def _sampling(request: Mapping[str, object]) -> dict[str, Any]:
    """The numeric sampling parameters of a chat or generate body (nothing else of it)."""
    found: dict[str, Any] = {}
    sources: list[Mapping[str, object]] = [request]
    parameters = request.get("parameters")
    if isinstance(parameters, Mapping):
        sources.append(parameters)  # pyright: ignore[reportUnknownArgumentType]
    for source in sources:
        for key, attribute in _SAMPLING:
            value = source.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found[attribute] = value
    return found

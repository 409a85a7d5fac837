"""OpenTelemetry spans and metrics for each call, after the GenAI client semantic conventions.

One :class:`CallRecord` per client call holds its span and what the response said (request
id, usage, finish reasons, time to the first chunk, retries, error type); the span ends and
the metrics are recorded once, when the call returns or fails, or, for a stream, when the
stream releases its connection. The clients and streams only tell the record what
happened; all the OpenTelemetry work is here, shared by the sync and async twins.

OpenTelemetry is optional: its API is imported once, at the first call, and when it is
missing, switched off, or has no SDK configured, :meth:`Telemetry.start` returns
:data:`OFF`, whose methods do nothing. Bodies, prompts, completions and custom attributes
are never read into a span or a metric; nor are error messages (a model's error text may
echo its input).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from .._core._exceptions import (
    ClientValidationError,
    GenerationError,
    ModelStreamInterruptedError,
    ServiceError,
    StreamError,
)
from .._version import __version__

if TYPE_CHECKING:
    from types import TracebackType

    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider
    from typing_extensions import Self

    from .._base._stream import PayloadDecoder
    from .._core._llm_types import Generation, GenerationChunk, Usage
    from .._decoders._chunks import ChunkDecoder

__all__ = [
    "PROVIDER",
    "INVOKE",
    "INVOKE_ASYNC",
    "CHAT",
    "TEXT_COMPLETION",
    "DISABLE_ENV",
    "CallRecord",
    "OFF",
    "Telemetry",
    "error_type",
]

PROVIDER = "aws.sagemaker"
"""``gen_ai.provider.name``: the conventions list no value for SageMaker, so a custom one."""
INVOKE = "invoke_endpoint"
"""``gen_ai.operation.name`` of ``invoke()`` and ``stream()``: the payload is the model's own."""
INVOKE_ASYNC = "invoke_endpoint_async"
"""``gen_ai.operation.name`` of ``invoke_async()``: queues a request, no answer yet."""
CHAT = "chat"
TEXT_COMPLETION = "text_completion"
DISABLE_ENV = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
"""OpenTelemetry's list of instrumentations switched off; ``typed_sagemaker_runtime`` in it
(or ``all``) switches this one off."""
NAME = "typed_sagemaker_runtime"

logger = logging.getLogger(NAME)

_GENERATIVE = frozenset({CHAT, TEXT_COMPLETION})
# The ExplicitBucketBoundaries the conventions give for each histogram.
_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKENS = tuple(float(4**power) for power in range(14))  # 1, 4, 16, ... 67108864
# Request parameters recorded, by the key chat (OpenAI) and generate (TGI/LMI) send them.
_SAMPLING = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_new_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("seed", "gen_ai.request.seed"),
)


def _disabled_by_env() -> bool:
    names = os.environ.get(DISABLE_ENV, "")
    return any(name.strip() in (NAME, "all") for name in names.split(","))


class _Api:
    """The OpenTelemetry API modules, imported once."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace

        self.context = context
        self.metrics = metrics
        self.trace = trace
        self.unset_tracer_providers = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self.unset_meter_providers = unset_meter_providers(metrics)
        # Providers named by the environment are loaded by the API's getters (read once).
        self.tracer_from_env = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
        self.meter_from_env = "OTEL_PYTHON_METER_PROVIDER" in os.environ

    def tracer_provider(self) -> Any:
        """The global tracer provider; ``None`` when none was set."""
        get = self.trace.get_tracer_provider
        return (
            get() if self.tracer_from_env else global_provider(self.trace, "_TRACER_PROVIDER", get)
        )

    def meter_provider(self) -> Any:
        """The global meter provider; ``None`` when none was set."""
        get = self.metrics.get_meter_provider
        if self.meter_from_env:
            return get()
        return global_provider(getattr(self.metrics, "_internal", None), "_METER_PROVIDER", get)


def global_provider(module: object, name: str, get: Callable[[], object]) -> object:
    """A global provider of OpenTelemetry's API, read cheaply; ``None`` when none was set.

    While no provider is set, the API's ``get_tracer_provider()`` / ``get_meter_provider()``
    look an environment variable up on every call (about a microsecond): too much for
    every call of an uninstrumented application. This reads the private module global
    they return (``_TRACER_PROVIDER`` / ``_METER_PROVIDER``, ``None`` until set) and
    calls the getter only when that name is gone (another API version).
    """
    provider = getattr(module, name, get)
    return get() if provider is get else provider


def unset_meter_providers(metrics: Any) -> tuple[type, ...]:
    """The meter provider classes that mean "no SDK configured".

    The API's global provider before ``set_meter_provider`` is a private
    ``_ProxyMeterProvider`` (there is no public name, unlike ``ProxyTracerProvider``);
    recording through it does nothing, so a call skips metrics while it is the provider.
    """
    proxy = getattr(metrics, "_internal", None)
    proxy_class = getattr(proxy, "_ProxyMeterProvider", None)
    classes: list[type] = [metrics.NoOpMeterProvider]
    if isinstance(proxy_class, type):
        classes.append(proxy_class)
    return tuple(classes)


_api_state: list[_Api | None] = []  # empty until the first import attempt


def _api() -> _Api | None:
    if not _api_state:
        try:
            _api_state.append(_Api())
        except ImportError:
            _api_state.append(None)
    return _api_state[0]


class _Instruments:
    """The three GenAI client histograms of one meter provider."""

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(NAME, __version__)
        self.duration: Histogram = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.tokens: Histogram = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKENS,
        )
        self.first_chunk: Histogram = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk, measured from when the client "
            "issues the generation request to when the first chunk is received in the "
            "response stream.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )


class Telemetry:
    """A client's instrumentation: providers resolved per call, tracers and meters cached.

    ``tracer_provider`` / ``meter_provider`` default to OpenTelemetry's global ones, read at
    each call (so an SDK configured after the client was built is used).
    """

    __slots__ = ("_enabled", "_instruments", "_meter_provider", "_tracer", "_tracer_provider")

    def __init__(
        self,
        *,
        instrument: bool = True,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        _check_provider("tracer_provider", tracer_provider, "get_tracer")
        _check_provider("meter_provider", meter_provider, "get_meter")
        if not isinstance(instrument, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ClientValidationError(
                f"instrument: must be True or False, got {type(instrument).__name__}",
                field="instrument",
            )
        self._enabled = instrument and not _disabled_by_env()
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer: tuple[object, Tracer] | None = None
        self._instruments: tuple[object, _Instruments] | None = None

    @property
    def enabled(self) -> bool:
        """Whether calls may be recorded (not switched off by argument or environment)."""
        return self._enabled

    def start(
        self,
        operation: str,
        endpoint_name: str,
        client: Any,
        *,
        stream: bool = False,
        component: str | None = None,
        request: Mapping[str, object] | None = None,
    ) -> CallRecord:
        """The record of a call about to be made; :data:`OFF` when nothing is recorded.

        ``client`` is the botocore client (its endpoint URL gives ``server.address``);
        ``request`` the chat or generate JSON body, read for the model name and the
        numeric sampling parameters only.
        """
        if not self._enabled:
            return OFF
        api = _api()
        if api is None:
            return OFF
        try:
            tracer = self._current_tracer(api)
            instruments = self._current_instruments(api)
            if tracer is None and instruments is None:
                return OFF
            return _Recording(
                api,
                tracer,
                instruments,
                operation,
                endpoint_name,
                str(client.meta.endpoint_url),
                stream=stream,
                component=component,
                request=request,
            )
        except Exception:  # instrumentation never fails a call
            logger.debug(
                "OpenTelemetry instrumentation failed; the call is not recorded", exc_info=True
            )
            return OFF

    def _current_tracer(self, api: _Api) -> Tracer | None:
        provider: Any = self._tracer_provider or api.tracer_provider()
        if provider is None or isinstance(provider, api.unset_tracer_providers):
            return None
        cached = self._tracer
        if cached is None or cached[0] is not provider:
            tracer = api.trace.get_tracer(NAME, __version__, tracer_provider=provider)
            cached = self._tracer = (provider, tracer)
        return cached[1]

    def _current_instruments(self, api: _Api) -> _Instruments | None:
        provider: Any = self._meter_provider or api.meter_provider()
        if provider is None or isinstance(provider, api.unset_meter_providers):
            return None
        cached = self._instruments
        if cached is None or cached[0] is not provider:
            cached = self._instruments = (provider, _Instruments(provider))
        return cached[1]


def _check_provider(name: str, provider: object, method: str) -> None:
    if provider is not None and not callable(getattr(provider, method, None)):
        raise ClientValidationError(
            f"{name}: expected an OpenTelemetry {name.replace('_', ' ')} (with {method}()), "
            f"got {type(provider).__name__}",
            field=name,
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


class CallRecord:
    """What a client tells the instrumentation about one call. This base records nothing.

    Use it as a context manager around the call: an ``Exception`` leaving the block ends
    the record as failed; a clean exit ends it unless :meth:`stream_started` handed it to
    a stream, which calls :meth:`end` when it releases its connection.
    """

    __slots__ = ()
    recording = False

    def __repr__(self) -> str:
        return "<CallRecord: not recorded>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def retried(self) -> None:
        """Another attempt is about to be made."""

    def responded(self, request_id: str | None, variant: str | None) -> None:
        """The response arrived (request id, invoked production variant)."""

    def stream_started(
        self, request_id: str | None, variant: str | None, content_type: str | None
    ) -> None:
        """A stream's response head arrived; the stream now owns the record."""

    def generation(self, generation: Generation) -> None:
        """A non-streamed chat or generate answer: its usage and finish reason."""

    def events(self, events: list[StreamEvent]) -> None:
        """Events decoded from a stream's body, before anyone sees them."""

    def tee(self, decoder: PayloadDecoder[GenerationChunk]) -> PayloadDecoder[GenerationChunk]:
        """The stream's reader decodes chunks itself: observe them through ``decoder``."""
        return decoder

    def failed(self, exc: BaseException) -> None:
        """The call failed with ``exc`` (only the first failure is kept)."""

    def end(self, completed: bool = True) -> None:
        """End the span and record the metrics; idempotent. ``completed``: read to its end."""


OFF = CallRecord()
"""The record of a call that is not recorded."""


class _Recording(CallRecord):
    """A call whose span is recording or whose metrics are wanted."""

    __slots__ = (
        "_api",
        "_base",
        "_chunks",
        "_ended",
        "_error",
        "_finish",
        "_first_chunk",
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
        api: _Api,
        tracer: Tracer | None,
        instruments: _Instruments | None,
        operation: str,
        endpoint_name: str,
        endpoint_url: str,
        *,
        stream: bool,
        component: str | None,
        request: Mapping[str, object] | None,
    ) -> None:
        self._started = time.perf_counter()
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

        self._chunks = chunk_decoder("auto", content_type)

    def generation(self, generation: Generation) -> None:
        self._usage = generation.usage
        if generation.finish_reason is not None:
            self._finish[0] = generation.finish_reason

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
        attributes = self._base
        if self._error is not None:
            attributes = {**attributes, "error.type": self._error}
        instruments.duration.record(duration, attributes)
        if self._stream and self._first_chunk is not None:
            instruments.first_chunk.record(self._first_chunk, attributes)
        for kind, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                instruments.tokens.record(count, {**self._base, "gen_ai.token.type": kind})


class _Tee:
    """A reader's chunk decoder, observed: what it decodes also goes to the call's record.

    The stream ends its record when the body ends, before the reader flushes its decoder;
    so the record flushes it then, keeps the outcome, and hands it to the reader's own
    ``flush`` when that comes.
    """

    __slots__ = ("_decoder", "_flushed", "_record")

    def __init__(self, decoder: PayloadDecoder[GenerationChunk], record: _Recording) -> None:
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

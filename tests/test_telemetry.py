"""OpenTelemetry: one span per call and the GenAI client metrics, sync and async.

Every test drives the real boto3/aiobotocore stack against ``LocalRuntime`` and reads what
the SDK's in-memory exporters received. Each test gets its own ``TracerProvider`` and
``MeterProvider``, passed to the client, so no global OpenTelemetry state is touched.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the tests need opentelemetry-sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from typed_sagemaker_runtime import (
    ClientValidationError,
    GenerationError,
    ModelError,
    ModelStreamInterruptedError,
    RetryPolicy,
    SageMakerRuntime,
)
from typed_sagemaker_runtime._telemetry import _otel_api
from typed_sagemaker_runtime._telemetry._call_record import OFF
from typed_sagemaker_runtime.testing import (
    DemoLLM,
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
)
from typed_sagemaker_runtime.testing._boto import dummy_session

HAS_AIO = importlib.util.find_spec("aiobotocore") is not None
SECRET = "s3cr3t-PROMPT-9f2c"
SECRET_ATTRIBUTES = "s3cr3t-ATTRS-71ab"
FAST_RETRY = RetryPolicy(initial_backoff=0.001, max_backoff=0.002)
_T = TypeVar("_T")

both = pytest.mark.parametrize(
    "aio",
    [False, pytest.param(True, marks=pytest.mark.skipif(not HAS_AIO, reason="no aiobotocore"))],
    ids=["sync", "async"],
)


@dataclass
class Otel:
    """A tracer and a meter provider with in-memory exporters."""

    tracer_provider: TracerProvider
    exporter: InMemorySpanExporter
    meter_provider: MeterProvider
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [span.name for span in spans]
        return spans[0]

    def points(self, name: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        found: list[HistogramDataPoint] = []
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)  # type: ignore[arg-type]
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(tracer_provider, exporter, meter_provider, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_endpoint("echo", lambda request: request.body)
        runtime.add_endpoint("demo", DemoLLM(tokens_per_second=None))
        yield runtime


def _sync_client(local: LocalRuntime, otel: Otel | None, **options: Any) -> SageMakerRuntime:
    if otel is not None:
        options.setdefault("tracer_provider", otel.tracer_provider)
        options.setdefault("meter_provider", otel.meter_provider)
    return SageMakerRuntime(
        session=dummy_session("us-east-1"), endpoint_url=local.endpoint_url, **options
    )


def _run(
    aio: bool,
    local: LocalRuntime,
    otel: Otel | None,
    sync_body: Callable[[Any], _T],
    async_body: Callable[[Any], Awaitable[_T]],
    **options: Any,
) -> _T:
    """Run the sync or the async twin of a test body with a client wired to ``otel``."""
    if not aio:
        with _sync_client(local, otel, **options) as smr:
            return sync_body(smr)
    from typed_sagemaker_runtime import AsyncSageMakerRuntime
    from typed_sagemaker_runtime.testing._boto import dummy_aio_session

    if otel is not None:
        options.setdefault("tracer_provider", otel.tracer_provider)
        options.setdefault("meter_provider", otel.meter_provider)

    async def main() -> _T:
        async with AsyncSageMakerRuntime(
            session=dummy_aio_session("us-east-1"), endpoint_url=local.endpoint_url, **options
        ) as smr:
            return await async_body(smr)

    return asyncio.run(main())


def _port(local: LocalRuntime) -> int:
    return int(local.endpoint_url.rsplit(":", 1)[1])


# --- invoke ------------------------------------------------------------------------------


@both
def test_invoke_records_a_client_span_and_the_duration(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """invoke(): one CLIENT span named after the operation and endpoint, one duration point."""

    async def twin(smr: Any) -> Any:
        return await smr.invoke("echo", b"hello")

    result = _run(aio, local, otel, lambda smr: smr.invoke("echo", b"hello"), twin)

    span = otel.span()
    assert span.name == "invoke_endpoint echo"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "invoke_endpoint",
        "gen_ai.provider.name": "aws.sagemaker",
        "aws.sagemaker.endpoint_name": "echo",
        "server.address": "127.0.0.1",
        "server.port": _port(local),
        "aws.request_id": result["response_metadata"]["request_id"],
        "aws.sagemaker.invoked_production_variant": "AllTraffic",
    }
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.count == 1
    assert 0 < point.sum <= (span.end_time - span.start_time) / 1e9 + 0.01  # type: ignore[operator]
    assert dict(point.attributes or {}) == {
        "gen_ai.operation.name": "invoke_endpoint",
        "gen_ai.provider.name": "aws.sagemaker",
        "aws.sagemaker.endpoint_name": "echo",
        "server.address": "127.0.0.1",
        "server.port": _port(local),
    }
    assert otel.points("gen_ai.client.token.usage") == []
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []


@both
def test_model_error_sets_error_type_and_status(aio: bool, local: LocalRuntime, otel: Otel) -> None:
    """A ModelError: error.type is SageMaker's code, the status ERROR, the metric says so too."""

    def fail(request: InvocationRequest) -> bytes:
        raise ModelFailure(500, "the model broke")

    local.add_endpoint("broken", fail)

    def sync_body(smr: Any) -> ModelError:
        with pytest.raises(ModelError) as caught:
            smr.invoke("broken", b"x")
        return caught.value

    async def async_body(smr: Any) -> ModelError:
        with pytest.raises(ModelError) as caught:
            await smr.invoke("broken", b"x")
        return caught.value

    error = _run(aio, local, otel, sync_body, async_body)

    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "ModelError"
    assert attributes["aws.request_id"] == error.request_id
    assert "gen_ai.response.finish_reasons" not in attributes  # invoke expects no reason
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert (point.attributes or {})["error.type"] == "ModelError"


@both
def test_retries_are_counted_on_the_one_span(aio: bool, local: LocalRuntime, otel: Otel) -> None:
    """Two throttled attempts, then success: one span, retry_attempts 2, no error."""
    local.add_endpoint("flaky", faults=[ErrorResponse("ThrottlingException", times=2)])

    async def twin(smr: Any) -> Any:
        return await smr.invoke("flaky", b"x")

    result = _run(aio, local, otel, lambda smr: smr.invoke("flaky", b"x"), twin, retry=FAST_RETRY)

    assert result["response_metadata"]["retry_attempts"] == 2
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert attributes["typed_sagemaker_runtime.retry_attempts"] == 2
    assert "error.type" not in attributes
    assert span.status.status_code is StatusCode.UNSET


@both
def test_the_span_is_current_while_botocore_sends(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """During the HTTP request the call's span is the current one, so botocore's or
    urllib3's own instrumentation nests under it; afterwards it no longer is."""
    from opentelemetry import trace

    seen: list[int] = []

    def before_send(**kwargs: Any) -> None:
        seen.append(trace.get_current_span().get_span_context().span_id)

    def sync_body(smr: Any) -> None:
        smr.client.meta.events.register("before-send.sagemaker-runtime", before_send)
        smr.invoke("echo", b"x")
        assert not trace.get_current_span().get_span_context().is_valid

    async def async_body(smr: Any) -> None:
        smr.client.meta.events.register("before-send.sagemaker-runtime", before_send)
        await smr.invoke("echo", b"x")
        assert not trace.get_current_span().get_span_context().is_valid

    _run(aio, local, otel, sync_body, async_body)
    assert seen == [otel.span().context.span_id]  # type: ignore[union-attr]


# --- streams -----------------------------------------------------------------------------


@both
def test_stream_span_ends_when_read_to_its_end(aio: bool, local: LocalRuntime, otel: Otel) -> None:
    """generate_stream read with tokens(): the span ends at the end, with usage, finish
    reason and time to first chunk read from the TGI records, and the three histograms."""
    open_spans: list[int] = []

    def sync_body(smr: Any) -> str:
        with smr.generate_stream("demo", "hello there", parameters={"max_new_tokens": 5}) as s:
            open_spans.append(len(otel.spans()))
            return "".join(s.tokens())

    async def async_body(smr: Any) -> str:
        stream = await smr.generate_stream("demo", "hello there", parameters={"max_new_tokens": 5})
        async with stream as s:
            open_spans.append(len(otel.spans()))
            return "".join([token async for token in s.tokens()])

    text = _run(aio, local, otel, sync_body, async_body)

    assert text
    assert open_spans == [0]  # nothing ended while the stream was open
    span = otel.span()
    assert span.name == "text_completion demo"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.request.max_tokens"] == 5
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.output_tokens"] == 5
    duration = (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    first = attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(first, float)
    assert 0 < first <= duration
    assert span.status.status_code is StatusCode.UNSET
    (ttft,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttft.count == 1
    assert ttft.sum == pytest.approx(first)
    input_tokens = attributes["gen_ai.usage.input_tokens"]  # TGI's details.input_length
    assert isinstance(input_tokens, int)
    assert input_tokens > 0
    by_type = {
        (point.attributes or {})["gen_ai.token.type"]: point.sum
        for point in otel.points("gen_ai.client.token.usage")
    }
    assert by_type == {"input": input_tokens, "output": 5}
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.count == 1


@both
def test_chat_stream_reports_input_and_output_tokens(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """chat_stream read as raw events: the OpenAI usage chunk gives both token counts."""
    messages = [{"role": "user", "content": "tell me a story"}]

    def sync_body(smr: Any) -> int:
        with smr.chat_stream("demo", messages, model="m-1", max_tokens=4) as s:
            return len(list(s))

    async def async_body(smr: Any) -> int:
        async with await smr.chat_stream("demo", messages, model="m-1", max_tokens=4) as s:
            return len([event async for event in s])

    assert _run(aio, local, otel, sync_body, async_body) > 0

    span = otel.span()
    assert span.name == "chat m-1"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.request.model"] == "m-1"
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.output_tokens"] == 4
    input_tokens = attributes["gen_ai.usage.input_tokens"]
    assert isinstance(input_tokens, int)
    assert input_tokens > 0
    by_type = {
        (point.attributes or {})["gen_ai.token.type"]: point.sum
        for point in otel.points("gen_ai.client.token.usage")
    }
    assert by_type == {"input": input_tokens, "output": 4}


@both
def test_generation_of_a_chat_stream_is_observed_once(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """chat_stream().generation(): the reader's own chunks give the span its usage."""
    messages = [{"role": "user", "content": "tell me a story"}]

    def sync_body(smr: Any) -> Any:
        with smr.chat_stream("demo", messages, max_tokens=3) as s:
            return s.generation()

    async def async_body(smr: Any) -> Any:
        async with await smr.chat_stream("demo", messages, max_tokens=3) as s:
            return await s.generation()

    generation = _run(aio, local, otel, sync_body, async_body)
    assert generation.usage is not None
    attributes = dict(otel.span().attributes or {})
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.input_tokens"] == generation.usage["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == 3


_DOCUMENT = (
    b'{"generated_text": "abc", "details": {"finish_reason": "length", "generated_tokens": 3}}'
)


@both
def test_what_the_reader_flushes_at_the_end_reaches_both(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """A JSON document's details come out of the decoder's flush, after the connection was
    released: the span has them, and the reader's generation() too."""
    local.add_endpoint(
        "document",
        lambda request: EndpointResponse(iter([_DOCUMENT]), content_type="application/json"),
    )

    def sync_body(smr: Any) -> Any:
        with smr.stream("document", b"{}") as s:
            return s.generation()

    async def async_body(smr: Any) -> Any:
        async with await smr.stream("document", b"{}") as s:
            return await s.generation()

    generation = _run(aio, local, otel, sync_body, async_body)
    assert generation.text == "abc"
    assert generation.finish_reason == "length"
    attributes = dict(otel.span().attributes or {})
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.output_tokens"] == 3


def test_an_error_record_the_reader_meets_marks_the_span(local: LocalRuntime, otel: Otel) -> None:
    """generation() raising GenerationError for an error document: the span says so."""
    local.add_endpoint(
        "oops",
        lambda request: EndpointResponse(
            iter([b'{"error": "out of memory"}']), content_type="application/json"
        ),
    )
    with _sync_client(local, otel) as smr, pytest.raises(GenerationError):
        smr.stream("oops", b"{}").generation()
    span = otel.span()
    assert (span.attributes or {})["error.type"] == "GenerationError"
    assert span.status.status_code is StatusCode.ERROR


@both
def test_abandoned_stream_ends_its_span_when_closed(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """A chat stream closed after its first event: the span ends at close, no error, and
    the finish reason that never came is reported as "error" (the conventions' rule)."""
    messages = [{"role": "user", "content": "a long answer please"}]

    def sync_body(smr: Any) -> list[int]:
        seen: list[int] = []
        s = smr.chat_stream("demo", messages, max_tokens=50)
        events = iter(s)  # kept: a dropped iterator releases the stream at once
        next(events)
        seen.append(len(otel.spans()))
        s.close()
        seen.append(len(otel.spans()))
        return seen

    async def async_body(smr: Any) -> list[int]:
        seen: list[int] = []
        s = await smr.chat_stream("demo", messages, max_tokens=50)
        events = s.__aiter__()  # kept: a dropped iterator releases the stream at once
        await events.__anext__()
        seen.append(len(otel.spans()))
        await s.aclose()
        seen.append(len(otel.spans()))
        return seen

    assert _run(aio, local, otel, sync_body, async_body) == [0, 1]
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert "error.type" not in attributes
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.time_to_first_chunk" in attributes


def test_garbage_collected_stream_ends_its_span(local: LocalRuntime, otel: Otel) -> None:
    """A stream dropped without close(): its span ends when it is collected."""
    with _sync_client(local, otel) as smr:
        s = smr.stream("demo", json={"inputs": "hi", "stream": True})
        assert otel.spans() == []
        del s
        gc.collect()
        assert len(otel.spans()) == 1


@both
def test_error_event_ends_the_span_with_its_code(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """A ModelStreamError event mid-stream: error.type is its error code, status ERROR."""
    body = {"inputs": "hi", "stream": True, "parameters": {"fail_after_tokens": 2}}

    def sync_body(smr: Any) -> None:
        with pytest.raises(ModelStreamInterruptedError):
            smr.stream("demo", json=body).read()

    async def async_body(smr: Any) -> None:
        with pytest.raises(ModelStreamInterruptedError):
            await (await smr.stream("demo", json=body)).read()

    _run(aio, local, otel, sync_body, async_body)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "ModelInvocationTimeExceeded"
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert (point.attributes or {})["error.type"] == "ModelInvocationTimeExceeded"


def test_in_band_error_record_marks_the_span(local: LocalRuntime, otel: Otel) -> None:
    """A TGI error record read through raw events (no helper raising): still an error."""
    local.add_endpoint(
        "erring",
        lambda request: [
            b'data:{"token":{"text":"a","special":false}}\n\n',
            b'data:{"error":"oom"}\n\n',
        ],
    )
    with _sync_client(local, otel) as smr, smr.stream("erring", b"{}") as s:
        assert len(list(s)) == 2
    assert (otel.span().attributes or {})["error.type"] == "GenerationError"
    with _sync_client(local, otel) as smr, pytest.raises(GenerationError):
        "".join(smr.stream("erring", b"{}").tokens())


# --- chat and generate -------------------------------------------------------------------


@both
def test_chat_records_usage_and_request_parameters(
    aio: bool, local: LocalRuntime, otel: Otel
) -> None:
    """chat(): operation "chat", the model asked for, sampling parameters, usage, reason."""
    messages = [{"role": "user", "content": "hello"}]

    async def twin(smr: Any) -> Any:
        return await smr.chat("demo", messages, model="m-2", max_tokens=3, temperature=0.5)

    generation = _run(
        aio,
        local,
        otel,
        lambda smr: smr.chat("demo", messages, model="m-2", max_tokens=3, temperature=0.5),
        twin,
    )

    assert generation.usage is not None
    span = otel.span()
    assert span.name == "chat m-2"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.max_tokens"] == 3
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.response.finish_reasons"] == (generation.finish_reason,)
    assert attributes["gen_ai.usage.input_tokens"] == generation.usage["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == generation.usage["completion_tokens"]
    assert "gen_ai.request.stream" not in attributes
    assert "gen_ai.response.time_to_first_chunk" not in attributes
    assert len(otel.points("gen_ai.client.token.usage")) == 2
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []


# --- never recorded ------------------------------------------------------------------------


def _everything_recorded(otel: Otel) -> str:
    """Every span attribute, event, status and metric attribute, as one text."""
    parts: list[object] = []
    for span in otel.spans():
        parts += [span.name, dict(span.attributes or {}), span.status.description]
        parts += [(event.name, dict(event.attributes or {})) for event in span.events]
    data = otel.reader.get_metrics_data()
    parts.append(data.to_json() if data is not None else "")
    return json.dumps(parts, default=str)


def test_bodies_and_custom_attributes_are_never_recorded(local: LocalRuntime, otel: Otel) -> None:
    """A secret in bodies, prompts, custom attributes and a model's error text: in no span,
    event, status or metric."""

    def echo_then_fail(request: InvocationRequest) -> bytes:
        if b"fail" in request.body:
            raise ModelFailure(400, f"bad input: {request.body.decode()}")
        return request.body

    local.add_endpoint("secretive", echo_then_fail)
    with _sync_client(local, otel) as smr:
        smr.invoke("secretive", SECRET, custom_attributes=SECRET_ATTRIBUTES)
        with pytest.raises(ModelError):
            smr.invoke("secretive", f"fail {SECRET}", custom_attributes=SECRET_ATTRIBUTES)
        messages: Any = [{"role": "user", "content": SECRET}]
        smr.chat("demo", messages, custom_attributes=SECRET_ATTRIBUTES)
        with smr.chat_stream("demo", messages, custom_attributes=SECRET_ATTRIBUTES) as s:
            s.read()
        smr.generate("demo", SECRET, custom_attributes=SECRET_ATTRIBUTES)
    assert len(otel.spans()) == 5
    recorded = _everything_recorded(otel)
    assert SECRET not in recorded
    assert SECRET_ATTRIBUTES not in recorded


# --- off -----------------------------------------------------------------------------------


@both
def test_instrument_false_records_nothing(aio: bool, local: LocalRuntime, otel: Otel) -> None:
    """instrument=False: no span and no metric, even with providers given."""

    async def twin(smr: Any) -> Any:
        await smr.invoke("echo", b"x")
        async with await smr.stream("echo", b"x") as s:
            return await s.read()

    def sync_body(smr: Any) -> Any:
        smr.invoke("echo", b"x")
        with smr.stream("echo", b"x") as s:
            return s.read()

    _run(aio, local, otel, sync_body, twin, instrument=False)
    assert otel.spans() == []
    assert otel.points("gen_ai.client.operation.duration") == []


def test_disabled_instrumentations_variable_records_nothing(
    local: LocalRuntime, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS naming the library switches it off."""
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "requests, typed_sagemaker_runtime")
    with _sync_client(local, otel) as smr:
        smr.invoke("echo", b"x")
    assert otel.spans() == []
    assert otel.points("gen_ai.client.operation.duration") == []


def test_no_sdk_configured_gives_the_no_op_record(local: LocalRuntime) -> None:
    """With the API's global (proxy) providers, calls and streams carry the no-op record."""
    from opentelemetry import metrics, trace

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert isinstance(metrics.get_meter_provider(), _otel_api.unset_meter_providers(metrics))
    with _sync_client(local, None) as smr:
        assert smr.invoke("echo", b"x")["body"] == b"x"
        assert smr._telemetry.start("chat", "echo", smr.client) is OFF  # pyright: ignore[reportPrivateUsage]
        with smr.stream("echo", b"x") as s:
            assert s._telemetry is OFF  # pyright: ignore[reportPrivateUsage]
            assert s.read() == b"x"


def test_opentelemetry_not_installed_records_nothing(
    local: LocalRuntime, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the opentelemetry package the calls work and record nothing."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setattr(_otel_api, "_api_state", [])
    with _sync_client(local, otel) as smr:
        assert smr.invoke("echo", b"x")["body"] == b"x"
        with smr.stream("echo", b"x") as s:
            assert s.read() == b"x"
    assert _otel_api._api_state == [None]  # pyright: ignore[reportPrivateUsage]
    assert otel.spans() == []


@pytest.mark.parametrize(
    ("option", "value"),
    [("instrument", "yes"), ("tracer_provider", "tracer"), ("meter_provider", object())],
)
def test_bad_options_are_client_validation_errors(
    local: LocalRuntime, option: str, value: object
) -> None:
    """A wrong instrumentation option fails at construction, naming it, not at a call."""
    with pytest.raises(ClientValidationError) as caught:
        _sync_client(local, None, **{option: value})
    assert caught.value.field == option


_GLOBAL_PROVIDERS = """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typed_sagemaker_runtime import SageMakerRuntime
from typed_sagemaker_runtime.testing import LocalRuntime
from typed_sagemaker_runtime.testing._boto import dummy_session

with LocalRuntime() as local:
    local.add_endpoint("echo")
    smr = SageMakerRuntime(session=dummy_session("us-east-1"), endpoint_url=local.endpoint_url)
    smr.invoke("echo", b"before")  # no SDK yet: not recorded
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    smr.invoke("echo", b"after")  # the global SDK configured since: recorded
    names = [m.name for rm in reader.get_metrics_data().resource_metrics
             for sm in rm.scope_metrics for m in sm.metrics]
    print(len(spans.get_finished_spans()), names)
    smr.close()
"""


def test_global_providers_set_after_the_client_are_used() -> None:
    """The global SDK configured after the client was built records the next call (run in a
    fresh interpreter: the API's global providers can be set only once per process)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _GLOBAL_PROVIDERS], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 ['gen_ai.client.operation.duration']"


# --- the response's id and model ------------------------------------------------------------

ANSWER_ID = "chatcmpl-42"
ANSWER_MODEL = "llama-3-8b-instruct"


def _openai_answer(request: InvocationRequest) -> EndpointResponse:
    """A non-streamed chat.completion, or its stream, naming its id and model."""
    base = {"id": ANSWER_ID, "created": 1, "model": ANSWER_MODEL}
    if not json.loads(request.body).get("stream"):
        answer = {
            **base,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
        return EndpointResponse(json.dumps(answer).encode(), content_type="application/json")
    records = [
        {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": "Hi"}}],
        },
        {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
    ]
    parts = [b"data: " + json.dumps(record).encode() + b"\n\n" for record in records]
    return EndpointResponse(iter([*parts, b"data: [DONE]\n\n"]), content_type="text/event-stream")


CHAT_MESSAGES = [{"role": "user", "content": "hello"}]


@both
@pytest.mark.parametrize("how", ["chat", "tokens", "chunks", "generation"])
def test_the_response_id_and_model_are_recorded(
    aio: bool, local: LocalRuntime, otel: Otel, how: str
) -> None:
    """``gen_ai.response.id`` and ``gen_ai.response.model`` from the answer or its stream."""
    local.add_endpoint("openai", _openai_answer)

    def sync_body(smr: Any) -> None:
        if how == "chat":
            smr.chat("openai", CHAT_MESSAGES)
            return
        with smr.chat_stream("openai", CHAT_MESSAGES) as stream:
            if how == "generation":
                stream.generation()
            else:
                list(getattr(stream, how)())

    async def async_body(smr: Any) -> None:
        if how == "chat":
            await smr.chat("openai", CHAT_MESSAGES)
            return
        async with await smr.chat_stream("openai", CHAT_MESSAGES) as stream:
            if how == "generation":
                await stream.generation()
            else:
                [_ async for _ in getattr(stream, how)()]

    _run(aio, local, otel, sync_body, async_body)
    attributes = dict(otel.span().attributes or {})
    assert attributes["gen_ai.response.id"] == ANSWER_ID
    assert attributes["gen_ai.response.model"] == ANSWER_MODEL
    [point] = otel.points("gen_ai.client.operation.duration")
    assert dict(point.attributes or {})["gen_ai.response.model"] == ANSWER_MODEL
    for point in otel.points("gen_ai.client.token.usage"):
        assert dict(point.attributes or {})["gen_ai.response.model"] == ANSWER_MODEL
    assert "gen_ai.response.id" not in dict(point.attributes or {}), "ids are not metric labels"


def test_an_implausible_id_or_model_is_not_recorded() -> None:
    from typed_sagemaker_runtime._decoders._chunks import response_identity

    record = {"id": "x" * 257, "model": ["m"], "choices": []}
    assert response_identity(record) == (None, None)
    assert response_identity({"id": "a", "model": "m"}) == (None, None), "not a chat record"
    assert response_identity({"id": "a", "model": "m", "choices": []}) == ("a", "m")
    # JSON's "\ud800" gives a lone surrogate, which an OTLP exporter cannot encode.
    hostile = json.loads('{"id": "chatcmpl-\\ud800", "model": "m\\n", "choices": []}')
    assert response_identity(hostile) == (None, None)


def test_answers_without_an_id_or_model_record_none(local: LocalRuntime, otel: Otel) -> None:
    """TGI's records name neither; an empty ``id`` (the demo's) is no id."""
    with _sync_client(local, otel) as smr:
        with smr.generate_stream("demo", "hello", parameters={"max_new_tokens": 2}) as stream:
            stream.generation()
        smr.chat("demo", [{"role": "user", "content": "hello"}], max_tokens=2)
    tgi, chat = otel.spans()
    assert "gen_ai.response.id" not in dict(tgi.attributes or {})
    assert "gen_ai.response.model" not in dict(tgi.attributes or {})
    assert "gen_ai.response.id" not in dict(chat.attributes or {})

"""Three defects a review suspected in the stream layer, each stated as the right behaviour.

* An SSE record ``event: error`` with no ``data`` line (WHATWG dispatches nothing for
  it) must not let a stream end quietly with partial text: ``tokens()``, ``chunks()``
  and ``generation()`` raise ``GenerationError``, at every split point. ``sse()``
  follows the standard and yields nothing for it.
* Tool-call fragments from a non-conforming server that sends no ``index``: a fragment
  with an ``id`` other than the one its call already has starts a new call, instead of
  merging every call into one.
* ``chunks()`` called but never iterated, then the raw events read: the span still gets
  the finish reason and the usage (the instrumentation's side decoding must not stop
  because of a pass that never started).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from _twins import Clients
from test_decoders import run
from typed_sagemaker_runtime import GenerationError, StreamConsumedError
from typed_sagemaker_runtime._decoders._auto import SSEDecoder, token_decoder
from typed_sagemaker_runtime._decoders._chunks import chunk_decoder, generation_of
from typed_sagemaker_runtime.testing import (
    DemoLLM,
    EndpointResponse,
    LocalRuntime,
)

# --- (a) an error event without data ---------------------------------------------------------

TGI_HI = b'data: {"token":{"id":1,"text":"Hi","special":false}}\n\n'
DATALESS_ERRORS = {
    "blank-line": TGI_HI + b"event: error\n\n",
    "at-the-end": TGI_HI + b"event: error\n",
    "with-id": TGI_HI + b"event: error\nid: 7\n\n" + TGI_HI,
    "openai": (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b"event: error\n\n"
        b"data: [DONE]\n\n"
    ),
}


def _splits(data: bytes) -> Iterator[list[bytes]]:
    for cut in range(len(data) + 1):
        yield [data[:cut], data[cut:]]


@pytest.mark.parametrize("name", DATALESS_ERRORS)
@pytest.mark.parametrize("format", ["auto", "tgi", "openai"])
def test_an_error_event_without_data_raises_at_every_split(name: str, format: Any) -> None:
    data = DATALESS_ERRORS[name]
    for pieces in _splits(data):
        for decoder in (token_decoder(format, "text/event-stream"), chunk_decoder(format)):
            out, error, message = run(decoder, pieces)
            assert error is GenerationError, (name, pieces, out)
            assert message == "the server sent an error event"
            assert "".join(item if isinstance(item, str) else item.text for item in out) == "Hi"


def test_sse_follows_the_standard_for_an_event_without_data() -> None:
    out, error, _ = run(SSEDecoder(), [DATALESS_ERRORS["blank-line"]])
    assert error is None
    assert [event.data for event in out] == ['{"token":{"id":1,"text":"Hi","special":false}}']


def test_an_error_event_without_data_fails_the_stream_over_http(
    local: LocalRuntime, clients: Clients
) -> None:
    local.add_endpoint(
        "llm",
        lambda r: EndpointResponse(
            iter([TGI_HI, b"event: error\n\n"]), content_type="text/event-stream"
        ),
    )
    smr = clients.local()
    for helper in ("tokens", "chunks", "generation"):
        with smr.stream("llm", b"{}") as stream, pytest.raises(GenerationError):
            result = getattr(stream, helper)()
            if helper != "generation":
                list(result)


# --- (b) tool-call fragments without an index ------------------------------------------------


def _openai(*deltas: dict[str, Any], finish: str | None = None) -> bytes:
    records = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [delta]}, "finish_reason": None}]}
        for delta in deltas
    ]
    records.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    return b"".join(b"data: " + json.dumps(r).encode() + b"\n\n" for r in records)


NO_INDEX = _openai(
    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": ""}},
    {"function": {"arguments": '{"city":'}},
    {"function": {"arguments": '"Bern"}'}},
    {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": ""}},
    {"function": {"arguments": "{}"}},
    finish="tool_calls",
)


def test_fragments_without_index_start_a_new_call_on_a_new_id() -> None:
    for pieces in _splits(NO_INDEX):
        chunks, error, message = run(chunk_decoder("openai"), pieces)
        assert error is None, message
        generation = generation_of(chunks)
        assert [(c.id, c.name, c.arguments) for c in generation.tool_calls] == [
            ("call_1", "weather", '{"city":"Bern"}'),
            ("call_2", "time", "{}"),
        ]
        assert [c.index for c in generation.tool_calls] == [0, 1]


def test_conforming_fragments_are_unchanged() -> None:
    """Indexed fragments; the id repeated on every fragment, or empty, continues a call."""
    data = _openai(
        {"index": 0, "id": "call_1", "function": {"name": "weather", "arguments": '{"a"'}},
        {"index": 0, "id": "call_1", "function": {"arguments": ":1}"}},
        {"index": 1, "id": "call_2", "function": {"name": "time", "arguments": ""}},
        {"index": 1, "id": "", "function": {"arguments": "{}"}},
        {"index": 0, "function": {"arguments": ""}},
    )
    chunks, error, _ = run(chunk_decoder("openai"), [data])
    assert error is None
    generation = generation_of(chunks)
    assert [(c.index, c.id, c.name, c.arguments) for c in generation.tool_calls] == [
        (0, "call_1", "weather", '{"a":1}'),
        (1, "call_2", "time", "{}"),
    ]


# --- (c) chunks() created, never iterated, then the raw events --------------------------------


@pytest.fixture(name="otel")
def _otel() -> Iterator[Any]:
    pytest.importorskip("opentelemetry.sdk", reason="the test needs opentelemetry-sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_an_unstarted_chunks_pass_leaves_the_span_its_usage(local: LocalRuntime, otel: Any) -> None:
    from typed_sagemaker_runtime import SageMakerRuntime
    from typed_sagemaker_runtime.testing._boto import dummy_session

    provider, exporter = otel
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    smr = SageMakerRuntime(
        session=dummy_session("us-east-1"),
        endpoint_url=local.endpoint_url,
        tracer_provider=provider,
    )
    with smr, smr.chat_stream("demo", [{"role": "user", "content": "hi"}], max_tokens=3) as s:
        unstarted = s.chunks()
        del unstarted
        events = list(s)
        assert events
    [span] = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes.get("gen_ai.response.finish_reasons") == ("length",), attributes
    assert attributes.get("gen_ai.usage.output_tokens") == 3


def test_a_refused_chunks_pass_leaves_the_span_its_usage(local: LocalRuntime, otel: Any) -> None:
    """The async twin: ``chunks()`` refused (the raw pass started first) takes nothing."""
    pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
    import asyncio

    from typed_sagemaker_runtime import AsyncSageMakerRuntime
    from typed_sagemaker_runtime.testing._boto import dummy_aio_session

    provider, exporter = otel
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))

    async def main() -> None:
        async with AsyncSageMakerRuntime(
            session=dummy_aio_session("us-east-1"),
            endpoint_url=local.endpoint_url,
            tracer_provider=provider,
        ) as smr:
            hello: Any = [{"role": "user", "content": "hi"}]
            async with smr.chat_stream("demo", hello, max_tokens=3) as stream:
                events = stream.__aiter__()
                with pytest.raises(StreamConsumedError):
                    stream.chunks()
                assert [event async for event in events]

    asyncio.run(main())
    [span] = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes.get("gen_ai.response.finish_reasons") == ("length",), attributes
    assert attributes.get("gen_ai.usage.output_tokens") == 3

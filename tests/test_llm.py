"""The LLM layer through the real stack: chunks()/generation() over HTTP, chat and generate.

Every recorded stream travels as real event-stream frames from the local endpoint,
cut as recorded and one byte per PayloadPart, to both clients (the ``clients``
fixture runs each test against ``SageMakerRuntime`` and ``AsyncSageMakerRuntime``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from _twins import Clients
from test_chunks import ENTRIES, summary
from test_decoders import FIXTURE_LIST, Fixture, replay, run
from typed_sagemaker_runtime import (
    ClientValidationError,
    GenerationError,
    SageMakerRuntimeError,
    StreamDecodeError,
    StreamError,
    ToolCall,
    Usage,
)
from typed_sagemaker_runtime._decoders._chunks import chunk_decoder
from typed_sagemaker_runtime._llm._chat import chat_request, generate_request
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
    Stall,
)

MESSAGES: list[Any] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Zürich?"},
]


def one_byte_parts(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


def sent(local: LocalRuntime) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(local.requests[-1].body)
    return body


# --- Streams over HTTP -------------------------------------------------------------------


@pytest.mark.parametrize("fx", FIXTURE_LIST, ids=str)
@pytest.mark.parametrize("cutting", ["recorded", "one-byte"])
def test_chunks_over_http(local: LocalRuntime, clients: Clients, fx: Fixture, cutting: str) -> None:
    """``chunks()`` over HTTP gives what the decoder gives; the error carries the request id."""
    parts = replay(fx) if cutting == "recorded" else list(one_byte_parts(fx.data))
    local.add_endpoint(
        "llm", lambda request: EndpointResponse(iter(parts), content_type=fx.content_type)
    )
    smr = clients.local()
    out: list[Any] = []
    caught: GenerationError | StreamDecodeError | None = None
    with smr.stream("llm", b"{}") as stream:
        try:
            out.extend(stream.chunks())
        except (GenerationError, StreamDecodeError) as exc:
            caught = exc
    got = summary((out, type(caught) if caught else None, caught.message if caught else None))
    assert got == summary(run(chunk_decoder(fx.format, fx.content_type), [fx.data]))
    if caught is not None:
        assert caught.request_id == local.requests[-1].request_id


@pytest.mark.parametrize("fx", [fx for fx in FIXTURE_LIST if fx.error is None], ids=str)
def test_generation_over_http(local: LocalRuntime, clients: Clients, fx: Fixture) -> None:
    local.add_endpoint(
        "llm", lambda request: EndpointResponse(iter(replay(fx)), content_type=fx.content_type)
    )
    smr = clients.local()
    with smr.stream("llm", b"{}") as stream:
        generation = stream.generation()
    expected = ENTRIES[fx.file]["generation"]
    assert generation.text == "".join(fx.tokens)
    assert generation.finish_reason == expected["finish_reason"]
    assert generation.usage == expected["usage"]
    assert [vars_of(call) for call in generation.tool_calls] == expected["tool_calls"]
    assert generation.duration >= 0
    if generation.text:
        assert generation.time_to_first_token is not None
        assert 0 <= generation.time_to_first_token <= generation.duration
    assert stream.closed


def test_generation_times_count_from_the_request(local: LocalRuntime, clients: Clients) -> None:
    """A slow response head counts in ``time_to_first_token``: the clock starts at the call."""
    local.add_endpoint(
        "slow-head",
        lambda request: EndpointResponse(iter([b"Hello"]), content_type="text/plain"),
        faults=[Stall(0.3)],
    )
    smr = clients.local()
    with smr.stream("slow-head", b"{}") as stream:  # returns once the head arrived
        generation = stream.generation()
    assert generation.text == "Hello"
    assert generation.time_to_first_token is not None
    assert generation.time_to_first_token >= 0.3
    assert generation.duration >= generation.time_to_first_token


def vars_of(call: ToolCall) -> dict[str, Any]:
    return {"index": call.index, "id": call.id, "name": call.name, "arguments": call.arguments}


def test_generation_raises_the_in_band_error(local: LocalRuntime, clients: Clients) -> None:
    fx = next(fx for fx in FIXTURE_LIST if fx.file == "vllm-error.sse")
    local.add_endpoint(
        "llm", lambda request: EndpointResponse(fx.data, content_type=fx.content_type)
    )
    smr = clients.local()
    with smr.stream("llm", b"{}") as stream, pytest.raises(GenerationError) as caught:
        stream.generation()
    assert caught.value.request_id == local.requests[-1].request_id
    assert stream.closed


# --- chat / chat_stream ------------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1761043900,
    "model": "Qwen/Qwen2.5-7B-Instruct",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "chatcmpl-tool-1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 30, "total_tokens": 42, "completion_tokens": 12},
}


def test_chat_sends_the_messages_api_request(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("llm", lambda request: json.dumps(COMPLETION))
    smr = clients.local()
    generation = smr.chat(
        "llm",
        MESSAGES,
        max_tokens=64,
        temperature=0.0,
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        tool_choice="auto",
        extra_body={"top_k": 5, "temperature": 0.5},
        target_variant="AllTraffic",
    )
    assert generation.text == "Let me check."
    assert generation.finish_reason == "tool_calls"
    assert generation.usage == Usage(prompt_tokens=30, completion_tokens=12, total_tokens=42)
    assert generation.tool_calls == (
        ToolCall(index=0, id="chatcmpl-tool-1", name="get_weather", arguments='{"city": "Zürich"}'),
    )
    assert generation.time_to_first_token == generation.duration
    request = local.requests[-1]
    assert request.operation == "InvokeEndpoint"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-amzn-sagemaker-target-variant"] == "AllTraffic"
    assert sent(local) == {
        "messages": MESSAGES,
        "max_tokens": 64,
        "temperature": 0.5,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        "tool_choice": "auto",
        "top_k": 5,
    }


def test_chat_stream_asks_for_usage(local: LocalRuntime, clients: Clients) -> None:
    fx = next(fx for fx in FIXTURE_LIST if fx.file == "vllm-chat-tools.sse")
    local.add_endpoint(
        "llm", lambda request: EndpointResponse(iter(replay(fx)), content_type=fx.content_type)
    )
    smr = clients.local()
    with smr.chat_stream("llm", MESSAGES, seed=7) as stream:
        generation = stream.generation()
    assert local.requests[-1].operation == "InvokeEndpointWithResponseStream"
    assert sent(local) == {
        "messages": MESSAGES,
        "seed": 7,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert generation.text == "Let me check."
    assert generation.finish_reason == "tool_calls"
    assert [call.name for call in generation.tool_calls] == ["get_weather", "get_time"]
    assert generation.usage == Usage(prompt_tokens=188, completion_tokens=42, total_tokens=230)


def test_chat_in_band_error_is_a_generation_error(local: LocalRuntime, clients: Clients) -> None:
    error = {"error": {"message": "boom", "type": "BadRequestError", "param": None, "code": 400}}
    local.add_endpoint("llm", lambda request: json.dumps(error))
    smr = clients.local()
    with pytest.raises(GenerationError, match="boom") as caught:
        smr.chat("llm", MESSAGES)
    assert caught.value.request_id == local.requests[-1].request_id


def test_chat_answer_that_is_not_json(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("llm", lambda request: "<html>proxy</html>")
    smr = clients.local()
    with pytest.raises(SageMakerRuntimeError, match="not JSON") as caught:
        smr.chat("llm", MESSAGES)
    assert type(caught.value) is SageMakerRuntimeError  # not a stream error: no stream
    assert "does not serve the Messages API" in caught.value.message


@pytest.mark.parametrize(
    ("method", "api"),
    [
        ("chat", "does not serve the Messages API"),
        ("generate", 'serve the {"inputs", "parameters"}'),
    ],
)
def test_an_endpoint_that_speaks_another_api_is_named_as_such(
    local: LocalRuntime, clients: Clients, method: str, api: str
) -> None:
    """Issue 20 item 14: neither choices nor generated_text is no stream error."""
    local.add_endpoint("other", lambda request: json.dumps({"predictions": [[0.1, 0.9]]}))
    smr = clients.local()
    call = getattr(smr, method)
    with pytest.raises(SageMakerRuntimeError) as caught:
        call("other", MESSAGES if method == "chat" else "hello")
    error = caught.value
    assert type(error) is SageMakerRuntimeError
    assert not isinstance(error, StreamError)
    assert "neither choices nor generated_text" in error.message
    assert api in error.message
    assert error.operation == "InvokeEndpoint"
    assert error.request_id == local.requests[-1].request_id


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages"),
        ({"messages": [{"content": "hi"}]}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": 0}, "top_p"),  # as generate(parameters={"top_p": 0}): no server takes it
        ({"stop": [1]}, "stop"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"extra_body": ["x"]}, "extra_body"),
        ({"endpoint_name": "bad name"}, "endpoint_name"),
    ],
)
def test_chat_arguments_are_checked_before_sending(
    local: LocalRuntime, clients: Clients, kwargs: dict[str, Any], field: str
) -> None:
    smr = clients.local()
    arguments: dict[str, Any] = {"endpoint_name": "echo", "messages": MESSAGES, **kwargs}
    endpoint, messages = arguments.pop("endpoint_name"), arguments.pop("messages")
    before = len(local.requests)
    for method in (smr.chat, smr.chat_stream):
        with pytest.raises(ClientValidationError) as caught:
            method(endpoint, messages, **arguments)
        assert caught.value.field == field
    assert len(local.requests) == before


def test_chat_request_never_sends_none() -> None:
    body = chat_request(
        [{"role": "user", "content": "hi"}],
        model=None,
        max_tokens=None,
        temperature=None,
        top_p=None,
        stop=("a", "b"),
        seed=None,
        tools=None,
        tool_choice=None,
        response_format=None,
        extra_body={"stream_options": None, "top_k": None, "n": 1},
        stream=True,
    )
    assert body == {
        "messages": [{"role": "user", "content": "hi"}],
        "stop": ["a", "b"],
        "stream": True,
        "n": 1,
    }


# --- generate / generate_stream ------------------------------------------------------------


@pytest.mark.parametrize("shape", ["list", "object"])
def test_generate_reads_both_response_shapes(
    local: LocalRuntime, clients: Clients, shape: str
) -> None:
    answer: dict[str, Any] = {
        "generated_text": "Paris.",
        "details": {"finish_reason": "length", "generated_tokens": 2, "seed": None},
    }
    local.add_endpoint("llm", lambda request: json.dumps([answer] if shape == "list" else answer))
    smr = clients.local()
    generation = smr.generate(
        "llm", "Capital of France?", parameters={"max_new_tokens": 2, "top_k": None}
    )
    assert generation.text == "Paris."
    assert generation.finish_reason == "length"
    assert generation.usage == Usage(prompt_tokens=None, completion_tokens=2, total_tokens=None)
    assert generation.tool_calls == ()
    assert sent(local) == {
        "inputs": "Capital of France?",
        "parameters": {"details": True, "max_new_tokens": 2},
    }


def test_generate_lmi_error_document(local: LocalRuntime, clients: Clients) -> None:
    error = {"generated_text": None, "error": "CUDA out of memory", "code": 400}
    local.add_endpoint("llm", lambda request: json.dumps(error))
    smr = clients.local()
    with pytest.raises(GenerationError, match="CUDA out of memory"):
        smr.generate("llm", "hi")


def test_generate_stream_sends_stream_and_details(local: LocalRuntime, clients: Clients) -> None:
    fx = next(fx for fx in FIXTURE_LIST if fx.file == "tgi-2.1.sse")

    def handler(request: InvocationRequest) -> EndpointResponse:
        return EndpointResponse(iter(replay(fx)), content_type=fx.content_type)

    local.add_endpoint("llm", handler)
    smr = clients.local()
    with smr.generate_stream("llm", "Say it", parameters={"details": False}) as stream:
        chunks = list(stream.chunks())
    assert sent(local) == {"inputs": "Say it", "parameters": {"details": False}, "stream": True}
    assert "".join(chunk.text for chunk in chunks) == "".join(fx.tokens)
    assert chunks[-1].finish_reason == "eos_token"


def test_generate_arguments_are_checked() -> None:
    with pytest.raises(ClientValidationError) as caught:
        generate_request(b"x", None, stream=False)  # type: ignore[arg-type]
    assert caught.value.field == "prompt"
    with pytest.raises(ClientValidationError) as caught:
        generate_request("x", ["max_new_tokens"], stream=False)  # type: ignore[arg-type]
    assert caught.value.field == "parameters"


def test_client_twins_exist() -> None:
    from typed_sagemaker_runtime import AsyncSageMakerRuntime, SageMakerRuntime

    for name in ("chat", "chat_stream", "generate", "generate_stream"):
        assert callable(getattr(SageMakerRuntime, name))
        assert callable(getattr(AsyncSageMakerRuntime, name))


def _result(body: str) -> Any:
    metadata = {
        "request_id": "r-1",
        "http_status_code": 200,
        "http_headers": {},
        "retry_attempts": 0,
    }
    return {"body": body.encode(), "response_metadata": metadata}


def test_parse_lmi_and_tgi_non_streamed_shapes() -> None:
    """LMI's json_chat document, LMI's details, TGI's details, a completions choice."""
    from typed_sagemaker_runtime._llm._chat import parse_generation

    lmi_chat = (
        '{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "choices": [{"index": 0, '
        '"message": {"role": "assistant", "content": "Sure"}, "logprobs": null, '
        '"finish_reason": "length"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1, '
        '"total_tokens": 4}}'
    )
    generation = parse_generation(_result(lmi_chat), started=1.0, ended=1.5)
    assert (generation.text, generation.finish_reason) == ("Sure", "length")
    assert generation.usage == Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4)
    assert (generation.time_to_first_token, generation.duration) == (0.5, 0.5)
    lmi = (
        '{"generated_text": "Hi", "details": {"finish_reason": "eos_token", '
        '"generated_tokens": 2, "inputs": "x", "prompt_tokens": 5}}'
    )
    generation = parse_generation(_result(lmi), started=0.0, ended=1.0)
    assert generation.finish_reason == "eos_token"
    assert generation.usage == Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7)
    completion = (
        '{"object": "text_completion", '
        '"choices": [{"index": 0, "text": "abc", "finish_reason": "stop"}]}'
    )
    generation = parse_generation(_result(completion), started=0.0, ended=1.0)
    assert (generation.text, generation.finish_reason, generation.usage) == ("abc", "stop", None)
    empty = parse_generation(_result('[{"generated_text": ""}]'), started=0.0, ended=1.0)
    assert empty.time_to_first_token is None
    with pytest.raises(SageMakerRuntimeError, match="neither choices nor generated_text"):
        parse_generation(_result('{"answer": 1}'), started=0.0, ended=1.0)
    with pytest.raises(SageMakerRuntimeError, match="Messages API"):
        parse_generation(_result("[]"), started=0.0, ended=1.0)
    with pytest.raises(SageMakerRuntimeError, match="generated_text"):
        parse_generation(_result("[]"), started=0.0, ended=1.0, kind="text_completion")
    with pytest.raises(GenerationError) as caught:
        parse_generation(
            _result('{"error": "bad", "error_type": "validation"}'), started=0.0, ended=1.0
        )
    assert caught.value.request_id == "r-1"

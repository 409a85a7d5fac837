"""The built-in demo LLM, driven through the local endpoint by boto3 and by the facade."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from typed_sagemaker_runtime import (
    ModelError,
    ModelStreamInterruptedError,
    RetryPolicy,
    SageMakerRuntime,
)
from typed_sagemaker_runtime.testing import (
    DemoLLM,
    LocalRuntime,
    ModelStreamError,
    PayloadPart,
)

TGI_EVENT = re.compile(
    rb'^data: \{"index":\d+,"token":\{"id":\d+,"text":"[^"]*","logprob":-?\d+(\.\d+)?(e-?\d+)?,'
    rb'"special":(true|false)\},"generated_text":(null|"[^"]*"),"details":(null|\{.*\})\}\n\n$'
)


@pytest.fixture(name="demo")
def _demo(local: LocalRuntime) -> DemoLLM:
    model = DemoLLM(tokens_per_second=None)
    local.add_endpoint("demo", model)
    return model


@pytest.fixture(name="raw")
def _raw(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    client = local.boto3_client(Config(retries={"total_max_attempts": 1}))
    yield client
    client.close()


@pytest.fixture(name="facade")
def _facade(local: LocalRuntime) -> Iterator[SageMakerRuntime]:
    with local.client(retry=RetryPolicy.disabled()) as client:
        yield client


def _stream_parts(
    raw: SageMakerRuntimeClient, body: dict[str, Any], endpoint: str = "demo"
) -> tuple[str | None, list[bytes]]:
    response = raw.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=json.dumps(body).encode(), ContentType="application/json"
    )
    try:
        parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
    finally:
        response["Body"].close()
    return response.get("ContentType"), parts


def _data(part: bytes) -> Any:
    assert part.startswith(b"data: ")
    assert part.endswith(b"\n\n")
    return json.loads(part[len(b"data: ") : -2])


# --- TGI generate_stream --------------------------------------------------------------


def test_tgi_stream_is_byte_exact(demo: DemoLLM, raw: SageMakerRuntimeClient) -> None:
    """One compact SSE event per part; ends with the special ``</s>`` and generated_text."""
    prompt = "What is SageMaker?"
    content_type, parts = _stream_parts(
        raw, {"inputs": prompt, "stream": True, "parameters": {"max_new_tokens": 500}}
    )
    assert content_type == "text/event-stream"
    events = [_data(part) for part in parts]
    for part, event in zip(parts, events, strict=True):
        assert TGI_EVENT.match(part), part
        # serde's compact form with raw UTF-8: re-serialising gives the same bytes
        compact = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        assert part == f"data: {compact}\n\n".encode()
    assert [event["index"] for event in events] == list(range(1, len(events) + 1))
    *tokens, last = events
    assert all(not e["token"]["special"] and e["generated_text"] is None for e in tokens)
    assert all(e["details"] is None for e in events)
    assert last["token"] == {
        "id": 2,
        "text": "</s>",
        "logprob": last["token"]["logprob"],
        "special": True,
    }
    generated = "".join(e["token"]["text"] for e in tokens)
    assert last["generated_text"] == generated
    assert generated == demo.generate(prompt, 500)
    assert generated.strip()


def test_max_new_tokens_cuts_the_stream_with_details(
    demo: DemoLLM, raw: SageMakerRuntimeClient
) -> None:
    """``max_new_tokens`` bounds the events; ``details`` says ``length`` on the last one."""
    body = {"inputs": "hi", "stream": True, "parameters": {"max_new_tokens": 5, "details": True}}
    _, parts = _stream_parts(raw, body)
    events = [_data(part) for part in parts]
    assert len(events) == 5
    assert not events[-1]["token"]["special"]
    assert events[-1]["generated_text"] == "".join(e["token"]["text"] for e in events)
    assert events[-1]["details"] == {
        "finish_reason": "length",
        "generated_tokens": 5,
        "seed": None,
        "input_length": 1,
    }
    assert all(e["details"] is None for e in events[:-1])


def test_details_of_a_finished_text_say_eos_token(
    demo: DemoLLM, raw: SageMakerRuntimeClient
) -> None:
    """When the text ends in budget, the end token counts as a generated token."""
    body = {"inputs": "hi there", "stream": True, "parameters": {"details": True, "seed": 4}}
    _, parts = _stream_parts(raw, body)
    last = _data(parts[-1])
    assert last["token"]["special"] is True
    assert last["details"]["finish_reason"] == "eos_token"
    assert last["details"]["generated_tokens"] == len(parts)
    assert last["details"]["seed"] == 4


def test_generation_is_deterministic_per_prompt() -> None:
    """The same prompt (and seed) gives the same text; prompts and seeds change it."""
    first, second = DemoLLM(None), DemoLLM(7)
    texts = {first.generate(f"prompt {n}", 200) for n in range(10)}
    assert len(texts) > 1
    assert first.generate("same", 200) == second.generate("same", 200)
    seeds = {first.generate("same", 200, seed=n) for n in range(10)}
    assert len(seeds) > 1


def test_corpus_exercises_multibyte_utf8(
    demo: DemoLLM, facade: SageMakerRuntime, local: LocalRuntime
) -> None:
    """Accents, an emoji and CJK all occur; the streamed bytes rebuild the text exactly."""
    texts = [demo.generate(f"question {n}", 500) for n in range(40)]
    joined = "".join(texts)
    for needle in ("café", "naïve", "🚀", "日本語", "流式"):
        assert needle in joined
    prompt = next(f"question {n}" for n, text in enumerate(texts) if "🚀" in text)
    body = {"inputs": prompt, "stream": True, "parameters": {"max_new_tokens": 500}}
    with facade.stream("demo", json=body) as stream:
        raw = stream.read()
    *tokens, last = (_data(line + b"\n\n") for line in raw.split(b"\n\n") if line)
    assert "".join(t["token"]["text"] for t in tokens) == texts[int(prompt.split()[1])]
    assert last["generated_text"] == texts[int(prompt.split()[1])]


# --- other shapes ---------------------------------------------------------------------


def test_tgi_without_stream_is_one_json_document(demo: DemoLLM, facade: SageMakerRuntime) -> None:
    """InvokeEndpoint, and the stream operation without ``stream``: ``[{"generated_text"}]``."""
    body = {"inputs": "hello", "parameters": {"max_new_tokens": 20}}
    result = facade.invoke("demo", json=body)
    assert result["content_type"] == "application/json"
    assert json.loads(result["body"]) == [{"generated_text": demo.generate("hello", 20)}]
    with facade.stream("demo", json=body) as stream:
        events = list(stream)
        assert stream.metadata["content_type"] == "application/json"
    assert events == [PayloadPart(result["body"])]


def test_tgi_details_without_stream(demo: DemoLLM, facade: SageMakerRuntime) -> None:
    """``details`` adds finish reason, counts and the tokens to the document."""
    body = {"inputs": "hello", "parameters": {"max_new_tokens": 3, "details": True}}
    [answer] = json.loads(facade.invoke("demo", json=body)["body"])
    details = answer["details"]
    assert details["finish_reason"] == "length"
    assert details["generated_tokens"] == 3
    assert "".join(token["text"] for token in details["tokens"]) == answer["generated_text"]


def test_messages_stream_with_usage(demo: DemoLLM, raw: SageMakerRuntimeClient) -> None:
    """chat.completion.chunk events, ``stop`` on the end token, a usage chunk, then [DONE]."""
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    body = {"messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    content_type, parts = _stream_parts(raw, body)
    assert content_type == "text/event-stream"
    assert parts[-1] == b"data: [DONE]\n\n"
    chunks = [_data(part) for part in parts[:-1]]
    *deltas, usage = chunks
    for chunk in chunks:
        assert list(chunk) == [
            "object",
            "id",
            "created",
            "model",
            "system_fingerprint",
            "choices",
            "usage",
        ]
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "typed-sagemaker-runtime/demo-llm"
    assert all(d["choices"][0]["delta"]["role"] == "assistant" for d in deltas)
    assert all(d["choices"][0]["finish_reason"] is None for d in deltas[:-1])
    assert deltas[-1]["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": "stop",
    }
    text = "".join(d["choices"][0]["delta"]["content"] for d in deltas)
    assert text == demo.generate("Be brief.\nHi", 64)
    assert usage["choices"] == []
    assert usage["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": len(deltas),
        "total_tokens": 4 + len(deltas),
    }


def test_messages_stream_without_usage_and_with_a_limit(
    demo: DemoLLM, raw: SageMakerRuntimeClient
) -> None:
    """No usage chunk unless asked; ``max_tokens`` ends with ``length``; list content works."""
    content = [{"type": "text", "text": "Hi"}]
    body = {"messages": [{"role": "user", "content": content}], "stream": True, "max_tokens": 3}
    _, parts = _stream_parts(raw, body)
    assert parts[-1] == b"data: [DONE]\n\n"
    chunks = [_data(part) for part in parts[:-1]]
    assert len(chunks) == 3
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all(chunk["usage"] is None for chunk in chunks)


def test_messages_without_stream(demo: DemoLLM, facade: SageMakerRuntime) -> None:
    """A chat.completion document with the whole message and usage."""
    body = {"messages": [{"role": "user", "content": "Hi"}], "model": "tgi"}
    document = json.loads(facade.invoke("demo", json=body)["body"])
    assert document["object"] == "chat.completion"
    assert document["model"] == "tgi"
    [choice] = document["choices"]
    assert choice["message"] == {"role": "assistant", "content": demo.generate("Hi", 64)}
    assert choice["finish_reason"] == "stop"
    assert document["usage"]["prompt_tokens"] == 1


# --- failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"neither": 1}',
        b'{"inputs": "  "}',
        b'{"inputs": 5}',
        b'{"inputs": "x", "parameters": {"max_new_tokens": 0}}',
        b'{"inputs": "x", "parameters": {"max_new_tokens": "5"}}',
        b'{"inputs": "x", "parameters": {"max_new_tokens": 5000}}',
        b'{"inputs": "x", "parameters": []}',
        b'{"messages": []}',
        b'{"messages": ["hi"]}',
    ],
)
def test_invalid_requests_are_validation_errors_of_the_model(
    demo: DemoLLM, facade: SageMakerRuntime, body: bytes
) -> None:
    """Like TGI's 422: a ModelError whose original message is TGI's error document."""
    with pytest.raises(ModelError) as caught:
        facade.invoke("demo", body, content_type="application/json")
    assert caught.value.original_status_code == 422
    assert caught.value.error_code == "CLIENT_ERROR_FROM_MODEL"
    document = json.loads(caught.value.original_message or "")
    assert document["error_type"] == "validation"
    assert document["error"]


def test_invalid_stream_request_fails_before_the_stream(
    demo: DemoLLM, facade: SageMakerRuntime
) -> None:
    """The stream call itself raises: nothing was streamed yet."""
    with pytest.raises(ModelError) as caught:
        facade.stream("demo", json={"inputs": ""})
    assert caught.value.original_status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": "hi", "stream": True, "parameters": {"fail_after_tokens": 3}},
        {"messages": [{"role": "user", "content": "hi"}], "stream": True, "fail_after_tokens": 3},
    ],
)
def test_fail_after_tokens_ends_the_stream_with_an_error_event(
    demo: DemoLLM, facade: SageMakerRuntime, body: dict[str, Any]
) -> None:
    """N parts, then a ModelStreamError coded ModelInvocationTimeExceeded; raised by helpers."""
    with facade.stream("demo", json=body) as stream:
        events = list(stream)
    assert len(events) == 4
    assert all(isinstance(event, PayloadPart) for event in events[:3])
    assert events[3] == ModelStreamError(
        message="Model invocation time exceeded while streaming the response.",
        error_code="ModelInvocationTimeExceeded",
    )
    with facade.stream("demo", json=body) as stream, pytest.raises(ModelStreamInterruptedError):
        stream.read()


def test_fail_after_tokens_without_stream_is_a_timeout(
    demo: DemoLLM, facade: SageMakerRuntime
) -> None:
    """Answered in one piece, the failure is a ModelError with OriginalStatusCode 0."""
    body = {"inputs": "hi", "parameters": {"fail_after_tokens": 2}}
    with pytest.raises(ModelError) as caught:
        facade.invoke("demo", json=body)
    assert caught.value.original_status_code == 0
    assert "timed out" in (caught.value.original_message or "")


# --- pace -----------------------------------------------------------------------------


def test_tokens_come_at_the_configured_pace(local: LocalRuntime, facade: SageMakerRuntime) -> None:
    """At 100 tokens/s, 10 tokens cannot arrive in less than 0.1 s."""
    paced = DemoLLM(tokens_per_second=100)
    assert paced.tokens_per_second == 100
    local.add_endpoint("paced", paced)
    body = {"inputs": "hi", "stream": True, "parameters": {"max_new_tokens": 10}}
    started = time.monotonic()
    with facade.stream("paced", json=body) as stream:
        assert len(list(stream)) == 10
    assert time.monotonic() - started >= 0.1


def test_constructor_arguments_are_checked() -> None:
    """Negative pace or an empty token budget is rejected; 0 and None mean unpaced."""
    assert DemoLLM(0).tokens_per_second is None
    assert DemoLLM(None).tokens_per_second is None
    assert DemoLLM().tokens_per_second == 50
    assert DemoLLM(3).tokens_per_second == 3
    assert DemoLLM(None).generate("x") == DemoLLM(None).generate("x", 64)
    assert DemoLLM(None, default_max_new_tokens=2).generate("x") == DemoLLM(None).generate("x", 2)
    with pytest.raises(ValueError, match="tokens_per_second"):
        DemoLLM(-1)
    with pytest.raises(ValueError, match="default_max_new_tokens"):
        DemoLLM(default_max_new_tokens=0)

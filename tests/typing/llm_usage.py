"""LLM-layer user code, checked by mypy --strict and pyright strict (never executed).

Every ``assert_type`` pins what a user's type checker sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from typing_extensions import assert_type

from typed_sagemaker_runtime import (
    AsyncResponseStream,
    AsyncSageMakerRuntime,
    AsyncStreamRequest,
    ChatMessage,
    GenerateParameters,
    Generation,
    GenerationChunk,
    ResponseStream,
    SageMakerRuntime,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)

WEATHER: ToolSpec = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def history() -> list[ChatMessage]:
    return [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call-1", "content": "18 °C"},
        {"role": "developer", "content": "Answer in French.", "name": "ops"},
    ]


def chat(smr: SageMakerRuntime) -> None:
    answer = smr.chat(
        "llm",
        history(),
        model="tgi",
        max_tokens=128,
        temperature=0.2,
        top_p=0.9,
        stop=["\n\n"],
        seed=1,
        tools=[WEATHER],
        tool_choice="auto",
        response_format={"type": "json_object"},
        extra_body={"top_k": 40},
        target_variant="blue",
        inference_component_name="llama",
    )
    assert_type(answer, Generation)
    assert_type(answer.text, str)
    assert_type(answer.finish_reason, str | None)
    assert_type(answer.usage, Usage | None)
    assert_type(answer.tool_calls, tuple[ToolCall, ...])
    assert_type(answer.time_to_first_token, float | None)
    assert_type(answer.duration, float)
    if answer.usage is not None:
        assert_type(answer.usage["completion_tokens"], int | None)
    for call in answer.tool_calls:
        assert_type(call.arguments, str)
        assert_type(call.id, str | None)
    smr.chat("llm", history(), tool_choice={"type": "function", "function": {"name": "f"}})


def chat_stream(smr: SageMakerRuntime) -> None:
    with smr.chat_stream("llm", [{"role": "user", "content": "Hi"}], max_tokens=16) as stream:
        assert_type(stream, ResponseStream)
        chunks = stream.chunks()
        assert_type(chunks, Iterator[GenerationChunk])
        for chunk in chunks:
            assert_type(chunk.text, str)
            assert_type(chunk.finish_reason, str | None)
            assert_type(chunk.index, int)
            for delta in chunk.tool_calls:
                assert_type(delta, ToolCallDelta)
                assert_type(delta.name, str | None)
    with smr.chat_stream("llm", history()) as stream:
        assert_type(stream.generation("openai"), Generation)


def generate(smr: SageMakerRuntime) -> None:
    parameters: GenerateParameters = {
        "max_new_tokens": 64,
        "temperature": 0.7,
        "top_k": 50,
        "stop": ["</s>"],
        "do_sample": True,
        "details": True,
        "return_full_text": False,
    }
    assert_type(smr.generate("llm", "Once upon a time", parameters=parameters), Generation)
    with smr.generate_stream("llm", "Hi", parameters={"max_new_tokens": 8}) as stream:
        assert_type(stream, ResponseStream)
        assert_type(stream.generation(format="tgi"), Generation)


async def async_llm(smr: AsyncSageMakerRuntime) -> None:
    answer = await smr.chat("llm", history(), max_tokens=8)
    assert_type(answer, Generation)
    async with await smr.chat_stream("llm", history()) as stream:
        assert_type(stream, AsyncResponseStream)
        chunks = stream.chunks()
        assert_type(chunks, AsyncIterator[GenerationChunk])
        async for chunk in chunks:
            assert_type(chunk.usage, Usage | None)
    async with await smr.generate_stream("llm", "Hi") as stream:
        assert_type(await stream.generation(), Generation)
    # Without `await`: the request is sent on entry, the stream closed on exit.
    async with smr.chat_stream("llm", history(), max_tokens=64) as stream:
        assert_type(stream, AsyncResponseStream)
        async for token in stream.tokens():
            assert_type(token, str)
    async with smr.generate_stream("llm", "Hi") as stream:
        assert_type(stream, AsyncResponseStream)
    request = smr.chat_stream("llm", history())
    assert_type(request, AsyncStreamRequest)
    assert_type(await request, AsyncResponseStream)
    assert_type(await smr.generate("llm", "Hi", parameters={"seed": 1}), Generation)

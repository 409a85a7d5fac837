"""``generation()`` after ``chunks()``: print the text live, then get tool calls and usage.

A ``chunks()`` pass iterated to its end accumulates its chunks; ``generation()`` then
returns that ``Generation`` (what it would have returned reading the stream itself).
After a pass that did not end (abandoned, failed), after ``tokens()`` or the raw events,
``generation()`` raises ``StreamConsumedError`` saying what to do. Both clients (twins).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from _twins import Clients
from typed_sagemaker_runtime import (
    ChatMessage,
    GenerationChunk,
    GenerationError,
    StreamConsumedError,
    ToolSpec,
)
from typed_sagemaker_runtime._decoders._chunks import generation_of
from typed_sagemaker_runtime.testing import (
    DemoLLM,
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
)

WEATHER: ToolSpec = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ASK: list[ChatMessage] = [{"role": "user", "content": "Weather in Zürich?"}]


@pytest.fixture(name="demo")
def _demo(local: LocalRuntime) -> LocalRuntime:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    return local


def _summary(generation: Any) -> tuple[Any, ...]:
    return (generation.text, generation.finish_reason, generation.usage, generation.tool_calls)


@pytest.mark.parametrize("tools", [None, [WEATHER]], ids=["text", "tool-call"])
def test_generation_after_chunks_read_to_the_end(
    demo: LocalRuntime, clients: Clients, tools: list[ToolSpec] | None
) -> None:
    smr = clients.local()
    with smr.chat_stream("demo", ASK, max_tokens=12, tools=tools) as stream:
        printed: list[GenerationChunk] = list(stream.chunks())
        generation = stream.generation()
        assert stream.generation() is generation, "the same result every time"
    expected = generation_of(printed)
    assert _summary(generation) == _summary(expected)
    assert generation.usage is not None, "the demo reports usage when asked"
    if tools:
        [call] = generation.tool_calls
        assert call.name == "get_weather"
        assert generation.finish_reason == "tool_calls"
    else:
        assert generation.text == "".join(chunk.text for chunk in printed) != ""
        assert generation.time_to_first_token is not None
        assert 0 <= generation.time_to_first_token <= generation.duration
    # What generation() gives reading a stream itself, to the same request.
    with smr.chat_stream("demo", ASK, max_tokens=12, tools=tools) as stream:
        direct = stream.generation()
    assert generation.text == direct.text
    assert generation.finish_reason == direct.finish_reason
    assert generation.usage == direct.usage
    assert [(c.name, c.arguments) for c in generation.tool_calls] == [
        (c.name, c.arguments) for c in direct.tool_calls
    ]


def _abandoned(stream: Any) -> None:
    for _ in stream.chunks():
        break


def _tokens(stream: Any) -> None:
    list(stream.tokens())


def _events(stream: Any) -> None:
    list(stream)


def _closed(stream: Any) -> None:
    stream.close()


@pytest.mark.parametrize("other_pass", [_abandoned, _tokens, _events, _closed], ids=repr)
def test_generation_after_another_pass_says_what_to_do(
    demo: LocalRuntime, clients: Clients, other_pass: Any
) -> None:
    smr = clients.local()
    with smr.chat_stream("demo", ASK, max_tokens=12) as stream:
        other_pass(stream)
        with pytest.raises(StreamConsumedError, match=r"iterate chunks\(\) to its end"):
            stream.generation()


def test_generation_after_chunks_cut_short_by_close_raises(
    demo: LocalRuntime, clients: Clients
) -> None:
    """close() inside the loop ends the pass quietly: its part is no Generation."""
    smr = clients.local()
    stream = smr.chat_stream("demo", ASK, max_tokens=20)
    seen = 0
    for _ in stream.chunks():
        seen += 1
        if seen == 3:
            stream.close()
    assert seen == 3
    with pytest.raises(StreamConsumedError):
        stream.generation()


def _fails_midway(request: InvocationRequest) -> EndpointResponse:
    parts = [
        b'data: {"token":{"id":1,"text":"Hi","special":false}}\n\n',
        b'data: {"error":"CUDA out of memory","error_type":"generation"}\n\n',
    ]
    return EndpointResponse(iter(parts), content_type="text/event-stream")


def test_generation_after_chunks_that_failed_raises(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("fails", _fails_midway)
    smr = clients.local()
    with smr.stream("fails", b"{}") as stream:
        received: Iterator[Any] = stream.chunks()
        with pytest.raises(GenerationError):
            list(received)
        with pytest.raises(StreamConsumedError):
            stream.generation()


def test_generation_alone_still_reads_the_stream(demo: LocalRuntime, clients: Clients) -> None:
    smr = clients.local()
    with smr.generate_stream("demo", "Hello", parameters={"max_new_tokens": 5}) as stream:
        generation = stream.generation()
        assert stream.generation() is generation
        with pytest.raises(StreamConsumedError):
            list(stream.chunks())
    assert generation.text
    assert generation.finish_reason == "length"


def test_a_pass_keeps_a_bounded_text(
    demo: LocalRuntime, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit a chunks() pass keeps nothing: decoding memory stays bounded."""
    from typed_sagemaker_runtime._base._stream import StreamState

    monkeypatch.setattr(StreamState, "_kept_text_limit", 5)
    smr = clients.local()
    with smr.generate_stream("demo", "Hello", parameters={"max_new_tokens": 12}) as stream:
        text = "".join(chunk.text for chunk in stream.chunks())
        assert len(text) > 5
        with pytest.raises(StreamConsumedError, match="join the chunks yourself"):
            stream.generation()
    with smr.generate_stream("demo", "Hello", parameters={"max_new_tokens": 12}) as stream:
        assert stream.generation().text == text, "generation() alone keeps it all"


def test_tool_call_arguments_count_towards_the_kept_limit(
    demo: LocalRuntime, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream of tool-call fragments without text is bounded too, not only the text."""
    from typed_sagemaker_runtime._base._stream import StreamState

    monkeypatch.setattr(StreamState, "_kept_text_limit", 5)
    smr = clients.local()
    with smr.chat_stream("demo", ASK, tools=[WEATHER]) as stream:
        chunks = list(stream.chunks())
        assert not "".join(chunk.text for chunk in chunks)
        assert sum(len(delta.arguments) for chunk in chunks for delta in chunk.tool_calls) > 5
        with pytest.raises(StreamConsumedError, match="text and tool calls"):
            stream.generation()


def test_the_kept_text_takes_about_a_byte_a_character() -> None:
    """Token-sized texts are joined as they come: 16 Mi characters are not ~250 MiB of str."""
    import tracemalloc

    from typed_sagemaker_runtime._decoders._generation import GenerationBuilder

    builder = GenerationBuilder()
    tracemalloc.start()
    try:
        for i in range(100_000):  # each text a new str, as a decoder makes them
            builder.add(GenerationChunk("t" + chr(0x41 + i % 26) + "k ", None, None, (), 0))
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text = builder.build().text
    assert len(text) == 400_000
    assert kept < 2 * len(text), f"{kept / len(text):.1f} bytes a character"

"""The demo LLM answers the LLM layer: chat and chat_stream, usage, finish reasons, tool calls.

Driven through both clients over HTTP (the ``clients`` fixture).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from _twins import Clients
from typed_sagemaker_runtime import ChatMessage, ToolSpec
from typed_sagemaker_runtime.testing import DemoLLM, LocalRuntime

MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Tell me about streaming."},
]
WEATHER: ToolSpec = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        },
    },
}


@pytest.fixture(name="demo", autouse=True)
def _demo(local: LocalRuntime) -> DemoLLM:
    model = DemoLLM(tokens_per_second=None)
    local.add_endpoint("demo", model)
    return model


def test_chat_stops_with_stop_and_reports_usage(clients: Clients, demo: DemoLLM) -> None:
    smr = clients.local()
    answer = smr.chat("demo", MESSAGES, max_tokens=500)
    assert answer.text == demo.generate("Be brief.\nTell me about streaming.", 500)
    assert answer.finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage["completion_tokens"] is not None
    assert answer.usage["completion_tokens"] > 3
    with smr.chat_stream("demo", MESSAGES, max_tokens=500) as stream:
        streamed = stream.generation()
    assert streamed.text == answer.text
    assert streamed.finish_reason == "stop"
    assert streamed.usage == answer.usage


def test_chat_stops_with_length_at_max_tokens(clients: Clients) -> None:
    smr = clients.local()
    answer = smr.chat("demo", MESSAGES, max_tokens=3)
    assert answer.finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage["completion_tokens"] == 3
    with smr.chat_stream("demo", MESSAGES, max_tokens=3) as stream:
        chunks = list(stream.chunks())
    assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == ["length"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage["completion_tokens"] == 3
    assert "".join(chunk.text for chunk in chunks) == answer.text


def test_tool_call_arrives_in_fragments(clients: Clients, local: LocalRuntime) -> None:
    smr = clients.local()
    with smr.chat_stream("demo", MESSAGES, tools=[WEATHER]) as stream:
        chunks = list(stream.chunks())
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert len(deltas) >= 3
    assert deltas[0].name == "get_weather"
    assert deltas[0].id is not None
    assert all(delta.name is None and delta.id is None for delta in deltas[1:])
    assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == ["tool_calls"]
    assert "".join(chunk.text for chunk in chunks) == ""
    sent: dict[str, Any] = json.loads(local.requests[-1].body)
    assert sent["tools"] == [WEATHER]

    with smr.chat_stream("demo", MESSAGES, tools=[WEATHER]) as stream:
        generation = stream.generation()
    (call,) = generation.tool_calls
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city", "days"}
    assert isinstance(arguments["days"], int)
    assert call.arguments == "".join(delta.arguments for delta in deltas)
    assert generation.finish_reason == "tool_calls"
    assert generation.usage is not None

    answer = smr.chat("demo", MESSAGES, tools=[WEATHER])
    (answered,) = answer.tool_calls
    assert (answered.name, answered.arguments) == (call.name, call.arguments)  # the same call
    assert re.fullmatch(r"call_[0-9a-f]{24}", answered.id or "")
    assert len({deltas[0].id, call.id, answered.id}) == 3  # a fresh id per response
    assert answer.finish_reason == "tool_calls"
    assert answer.text == ""


def test_tool_choice_none_and_forced(clients: Clients) -> None:
    smr = clients.local()
    other: ToolSpec = {"type": "function", "function": {"name": "get_time"}}
    assert smr.chat("demo", MESSAGES, tools=[WEATHER, other], tool_choice="none").tool_calls == ()
    forced = smr.chat(
        "demo",
        MESSAGES,
        tools=[WEATHER, other],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [call.name for call in forced.tool_calls] == ["get_time"]
    assert forced.tool_calls[0].arguments == "{}"


def test_smr_demo_shows_a_chat_stream_with_finish_reason_and_usage() -> None:
    import argparse
    import io

    from typed_sagemaker_runtime._cli._demo import run_demo

    out = io.StringIO()
    assert run_demo(argparse.Namespace(tokens_per_second=0.0), out) == 0
    text = out.getvalue()
    section = text[text.index("== chat_stream") :]
    section = section[: section.index("\n== ", 1)]
    assert "finish_reason: length" in section
    assert "usage:         {'prompt_tokens': 5, 'completion_tokens': 24, 'total_tokens': 29}" in (
        section
    )


def test_model_errors_are_the_typed_exception(clients: Clients) -> None:
    """A request the model server rejects (TGI's 422) is a ModelError for chat and chat_stream."""
    from typed_sagemaker_runtime import ModelError

    smr = clients.local()
    for method in (smr.chat, smr.chat_stream):
        with pytest.raises(ModelError) as caught:
            method("demo", MESSAGES, max_tokens=5000)
        assert caught.value.original_status_code == 422


def test_chat_example_runs_against_the_demo(local: LocalRuntime) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "chat.py"
    env = {**os.environ, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": local.endpoint_url}
    result = subprocess.run(
        [sys.executable, str(example), "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "\n[finish_reason: stop]\n" in result.stdout
    assert "[usage: {'prompt_tokens':" in result.stdout
    assert "tool call: get_weather({'city':" in result.stdout
    assert "finish_reason: tool_calls" in result.stdout

"""Chat with an LLM endpoint: a streamed answer with its finish reason and usage, then a tool call.

    python examples/chat.py ENDPOINT_NAME

Works with TGI (MESSAGES_API_ENABLED), LMI and vLLM containers, and with the demo LLM
of ``smr serve``.
"""

from __future__ import annotations

import json
import sys

from typed_sagemaker_runtime import ChatMessage, SageMakerRuntime, ToolSpec

WEATHER: ToolSpec = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def main(endpoint_name: str) -> int:
    messages: list[ChatMessage] = [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is Amazon SageMaker?"},
    ]
    with SageMakerRuntime() as smr:
        with smr.chat_stream(endpoint_name, messages, max_tokens=40) as stream:
            for chunk in stream.chunks():
                print(chunk.text, end="", flush=True)
                if chunk.finish_reason:
                    print(f"\n[finish_reason: {chunk.finish_reason}]")
                if chunk.usage:
                    print(f"[usage: {chunk.usage}]")

        answer = smr.chat(
            endpoint_name,
            [{"role": "user", "content": "Is it raining in Paris?"}],
            tools=[WEATHER],
        )
        for call in answer.tool_calls:
            print(f"tool call: {call.name}({json.loads(call.arguments)}) id={call.id}")
        print(f"finish_reason: {answer.finish_reason}, usage: {answer.usage}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "my-endpoint"))

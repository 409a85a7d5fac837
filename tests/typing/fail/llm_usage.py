"""LLM-layer misuse a type checker must reject: each expect-error line fails, no other.

Checked by tests/test_typing.py with mypy --strict and pyright strict.
"""

from __future__ import annotations

from typed_sagemaker_runtime import ChatMessage, GenerateParameters, SageMakerRuntime, ToolSpec


def misuse(smr: SageMakerRuntime) -> None:
    smr.chat("llm", [{"role": "usr", "content": "hi"}])  # expect-error
    smr.chat("llm", [{"content": "hi"}])  # expect-error
    smr.chat("llm", [{"role": "user", "contents": "hi"}])  # expect-error
    smr.chat("llm", "hi")  # expect-error
    smr.chat("llm", [{"role": "user", "content": "hi"}], max_token=5)  # expect-error
    smr.chat("llm", [{"role": "user", "content": "hi"}], tool_choice="always")  # expect-error
    smr.chat_stream("llm", [{"role": "user", "content": "hi"}], temperature="hot")  # expect-error
    smr.generate("llm", "hi", parameters={"max_new_token": 5})  # expect-error
    smr.generate("llm", "hi", parameters={"temperature": "0.5"})  # expect-error
    smr.generate_stream("llm", "hi", max_new_tokens=5)  # expect-error
    message: ChatMessage = {"role": "bot", "content": "x"}  # expect-error
    parameters: GenerateParameters = {"details": "yes"}  # expect-error
    tool: ToolSpec = {"type": "function", "function": {"nam": "f"}}  # expect-error
    answer = smr.chat("llm", [{"role": "user", "content": "hi"}])
    answer.txt  # expect-error
    reason: int = answer.finish_reason  # expect-error
    with smr.chat_stream("llm", [{"role": "user", "content": "hi"}]) as stream:
        for chunk in stream.chunks("gpt"):  # expect-error
            chunk.text.decode()  # expect-error
    del message, parameters, tool, reason

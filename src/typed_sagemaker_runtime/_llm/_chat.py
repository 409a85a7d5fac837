"""Chat and generate: request bodies and non-streamed responses, sans-I/O.

``chat`` sends an OpenAI Messages API body (TGI with ``MESSAGES_API_ENABLED``, LMI
and vLLM accept it on ``/invocations``); ``generate`` sends the TGI/LMI
``{"inputs", "parameters"}`` body. Arguments are checked here, before anything is
sent; ``None`` is never sent. Messages never quote what the caller passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias, cast

from .._core._exceptions import GenerationError, SageMakerRuntimeError
from .._core._llm_types import (
    ChatMessage,
    GenerateParameters,
    Generation,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)
from .._core._types import InvokeResult
from .._decoders._chunks import tool_call_deltas, usage_of
from .._decoders._records import raise_for_error
from ._validation import (
    check_chat_options,
    check_generate_parameters,
    check_json,
    check_messages,
    fail,
)

__all__ = [
    "ToolChoiceOption",
    "chat_request",
    "generate_request",
    "parse_generation",
]

ToolChoiceOption: TypeAlias = Literal["none", "auto", "required"] | ToolChoice
"""``tool_choice``: a mode, or one function to call."""


def _merge(body: dict[str, object], extra_body: object) -> None:
    """``extra_body`` last: its keys win, and a key set to ``None`` is removed."""
    if extra_body is None:
        return
    if not isinstance(extra_body, Mapping):
        raise fail("extra_body", "must be a mapping")
    for key in cast("Mapping[object, object]", extra_body):
        if not isinstance(key, str):
            raise fail("extra_body", "keys must be strings")
    check_json("extra_body", cast(object, extra_body))
    for key, value in cast("Mapping[str, object]", extra_body).items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value


def chat_request(
    messages: Sequence[ChatMessage],
    *,
    model: str | None,
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: str | Sequence[str] | None,
    seed: int | None,
    tools: Sequence[ToolSpec] | None,
    tool_choice: ToolChoiceOption | None,
    response_format: Mapping[str, object] | None,
    extra_body: Mapping[str, object] | None,
    stream: bool,
) -> dict[str, object]:
    """The JSON body of a chat request; ``stream`` adds ``stream`` and ``include_usage``."""
    check_messages(messages)
    options: dict[str, object] = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "stop": stop,
        "seed": seed,
        "tools": tools,
        "tool_choice": tool_choice,
        "response_format": response_format,
    }
    check_chat_options(options)  # before the sequences are copied: stop=5 is no TypeError
    if stop is not None and not isinstance(stop, str):
        options["stop"] = list(stop)
    if tools is not None:
        options["tools"] = list(tools)
    body: dict[str, object] = {"messages": list(messages)}
    body.update((name, value) for name, value in options.items() if value is not None)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    _merge(body, extra_body)
    return body


def generate_request(
    prompt: str, parameters: GenerateParameters | None, *, stream: bool
) -> dict[str, object]:
    """The JSON body of a TGI/LMI request; ``details`` is asked for unless set.

    ``details`` makes the server report the finish reason and the tokens generated.
    """
    if not isinstance(cast(object, prompt), str):
        raise fail("prompt", "must be a string")
    check_json("prompt", prompt)
    sent: dict[str, object] = {"details": True}
    sent.update(check_generate_parameters(parameters))
    body: dict[str, object] = {"inputs": prompt, "parameters": sent}
    if stream:
        body["stream"] = True
    return body


# --- Responses -------------------------------------------------------------------------


def _object(value: object) -> dict[str, object] | None:
    return cast("dict[str, object]", value) if isinstance(value, dict) else None


def _reason(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _content(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [_object(item) or {} for item in cast("list[object]", value)]
        return "".join(
            text
            for part in parts
            if part.get("type") == "text" and isinstance(text := part.get("text"), str)
        )
    return ""


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chat_answer(
    fields: dict[str, object],
) -> tuple[str, str | None, Usage | None, tuple[ToolCall, ...]]:
    choices = fields.get("choices")
    items = cast("list[object]", choices) if isinstance(choices, list) else []
    first = next((c for c in map(_object, items) if c is not None and c.get("index", 0) == 0), None)
    if first is None:
        return "", None, usage_of(fields.get("usage")), ()
    message = _object(first.get("message")) or {}
    text = _content(message.get("content")) if message else _content(first.get("text"))
    calls = tuple(
        ToolCall(index=delta.index, id=delta.id, name=delta.name or "", arguments=delta.arguments)
        for delta in tool_call_deltas(message.get("tool_calls"))
    )
    return text, _reason(first.get("finish_reason")), usage_of(fields.get("usage")), calls


def _generate_answer(fields: dict[str, object]) -> tuple[str, str | None, Usage | None]:
    text = fields.get("generated_text")
    details = _object(fields.get("details")) or {}
    completion = _count(details.get("generated_tokens"))
    prompt = _count(details.get("input_length", details.get("prompt_tokens")))
    usage = None
    if completion is not None or prompt is not None:
        total = completion + prompt if completion is not None and prompt is not None else None
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
    return (text if isinstance(text, str) else ""), _reason(details.get("finish_reason")), usage


# What a non-stream call's answer should have been, by the ``kind`` of the call.
_WRONG_API = {
    "chat": (
        "is not an OpenAI Messages API answer: the endpoint probably does not serve the "
        "Messages API (TGI serves it with MESSAGES_API_ENABLED=true; LMI and vLLM do)"
    ),
    "generate": (
        'is not a TGI/LMI answer ({"generated_text": ...}): the endpoint probably does not '
        'serve the {"inputs", "parameters"} API'
    ),
}


def _wrong_api(kind: str, problem: str, request_id: str | None) -> SageMakerRuntimeError:
    what = _WRONG_API["chat" if kind == "chat" else "generate"]
    return SageMakerRuntimeError(
        f"InvokeEndpoint: the endpoint's answer {problem}, so it {what}; "
        "read its raw answer with invoke()",
        request_id=request_id,
        operation="InvokeEndpoint",
    )


def parse_generation(
    result: InvokeResult, *, started: float, ended: float, kind: str = "chat"
) -> Generation:
    """The :class:`Generation` of a non-streamed chat or generate response.

    Accepted: ``chat.completion`` (choice 0's message, tool calls, finish reason,
    usage), ``[{"generated_text": ...}]`` or ``{"generated_text": ...}`` with optional
    ``details``. An error document raises ``GenerationError``; anything else a
    :class:`SageMakerRuntimeError` saying the endpoint probably does not serve the API
    of ``kind`` (``"chat"``: the Messages API; any other: TGI/LMI's generate).
    """
    request_id = result["response_metadata"]["request_id"]
    try:
        document: object = json.loads(result["body"])
    except (ValueError, RecursionError) as exc:
        raise _wrong_api(kind, "is not JSON", request_id) from exc
    if isinstance(document, list):
        items = cast("list[object]", document)
        document = items[0] if items else None
    fields = _object(document)
    if fields is None or not ("choices" in fields or "generated_text" in fields):
        if fields is not None:
            _raise_for_error(fields, request_id)
        raise _wrong_api(kind, "has neither choices nor generated_text", request_id)
    _raise_for_error(fields, request_id)
    calls: tuple[ToolCall, ...] = ()
    if "choices" in fields:
        text, finish, usage, calls = _chat_answer(fields)
    else:
        text, finish, usage = _generate_answer(fields)
    duration = ended - started
    return Generation(
        text=text,
        finish_reason=finish,
        usage=usage,
        tool_calls=calls,
        time_to_first_token=duration if text else None,
        duration=duration,
    )


def _raise_for_error(fields: dict[str, object], request_id: str | None) -> None:
    try:
        raise_for_error(fields)
    except GenerationError as exc:
        exc.request_id = request_id
        exc.operation = "InvokeEndpoint"
        raise

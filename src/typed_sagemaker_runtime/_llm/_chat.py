"""Chat and generate: request bodies and non-streamed responses, sans-I/O.

``chat`` sends an OpenAI Messages API body (TGI with ``MESSAGES_API_ENABLED``, LMI
and vLLM accept it on ``/invocations``); ``generate`` sends the TGI/LMI
``{"inputs", "parameters"}`` body. Arguments are checked here, before anything is
sent; ``None`` is never sent. Messages never quote what the caller passed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias, cast

from .._core._exceptions import ClientValidationError, GenerationError, StreamDecodeError
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

__all__ = [
    "ToolChoiceOption",
    "chat_request",
    "generate_request",
    "parse_generation",
]

ToolChoiceOption: TypeAlias = Literal["none", "auto", "required"] | ToolChoice
"""``tool_choice``: a mode, or one function to call."""

_ROLES = frozenset(("system", "user", "assistant", "tool", "developer"))
_TOOL_MODES = frozenset(("none", "auto", "required"))


def _fail(field: str, message: str) -> ClientValidationError:
    return ClientValidationError(f"{field}: {message}", field=field)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_messages(messages: object) -> None:
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise _fail("messages", "must be a list of messages")
    items = cast("Sequence[object]", messages)
    if not items:
        raise _fail("messages", "must hold at least one message")
    for number, message in enumerate(items):
        if not isinstance(message, Mapping):
            raise _fail("messages", f"message {number} is not a mapping")
        role = cast("Mapping[str, object]", message).get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise _fail(
                "messages",
                f"message {number} has no valid role; expected one of " + ", ".join(sorted(_ROLES)),
            )


def _check_options(options: Mapping[str, object]) -> None:
    """Each chat option that is not ``None`` has the type and range the servers accept."""
    model = options["model"]
    if model is not None and not isinstance(model, str):
        raise _fail("model", "must be a string")
    for name in ("max_tokens", "seed"):
        value = options[name]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise _fail(name, "must be an integer")
    max_tokens = options["max_tokens"]
    if isinstance(max_tokens, int) and max_tokens < 1:
        raise _fail("max_tokens", "must be at least 1")
    temperature = options["temperature"]
    if temperature is not None and (
        not _is_number(temperature) or not 0 <= cast(float, temperature) < math.inf
    ):
        raise _fail("temperature", "must be a number >= 0")
    top_p = options["top_p"]
    if top_p is not None and (not _is_number(top_p) or not 0 <= cast(float, top_p) <= 1):
        raise _fail("top_p", "must be a number between 0 and 1")
    stop = options["stop"]
    if (
        stop is not None
        and not isinstance(stop, str)
        and (
            not isinstance(stop, Sequence)
            or not all(isinstance(item, str) for item in cast("Sequence[object]", stop))
        )
    ):
        raise _fail("stop", "must be a string or a list of strings")
    tools = options["tools"]
    if tools is not None:
        if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
            raise _fail("tools", "must be a list of tool specs")
        if not all(isinstance(tool, Mapping) for tool in cast("Sequence[object]", tools)):
            raise _fail("tools", "every tool must be a mapping")
    tool_choice = options["tool_choice"]
    if tool_choice is not None and not isinstance(tool_choice, Mapping):  # noqa: SIM102
        if tool_choice not in _TOOL_MODES:
            raise _fail("tool_choice", 'must be "none", "auto", "required" or a function choice')
    response_format = options["response_format"]
    if response_format is not None and not isinstance(response_format, Mapping):
        raise _fail("response_format", "must be a mapping")


def _merge(body: dict[str, object], extra_body: object) -> None:
    """``extra_body`` last: its keys win, and a key set to ``None`` is removed."""
    if extra_body is None:
        return
    if not isinstance(extra_body, Mapping):
        raise _fail("extra_body", "must be a mapping")
    for key, value in cast("Mapping[object, object]", extra_body).items():
        if not isinstance(key, str):
            raise _fail("extra_body", "keys must be strings")
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
    _check_messages(messages)
    options: dict[str, object] = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "stop": stop if stop is None or isinstance(stop, str) else list(stop),
        "seed": seed,
        "tools": tools if tools is None else list(tools),
        "tool_choice": tool_choice,
        "response_format": response_format,
    }
    _check_options(options)
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
        raise _fail("prompt", "must be a string")
    if parameters is not None and not isinstance(cast(object, parameters), Mapping):
        raise _fail("parameters", "must be a mapping")
    sent: dict[str, object] = {"details": True}
    for key, value in cast("Mapping[object, object]", parameters or {}).items():
        if not isinstance(key, str):
            raise _fail("parameters", "keys must be strings")
        if value is not None:
            sent[key] = value
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


def parse_generation(result: InvokeResult, *, started: float, ended: float) -> Generation:
    """The :class:`Generation` of a non-streamed chat or generate response.

    Accepted: ``chat.completion`` (choice 0's message, tool calls, finish reason,
    usage), ``[{"generated_text": ...}]`` or ``{"generated_text": ...}`` with optional
    ``details``. An error document raises ``GenerationError``; anything else
    ``StreamDecodeError``.
    """
    request_id = result["response_metadata"]["request_id"]
    try:
        document: object = json.loads(result["body"])
    except (ValueError, RecursionError) as exc:
        raise StreamDecodeError(
            "the model's response is not JSON; read it with invoke()",
            request_id=request_id,
            operation="InvokeEndpoint",
        ) from exc
    if isinstance(document, list):
        items = cast("list[object]", document)
        document = items[0] if items else None
    fields = _object(document)
    if fields is None or not ("choices" in fields or "generated_text" in fields):
        if fields is not None:
            _raise_for_error(fields, request_id)
        raise StreamDecodeError(
            "the model's response has neither choices nor generated_text",
            request_id=request_id,
            operation="InvokeEndpoint",
        )
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

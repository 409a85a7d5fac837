"""The requests the demo LLM answers, validated as TGI validates them.

A body is TGI's generate request (``inputs`` and ``parameters``) or a Messages API request
(``messages``, ``max_tokens``, ``tools``, ...); :func:`parse_request` turns it into a
:class:`Request` or raises TGI's 422 validation error as a ``ModelFailure``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from .._failure import ModelFailure
from ._demo_text import ToolCall, example, tokenize
from ._demo_wire import dumps

__all__ = ["Request", "parse_request"]

_MAX_TOTAL_TOKENS = 4096


def _invalid(message: str) -> ModelFailure:
    """TGI's 422 validation error."""
    return ModelFailure(422, dumps({"error": message, "error_type": "validation"}))


@dataclass(frozen=True, slots=True)
class Request:
    """A validated request: what to generate and how to answer."""

    chat: bool
    prompt: str
    stream: bool
    max_new_tokens: int
    seed: int | None
    details: bool
    include_usage: bool
    fail_after_tokens: int | None
    model: str
    tool: ToolCall | None = None


def _int_parameter(parameters: Mapping[str, object], name: str) -> int | None:
    value = parameters.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(
            f"Failed to deserialize the JSON body into the target type: {name}: "
            f"invalid type: {dumps(value)}, expected u32"
        )
    return value


def _tool_call(document: Mapping[str, Any], prompt: str, seed: int | None) -> ToolCall | None:
    """The demo's call for a request with ``tools``: the forced function, else the first."""
    tools = document.get("tools")
    choice = document.get("tool_choice")
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    functions: list[dict[str, object]] = []
    for tool in cast("list[object]", tools):
        function = (
            cast("dict[str, object]", tool).get("function") if isinstance(tool, dict) else None
        )
        if isinstance(function, dict) and isinstance(
            cast("dict[str, object]", function).get("name"), str
        ):
            functions.append(cast("dict[str, object]", function))
    if not functions:
        raise _invalid("Input validation error: every tool needs a function with a name")
    chosen = functions[0]
    if isinstance(choice, dict):
        forced = cast("dict[str, object]", choice).get("function")
        name = cast("dict[str, object]", forced).get("name") if isinstance(forced, dict) else None
        chosen = next((f for f in functions if f["name"] == name), functions[0])
    digest = hashlib.sha256(f"{seed}\0tools\0{prompt}".encode()).digest()
    parameters = chosen.get("parameters")
    properties = (
        cast("dict[str, object]", parameters).get("properties")
        if isinstance(parameters, dict)
        else None
    )
    arguments = {
        str(key): example(schema, prompt, digest[16 + index % 16])
        for index, (key, schema) in enumerate(
            cast("dict[object, object]", properties or {}).items()
        )
    }
    return ToolCall(
        id=f"call_{secrets.token_hex(12)}",  # fresh per response, as real servers give
        name=str(chosen["name"]),
        arguments=json.dumps(arguments, ensure_ascii=False),
    )


def _message_text(message: object) -> str:
    if not isinstance(message, dict):
        raise _invalid("Input validation error: each message must be an object")
    content = cast("dict[str, object]", message).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in cast("list[object]", content):
            if isinstance(part, dict):
                text = cast("dict[str, object]", part).get("text")
                if isinstance(text, str):
                    texts.append(text)
        return " ".join(texts)
    if content is None:
        return ""
    raise _invalid("Input validation error: message content must be a string or a list")


def parse_request(body: bytes, default_max_new_tokens: int, model_id: str) -> Request:
    """The request ``body`` holds, with the defaults of the demo that answers it."""
    try:
        decoded: object = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"Failed to parse the request body as JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise _invalid(
            "Failed to deserialize the JSON body into the target type: "
            "data did not match any variant of untagged enum SagemakerRequest"
        )
    document = cast("dict[str, Any]", decoded)
    stream = document.get("stream", False) is True
    if "messages" in document:
        messages = document["messages"]
        if not isinstance(messages, list) or not messages:
            raise _invalid("Input validation error: `messages` cannot be empty")
        prompt = "\n".join(_message_text(m) for m in cast("list[object]", messages))
        options = document.get("stream_options")
        include_usage = isinstance(options, dict) and (
            cast("dict[str, object]", options).get("include_usage") is True
        )
        max_new = _int_parameter(document, "max_tokens")
        seed = _int_parameter(document, "seed")
        fail_after = _int_parameter(document, "fail_after_tokens")
        details = False
        model = document.get("model")
        chat = True
        tool = _tool_call(document, prompt, seed)
    elif "inputs" in document:
        prompt = document["inputs"]
        if not isinstance(prompt, str):
            raise _invalid(
                "Failed to deserialize the JSON body into the target type: "
                "inputs: invalid type, expected a string"
            )
        if not prompt.strip():
            raise _invalid("Input validation error: `inputs` cannot be empty")
        parameters: object = document.get("parameters")
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise _invalid(
                "Failed to deserialize the JSON body into the target type: "
                "parameters: invalid type, expected struct GenerateParameters"
            )
        params = cast("dict[str, object]", parameters)
        max_new = _int_parameter(params, "max_new_tokens")
        seed = _int_parameter(params, "seed")
        fail_after = _int_parameter(params, "fail_after_tokens")
        details = params.get("details") is True
        include_usage = False
        model = None
        chat = False
        tool = None
    else:
        raise _invalid(
            "Failed to deserialize the JSON body into the target type: "
            "data did not match any variant of untagged enum SagemakerRequest"
        )
    if max_new is None:
        max_new = default_max_new_tokens
    if max_new <= 0:
        name = "max_tokens" if chat else "max_new_tokens"
        raise _invalid(f"Input validation error: `{name}` must be strictly positive")
    input_length = len(tokenize(prompt))
    if input_length + max_new > _MAX_TOTAL_TOKENS:
        raise _invalid(
            f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= "
            f"{_MAX_TOTAL_TOKENS}. Given: {input_length} `inputs` tokens and {max_new} "
            "`max_new_tokens`"
        )
    if fail_after is not None and fail_after < 0:
        raise _invalid("Input validation error: `fail_after_tokens` must be >= 0")
    return Request(
        chat=chat,
        prompt=prompt,
        stream=stream,
        max_new_tokens=max_new,
        seed=seed,
        details=details,
        include_usage=include_usage,
        fail_after_tokens=fail_after,
        model=model if isinstance(model, str) and model else model_id,
        tool=tool,
    )

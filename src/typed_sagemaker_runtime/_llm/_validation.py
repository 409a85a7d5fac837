"""Checks of the chat and generate arguments, sans-I/O, shared by both clients.

Each check raises :class:`ClientValidationError` naming the argument the caller passed
(``messages``, ``parameters``, ``extra_body``, ...), before anything is sent. Messages
name the problem and the key, never the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from .._core._exceptions import ClientValidationError
from .._core._params import json_bytes

__all__ = [
    "check_chat_options",
    "check_generate_parameters",
    "check_json",
    "check_messages",
    "fail",
]

_ROLES = frozenset(("system", "user", "assistant", "tool", "developer"))
_TOOL_MODES = frozenset(("none", "auto", "required"))


def fail(field: str, message: str) -> ClientValidationError:
    """A :class:`ClientValidationError` for the argument ``field``."""
    return ClientValidationError(f"{field}: {message}", field=field)


def check_json(field: str, value: object) -> None:
    """``value`` serialises as JSON and encodes as UTF-8 (no NaN, bytes, lone surrogate)."""
    json_bytes(field, value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list_of_str(value: object) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and all(isinstance(item, str) for item in cast("Sequence[object]", value))
    )


def _check_content(number: int, message: Mapping[str, object]) -> None:
    if "content" not in message or message["content"] is None:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            return
        raise fail("messages", f"message {number} has no content")
    content = message["content"]
    if isinstance(content, str):
        return
    if isinstance(content, (bytes, Mapping)) or not isinstance(content, Sequence):
        raise fail("messages", f"message {number}: content must be a string or a list of parts")
    if not all(isinstance(part, Mapping) for part in cast("Sequence[object]", content)):
        raise fail("messages", f"message {number}: every content part must be a mapping")


def check_messages(messages: object) -> None:
    """A non-empty list of messages, each with a valid role and content, JSON-serialisable."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise fail("messages", "must be a list of messages")
    items = cast("Sequence[object]", messages)
    if not items:
        raise fail("messages", "must hold at least one message")
    for number, message in enumerate(items):
        if not isinstance(message, Mapping):
            raise fail("messages", f"message {number} is not a mapping")
        fields = cast("Mapping[str, object]", message)
        role = fields.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise fail(
                "messages",
                f"message {number} has no valid role; expected one of " + ", ".join(sorted(_ROLES)),
            )
        _check_content(number, fields)
    check_json("messages", list(items))


def check_chat_options(options: Mapping[str, object]) -> None:
    """Each chat option that is not ``None`` has the type and range the servers accept."""
    model = options["model"]
    if model is not None and not isinstance(model, str):
        raise fail("model", "must be a string")
    for name in ("max_tokens", "seed"):
        value = options[name]
        if value is not None and not _is_integer(value):
            raise fail(name, "must be an integer")
    max_tokens = options["max_tokens"]
    if isinstance(max_tokens, int) and max_tokens < 1:
        raise fail("max_tokens", "must be at least 1")
    temperature = options["temperature"]
    if temperature is not None and (
        not _is_number(temperature) or not 0 <= cast(float, temperature) < math.inf
    ):
        raise fail("temperature", "must be a number >= 0")
    top_p = options["top_p"]
    # As generate's top_p: TGI, LMI and vLLM all refuse 0.
    if top_p is not None and (not _is_number(top_p) or not 0 < cast(float, top_p) <= 1):
        raise fail("top_p", "must be a number in (0, 1]")
    stop = options["stop"]
    if stop is not None and not isinstance(stop, str) and not _is_list_of_str(stop):
        raise fail("stop", "must be a string or a list of strings")
    tools = options["tools"]
    if tools is not None:
        if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
            raise fail("tools", "must be a list of tool specs")
        if not all(isinstance(tool, Mapping) for tool in cast("Sequence[object]", tools)):
            raise fail("tools", "every tool must be a mapping")
    tool_choice = options["tool_choice"]
    # The type first: an unhashable value (a list) cannot be looked up in a frozenset.
    if tool_choice is not None and not isinstance(tool_choice, Mapping):  # noqa: SIM102
        if not isinstance(tool_choice, str) or tool_choice not in _TOOL_MODES:
            raise fail("tool_choice", 'must be "none", "auto", "required" or a function choice')
    response_format = options["response_format"]
    if response_format is not None and not isinstance(response_format, Mapping):
        raise fail("response_format", "must be a mapping")
    for name, value in options.items():
        if value is not None:
            check_json(name, value)


def _positive_integer(value: object) -> bool:
    return _is_integer(value) and cast(int, value) >= 1


def _non_negative_integer(value: object) -> bool:
    return _is_integer(value) and cast(int, value) >= 0


def _finite(value: object) -> bool:
    # An int is finite, however large (math.isfinite would overflow converting it).
    return _is_integer(value) or (isinstance(value, float) and math.isfinite(value))


# GenerateParameters' keys: the test each value must pass, and what it must be. The
# ranges are the union of what TGI and LMI accept (TGI also refuses temperature 0 and
# top_p 1, which LMI and vLLM take); a key not listed is checked for JSON only.
_PARAMETERS: Mapping[str, tuple[Callable[[object], bool], str]] = {
    "max_new_tokens": (_positive_integer, "a positive integer"),
    "temperature": (lambda v: _finite(v) and cast(float, v) >= 0, "a finite number >= 0"),
    "top_p": (lambda v: _finite(v) and 0 < cast(float, v) <= 1, "a number in (0, 1]"),
    "typical_p": (lambda v: _finite(v) and 0 < cast(float, v) <= 1, "a number in (0, 1]"),
    "top_k": (_positive_integer, "a positive integer"),
    "repetition_penalty": (lambda v: _finite(v) and cast(float, v) > 0, "a finite number > 0"),
    "frequency_penalty": (_finite, "a finite number"),
    "stop": (_is_list_of_str, "a list of strings"),
    "do_sample": (lambda v: isinstance(v, bool), "true or false"),
    "seed": (_non_negative_integer, "an integer >= 0"),
    "details": (lambda v: isinstance(v, bool), "true or false"),
    "return_full_text": (lambda v: isinstance(v, bool), "true or false"),
    "truncate": (_positive_integer, "a positive integer"),
    "watermark": (lambda v: isinstance(v, bool), "true or false"),
    "decoder_input_details": (lambda v: isinstance(v, bool), "true or false"),
    "top_n_tokens": (_non_negative_integer, "an integer >= 0"),
    "best_of": (_positive_integer, "a positive integer"),
    "grammar": (lambda v: isinstance(v, Mapping), "a mapping"),
    "adapter_id": (lambda v: isinstance(v, str), "a string"),
}


def check_generate_parameters(parameters: object) -> dict[str, object]:
    """The checked ``parameters`` of a generate request, ``None`` values dropped."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise fail("parameters", "must be a mapping")
    sent: dict[str, object] = {}
    for key, value in cast("Mapping[object, object]", parameters).items():
        if not isinstance(key, str):
            raise fail("parameters", "keys must be strings")
        if value is None:
            continue
        rule = _PARAMETERS.get(key)
        if rule is not None and not rule[0](value):
            raise fail("parameters", f"{key} must be {rule[1]}")
        sent[key] = value
    check_json("parameters", sent)
    return sent

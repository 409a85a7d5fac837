"""Arguments the servers would refuse, or that cannot be encoded, are refused before sending.

Each refusal is a ``ClientValidationError`` whose ``field`` is the argument the caller
passed (``json``, ``body``, ``messages``, ``prompt``, ``parameters``, ``extra_body``,
``tool_choice``, ``format``), never a bare ``TypeError`` or ``UnicodeEncodeError``; the
local endpoint proves nothing was sent. Both clients, through the real boto3 and
aiobotocore stacks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from _models import models
from _twins import Clients
from typed_sagemaker_runtime import ClientValidationError
from typed_sagemaker_runtime._llm._chat import chat_request, generate_request
from typed_sagemaker_runtime.testing import LocalRuntime

LONE = "\ud800"  # a lone surrogate: a str with no UTF-8 encoding
USER: list[Any] = [{"role": "user", "content": "hi"}]


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = _nested(100_000)
CYCLE: list[Any] = []
CYCLE.append(CYCLE)
ANSWER = json.dumps({"generated_text": "ok", "details": {"finish_reason": "stop"}})


@pytest.fixture(name="client")
def _client(local: LocalRuntime, clients: Clients) -> Any:
    local.add_endpoint("llm", lambda request: ANSWER)
    return clients.local()


def _refused(local: LocalRuntime, call: Callable[[], object], field: str) -> ClientValidationError:
    """Run ``call``: it must raise a ClientValidationError naming ``field``, sending nothing."""
    before = len(local.requests)
    with pytest.raises(ClientValidationError) as caught:
        result = call()
        close = getattr(result, "close", None)
        if close is not None:
            close()
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")
    assert len(local.requests) == before, "a refused request was sent"
    return caught.value


# --- Lone surrogates (issue 20, item 2) ---------------------------------------------------


SURROGATE_CALLS: dict[str, tuple[Callable[[Any], object], str]] = {
    "invoke-json": (lambda c: c.invoke("echo", json={"a": LONE}), "json"),
    "invoke-json-key": (lambda c: c.invoke("echo", json={LONE: 1}), "json"),
    "invoke-body": (lambda c: c.invoke("echo", body=LONE), "body"),
    "stream-json": (lambda c: c.stream("echo", json={"a": [LONE]}), "json"),
    "stream-body": (lambda c: c.stream("echo", body="x" + LONE), "body"),
    "chat-content": (lambda c: c.chat("llm", [{"role": "user", "content": LONE}]), "messages"),
    "chat-stream-content": (
        lambda c: c.chat_stream("llm", [{"role": "user", "content": "a" + LONE}]),
        "messages",
    ),
    "chat-extra-body": (lambda c: c.chat("llm", USER, extra_body={"user": LONE}), "extra_body"),
    "chat-stop": (lambda c: c.chat("llm", USER, stop=[LONE]), "stop"),
    "generate-prompt": (lambda c: c.generate("llm", "x" + LONE), "prompt"),
    "generate-stream-prompt": (lambda c: c.generate_stream("llm", LONE), "prompt"),
    "generate-parameters": (
        lambda c: c.generate("llm", "x", parameters={"stop": [LONE]}),
        "parameters",
    ),
    # Header arguments: botocore raised AttributeError, or the message quoted the surrogate.
    "invoke-enable-explanations": (
        lambda c: c.invoke("echo", body=b"x", enable_explanations="`x`" + LONE),
        "enable_explanations",
    ),
    "invoke-async-input-location": (
        lambda c: c.invoke_async("echo", input_location="s3://bucket/" + LONE),
        "input_location",
    ),
    "stream-inference-id": (
        lambda c: c.stream("echo", body=b"x", inference_id="id" + LONE),
        "inference_id",
    ),
    "chat-session-id": (lambda c: c.chat("llm", USER, session_id="s" + LONE), "session_id"),
    "generate-custom-attributes": (
        lambda c: c.generate("llm", "x", custom_attributes="a" + LONE),
        "custom_attributes",
    ),
}


@pytest.mark.parametrize("case", sorted(SURROGATE_CALLS))
def test_a_lone_surrogate_is_refused_naming_the_argument(
    local: LocalRuntime, client: Any, case: str
) -> None:
    call, field = SURROGATE_CALLS[case]
    if field == "session_id" and not models("InvokeEndpoint", "SessionId"):
        pytest.skip("the installed botocore does not model SessionId (refused for that)")
    error = _refused(local, lambda: call(client), field)
    assert "surrogate" in error.message
    assert LONE not in error.message
    assert isinstance(error.__cause__, UnicodeEncodeError)


# --- Unhashable choices (item 5) -----------------------------------------------------------


@pytest.mark.parametrize("tool_choice", [["auto"], {"auto"}, b"auto", 1, "sometimes"])
def test_tool_choice_of_the_wrong_type_is_refused(
    local: LocalRuntime, client: Any, tool_choice: object
) -> None:
    _refused(local, lambda: client.chat("llm", USER, tool_choice=tool_choice), "tool_choice")


@pytest.mark.parametrize("reader", ["tokens", "chunks", "generation"])
@pytest.mark.parametrize("format", [["tgi"], {"tgi": 1}, b"tgi", None, "tgi2"])
def test_a_stream_format_of_the_wrong_type_is_refused(
    client: Any, reader: str, format: object
) -> None:
    with (
        client.stream("echo", json={"inputs": "hi"}) as stream,
        pytest.raises(ClientValidationError) as caught,
    ):
        result = getattr(stream, reader)(format=format)
        if reader != "generation":
            next(iter(result))
    assert caught.value.field == "format"
    assert "unknown token format" in caught.value.message


# --- generate()'s parameters (item 6) ------------------------------------------------------


BAD_PARAMETERS: list[tuple[str, object]] = [
    ("max_new_tokens", 0),
    ("max_new_tokens", -5),
    ("max_new_tokens", True),
    ("max_new_tokens", 2.0),
    ("temperature", -1.0),
    ("temperature", math.nan),
    ("temperature", math.inf),
    ("temperature", "0.5"),
    ("top_p", 7),
    ("top_p", 0),
    ("top_p", -0.1),
    ("top_k", 0),
    ("top_k", 1.5),
    ("top_k", False),
    ("repetition_penalty", 0),
    ("repetition_penalty", -1.2),
    ("stop", 5),
    ("stop", "END"),
    ("stop", ["END", 5]),
    ("do_sample", "yes"),
    ("do_sample", 1),
    ("seed", True),
    ("seed", -1),
    ("seed", 1.0),
    ("details", 1),
    ("return_full_text", "no"),
    ("typical_p", 1.5),
    ("best_of", 0),
    ("grammar", "json"),
    ("repetition_penalty", -(10**400)),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("key", "value"), BAD_PARAMETERS)
def test_generate_parameters_are_checked(
    local: LocalRuntime, client: Any, key: str, value: object, stream: bool
) -> None:
    method = client.generate_stream if stream else client.generate
    error = _refused(local, lambda: method("llm", "hi", parameters={key: value}), "parameters")
    assert key in error.message


@pytest.mark.parametrize(
    "parameters",
    [
        {"custom": math.nan},
        {"custom": b"bytes"},
        {"custom": {"deep": math.inf}},
        {"custom": DEEP},
        {"custom": CYCLE},
        [("a", 1)],
    ],
    ids=["nan", "bytes", "inf", "deep", "cycle", "not-a-mapping"],
)
def test_what_json_cannot_carry_in_parameters_names_parameters(
    local: LocalRuntime, client: Any, parameters: object
) -> None:
    _refused(local, lambda: client.generate("llm", "hi", parameters=parameters), "parameters")


def test_valid_boundaries_of_generate_parameters_are_sent(local: LocalRuntime, client: Any) -> None:
    parameters: dict[str, object] = {
        "max_new_tokens": 1,
        "temperature": 0,
        "frequency_penalty": -(10**400),
        "top_p": 1,
        "top_k": 1,
        "repetition_penalty": 0.5,
        "stop": [],
        "do_sample": False,
        "seed": 0,
        "return_full_text": False,
        "custom": {"any": ["json"]},
        "temperature_unused": None,
    }
    assert client.generate("llm", "hi", parameters=parameters).text == "ok"
    sent = json.loads(local.requests[-1].body)["parameters"]
    assert sent == {"details": True, **{k: v for k, v in parameters.items() if v is not None}}


# --- chat()'s messages and extra_body (item 6) ---------------------------------------------


BAD_MESSAGES: dict[str, list[Any]] = {
    "no-content": [{"role": "user", "text": "hi"}],
    "content-none": [{"role": "user", "content": None}],
    "assistant-without-tool-calls": [*USER, {"role": "assistant"}],
    "bytes-content": [{"role": "user", "content": b"hi"}],
    "mapping-content": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
    "part-not-a-mapping": [{"role": "user", "content": ["hi"]}],
    "nan-in-a-part": [{"role": "user", "content": [{"type": "x", "weight": math.nan}]}],
    "bytes-elsewhere": [{"role": "user", "content": "hi", "name": b"me"}],
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
@pytest.mark.parametrize("method", ["chat", "chat_stream"])
def test_bad_messages_are_refused_naming_messages(
    local: LocalRuntime, client: Any, case: str, method: str
) -> None:
    call = getattr(client, method)
    _refused(local, lambda: call("llm", BAD_MESSAGES[case]), "messages")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"extra_body": {"logit_bias": {"1": math.inf}}}, "extra_body"),
        ({"extra_body": {"x": b"bytes"}}, "extra_body"),
        ({"tools": [{"type": "function", "function": {"name": "f", "x": math.nan}}]}, "tools"),
        ({"response_format": {"type": "json", "x": b"b"}}, "response_format"),
        ({"stop": 5}, "stop"),
        ({"stop": ["a", 5]}, "stop"),
        ({"tools": 5}, "tools"),
        ({"tools": [5]}, "tools"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": math.nan}, "temperature"),
        ({"model": LONE}, "model"),
    ],
)
def test_chat_options_name_themselves(
    local: LocalRuntime, client: Any, options: dict[str, Any], field: str
) -> None:
    _refused(local, lambda: client.chat("llm", USER, **options), field)


def test_an_assistant_message_with_tool_calls_only_is_sent(
    local: LocalRuntime, client: Any
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages: list[Any] = [
        *USER,
        {"role": "assistant", "tool_calls": [call]},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "and?"}]},
    ]
    assert client.chat("llm", messages).text == "ok"
    assert json.loads(local.requests[-1].body)["messages"] == messages


@pytest.mark.parametrize("value", [DEEP, CYCLE], ids=["deep", "cycle"])
@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_json_that_cannot_be_serialised_is_refused_naming_json(
    local: LocalRuntime, client: Any, value: object, method: str
) -> None:
    """A RecursionError from json.dumps escaped before."""
    _refused(local, lambda: getattr(client, method)("echo", json={"a": value}), "json")


def test_a_cycle_in_messages_names_messages(local: LocalRuntime, client: Any) -> None:
    message: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    message["content"][0]["self"] = message
    _refused(local, lambda: client.chat("llm", [message]), "messages")


# --- Properties: a request is either refused naming an argument, or JSON that encodes --------

_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=5)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.binary(max_size=3),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=8,
)
_KEYS = st.sampled_from(
    (
        *("max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty", "stop"),
        *("seed", "do_sample", "details", "return_full_text", "typical_p", "grammar", "custom"),
    )
)


def _sent_or_refused(build: Callable[[], dict[str, object]], fields: set[str]) -> None:
    refused: ClientValidationError | None = None
    try:
        body = build()
    except ClientValidationError as exc:
        refused = exc
    if refused is not None:
        assert refused.field in fields, refused.field
    else:
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(
    prompt=_TEXT,
    parameters=st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES, max_size=4)),
    stream=st.booleans(),
)
def test_generate_requests_are_json_or_refused(prompt: str, parameters: Any, stream: bool) -> None:
    _sent_or_refused(
        lambda: generate_request(prompt, parameters, stream=stream), {"prompt", "parameters"}
    )


_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "tool", "robot"])},
    optional={"content": _VALUES, "name": _VALUES, "tool_calls": _VALUES, "text": _VALUES},
)


@settings(max_examples=300, deadline=None)
@given(
    messages=st.one_of(st.lists(_MESSAGE, min_size=1, max_size=3), _VALUES),
    options=st.dictionaries(
        st.sampled_from(["max_tokens", "temperature", "top_p", "stop", "seed", "tools"])
        | st.sampled_from(["tool_choice", "response_format", "model", "extra_body"]),
        _VALUES,
        max_size=3,
    ),
)
def test_chat_requests_are_json_or_refused(messages: Any, options: dict[str, Any]) -> None:
    arguments: dict[str, Any] = dict.fromkeys(
        (
            *("model", "max_tokens", "temperature", "top_p", "stop", "seed", "tools"),
            *("tool_choice", "response_format", "extra_body"),
        )
    )
    arguments.update(options)
    _sent_or_refused(
        lambda: chat_request(messages, **arguments, stream=False), {"messages", *arguments}
    )

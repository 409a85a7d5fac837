"""``DemoLLM``: a tiny deterministic text generator that talks like Hugging Face TGI.

No weights, no download: the "model" picks sentences from a small built-in corpus, seeded
by a hash of the prompt, and emits them word by word. The corpus holds accented Latin,
an emoji and CJK text, so multi-byte UTF-8 crosses every part boundary a client may see.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from ..._core._events import ModelStreamError
from .._failure import ModelFailure
from .._model import EndpointResponse, InvocationRequest

__all__ = ["DemoLLM"]

_CORPUS = (
    "SageMaker streams the response while the model is still writing it.",
    "Each token travels as a server-sent event inside a PayloadPart.",
    "A naïve client cuts bytes in the middle of a character.",
    "The café on the corner serves crème brûlée to every résumé reviewer.",
    "Streaming makes a slow model feel fast 🚀.",
    "A token is a word, a piece of a word, or a single character.",
    "日本語の文章も一文字ずつ届きます。",
    "流式输出让等待变得更短。",
    "Testing locally costs nothing and needs no GPU ✨.",
    "The last token is special and carries the whole generated text.",
    "Ünïcödé text has to survive every chunk boundary.",
    "Local endpoints keep integration tests fast and deterministic.",
)
_CJK = "\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef"
_TOKEN = re.compile(rf"\s*(?:[{_CJK}]|[^\s\W{_CJK}]+|[^\s\w])")
_EOS_ID = 2
_EOS_TEXT = "</s>"
_MAX_TOTAL_TOKENS = 4096
_STREAM_ERROR_MESSAGE = "Model invocation time exceeded while streaming the response."
_TIMED_OUT = (
    "Your invocation timed out while waiting for a response from container primary. "
    "Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, "
    "and try again."
)


def _tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _dumps(value: object) -> str:
    """Compact JSON with raw UTF-8, as TGI's serde writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _sse(value: object) -> bytes:
    return f"data: {_dumps(value)}\n\n".encode()


def _invalid(message: str) -> ModelFailure:
    """TGI's 422 validation error."""
    return ModelFailure(422, _dumps({"error": message, "error_type": "validation"}))


@dataclass(frozen=True, slots=True)
class _Token:
    id: int
    text: str
    logprob: float
    special: bool

    def wire(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "logprob": self.logprob, "special": self.special}


@dataclass(frozen=True, slots=True)
class _Request:
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
    tool: _ToolCall | None = None


@dataclass(frozen=True, slots=True)
class _ToolCall:
    """The call the demo makes when a chat request offers tools."""

    id: str
    name: str
    arguments: str

    def fragments(self) -> list[str]:
        """The arguments cut into pieces, as vLLM and TGI stream them."""
        text = self.arguments
        size = max(1, -(-len(text) // 4))
        return [text[at : at + size] for at in range(0, len(text), size)] or [""]


def _int_parameter(parameters: Mapping[str, object], name: str) -> int | None:
    value = parameters.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(
            f"Failed to deserialize the JSON body into the target type: {name}: "
            f"invalid type: {_dumps(value)}, expected u32"
        )
    return value


_ARGUMENT_WORDS = ("Zürich", "Paris", "東京", "celsius", "today", "demo")


def _example(schema: object, prompt: str, byte: int) -> object:
    """A value of the JSON Schema type ``schema`` names (a string otherwise).

    Strings are the first demo word the prompt mentions ("Paris" for "Rain in Paris?"),
    else one picked by ``byte``: the same request always gets the same arguments, on
    every Python version.
    """
    kind = cast("dict[str, object]", schema).get("type") if isinstance(schema, dict) else None
    if kind in ("integer", "number"):
        return 1 + byte % 30
    if kind == "boolean":
        return True
    lowered = prompt.casefold()
    word = next(
        (word for word in _ARGUMENT_WORDS if word.casefold() in lowered),
        _ARGUMENT_WORDS[byte % len(_ARGUMENT_WORDS)],
    )
    return [word] if kind == "array" else word


def _tool_call(document: Mapping[str, Any], prompt: str, seed: int | None) -> _ToolCall | None:
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
        str(key): _example(schema, prompt, digest[16 + index % 16])
        for index, (key, schema) in enumerate(
            cast("dict[object, object]", properties or {}).items()
        )
    }
    return _ToolCall(
        id=f"call_{digest[8:14].hex()}",
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


class DemoLLM:
    """A built-in demo LLM for local endpoints: deterministic text, TGI's wire formats.

    ::

        local.add_endpoint("demo", DemoLLM(tokens_per_second=20))

    It answers the request shapes of the Hugging Face TGI container on SageMaker:

    * ``{"inputs": "...", "parameters": {...}}`` gives ``[{"generated_text": "..."}]``;
      with ``"stream": true`` it streams ``text/event-stream`` events
      ``data: {"index":N,"token":{"id":..,"text":..,"logprob":..,"special":false},
      "generated_text":null,"details":null}``. The last event carries ``generated_text``
      (and ``details`` when ``parameters.details`` is true); when the text ends before
      ``max_new_tokens`` it is the special end token ``</s>`` (``"special":true``).
    * ``{"messages": [...]}`` (the Messages API) gives a ``chat.completion`` document, or
      with ``"stream": true`` ``chat.completion.chunk`` events, a usage chunk when
      ``stream_options.include_usage`` is true, then ``data: [DONE]``. The finish reason is
      ``"stop"`` when the text ends, ``"length"`` at ``max_tokens``. When the request
      carries ``tools`` (and ``tool_choice`` is not ``"none"``), the answer is one call of
      the forced function, else of the first, with arguments made up from its JSON Schema;
      streamed, the arguments arrive in four ``delta.tool_calls`` fragments (id and name on
      the first, as vLLM and TGI send them) and the finish reason is ``"tool_calls"``.

    The text depends only on the prompt (and ``parameters.seed`` or ``seed``): the same
    request always gets the same answer. ``parameters.max_new_tokens`` (``max_tokens`` for
    messages) bounds the tokens; ``default_max_new_tokens`` applies otherwise. Tokens come
    at ``tokens_per_second`` (``None`` or 0: as fast as possible), on every operation.

    Invalid JSON or parameters fail like TGI's 422 validation error (a ``ModelError`` with
    ``OriginalStatusCode`` 422). ``parameters.fail_after_tokens`` (top-level
    ``fail_after_tokens`` for messages) = N fails on purpose after N tokens: a stream ends
    with a ``ModelStreamError`` event coded ``ModelInvocationTimeExceeded``; a request
    answered in one piece fails with a ``ModelError`` (``OriginalStatusCode`` 0, a timeout).
    """

    def __init__(
        self,
        tokens_per_second: float | None = 50.0,
        *,
        default_max_new_tokens: int = 64,
        model_id: str = "typed-sagemaker-runtime/demo-llm",
    ) -> None:
        """Configure the pace, the default token budget and the model id shown in chat answers."""
        if tokens_per_second is not None and tokens_per_second < 0:
            raise ValueError(f"tokens_per_second must be None or >= 0, not {tokens_per_second}")
        if default_max_new_tokens < 1:
            raise ValueError(f"default_max_new_tokens must be >= 1, not {default_max_new_tokens}")
        self._tokens_per_second = tokens_per_second or None
        self._interval = 1.0 / tokens_per_second if tokens_per_second else 0.0
        self._default_max_new_tokens = default_max_new_tokens
        self._model_id = model_id

    @property
    def tokens_per_second(self) -> float | None:
        """The pace of generation; ``None`` when tokens come as fast as possible."""
        return self._tokens_per_second

    def __repr__(self) -> str:
        return f"DemoLLM(tokens_per_second={self.tokens_per_second!r})"

    def generate(
        self, prompt: str, max_new_tokens: int | None = None, seed: int | None = None
    ) -> str:
        """The text the model generates for ``prompt`` (without the end token); no pacing.

        ``max_new_tokens`` defaults to ``default_max_new_tokens``.
        """
        budget = self._default_max_new_tokens if max_new_tokens is None else max_new_tokens
        tokens = self._tokens(prompt, budget, seed)
        return "".join(token.text for token in tokens if not token.special)

    def __call__(self, request: InvocationRequest) -> EndpointResponse:
        """Answer one invocation; see the class docstring."""
        parsed = self._parse(request.body)
        if parsed.tool is not None:
            tokens = self._tool_tokens(parsed.tool, parsed.max_new_tokens)
        else:
            tokens = self._tokens(parsed.prompt, parsed.max_new_tokens, parsed.seed)
        if parsed.stream:
            events = (
                self._chat_events(parsed, tokens)
                if parsed.chat
                else self._tgi_events(parsed, tokens)
            )
            return EndpointResponse(events, content_type="text/event-stream")
        return EndpointResponse(self._document(parsed, tokens), content_type="application/json")

    # --- requests ---------------------------------------------------------------------

    def _parse(self, body: bytes) -> _Request:
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
            max_new = self._default_max_new_tokens
        if max_new <= 0:
            name = "max_tokens" if chat else "max_new_tokens"
            raise _invalid(f"Input validation error: `{name}` must be strictly positive")
        input_length = len(_tokenize(prompt))
        if input_length + max_new > _MAX_TOTAL_TOKENS:
            raise _invalid(
                f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= "
                f"{_MAX_TOTAL_TOKENS}. Given: {input_length} `inputs` tokens and {max_new} "
                "`max_new_tokens`"
            )
        if fail_after is not None and fail_after < 0:
            raise _invalid("Input validation error: `fail_after_tokens` must be >= 0")
        return _Request(
            chat=chat,
            prompt=prompt,
            stream=stream,
            max_new_tokens=max_new,
            seed=seed,
            details=details,
            include_usage=include_usage,
            fail_after_tokens=fail_after,
            model=model if isinstance(model, str) and model else self._model_id,
            tool=tool,
        )

    # --- generation -------------------------------------------------------------------

    def _tokens(self, prompt: str, max_new_tokens: int, seed: int | None) -> list[_Token]:
        """The generated tokens, the end token included when the text ends in budget."""
        digest = hashlib.sha256(f"{seed}\0{prompt}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        sentences = rng.sample(_CORPUS, rng.randint(2, 4))
        words = _tokenize(" ".join(sentences))
        tokens = [
            _Token(
                id=1000 + zlib.crc32(word.encode()) % 31000,
                text=word,
                logprob=-round(rng.random() * 1.5, 8),
                special=False,
            )
            for word in words
        ]
        tokens.append(_Token(_EOS_ID, _EOS_TEXT, -round(rng.random() * 0.1, 8), special=True))
        return tokens[:max_new_tokens]

    @staticmethod
    def _tool_tokens(tool: _ToolCall, max_new_tokens: int) -> list[_Token]:
        """The arguments' fragments as tokens; the end token follows when they fit."""
        tokens = [
            _Token(1000 + zlib.crc32(piece.encode()) % 31000, piece, -0.01, special=False)
            for piece in tool.fragments()
        ]
        tokens.append(_Token(_EOS_ID, _EOS_TEXT, -0.01, special=True))
        return tokens[:max_new_tokens]

    def _paced(self, request: _Request, tokens: list[_Token]) -> Iterator[_Token]:
        """The tokens at the configured pace; fails on purpose after ``fail_after_tokens``."""
        start = time.monotonic()
        for index, token in enumerate(tokens):
            if request.fail_after_tokens is not None and index >= request.fail_after_tokens:
                raise _Interrupted
            if self._interval:
                delay = start + (index + 1) * self._interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield token

    @staticmethod
    def _finish_reason(tokens: list[_Token]) -> str:
        return "eos_token" if tokens and tokens[-1].special else "length"

    def _tgi_events(
        self, request: _Request, tokens: list[_Token]
    ) -> Iterator[bytes | ModelStreamError]:
        generated = "".join(token.text for token in tokens if not token.special)
        try:
            for index, token in enumerate(self._paced(request, tokens), start=1):
                last = index == len(tokens)
                details = None
                if last and request.details:
                    details = {
                        "finish_reason": self._finish_reason(tokens),
                        "generated_tokens": len(tokens),
                        "seed": request.seed,
                        "input_length": len(_tokenize(request.prompt)),
                    }
                yield _sse(
                    {
                        "index": index,
                        "token": token.wire(),
                        "generated_text": generated if last else None,
                        "details": details,
                    }
                )
        except _Interrupted:
            yield ModelStreamError(_STREAM_ERROR_MESSAGE, "ModelInvocationTimeExceeded")

    def _chat_events(
        self, request: _Request, tokens: list[_Token]
    ) -> Iterator[bytes | ModelStreamError]:
        created = int(time.time())
        finish = "stop" if self._finish_reason(tokens) == "eos_token" else "length"
        tool = request.tool
        if tool is not None and finish == "stop":
            finish = "tool_calls"

        def chunk(choices: list[object], usage: object) -> bytes:
            return _sse(
                {
                    "object": "chat.completion.chunk",
                    "id": "",
                    "created": created,
                    "model": request.model,
                    "system_fingerprint": "demo",
                    "choices": choices,
                    "usage": usage,
                }
            )

        try:
            for index, token in enumerate(self._paced(request, tokens), start=1):
                delta: dict[str, object] = {
                    "role": "assistant",
                    "content": "" if token.special else token.text,
                }
                if tool is not None and not token.special:
                    call: dict[str, object] = {"index": 0, "function": {"arguments": token.text}}
                    if index == 1:
                        call = {
                            "index": 0,
                            "id": tool.id,
                            "type": "function",
                            "function": {"name": tool.name, "arguments": token.text},
                        }
                    delta = {"role": "assistant", "tool_calls": [call]}
                choice = {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": finish if index == len(tokens) else None,
                }
                yield chunk([choice], None)
        except _Interrupted:
            yield ModelStreamError(_STREAM_ERROR_MESSAGE, "ModelInvocationTimeExceeded")
            return
        if request.include_usage:
            yield chunk([], self._usage(request, tokens))
        yield b"data: [DONE]\n\n"

    @staticmethod
    def _usage(request: _Request, tokens: list[_Token]) -> dict[str, int]:
        prompt_tokens = len(_tokenize(request.prompt))
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }

    def _document(self, request: _Request, tokens: list[_Token]) -> Iterator[bytes]:
        """A non-streamed answer: produced after every token was generated."""
        try:
            for _ in self._paced(request, tokens):
                pass
        except _Interrupted:
            raise ModelFailure(0, _TIMED_OUT) from None
        text = "".join(token.text for token in tokens if not token.special)
        finish = self._finish_reason(tokens)
        if request.chat:
            message: dict[str, object] = {"role": "assistant", "content": text}
            reason = "stop" if finish == "eos_token" else "length"
            if request.tool is not None:
                call = {
                    "id": request.tool.id,
                    "type": "function",
                    "function": {"name": request.tool.name, "arguments": text},
                }
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                reason = "tool_calls" if reason == "stop" else reason
            yield _dumps(
                {
                    "object": "chat.completion",
                    "id": "",
                    "created": int(time.time()),
                    "model": request.model,
                    "system_fingerprint": "demo",
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": reason,
                        }
                    ],
                    "usage": self._usage(request, tokens),
                }
            ).encode()
            return
        answer: dict[str, object] = {"generated_text": text}
        if request.details:
            answer["details"] = {
                "finish_reason": finish,
                "generated_tokens": len(tokens),
                "seed": request.seed,
                "prefill": [],
                "tokens": [token.wire() for token in tokens],
            }
        yield _dumps([answer]).encode()


class _Interrupted(Exception):
    """``fail_after_tokens`` was reached."""

"""``DemoLLM``: a tiny deterministic text generator that talks like Hugging Face TGI.

The class is the endpoint handler: it reads a request (``_demo_requests``), generates the
tokens (``_demo_text``), paces them, and answers in the API's wire shape (``_demo_wire``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

from .._model import EndpointResponse, InvocationRequest
from ._demo_requests import Request, parse_request
from ._demo_text import Token, generate_tokens, tool_tokens
from ._demo_wire import Interrupted, chat_events, document, tgi_events

__all__ = ["DemoLLM"]


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
      Each answer's call has a fresh id (``call_`` and 24 hex digits), as real servers give.

    The text depends only on the prompt (and ``parameters.seed`` or ``seed``): the same
    request always gets the same answer, tool-call ids apart. ``parameters.max_new_tokens``
    (``max_tokens`` for messages) bounds the tokens; ``default_max_new_tokens`` applies
    otherwise. Tokens come at ``tokens_per_second`` (``None`` or 0: as fast as possible),
    on every operation.

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
        if tokens_per_second is not None and not (
            tokens_per_second == 0 or 1e-6 <= tokens_per_second < math.inf
        ):  # NaN, infinity, and paces whose interval time.sleep() cannot take
            raise ValueError(
                "tokens_per_second must be None, 0 (unpaced) or a finite number >= 1e-06, "
                f"not {tokens_per_second}"
            )
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
        tokens = generate_tokens(prompt, budget, seed)
        return "".join(token.text for token in tokens if not token.special)

    def __call__(self, request: InvocationRequest) -> EndpointResponse:
        """Answer one invocation; see the class docstring."""
        parsed = parse_request(request.body, self._default_max_new_tokens, self._model_id)
        if parsed.tool is not None:
            tokens = tool_tokens(parsed.tool, parsed.max_new_tokens)
        else:
            tokens = generate_tokens(parsed.prompt, parsed.max_new_tokens, parsed.seed)
        paced = self._paced(parsed, tokens)
        if parsed.stream:
            events = (
                chat_events(parsed, tokens, paced)
                if parsed.chat
                else tgi_events(parsed, tokens, paced)
            )
            return EndpointResponse(events, content_type="text/event-stream")
        return EndpointResponse(document(parsed, tokens, paced), content_type="application/json")

    def _paced(self, request: Request, tokens: list[Token]) -> Iterator[Token]:
        """The tokens at the configured pace; fails on purpose after ``fail_after_tokens``."""
        start = time.monotonic()
        for index, token in enumerate(tokens):
            if request.fail_after_tokens is not None and index >= request.fail_after_tokens:
                raise Interrupted
            if self._interval:
                delay = start + (index + 1) * self._interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield token

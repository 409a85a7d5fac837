"""``LLMMethods``: the chat and generate methods of ``SageMakerRuntime``.

The request bodies and the parsing of answers are the sans-I/O ones of ``_llm._chat``,
botocore's parameters those of ``_base._routing``; this sends them through ``_invoke``
and ``_stream`` and records them as GenAI calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from typing_extensions import Unpack

from .._base._routing import Routing, routed_params
from .._telemetry._call_record import CHAT, TEXT_COMPLETION
from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._core._llm_types import ChatMessage, GenerateParameters, Generation, ToolSpec
    from .._llm._chat import ToolChoiceOption
    from ._stream import ResponseStream

__all__ = ["LLMMethods"]


class LLMMethods(ClientCore):
    """``chat``, ``chat_stream``, ``generate`` and ``generate_stream``."""

    def chat(
        self,
        endpoint_name: str,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoiceOption | None = None,
        response_format: Mapping[str, object] | None = None,
        extra_body: Mapping[str, object] | None = None,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> Generation:
        """Send an OpenAI Messages API request (InvokeEndpoint) and return the whole answer.

        For TGI with ``MESSAGES_API_ENABLED``, LMI and vLLM, which take it on
        ``/invocations``. Arguments left ``None`` are not sent; ``extra_body`` is merged
        last (a key set to ``None`` there is removed). The routing arguments are
        :meth:`invoke`'s. Text, tool calls, finish reason and usage come from the
        ``chat.completion`` response; an error document raises ``GenerationError``.
        """
        from .._llm._chat import chat_request

        body = chat_request(
            messages,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            extra_body=extra_body,
            stream=False,
        )
        return self._generation(
            CHAT,
            endpoint_name,
            body,
            custom_attributes=custom_attributes,
            target_variant=target_variant,
            target_container_hostname=target_container_hostname,
            inference_id=inference_id,
            inference_component_name=inference_component_name,
            session_id=session_id,
        )

    def chat_stream(
        self,
        endpoint_name: str,
        messages: Sequence[ChatMessage],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: ToolChoiceOption | None = None,
        response_format: Mapping[str, object] | None = None,
        extra_body: Mapping[str, object] | None = None,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> ResponseStream:
        """Send the request of :meth:`chat`, streamed (InvokeEndpointWithResponseStream).

        The body adds ``"stream": true`` and ``"stream_options": {"include_usage": true}``.
        Read the answer with ``chunks()``, ``tokens()`` or ``generation()``.
        """
        from .._llm._chat import chat_request

        body = chat_request(
            messages,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            tools=tools,
            tool_choice=tool_choice,
            response_format=response_format,
            extra_body=extra_body,
            stream=True,
        )
        return self._generation_stream(
            CHAT,
            endpoint_name,
            body,
            custom_attributes=custom_attributes,
            target_variant=target_variant,
            target_container_hostname=target_container_hostname,
            inference_id=inference_id,
            inference_component_name=inference_component_name,
            session_id=session_id,
        )

    def generate(
        self,
        endpoint_name: str,
        prompt: str,
        *,
        parameters: GenerateParameters | None = None,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> Generation:
        """Send a TGI/LMI ``{"inputs", "parameters"}`` request (InvokeEndpoint); return the answer.

        ``"details": true`` is added to the parameters unless given, so the answer has its
        finish reason and token count. The response may be ``[{"generated_text": ...}]``
        or ``{"generated_text": ...}``; ``None`` parameters are not sent.
        """
        from .._llm._chat import generate_request

        return self._generation(
            TEXT_COMPLETION,
            endpoint_name,
            generate_request(prompt, parameters, stream=False),
            custom_attributes=custom_attributes,
            target_variant=target_variant,
            target_container_hostname=target_container_hostname,
            inference_id=inference_id,
            inference_component_name=inference_component_name,
            session_id=session_id,
        )

    def generate_stream(
        self,
        endpoint_name: str,
        prompt: str,
        *,
        parameters: GenerateParameters | None = None,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> ResponseStream:
        """Send the request of :meth:`generate` with ``"stream": true``, streamed."""
        from .._llm._chat import generate_request

        return self._generation_stream(
            TEXT_COMPLETION,
            endpoint_name,
            generate_request(prompt, parameters, stream=True),
            custom_attributes=custom_attributes,
            target_variant=target_variant,
            target_container_hostname=target_container_hostname,
            inference_id=inference_id,
            inference_component_name=inference_component_name,
            session_id=session_id,
        )

    def _generation(
        self, kind: str, endpoint_name: str, body: dict[str, object], **routing: Unpack[Routing]
    ) -> Generation:
        """Send ``body`` through InvokeEndpoint and parse the answer into a ``Generation``."""
        from .._llm._chat import parse_generation

        params = routed_params(
            self._operation_model("InvokeEndpoint"), endpoint_name, body, routing
        )
        with self._telemetry.start(
            kind,
            endpoint_name,
            self._client,
            component=routing["inference_component_name"],
            request=body,
        ) as call:
            started = time.monotonic()
            result = self._invoke(params, call)
            generation = parse_generation(result, started=started, ended=time.monotonic())
            call.generation(generation, result["body"])
            return generation

    def _generation_stream(
        self, kind: str, endpoint_name: str, body: dict[str, object], **routing: Unpack[Routing]
    ) -> ResponseStream:
        """Send ``body`` through InvokeEndpointWithResponseStream; return the stream."""
        params = routed_params(
            self._operation_model("InvokeEndpointWithResponseStream"), endpoint_name, body, routing
        )
        with self._telemetry.start(
            kind,
            endpoint_name,
            self._client,
            stream=True,
            component=routing["inference_component_name"],
            request=body,
        ) as call:
            return self._stream(params, call)

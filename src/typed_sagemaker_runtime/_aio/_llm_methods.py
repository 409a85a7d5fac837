"""``LLMMethods``: the chat and generate methods of ``AsyncSageMakerRuntime``.

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
from ._stream_request import stream_request

if TYPE_CHECKING:
    from .._core._llm_types import ChatMessage, GenerateParameters, Generation, ToolSpec
    from .._llm._chat import ToolChoiceOption
    from ._stream import AsyncResponseStream

__all__ = ["LLMMethods"]


class LLMMethods(ClientCore):
    """``chat``, ``chat_stream``, ``generate`` and ``generate_stream``."""

    async def chat(
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
        """Send a chat request and return the whole answer (see ``SageMakerRuntime.chat``)."""
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
        return await self._generation(
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

    @stream_request
    async def chat_stream(
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
    ) -> AsyncResponseStream:
        """Send a streaming chat request (see ``SageMakerRuntime.chat_stream``).

        ``async with smr.chat_stream(...) as stream:`` or ``await``
        (see ``AsyncStreamRequest``).
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
        return await self._generation_stream(
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

    async def generate(
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
        """Send a TGI/LMI generate request (see ``SageMakerRuntime.generate``)."""
        from .._llm._chat import generate_request

        return await self._generation(
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

    @stream_request
    async def generate_stream(
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
    ) -> AsyncResponseStream:
        """Send a streaming generate request (see ``SageMakerRuntime.generate_stream``).

        ``async with smr.generate_stream(...) as stream:`` or ``await``
        (see ``AsyncStreamRequest``).
        """
        from .._llm._chat import generate_request

        return await self._generation_stream(
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

    async def _generation(
        self, kind: str, endpoint_name: str, body: dict[str, object], **routing: Unpack[Routing]
    ) -> Generation:
        """Send ``body`` through InvokeEndpoint and parse the answer into a ``Generation``."""
        from .._llm._chat import parse_generation

        params = routed_params(
            await self._operation_model("InvokeEndpoint"), endpoint_name, body, routing
        )
        with self._telemetry.start(
            kind,
            endpoint_name,
            self._client,
            component=routing["inference_component_name"],
            request=body,
        ) as call:
            started = time.monotonic()
            result = await self._invoke(params, call)
            generation = parse_generation(result, started=started, ended=time.monotonic())
            call.generation(generation, result["body"])
            return generation

    async def _generation_stream(
        self, kind: str, endpoint_name: str, body: dict[str, object], **routing: Unpack[Routing]
    ) -> AsyncResponseStream:
        """Send ``body`` through InvokeEndpointWithResponseStream; return the stream."""
        params = routed_params(
            await self._operation_model("InvokeEndpointWithResponseStream"),
            endpoint_name,
            body,
            routing,
        )
        with self._telemetry.start(
            kind,
            endpoint_name,
            self._client,
            stream=True,
            component=routing["inference_component_name"],
            request=body,
        ) as call:
            return await self._stream(params, call)

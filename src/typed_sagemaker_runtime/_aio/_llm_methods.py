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
        """Send an OpenAI Messages API request (InvokeEndpoint) and return the whole answer.

        For TGI with ``MESSAGES_API_ENABLED``, LMI and vLLM, which take it on
        ``/invocations``. Arguments left ``None`` are not sent; the messages and options
        are validated before anything is sent. Text, tool calls, finish reason and usage
        come from the ``chat.completion`` response::

            answer = await smr.chat("my-llm", [{"role": "user", "content": "Hi"}], max_tokens=64)
            print(answer.text, answer.finish_reason, answer.usage)

        Args:
            endpoint_name: The endpoint's name.
            messages: The conversation, oldest message first (at least one): each a
                :class:`ChatMessage` with a ``role`` and its ``content`` (text or parts),
                ``tool_calls`` on an assistant's turn, ``tool_call_id`` on a tool's answer.
            model: The model name, for servers that ask for one in the request.
            max_tokens: The most tokens to generate (at least 1).
            temperature: The sampling temperature (0 or more; 0 is greedy).
            top_p: Nucleus sampling: the probability mass to sample from (above 0, at most 1).
            stop: A string, or a list of strings, that ends the answer when generated.
            seed: The sampling seed, for repeatable answers where the server supports it.
            tools: The functions the model may call (:class:`ToolSpec`); its calls come
                back in the answer's ``tool_calls``.
            tool_choice: ``"none"``, ``"auto"``, ``"required"``, or a
                :class:`ToolChoice` that names the function to call.
            response_format: The server's structured-output option, sent as given
                (e.g. ``{"type": "json_object"}``).
            extra_body: More request members, merged into the body last (a key set to
                ``None`` there removes it), for options this method does not name.
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            target_variant: The production variant to invoke, instead of the endpoint's
                traffic split.
            target_container_hostname: On a multi-container endpoint with direct
                invocation, the container to invoke.
            inference_id: An identifier of the request, kept with the data that model
                monitoring captures.
            inference_component_name: On an endpoint that hosts inference components,
                the component to invoke.
            session_id: A stateful session: ``"NEW_SESSION"`` opens one, the id of an open
                session sends the request to the same instance.

        Returns:
            The answer: its text, finish reason (``"length"`` when ``max_tokens`` cut it,
            ``"tool_calls"`` when the model called tools), token usage and tool calls,
            with the call's duration.

        Raises:
            GenerationError: The server answered with an error document (with HTTP 200).
            StreamDecodeError: The answer is not one this API defines (not JSON, or
                JSON without the expected members): the endpoint probably does not serve it.
            ClientValidationError: An argument was rejected; nothing was sent.
            CredentialsError: No usable AWS credentials were found; nothing was sent.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            ModelError: The model container answered with an error or not at all (424).
            ServiceError: Any other error SageMaker answered with, once the retry policy
                gives up: :class:`ValidationError` (400), :class:`ThrottlingError`,
                :class:`ModelNotReadyError`, :class:`InternalFailureError`, ...
            TransportError: The connection failed (refused, reset, DNS, TLS);
                :class:`TimeoutError` for a timeout. A read timeout is not retried unless the
                policy says so: the model may still be running.
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
        """Send the request of :meth:`chat`, streamed (InvokeEndpointWithResponseStream).

        The body adds ``"stream": true`` and ``"stream_options": {"include_usage": true}``.
        Read the answer inside ``async with`` with ``chunks()`` (text, finish reason,
        usage and tool-call fragments as they arrive), ``tokens()`` (the text alone) or
        ``generation()`` (the whole answer, tool calls assembled).

        Args:
            endpoint_name: The endpoint's name.
            messages: The conversation, oldest message first (at least one): each a
                :class:`ChatMessage` with a ``role`` and its ``content`` (text or parts),
                ``tool_calls`` on an assistant's turn, ``tool_call_id`` on a tool's answer.
            model: The model name, for servers that ask for one in the request.
            max_tokens: The most tokens to generate (at least 1).
            temperature: The sampling temperature (0 or more; 0 is greedy).
            top_p: Nucleus sampling: the probability mass to sample from (above 0, at most 1).
            stop: A string, or a list of strings, that ends the answer when generated.
            seed: The sampling seed, for repeatable answers where the server supports it.
            tools: The functions the model may call (:class:`ToolSpec`); its calls come
                back in the answer's ``tool_calls``.
            tool_choice: ``"none"``, ``"auto"``, ``"required"``, or a
                :class:`ToolChoice` that names the function to call.
            response_format: The server's structured-output option, sent as given
                (e.g. ``{"type": "json_object"}``).
            extra_body: More request members, merged into the body last (a key set to
                ``None`` there removes it), for options this method does not name.
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            target_variant: The production variant to invoke, instead of the endpoint's
                traffic split.
            target_container_hostname: On a multi-container endpoint with direct
                invocation, the container to invoke.
            inference_id: An identifier of the request, kept with the data that model
                monitoring captures.
            inference_component_name: On an endpoint that hosts inference components,
                the component to invoke.
            session_id: A stateful session: ``"NEW_SESSION"`` opens one, the id of an open
                session sends the request to the same instance.

        Returns:
            An :class:`AsyncStreamRequest`, as :meth:`stream` returns it: enter it with
            ``async with`` or await it for the open stream. Errors in the middle of the
            stream (an error event, an error record, a corrupt frame) raise while it is
            read.

        Raises:
            ClientValidationError: An argument was rejected; nothing was sent.
            CredentialsError: No usable AWS credentials were found; nothing was sent.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            ModelError: The model container answered with an error or not at all (424).
            ServiceError: Any other error SageMaker answered with, once the retry policy
                gives up: :class:`ValidationError` (400), :class:`ThrottlingError`,
                :class:`ModelNotReadyError`, :class:`InternalFailureError`, ...
            TransportError: The connection failed (refused, reset, DNS, TLS);
                :class:`TimeoutError` for a timeout. A read timeout is not retried unless the
                policy says so: the model may still be running.
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
        """Send a TGI/LMI ``{"inputs", "parameters"}`` request (InvokeEndpoint); return the answer.

        ``"details": true`` is added to the parameters unless given, so the answer has its
        finish reason and token count. The response may be ``[{"generated_text": ...}]``
        or ``{"generated_text": ...}``.

        Args:
            endpoint_name: The endpoint's name.
            prompt: The text to complete, sent as ``inputs``.
            parameters: The generation parameters (:class:`GenerateParameters`:
                ``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ...); ``None``
                values are not sent.
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            target_variant: The production variant to invoke, instead of the endpoint's
                traffic split.
            target_container_hostname: On a multi-container endpoint with direct
                invocation, the container to invoke.
            inference_id: An identifier of the request, kept with the data that model
                monitoring captures.
            inference_component_name: On an endpoint that hosts inference components,
                the component to invoke.
            session_id: A stateful session: ``"NEW_SESSION"`` opens one, the id of an open
                session sends the request to the same instance.

        Returns:
            The answer: its text, finish reason and token usage when the server sent
            them (TGI's ``details``), with the call's duration.

        Raises:
            GenerationError: The server answered with an error document (with HTTP 200).
            StreamDecodeError: The answer is not one this API defines (not JSON, or
                JSON without the expected members): the endpoint probably does not serve it.
            ClientValidationError: An argument was rejected; nothing was sent.
            CredentialsError: No usable AWS credentials were found; nothing was sent.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            ModelError: The model container answered with an error or not at all (424).
            ServiceError: Any other error SageMaker answered with, once the retry policy
                gives up: :class:`ValidationError` (400), :class:`ThrottlingError`,
                :class:`ModelNotReadyError`, :class:`InternalFailureError`, ...
            TransportError: The connection failed (refused, reset, DNS, TLS);
                :class:`TimeoutError` for a timeout. A read timeout is not retried unless the
                policy says so: the model may still be running.
        """
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
        """Send the request of :meth:`generate` with ``"stream": true``, streamed.

        Read the result inside ``async with`` with ``tokens()``,
        ``chunks()`` or ``generation()``, as for :meth:`chat_stream`.

        Args:
            endpoint_name: The endpoint's name.
            prompt: The text to complete, sent as ``inputs``.
            parameters: The generation parameters (:class:`GenerateParameters`:
                ``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ...); ``None``
                values are not sent.
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            target_variant: The production variant to invoke, instead of the endpoint's
                traffic split.
            target_container_hostname: On a multi-container endpoint with direct
                invocation, the container to invoke.
            inference_id: An identifier of the request, kept with the data that model
                monitoring captures.
            inference_component_name: On an endpoint that hosts inference components,
                the component to invoke.
            session_id: A stateful session: ``"NEW_SESSION"`` opens one, the id of an open
                session sends the request to the same instance.

        Returns:
            An :class:`AsyncStreamRequest`, as :meth:`stream` returns it: enter it with
            ``async with`` or await it for the open stream.

        Raises:
            ClientValidationError: An argument was rejected; nothing was sent.
            CredentialsError: No usable AWS credentials were found; nothing was sent.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            ModelError: The model container answered with an error or not at all (424).
            ServiceError: Any other error SageMaker answered with, once the retry policy
                gives up: :class:`ValidationError` (400), :class:`ThrottlingError`,
                :class:`ModelNotReadyError`, :class:`InternalFailureError`, ...
            TransportError: The connection failed (refused, reset, DNS, TLS);
                :class:`TimeoutError` for a timeout. A read timeout is not retried unless the
                policy says so: the model may still be running.
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
            generation = parse_generation(
                result, started=started, ended=time.monotonic(), kind=kind
            )
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

"""``AsyncSageMakerRuntime``: the asyncio client, on aiobotocore (the ``aio`` extra).

The class is composed of its concerns, as its synchronous twin is: ``_client_core``
(state, construction, the call loop), ``_async_inference_methods`` (InvokeEndpointAsync
and its results in S3), ``_llm_methods`` (chat and generate) and ``_bidi_methods``
(bidirectional streams). This module adds the lifecycle and the two operations every
endpoint has, ``invoke`` and ``stream``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import Self, override

from .._core._params import build_params
from .._core._public import adopt_methods, public
from .._core._retry import RetryPolicy
from .._core._types import Body, InvokeResult
from .._telemetry._call_record import INVOKE
from ._async_inference_methods import AsyncInferenceMethods
from ._bidi_methods import BidiMethods
from ._bulk_methods import BulkMethods
from ._client_core import AIO_EXTRA_HINT
from ._llm_methods import LLMMethods
from ._stream_request import stream_request

if TYPE_CHECKING:
    from types_aiobotocore_sagemaker_runtime.client import SageMakerRuntimeClient

    from ._stream import AsyncResponseStream

__all__ = ["AsyncSageMakerRuntime", "AIO_EXTRA_HINT"]


@public
@adopt_methods
class AsyncSageMakerRuntime(LLMMethods, AsyncInferenceMethods, BidiMethods, BulkMethods):
    """The asyncio twin of :class:`SageMakerRuntime`, on aiobotocore (extra ``aio``).

    The same constructor options and methods, as coroutines::

        async with AsyncSageMakerRuntime(region_name="us-east-1") as smr:
            result = await smr.invoke("ep", b"...")
            async with smr.stream("ep", json={"inputs": "hi"}) as stream:
                async for token in stream.tokens():
                    ...

    ``async with`` creates the aiobotocore client and closes it on exit. Without it, the
    client is created on first use; ``await smr.aclose()`` closes it. A client passed as
    ``client=`` (an entered aiobotocore client) is used as it is and never closed.

    Args:
        client: An entered aiobotocore ``sagemaker-runtime`` client to wrap, used as
            it is and never closed. Not with ``session``, ``region_name``,
            ``endpoint_url`` or ``config``.
        session: The ``aiobotocore.session.AioSession`` to create the client from
            (profile, credentials); default: aiobotocore's default session.
        region_name: The AWS region; default: the session's.
        endpoint_url: The SageMaker Runtime URL, e.g. a local endpoint's; default:
            aiobotocore's (which honours ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``).
        config: A botocore or aiobotocore ``Config`` (timeouts, pool size, HTTP
            backend); the attempt count of its ``retries`` is honoured when ``retry``
            is not given.
        retry: The retry policy of every call. Default: ``RetryPolicy()`` for a
            client the facade creates, no retries for a client passed in.
        s3_endpoint_url: Where the S3 client of :meth:`wait_for_async_result` and
            :meth:`invoke_async_upload` connects (default: aiobotocore's, which
            honours ``AWS_ENDPOINT_URL_S3``), or a function returning the URL, called
            when an S3 client is first needed.
        bidi_endpoint_url: Where :meth:`bidi_stream` connects (an ``https://`` URL),
            instead of the region's ``:8443`` endpoint; default: the
            ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2`` environment variable, if set.
        instrument: With OpenTelemetry installed and configured, each call records a
            span and the GenAI client metrics (see the telemetry guide); ``False``
            switches that off.
        tracer_provider: The OpenTelemetry tracer provider to use instead of the
            global one.
        meter_provider: The OpenTelemetry meter provider to use instead of the global
            one.

    Raises:
        ImportError: aiobotocore is not installed; the message names the ``aio``
            extra.
        ClientValidationError: ``client`` was combined with an option that only
            creates a client. A missing region or unusable credentials raise when the
            client is created (``async with`` or the first call).
    """

    @property
    def client(self) -> SageMakerRuntimeClient:
        """The underlying aiobotocore client; created by ``async with`` or the first call."""
        if self._client is None:
            raise RuntimeError(
                "the aiobotocore client is created by `async with AsyncSageMakerRuntime()` "
                "or by the first call"
            )
        return self._client

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._retry

    @override
    def __repr__(self) -> str:
        if self._client is None:
            region, url = self._region_name, self._endpoint_url
        else:
            region, url = self._client.meta.region_name, self._client.meta.endpoint_url
        return f"<AsyncSageMakerRuntime region={region!r} endpoint_url={url!r}>"

    async def __aenter__(self) -> Self:
        await self._ensure_client()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the aiobotocore client the facade created (not one passed in). Idempotent."""
        if not self._owns_client:
            return
        self._closed = True
        exit_stack, self._exit = self._exit, None
        self._client = None
        if exit_stack is not None:
            await exit_stack.aclose()

    async def invoke(
        self,
        endpoint_name: str,
        body: Body | None = None,
        *,
        json: object = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        enable_explanations: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> InvokeResult:
        """Call InvokeEndpoint and return the whole response, body read and connection released.

        Pass the payload as ``body`` or as ``json``. Every argument is validated before
        anything is sent, and ``None`` arguments are not sent. Retryable failures are
        retried under the client's :class:`RetryPolicy`.

        Args:
            endpoint_name: The endpoint's name.
            body: The payload: ``bytes``, ``bytearray``, ``memoryview``, ``str`` (sent as
                UTF-8) or a binary file open for reading. Not with ``json``.
            json: Any JSON-serialisable value, sent as compact UTF-8 JSON (no NaN or
                infinity); sets ``content_type`` to ``application/json`` unless given. Not
                with ``body``.
            content_type: The MIME type of the payload (``Content-Type``).
            accept: The MIME type wanted in the response (``Accept``).
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            target_model: On a multi-model endpoint, the model to invoke: its artifact's
                path under the endpoint's S3 prefix.
            target_variant: The production variant to invoke, instead of the endpoint's
                traffic split.
            target_container_hostname: On a multi-container endpoint with direct
                invocation, the container to invoke.
            inference_id: An identifier of the request, kept with the data that model
                monitoring captures.
            enable_explanations: On an endpoint with SageMaker Clarify online
                explainability, a JMESPath expression that replaces the endpoint's
                ``EnableExplanations`` (which records to explain).
            inference_component_name: On an endpoint that hosts inference components,
                the component to invoke.
            session_id: A stateful session: ``"NEW_SESSION"`` opens one, the id of an open
                session sends the request to the same instance.

        Returns:
            The response: its body (``bytes``), content type, invoked production variant,
            custom attributes, session ids and response metadata. Every key is present,
            ``None`` when SageMaker sent nothing.

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
        params = build_params(
            await self._operation_model("InvokeEndpoint"),
            {
                "endpoint_name": endpoint_name,
                "body": body,
                "json": json,
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "target_model": target_model,
                "target_variant": target_variant,
                "target_container_hostname": target_container_hostname,
                "inference_id": inference_id,
                "enable_explanations": enable_explanations,
                "inference_component_name": inference_component_name,
                "session_id": session_id,
            },
        )
        with self._telemetry.start(
            INVOKE, endpoint_name, self._client, component=inference_component_name
        ) as call:
            return await self._invoke(params, call)

    @stream_request
    async def stream(
        self,
        endpoint_name: str,
        body: Body | None = None,
        *,
        json: object = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> AsyncResponseStream:
        """Call InvokeEndpointWithResponseStream; read the result inside ``async with``.

        Errors before the first event (HTTP errors) raise here and are retried by the
        policy; errors in the middle of the stream raise while iterating, never retried.

        Args:
            endpoint_name: The endpoint's name.
            body: The payload: ``bytes``, ``bytearray``, ``memoryview``, ``str`` (sent as
                UTF-8) or a binary file open for reading. Not with ``json``.
            json: Any JSON-serialisable value, sent as compact UTF-8 JSON (no NaN or
                infinity); sets ``content_type`` to ``application/json`` unless given. Not
                with ``body``.
            content_type: The MIME type of the payload (``Content-Type``).
            accept: The MIME type wanted in the response (``Accept``).
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
            An :class:`AsyncStreamRequest`: ``async with smr.stream(...) as stream:``
            sends the request and gives the open stream, ``await smr.stream(...)`` gives
            it too (then read it inside ``async with stream:``). Iterate over its typed
            events with ``async for``, or read it with a helper (``payloads()``,
            ``text()``, ``lines()``, ``sse()``, ``tokens()``, ``chunks()``,
            ``generation()``); leaving the ``async with`` block releases the connection,
            closing it if the stream was not read to its end. Nothing is sent until the
            request is awaited or entered.

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
        params = build_params(
            await self._operation_model("InvokeEndpointWithResponseStream"),
            {
                "endpoint_name": endpoint_name,
                "body": body,
                "json": json,
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "target_variant": target_variant,
                "target_container_hostname": target_container_hostname,
                "inference_id": inference_id,
                "inference_component_name": inference_component_name,
                "session_id": session_id,
            },
        )
        with self._telemetry.start(
            INVOKE, endpoint_name, self._client, stream=True, component=inference_component_name
        ) as call:
            return await self._stream(params, call)

"""``AsyncSageMakerRuntime``: the asyncio client, on aiobotocore (the ``aio`` extra).

The class is composed of its concerns, as its synchronous twin is: ``_client_core``
(state, construction, the call loop), ``_async_inference_methods`` (InvokeEndpointAsync
and its results in S3) and ``_llm_methods`` (chat and generate). This module adds the
lifecycle and the two operations every endpoint has, ``invoke`` and ``stream``.
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
from ._client_core import AIO_EXTRA_HINT
from ._llm_methods import LLMMethods
from ._stream_request import stream_request

if TYPE_CHECKING:
    from types_aiobotocore_sagemaker_runtime.client import SageMakerRuntimeClient

    from ._stream import AsyncResponseStream

__all__ = ["AsyncSageMakerRuntime", "AIO_EXTRA_HINT"]


@public
@adopt_methods
class AsyncSageMakerRuntime(LLMMethods, AsyncInferenceMethods):
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
    ``session`` is an ``aiobotocore.session.AioSession``.

    Raises ``ImportError`` naming the ``aio`` extra when aiobotocore is not installed.
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
        """Call InvokeEndpoint and return the whole response (see ``SageMakerRuntime.invoke``)."""
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
        """Call InvokeEndpointWithResponseStream; use the result with ``async with``.

        Returns an :class:`AsyncStreamRequest`: ``async with smr.stream(...) as stream:``
        sends the request and closes the stream on exit; ``await`` gives the stream.

        Errors before the first event raise here and are retried by the policy; errors in
        the middle of the stream raise while iterating, never retried.
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

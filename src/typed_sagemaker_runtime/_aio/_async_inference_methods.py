"""``AsyncInferenceMethods``: SageMaker asynchronous inference on ``AsyncSageMakerRuntime``.

InvokeEndpointAsync (with an S3 input, an inline body, or a body uploaded first) and the
wait for its result in S3, as coroutines ("async" is SageMaker's asynchronous inference
here, not asyncio). The S3 polling, uploads and downloads are in ``_async_inference``;
this adds the methods and the aiobotocore S3 client they use.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from .._core._params import build_params
from .._core._results import invoke_async_result
from .._core._types import AsyncOutput, Body, InvokeAsyncResult
from .._telemetry._call_record import INVOKE_ASYNC
from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._base._async_inference import Destination, Progress
    from ._async_inference import AioS3ClientLike

__all__ = ["AsyncInferenceMethods"]


class AsyncInferenceMethods(ClientCore):
    """``invoke_async``, ``invoke_async_upload`` and ``wait_for_async_result``."""

    async def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str | None = None,
        body: Body | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
        request_ttl_seconds: int | None = None,
        invocation_timeout_seconds: int | None = None,
        s3_output_path_extension: str | None = None,
        filename: str | None = None,
    ) -> InvokeAsyncResult:
        """Call InvokeEndpointAsync (see ``SageMakerRuntime.invoke_async``)."""
        params = build_params(
            await self._operation_model("InvokeEndpointAsync"),
            {
                "endpoint_name": endpoint_name,
                "input_location": input_location,
                "body": body,
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "inference_id": inference_id,
                "request_ttl_seconds": request_ttl_seconds,
                "invocation_timeout_seconds": invocation_timeout_seconds,
                "s3_output_path_extension": s3_output_path_extension,
                "filename": filename,
            },
        )
        return await self._invoke_async(endpoint_name, params)

    async def invoke_async_upload(
        self,
        endpoint_name: str,
        body: Body,
        *,
        s3_prefix: str,
        s3_client: AioS3ClientLike | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
        request_ttl_seconds: int | None = None,
        invocation_timeout_seconds: int | None = None,
        s3_output_path_extension: str | None = None,
        filename: str | None = None,
    ) -> InvokeAsyncResult:
        """Upload ``body`` under ``s3_prefix``, then call InvokeEndpointAsync with its location.

        See ``SageMakerRuntime.invoke_async_upload``; ``s3_client`` is an aiobotocore S3
        client.
        """
        from .._core._async_inference import upload_uri
        from ._async_inference import upload

        location = upload_uri(s3_prefix, str(uuid.uuid4()))
        params = build_params(
            await self._operation_model("InvokeEndpointAsync"),
            {
                "endpoint_name": endpoint_name,
                "input_location": str(location),
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "inference_id": inference_id,
                "request_ttl_seconds": request_ttl_seconds,
                "invocation_timeout_seconds": invocation_timeout_seconds,
                "s3_output_path_extension": s3_output_path_extension,
                "filename": filename,
            },
        )
        async with self._s3(s3_client, None) as s3:
            await upload(s3, location, body, content_type=content_type)
        return await self._invoke_async(endpoint_name, params)

    async def wait_for_async_result(
        self,
        job: InvokeAsyncResult,
        *,
        timeout: float | None = 900.0,
        poll_interval: float = 5.0,
        s3_client: AioS3ClientLike | None = None,
        s3_endpoint_url: str | None = None,
        dest: Destination | None = None,
        progress: Progress | None = None,
    ) -> AsyncOutput:
        """Wait until the output or the failure object of an async inference exists.

        The same schedule, results and errors as ``SageMakerRuntime.wait_for_async_result``,
        in one coroutine that sleeps with ``asyncio.sleep``: cancelling it stops the wait
        at once, and nothing keeps polling afterwards. ``s3_client`` is an aiobotocore S3
        client, used as given; otherwise one is created for the call and closed.
        """
        from ._async_inference import wait_for_result

        async with self._s3(s3_client, s3_endpoint_url) as s3:
            return await wait_for_result(
                s3,
                job,
                timeout=timeout,
                poll_interval=poll_interval,
                dest=dest,
                progress=progress,
            )

    async def _invoke_async(self, endpoint_name: str, params: dict[str, Any]) -> InvokeAsyncResult:
        """Call InvokeEndpointAsync with validated ``params``."""
        with self._telemetry.start(INVOKE_ASYNC, endpoint_name, self._client) as call:
            response, retries = await self._call("InvokeEndpointAsync", params, call)
            result = invoke_async_result(response, retries)
            call.responded(result["response_metadata"]["request_id"], None)
            return result

    @contextlib.asynccontextmanager
    async def _s3(
        self, s3_client: AioS3ClientLike | None, endpoint_url: str | None
    ) -> AsyncGenerator[AioS3ClientLike, None]:
        """The caller's S3 client, or one created for the call and closed after it."""
        if s3_client is not None:
            yield s3_client
            return
        from aiobotocore.session import get_session

        from .._base._async_inference import S3_RETRIES

        if endpoint_url is None:
            endpoint = self._s3_endpoint
            endpoint_url = endpoint() if callable(endpoint) else endpoint
        meta = (await self._ensure_client()).meta
        session: Any = self._session if self._session is not None else get_session()
        config = meta.config.merge(S3_RETRIES)
        async with session.create_client(
            "s3", region_name=meta.region_name, endpoint_url=endpoint_url, config=config
        ) as built:
            yield built

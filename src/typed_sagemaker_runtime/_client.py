"""``SageMakerRuntime``: the synchronous client."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import NoRegionError

from ._config import SERVICE_NAME, check_construction, facade_config, install_hooks, resolve_retry
from ._errors import map_exception
from ._exceptions import ClientValidationError
from ._params import build_params
from ._results import invoke_async_result, invoke_result, stream_metadata
from ._retry import RetryPolicy
from ._streaming import ResponseStream
from ._types import Body, InvokeAsyncResult, InvokeResult, Operation

if TYPE_CHECKING:
    from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

__all__ = ["SageMakerRuntime"]

logger = logging.getLogger("typed_sagemaker_runtime")

_METHODS: Mapping[Operation, str] = {
    "InvokeEndpoint": "invoke_endpoint",
    "InvokeEndpointAsync": "invoke_endpoint_async",
    "InvokeEndpointWithResponseStream": "invoke_endpoint_with_response_stream",
}


class SageMakerRuntime:
    """A typed client for SageMaker Runtime: ``invoke``, ``invoke_async`` and ``stream``.

    Build it from boto3's defaults, a ``boto3.Session``, or wrap an existing client::

        smr = SageMakerRuntime(region_name="eu-west-1")
        smr = SageMakerRuntime(session=boto3.Session(profile_name="ml"))
        smr = SageMakerRuntime(client=boto3.client("sagemaker-runtime"))

    Retries follow ``retry`` (see :class:`RetryPolicy`); botocore's own retries are
    switched off in clients the facade builds. A client passed in keeps its own retry
    configuration and gets no facade retries unless ``retry`` is given.
    """

    def __init__(
        self,
        *,
        client: SageMakerRuntimeClient | None = None,
        session: boto3.session.Session | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        check_construction(
            client,
            session=session,
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=config,
        )
        if client is None:
            factory: Any = session if session is not None else boto3
            try:
                client = factory.client(
                    SERVICE_NAME,
                    region_name=region_name,
                    endpoint_url=endpoint_url,
                    config=facade_config(config),
                )
            except NoRegionError as exc:
                raise ClientValidationError(
                    "region_name: no AWS region configured; pass region_name= or set "
                    "AWS_DEFAULT_REGION",
                    field="region_name",
                ) from exc
            self._owns_client = True
        else:
            self._owns_client = False
        assert client is not None
        install_hooks(client.meta.events)
        self._client: SageMakerRuntimeClient = client
        self._retry = resolve_retry(retry, config, wrapped_client=not self._owns_client)
        self._read_timeout: float | None = getattr(client.meta.config, "read_timeout", None)

    @property
    def client(self) -> SageMakerRuntimeClient:
        """The underlying boto3 ``sagemaker-runtime`` client."""
        return self._client

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._retry

    def __repr__(self) -> str:
        meta = self._client.meta
        return f"<SageMakerRuntime region={meta.region_name!r} endpoint_url={meta.endpoint_url!r}>"

    def __enter__(self) -> SageMakerRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool of a client the facade built (not one passed in)."""
        if self._owns_client:
            self._client.close()

    def invoke(
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

        Pass the payload as ``body`` (bytes, ``str``, or a binary file) or as ``json``
        (any JSON-serialisable value; sets ``content_type="application/json"`` unless given).
        """
        params = build_params(
            self._operation_model("InvokeEndpoint"),
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
        response, retries = self._call("InvokeEndpoint", params)
        streaming_body = response["Body"]
        try:
            data = streaming_body.read()
        except Exception as exc:
            mapped = map_exception(exc, operation="InvokeEndpoint", read_timeout=self._read_timeout)
            if mapped is None:
                raise
            mapped.request_id = response["ResponseMetadata"].get("RequestId")
            raise mapped from exc
        finally:
            streaming_body.close()
        return invoke_result(response, data, retries)

    def invoke_async(
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
    ) -> InvokeAsyncResult:
        """Call InvokeEndpointAsync with an S3 ``input_location`` or an inline ``body``.

        Returns where SageMaker will write the output or the failure.
        """
        params = build_params(
            self._operation_model("InvokeEndpointAsync"),
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
            },
        )
        response, retries = self._call("InvokeEndpointAsync", params)
        return invoke_async_result(response, retries)

    def stream(
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
    ) -> ResponseStream:
        """Call InvokeEndpointWithResponseStream; use the result as a context manager.

        Errors before the first event (HTTP errors) raise here and are retried by the
        policy; errors in the middle of the stream raise while iterating, never retried.
        """
        params = build_params(
            self._operation_model("InvokeEndpointWithResponseStream"),
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
        response, retries = self._call("InvokeEndpointWithResponseStream", params)
        raw = response["Body"]._raw_stream  # botocore's EventStream keeps the urllib3 response
        return ResponseStream(
            raw, stream_metadata(response, retries), read_timeout=self._read_timeout
        )

    # --- internals ----------------------------------------------------------------

    def _operation_model(self, operation: Operation) -> Any:
        return self._client.meta.service_model.operation_model(operation)

    def _call(self, operation: Operation, params: dict[str, Any]) -> tuple[Any, int]:
        """Call botocore under the retry policy; return the response and the retry count."""
        method = getattr(self._client, _METHODS[operation])
        body: Any = params.get("Body")
        start = _tell(body)
        attempt = 1
        while True:
            try:
                return method(**params), attempt - 1
            except Exception as exc:
                mapped = map_exception(exc, operation=operation, read_timeout=self._read_timeout)
                if mapped is None:
                    raise
                replayable = start is not None or not callable(getattr(body, "read", None))
                if not (replayable and self._retry.should_retry(mapped, attempt)):
                    raise mapped from exc
                delay = self._retry.backoff(mapped, attempt)
            logger.info(
                "retrying %s after %s (attempt %d of %d) in %.2fs",
                operation,
                type(mapped).__name__,
                attempt + 1,
                self._retry.max_attempts,
                delay,
            )
            time.sleep(delay)
            if start is not None:
                body.seek(start)
            attempt += 1


def _tell(body: Any) -> int | None:
    """The position of a seekable file body, so a retry can send it again."""
    seekable = getattr(body, "seekable", None)
    if callable(seekable) and seekable():
        try:
            return int(body.tell())
        except (OSError, ValueError):
            return None
    return None

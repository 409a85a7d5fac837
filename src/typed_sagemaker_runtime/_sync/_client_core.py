"""``ClientCore``: the state of a ``SageMakerRuntime`` and the I/O all its methods use.

Construction (the boto3 client the facade builds, or the one passed in), the call loop
under the retry policy, reading an InvokeEndpoint body, and opening a response stream.
The public class (``_client``) and its LLM and async inference methods (``_llm_methods``,
``_async_inference_methods``) subclass it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .._base._calls import METHODS, after_failure, body_position, rewind
from .._base._config import (
    SERVICE_NAME,
    check_construction,
    construction_error,
    facade_config,
    install_hooks,
    resolve_retry,
)
from .._base._user_agent import unsent_app_id
from .._core._errors import map_exception
from .._core._results import invoke_result, stream_metadata
from .._core._retry import RetryPolicy
from .._core._types import InvokeResult, Operation
from .._telemetry._call_record import INVOKE, OFF, CallRecord
from .._telemetry._instrumentation import Telemetry

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

    from ._stream import ResponseStream

__all__ = ["ClientCore"]

_SDK = ("Boto3", boto3.__version__)


def _build_client(
    factory: Any, region_name: str | None, endpoint_url: str | None, config: Config | None
) -> SageMakerRuntimeClient:
    """A boto3 client with the facade's settings (see ``facade_config``)."""
    built = facade_config(config, sdk=_SDK)
    client: SageMakerRuntimeClient = factory.client(
        SERVICE_NAME, region_name=region_name, endpoint_url=endpoint_url, config=built
    )
    app_id = unsent_app_id(client.meta.config, built)
    if app_id is not None:  # from the shared config file: build it again with it
        client.close()
        client = factory.client(
            SERVICE_NAME,
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=facade_config(config, sdk=_SDK, app_id=app_id),
        )
    return client


class ClientCore:
    """The state of a ``SageMakerRuntime`` and the calls all its methods make."""

    def __init__(
        self,
        *,
        client: SageMakerRuntimeClient | None = None,
        session: boto3.session.Session | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
        s3_endpoint_url: str | Callable[[], str] | None = None,
        bidi_endpoint_url: str | None = None,
        instrument: bool = True,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._telemetry = Telemetry(
            instrument=instrument, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
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
                client = _build_client(factory, region_name, endpoint_url, config)
            except Exception as exc:
                mapped = construction_error(exc)
                if mapped is None:
                    raise
                raise mapped from exc
            self._owns_client = True
        else:
            self._owns_client = False
        assert client is not None
        install_hooks(client.meta.events)
        self._client: SageMakerRuntimeClient = client
        self._retry = resolve_retry(retry, config, wrapped_client=not self._owns_client)
        self._read_timeout: float | None = getattr(client.meta.config, "read_timeout", None)
        # For the S3 client of async results: the same session (credentials, profile).
        self._session = session
        self._s3_endpoint: str | Callable[[], str] | None = s3_endpoint_url
        self._bidi_endpoint_url = bidi_endpoint_url

    def _operation_model(self, operation: Operation) -> Any:
        return self._client.meta.service_model.operation_model(operation)

    def _invoke(self, params: dict[str, Any], call: CallRecord) -> InvokeResult:
        """Call InvokeEndpoint and read the whole body, releasing the connection."""
        response, retries = self._call("InvokeEndpoint", params, call)
        return self._invoke_result(response, retries, call)

    def _invoke_once(
        self, params: dict[str, Any], retries: int, endpoint_name: str, component: str | None
    ) -> InvokeResult:
        """One InvokeEndpoint attempt, without retries: ``invoke_many`` retries it itself."""
        with self._telemetry.start(
            INVOKE, endpoint_name, self._client, component=component
        ) as call:
            response = self._client.invoke_endpoint(**params)
            return self._invoke_result(response, retries, call)

    def _invoke_result(self, response: Any, retries: int, call: CallRecord) -> InvokeResult:
        """Read an InvokeEndpoint response's whole body, releasing the connection."""
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
        result = invoke_result(response, data, retries)
        call.responded(
            result["response_metadata"]["request_id"], result["invoked_production_variant"]
        )
        return result

    def _stream(self, params: dict[str, Any], call: CallRecord) -> ResponseStream:
        """Call InvokeEndpointWithResponseStream and wrap the open response."""
        from ._stream import ResponseStream  # on first use: an invoke never needs it

        requested_at = time.monotonic()
        response, retries = self._call("InvokeEndpointWithResponseStream", params, call)
        raw = response["Body"]._raw_stream  # botocore's EventStream keeps the urllib3 response
        metadata = stream_metadata(response, retries)
        call.stream_started(
            metadata["response_metadata"]["request_id"],
            metadata["invoked_production_variant"],
            metadata["content_type"],
        )
        return ResponseStream(
            raw,
            metadata,
            read_timeout=self._read_timeout,
            requested_at=requested_at,
            telemetry=call,
        )

    def _call(
        self, operation: Operation, params: dict[str, Any], call: CallRecord = OFF
    ) -> tuple[Any, int]:
        """Call botocore under the retry policy; return the response and the retry count."""
        method = getattr(self._client, METHODS[operation])
        body: Any = params.get("Body")
        start = body_position(body)
        attempt = 1
        while True:
            try:
                return method(**params), attempt - 1
            except Exception as exc:
                failure = after_failure(
                    exc,
                    operation=operation,
                    policy=self._retry,
                    attempt=attempt,
                    read_timeout=self._read_timeout,
                    body=body,
                    start=start,
                )
                if failure.error is None:
                    raise
                if failure.delay is None:
                    raise failure.error from exc
                delay = failure.delay
            call.retried()
            time.sleep(delay)
            rewind(body, start)
            attempt += 1

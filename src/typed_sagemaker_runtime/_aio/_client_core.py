"""``ClientCore``: the state of an ``AsyncSageMakerRuntime`` and the I/O all its methods use.

Construction (the aiobotocore client, created by ``async with`` or the first call, or
the one passed in), the call loop under the retry policy, reading an InvokeEndpoint
body, and opening a response stream. The public class (``_client``) and its LLM and
async inference methods (``_llm_methods``, ``_async_inference_methods``) subclass it.
Only the I/O differs from the synchronous twin: argument building, result shaping,
error mapping, retry decisions and construction checks are the sans-I/O functions of
``_core`` and ``_base``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

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
from .._base._user_agent import session_app_id
from .._core._results import invoke_result, stream_metadata
from .._core._retry import RetryPolicy
from .._core._types import InvokeResult, Operation
from .._telemetry._call_record import OFF, CallRecord
from .._telemetry._instrumentation import Telemetry
from ._errors import map_aio_exception
from ._httpx_body import aclose_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiobotocore.session import AioSession
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from types_aiobotocore_sagemaker_runtime.client import SageMakerRuntimeClient

    from ._stream import AsyncResponseStream

__all__ = ["ClientCore", "AIO_EXTRA_HINT"]

AIO_EXTRA_HINT = (
    "pip install -e '.[aio]' in a clone of typed-sagemaker-runtime, or pip install aiobotocore"
)


def _require_aiobotocore() -> None:
    try:
        import aiobotocore.session  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError as exc:
        raise ImportError(
            "AsyncSageMakerRuntime needs aiobotocore, which the 'aio' extra installs: "
            f"{AIO_EXTRA_HINT}"
        ) from exc


class ClientCore:
    """The state of an ``AsyncSageMakerRuntime`` and the calls all its methods make."""

    def __init__(
        self,
        *,
        client: SageMakerRuntimeClient | None = None,
        session: AioSession | None = None,
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
        _require_aiobotocore()
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
        self._session = session
        self._region_name = region_name
        self._endpoint_url = endpoint_url
        self._config = config
        self._s3_endpoint: str | Callable[[], str] | None = s3_endpoint_url
        self._bidi_endpoint_url = bidi_endpoint_url
        self._owns_client = client is None
        self._retry = resolve_retry(retry, config, wrapped_client=not self._owns_client)
        self._client: SageMakerRuntimeClient | None = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._read_timeout: float | None = None
        if client is not None:
            self._adopt(client)

    def _adopt(self, client: SageMakerRuntimeClient) -> None:
        install_hooks(client.meta.events, aio=True)
        self._client = client
        self._read_timeout = getattr(client.meta.config, "read_timeout", None)

    async def _ensure_client(self) -> SageMakerRuntimeClient:
        if self._client is not None:
            return self._client
        if self._closed:
            raise RuntimeError("this AsyncSageMakerRuntime was closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            client = self._client
            if client is None:
                client = await self._create_client()
        return client

    async def _create_client(self) -> SageMakerRuntimeClient:
        from aiobotocore import __version__ as aiobotocore_version
        from aiobotocore.session import get_session

        session: Any = self._session if self._session is not None else get_session()
        exit_stack = contextlib.AsyncExitStack()
        try:
            app_id = session_app_id(self._config, session)
            config = facade_config(
                self._config, sdk=("aiobotocore", aiobotocore_version), app_id=app_id
            )
            client: SageMakerRuntimeClient = await exit_stack.enter_async_context(
                session.create_client(
                    SERVICE_NAME,
                    region_name=self._region_name,
                    endpoint_url=self._endpoint_url,
                    config=config,
                )
            )
        except Exception as exc:
            await exit_stack.aclose()
            mapped = construction_error(exc, aio=True)
            if mapped is None:
                raise
            raise mapped from exc
        except BaseException:
            await exit_stack.aclose()
            raise
        self._exit = exit_stack
        self._adopt(client)
        return client

    async def _operation_model(self, operation: Operation) -> Any:
        client = await self._ensure_client()
        return client.meta.service_model.operation_model(operation)

    async def _invoke(self, params: dict[str, Any], call: CallRecord) -> InvokeResult:
        """Call InvokeEndpoint and read the whole body, releasing the connection."""
        response, retries = await self._call("InvokeEndpoint", params, call)
        return await self._invoke_result(response, retries, call)

    async def _invoke_once(
        self, params: dict[str, Any], retries: int, call: CallRecord
    ) -> InvokeResult:
        """One InvokeEndpoint attempt, without retries: ``invoke_many`` retries it itself."""
        client = await self._ensure_client()
        response = await client.invoke_endpoint(**params)
        return await self._invoke_result(response, retries, call)

    async def _invoke_result(self, response: Any, retries: int, call: CallRecord) -> InvokeResult:
        """Read an InvokeEndpoint response's whole body, releasing the connection."""
        streaming_body: Any = response["Body"]
        try:
            data: bytes = await streaming_body.read()
        except Exception as exc:
            mapped = map_aio_exception(
                exc, operation="InvokeEndpoint", read_timeout=self._read_timeout
            )
            if mapped is None:
                raise
            mapped.request_id = response["ResponseMetadata"].get("RequestId")
            raise mapped from exc
        finally:
            await aclose_body(streaming_body)
        result = invoke_result(response, data, retries)
        call.responded(
            result["response_metadata"]["request_id"], result["invoked_production_variant"]
        )
        return result

    async def _stream(self, params: dict[str, Any], call: CallRecord) -> AsyncResponseStream:
        """Call InvokeEndpointWithResponseStream and wrap the open response."""
        from ._httpx_body import aio_body
        from ._stream import AsyncResponseStream

        requested_at = time.monotonic()
        response, retries = await self._call("InvokeEndpointWithResponseStream", params, call)
        # aiobotocore's AioEventStream keeps the HTTP backend's response (aiohttp's or httpx's)
        raw = aio_body(response["Body"]._raw_stream)
        metadata = stream_metadata(response, retries)
        call.stream_started(
            metadata["response_metadata"]["request_id"],
            metadata["invoked_production_variant"],
            metadata["content_type"],
        )
        return AsyncResponseStream(
            raw,
            metadata,
            read_timeout=self._read_timeout,
            requested_at=requested_at,
            telemetry=call,
        )

    async def _call(
        self, operation: Operation, params: dict[str, Any], call: CallRecord = OFF
    ) -> tuple[Any, int]:
        """Call aiobotocore under the retry policy; return the response and the retry count."""
        method = getattr(await self._ensure_client(), METHODS[operation])
        body: Any = params.get("Body")
        start = body_position(body)
        attempt = 1
        while True:
            try:
                return await method(**params), attempt - 1
            except Exception as exc:
                failure = after_failure(
                    exc,
                    operation=operation,
                    policy=self._retry,
                    attempt=attempt,
                    read_timeout=self._read_timeout,
                    body=body,
                    start=start,
                    mapper=map_aio_exception,
                )
                if failure.error is None:
                    raise
                if failure.delay is None:
                    raise failure.error from exc
                delay = failure.delay
            call.retried()
            await asyncio.sleep(delay)
            rewind(body, start)
            attempt += 1

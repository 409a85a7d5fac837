"""``AsyncSageMakerRuntime``: the asyncio client, on aiobotocore (the ``aio`` extra).

Only the I/O differs from :class:`SageMakerRuntime`: argument building and validation
(:mod:`._params`), result shaping (:mod:`._results`), error mapping (:mod:`._errors`),
retry decisions (:mod:`._calls`, :mod:`._retry`) and construction checks
(:mod:`._config`) are the same sans-I/O functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from typing_extensions import Self, override

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
from .._core._errors import map_aio_exception
from .._core._params import build_params
from .._core._public import public
from .._core._results import invoke_async_result, invoke_result, stream_metadata
from .._core._retry import RetryPolicy
from .._core._types import AsyncOutput, Body, InvokeAsyncResult, InvokeResult, Operation
from .._telemetry._call_record import (
    CHAT,
    INVOKE,
    INVOKE_ASYNC,
    OFF,
    TEXT_COMPLETION,
    CallRecord,
)
from .._telemetry._instrumentation import Telemetry
from ._httpx_body import aclose_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiobotocore.session import AioSession
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from types_aiobotocore_sagemaker_runtime.client import SageMakerRuntimeClient

    from .._core._llm_types import ChatMessage, GenerateParameters, Generation, ToolSpec
    from .._llm._chat import ToolChoiceOption
    from .._sync._async_inference import Destination, Progress
    from ._async_inference import AsyncS3ClientLike
    from ._stream import AsyncResponseStream

__all__ = ["AsyncSageMakerRuntime", "AIO_EXTRA_HINT"]

AIO_EXTRA_HINT = "pip install 'typed-sagemaker-runtime[aio]'"


def _require_aiobotocore() -> None:
    try:
        import aiobotocore.session  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError as exc:
        raise ImportError(
            "AsyncSageMakerRuntime needs aiobotocore, which the 'aio' extra installs: "
            f"{AIO_EXTRA_HINT}"
        ) from exc


@public
class AsyncSageMakerRuntime:
    """The asyncio twin of :class:`SageMakerRuntime`, on aiobotocore (extra ``aio``).

    The same constructor options and methods, as coroutines::

        async with AsyncSageMakerRuntime(region_name="us-east-1") as smr:
            result = await smr.invoke("ep", b"...")
            async with await smr.stream("ep", json={"inputs": "hi"}) as stream:
                async for token in stream.tokens():
                    ...

    ``async with`` creates the aiobotocore client and closes it on exit. Without it, the
    client is created on first use; ``await smr.aclose()`` closes it. A client passed as
    ``client=`` (an entered aiobotocore client) is used as it is and never closed.
    ``session`` is an ``aiobotocore.session.AioSession``.

    Raises ``ImportError`` naming the ``aio`` extra when aiobotocore is not installed.
    """

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
        self._owns_client = client is None
        self._retry = resolve_retry(retry, config, wrapped_client=not self._owns_client)
        self._client: SageMakerRuntimeClient | None = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._read_timeout: float | None = None
        if client is not None:
            self._adopt(client)

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

    async def _invoke(self, params: dict[str, Any], call: CallRecord) -> InvokeResult:
        response, retries = await self._call("InvokeEndpoint", params, call)
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
        with self._telemetry.start(INVOKE_ASYNC, endpoint_name, self._client) as call:
            response, retries = await self._call("InvokeEndpointAsync", params, call)
            result = invoke_async_result(response, retries)
            call.responded(result["response_metadata"]["request_id"], None)
            return result

    async def invoke_async_upload(
        self,
        endpoint_name: str,
        body: Body,
        *,
        s3_prefix: str,
        s3_client: AsyncS3ClientLike | None = None,
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
        with self._telemetry.start(INVOKE_ASYNC, endpoint_name, self._client) as call:
            response, retries = await self._call("InvokeEndpointAsync", params, call)
            result = invoke_async_result(response, retries)
            call.responded(result["response_metadata"]["request_id"], None)
            return result

    async def wait_for_async_result(
        self,
        job: InvokeAsyncResult,
        *,
        timeout: float | None = 900.0,
        poll_interval: float = 5.0,
        s3_client: AsyncS3ClientLike | None = None,
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

    async def _stream(self, params: dict[str, Any], call: CallRecord) -> AsyncResponseStream:
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
        from .._llm._chat import chat_request, parse_generation

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
        params = await self._routed(
            "InvokeEndpoint",
            endpoint_name,
            body,
            custom_attributes,
            target_variant,
            target_container_hostname,
            inference_id,
            inference_component_name,
            session_id,
        )
        with self._telemetry.start(
            CHAT, endpoint_name, self._client, component=inference_component_name, request=body
        ) as call:
            started = time.monotonic()
            result = await self._invoke(params, call)
            generation = parse_generation(result, started=started, ended=time.monotonic())
            call.generation(generation)
            return generation

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
        """Send a streaming chat request (see ``SageMakerRuntime.chat_stream``)."""
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
        params = await self._routed(
            "InvokeEndpointWithResponseStream",
            endpoint_name,
            body,
            custom_attributes,
            target_variant,
            target_container_hostname,
            inference_id,
            inference_component_name,
            session_id,
        )
        with self._telemetry.start(
            CHAT,
            endpoint_name,
            self._client,
            stream=True,
            component=inference_component_name,
            request=body,
        ) as call:
            return await self._stream(params, call)

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
        from .._llm._chat import generate_request, parse_generation

        body = generate_request(prompt, parameters, stream=False)
        params = await self._routed(
            "InvokeEndpoint",
            endpoint_name,
            body,
            custom_attributes,
            target_variant,
            target_container_hostname,
            inference_id,
            inference_component_name,
            session_id,
        )
        with self._telemetry.start(
            TEXT_COMPLETION,
            endpoint_name,
            self._client,
            component=inference_component_name,
            request=body,
        ) as call:
            started = time.monotonic()
            result = await self._invoke(params, call)
            generation = parse_generation(result, started=started, ended=time.monotonic())
            call.generation(generation)
            return generation

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
        """Send a streaming generate request (see ``SageMakerRuntime.generate_stream``)."""
        from .._llm._chat import generate_request

        body = generate_request(prompt, parameters, stream=True)
        params = await self._routed(
            "InvokeEndpointWithResponseStream",
            endpoint_name,
            body,
            custom_attributes,
            target_variant,
            target_container_hostname,
            inference_id,
            inference_component_name,
            session_id,
        )
        with self._telemetry.start(
            TEXT_COMPLETION,
            endpoint_name,
            self._client,
            stream=True,
            component=inference_component_name,
            request=body,
        ) as call:
            return await self._stream(params, call)

    # --- internals ----------------------------------------------------------------

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

    @contextlib.asynccontextmanager
    async def _s3(
        self, s3_client: AsyncS3ClientLike | None, endpoint_url: str | None
    ) -> AsyncGenerator[AsyncS3ClientLike, None]:
        """The caller's S3 client, or one created for the call and closed after it."""
        if s3_client is not None:
            yield s3_client
            return
        from aiobotocore.session import get_session

        from .._sync._async_inference import S3_RETRIES

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

    async def _operation_model(self, operation: Operation) -> Any:
        client = await self._ensure_client()
        return client.meta.service_model.operation_model(operation)

    async def _routed(
        self,
        operation: Operation,
        endpoint_name: str,
        body: object,
        custom_attributes: str | None,
        target_variant: str | None,
        target_container_hostname: str | None,
        inference_id: str | None,
        inference_component_name: str | None,
        session_id: str | None,
    ) -> dict[str, Any]:
        """botocore's arguments for a chat or generate request: a JSON body and routing."""
        return build_params(
            await self._operation_model(operation),
            {
                "endpoint_name": endpoint_name,
                "json": body,
                "custom_attributes": custom_attributes,
                "target_variant": target_variant,
                "target_container_hostname": target_container_hostname,
                "inference_id": inference_id,
                "inference_component_name": inference_component_name,
                "session_id": session_id,
            },
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

"""``SageMakerRuntime``: the synchronous client."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Generator, Mapping, Sequence
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

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

    from .._core._async_inference import S3ClientLike
    from .._core._llm_types import ChatMessage, GenerateParameters, Generation, ToolSpec
    from .._llm._chat import ToolChoiceOption
    from ._async_inference import Destination, Progress
    from ._stream import ResponseStream

__all__ = ["SageMakerRuntime"]

logger = logging.getLogger("typed_sagemaker_runtime")
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


@public
class SageMakerRuntime:
    """A typed client for SageMaker Runtime: ``invoke``, ``invoke_async`` and ``stream``.

    Build it from boto3's defaults, a ``boto3.Session``, or wrap an existing client::

        smr = SageMakerRuntime(region_name="eu-west-1")
        smr = SageMakerRuntime(session=boto3.Session(profile_name="ml"))
        smr = SageMakerRuntime(client=boto3.client("sagemaker-runtime"))

    Retries follow ``retry`` (see :class:`RetryPolicy`); botocore's own retries are
    switched off in clients the facade builds. A client passed in keeps its own retry
    configuration and gets no facade retries unless ``retry`` is given.

    A client the facade builds also skips botocore's parameter validation (the facade's
    runs first), sends a User-Agent built once instead of twice per request (about 12%
    less client CPU per call), and keeps up to 64 connections for reuse unless ``config``
    sets ``max_pool_connections``. A client passed in keeps its configuration untouched.

    ``s3_endpoint_url`` sets where the S3 client that :meth:`wait_for_async_result` and
    :meth:`invoke_async_upload` build connects (default: boto3's, which honours
    ``AWS_ENDPOINT_URL_S3``); it uses the same session, region and botocore config. It
    may be a function returning the URL, called when an S3 client is first needed (the
    local endpoint starts its S3 server that way, only when async inference is used).

    With OpenTelemetry installed and configured, each call records a span and the GenAI
    client metrics (see the telemetry guide); ``instrument=False`` switches that off,
    and ``tracer_provider`` / ``meter_provider`` replace OpenTelemetry's global ones.
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
        s3_endpoint_url: str | Callable[[], str] | None = None,
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
        with self._telemetry.start(
            INVOKE, endpoint_name, self._client, component=inference_component_name
        ) as call:
            return self._invoke(params, call)

    def _invoke(self, params: dict[str, Any], call: CallRecord) -> InvokeResult:
        response, retries = self._call("InvokeEndpoint", params, call)
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
        s3_output_path_extension: str | None = None,
        filename: str | None = None,
    ) -> InvokeAsyncResult:
        """Call InvokeEndpointAsync with an S3 ``input_location`` or an inline ``body``.

        Pass exactly one of them; an inline body holds at most 128,000 bytes (larger ones:
        :meth:`invoke_async_upload`). Returns where SageMaker will write the output or the
        failure; :meth:`wait_for_async_result` waits for it. ``s3_output_path_extension``
        (a sub-path appended to the endpoint's S3 output path) and ``filename`` (the output
        object's name instead of ``<inference id>.out``) need a botocore that models them.
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
                "s3_output_path_extension": s3_output_path_extension,
                "filename": filename,
            },
        )
        with self._telemetry.start(INVOKE_ASYNC, endpoint_name, self._client) as call:
            response, retries = self._call("InvokeEndpointAsync", params, call)
            result = invoke_async_result(response, retries)
            call.responded(result["response_metadata"]["request_id"], None)
            return result

    def invoke_async_upload(
        self,
        endpoint_name: str,
        body: Body,
        *,
        s3_prefix: str,
        s3_client: S3ClientLike | None = None,
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

        For bodies over the 128,000-byte inline limit (any size up to S3's 5 GB for one
        PutObject). The object is ``<s3_prefix>/<random uuid>`` (``s3_prefix`` is
        ``s3://bucket/`` or ``s3://bucket/folder/``), written with ``content_type``; it is
        not deleted afterwards (SageMaker reads it when the request leaves the queue).
        Every argument is validated before the upload. ``s3_client`` defaults to one built
        like :meth:`wait_for_async_result`'s.
        """
        from .._core._async_inference import upload_uri
        from ._async_inference import upload

        location = upload_uri(s3_prefix, str(uuid.uuid4()))
        params = build_params(
            self._operation_model("InvokeEndpointAsync"),
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
        with self._s3(s3_client, None) as s3:
            upload(s3, location, body, content_type=content_type)
        with self._telemetry.start(INVOKE_ASYNC, endpoint_name, self._client) as call:
            response, retries = self._call("InvokeEndpointAsync", params, call)
            result = invoke_async_result(response, retries)
            call.responded(result["response_metadata"]["request_id"], None)
            return result

    def wait_for_async_result(
        self,
        job: InvokeAsyncResult,
        *,
        timeout: float | None = 900.0,
        poll_interval: float = 5.0,
        s3_client: S3ClientLike | None = None,
        s3_endpoint_url: str | None = None,
        dest: Destination | None = None,
        progress: Progress | None = None,
    ) -> AsyncOutput:
        """Wait until the output or the failure object of an async inference exists.

        One loop in the calling thread polls ``job["output_location"]`` and
        ``job["failure_location"]`` (a HEAD each per round, a GET once an object exists),
        sleeping 0.1 s between rounds, doubling up to ``poll_interval`` seconds. The last
        sleep ends at the deadline, where one final round runs. After the first round each
        bucket is checked once (HeadBucket), so a missing bucket fails at once instead of
        at the deadline. Nothing keeps running after the call returns or raises, and
        Ctrl-C (``KeyboardInterrupt``) stops it at once.

        Returns :class:`AsyncOutput`. Raises :class:`AsyncInferenceFailedError` (with the
        failure object's text) when the failure object appears, and
        :class:`AsyncInferenceTimeoutError` (with the output location, to wait again later)
        after ``timeout`` seconds (``None``: no deadline). S3 errors raise the usual
        exceptions with ``operation`` set to the S3 operation: ``AccessDeniedError`` (403),
        ``ServiceError`` (e.g. ``code="NoSuchBucket"``), ``TransportError``.

        ``dest`` (a path, or a binary file opened for writing) receives the output in 1 MiB
        chunks instead of memory, for outputs of any size; the result's ``body`` is then
        ``b""``. A path is written to a temporary file next to it and renamed on success.
        ``progress`` is called with the seconds elapsed after every round and about twice a
        second while sleeping.

        ``s3_client`` is used as given (and not closed). Otherwise a client is built for the
        call, and closed, from this client's boto3 session (or boto3's default one), region
        and botocore config, with standard retries; ``s3_endpoint_url`` overrides the
        constructor's.
        """
        from ._async_inference import wait_for_result

        with self._s3(s3_client, s3_endpoint_url) as s3:
            return wait_for_result(
                s3,
                job,
                timeout=timeout,
                poll_interval=poll_interval,
                dest=dest,
                progress=progress,
            )

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
        with self._telemetry.start(
            INVOKE, endpoint_name, self._client, stream=True, component=inference_component_name
        ) as call:
            return self._stream(params, call)

    def _stream(self, params: dict[str, Any], call: CallRecord) -> ResponseStream:
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
        params = self._routed(
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
            result = self._invoke(params, call)
            generation = parse_generation(result, started=started, ended=time.monotonic())
            call.generation(generation)
            return generation

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
        params = self._routed(
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
            return self._stream(params, call)

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
        from .._llm._chat import generate_request, parse_generation

        body = generate_request(prompt, parameters, stream=False)
        params = self._routed(
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
            result = self._invoke(params, call)
            generation = parse_generation(result, started=started, ended=time.monotonic())
            call.generation(generation)
            return generation

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

        body = generate_request(prompt, parameters, stream=True)
        params = self._routed(
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
            return self._stream(params, call)

    # --- internals ----------------------------------------------------------------

    @contextlib.contextmanager
    def _s3(
        self, s3_client: S3ClientLike | None, endpoint_url: str | None
    ) -> Generator[S3ClientLike, None, None]:
        """The caller's S3 client, or one built for the call and closed after it."""
        if s3_client is not None:
            yield s3_client
            return
        from ._async_inference import build_s3_client

        if endpoint_url is None:
            endpoint = self._s3_endpoint
            endpoint_url = endpoint() if callable(endpoint) else endpoint
        meta = self._client.meta
        built = build_s3_client(
            self._session if self._session is not None else boto3,
            region_name=meta.region_name,
            config=meta.config,
            endpoint_url=endpoint_url,
        )
        try:
            yield built
        finally:
            built.close()

    def _operation_model(self, operation: Operation) -> Any:
        return self._client.meta.service_model.operation_model(operation)

    def _routed(
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
            self._operation_model(operation),
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

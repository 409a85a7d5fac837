"""The asyncio client in realistic user code, checked by mypy --strict and pyright strict.

Never executed; every ``assert_type`` pins what a user's type checker sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiobotocore.session import get_session
from botocore.config import Config
from types_aiobotocore_sagemaker_runtime.client import SageMakerRuntimeClient
from typing_extensions import assert_type

from typed_sagemaker_runtime import (
    AsyncOutput,
    AsyncResponseStream,
    AsyncSageMakerRuntime,
    AsyncStreamRequest,
    InternalStreamFailure,
    InvokeAsyncResult,
    InvokeResult,
    ModelStreamError,
    ModelStreamInterruptedError,
    PayloadPart,
    RetryPolicy,
    ServerSentEvent,
    StreamEvent,
    StreamMetadata,
)
from typed_sagemaker_runtime.testing import LocalRuntime


def build() -> list[AsyncSageMakerRuntime]:
    return [
        AsyncSageMakerRuntime(),
        AsyncSageMakerRuntime(region_name="eu-west-1", config=Config(read_timeout=120)),
        AsyncSageMakerRuntime(session=get_session(), retry=RetryPolicy.disabled()),
        AsyncSageMakerRuntime(endpoint_url="http://127.0.0.1:8080", s3_endpoint_url="http://s3"),
    ]


async def invoke() -> bytes:
    async with AsyncSageMakerRuntime(region_name="us-east-1") as smr:
        assert_type(smr, AsyncSageMakerRuntime)
        assert_type(smr.client, SageMakerRuntimeClient)
        result = await smr.invoke("ep", json={"inputs": "hi"}, accept="application/json")
        assert_type(result, InvokeResult)
        assert_type(result["body"], bytes)
        assert_type(result["content_type"], "str | None")
        assert_type(result["response_metadata"]["request_id"], "str | None")
        return result["body"]


async def stream_events(smr: AsyncSageMakerRuntime) -> list[bytes]:
    received: list[bytes] = []
    stream = await smr.stream("ep", json={"inputs": "hi", "stream": True})
    assert_type(stream, AsyncResponseStream)
    async with stream as entered:
        assert_type(entered, AsyncResponseStream)
        assert_type(stream.metadata, StreamMetadata)
        assert_type(stream.request_id, "str | None")
        async for event in stream:
            assert_type(event, StreamEvent)
            if isinstance(event, PayloadPart):
                assert_type(event.data, bytes)
                received.append(event.data)
            elif isinstance(event, ModelStreamError):
                assert_type(event.error_code, "str | None")
            else:
                assert_type(event, InternalStreamFailure)
    return received


async def entered_without_await(smr: AsyncSageMakerRuntime) -> bytes:
    request = smr.stream("ep", json={"inputs": "hi", "stream": True})
    assert_type(request, AsyncStreamRequest)
    async with request as stream:
        assert_type(stream, AsyncResponseStream)
        return await stream.read()


async def helpers(smr: AsyncSageMakerRuntime) -> str:
    async with await smr.stream("ep", b"{}") as stream:
        tokens = stream.tokens("tgi")
        assert_type(tokens, AsyncIterator[str])
        text = "".join([token async for token in tokens])
    async with smr.stream("ep", b"{}") as stream:
        async for line in stream.lines():
            assert_type(line, str)
    async with await smr.stream("ep", b"{}") as stream:
        async for event in stream.sse():
            assert_type(event, ServerSentEvent)
    async with await smr.stream("ep", b"{}") as stream:
        async for chunk in stream.text():
            assert_type(chunk, str)
    async with await smr.stream("ep", b"{}") as stream:
        async for data in stream.payloads():
            assert_type(data, bytes)
    async with await smr.stream("ep", b"{}") as stream:
        try:
            whole = await stream.read()
            assert_type(whole, bytes)
        except ModelStreamInterruptedError as exc:
            assert_type(exc.error_code, "str | None")
    return text


async def async_inference(smr: AsyncSageMakerRuntime) -> AsyncOutput:
    job = await smr.invoke_async("ep", body=b"x", content_type="application/json")
    assert_type(job, InvokeAsyncResult)
    big = await smr.invoke_async_upload("ep", b"x" * 200_000, s3_prefix="s3://bucket/in/")
    assert_type(big, InvokeAsyncResult)
    output = await smr.wait_for_async_result(job, timeout=60.0, poll_interval=1.0)
    assert_type(output, AsyncOutput)
    assert_type(output["output_location"], str)
    return output


async def locally() -> bytes:
    with LocalRuntime() as local:
        local.add_endpoint("echo")
        async with local.async_client() as smr:
            assert_type(smr, AsyncSageMakerRuntime)
            await smr.aclose()
            return (await smr.invoke("echo", b"x"))["body"]

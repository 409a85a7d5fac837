"""Realistic user code, checked by mypy --strict and pyright strict (never executed).

Every ``assert_type`` pins what a user's type checker sees.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
from botocore.config import Config
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient
from typing_extensions import assert_type

from typed_sagemaker_runtime import (
    ClientValidationError,
    CredentialsError,
    EndpointNotFoundError,
    InternalStreamFailure,
    InvokeAsyncResult,
    InvokeResult,
    ModelError,
    ModelStreamError,
    ModelStreamInterruptedError,
    PayloadPart,
    ResponseMetadata,
    ResponseStream,
    RetryPolicy,
    SageMakerRuntime,
    SageMakerRuntimeError,
    ServerSentEvent,
    ServiceError,
    StreamEvent,
    StreamMetadata,
    TimeoutError,
    TokenFormat,
    ValidationError,
)


def build_clients() -> list[SageMakerRuntime]:
    return [
        SageMakerRuntime(),
        SageMakerRuntime(region_name="eu-west-1", config=Config(read_timeout=120)),
        # types-boto3's overloads name every AWS service; pyright strict calls the
        # ones whose stub packages are not installed "partially unknown".
        SageMakerRuntime(client=boto3.client("sagemaker-runtime")),  # pyright: ignore[reportUnknownMemberType]
        SageMakerRuntime(session=boto3.Session(profile_name="ml")),
        SageMakerRuntime(retry=RetryPolicy(max_attempts=5, retry_model_not_ready=True)),
        SageMakerRuntime(endpoint_url="http://127.0.0.1:8080", retry=RetryPolicy.disabled()),
        SageMakerRuntime(instrument=False),
        SageMakerRuntime(tracer_provider=TracerProvider(), meter_provider=MeterProvider()),
    ]


def invoke(smr: SageMakerRuntime) -> str:
    assert_type(smr.client, SageMakerRuntimeClient)
    result = smr.invoke("my-endpoint", json={"inputs": "Hello"}, accept="application/json")
    assert_type(result, InvokeResult)
    assert_type(result["body"], bytes)
    assert_type(result["content_type"], "str | None")
    assert_type(result["custom_attributes"], "str | None")
    assert_type(result["new_session_id"], "str | None")
    metadata = result["response_metadata"]
    assert_type(metadata, ResponseMetadata)
    assert_type(metadata["request_id"], "str | None")
    assert_type(metadata["http_status_code"], int)
    assert_type(metadata["http_headers"], dict[str, str])
    smr.invoke("ep", b"raw bytes", content_type="application/octet-stream")
    smr.invoke("ep", "text body", target_variant="v2", inference_component_name="ic")
    smr.invoke("ep", io.BytesIO(b"from a file"), session_id="NEW_SESSION")
    smr.invoke("ep", memoryview(b"x"), custom_attributes="trace=1", inference_id="abc")
    return result["body"].decode()


def invoke_async(smr: SageMakerRuntime) -> str | None:
    job = smr.invoke_async("ep", input_location="s3://bucket/in.json", request_ttl_seconds=3600)
    assert_type(job, InvokeAsyncResult)
    assert_type(job["output_location"], "str | None")
    assert_type(job["failure_location"], "str | None")
    smr.invoke_async("ep", body=b"{}", content_type="application/json")
    return job["inference_id"]


def stream_events(smr: SageMakerRuntime) -> list[bytes]:
    parts: list[bytes] = []
    with smr.stream("ep", json={"inputs": "hi", "stream": True}) as stream:
        assert_type(stream, ResponseStream)
        assert_type(stream.metadata, StreamMetadata)
        assert_type(stream.request_id, "str | None")
        for event in stream:
            assert_type(event, StreamEvent)
            if isinstance(event, PayloadPart):
                assert_type(event.data, bytes)
                parts.append(event.data)
            elif isinstance(event, ModelStreamError):
                assert_type(event.error_code, "str | None")
            else:
                assert_type(event, InternalStreamFailure)
                assert_type(event.message, "str | None")
    return parts


def stream_with_match(smr: SageMakerRuntime) -> str:
    text = ""
    with smr.stream("ep", b"{}") as stream:
        for event in stream:
            match event:
                case PayloadPart(data=data):
                    text += data.decode()
                case ModelStreamError(message=message, error_code=code):
                    raise RuntimeError(f"{code}: {message}")
                case InternalStreamFailure(message=message):
                    raise RuntimeError(message)
    return text


def stream_helpers(smr: SageMakerRuntime) -> bytes:
    with smr.stream("ep", b"{}") as stream:
        payloads = stream.payloads()
        assert_type(payloads, Iterator[bytes])
    with smr.stream("ep", b"{}") as stream:
        return stream.read()


def stream_text(smr: SageMakerRuntime) -> str:
    out = ""
    with smr.stream("ep", json={"inputs": "hi", "stream": True}) as stream:
        for token in stream.tokens():
            assert_type(token, str)
            out += token
    with smr.stream("ep", b"{}") as stream:
        for line in stream.lines():
            assert_type(line, str)
    with smr.stream("ep", b"{}") as stream:
        for event in stream.sse():
            assert_type(event, ServerSentEvent)
            assert_type(event.data, str)
            assert_type(event.event, "str | None")
    with smr.stream("ep", b"{}") as stream:
        out += "".join(stream.text())
    formats: list[TokenFormat] = ["tgi", "openai", "lmi", "json", "text", "auto"]
    for name in formats:
        with smr.stream("ep", b"{}") as stream:
            out += "".join(stream.tokens(name))
    return out


def handle_errors(smr: SageMakerRuntime) -> None:
    try:
        smr.invoke("ep", b"{}")
    except EndpointNotFoundError as exc:
        assert_type(exc.error_code, "str | None")
    except ValidationError as exc:
        assert_type(exc.code, str)
    except ModelError as exc:
        assert_type(exc.original_status_code, "int | None")
        assert_type(exc.original_message, "str | None")
        assert_type(exc.log_stream_arn, "str | None")
    except ServiceError as exc:
        assert_type(exc.http_status, "int | None")
    except TimeoutError as exc:
        assert_type(exc.retryable, bool)
    except ModelStreamInterruptedError as exc:
        assert_type(exc.error_code, "str | None")
        assert_type(exc.event, "StreamEvent | None")
    except ClientValidationError as exc:
        assert_type(exc.field, "str | None")
    except CredentialsError as exc:
        assert_type(exc.message, str)
    except SageMakerRuntimeError as exc:
        assert_type(exc.request_id, "str | None")
        assert_type(exc.operation, "str | None")

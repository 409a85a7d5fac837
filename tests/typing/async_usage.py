"""Async inference in realistic user code, checked by mypy --strict and pyright strict.

Never executed; every ``assert_type`` pins what a user's type checker sees.
"""

from __future__ import annotations

import io
from pathlib import Path

import boto3
from types_boto3_s3.client import S3Client
from typing_extensions import assert_type

from typed_sagemaker_runtime import (
    AsyncInferenceFailedError,
    AsyncInferenceTimeoutError,
    AsyncOutput,
    InvokeAsyncResult,
    S3ClientLike,
    SageMakerRuntime,
)
from typed_sagemaker_runtime.testing import LocalRuntime


def round_trip(smr: SageMakerRuntime, s3: S3Client) -> bytes:
    job = smr.invoke_async("ep", body=b'{"inputs": "hi"}', content_type="application/json")
    assert_type(job, InvokeAsyncResult)
    try:
        output = smr.wait_for_async_result(job, timeout=600.0, poll_interval=2.0, s3_client=s3)
    except AsyncInferenceFailedError as exc:
        assert_type(exc.failure, "str | None")
        assert_type(exc.failure_location, "str | None")
        raise
    except AsyncInferenceTimeoutError as exc:
        assert_type(exc.output_location, "str | None")
        raise
    assert_type(output, AsyncOutput)
    assert_type(output["body"], bytes)
    assert_type(output["content_type"], "str | None")
    assert_type(output["output_location"], str)
    return output["body"]


def large(smr: SageMakerRuntime, path: Path) -> None:
    with open(path, "rb") as source:
        job = smr.invoke_async_upload(
            "ep", source, s3_prefix="s3://bucket/inputs/", content_type="text/csv"
        )
    smr.wait_for_async_result(job, dest=path.with_suffix(".out"))
    smr.wait_for_async_result(job, dest=str(path), timeout=None)
    with open(path, "wb") as sink:
        smr.wait_for_async_result(job, dest=sink, progress=lambda elapsed: None)
    smr.wait_for_async_result(job, dest=io.BytesIO(), s3_endpoint_url="http://127.0.0.1:9000")


def any_boto3_s3_client_will_do() -> S3ClientLike:
    # types-boto3's overloads name every AWS service; pyright strict calls the ones whose
    # stub packages are not installed "partially unknown".
    client: S3ClientLike = boto3.client("s3")  # pyright: ignore[reportUnknownMemberType]
    return client


def locally() -> bytes:
    with LocalRuntime(async_time_scale=0.01) as local, local.client() as smr:
        local.add_endpoint("echo")
        s3 = local.s3_client()
        assert_type(s3, S3Client)
        assert_type(local.s3_endpoint_url, str)
        s3.close()
        job = smr.invoke_async("echo", body=b"x")
        local.wait_for_async_jobs(timeout=5)
        return smr.wait_for_async_result(job)["body"]

"""Code a type checker must reject: each line with an expect-error comment fails, no other.

Checked by tests/test_typing.py with mypy --strict and pyright strict.
"""

from __future__ import annotations

from typed_sagemaker_runtime import PayloadPart, RetryPolicy, SageMakerRuntime


def misuse(smr: SageMakerRuntime) -> None:
    result = smr.invoke("ep", b"{}")
    result["bdy"]  # expect-error
    result["Body"]  # expect-error
    text: str = result["body"]  # expect-error
    smr.invoke("ep", b"{}", acept="application/json")  # expect-error
    smr.invoke("ep", 123)  # expect-error
    smr.invoke(endpoint=b"ep")  # expect-error
    smr.invoke("ep", b"{}", target_variant=b"v1")  # expect-error
    smr.invoke_async("ep", b"{}")  # expect-error
    smr.invoke_async("ep", input_location="s3://b/k", request_ttl_seconds="60")  # expect-error
    smr.stream("ep", b"{}", target_model="m")  # expect-error
    job = smr.invoke_async("ep", input_location="s3://b/k")
    job["output"]  # expect-error
    location: str = job["output_location"]  # expect-error
    with smr.stream("ep", b"{}") as stream:
        for event in stream:
            event.data  # expect-error
        stream.metadata["contentType"]  # expect-error
        stream.tokens("gpt")  # expect-error
        stream.tokens(format="tgi").upper()  # expect-error
        for token in stream.tokens():
            token.decode()  # expect-error
    PayloadPart(data="text")  # expect-error
    SageMakerRuntime(region="eu-west-1")  # expect-error
    RetryPolicy(attempts=3)  # expect-error
    del text, location

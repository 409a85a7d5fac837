"""Test your own SageMaker code with the pytest plugin: no AWS, real boto3 underneath.

    pytest examples/test_my_app.py

Installing typed-sagemaker-runtime registers a pytest plugin with a ``local_runtime``
fixture: a started local SageMaker Runtime. Script endpoints in one line each, then
assert on what your code did and on what the endpoint received.
"""

from __future__ import annotations

import json

import pytest

from typed_sagemaker_runtime import GenerationError, SageMakerRuntime, ThrottlingError
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
)


def ask(smr: SageMakerRuntime, question: str) -> str:
    """The application code under test: stream an answer from a TGI endpoint."""
    with smr.stream("assistant", json={"inputs": question, "stream": True}) as stream:
        return "".join(stream.tokens())


def tgi(*tokens: str) -> bytes:
    """TGI's server-sent events for ``tokens``."""
    records = [
        json.dumps({"token": {"id": i, "text": text, "special": False}})
        for i, text in enumerate(tokens)
    ]
    return "".join(f"data: {record}\n\n" for record in records).encode()


def test_ask_joins_the_tokens(local_runtime: LocalRuntime) -> None:
    local_runtime.add_endpoint(
        "assistant",
        lambda _: EndpointResponse(
            [tgi("Hello", ","), tgi(" world")], content_type="text/event-stream"
        ),
    )
    with local_runtime.client() as smr:
        assert ask(smr, "Say hello") == "Hello, world"
    request: InvocationRequest = local_runtime.requests[-1]
    assert request.json() == {"inputs": "Say hello", "stream": True}


def test_ask_surfaces_an_in_band_error(local_runtime: LocalRuntime) -> None:
    error = b'data: {"error": "CUDA out of memory", "error_type": "generation"}\n\n'
    local_runtime.add_endpoint(
        "assistant",
        lambda _: EndpointResponse([tgi("Hel"), error], content_type="text/event-stream"),
    )
    with local_runtime.client() as smr, pytest.raises(GenerationError, match="out of memory"):
        ask(smr, "Say hello")


def test_throttling_is_retried_then_surfaces(
    local_runtime: LocalRuntime, local_smr: SageMakerRuntime
) -> None:
    """``local_smr`` is a client already wired to ``local_runtime``."""
    local_runtime.add_endpoint("assistant", faults=[ErrorResponse("ThrottlingException")])
    with pytest.raises(ThrottlingError):
        ask(local_smr, "Say hello")
    assert len(local_runtime.requests) == 3  # the default policy tried three times

"""Which error codes the local endpoint answers on which operation: botocore's service model.

Each test drives the unmodified boto3 stack (and the facade, for async results through
moto's S3 server) against ``LocalRuntime``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore import exceptions as bce
from botocore.config import Config
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from _models import INLINE_ASYNC_BODY
from _twins import Clients
from typed_sagemaker_runtime import AsyncInferenceFailedError
from typed_sagemaker_runtime.testing import (
    DEFAULT_ERROR_STATUS,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    Operation,
)

NO_RETRIES = Config(read_timeout=10, retries={"total_max_attempts": 1})
OPERATIONS: tuple[Operation, ...] = (
    "InvokeEndpoint",
    "InvokeEndpointAsync",
    "InvokeEndpointWithResponseStream",
)
GENERIC = (
    "ThrottlingException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InternalFailure",
    "ServiceUnavailable",
)


def _http_errors_in_the_model(operation: str) -> set[str]:
    """The operation's error shapes that botocore models as HTTP errors (with a status)."""
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    shapes = model.operation_model(operation).error_shapes
    return {shape.name for shape in shapes if "httpStatusCode" in shape.metadata.get("error", {})}


def _cases() -> list[tuple[Operation, str]]:
    return [
        (operation, code)
        for operation in OPERATIONS
        for code in sorted(_http_errors_in_the_model(operation) | set(GENERIC))
    ]


@pytest.fixture(name="local")
def _local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(name="raw")
def _raw(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    client = local.boto3_client(NO_RETRIES)
    yield client
    client.close()


def _call(raw: SageMakerRuntimeClient, operation: Operation, endpoint: str = "ep") -> Any:
    """Call ``operation``; return what boto3 returns (a stream is read to its end)."""
    if operation == "InvokeEndpoint":
        return raw.invoke_endpoint(EndpointName=endpoint, Body=b"x")["Body"].read()
    if operation == "InvokeEndpointAsync":
        return raw.invoke_endpoint_async(EndpointName=endpoint, InputLocation="s3://b/k")
    response = raw.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"x")
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]]


def _recording(calls: list[InvocationRequest]) -> Any:
    def handler(request: InvocationRequest) -> bytes:
        calls.append(request)
        return request.body

    return handler


# --- each operation answers what its model lists ----------------------------------------


@pytest.mark.parametrize(("operation", "code"), _cases())
def test_each_listed_code_is_answered_on_its_operation(
    local: LocalRuntime, raw: SageMakerRuntimeClient, operation: Operation, code: str
) -> None:
    """A code configured explicitly for an operation that lists it (or a generic one)."""
    calls: list[InvocationRequest] = []
    local.add_endpoint(
        "ep", _recording(calls), faults=[ErrorResponse(code, operations=[operation])]
    )
    with pytest.raises(bce.ClientError) as caught:
        _call(raw, operation)
    response: Any = caught.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == DEFAULT_ERROR_STATUS[code]
    if code in _http_errors_in_the_model(operation):
        assert isinstance(caught.value, getattr(raw.exceptions, code))
    assert calls == []


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("InvokeEndpointAsync", "ModelNotReadyException"),
        ("InvokeEndpointAsync", "InternalDependencyException"),
        ("InvokeEndpointWithResponseStream", "ModelNotReadyException"),
        ("InvokeEndpointWithResponseStream", "InternalDependencyException"),
    ],
)
def test_a_code_for_every_operation_skips_those_that_do_not_list_it(
    local: LocalRuntime, raw: SageMakerRuntimeClient, operation: Operation, code: str
) -> None:
    """Configured for all operations: only InvokeEndpoint answers it; it is not used up."""
    local.add_endpoint("ep", faults=[ErrorResponse(code, times=1)])
    result = _call(raw, operation)
    assert result if operation == "InvokeEndpointAsync" else result == [b"x"]
    with pytest.raises(getattr(raw.exceptions, code)):
        _call(raw, "InvokeEndpoint")
    assert _call(raw, "InvokeEndpoint") == b"x"


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("InvokeEndpointAsync", "ModelNotReadyException"),
        ("InvokeEndpointAsync", "InternalDependencyException"),
        ("InvokeEndpointWithResponseStream", "ModelNotReadyException"),
        ("InvokeEndpointWithResponseStream", "InternalDependencyException"),
    ],
)
def test_a_code_for_an_operation_that_cannot_answer_it_is_refused(
    operation: Operation, code: str
) -> None:
    """The error names the operation, the code and the codes it can answer."""
    with pytest.raises(ValueError, match="cannot answer") as caught:
        ErrorResponse(code, operations=[operation])
    message = str(caught.value)
    assert f"{operation} cannot answer {code}" in message
    for answered in _http_errors_in_the_model(operation) | set(GENERIC):
        assert answered in message


def test_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown operation 'InvokeEndpoints'.*InvokeEndpoint,"):
        ErrorResponse("ThrottlingException", operations=["InvokeEndpoints"])  # type: ignore[list-item]


def test_no_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="operations is empty"):
        ErrorResponse("ThrottlingException", operations=[])


def test_operations_are_kept_as_a_frozenset() -> None:
    """A list given as ``operations`` still leaves the fault hashable and comparable."""
    fault = ErrorResponse("ThrottlingException", operations=["InvokeEndpoint"])
    assert fault.operations == frozenset({"InvokeEndpoint"})
    assert fault == ErrorResponse("ThrottlingException", operations=("InvokeEndpoint",))
    assert hash(fault) == hash(ErrorResponse("ThrottlingException", operations={"InvokeEndpoint"}))


def test_stream_events_are_not_http_errors() -> None:
    """ModelStreamError and InternalStreamFailure are events of the stream (no HTTP status)."""
    with pytest.raises(ValueError, match="StreamErrorEvent"):
        ErrorResponse("ModelStreamError")
    with pytest.raises(ValueError, match="StreamFailureEvent"):
        ErrorResponse("InternalStreamFailure")


# --- codes that no operation lists ------------------------------------------------------


def test_a_misspelt_code_is_refused_with_the_closest_known_one() -> None:
    with pytest.raises(ValueError, match="no SageMaker Runtime operation answers") as caught:
        ErrorResponse("ThrotlingException")
    message = str(caught.value)
    assert "'ThrotlingException'" in message
    assert "did you mean ThrottlingException?" in message
    assert "custom=True" in message
    assert len(message.splitlines()) == 1


def test_an_unknown_code_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'NoSuchKind'") as caught:
        ErrorResponse("NoSuchKind")
    message = str(caught.value)
    assert "did you mean" not in message
    for code in ("ModelError", "ThrottlingException", "ValidationError"):
        assert code in message


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_custom_code_is_sent_on_every_operation(
    local: LocalRuntime, raw: SageMakerRuntimeClient, operation: Operation
) -> None:
    """``custom=True``: the code is sent as given (status 400 unless ``status``)."""
    local.add_endpoint("ep", faults=[ErrorResponse("SomethingNew", custom=True, status=409)])
    with pytest.raises(bce.ClientError) as caught:
        _call(raw, operation)
    response: Any = caught.value.response
    assert type(caught.value) is bce.ClientError
    assert response["Error"]["Code"] == "SomethingNew"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_custom_also_sends_a_known_code_where_the_model_does_not_list_it(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """``custom=True`` skips the model's check: an unlisted code for a client's edge case."""
    fault = ErrorResponse(
        "ModelNotReadyException", custom=True, operations=["InvokeEndpointWithResponseStream"]
    )
    local.add_endpoint("ep", faults=[fault])
    with pytest.raises(bce.ClientError) as caught:
        _call(raw, "InvokeEndpointWithResponseStream")
    assert caught.value.response["Error"]["Code"] == "ModelNotReadyException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert _call(raw, "InvokeEndpoint") == b"x"


# --- async: a model error is a failure object -------------------------------------------


@INLINE_ASYNC_BODY
@pytest.mark.parametrize("operations", [None, ["InvokeEndpointAsync"]])
def test_model_error_on_async_is_written_to_the_failure_location(
    local: LocalRuntime, clients: Clients, operations: list[Operation] | None
) -> None:
    """Accepted (202); the model's error is the failure object, the handler never runs."""
    calls: list[InvocationRequest] = []
    fault = ErrorResponse(
        "ModelError",
        message="prompt too long",
        fields={"OriginalStatusCode": 413},
        operations=operations,
        times=1,
    )
    local.add_endpoint("ep", _recording(calls), faults=[fault])
    smr = clients.local()  # the sync client, then the async one (closed by the fixture)
    job = smr.invoke_async("ep", body=b"{}")
    with pytest.raises(AsyncInferenceFailedError) as caught:
        smr.wait_for_async_result(job, timeout=30)
    assert caught.value.failure_location == job["failure_location"]
    failure = caught.value.failure or ""
    assert 'Received client error (413) from primary with message "prompt too long"' in failure
    assert calls == []
    job = smr.invoke_async("ep", body=b"again")  # used up: the model answers
    assert smr.wait_for_async_result(job, timeout=30)["body"] == b"again"


def test_async_without_s3_answers_a_code_its_model_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """No moto: InternalFailure (500), listed for InvokeEndpointAsync, naming the extra."""
    monkeypatch.setitem(sys.modules, "moto", None)  # ``import moto`` raises ImportError
    monkeypatch.setitem(sys.modules, "typed_sagemaker_runtime.testing._async_inference._moto", None)
    with LocalRuntime() as local:
        local.add_endpoint("echo")
        raw = local.boto3_client(NO_RETRIES)
        try:
            with pytest.raises(raw.exceptions.InternalFailure, match=r"\[local\]"):
                raw.invoke_endpoint_async(EndpointName="echo", InputLocation="s3://b/k")
        finally:
            raw.close()


def test_the_service_model_is_read_once() -> None:
    """Checking a code is a cached lookup: 5,000 faults in well under a second.

    Reading botocore's model takes about 50 ms here, so an uncached check would take
    minutes; the cached one measured about 40 ms.
    """
    ErrorResponse("ThrottlingException")  # the first one may read the model
    started = time.perf_counter()
    for _ in range(5000):
        ErrorResponse("ModelNotReadyException", operations=["InvokeEndpoint"])
    assert time.perf_counter() - started < 2.0

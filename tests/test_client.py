"""SageMakerRuntime and AsyncSageMakerRuntime through boto3/aiobotocore against the local endpoint.

Every test taking ``smr`` or ``clients`` runs twice: sync, and async (see ``_twins``).
"""

from __future__ import annotations

import io

import pytest
from botocore import exceptions as bce
from botocore.config import Config

import typed_sagemaker_runtime as smr_pkg
from _models import INLINE_ASYNC_BODY, SESSIONS
from _twins import Client, Clients
from typed_sagemaker_runtime import (
    ClientValidationError,
    RetryPolicy,
    SageMakerRuntime,
)
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    RawResponse,
    Stall,
)


@pytest.fixture(name="smr")
def _smr(clients: Clients) -> Client:
    """Each client in turn, wired to the local endpoint, retrying without waiting."""
    return clients.local(retry=RetryPolicy(initial_backoff=0))


INVOKE_RESULT_KEYS = {
    "body",
    "content_type",
    "invoked_production_variant",
    "custom_attributes",
    "new_session_id",
    "closed_session_id",
    "response_metadata",
}


def test_invoke_returns_every_key(smr: Client, local: LocalRuntime) -> None:
    result = smr.invoke("echo", b'{"x": 1}', content_type="application/json")
    assert set(result) == INVOKE_RESULT_KEYS
    assert result["body"] == b'{"x": 1}'
    assert result["invoked_production_variant"] == "AllTraffic"
    assert result["custom_attributes"] is None
    assert result["new_session_id"] is None
    assert result["closed_session_id"] is None
    metadata = result["response_metadata"]
    assert metadata["http_status_code"] == 200
    assert metadata["retry_attempts"] == 0
    assert metadata["request_id"] == local.requests[-1].request_id
    assert metadata["http_headers"]["x-amzn-requestid"] == metadata["request_id"]


@SESSIONS
def test_every_invoke_parameter_arrives(smr: Client, local: LocalRuntime) -> None:
    smr.invoke(
        "echo",
        "héllo",
        content_type="text/plain",
        accept="application/json",
        custom_attributes="trace=abc",
        target_model="model-a.tar.gz",
        target_variant="variant-1",
        target_container_hostname="container-1",
        inference_id="inference-1",
        enable_explanations="`true`",
        inference_component_name="component-1",
        session_id="NEW_SESSION",
    )
    request = local.requests[-1]
    assert request.operation == "InvokeEndpoint"
    assert request.endpoint_name == "echo"
    assert request.body == "héllo".encode()
    assert request.content_type == "text/plain"
    assert request.accept == "application/json"
    assert request.custom_attributes == "trace=abc"
    assert request.target_model == "model-a.tar.gz"
    assert request.target_variant == "variant-1"
    assert request.target_container_hostname == "container-1"
    assert request.inference_id == "inference-1"
    assert request.enable_explanations == "`true`"
    assert request.inference_component_name == "component-1"
    assert request.session_id == "NEW_SESSION"


def test_unset_parameters_are_not_sent(smr: Client, local: LocalRuntime) -> None:
    smr.invoke("echo", b"x")
    request = local.requests[-1]
    for header in ("X-Amzn-SageMaker-Custom-Attributes", "X-Amzn-SageMaker-Session-Id"):
        assert header not in request.headers
    # aiohttp sends its own default "Accept: */*", which means the same as none.
    assert request.headers.get("Accept") in (None, "*/*")


def test_json_body(smr: Client, local: LocalRuntime) -> None:
    result = smr.invoke("echo", json={"inputs": "ünïcode", "n": 1})
    assert local.requests[-1].body == '{"inputs":"ünïcode","n":1}'.encode()
    assert local.requests[-1].content_type == "application/json"
    assert result["body"] == local.requests[-1].body


@pytest.mark.parametrize(
    "body",
    [b"bytes", bytearray(b"bytes"), memoryview(b"bytes"), "bytes", io.BytesIO(b"bytes")],
    ids=["bytes", "bytearray", "memoryview", "str", "file"],
)
def test_body_types(smr: Client, local: LocalRuntime, body: smr_pkg.Body) -> None:
    if isinstance(body, io.BytesIO):
        body.seek(0)  # the parameter object is shared by the sync and the async run
    assert smr.invoke("echo", body)["body"] == b"bytes"
    assert local.requests[-1].body == b"bytes"


@SESSIONS
def test_response_headers_become_result_keys(smr: Client, local: LocalRuntime) -> None:
    local.add_endpoint(
        "headers",
        lambda request: EndpointResponse(
            b"ok",
            content_type="text/csv",
            custom_attributes="model=v2",
            closed_session_id="sess-1",
        ),
    )
    result = smr.invoke("headers", b"", target_variant="blue")
    assert result["content_type"] == "text/csv"
    assert result["custom_attributes"] == "model=v2"
    assert result["closed_session_id"] == "sess-1"
    assert result["invoked_production_variant"] == "blue"


@SESSIONS
def test_new_session(smr: Client) -> None:
    result = smr.invoke("echo", b"", session_id="NEW_SESSION")
    assert result["new_session_id"] is not None
    assert "Expires=" in result["new_session_id"]


def test_validation_happens_before_sending(smr: Client, local: LocalRuntime) -> None:
    with pytest.raises(ClientValidationError) as info:
        smr.invoke("echo", b"x" * (6 * 1024 * 1024 + 1))
    assert info.value.field == "body"
    with pytest.raises(ClientValidationError):
        smr.invoke("bad_name", b"")
    with pytest.raises(ClientValidationError):
        smr.invoke_async("echo")
    assert local.requests == []


def test_invoke_async_with_s3_input(smr: Client, local: LocalRuntime) -> None:
    job = smr.invoke_async(
        "echo",
        input_location="s3://bucket/in/request.json",
        content_type="application/json",
        accept="application/json",
        custom_attributes="a=b",
        inference_id="job-1",
        request_ttl_seconds=600,
        invocation_timeout_seconds=900,
    )
    assert set(job) == {"inference_id", "output_location", "failure_location", "response_metadata"}
    assert job["inference_id"] == "job-1"
    assert job["output_location"] is not None
    assert job["output_location"].startswith("s3://")
    assert job["failure_location"] is not None
    assert job["response_metadata"]["http_status_code"] == 202
    request = local.requests[-1]
    assert request.operation == "InvokeEndpointAsync"
    assert request.input_location == "s3://bucket/in/request.json"
    assert request.content_type == "application/json"
    assert request.accept == "application/json"
    assert request.custom_attributes == "a=b"
    assert request.request_ttl_seconds == 600
    assert request.invocation_timeout_seconds == 900


@INLINE_ASYNC_BODY
def test_invoke_async_with_inline_body(smr: Client, local: LocalRuntime) -> None:
    job = smr.invoke_async("echo", body=b'{"inline": true}')
    assert job["inference_id"]
    assert local.requests[-1].body == b'{"inline": true}'
    assert local.requests[-1].input_location is None


# --- errors -------------------------------------------------------------------------


def call(smr: Client, operation: str, endpoint_name: str) -> None:
    """Call one operation with a small body; errors propagate."""
    if operation == "invoke":
        smr.invoke(endpoint_name, b"{}")
    elif operation == "stream":
        smr.stream(endpoint_name, b"{}").close()
    else:
        smr.invoke_async(endpoint_name, input_location="s3://b/k")


ERROR_CASES = [
    ("ValidationError", smr_pkg.ValidationError, 400),
    ("ModelError", smr_pkg.ModelError, 424),
    ("InternalDependencyException", smr_pkg.InternalDependencyError, 530),
    ("AccessDeniedException", smr_pkg.AccessDeniedError, 403),
    ("ExpiredTokenException", smr_pkg.AccessDeniedError, 403),
    ("SomethingNew", smr_pkg.ServiceError, 400),
]


# Only the codes each operation's service model lists: InvokeEndpointAsync does not list
# ModelError (a failure object in S3 instead) or InternalDependencyException, nor the
# stream InternalDependencyException (tests/test_fault_codes.py).
UNLISTED = {
    ("invoke_async", "ModelError"),
    ("invoke_async", "InternalDependencyException"),
    ("stream", "InternalDependencyException"),
}


@pytest.mark.parametrize(
    ("operation", "code", "cls", "status"),
    [
        (operation, *case)
        for operation in ("invoke", "stream", "invoke_async")
        for case in ERROR_CASES
        if (operation, case[0]) not in UNLISTED
    ],
)
def test_service_errors_over_the_wire(
    local: LocalRuntime,
    smr: Client,
    code: str,
    cls: type[smr_pkg.ServiceError],
    status: int,
    operation: str,
) -> None:
    custom = code == "SomethingNew"  # in no model: sent only when asked for explicitly
    local.add_endpoint("ep", faults=[ErrorResponse(code, message="it failed", custom=custom)])
    with pytest.raises(cls) as info:
        call(smr, operation, "ep")
    error = info.value
    assert type(error) is cls
    assert error.code == code
    assert error.http_status == status
    assert error.request_id == local.requests[-1].request_id
    assert error.operation is not None
    assert isinstance(error.__cause__, bce.ClientError)
    assert len(local.requests) == 1, "not retried"


def test_model_error_fields(local: LocalRuntime, smr: Client) -> None:
    local.add_endpoint(
        "ep",
        faults=[
            ErrorResponse("ModelError", message="bad input", fields={"OriginalStatusCode": 400})
        ],
    )
    with pytest.raises(smr_pkg.ModelError) as info:
        smr.invoke("ep", b"{}")
    error = info.value
    assert error.original_status_code == 400
    assert error.original_message == "bad input"
    assert error.log_stream_arn is not None
    assert error.log_stream_arn.startswith("arn:aws:logs:")
    assert error.error_code is not None


def test_handler_exception_is_a_model_error(local: LocalRuntime, smr: Client) -> None:
    def broken(request: InvocationRequest) -> bytes:
        raise RuntimeError("container crashed")

    local.add_endpoint("ep", broken)
    with pytest.raises(smr_pkg.ModelError) as info:
        smr.invoke("ep", b"{}")
    assert info.value.original_status_code == 500
    assert info.value.original_message == "container crashed"


def test_validation_sub_code_is_kept(local: LocalRuntime, smr: Client) -> None:
    """botocore drops ErrorCode; the facade keeps it."""
    local.add_endpoint(
        "ep",
        faults=[
            ErrorResponse(
                "ValidationError",
                message="Inference Component Name header is required",
                fields={"ErrorCode": "INFERENCE_COMPONENT_NAME_MISSING"},
            )
        ],
    )
    with pytest.raises(smr_pkg.ValidationError) as info:
        smr.invoke("ep", b"{}")
    assert info.value.error_code == "INFERENCE_COMPONENT_NAME_MISSING"
    assert not isinstance(info.value, smr_pkg.EndpointNotFoundError)


@pytest.mark.parametrize("operation", ["invoke", "stream", "invoke_async"])
def test_unknown_endpoint(smr: Client, operation: str) -> None:
    with pytest.raises(smr_pkg.EndpointNotFoundError) as info:
        call(smr, operation, "missing")
    assert "missing" in info.value.message


def test_html_gateway_error(local: LocalRuntime, smr: Client) -> None:
    local.add_endpoint("ep", faults=[RawResponse(502, b"<html>Bad Gateway</html>")])
    with pytest.raises(smr_pkg.ServiceError) as info:
        smr.invoke("ep", b"{}")
    assert type(info.value) is smr_pkg.ServiceError
    assert info.value.code == "502"
    assert len(local.requests) == 1


# --- retries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["ThrottlingException", "ModelNotReadyException", "InternalFailure", "ServiceUnavailable"],
)
@pytest.mark.parametrize("operation", ["invoke", "stream"])
def test_transient_errors_are_retried(
    local: LocalRuntime, smr: Client, code: str, operation: str
) -> None:
    """ModelNotReady is retried on InvokeEndpoint too, unlike botocore's standard mode."""
    # The stream's model does not list ModelNotReadyException; ``custom`` sends it anyway,
    # to prove that the policy retries it whatever the operation.
    custom = operation == "stream" and code == "ModelNotReadyException"
    local.add_endpoint("ep", faults=[ErrorResponse(code, times=2, custom=custom)])
    if operation == "invoke":
        result = smr.invoke("ep", b"{}")
        assert result["response_metadata"]["retry_attempts"] == 2
    else:
        with smr.stream("ep", b"{}") as stream:
            assert stream.read() == b"{}"
            assert stream.metadata["response_metadata"]["retry_attempts"] == 2
    assert len(local.requests) == 3


def test_retries_give_up_after_max_attempts(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("ep", faults=[ErrorResponse("ThrottlingException")])
    policy = RetryPolicy(max_attempts=4, initial_backoff=0)
    with clients.local(retry=policy) as smr, pytest.raises(smr_pkg.ThrottlingError) as info:
        smr.invoke("ep", b"{}")
    assert info.value.retryable
    assert len(local.requests) == 4


def test_model_not_ready_retry_can_be_switched_off(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("ep", faults=[ErrorResponse("ModelNotReadyException", times=1)])
    policy = RetryPolicy(initial_backoff=0, retry_model_not_ready=False)
    with clients.local(retry=policy) as smr, pytest.raises(smr_pkg.ModelNotReadyError):
        smr.invoke("ep", b"{}")
    assert len(local.requests) == 1


def test_botocore_retry_config_sets_the_attempts(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("ep", faults=[ErrorResponse("ServiceUnavailable")])
    config = Config(retries={"mode": "legacy", "total_max_attempts": 2})
    with (
        clients.build(
            endpoint_url=local.endpoint_url, region_name="us-east-1", config=config
        ) as smr,
        pytest.raises(smr_pkg.ServiceUnavailableError),
    ):
        smr.invoke("ep", b"{}")
    assert len(local.requests) == 2


def test_file_body_is_rewound_for_a_retry(local: LocalRuntime, smr: Client) -> None:
    local.add_endpoint("ep", faults=[ErrorResponse("ThrottlingException", times=1)])
    body = io.BytesIO(b"prefix-payload")
    body.seek(len(b"prefix-"))
    assert smr.invoke("ep", body)["body"] == b"payload"
    assert [r.body for r in local.requests] == [b"payload", b"payload"]


def test_read_timeout_is_not_retried(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("slow", faults=[Stall(30)])
    config = Config(read_timeout=0.3, connect_timeout=1)
    policy = RetryPolicy(initial_backoff=0)
    with (
        clients.local(config=config, retry=policy) as smr,
        pytest.raises(smr_pkg.TimeoutError) as info,
    ):
        smr.invoke("slow", b"{}")
    assert isinstance(info.value, TimeoutError)
    assert "may still be running" in info.value.message
    assert isinstance(info.value.__cause__, bce.ReadTimeoutError)
    assert len(local.requests) == 1


def test_read_timeout_retry_is_opt_in(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("slow", faults=[Stall(30, times=1)])
    config = Config(read_timeout=0.3)
    policy = RetryPolicy(initial_backoff=0, retry_read_timeouts=True)
    with clients.local(config=config, retry=policy) as smr:
        assert smr.invoke("slow", b"ok")["body"] == b"ok"
    assert len(local.requests) == 2


def test_reset_before_response_is_not_retried(local: LocalRuntime, smr: Client) -> None:
    """The request reached the server, so the model may have run: no retry."""
    local.add_endpoint("ep", faults=[ConnectionReset()])
    with pytest.raises(smr_pkg.TransportError) as info:
        smr.invoke("ep", b"{}")
    assert not info.value.retryable
    assert len(local.requests) == 1


def test_reset_mid_body(local: LocalRuntime, smr: Client) -> None:
    local.add_endpoint(
        "ep", lambda request: b"x" * 100_000, faults=[ConnectionReset(after_parts=1)]
    )
    with pytest.raises(smr_pkg.TransportError):
        smr.invoke("ep", b"{}")


def test_connection_refused_is_a_retryable_transport_error(clients: Clients) -> None:
    with LocalRuntime() as stopped:
        url = stopped.endpoint_url
    policy = RetryPolicy(max_attempts=2, initial_backoff=0)
    with (
        clients.build(endpoint_url=url, region_name="us-east-1", retry=policy) as smr,
        pytest.raises(smr_pkg.TransportError) as info,
    ):
        smr.invoke("echo", b"{}")
    assert info.value.retryable
    assert isinstance(info.value.__cause__, bce.EndpointConnectionError)


# --- construction ---------------------------------------------------------------------


def test_wrapping_an_existing_client(local: LocalRuntime) -> None:
    raw = local.boto3_client()
    smr = SageMakerRuntime(client=raw)
    assert smr.client is raw
    assert smr.retry.max_attempts == 1, "a wrapped client keeps its own retries"
    local.add_endpoint("ep", faults=[ErrorResponse("ValidationError", fields={"ErrorCode": "X"})])
    with pytest.raises(smr_pkg.ValidationError) as info:
        smr.invoke("ep", b"{}")
    assert info.value.error_code == "X"
    smr.close()
    assert smr.invoke("echo", b"still open")["body"] == b"still open"


def test_client_and_build_options_are_exclusive(local: LocalRuntime, clients: Clients) -> None:
    with pytest.raises(ClientValidationError, match="region_name"):
        clients.build(client=local.boto3_client(), region_name="eu-west-1")


def test_default_construction_uses_the_environment(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch, clients: Clients
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", local.endpoint_url)
    with clients.build() as smr:
        assert smr.client.meta.region_name == "us-east-1"
        assert smr.invoke("echo", b"env")["body"] == b"env"
        assert smr.retry == RetryPolicy()


def test_no_region_is_a_validation_error(monkeypatch: pytest.MonkeyPatch, clients: Clients) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ClientValidationError) as info:
        clients.build()
    assert info.value.field == "region_name"


def test_session_construction(local: LocalRuntime, clients: Clients) -> None:
    session = clients.session("eu-west-1")
    with clients.build(session=session, endpoint_url=local.endpoint_url) as smr:
        assert smr.client.meta.region_name == "eu-west-1"
        assert smr.invoke("echo", b"s")["body"] == b"s"


def test_repr_names_region_and_endpoint(smr: Client, local: LocalRuntime) -> None:
    assert local.endpoint_url in repr(smr)


def test_connection_is_reused_between_invokes(local: LocalRuntime, smr: Client) -> None:
    for _ in range(5):
        smr.invoke("echo", b"x")
    assert local.connections_opened == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"region_name": "us east 1"}, "region_name"),
        ({"endpoint_url": "not a url"}, None),
    ],
)
def test_bad_construction_options_are_validation_errors(
    options: dict[str, str], field: str | None
) -> None:
    with pytest.raises(ClientValidationError) as info:
        SageMakerRuntime(**options)
    assert info.value.field == field

"""Argument building and validation, against the installed botocore service model."""

from __future__ import annotations

import io
from typing import Any

import botocore.session
import pytest

from _models import INLINE_ASYNC_BODY, SESSIONS
from _twins import Clients
from typed_sagemaker_runtime import ClientValidationError
from typed_sagemaker_runtime._core._body_window import BodyWindow
from typed_sagemaker_runtime._core._params import build_params
from typed_sagemaker_runtime.testing import LocalRuntime

MODEL = botocore.session.get_session().get_service_model("sagemaker-runtime")


def build(operation: str, **arguments: object) -> dict[str, Any]:
    arguments.setdefault("endpoint_name", "my-endpoint")
    return build_params(MODEL.operation_model(operation), arguments)


def rejected(operation: str, **arguments: object) -> ClientValidationError:
    with pytest.raises(ClientValidationError) as info:
        build(operation, **arguments)
    return info.value


def test_none_arguments_are_not_sent() -> None:
    assert build("InvokeEndpoint", body=b"x", accept=None) == {
        "EndpointName": "my-endpoint",
        "Body": b"x",
    }


@SESSIONS
def test_every_invoke_argument_maps_to_its_member() -> None:
    params = build(
        "InvokeEndpoint",
        body="héllo",
        content_type="text/plain",
        accept="application/json",
        custom_attributes="trace=1",
        target_model="model.tar.gz",
        target_variant="v1",
        target_container_hostname="c1",
        inference_id="id-1",
        enable_explanations="`true`",
        inference_component_name="ic-1",
        session_id="NEW_SESSION",
    )
    assert params == {
        "EndpointName": "my-endpoint",
        "Body": "héllo".encode(),
        "ContentType": "text/plain",
        "Accept": "application/json",
        "CustomAttributes": "trace=1",
        "TargetModel": "model.tar.gz",
        "TargetVariant": "v1",
        "TargetContainerHostname": "c1",
        "InferenceId": "id-1",
        "EnableExplanations": "`true`",
        "InferenceComponentName": "ic-1",
        "SessionId": "NEW_SESSION",
    }


def test_json_is_serialised_compactly_with_a_json_content_type() -> None:
    params = build("InvokeEndpoint", json={"inputs": "é", "n": [1, 2]})
    assert params["Body"] == '{"inputs":"é","n":[1,2]}'.encode()
    assert params["ContentType"] == "application/json"


def test_json_keeps_an_explicit_content_type() -> None:
    params = build("InvokeEndpointWithResponseStream", json=[1], content_type="application/x")
    assert params["ContentType"] == "application/x"


def test_body_and_json_together_are_rejected() -> None:
    assert rejected("InvokeEndpoint", body=b"x", json={}).field == "json"


@pytest.mark.parametrize("value", [float("nan"), {1j: 2}, object()])
def test_unserialisable_json_is_rejected(value: object) -> None:
    error = rejected("InvokeEndpoint", json=value)
    assert error.field == "json"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "name", ["", "-lead", "trail-", "has_underscore", "a" * 64, "sp ace", "dot.ted"]
)
def test_bad_endpoint_names(name: str) -> None:
    assert rejected("InvokeEndpoint", endpoint_name=name, body=b"").field == "endpoint_name"


@pytest.mark.parametrize("name", ["a", "a-b", "a--b", "A1", "x" * 63])
def test_good_endpoint_names(name: str) -> None:
    assert build("InvokeEndpoint", endpoint_name=name, body=b"")["EndpointName"] == name


def test_body_over_the_real_time_limit() -> None:
    error = rejected("InvokeEndpoint", body=b"x" * (6 * 1024 * 1024 + 1))
    assert error.field == "body"
    assert "6,291,456" in error.message


def test_body_at_the_limit_is_accepted() -> None:
    assert len(build("InvokeEndpoint", body=bytearray(6 * 1024 * 1024))["Body"]) == 6 * 1024**2


def test_file_body_size_is_checked_from_its_position() -> None:
    body = io.BytesIO(b"x" * (6 * 1024 * 1024 + 10))
    body.seek(10)
    sent = build("InvokeEndpoint", body=body)["Body"]
    assert isinstance(sent, BodyWindow)  # sent from position 10, whoever rewinds it
    assert sent.tell() == 0
    assert body.tell() == 10
    body.seek(9)
    assert rejected("InvokeEndpoint", body=body).field == "body"


def test_memoryview_body_is_sent_as_bytes() -> None:
    assert build("InvokeEndpoint", body=memoryview(b"abc"))["Body"] == b"abc"


@pytest.mark.parametrize("body", [123, ["a"], {"a": 1}])
def test_wrong_body_type(body: object) -> None:
    error = rejected("InvokeEndpoint", body=body)
    assert error.field == "body"
    assert type(body).__name__ in error.message


@INLINE_ASYNC_BODY
def test_async_inline_body_limit() -> None:
    assert len(build("InvokeEndpointAsync", body=b"x" * 128_000)["Body"]) == 128_000
    error = rejected("InvokeEndpointAsync", body=b"x" * 128_001)
    assert error.field == "body"
    assert "128,000" in error.message


@pytest.mark.parametrize(
    "arguments",
    [{}, {"body": b"x", "input_location": "s3://b/k"}],
)
def test_async_needs_exactly_one_input(arguments: dict[str, object]) -> None:
    assert rejected("InvokeEndpointAsync", **arguments).field == "input_location"


@pytest.mark.parametrize("uri", ["b/k", "s3://bucket", "s3://bucket/", "https://x/y", "s3:///k"])
def test_input_location_must_be_an_s3_uri(uri: str) -> None:
    assert rejected("InvokeEndpointAsync", input_location=uri).field == "input_location"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_ttl_seconds", 59),
        ("request_ttl_seconds", 21601),
        ("invocation_timeout_seconds", 0),
        ("invocation_timeout_seconds", 3601),
        ("invocation_timeout_seconds", True),
        ("request_ttl_seconds", "60"),
    ],
)
def test_async_ranges_from_the_model(field: str, value: object) -> None:
    error = rejected("InvokeEndpointAsync", input_location="s3://b/k", **{field: value})
    assert error.field == field


def test_async_ranges_accept_bounds() -> None:
    params = build(
        "InvokeEndpointAsync",
        input_location="s3://b/in/k.json",
        request_ttl_seconds=21600,
        invocation_timeout_seconds=1,
    )
    assert params["RequestTTLSeconds"] == 21600
    assert params["InvocationTimeoutSeconds"] == 1


def test_custom_attributes_are_never_echoed() -> None:
    secret = "token=sëcret-value"
    error = rejected("InvokeEndpoint", custom_attributes=secret)
    assert error.field == "custom_attributes"
    assert "sëcret" not in str(error)
    assert "sëcret" not in repr(error)


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "nul\x00"])
def test_header_injection_is_rejected(value: str) -> None:
    assert rejected("InvokeEndpoint", accept=value).field == "accept"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("content_type", "x" * 1025),
        ("target_variant", "bad_variant"),
        ("inference_id", " leading-space"),
        ("inference_id", "x" * 65),
        ("target_model", ""),
        pytest.param("session_id", "NEW_SESSION!", marks=SESSIONS),
        ("accept", 5),
    ],
)
def test_model_constraints(field: str, value: object) -> None:
    assert rejected("InvokeEndpoint", **{field: value}).field == field


@SESSIONS
def test_stream_session_id_does_not_take_new_session() -> None:
    """The stream operation's model allows only existing session ids."""
    assert rejected("InvokeEndpointWithResponseStream", session_id="NEW_SESSION").field == (
        "session_id"
    )


def test_member_missing_from_the_model_names_the_botocore_needed() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    operation = model.operation_model("InvokeEndpointAsync")
    operation.input_shape.members.pop("Body", None)  # a botocore before 1.43.29 has none
    with pytest.raises(ClientValidationError, match=r"botocore >= 1\.43\.29") as info:
        build_params(operation, {"endpoint_name": "ep", "body": b"x"})
    assert info.value.field == "body"


def test_text_mode_files_are_rejected(tmp_path: Any) -> None:
    """botocore would fail later with a bare TypeError while signing."""
    assert rejected("InvokeEndpoint", body=io.StringIO("text")).field == "body"
    path = tmp_path / "body.json"
    path.write_text("{}")
    with open(path) as text_file:
        error = rejected("InvokeEndpoint", body=text_file)
    assert "binary mode" in error.message
    with open(path, "rb") as binary_file:
        assert build("InvokeEndpoint", body=binary_file)["Body"] is binary_file


@pytest.mark.parametrize("operation", ["InvokeEndpoint", "InvokeEndpointWithResponseStream"])
def test_a_missing_body_names_body_and_json(operation: str) -> None:
    """Not botocore's "Missing required parameter in input" (which once made ``field == "in"``)."""
    error = rejected(operation)
    assert error.field == "body"
    assert error.message.startswith("body: ")
    assert "body=" in error.message
    assert "json=" in error.message
    assert error.operation == operation


def test_the_async_operation_needs_no_body() -> None:
    assert build("InvokeEndpointAsync", input_location="s3://b/k") == {
        "EndpointName": "my-endpoint",
        "InputLocation": "s3://b/k",
    }


def test_every_required_member_is_checked_before_botocore() -> None:
    """Driven by the service model: a member it makes required is reported by its argument."""
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    operation = model.operation_model("InvokeEndpoint")
    operation.input_shape.metadata["required"] = ["EndpointName", "Body", "Accept"]
    with pytest.raises(ClientValidationError) as info:
        build_params(operation, {"endpoint_name": "ep", "body": b"x"})
    assert info.value.field == "accept"
    assert info.value.message == "accept: missing (InvokeEndpoint requires it)"


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_a_call_without_body_names_body_and_sends_nothing(
    local: LocalRuntime, clients: Clients, method: str
) -> None:
    client = clients.local()
    with pytest.raises(ClientValidationError) as caught:
        getattr(client, method)("echo")
    assert caught.value.field == "body"
    assert "body=" in str(caught.value)
    assert "json=" in str(caught.value)
    assert local.requests == []

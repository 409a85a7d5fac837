"""Mapping botocore's errors to ours: complete for the service model, most specific wins."""

from __future__ import annotations

import builtins
from typing import Any

import botocore.session
import pytest
from botocore import exceptions as bce
from botocore.validate import validate_parameters
from hypothesis import given, strategies as st

import typed_sagemaker_runtime as smr
from typed_sagemaker_runtime._core._errors import map_exception
from typed_sagemaker_runtime._core._service_errors import (
    MODELED_ERRORS,
    map_client_error,
    page_excerpt,
)

MODEL = botocore.session.get_session().get_service_model("sagemaker-runtime")
STREAM_EVENT_ERRORS = {"ModelStreamError", "InternalStreamFailure"}


def test_every_modeled_error_has_a_class() -> None:
    """A new error shape in botocore's model fails here until it gets a class."""
    modeled = {shape.name for shape in MODEL.error_shapes} - STREAM_EVENT_ERRORS
    assert modeled <= set(MODELED_ERRORS), modeled - set(MODELED_ERRORS)


def test_modeled_status_codes_match_the_classes() -> None:
    expected = {
        "ValidationError": (400, smr.ValidationError),
        "ModelError": (424, smr.ModelError),
        "ModelNotReadyException": (429, smr.ModelNotReadyError),
        "InternalFailure": (500, smr.InternalFailureError),
        "ServiceUnavailable": (503, smr.ServiceUnavailableError),
        "InternalDependencyException": (530, smr.InternalDependencyError),
    }
    for shape in MODEL.error_shapes:
        if shape.name in STREAM_EVENT_ERRORS:
            continue
        status, cls = expected[shape.name]
        assert shape.metadata["error"]["httpStatusCode"] == status
        assert MODELED_ERRORS[shape.name] is cls


def test_stream_event_shapes_still_carry_the_fields_we_decode() -> None:
    assert set(MODEL.shape_for("ModelStreamError").members) == {"Message", "ErrorCode"}
    assert set(MODEL.shape_for("InternalStreamFailure").members) == {"Message"}
    assert MODEL.shape_for("PayloadPart").members["Bytes"].serialization == {"eventpayload": True}


def client_error(code: str, status: int, **extra: Any) -> bce.ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"RequestId": "req-1", "HTTPStatusCode": status, "HTTPHeaders": {}},
        **extra,
    }
    return bce.ClientError(response, "InvokeEndpoint")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "cls", "retryable"),
    [
        ("ValidationError", 400, smr.ValidationError, False),
        ("ModelError", 424, smr.ModelError, False),
        ("ModelNotReadyException", 429, smr.ModelNotReadyError, True),
        ("ThrottlingException", 400, smr.ThrottlingError, True),
        ("ThrottlingException", 429, smr.ThrottlingError, True),
        ("InternalFailure", 500, smr.InternalFailureError, True),
        ("ServiceUnavailable", 503, smr.ServiceUnavailableError, True),
        ("InternalDependencyException", 530, smr.InternalDependencyError, False),
        ("AccessDeniedException", 403, smr.AccessDeniedError, False),
        ("UnrecognizedClientException", 403, smr.AccessDeniedError, False),
        ("InvalidSignatureException", 403, smr.AccessDeniedError, False),
        ("ExpiredTokenException", 403, smr.AccessDeniedError, False),
        ("SomethingElse", 403, smr.AccessDeniedError, False),
        ("502", 502, smr.ServiceError, False),
        ("503", 503, smr.ServiceUnavailableError, True),
        ("BrandNewError", 409, smr.ServiceError, False),
    ],
)
def test_code_and_status_map_to_a_class(
    code: str, status: int, cls: type[smr.ServiceError], retryable: bool
) -> None:
    error = map_client_error(client_error(code, status), "InvokeEndpoint")
    assert type(error) is cls
    assert error.code == code
    assert error.http_status == status
    assert error.request_id == "req-1"
    assert error.operation == "InvokeEndpoint"
    assert error.retryable is retryable
    assert error.response["Error"]["Code"] == code


def test_model_error_fields() -> None:
    error = map_client_error(
        client_error(
            "ModelError",
            424,
            OriginalStatusCode=400,
            OriginalMessage="bad input",
            LogStreamArn="arn:aws:logs:x",
            ErrorCode="CLIENT_ERROR_FROM_MODEL",
        ),
        "InvokeEndpoint",
    )
    assert isinstance(error, smr.ModelError)
    assert (error.original_status_code, error.original_message, error.log_stream_arn) == (
        400,
        "bad input",
        "arn:aws:logs:x",
    )
    assert error.error_code == "CLIENT_ERROR_FROM_MODEL"


def test_endpoint_not_found_is_a_validation_error() -> None:
    response: dict[str, Any] = {
        "Error": {"Code": "ValidationError", "Message": "Endpoint x of account 1 not found."},
        "ResponseMetadata": {"HTTPStatusCode": 400},
        "ErrorCode": "SOME_CODE",
    }
    error = map_client_error(bce.ClientError(response, "X"), "InvokeEndpoint")  # type: ignore[arg-type]
    assert isinstance(error, smr.EndpointNotFoundError)
    assert isinstance(error, smr.ValidationError)
    assert error.error_code == "SOME_CODE"


def test_timeouts() -> None:
    read = map_exception(
        bce.ReadTimeoutError(endpoint_url="http://x"), operation="InvokeEndpoint", read_timeout=60
    )
    assert isinstance(read, smr.TimeoutError)
    assert isinstance(read, builtins.TimeoutError)
    assert not read.retryable
    assert "may still be running" in read.message
    connect = map_exception(bce.ConnectTimeoutError(endpoint_url="http://x"), operation="X")
    assert isinstance(connect, smr.TimeoutError)
    assert connect.retryable


def test_transport_errors() -> None:
    refused = map_exception(bce.EndpointConnectionError(endpoint_url="http://x"), operation="X")
    assert type(refused) is smr.TransportError
    assert refused.retryable
    closed = map_exception(bce.ConnectionClosedError(endpoint_url="http://x"), operation="X")
    assert type(closed) is smr.TransportError
    assert not closed.retryable


def test_param_validation_error_does_not_echo_values() -> None:
    exc = bce.ParamValidationError(
        report="Invalid type for parameter CustomAttributes, value: s3cr3t, type: <class 'int'>"
    )
    mapped = map_exception(exc, operation="InvokeEndpoint")
    assert isinstance(mapped, smr.ClientValidationError)
    assert mapped.field == "custom_attributes"
    assert "s3cr3t" not in str(mapped)


def _botocore_rejects(
    operation: str, params: dict[str, Any], service: str = "sagemaker-runtime"
) -> bce.ParamValidationError:
    """The ParamValidationError botocore's own validator raises for ``params``."""
    model = botocore.session.get_session().get_service_model(service)
    with pytest.raises(bce.ParamValidationError) as caught:
        validate_parameters(params, model.operation_model(operation).input_shape)
    return caught.value


@pytest.mark.parametrize(
    ("operation", "params", "service", "fields", "message"),
    [
        (
            "InvokeEndpoint",
            {},
            "sagemaker-runtime",
            ["endpoint_name", "body"],
            "endpoint_name: missing required parameter; body: missing required parameter",
        ),
        (
            "InvokeEndpoint",
            {"EndpointName": "ep", "Body": b"", "Bogus": "v4lue"},
            "sagemaker-runtime",
            ["Bogus"],
            "Bogus: unknown parameter",
        ),
        (
            "InvokeEndpoint",
            {"EndpointName": "ep", "Body": 987654321},
            "sagemaker-runtime",
            ["body"],
            "body: invalid type",
        ),
        (
            "InvokeEndpointAsync",
            {"EndpointName": "ep", "InputLocation": "s3://b/k", "RequestTTLSeconds": 7},
            "sagemaker-runtime",
            ["request_ttl_seconds"],
            "request_ttl_seconds: invalid value",
        ),
        (
            "PutBucketTagging",
            {"Bucket": "b", "Tagging": {"TagSet": [{"Key": 123456789}]}},
            "s3",
            ["Tagging.TagSet[0].Value", "Tagging.TagSet[0].Key"],
            "Tagging.TagSet[0].Value: missing required parameter; "
            "Tagging.TagSet[0].Key: invalid type",
        ),
    ],
)
def test_botocore_parameter_reports_name_each_parameter(
    operation: str, params: dict[str, Any], service: str, fields: list[str], message: str
) -> None:
    """botocore's real report, one problem a line: names kept, values dropped."""
    exc = _botocore_rejects(operation, params, service)
    mapped = map_exception(exc, operation=operation)
    assert isinstance(mapped, smr.ClientValidationError)
    assert mapped.field == fields[0]
    assert mapped.message == f"{message} (botocore's parameter validation)"
    for value in ("987654321", "123456789", "v4lue", " 7"):
        assert value not in mapped.message


def test_an_unparsable_parameter_report_still_maps() -> None:
    mapped = map_exception(bce.ParamValidationError(report="something new"), operation="X")
    assert isinstance(mapped, smr.ClientValidationError)
    assert mapped.field is None
    assert "something new" not in mapped.message


def test_unrelated_exceptions_are_not_mapped() -> None:
    assert map_exception(KeyError("x"), operation="X") is None


def test_str_includes_the_request_id() -> None:
    error = map_client_error(client_error("ValidationError", 400), "InvokeEndpoint")
    assert str(error) == "ValidationError happened (request id: req-1)"


def test_tls_proxy_and_short_body_failures_are_transport_errors() -> None:
    """They are not EndpointConnectionErrors, yet are connection failures all the same."""
    failures = [
        bce.SSLError(endpoint_url="https://x", error="bad record mac"),
        bce.ProxyConnectionError(proxy_url="http://proxy", error="refused"),
        bce.IncompleteReadError(actual_bytes=1, expected_bytes=2),
    ]
    for failure in failures:
        mapped = map_exception(failure, operation="InvokeEndpoint")
        assert type(mapped) is smr.TransportError, failure


def test_urllib3_errors_botocore_does_not_wrap_are_mapped() -> None:
    """A TLS record failure in the middle of a body reaches us as urllib3's own SSLError."""
    from urllib3 import exceptions as u3e

    mapped = map_exception(u3e.SSLError("decryption failed"), operation="InvokeEndpoint")
    assert type(mapped) is smr.TransportError
    timeout = map_exception(u3e.ReadTimeoutError(None, "/", "timed out"), operation="X")
    assert type(timeout) is smr.TimeoutError


@given(st.text())
def test_a_page_excerpt_is_one_short_line(page: str) -> None:
    excerpt = page_excerpt(page)
    assert len(excerpt) <= 100
    assert excerpt == " ".join(excerpt.split())


@pytest.mark.parametrize(
    ("page", "excerpt"),
    [
        ("<html><head><TITLE>\n  502 Bad\n Gateway </TITLE></head></html>", "502 Bad Gateway"),
        ("<p>a &lt; b</p><script>var x = '<p>no</p>';</script><!-- hidden -->", "a < b"),
        ("plain text\r\nover lines", "plain text over lines"),
        ("<p>" + "word " * 50 + "</p>", ("word " * 20).strip()[:97].rstrip() + "..."),
    ],
)
def test_page_excerpts(page: str, excerpt: str) -> None:
    assert page_excerpt(page) == excerpt


def test_a_bodyless_status_is_not_called_a_proxy_page() -> None:
    """S3 answers HEAD with no body; botocore fills in the status and its phrase."""
    exc = bce.ClientError(
        {
            "Error": {"Code": "404", "Message": "Not Found"},
            "ResponseMetadata": {"HTTPStatusCode": 404, "HTTPHeaders": {}},
        },
        "HeadObject",
    )
    mapped = map_client_error(exc, "HeadObject")
    assert str(mapped) == "HeadObject failed with HTTP 404 Not Found"

"""A bidirectional stream's error responses become the library's exceptions (issue 21).

The status errors of the service model (400, 424 with its fields, 500, 503) and the generic
403/429 map onto the classes the other operations raise, with ``code`` the
``x-amzn-errortype`` value up to its first ``:``, ``http_status`` and ``request_id`` kept.
"""

from __future__ import annotations

import json

import pytest

from typed_sagemaker_runtime._core._bidi_response import http_error
from typed_sagemaker_runtime._core._exceptions import (
    AccessDeniedError,
    InternalFailureError,
    ModelError,
    ServiceError,
    ServiceUnavailableError,
    ThrottlingError,
    ValidationError,
)

NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker/"


def _headers(code: str | None) -> list[tuple[str, str]]:
    headers = [(":status", "400"), ("x-amzn-RequestId", "rid-1")]
    if code is not None:
        headers.append(("x-amzn-ErrorType", f"{code}:{NAMESPACE}"))
    return headers


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "InputValidationError", ValidationError),
        (403, "InvalidSignatureException", AccessDeniedError),
        (403, "AccessDeniedException", AccessDeniedError),
        (429, "ThrottlingException", ThrottlingError),
        (500, "InternalServerError", InternalFailureError),
        (503, "ServiceUnavailableError", ServiceUnavailableError),
    ],
)
def test_status_errors_map_onto_the_existing_classes(
    status: int, code: str, expected: type[ServiceError]
) -> None:
    error = http_error(status, _headers(code), json.dumps({"Message": "nope"}).encode())
    assert type(error) is expected or isinstance(error, expected)
    assert (error.code, error.http_status, error.request_id) == (code, status, "rid-1")


def test_a_424_keeps_the_model_error_fields() -> None:
    body = {
        "Message": "Received client error (400) from primary",
        "OriginalStatusCode": 400,
        "OriginalMessage": "bad audio",
        "LogStreamArn": "arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/ep",
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
    }
    error = http_error(424, _headers("ModelError"), json.dumps(body).encode())
    assert isinstance(error, ModelError)
    assert error.original_status_code == 400
    assert error.original_message == "bad audio"
    assert error.log_stream_arn == body["LogStreamArn"]
    assert error.error_code == "CLIENT_ERROR_FROM_MODEL"


def test_a_response_with_no_aws_error_code_is_classed_by_its_status() -> None:
    error = http_error(503, [], b"<html><title>Service Unavailable</title></html>")
    assert isinstance(error, ServiceUnavailableError)
    assert error.code == "503"

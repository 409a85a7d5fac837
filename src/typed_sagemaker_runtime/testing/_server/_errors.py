"""SageMaker Runtime error responses, shaped as the real service sends them."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .._codes import modelled_status
from .._faults import DEFAULT_ERROR_STATUS
from ._http import reason

_ERROR_TYPE_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker/"

# Modelled error shapes with a ``Message`` member: botocore copies it to the top level of
# ``e.response`` only when the body spells it ``Message``. The others use ``message``.
_CAPITALISED_MESSAGE = frozenset(
    {
        "ModelError",
        "ModelNotReadyException",
        "InternalFailure",
        "ServiceUnavailable",
        "InternalDependencyException",
    }
)

_DEFAULT_MESSAGES: Mapping[str, str] = {
    "ValidationError": "1 validation error detected.",
    "ModelNotReadyException": "Model for endpoint {endpoint} is not ready to serve requests.",
    "ThrottlingException": "Rate exceeded",
    "InternalFailure": "An internal failure occurred while processing the request.",
    "ServiceUnavailable": "Service is unavailable. Please retry.",
    "InternalDependencyException": "An internal dependency of the service failed.",
    "AccessDeniedException": (
        "User: arn:aws:iam::{account}:user/testing is not authorized to perform: "
        "sagemaker:InvokeEndpoint on resource: "
        "arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint}"
    ),
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "InvalidSignatureException": (
        "The request signature we calculated does not match the signature you provided."
    ),
    "ExpiredTokenException": "The security token included in the request is expired",
}


def error_status(code: str, status: int | None) -> int:
    """The HTTP status for an error code, unless one is given: the table's, the model's, 400."""
    if status is not None:
        return status
    return DEFAULT_ERROR_STATUS.get(code) or modelled_status(code) or 400


def error_headers(code: str) -> list[tuple[str, str]]:
    """The headers that carry an error code, as AWS JSON services send them."""
    return [
        ("x-amzn-ErrorType", f"{code}:{_ERROR_TYPE_NAMESPACE}"),
        ("Content-Type", "application/json"),
    ]


def error_body(
    code: str,
    message: str | None,
    fields: Mapping[str, object] | None,
    *,
    endpoint: str,
    region: str,
    account: str,
    container: str | None = None,
) -> bytes:
    """The JSON body of an error response; ``fields`` override the members built here."""
    body: dict[str, object]
    if code == "ModelError":
        body = model_error_fault_members(
            message, fields, endpoint=endpoint, region=region, account=account, container=container
        )
    else:
        if message is None:
            template = _DEFAULT_MESSAGES.get(code, code)
            message = template.format(endpoint=endpoint, region=region, account=account)
        key = "Message" if code in _CAPITALISED_MESSAGE else "message"
        body = {key: message}
    body.update(fields or {})
    return json.dumps(body).encode("utf-8")


def model_error_members(
    original_status: int,
    original_message: str,
    *,
    endpoint: str,
    region: str,
    account: str,
    container: str | None = None,
) -> dict[str, object]:
    """The members of a ``ModelError`` body for a model that answered ``original_status``."""
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    side = "client" if 400 <= original_status < 500 else "server"
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={group}"
    )
    return {
        "ErrorCode": f"{side.upper()}_ERROR_FROM_MODEL",
        "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:{group}",
        "OriginalMessage": original_message,
        "OriginalStatusCode": original_status,
        "Message": (
            f"Received {side} error ({original_status}) from {container or 'primary'} with "
            f'message "{original_message}". See {console} in account {account} for more '
            "information."
        ),
    }


def model_error_fault_members(
    message: str | None,
    fields: Mapping[str, object] | None,
    *,
    endpoint: str,
    region: str,
    account: str,
    container: str | None = None,
) -> dict[str, object]:
    """The ``ModelError`` members for an ``ErrorResponse("ModelError", ...)`` fault.

    ``message`` is the model's own (``OriginalMessage``); ``fields`` may set
    ``OriginalStatusCode`` (default 500) and ``OriginalMessage``.
    """
    extra = dict(fields or {})
    status = extra.get("OriginalStatusCode", 500)
    original_status = status if isinstance(status, int) else 500
    original_message = extra.get("OriginalMessage", message)
    return model_error_members(
        original_status,
        original_message if isinstance(original_message, str) else reason(original_status),
        endpoint=endpoint,
        region=region,
        account=account,
        container=container,
    )

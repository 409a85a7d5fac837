"""What an AWS error response means: the :class:`ServiceError` subclass and its message.

botocore's ``ClientError`` is mapped by its error code (the service model's, the
throttling and access-denied codes AWS uses across services), else by HTTP status;
a response without an AWS error code (a proxy's or another server's HTML page) keeps
one line of its page. Also the lines of botocore's parameter report. The dispatch
over every exception botocore raises is :func:`._errors.map_exception`.
"""

from __future__ import annotations

import html
import http
import re
from collections.abc import Mapping
from typing import Any

from botocore import exceptions as bce

from ._exceptions import (
    AccessDeniedError,
    EndpointNotFoundError,
    InternalDependencyError,
    InternalFailureError,
    ModelError,
    ModelNotReadyError,
    ServiceError,
    ServiceUnavailableError,
    ThrottlingError,
    ValidationError,
)
from ._params import argument_name

# Error codes from botocore's service model, with the class each maps to.
MODELED_ERRORS: Mapping[str, type[ServiceError]] = {
    "ValidationError": ValidationError,
    "ModelError": ModelError,
    "ModelNotReadyException": ModelNotReadyError,
    "InternalFailure": InternalFailureError,
    "ServiceUnavailable": ServiceUnavailableError,
    "InternalDependencyException": InternalDependencyError,
}

# Codes AWS uses for throttling across services (botocore's retry handler lists the same).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "MissingAuthenticationToken",
        "IncompleteSignature",
    }
)

# Failures the default retry policy treats as transient.
RETRYABLE_ERRORS: tuple[type[ServiceError], ...] = (
    ThrottlingError,
    ModelNotReadyError,
    InternalFailureError,
    ServiceUnavailableError,
)

_BY_STATUS: Mapping[int, type[ServiceError]] = {
    403: AccessDeniedError,
    500: InternalFailureError,
    503: ServiceUnavailableError,
}

# The lines of botocore's parameter report (botocore/validate.py), with the problem each
# names. Only the parameter's name is kept: the report also quotes values.
_PATH = r"[\w.\[\]]+"
_REPORT_LINES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(rf'^Missing required parameter in (?P<parent>{_PATH}): "(?P<name>\w+)"', re.M),
        "missing required parameter",
    ),
    (
        re.compile(rf'^Unknown parameter in (?P<parent>{_PATH}): "(?P<name>\w+)"', re.M),
        "unknown parameter",
    ),
    (
        re.compile(rf"^Invalid (?P<kind>type|value|length) for parameter (?P<name>{_PATH}),", re.M),
        "invalid {kind}",
    ),
    (re.compile(rf"^Invalid type for document parameter (?P<name>{_PATH}),", re.M), "invalid type"),
    (
        re.compile(rf"^Invalid parameter (?P<name>{_PATH}) must be json serializable", re.M),
        "not JSON-serialisable",
    ),
    (
        re.compile(
            rf"^Invalid number of parameters set for tagged union structure (?P<name>{_PATH})\.",
            re.M,
        ),
        "more than one member set",
    ),
    (
        re.compile(
            rf"^Must set one of the following keys for tagged union ?structure (?P<name>{_PATH}):",
            re.M,
        ),
        "no member set",
    ),
)

_ENDPOINT_NOT_FOUND = re.compile(r"Endpoint \S+ of account \S+ not found")


def service_error_class(code: str, status: int | None) -> type[ServiceError]:
    """The :class:`ServiceError` subclass for an AWS error code, else for the HTTP status."""
    if status == 403 or code in ACCESS_DENIED_CODES:
        return AccessDeniedError
    if code in THROTTLING_CODES:
        return ThrottlingError
    modeled = MODELED_ERRORS.get(code)
    if modeled is not None:
        return modeled
    if code.isdigit() and status is not None:
        # No AWS error code at all (e.g. an HTML page from a proxy): go by the status.
        return _BY_STATUS.get(status, ServiceError)
    return ServiceError


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_EXCERPT_LENGTH = 100


def page_excerpt(page: str) -> str:
    """A page's ``<title>``, or the start of its text, as one short line of plain text."""
    title = _TITLE.search(page)
    text = title.group(1) if title else _TAG.sub(" ", _INVISIBLE.sub(" ", page))
    line = " ".join(html.unescape(text).split())
    if len(line) > _EXCERPT_LENGTH:
        return line[: _EXCERPT_LENGTH - 3].rstrip() + "..."
    return line


def _error_text(operation: str, code: str, status: int | None, message: str | None) -> str:
    if not code.isdigit():
        return message or f"{operation} failed with {code} (HTTP {status})"
    # No AWS error code: botocore put the status there, and the body (if it kept one)
    # in the message. S3 answers HEAD requests that way; a proxy or another server
    # sends a page, often many lines of HTML: keep one line of it.
    try:
        reason = f" {http.HTTPStatus(status or 0).phrase}"
    except ValueError:
        reason = ""
    if not message or not message.strip() or message == reason.strip():
        return f"{operation} failed with HTTP {status}{reason}"  # no body, or botocore's stand-in
    excerpt = page_excerpt(message)
    text = (
        f"{operation}: HTTP {status}{reason}; not an AWS error response "
        "(a proxy, or the wrong endpoint_url?)"
    )
    # A title that says no more than the status line is not repeated.
    return text if excerpt in ("", reason.strip(), f"{status}{reason}") else f"{text}: {excerpt}"


def map_client_error(exc: bce.ClientError, operation: str) -> ServiceError:
    """Turn a botocore ``ClientError`` into the matching :class:`ServiceError`."""
    response: Mapping[str, Any] = exc.response
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    status = _int_or_none(meta.get("HTTPStatusCode"))
    message = _str_or_none(error.get("Message")) or _str_or_none(response.get("Message"))
    page = _str_or_none(error.get("Page"))  # a 5xx page botocore dropped (see _config._keep)
    cls = service_error_class(code, status)
    common: dict[str, Any] = {
        "code": code,
        "http_status": status,
        "response": response,
        "request_id": _str_or_none(meta.get("RequestId")),
        "operation": operation,
        "retryable": issubclass(cls, RETRYABLE_ERRORS),
    }
    text = _error_text(operation, code, status, page or message)
    sub_code = _str_or_none(response.get("ErrorCode"))
    if cls is ValidationError:
        if message and _ENDPOINT_NOT_FOUND.search(message):
            return EndpointNotFoundError(text, error_code=sub_code, **common)
        return ValidationError(text, error_code=sub_code, **common)
    if cls is ModelError:
        return ModelError(
            text,
            original_status_code=_int_or_none(response.get("OriginalStatusCode")),
            original_message=_str_or_none(response.get("OriginalMessage")),
            log_stream_arn=_str_or_none(response.get("LogStreamArn")),
            error_code=sub_code,
            **common,
        )
    return cls(text, **common)


def rejected_parameters(report: str) -> list[tuple[str, str]]:
    """``(parameter, problem)`` for each line of botocore's parameter report, in order.

    A top-level member is named by its Python argument (``"Body"`` -> ``"body"``); a
    nested one by its path (``"Tagging.TagSet[0].Key"``).
    """
    found: list[tuple[int, str, str]] = []
    for pattern, problem in _REPORT_LINES:
        for match in pattern.finditer(report):
            groups = match.groupdict()
            name = groups["name"]
            parent = groups.get("parent")
            if parent is not None and parent != "input":  # botocore's word for the top level
                name = f"{parent}.{name}"
            if "." not in name and "[" not in name:
                name = argument_name(name)
            found.append((match.start(), name, problem.format(kind=groups.get("kind"))))
    return [(name, problem) for _, name, problem in sorted(found)]

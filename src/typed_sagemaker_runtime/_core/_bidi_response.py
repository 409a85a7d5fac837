"""A bidirectional stream's error response as the library's exception, sans-I/O.

restJson1 names the error in the ``x-amzn-errortype`` header (``Code:namespace``), the body's
``__type`` or ``code`` being the fallback (docs ``bidi-protocol.md`` section 1). The response
is shaped as botocore would have parsed it and mapped with :func:`map_client_error`, so the
classes, ``code``, ``http_status``, ``request_id`` and the ``ModelError`` fields follow the
other three operations exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from botocore.exceptions import ClientError

from ._bidi_events import OPERATION
from ._exceptions import ServiceError
from ._service_errors import map_client_error

MAX_ERROR_BODY = 64 * 1024
"""How much of an error response's body is read; the rest is not needed."""

CLASSIC_NAMES = {
    "InputValidationError": "ValidationError",
    "InternalServerError": "InternalFailure",
    "ServiceUnavailableError": "ServiceUnavailable",
}
"""The HTTP2 service model's error names, and the classic service's names for the same errors
(which choose the class); ``ModelError`` is spelled alike. ``code`` keeps the name sent."""


def _code(error_type: str | None, document: dict[str, Any], status: int) -> str:
    for candidate in (error_type, document.get("__type"), document.get("code")):
        if isinstance(candidate, str) and candidate:
            # "Code:namespace" in the header; "namespace#Code" in some bodies.
            return candidate.split(":", 1)[0].rsplit("#", 1)[-1]
    return str(status)


def http_error(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> ServiceError:
    """The exception for a non-200 response to the stream's request."""
    lowered = {name.lower(): value for name, value in headers}
    try:
        parsed: object = json.loads(body[:MAX_ERROR_BODY] or b"{}")
    except (ValueError, UnicodeDecodeError):
        parsed = None
    document: dict[str, Any] = cast("dict[str, Any]", parsed) if isinstance(parsed, dict) else {}
    code = _code(lowered.get("x-amzn-errortype"), document, status)
    message = document.get("Message", document.get("message"))
    if not isinstance(message, str):
        message = body[:MAX_ERROR_BODY].decode("utf-8", "replace") if parsed is None else None
    response: dict[str, Any] = {
        **document,
        "Error": {"Code": CLASSIC_NAMES.get(code, code), "Message": message or ""},
        "ResponseMetadata": {
            "HTTPStatusCode": status,
            "RequestId": lowered.get("x-amzn-requestid"),
            "HTTPHeaders": lowered,
        },
    }
    error = map_client_error(ClientError(response, OPERATION), OPERATION)  # type: ignore[arg-type]
    error.code = code
    response["Error"]["Code"] = code
    return error

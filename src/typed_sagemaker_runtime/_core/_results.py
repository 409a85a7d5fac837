"""Shaping botocore's parsed responses into the TypedDict results, sans-I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._types import InvokeAsyncResult, InvokeResult, ResponseMetadata, StreamMetadata


def _text(parsed: Mapping[str, Any], key: str) -> str | None:
    value = parsed.get(key)
    return value if isinstance(value, str) else None


def response_metadata(parsed: Mapping[str, Any], retry_attempts: int) -> ResponseMetadata:
    """Shape botocore's ``ResponseMetadata``; ``retry_attempts`` counts the facade's retries."""
    meta: Mapping[str, Any] = parsed.get("ResponseMetadata") or {}
    headers: Mapping[str, Any] = meta.get("HTTPHeaders") or {}
    return {
        "request_id": meta.get("RequestId") or None,
        "http_status_code": int(meta.get("HTTPStatusCode", 0)),
        "http_headers": {str(k): str(v) for k, v in headers.items()},
        "retry_attempts": retry_attempts + int(meta.get("RetryAttempts", 0)),
    }


def invoke_result(parsed: Mapping[str, Any], body: bytes, retry_attempts: int) -> InvokeResult:
    """Shape an InvokeEndpoint response whose body was already read."""
    return {
        "body": body,
        "content_type": _text(parsed, "ContentType"),
        "invoked_production_variant": _text(parsed, "InvokedProductionVariant"),
        "custom_attributes": _text(parsed, "CustomAttributes"),
        "new_session_id": _text(parsed, "NewSessionId"),
        "closed_session_id": _text(parsed, "ClosedSessionId"),
        "response_metadata": response_metadata(parsed, retry_attempts),
    }


def invoke_async_result(parsed: Mapping[str, Any], retry_attempts: int) -> InvokeAsyncResult:
    """Shape an InvokeEndpointAsync response."""
    return {
        "inference_id": _text(parsed, "InferenceId"),
        "output_location": _text(parsed, "OutputLocation"),
        "failure_location": _text(parsed, "FailureLocation"),
        "response_metadata": response_metadata(parsed, retry_attempts),
    }


def stream_metadata(parsed: Mapping[str, Any], retry_attempts: int) -> StreamMetadata:
    """Shape the headers of an InvokeEndpointWithResponseStream response."""
    return {
        "content_type": _text(parsed, "ContentType"),
        "invoked_production_variant": _text(parsed, "InvokedProductionVariant"),
        "custom_attributes": _text(parsed, "CustomAttributes"),
        "response_metadata": response_metadata(parsed, retry_attempts),
    }

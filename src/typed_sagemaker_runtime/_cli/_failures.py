"""How a failure reads on the command line: one line with the command line's option names,
and its exit status."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._core._errors import PROFILE_HINT
from .._core._exceptions import (
    ClientValidationError,
    CredentialsError,
    SageMakerRuntimeError,
    ServiceError,
)

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "describe",
    "exit_status",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell shows for a tool that SIGPIPE ended


# The Python arguments a message can name, as the command line spells them.
_OPTIONS: Mapping[str, str] = {
    "region_name": "--region",
    "endpoint_url": "--endpoint-url",
    "read_timeout": "--read-timeout",
    "max_attempts": "--max-attempts",
    "endpoint_name": "ENDPOINT",
    "body": "BODY",
    "content_type": "--content-type",
    "accept": "--accept",
    "custom_attributes": "--custom-attributes",
    "target_model": "--target-model",
    "target_variant": "--target-variant",
    "target_container_hostname": "--target-container-hostname",
    "inference_id": "--inference-id",
    "inference_component_name": "--inference-component",
    "session_id": "--session-id",
    "input_location": "--input",
    "request_ttl_seconds": "--request-ttl",
    "invocation_timeout_seconds": "--invocation-timeout",
    "model_invocation_path": "--model-invocation-path",
    "model_query_string": "--model-query-string",
    "bidi_endpoint_url": "--bidi-endpoint-url",
}
# Python spellings inside messages, as whole phrases first.
_PHRASES: Mapping[str, str] = {
    PROFILE_HINT: "--profile NAME",
    "region_name=": "--region REGION",
    "read_timeout in botocore.config.Config": "--read-timeout",
}
# Only names with an underscore are replaced inside a message: "body" is also a word.
_ARGUMENT_WORDS = re.compile(r"\b(" + "|".join(name for name in _OPTIONS if "_" in name) + r")\b")


def _command_line_message(exc: SageMakerRuntimeError) -> str:
    """``exc.message`` naming the command line's options instead of Python arguments."""
    message = exc.message
    field = exc.field if isinstance(exc, ClientValidationError) else None
    option = _OPTIONS.get(field) if field is not None else None
    if option is not None and message.startswith(f"{field}: "):
        message = f"{option}: {message.removeprefix(f'{field}: ')}"
    for python, command_line in _PHRASES.items():
        message = message.replace(python, command_line)
    return _ARGUMENT_WORDS.sub(lambda match: _OPTIONS[match.group(1)], message)


def describe(exc: SageMakerRuntimeError) -> str:
    """``smr: error: <class> code=... status=... request_id=...: <message>``."""
    parts = [type(exc).__name__]
    if isinstance(exc, ServiceError):
        parts.append(f"code={exc.code}")
        if exc.http_status is not None:
            parts.append(f"status={exc.http_status}")
    error_code = getattr(exc, "error_code", None)
    if isinstance(error_code, str):
        parts.append(f"error_code={error_code}")
    if exc.request_id:
        parts.append(f"request_id={exc.request_id}")
    return f"smr: error: {' '.join(parts)}: {_command_line_message(exc)}"


def exit_status(exc: SageMakerRuntimeError) -> int:
    """2 when nothing was sent (the request or the set-up was refused), else 1."""
    return (
        EXIT_USAGE if isinstance(exc, (ClientValidationError, CredentialsError)) else EXIT_FAILURE
    )

"""Building and validating request parameters, sans-I/O.

Arguments left ``None`` are not sent. Every check runs before a request is made and
raises :class:`ClientValidationError` naming the argument. Limits come from the
service model of the installed botocore, so a newer model brings newer limits; a
member the installed model does not have is reported, never sent blindly.
Messages never contain body bytes or custom attributes.
"""

from __future__ import annotations

import io
import json as jsonlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import botocore
from botocore.model import OperationModel, Shape

from ._body_window import windowed
from ._exceptions import ClientValidationError
from ._types import Operation

# Python argument name -> service model member name.
_MEMBERS: Mapping[str, str] = {
    "endpoint_name": "EndpointName",
    "body": "Body",
    "content_type": "ContentType",
    "accept": "Accept",
    "custom_attributes": "CustomAttributes",
    "target_model": "TargetModel",
    "target_variant": "TargetVariant",
    "target_container_hostname": "TargetContainerHostname",
    "inference_id": "InferenceId",
    "enable_explanations": "EnableExplanations",
    "inference_component_name": "InferenceComponentName",
    "session_id": "SessionId",
    "input_location": "InputLocation",
    "request_ttl_seconds": "RequestTTLSeconds",
    "invocation_timeout_seconds": "InvocationTimeoutSeconds",
    "s3_output_path_extension": "S3OutputPathExtension",
    "filename": "Filename",
}

_ARGUMENTS: Mapping[str, str] = {member: name for name, member in _MEMBERS.items()}

# The first botocore release whose model has a member, for the upgrade hint.
_ADDED_IN: Mapping[tuple[str, str], str] = {
    ("InvokeEndpoint", "SessionId"): "1.35.15",
    ("InvokeEndpointWithResponseStream", "SessionId"): "1.35.15",
    ("InvokeEndpointAsync", "S3OutputPathExtension"): "1.42.54",
    ("InvokeEndpointAsync", "Filename"): "1.42.54",
    ("InvokeEndpointAsync", "Body"): "1.43.29",
}

_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_S3_URI = re.compile(r"s3://([^/]+)/(.+)")
_SENSITIVE = frozenset({"custom_attributes"})
_HEADER_BREAK = re.compile("[\r\n\x00]")

# The model writes Java regexes; these are the ones it uses, in Python.
_PATTERNS: Mapping[str, re.Pattern[str] | None] = {
    r"\p{ASCII}*": re.compile(r"[\x00-\x7f]*"),
    r"\A\S[\p{Print}]*\z": re.compile(r"[\x21-\x7e][\x20-\x7e]*"),
    r".*": None,
}


def _pattern(java: str) -> re.Pattern[str] | None:
    if java in _PATTERNS:
        return _PATTERNS[java]
    try:
        return re.compile(java.removeprefix("^").removesuffix("$"))
    except re.error:
        return None


def _fail(field: str, message: str, operation: Operation) -> ClientValidationError:
    return ClientValidationError(f"{field}: {message}", field=field, operation=operation)


def _check_string(field: str, value: object, shape: Shape, operation: Operation) -> str:
    if not isinstance(value, str):
        raise _fail(field, f"expected str, got {type(value).__name__}", operation)
    minimum = shape.metadata.get("min", 0)
    maximum = shape.metadata.get("max")
    if len(value) < max(minimum, 1) or (maximum is not None and len(value) > maximum):
        bound = f"{max(minimum, 1)}-{maximum}" if maximum is not None else f">= {minimum}"
        raise _fail(field, f"length must be {bound} characters, got {len(value)}", operation)
    if _HEADER_BREAK.search(value) is not None:
        raise _fail(
            field, "must not contain line breaks or NUL (it is sent as an HTTP header)", operation
        )
    if not value.isascii():
        _check_encodable(field, value, operation)
    pattern = _pattern(shape.metadata.get("pattern", ".*"))
    if pattern is not None and pattern.fullmatch(value) is None:
        if field in _SENSITIVE:
            raise _fail(field, "must be printable ASCII", operation)
        raise _fail(field, f"{value!r} does not match {shape.metadata['pattern']}", operation)
    return value


def _check_encodable(field: str, value: str, operation: Operation) -> None:
    """Refuse a lone surrogate before a message could quote it or botocore choke on it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(
            field, "holds a lone surrogate (not valid Unicode, no UTF-8 encoding)", operation
        ) from exc


def _check_integer(field: str, value: object, shape: Shape, operation: Operation) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, f"expected int, got {type(value).__name__}", operation)
    minimum = shape.metadata.get("min")
    maximum = shape.metadata.get("max")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise _fail(field, f"must be between {minimum} and {maximum}, got {value}", operation)
    return value


def _body_size(body: Any) -> int | None:
    """Bytes left to send, or ``None`` for a stream whose size cannot be known up front."""
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
    seekable = getattr(body, "seekable", None)
    if callable(seekable) and seekable():
        try:
            position = body.tell()
            end = body.seek(0, io.SEEK_END)
            body.seek(position)
        except (OSError, ValueError):
            return None
        return int(end) - int(position)
    return None


def encode_body(field: str, body: object, operation: Operation) -> bytes | bytearray | Any:
    """Turn a ``Body`` argument into what botocore sends (``str`` becomes UTF-8 bytes)."""
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _fail(
                field, "holds a lone surrogate (not valid Unicode, no UTF-8 encoding)", operation
            ) from exc
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray):
        return bytes(body)  # aiobotocore's httpx backend sends bytes, not bytearray
    if isinstance(body, memoryview):
        return body.tobytes()  # botocore's validator accepts bytes-like objects only
    if callable(getattr(body, "read", None)):
        if isinstance(body, io.TextIOBase) or isinstance(body.read(0), str):  # type: ignore[attr-defined]
            raise _fail(field, "a text file was given: open it in binary mode ('rb')", operation)
        return windowed(body)
    raise _fail(
        field,
        f"expected bytes, bytearray, memoryview, str or a binary file object, "
        f"got {type(body).__name__}",
        operation,
    )


def json_bytes(field: str, value: object) -> bytes:
    """``value`` as compact UTF-8 JSON; :class:`ClientValidationError` naming ``field`` if not.

    Refused: what JSON cannot carry (bytes, NaN, infinity, a cycle, nesting deeper than
    Python's recursion limit) and a ``str`` with a lone surrogate, which is not Unicode
    text and has no UTF-8 encoding.
    """
    try:
        text = jsonlib.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        problem = "a string holds a lone surrogate (not valid Unicode, no UTF-8 encoding)"
        raise ClientValidationError(f"{field}: {problem}", field=field) from exc
    except (TypeError, ValueError) as exc:
        raise ClientValidationError(f"{field}: not JSON-serialisable: {exc}", field=field) from exc
    except RecursionError as exc:
        raise ClientValidationError(
            f"{field}: not JSON-serialisable: nested too deeply", field=field
        ) from exc


def encode_json(value: object, operation: Operation) -> bytes:
    """Serialise a ``json=`` argument as compact UTF-8 JSON."""
    try:
        return json_bytes("json", value)
    except ClientValidationError as exc:
        exc.operation = operation
        raise


def models_member(operation_model: OperationModel, member: str) -> bool:
    """Whether the installed botocore's service model has ``member`` in the operation's input.

    A member it lacks cannot be sent (botocore would reject it): the feature needs a
    newer botocore.
    """
    input_shape = operation_model.input_shape
    return input_shape is not None and member in input_shape.members


def _missing_member(field: str, operation: Operation, member: str) -> ClientValidationError:
    needed = _ADDED_IN.get((operation, member))
    upgrade = f"botocore >= {needed}" if needed else "a newer botocore"
    return _fail(
        field,
        f"needs {upgrade}: the installed botocore {botocore.__version__} does not model "
        f"{operation}.{member} (pip install -U boto3 botocore)",
        operation,
    )


def argument_name(member: str) -> str:
    """The Python argument of a service model member (``"Body"`` -> ``"body"``)."""
    return _ARGUMENTS.get(member, member)


def _check_required(
    members: Sequence[str], given: Mapping[str, object], operation: Operation
) -> None:
    for member in members:
        field = argument_name(member)
        if field in given:
            continue
        if field == "body":
            raise _fail(
                "body",
                "missing: pass the request payload as body= (bytes, str or a binary file) "
                "or json= (any JSON-serialisable value)",
                operation,
            )
        raise _fail(field, f"missing ({operation} requires it)", operation)


def build_params(
    operation_model: OperationModel, arguments: Mapping[str, object]
) -> dict[str, Any]:
    """Validate the method's arguments and return botocore's keyword arguments.

    ``arguments`` maps Python argument names to values; ``None`` values are dropped.
    ``json`` is serialised into ``Body`` with a JSON content type unless one was given.
    """
    operation: Operation = operation_model.name  # type: ignore[assignment]
    input_shape = operation_model.input_shape
    members: Mapping[str, Shape] = input_shape.members if input_shape is not None else {}
    values = {name: value for name, value in arguments.items() if value is not None}

    endpoint_name = values.get("endpoint_name")
    if not isinstance(endpoint_name, str):
        raise _fail("endpoint_name", "expected str", operation)
    if not 1 <= len(endpoint_name) <= 63 or _ENDPOINT_NAME.fullmatch(endpoint_name) is None:
        raise _fail(
            "endpoint_name",
            "must be 1-63 letters, digits and hyphens, starting and ending with a letter "
            f"or digit (got {endpoint_name[:70]!r})",
            operation,
        )

    if "json" in values:
        if "body" in values:
            raise _fail("json", "pass either body or json, not both", operation)
        values["body"] = encode_json(values.pop("json"), operation)
        values.setdefault("content_type", "application/json")

    if operation == "InvokeEndpointAsync" and ("input_location" in values) == ("body" in values):
        raise _fail(
            "input_location",
            "pass exactly one of input_location (an S3 URI) or an inline body",
            operation,
        )
    if "input_location" in values:
        location = values["input_location"]
        if not isinstance(location, str) or _S3_URI.fullmatch(location) is None:
            raise _fail("input_location", "must be an S3 URI: s3://bucket/key", operation)

    params: dict[str, Any] = {}
    for field, value in values.items():
        member = _MEMBERS[field]
        if not models_member(operation_model, member):
            raise _missing_member(field, operation, member)
        shape = members[member]
        if field == "endpoint_name":
            params[member] = value
        elif shape.type_name == "blob":
            body = encode_body(field, value, operation)
            size = _body_size(body)
            limit = shape.metadata.get("max")
            if size is not None and limit is not None and size > limit:
                hint = (
                    "; upload it to S3 and pass input_location (invoke_async_upload does both)"
                    if operation == "InvokeEndpointAsync"
                    else ""
                )
                raise _fail(
                    field,
                    f"{size:,} bytes is over the {limit:,}-byte limit of {operation}{hint}",
                    operation,
                )
            params[member] = body
        elif shape.type_name == "integer":
            params[member] = _check_integer(field, value, shape, operation)
        else:
            params[member] = _check_string(field, value, shape, operation)
    if input_shape is not None:
        _check_required(input_shape.required_members, values, operation)
    return params

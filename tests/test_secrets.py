"""Request bodies, custom attributes and credentials never show in reprs, errors or logs.

A full run against the local endpoint (invoke, stream, tokens, invoke_async, and their
error paths: validation errors, service errors, retries, stream error events, truncated
and corrupt frames, resets, timeouts, in-band generation errors) with secret markers in
the request body, the custom attributes and the credentials. Everything a user could
print or log is collected: results and their reprs, the stream objects, every exception
(``str``, ``repr``, its attributes and its chained causes), and every log record.

Scope of the logs: every record of the library's own loggers (``typed_sagemaker_runtime``
and ``typed_sagemaker_runtime.*``, the local endpoint included) at DEBUG, and records of
every other logger (botocore, boto3, urllib3, moto) at the levels they use by default
(WARNING and above). botocore's own DEBUG logging does print request bodies and headers
(``boto3.set_stream_logger("botocore")``); we cannot change botocore, so the test does
not turn it on, and checks instead that the library never turns it on itself (the
levels of those loggers are unchanged after the run).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime, SageMakerRuntimeError
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    CorruptFrame,
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    Stall,
    StreamErrorEvent,
    TruncatedFrame,
)

BODY = "body-SECRET-1b7e44"
ATTRIBUTES = "attributes-SECRET-93c1"
ACCESS_KEY = "AKIASECRETKEY7Q2XYZ"
SECRET_KEY = "secret-access-key-SECRET-d41d8"
SESSION_TOKEN = "session-token-SECRET-e3b0c4"
SECRETS = (BODY, ATTRIBUTES, ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
OTHER_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


class Capture(logging.Handler):
    """Keeps our records at any level and everybody else's at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        ours = record.name == "typed_sagemaker_runtime" or record.name.startswith(
            "typed_sagemaker_runtime."
        )
        if ours or record.levelno >= logging.WARNING:
            self.texts.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    ours = logging.getLogger("typed_sagemaker_runtime")
    level = ours.level
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        ours.setLevel(level)
        root.removeHandler(handler)


def handler(request: InvocationRequest) -> Any:
    """A model that answers without repeating what it was sent."""
    if request.operation == "InvokeEndpointWithResponseStream":
        return EndpointResponse(
            iter([b'data: {"token": {"text": "a"}}\n\n', b'data: {"token": {"text": "b"}}\n\n']),
            content_type="text/event-stream",
        )
    return b'{"answer": 42}'


def generation_error(_: InvocationRequest) -> Any:
    return EndpointResponse(
        iter([b'data: {"error": "the model ran out of memory"}\n\n']),
        content_type="text/event-stream",
    )


def texts_of(value: object) -> list[str]:
    """What printing or logging ``value`` can show: str, repr, traceback, causes.

    The attributes of our exceptions count too. Those of the botocore exception chained
    as the cause do not: e.g. ``ConnectionClosedError.request`` is botocore's prepared
    request, signed headers included, reachable but never printed.
    """
    texts = [str(value), repr(value)]
    if isinstance(value, BaseException):
        texts.append("".join(traceback.format_exception(value)))
        if isinstance(value, SageMakerRuntimeError):
            texts += [repr(attribute) for attribute in vars(value).values()]
        for linked in (value.__cause__, value.__context__):
            if linked is not None:
                texts += texts_of(linked)
    return texts


def test_secrets_never_leak(capture: Capture) -> None:
    levels = {name: logging.getLogger(name).level for name in OTHER_LOGGERS}
    seen: list[str] = []
    errors: list[str] = []

    def attempt(call: Any) -> None:
        try:
            result = call()
        except SageMakerRuntimeError as exc:
            errors.append(type(exc).__name__)
            seen.extend(texts_of(exc))
        else:
            seen.extend(texts_of(result))

    faults: dict[str, list[Any]] = {
        "ok": [],
        "model-error": [ErrorResponse("ModelError", message="the model failed")],
        "invalid": [ErrorResponse("ValidationError")],
        "flaky": [ErrorResponse("ServiceUnavailable", times=1)],
        "stream-error": [StreamErrorEvent(after_parts=1)],
        "truncated": [TruncatedFrame(after_parts=1, clean_end=False)],
        "corrupt": [CorruptFrame(after_parts=1)],
        "reset": [ConnectionReset()],
        "stall": [Stall(2.0, after_parts=1)],
    }
    with LocalRuntime() as local:
        for name, endpoint_faults in faults.items():
            local.add_endpoint(name, handler, faults=endpoint_faults)
        local.add_endpoint("generation-error", generation_error)
        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            aws_session_token=SESSION_TOKEN,
            region_name="us-east-1",
        )
        with SageMakerRuntime(
            session=session,
            endpoint_url=local.endpoint_url,
            config=Config(read_timeout=0.5, connect_timeout=2),
            retry=RetryPolicy(initial_backoff=0.0),
            s3_endpoint_url=lambda: local.s3_endpoint_url,
        ) as smr:
            seen.append(repr(smr))
            body = BODY.encode()

            # invoke: success, a retried 503, service errors, a missing endpoint
            for endpoint in ("ok", "flaky", "model-error", "invalid", "missing", "reset"):
                attempt(lambda e=endpoint: smr.invoke(e, body, custom_attributes=ATTRIBUTES))
            attempt(lambda: smr.invoke("ok", json={"prompt": BODY}, custom_attributes=ATTRIBUTES))

            # validation errors that see the secret values
            attempt(lambda: smr.invoke("bad name!", body, custom_attributes=ATTRIBUTES))
            attempt(lambda: smr.invoke("ok", body, custom_attributes=ATTRIBUTES + "\n"))
            attempt(lambda: smr.invoke("ok", body, custom_attributes="é" + ATTRIBUTES))
            attempt(lambda: smr.invoke("ok", body, custom_attributes=ATTRIBUTES * 100))
            attempt(lambda: smr.invoke("ok", BODY * 500_000))
            attempt(lambda: smr.invoke("ok", body, json={"prompt": BODY}))
            attempt(lambda: smr.invoke("ok", json={BODY: object()}))

            # streams: events, payloads, tokens, and every way a stream can fail
            def stream(endpoint: str, how: str) -> object:
                with smr.stream(endpoint, body, custom_attributes=ATTRIBUTES) as response:
                    seen.append(repr(response))
                    seen.append(repr(response.metadata))
                    if how == "events":
                        return list(response)
                    if how == "tokens":
                        return list(response.tokens())
                    return response.read()

            for endpoint in (*faults, "generation-error", "missing"):
                for how in ("events", "tokens", "read"):
                    attempt(lambda e=endpoint, h=how: stream(e, h))

            # async inference with an inline body
            attempt(lambda: smr.invoke_async("ok", body=body, custom_attributes=ATTRIBUTES))
            attempt(lambda: smr.invoke_async("ok", custom_attributes=ATTRIBUTES))
            local.wait_for_async_jobs()
            seen.extend(repr(request) for request in local.requests)

    seen.extend(capture.texts)
    for secret in SECRETS:
        leaks = [text for text in seen if secret in text]
        assert not leaks, f"{secret!r} leaked in: {leaks[:3]}"
    # The run went through the error paths it means to test.
    for name in (
        "ClientValidationError",
        "ModelError",
        "ValidationError",
        "EndpointNotFoundError",
        "ModelStreamInterruptedError",
        "StreamDecodeError",
        "TimeoutError",
        "TransportError",
        "GenerationError",
    ):
        assert name in errors, f"no {name} was raised"
    assert any("retrying InvokeEndpoint" in text for text in capture.texts)
    # The library never turns on botocore's (or urllib3's) debug logging.
    assert {name: logging.getLogger(name).level for name in OTHER_LOGGERS} == levels

"""The local SageMaker Runtime endpoint, driven by the unmodified boto3 stack.

Where botocore hides what is on the wire (the ``ErrorCode`` of stream error events, the
HTTP chunking, unmodelled error members), the test reads the raw response over loopback.
"""

from __future__ import annotations

import http.client
import inspect
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import botocore.eventstream
import botocore.session
import pytest
import urllib3
from botocore import exceptions as bce
from botocore.config import Config
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from _models import INLINE_ASYNC_BODY, OUTPUT_NAMING, SESSIONS
from typed_sagemaker_runtime._core._eventstream import EventDecoder, FrameDecoder
from typed_sagemaker_runtime.testing import (
    DEFAULT_ERROR_STATUS,
    ConnectionReset,
    CorruptFrame,
    EndpointResponse,
    ErrorResponse,
    Headers,
    InternalStreamFailure,
    InvocationRequest,
    LocalRuntime,
    ModelStreamError,
    PayloadPart,
    RawResponse,
    Stall,
    StreamErrorEvent,
    StreamEvent,
    StreamFailureEvent,
    TruncatedFrame,
    _plugin,
)

# The plugin's fixture, also when the package is not installed (no pytest11 entry point).
local_runtime = _plugin.local_runtime

SHORT_READ = 0.3  # read timeout for tests that expect one; never waited for otherwise
STREAM = "InvokeEndpointWithResponseStream"
REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _config(read_timeout: float = 10.0) -> Config:
    return Config(read_timeout=read_timeout, connect_timeout=5, retries={"total_max_attempts": 1})


@pytest.fixture(name="local")
def _local(local_runtime: LocalRuntime) -> LocalRuntime:
    return local_runtime


@pytest.fixture(name="raw")
def _raw(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    """A plain boto3 client without retries."""
    client = local.boto3_client(_config())
    yield client
    client.close()


@pytest.fixture(name="impatient")
def _impatient(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    """A plain boto3 client without retries and a short read timeout."""
    client = local.boto3_client(_config(SHORT_READ))
    yield client
    client.close()


def _three_parts(request: InvocationRequest) -> Iterator[bytes]:
    yield b"p1"
    yield b"p2"
    yield b"p3"


def _recording(calls: list[InvocationRequest]) -> Callable[[InvocationRequest], bytes]:
    """A handler that records its calls."""

    def handler(request: InvocationRequest) -> bytes:
        calls.append(request)
        return b""

    return handler


def _parsed(error: bce.ClientError) -> Any:
    """botocore's parsed error response (its stub type omits the modelled members)."""
    return error.response


def _consume(response: Any) -> tuple[list[bytes], BaseException | None]:
    """Iterate a raw boto3 stream; return the payloads and the exception that ended it."""
    payloads: list[bytes] = []
    try:
        for event in response["Body"]:
            payloads.append(event["PayloadPart"]["Bytes"])
    except Exception as exc:
        return payloads, exc
    finally:
        response["Body"].close()
    return payloads, None


def _post(
    local: LocalRuntime, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One raw HTTP request, bypassing botocore."""
    conn = http.client.HTTPConnection("127.0.0.1", local.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _wire_chunks(local: LocalRuntime, endpoint: str, body: bytes = b"x") -> list[bytes]:
    """The HTTP chunks of a stream response, one list item per chunk, as urllib3 reads them."""
    with urllib3.PoolManager() as pool:
        response = pool.request(
            "POST",
            f"{local.endpoint_url}/endpoints/{endpoint}/invocations-response-stream",
            body=body,
            preload_content=False,
        )
        try:
            assert response.status == 200
            return list(response.read_chunked())
        finally:
            response.release_conn()


def _wire_events(local: LocalRuntime, endpoint: str) -> list[StreamEvent]:
    decoder = EventDecoder()
    events = [event for chunk in _wire_chunks(local, endpoint) for event in decoder.feed(chunk)]
    decoder.finish()
    return events


# --- InvokeEndpoint -------------------------------------------------------------------


@SESSIONS
def test_invoke_sends_every_header_and_maps_the_response(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Every InvokeEndpoint parameter arrives; the response maps to botocore's output keys."""
    local.add_endpoint("echo")
    response = raw.invoke_endpoint(
        EndpointName="echo",
        Body=b'{"x": 1}',
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace=1",
        TargetModel="model-a.tar.gz",
        TargetVariant="blue",
        TargetContainerHostname="container-1",
        InferenceId="inference-1",
        EnableExplanations="`true`",
        InferenceComponentName="component-1",
        SessionId="NEW_SESSION",
    )
    assert response["Body"].read() == b'{"x": 1}'
    request = local.requests[-1]
    assert request.endpoint_name == "echo"
    assert request.operation == "InvokeEndpoint"
    assert request.body == b'{"x": 1}'
    assert request.json() == {"x": 1}
    assert request.content_type == "application/json"
    assert request.accept == "application/json"
    assert request.custom_attributes == "trace=1"
    assert request.target_model == "model-a.tar.gz"
    assert request.target_variant == "blue"
    assert request.target_container_hostname == "container-1"
    assert request.inference_id == "inference-1"
    assert request.enable_explanations == "`true`"
    assert request.inference_component_name == "component-1"
    assert request.session_id == "NEW_SESSION"
    assert request.input_location is None
    assert request.request_ttl_seconds is None
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "blue"
    assert re.fullmatch(
        r"[0-9a-f-]{36}; Expires=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", response["NewSessionId"]
    )
    assert response.get("CustomAttributes") is None
    assert response.get("ClosedSessionId") is None
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 200
    assert metadata["RequestId"] == request.request_id
    assert REQUEST_ID.match(request.request_id)
    assert "date" in metadata["HTTPHeaders"]


def test_unset_parameters_are_absent(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """Properties are None when the header was not sent; the variant defaults to AllTraffic."""
    local.add_endpoint("echo")
    response = raw.invoke_endpoint(EndpointName="echo", Body=b"x")
    request = local.requests[-1]
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response.get("NewSessionId") is None
    for name in (
        "accept",
        "custom_attributes",
        "target_model",
        "target_variant",
        "target_container_hostname",
        "inference_id",
        "enable_explanations",
        "inference_component_name",
        "session_id",
        "input_location",
        "request_ttl_seconds",
        "invocation_timeout_seconds",
    ):
        assert getattr(request, name) is None, name


@SESSIONS
def test_endpoint_response_sets_response_headers(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """EndpointResponse fields become ContentType, CustomAttributes, session ids, variant."""
    local.add_endpoint(
        "full",
        lambda request: EndpointResponse(
            "a,b\n",
            content_type="text/csv",
            custom_attributes="tokens=3",
            new_session_id="session-2",
            closed_session_id="session-1",
            invoked_production_variant="green",
        ),
        content_type="application/json",
    )
    response = raw.invoke_endpoint(EndpointName="full", Body=b"x", TargetVariant="blue")
    assert response["Body"].read() == b"a,b\n"
    assert response["ContentType"] == "text/csv"
    assert response["CustomAttributes"] == "tokens=3"
    assert response["NewSessionId"].startswith("session-2; Expires=")
    assert response["ClosedSessionId"] == "session-1"
    assert response["InvokedProductionVariant"] == "green"


@pytest.mark.parametrize(
    ("endpoint_type", "accept", "expected"),
    [
        ("text/plain", "application/json", "text/plain"),
        (None, "application/json", "application/json"),
        (None, "*/*", "application/octet-stream"),
        (None, "application/json, text/csv", "application/octet-stream"),
        (None, None, "application/octet-stream"),
    ],
)
def test_response_content_type_fallbacks(
    local: LocalRuntime,
    raw: SageMakerRuntimeClient,
    endpoint_type: str | None,
    accept: str | None,
    expected: str,
) -> None:
    """Handler's type, else the endpoint's, else a plain Accept, else octet-stream."""
    local.add_endpoint("ep", content_type=endpoint_type)
    kwargs = {"Accept": accept} if accept else {}
    assert raw.invoke_endpoint(EndpointName="ep", Body=b"x", **kwargs)["ContentType"] == expected
    stream = raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x", **kwargs)
    assert _consume(stream) == ([b"x"], None)
    assert stream["ContentType"] == expected


def test_invoke_joins_iterable_results(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """Bytes, UTF-8 text and PayloadPart chunks of a generator are joined."""

    def handler(request: InvocationRequest) -> Iterator[bytes | str | StreamEvent]:
        yield b"a"
        yield "\u00e9"
        yield PayloadPart(b"c")

    local.add_endpoint("gen", handler)
    assert raw.invoke_endpoint(EndpointName="gen", Body=b"x")["Body"].read() == b"a\xc3\xa9c"


def test_handler_exception_is_a_model_error(
    local: LocalRuntime, raw: SageMakerRuntimeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises gives SageMaker's 424 ModelError with OriginalStatusCode 500."""

    def broken(request: InvocationRequest) -> bytes:
        raise RuntimeError("model exploded")

    local.add_endpoint("broken", broken)
    with pytest.raises(raw.exceptions.ModelError) as caught:
        raw.invoke_endpoint(EndpointName="broken", Body=b"x")
    response: Any = caught.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 500
    assert response["OriginalMessage"] == "model exploded"
    assert response["LogStreamArn"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/broken"
    )
    assert response["Error"]["Message"] == (
        'Received server error (500) from primary with message "model exploded". See '
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#logEventViewer:group=/aws/sagemaker/Endpoints/broken in account 123456789012 "
        "for more information."
    )
    assert any("model exploded" in str(record.exc_info) for record in caplog.records)


@pytest.mark.parametrize("operation", ["invoke", "async", "stream"])
def test_unknown_endpoint_is_a_validation_error(
    local: LocalRuntime, raw: SageMakerRuntimeClient, operation: str
) -> None:
    """All three operations answer 400 ValidationError "Endpoint NAME of account ID not found."."""
    with pytest.raises(raw.exceptions.ValidationError) as caught:
        if operation == "invoke":
            raw.invoke_endpoint(EndpointName="missing", Body=b"x")
        elif operation == "async":
            raw.invoke_endpoint_async(EndpointName="missing", InputLocation="s3://b/k")
        else:
            raw.invoke_endpoint_with_response_stream(EndpointName="missing", Body=b"x")
    response: Any = caught.value.response
    assert response["Error"]["Message"] == "Endpoint missing of account 123456789012 not found."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert REQUEST_ID.match(response["ResponseMetadata"]["RequestId"])
    assert local.requests[-1].endpoint_name == "missing"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/endpoints/echo/other"),
        ("GET", "/endpoints/echo/invocations"),
        ("POST", "/ping"),
        ("POST", "/endpoints/echo/invocations/extra"),
    ],
)
def test_unknown_operation_is_404(local: LocalRuntime, method: str, path: str) -> None:
    """Anything but the three operations is a 404 UnknownOperationException."""
    local.add_endpoint("echo")
    conn = http.client.HTTPConnection("127.0.0.1", local.port, timeout=10)
    try:
        conn.request(method, path, body=b"x")
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 404
    assert response.headers["x-amzn-ErrorType"].startswith("UnknownOperationException:")
    assert "message" in body
    assert REQUEST_ID.match(response.headers["x-amzn-RequestId"])
    assert local.requests == []


def test_endpoint_name_is_url_decoded(local: LocalRuntime) -> None:
    """The name in the path is percent-decoded (botocore quotes it)."""
    local.add_endpoint("a b/c")
    status, _, body = _post(local, "/endpoints/a%20b%2Fc/invocations", b"hi")
    assert (status, body) == (200, b"hi")
    assert local.requests[-1].endpoint_name == "a b/c"


def test_replace_and_remove_endpoints(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """Adding again replaces the handler; a removed endpoint is not found."""
    local.add_endpoint("ep", lambda request: b"first")
    local.add_endpoint("ep", lambda request: b"second")
    assert raw.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"].read() == b"second"
    assert local.endpoint_names == ["ep"]
    local.remove_endpoint("ep")
    assert local.endpoint_names == []
    with pytest.raises(raw.exceptions.ValidationError):
        raw.invoke_endpoint(EndpointName="ep", Body=b"x")


def test_chunked_request_body(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """A file body of unknown length goes out chunked; the handler gets it whole."""

    class UnsizedFile:
        """Seekable for SigV4 hashing, but its length cannot be determined."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

        def tell(self) -> int:
            return self._data.tell()

        def seek(self, position: int, whence: int = 0) -> int:
            if whence != 0:
                raise io.UnsupportedOperation("no end")
            return self._data.seek(position)

    data = bytes(range(256)) * 300
    local.add_endpoint("echo")
    response = raw.invoke_endpoint(EndpointName="echo", Body=UnsizedFile(data))  # type: ignore[arg-type]
    assert local.requests[-1].headers["transfer-encoding"] == "chunked"
    assert local.requests[-1].body == data
    assert response["Body"].read() == data


def test_expect_100_continue(local: LocalRuntime) -> None:
    """A client that waits for ``100 Continue`` gets it before sending the body."""
    local.add_endpoint("echo")
    with socket.create_connection(("127.0.0.1", local.port), timeout=10) as sock:
        sock.sendall(
            b"POST /endpoints/echo/invocations HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reply.endswith(b"\r\n\r\nhello")


def test_malformed_request_gets_400_and_close(local: LocalRuntime) -> None:
    """Garbage instead of a request line: 400, then the server closes the connection."""
    with socket.create_connection(("127.0.0.1", local.port), timeout=10) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in reply
    assert b"\r\nx-amzn-RequestId: " in reply


def test_reprs_hide_bodies_and_custom_attributes(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Request, response and header reprs show sizes and presence, not sensitive values."""
    local.add_endpoint("echo")
    raw.invoke_endpoint(EndpointName="echo", Body=b"SECRET-BODY", CustomAttributes="SECRET-ATTR")
    request = local.requests[-1]
    for text in (repr(request), repr(request.headers), str(request)):
        assert "SECRET" not in text
    assert "<11 bytes>" in repr(request)
    assert "custom_attributes=<set>" in repr(request)
    assert "<redacted>" in repr(request.headers)
    response = EndpointResponse(b"SECRET-BODY", custom_attributes="SECRET-ATTR")
    assert "SECRET" not in repr(response)
    assert "<11 bytes>" in repr(response)


def test_headers_are_case_insensitive_and_read_only() -> None:
    """Lookups ignore case, iteration keeps the sent names, repeated headers are joined."""
    headers = Headers([("Content-Type", "a/b"), ("X-Dup", "1"), ("x-dup", "2")])
    assert headers["content-type"] == headers["CONTENT-TYPE"] == "a/b"
    assert "x-DUP" in headers
    anything: Any = headers
    assert 42 not in anything
    assert headers.get("missing") is None
    assert list(headers) == ["Content-Type", "X-Dup"]
    assert headers["X-Dup"] == "1, 2"
    assert len(headers) == 2
    assert Headers({"A": "1"}) == {"A": "1"}
    assert not hasattr(headers, "__setitem__")


# --- InvokeEndpointAsync --------------------------------------------------------------


@OUTPUT_NAMING
def test_async_sends_every_header_and_maps_the_response(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Async: 202, InferenceId in the body, output and failure locations in headers."""
    calls: list[InvocationRequest] = []
    local.add_endpoint("ep", _recording(calls))
    response = raw.invoke_endpoint_async(
        EndpointName="ep",
        InputLocation="s3://bucket/in/request.json",
        ContentType="application/json",
        Accept="text/csv",
        CustomAttributes="trace=2",
        InferenceId="inference-2",
        RequestTTLSeconds=600,
        InvocationTimeoutSeconds=120,
        S3OutputPathExtension="run-7",
        Filename="result.json",
    )
    request = local.requests[-1]
    assert request.operation == "InvokeEndpointAsync"
    assert request.input_location == "s3://bucket/in/request.json"
    assert request.content_type == "application/json"
    assert request.headers["X-Amzn-SageMaker-Content-Type"] == "application/json"
    assert request.accept == "text/csv"
    assert request.headers["X-Amzn-SageMaker-Accept"] == "text/csv"
    assert request.custom_attributes == "trace=2"
    assert request.inference_id == "inference-2"
    assert request.request_ttl_seconds == 600
    assert request.invocation_timeout_seconds == 120
    assert request.s3_output_path_extension == "run-7"
    assert request.filename == "result.json"
    assert request.body == b""
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["InferenceId"] == "inference-2"
    assert response["OutputLocation"] == "s3://local-sagemaker-async/ep/output/run-7/result.json"
    assert response["FailureLocation"] == (
        "s3://local-sagemaker-async/ep/failure/run-7/inference-2-error.out"
    )
    assert calls == []  # no such input object: the job fails before the model runs


def test_async_generates_an_inference_id(local: LocalRuntime) -> None:
    """Without an inference id the answer carries a fresh uuid; the bucket is configurable."""
    with LocalRuntime(async_bucket="my-bucket", account_id="000000000000") as other:
        other.add_endpoint("ep")
        client = other.boto3_client(_config())
        try:
            response = client.invoke_endpoint_async(EndpointName="ep", InputLocation="s3://b/k")
        finally:
            client.close()
    inference_id = response["InferenceId"]
    assert REQUEST_ID.match(inference_id)
    assert response["OutputLocation"] == f"s3://my-bucket/ep/output/{inference_id}.out"
    assert response["FailureLocation"] == f"s3://my-bucket/ep/failure/{inference_id}-error.out"


@INLINE_ASYNC_BODY
def test_async_inline_body(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """An inline body instead of an input location is accepted and recorded."""
    local.add_endpoint("ep")
    response = raw.invoke_endpoint_async(EndpointName="ep", Body=b'{"inline": true}')
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert local.requests[-1].json() == {"inline": True}


@INLINE_ASYNC_BODY
@pytest.mark.parametrize("inputs", ["both", "neither"])
def test_async_needs_exactly_one_input(
    local: LocalRuntime, raw: SageMakerRuntimeClient, inputs: str
) -> None:
    """InputLocation and a body together, or neither: ValidationError."""
    local.add_endpoint("ep")
    kwargs: dict[str, Any] = {}
    if inputs == "both":
        kwargs = {"InputLocation": "s3://b/k", "Body": b"x"}
    with pytest.raises(raw.exceptions.ValidationError) as caught:
        raw.invoke_endpoint_async(EndpointName="ep", **kwargs)
    assert "InputLocation" in _parsed(caught.value)["Error"]["Message"]


def test_async_rejects_non_integer_ttl(local: LocalRuntime) -> None:
    """A TTL header that is not an integer is a ValidationError."""
    local.add_endpoint("ep")
    status, headers, _ = _post(
        local,
        "/endpoints/ep/async-invocations",
        headers={
            "X-Amzn-SageMaker-InputLocation": "s3://b/k",
            "X-Amzn-SageMaker-RequestTTLSeconds": "soon",
        },
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"].startswith("ValidationError:")
    assert local.requests[-1].request_ttl_seconds is None


# --- InvokeEndpointWithResponseStream -------------------------------------------------


@SESSIONS
def test_stream_round_trip_through_botocore(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """botocore's EventStream decodes every frame; request headers and metadata map."""
    big = bytes(range(256)) * 400

    def handler(request: InvocationRequest) -> EndpointResponse:
        return EndpointResponse(
            [b"one", "tw\u00f6", PayloadPart(b"three"), PayloadPart(b""), big],
            custom_attributes="stream=1",
        )

    local.add_endpoint("gen", handler, content_type="application/jsonlines")
    response = raw.invoke_endpoint_with_response_stream(
        EndpointName="gen",
        Body=b"prompt",
        ContentType="application/json",
        Accept="application/jsonlines",
        CustomAttributes="c=1",
        TargetVariant="blue",
        TargetContainerHostname="container-2",
        InferenceId="inference-3",
        InferenceComponentName="component-2",
        SessionId="session-9",
    )
    assert response["ContentType"] == "application/jsonlines"
    assert response["InvokedProductionVariant"] == "blue"
    assert response["CustomAttributes"] == "stream=1"
    http_headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert http_headers["content-type"] == "application/vnd.amazon.eventstream"
    assert http_headers["transfer-encoding"] == "chunked"
    assert _consume(response) == ([b"one", "tw\u00f6".encode(), b"three", b"", big], None)
    request = local.requests[-1]
    assert request.operation == STREAM
    assert request.body == b"prompt"
    assert request.content_type == "application/json"
    assert request.accept == "application/jsonlines"
    assert request.headers["X-Amzn-SageMaker-Accept"] == "application/jsonlines"
    assert request.custom_attributes == "c=1"
    assert request.target_variant == "blue"
    assert request.target_container_hostname == "container-2"
    assert request.inference_id == "inference-3"
    assert request.inference_component_name == "component-2"
    assert request.session_id == "session-9"
    assert response["ResponseMetadata"]["RequestId"] == request.request_id


def test_each_event_is_its_own_http_chunk(local: LocalRuntime) -> None:
    """One frame per HTTP chunk, decodable by our decoder and in the wire format."""
    local.add_endpoint("gen", _three_parts)
    chunks = _wire_chunks(local, "gen")
    assert len(chunks) == 3
    for chunk, expected in zip(chunks, [b"p1", b"p2", b"p3"], strict=True):
        decoder = FrameDecoder()
        [(_, payload)] = decoder.feed(chunk)
        assert payload == expected
        assert decoder.buffered == 0


def test_packed_chunks(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """``max_chunk_bytes`` packs tiny events into few HTTP chunks; faults still strike on time."""
    local.add_endpoint(
        "packed", lambda request: [b"t%d" % i for i in range(1000)], max_chunk_bytes=16384
    )
    chunks = _wire_chunks(local, "packed")
    assert 2 <= len(chunks) <= 10
    assert all(len(chunk) >= 16384 for chunk in chunks[:-1])
    response = raw.invoke_endpoint_with_response_stream(EndpointName="packed", Body=b"x")
    assert _consume(response) == ([b"t%d" % i for i in range(1000)], None)
    local.add_endpoint(
        "faulty", _three_parts, max_chunk_bytes=16384, faults=[StreamErrorEvent(2, message="m")]
    )
    [chunk] = _wire_chunks(local, "faulty")
    assert EventDecoder().feed(chunk) == [
        PayloadPart(b"p1"),
        PayloadPart(b"p2"),
        ModelStreamError(message="m", error_code="ModelInvocationTimeExceeded"),
    ]
    with pytest.raises(ValueError, match="max_chunk_bytes"):
        local.add_endpoint("bad", max_chunk_bytes=0)


def test_responses_use_few_send_calls(
    local: LocalRuntime, raw: SageMakerRuntimeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Head and body go out in one send; a stream sends once per event plus its end."""
    sends: list[str] = []
    for name in ("send", "sendall", "sendmsg"):
        original = getattr(socket.socket, name)

        def counting(
            self: socket.socket, *args: Any, _name: str = name, _original: Any = original
        ) -> Any:
            if threading.current_thread().name.startswith("local-sagemaker-conn"):
                sends.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(socket.socket, name, counting)
    local.add_endpoint("echo")
    local.add_endpoint("gen", _three_parts)
    raw.invoke_endpoint(EndpointName="echo", Body=b"x" * 1000)["Body"].read()
    assert len(sends) == 1
    sends.clear()
    big = bytes(range(256)) * 4000
    assert raw.invoke_endpoint(EndpointName="echo", Body=big)["Body"].read() == big
    if hasattr(socket.socket, "sendmsg"):
        assert set(sends) == {"sendmsg"}  # scatter-gather: head and body, no copy of the body
    sends.clear()
    response = raw.invoke_endpoint_with_response_stream(EndpointName="gen", Body=b"x")
    assert _consume(response) == ([b"p1", b"p2", b"p3"], None)
    assert len(sends) == 4  # head + part 1, part 2, part 3, terminating chunk


def test_empty_stream(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """An empty body streams no event and ends cleanly."""
    local.add_endpoint("echo")
    response = raw.invoke_endpoint_with_response_stream(EndpointName="echo", Body=b"")
    assert _consume(response) == ([], None)


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (ModelStreamError(message="bad", error_code="CustomCode"), "ModelStreamError"),
        (InternalStreamFailure(message="bad"), "InternalStreamFailure"),
    ],
)
def test_error_event_from_handler_ends_the_stream(
    local: LocalRuntime,
    raw: SageMakerRuntimeClient,
    event: ModelStreamError | InternalStreamFailure,
    code: str,
) -> None:
    """A handler's error event is sent as the last event; the handler is closed."""
    closed = threading.Event()

    def handler(request: InvocationRequest) -> Iterator[bytes | StreamEvent]:
        try:
            yield b"a"
            yield event
            yield b"never sent"
        finally:
            closed.set()

    local.add_endpoint("gen", handler)
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="gen", Body=b"x")
    )
    assert payloads == [b"a"]
    assert isinstance(error, bce.EventStreamError)
    assert _parsed(error)["Error"] == {"Code": code, "Message": "bad"}
    assert closed.is_set()
    assert _wire_events(local, "gen") == [PayloadPart(b"a"), event]


def test_handler_failing_before_the_first_part_is_a_model_error(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Nothing sent yet: the stream call itself fails with ModelError 424."""

    def handler(request: InvocationRequest) -> Iterator[bytes]:
        if request.body:
            raise ValueError("no tokens today")
        yield b"unreachable"

    local.add_endpoint("gen", handler)
    with pytest.raises(raw.exceptions.ModelError) as caught:
        raw.invoke_endpoint_with_response_stream(EndpointName="gen", Body=b"x")
    assert _parsed(caught.value)["OriginalMessage"] == "no tokens today"


def test_handler_failing_mid_stream_sends_stream_broken(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Once parts were sent, an exception becomes a ModelStreamError event, code StreamBroken."""

    def handler(request: InvocationRequest) -> Iterator[bytes]:
        yield b"a"
        raise ValueError("lost the GPU")

    local.add_endpoint("gen", handler)
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="gen", Body=b"x")
    )
    assert payloads == [b"a"]
    assert isinstance(error, bce.EventStreamError)
    assert _parsed(error)["Error"]["Code"] == "ModelStreamError"
    assert _wire_events(local, "gen") == [
        PayloadPart(b"a"),
        ModelStreamError(message="lost the GPU", error_code="StreamBroken"),
    ]


def test_generator_handler_streams_live(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """The client sees part 1 before the handler produces part 2."""
    release = threading.Event()
    released_in_time: list[bool] = []

    def handler(request: InvocationRequest) -> Iterator[bytes]:
        yield b"first"
        # Only the client can set ``release``, after it received the first part.
        released_in_time.append(release.wait(timeout=5))
        yield b"second"

    local.add_endpoint("live", handler)
    response = raw.invoke_endpoint_with_response_stream(EndpointName="live", Body=b"x")
    try:
        events = iter(response["Body"])
        assert next(events) == {"PayloadPart": {"Bytes": b"first"}}
        release.set()
        assert next(events) == {"PayloadPart": {"Bytes": b"second"}}
        assert list(events) == []
    finally:
        response["Body"].close()
    assert released_in_time == [True]


# --- faults: error responses ----------------------------------------------------------

MODELLED = {
    "ValidationError",
    "ModelError",
    "ModelNotReadyException",
    "InternalFailure",
    "ServiceUnavailable",
    "InternalDependencyException",
}


_OPERATION_NAMES = {
    "invoke": "InvokeEndpoint",
    "async": "InvokeEndpointAsync",
    "stream": "InvokeEndpointWithResponseStream",
}


def _answered(operation: str, code: str) -> bool:
    """Whether botocore's model lists ``code`` for ``operation`` (or it is not modelled at all).

    InvokeEndpointAsync does not list ModelError, ModelNotReadyException or
    InternalDependencyException, nor the stream the last two (tests/test_fault_codes.py).
    """
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    listed = {
        shape.name for shape in model.operation_model(_OPERATION_NAMES[operation]).error_shapes
    }
    return code in listed or code not in MODELLED


@pytest.mark.parametrize(
    ("code", "operation"),
    [
        (code, operation)
        for code in sorted(DEFAULT_ERROR_STATUS)
        for operation in _OPERATION_NAMES
        if _answered(operation, code)
    ],
)
def test_error_response_codes(
    local: LocalRuntime, raw: SageMakerRuntimeClient, code: str, operation: str
) -> None:
    """Each code gives its botocore exception class, status and modelled members."""
    calls: list[InvocationRequest] = []
    local.add_endpoint("ep", _recording(calls), faults=[ErrorResponse(code)])
    with pytest.raises(bce.ClientError) as caught:
        if operation == "invoke":
            raw.invoke_endpoint(EndpointName="ep", Body=b"x")
        elif operation == "async":
            raw.invoke_endpoint_async(EndpointName="ep", InputLocation="s3://b/k")
        else:
            raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    error = caught.value
    response: Any = error.response
    if code in MODELLED:
        assert isinstance(error, getattr(raw.exceptions, code))
    else:
        assert type(error) is bce.ClientError  # not modelled by botocore for this service
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == DEFAULT_ERROR_STATUS[code]
    assert REQUEST_ID.match(response["ResponseMetadata"]["RequestId"])
    if code in MODELLED and code != "ValidationError":
        assert response["Message"] == response["Error"]["Message"]  # modelled member
    if code == "ModelError":
        assert response["OriginalStatusCode"] == 500
        assert response["OriginalMessage"] == "Internal Server Error"
        assert response["LogStreamArn"].endswith(":log-group:/aws/sagemaker/Endpoints/ep")
    assert calls == []


def test_error_response_fields_status_and_message(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """``fields`` add body members, ``status`` overrides the table, ``message`` is sent."""
    fault = ErrorResponse(
        "ValidationError",
        message="Inference Component Name header is required.",
        fields={"ErrorCode": "INFERENCE_COMPONENT_NAME_MISSING"},
        status=409,
    )
    local.add_endpoint("ep", faults=[fault])
    with pytest.raises(raw.exceptions.ValidationError) as caught:
        raw.invoke_endpoint(EndpointName="ep", Body=b"x")
    response: Any = caught.value.response
    assert response["Error"]["Message"] == "Inference Component Name header is required."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    status, headers, body = _post(local, "/endpoints/ep/invocations", b"x")
    assert status == 409
    assert headers["x-amzn-ErrorType"] == (
        "ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/"
    )
    assert json.loads(body) == {
        "message": "Inference Component Name header is required.",
        "ErrorCode": "INFERENCE_COMPONENT_NAME_MISSING",
    }


def test_model_error_from_a_client_error_of_the_model(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """ModelError's message is the model's own; a 4xx original status is a client error."""
    fault = ErrorResponse("ModelError", message="bad input", fields={"OriginalStatusCode": 400})
    local.add_endpoint("ep", faults=[fault])
    with pytest.raises(raw.exceptions.ModelError) as caught:
        raw.invoke_endpoint(EndpointName="ep", Body=b"x", TargetContainerHostname="c2")
    response: Any = caught.value.response
    assert response["OriginalStatusCode"] == 400
    assert response["OriginalMessage"] == "bad input"
    assert response["Error"]["Message"].startswith(
        'Received client error (400) from c2 with message "bad input". See https://'
    )
    _, _, body = _post(local, "/endpoints/ep/invocations", b"x")
    assert json.loads(body)["ErrorCode"] == "CLIENT_ERROR_FROM_MODEL"


def test_fail_twice_then_succeed(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """``times=2``: the first two requests fail, the third succeeds."""
    local.add_endpoint("ep", faults=[ErrorResponse("ServiceUnavailable", times=2)])
    for _ in range(2):
        with pytest.raises(raw.exceptions.ServiceUnavailable):
            raw.invoke_endpoint(EndpointName="ep", Body=b"x")
    assert raw.invoke_endpoint(EndpointName="ep", Body=b"ok")["Body"].read() == b"ok"
    assert len(local.requests) == 3


def test_faults_apply_in_order_and_only_to_their_operations(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """InvokeEndpoint skips (and does not use up) stream faults; the first that applies wins."""
    local.add_endpoint(
        "ep",
        faults=[StreamErrorEvent(0, times=1), ErrorResponse("ThrottlingException", times=1)],
    )
    with pytest.raises(bce.ClientError) as caught:
        raw.invoke_endpoint(EndpointName="ep", Body=b"x")
    assert _parsed(caught.value)["Error"]["Code"] == "ThrottlingException"
    assert raw.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"].read() == b"x"
    response = raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    payloads, error = _consume(response)
    assert payloads == []
    assert isinstance(error, bce.EventStreamError)
    response = raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    assert _consume(response) == ([b"x"], None)


def test_raw_response_html_502(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """A proxy's HTML 502: botocore's generic error, no request id, no error type."""
    fault = RawResponse(
        502, b"<html><body>Bad Gateway</body></html>", {"Content-Type": "text/html"}
    )
    local.add_endpoint("ep", faults=[fault])
    with pytest.raises(bce.ClientError) as caught:
        raw.invoke_endpoint(EndpointName="ep", Body=b"x")
    response: Any = caught.value.response
    assert response["Error"] == {"Code": "502", "Message": "Bad Gateway"}
    assert "RequestId" not in response["ResponseMetadata"]
    assert "x-amzn-errortype" not in response["ResponseMetadata"]["HTTPHeaders"]
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "text/html"


@pytest.mark.parametrize(
    "make",
    [
        lambda: ErrorResponse("X", times=-1),
        lambda: RawResponse(500, times=-1),
        lambda: StreamErrorEvent(-1),
        lambda: StreamFailureEvent(-1),
        lambda: TruncatedFrame(-1),
        lambda: CorruptFrame(-1),
        lambda: ConnectionReset(-1),
        lambda: Stall(-1.0),
        lambda: Stall(1.0, after_parts=-1),
    ],
)
def test_fault_arguments_are_checked(make: Any) -> None:
    """Negative counts and durations are rejected when the fault is made."""
    with pytest.raises(ValueError, match=">= 0"):
        make()


# --- faults: what raw boto3 does with each stream fault (botocore-behaviour.md s. 2) ---


def test_stream_error_event_fault(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """ModelStreamError after 1 part: EventStreamError; the ErrorCode is on the wire."""
    local.add_endpoint("ep", _three_parts, faults=[StreamErrorEvent(1, message="too slow")])
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert payloads == [b"p1"]
    assert isinstance(error, bce.EventStreamError)
    assert not isinstance(error, raw.exceptions.ModelStreamError)
    assert _parsed(error)["Error"] == {"Code": "ModelStreamError", "Message": "too slow"}
    assert _wire_events(local, "ep") == [
        PayloadPart(b"p1"),
        ModelStreamError(message="too slow", error_code="ModelInvocationTimeExceeded"),
    ]


def test_stream_fault_after_the_last_part(local: LocalRuntime) -> None:
    """``after_parts`` beyond the handler's parts: the fault strikes after the last one."""
    local.add_endpoint("ep", _three_parts, faults=[StreamFailureEvent(10, message="late")])
    assert _wire_events(local, "ep") == [
        PayloadPart(b"p1"),
        PayloadPart(b"p2"),
        PayloadPart(b"p3"),
        InternalStreamFailure(message="late"),
    ]


def test_stream_failure_event_fault(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """InternalStreamFailure after 1 part: EventStreamError with that code."""
    local.add_endpoint("ep", _three_parts, faults=[StreamFailureEvent(1)])
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert payloads == [b"p1"]
    assert isinstance(error, bce.EventStreamError)
    assert _parsed(error)["Error"]["Code"] == "InternalStreamFailure"


def test_truncated_frame_with_clean_end(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """Half a frame, then a clean chunked end: raw botocore ends quietly after part 1."""
    local.add_endpoint("ep", _three_parts, faults=[TruncatedFrame(1)])
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert (payloads, error) == ([b"p1"], None)
    chunks = _wire_chunks(local, "ep")
    decoder = FrameDecoder()
    assert len(decoder.feed(b"".join(chunks))) == 1
    assert decoder.buffered > 12  # the prelude of part 2 arrived, its end did not


def test_truncated_frame_without_clean_end(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Half a frame, then FIN without the final chunk: urllib3 ProtocolError."""
    local.add_endpoint("ep", _three_parts, faults=[TruncatedFrame(1, clean_end=False)])
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert payloads == [b"p1"]
    assert isinstance(error, urllib3.exceptions.ProtocolError)
    assert "ended prematurely" in str(error)


def test_corrupt_frame(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """A flipped payload byte: botocore's ChecksumMismatch; the stream went on after it."""
    local.add_endpoint("ep", _three_parts, faults=[CorruptFrame(1)])
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert payloads == [b"p1"]
    assert isinstance(error, botocore.eventstream.ChecksumMismatch)
    chunks = _wire_chunks(local, "ep")
    assert len(chunks) == 3
    assert FrameDecoder().feed(chunks[2])[0][1] == b"p3"
    with pytest.raises(Exception, match="message checksum mismatch"):
        FrameDecoder().feed(chunks[1])


def test_connection_reset_mid_stream(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """A TCP RST after 1 part: urllib3 ProtocolError carrying ConnectionResetError."""
    local.add_endpoint("ep", _three_parts, faults=[ConnectionReset(1)])
    payloads, error = _consume(
        raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert payloads == [b"p1"]
    assert isinstance(error, urllib3.exceptions.ProtocolError)
    assert "ConnectionResetError" in str(error)


def test_stall_mid_stream(local: LocalRuntime, impatient: SageMakerRuntimeClient) -> None:
    """A stall after 1 part longer than the read timeout: urllib3 ReadTimeoutError."""
    local.add_endpoint("ep", _three_parts, faults=[Stall(60, after_parts=1)])
    payloads, error = _consume(
        impatient.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    )
    assert payloads == [b"p1"]
    assert isinstance(error, urllib3.exceptions.ReadTimeoutError)


def test_short_stall_only_delays(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """A stall shorter than the read timeout delays the stream without breaking it."""
    local.add_endpoint("ep", _three_parts, faults=[Stall(0.01, after_parts=2)])
    response = raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    assert _consume(response) == ([b"p1", b"p2", b"p3"], None)


@pytest.mark.parametrize("operation", ["invoke", "async", "stream"])
def test_reset_before_the_response(
    local: LocalRuntime, raw: SageMakerRuntimeClient, operation: str
) -> None:
    """A reset before any response byte: botocore ConnectionClosedError on every operation."""
    local.add_endpoint("ep", faults=[ConnectionReset(times=1)])
    with pytest.raises(bce.ConnectionClosedError):
        if operation == "invoke":
            raw.invoke_endpoint(EndpointName="ep", Body=b"x")
        elif operation == "async":
            raw.invoke_endpoint_async(EndpointName="ep", InputLocation="s3://b/k")
        else:
            raw.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    assert len(local.requests) == 1


@pytest.mark.parametrize("operation", ["invoke", "stream"])
def test_slow_first_byte(
    local: LocalRuntime, impatient: SageMakerRuntimeClient, operation: str
) -> None:
    """A stall before the headers: botocore ReadTimeoutError from the call itself."""
    local.add_endpoint("ep", faults=[Stall(60)])
    with pytest.raises(bce.ReadTimeoutError):
        if operation == "invoke":
            impatient.invoke_endpoint(EndpointName="ep", Body=b"x")
        else:
            impatient.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")


def test_invoke_reset_mid_body(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """InvokeEndpoint with a mid-body reset: the call returns, ``read()`` fails."""
    local.add_endpoint("ep", faults=[ConnectionReset(0)])
    response = raw.invoke_endpoint(EndpointName="ep", Body=b"x" * 1000)
    with pytest.raises(bce.ResponseStreamingError):
        response["Body"].read()
    response["Body"].close()


def test_invoke_stall_mid_body(local: LocalRuntime, impatient: SageMakerRuntimeClient) -> None:
    """InvokeEndpoint with a mid-body stall: the call returns, ``read()`` times out."""
    local.add_endpoint("ep", faults=[Stall(60, after_parts=0)])
    response = impatient.invoke_endpoint(EndpointName="ep", Body=b"x" * 1000)
    with pytest.raises(bce.ReadTimeoutError):
        response["Body"].read()
    response["Body"].close()


# --- the server -----------------------------------------------------------------------


def test_connections_are_reused(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    """Keep-alive: invokes, a consumed stream and error responses share one connection."""
    local.add_endpoint("echo")
    assert local.connections_opened == 0
    raw.invoke_endpoint(EndpointName="echo", Body=b"1")["Body"].read()
    raw.invoke_endpoint(EndpointName="echo", Body=b"2")["Body"].read()
    assert local.connections_opened == 1
    response = raw.invoke_endpoint_with_response_stream(EndpointName="echo", Body=b"3")
    assert _consume(response) == ([b"3"], None)
    with pytest.raises(raw.exceptions.ValidationError):
        raw.invoke_endpoint(EndpointName="missing", Body=b"4")
    raw.invoke_endpoint(EndpointName="echo", Body=b"5")["Body"].read()
    assert local.connections_opened == 1


def test_accepted_sockets_have_tcp_nodelay(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Nagle is off on the server side, so small writes never wait for a delayed ACK."""
    seen: list[int] = []

    def handler(request: InvocationRequest) -> bytes:
        # White-box: the server's open connections, among them the one serving this request.
        server: Any = local._server  # pyright: ignore[reportPrivateUsage]
        for conn in list(server._connections):
            seen.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return b"ok"

    local.add_endpoint("ep", handler)
    raw.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"].read()
    assert seen
    assert all(seen)


def test_concurrent_clients(local: LocalRuntime) -> None:
    """Several threads at once: every request is answered and recorded."""
    local.add_endpoint("echo")
    client = local.boto3_client(_config())
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for call in range(5):
                body = f"{worker}-{call}".encode()
                assert client.invoke_endpoint(EndpointName="echo", Body=body)["Body"].read() == body
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert failures == []
    assert sorted(request.body for request in local.requests) == sorted(
        f"{worker}-{call}".encode() for worker in range(4) for call in range(5)
    )


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("local-sagemaker-")]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_stop_ends_a_stall_at_once_and_leaves_nothing_open() -> None:
    """stop() cuts a stalled stream and idle keep-alive connections, joins every thread."""
    baseline = _open_fds()
    local = LocalRuntime(stop_timeout=5)
    local.start()
    local.add_endpoint("stalls", _three_parts, faults=[Stall(60, after_parts=1)])
    local.add_endpoint("echo")
    idle = local.boto3_client(_config())
    idle.invoke_endpoint(EndpointName="echo", Body=b"x")["Body"].read()  # stays pooled, idle
    client = local.boto3_client(_config(read_timeout=60))
    response = client.invoke_endpoint_with_response_stream(EndpointName="stalls", Body=b"x")
    events = iter(response["Body"])
    assert next(events) == {"PayloadPart": {"Bytes": b"p1"}}  # the server now stalls
    assert local.connections_opened == 2
    started = time.monotonic()
    local.stop()
    assert time.monotonic() - started < 5  # not the 60 s stall, nor a join timeout
    assert _server_threads() == []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        next(events)
    response["Body"].close()
    local.stop()  # idempotent
    with pytest.raises(RuntimeError, match="cannot be started again"):
        local.start()
    client.close()
    idle.close()
    assert _open_fds() == baseline


def test_lifecycle_and_repr() -> None:
    """endpoint_url needs a started runtime; the context manager starts and stops it."""
    local = LocalRuntime()
    with pytest.raises(RuntimeError, match="not started"):
        _ = local.endpoint_url
    assert "new" in repr(local)
    with local as started:
        assert started is local
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", local.endpoint_url)
        assert local.endpoint_url.endswith(f":{local.port}")
        assert local.start() is local  # no-op while running
        assert "running" in repr(local)
        assert local.region_name == "us-east-1"
        assert local.account_id == "123456789012"
    assert "stopped" in repr(local)
    assert _server_threads() == []


def test_plugin_fixture_yields_a_started_runtime(local_runtime: LocalRuntime) -> None:
    """The ``local_runtime`` fixture is started, empty and on loopback."""
    assert local_runtime.endpoint_url.startswith("http://127.0.0.1:")
    assert local_runtime.endpoint_names == []
    assert local_runtime.requests == []
    assert local_runtime.connections_opened == 0


def test_plugin_import_does_not_load_the_server() -> None:
    """pytest imports the plugin in every run: it must not import the server modules."""
    code = (
        "import sys, typed_sagemaker_runtime.testing._plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('typed_sagemaker_runtime.testing')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.stdout.split() == [
        "['typed_sagemaker_runtime.testing',",
        "'typed_sagemaker_runtime.testing._plugin']",
    ]


def test_public_names_are_exported_and_documented() -> None:
    """Every name in ``__all__`` resolves (lazily) and has a docstring."""
    import typed_sagemaker_runtime.testing as testing

    for name in testing.__all__:
        value = getattr(testing, name)
        # A generic alias (Handler = Callable[...]) passes isinstance(type) on 3.10.
        is_class = isinstance(value, type) and not isinstance(value, types.GenericAlias)
        if is_class or inspect.isfunction(value):
            assert value.__doc__, name
    assert set(testing.__all__) <= set(dir(testing))
    with pytest.raises(AttributeError):
        _ = getattr(testing, "NoSuchName")  # noqa: B009


def test_facade_client_is_wired_to_the_runtime(local: LocalRuntime) -> None:
    """``client()`` returns the facade on this runtime's URL and region."""
    from typed_sagemaker_runtime import RetryPolicy

    local.add_endpoint("echo")
    config = Config(read_timeout=7)
    with local.client(config=config, retry=RetryPolicy(max_attempts=1)) as smr:
        assert smr.client.meta.endpoint_url == local.endpoint_url
        assert smr.client.meta.region_name == "us-east-1"
        assert smr.retry.max_attempts == 1
        assert smr.invoke("echo", b"hi")["body"] == b"hi"
    with local.client() as smr:
        assert smr.invoke("echo", b"again")["body"] == b"again"


@pytest.mark.parametrize(
    ("arguments", "member"),
    [
        ({"Body": b"{}", "CustomAttributes": "s3cret-" * 200}, "'customAttributes'"),
        ({"Body": b"{}", "TargetVariant": "v" * 64}, "'targetVariant'"),
    ],
)
def test_requests_aws_rejects_are_rejected_locally(arguments: dict[str, Any], member: str) -> None:
    """Raw boto3 sends anything; SageMaker's own limits apply here as on AWS."""
    with LocalRuntime() as local:
        local.add_endpoint("echo")
        client = local.boto3_client(Config(retries={"total_max_attempts": 1}))
        try:
            with pytest.raises(bce.ClientError) as info:
                client.invoke_endpoint(EndpointName="echo", **arguments)
        finally:
            client.close()
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert member in error["Message"]
    assert "s3cret" not in error["Message"]

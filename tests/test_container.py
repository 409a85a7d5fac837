"""The ``Container`` backend against a real model container running in a subprocess.

The container (``tests/containers/echo_container.py``) is a stdlib HTTP server written to
the SageMaker container contract; each answer is scripted by the request body.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from _models import SESSIONS
from typed_sagemaker_runtime import ModelError, RetryPolicy, SageMakerRuntime
from typed_sagemaker_runtime.testing import (
    Container,
    ContainerNotHealthyError,
    LocalRuntime,
    ModelStreamError,
    PayloadPart,
    StreamEvent,
)

CONTAINER_APP = Path(__file__).parent / "containers" / "echo_container.py"


class ContainerProcess:
    """The test container, started as a subprocess on a free port."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CONTAINER_APP), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the test container did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def release(self, token: str) -> None:
        """Wake the container's handler that waits for ``token``."""
        status, _ = self.request("POST", f"/release/{token}")
        assert status == 204

    def pings(self) -> int:
        _, body = self.request("GET", "/stats")
        count: int = json.loads(body)["pings"]
        return count

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module", name="container")
def _container() -> Iterator[ContainerProcess]:
    process = ContainerProcess()
    yield process
    process.stop()


@pytest.fixture(name="raw")
def _raw(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    client = local.boto3_client(Config(read_timeout=30, retries={"total_max_attempts": 1}))
    yield client
    client.close()


@pytest.fixture(name="facade")
def _facade(local: LocalRuntime) -> Iterator[SageMakerRuntime]:
    with local.client(retry=RetryPolicy.disabled()) as client:
        yield client


def _token() -> str:
    return uuid.uuid4().hex


def _events(facade: SageMakerRuntime, endpoint: str, script: dict[str, Any]) -> list[StreamEvent]:
    with facade.stream(endpoint, json=script) as stream:
        return list(stream)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- requests and responses -----------------------------------------------------------


@SESSIONS
def test_invoke_forwards_what_sagemaker_forwards(
    local: LocalRuntime, raw: SageMakerRuntimeClient, container: ContainerProcess
) -> None:
    """Body, content type, accept and the model's SageMaker headers arrive; routing does not."""
    local.add_endpoint("byoc", Container(container.url))
    response = raw.invoke_endpoint(
        EndpointName="byoc",
        Body='{"prompt": "wörld"}'.encode(),
        ContentType="application/json",
        Accept="application/x-echo",
        CustomAttributes="trace=1",
        TargetModel="model-a.tar.gz",
        TargetVariant="blue",
        TargetContainerHostname="c1",
        InferenceId="inference-7",
        InferenceComponentName="component-2",
        SessionId="NEW_SESSION",
        EnableExplanations="`true`",
    )
    assert response["ContentType"] == "application/x-echo"
    assert response["CustomAttributes"] == "echo=trace=1"
    assert response["NewSessionId"].startswith("sess-1; Expires=")
    echoed = json.loads(response["Body"].read())
    assert echoed["body"] == '{"prompt": "wörld"}'
    headers = echoed["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/x-echo"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace=1"
    assert headers["x-amzn-sagemaker-target-model"] == "model-a.tar.gz"
    assert headers["x-amzn-sagemaker-inference-id"] == "inference-7"
    assert headers["x-amzn-sagemaker-session-id"] == "NEW_SESSION"
    assert headers["x-amzn-sagemaker-enable-explanations"] == "`true`"
    for stripped in (
        "authorization",
        "x-amz-date",
        "user-agent",
        "x-amzn-sagemaker-target-variant",
        "x-amzn-sagemaker-target-container-hostname",
        "x-amzn-sagemaker-inference-component",
    ):
        assert stripped not in headers


def test_stream_sends_accept_and_forwards_the_content_type(
    local: LocalRuntime, raw: SageMakerRuntimeClient, container: ContainerProcess
) -> None:
    """On the stream operation ``X-Amzn-SageMaker-Accept`` reaches the container as ``Accept``."""
    local.add_endpoint("byoc", Container(container.url))
    response = raw.invoke_endpoint_with_response_stream(
        EndpointName="byoc", Body=b"plain", ContentType="text/plain", Accept="application/x-echo"
    )
    assert response["ContentType"] == "application/x-echo"
    body = b"".join(event["PayloadPart"]["Bytes"] for event in response["Body"])
    echoed = json.loads(body)
    assert echoed["body"] == "plain"
    assert echoed["headers"]["accept"] == "application/x-echo"
    assert echoed["headers"]["content-type"] == "text/plain"


def test_chunks_become_payload_parts_as_they_arrive(
    local: LocalRuntime, raw: SageMakerRuntimeClient, container: ContainerProcess
) -> None:
    """The container sends chunk 2 only after the client received chunk 1."""
    local.add_endpoint("byoc", Container(container.url))
    token = _token()
    script = {"chunks": ["one", "two", "three"], "wait_for": token, "content_type": "text/x-a"}
    response = raw.invoke_endpoint_with_response_stream(
        EndpointName="byoc", Body=json.dumps(script).encode(), ContentType="application/json"
    )
    try:
        assert response["ContentType"] == "text/x-a"
        events = iter(response["Body"])
        assert next(events) == {"PayloadPart": {"Bytes": b"one"}}
        container.release(token)  # without live delivery the container sends RELEASE-TIMEOUT
        rest = [event["PayloadPart"]["Bytes"] for event in events]
    finally:
        response["Body"].close()
    assert rest == [b"two", b"three"]


def test_invoke_reads_a_chunked_answer_whole(
    local: LocalRuntime, facade: SageMakerRuntime, container: ContainerProcess
) -> None:
    """On InvokeEndpoint the chunks are joined into one body."""
    local.add_endpoint("byoc", Container(container.url))
    result = facade.invoke("byoc", json={"chunks": ["a", "é", "c"]})
    assert result["body"] == "aéc".encode()
    assert result["content_type"] == "text/event-stream"


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["invoke", "stream"])
@pytest.mark.parametrize(
    ("status", "error_code"), [(400, "CLIENT_ERROR_FROM_MODEL"), (503, "SERVER_ERROR_FROM_MODEL")]
)
def test_container_error_status_is_a_model_error(
    local: LocalRuntime,
    facade: SageMakerRuntime,
    container: ContainerProcess,
    operation: str,
    status: int,
    error_code: str,
) -> None:
    """A 4xx/5xx answer is ModelError 424 carrying the container's status and body."""
    local.add_endpoint("byoc", Container(container.url))
    script = {"status": status, "message": "model says no"}
    with pytest.raises(ModelError) as caught:
        if operation == "invoke":
            facade.invoke("byoc", json=script)
        else:
            facade.stream("byoc", json=script).close()
    error = caught.value
    assert error.http_status == 424
    assert error.original_status_code == status
    assert error.original_message == "model says no"
    assert error.error_code == error_code
    assert error.log_stream_arn is not None
    assert error.log_stream_arn.endswith("/aws/sagemaker/Endpoints/byoc")


def test_connection_broken_mid_stream_is_stream_broken(
    local: LocalRuntime, facade: SageMakerRuntime, container: ContainerProcess
) -> None:
    """The container closes after one chunk: the stream ends with ModelStreamError StreamBroken."""
    local.add_endpoint("byoc", Container(container.url))
    events = _events(facade, "byoc", {"chunks": ["one", "two"], "break_after": 1})
    assert events[0] == PayloadPart(b"one")
    assert len(events) == 2
    error = events[1]
    assert isinstance(error, ModelStreamError)
    assert error.error_code == "StreamBroken"
    assert error.message is not None
    assert "broke mid-stream" in error.message


def test_silence_mid_stream_is_an_invocation_timeout(
    local: LocalRuntime, facade: SageMakerRuntime, container: ContainerProcess
) -> None:
    """Silence longer than ``invocation_timeout`` ends the stream: ModelInvocationTimeExceeded."""
    local.add_endpoint("byoc", Container(container.url, invocation_timeout=0.3))
    token = _token()
    try:
        events = _events(facade, "byoc", {"chunks": ["one", "two"], "wait_for": token})
    finally:
        container.release(token)
    assert events[0] == PayloadPart(b"one")
    assert len(events) == 2
    error = events[1]
    assert isinstance(error, ModelStreamError)
    assert error.error_code == "ModelInvocationTimeExceeded"


def test_no_answer_in_time_is_a_model_error_with_status_0(
    local: LocalRuntime, facade: SageMakerRuntime, container: ContainerProcess
) -> None:
    """No response head within ``invocation_timeout``: ModelError, OriginalStatusCode 0."""
    local.add_endpoint("byoc", Container(container.url, invocation_timeout=0.3))
    token = _token()
    try:
        with pytest.raises(ModelError) as caught:
            facade.invoke("byoc", json={"hang": token})
    finally:
        container.release(token)
    assert caught.value.original_status_code == 0
    assert caught.value.original_message is not None
    assert "timed out while waiting for a response from container primary" in (
        caught.value.original_message
    )


def test_a_container_that_went_away_is_a_model_error(
    local: LocalRuntime, facade: SageMakerRuntime
) -> None:
    """A container that stopped after it was healthy: ModelError saying it cannot connect."""
    process = ContainerProcess()
    try:
        local.add_endpoint("byoc", Container(process.url))
        assert facade.invoke("byoc", b"x")["body"]
    finally:
        process.stop()
    with pytest.raises(ModelError) as caught:
        facade.invoke("byoc", b"x")
    assert caught.value.original_status_code == 0
    assert caught.value.original_message is not None
    assert "could not connect to container primary" in caught.value.original_message


# --- health ---------------------------------------------------------------------------


def test_construction_waits_for_a_healthy_ping() -> None:
    """``Container(url)`` returns once /ping answered 200, after the 503s before it."""
    process = ContainerProcess("--unhealthy-pings", "3")
    try:
        container = Container(process.url, health_timeout=20)
        assert process.pings() == 4
        assert container.ping()
        assert process.pings() == 5
        container.wait_until_healthy()  # known healthy: no further ping
        assert process.pings() == 5
    finally:
        process.stop()


def test_without_wait_the_first_invocation_waits_for_health(
    local: LocalRuntime, facade: SageMakerRuntime
) -> None:
    """``wait=False``: nothing at construction; the first invocation checks /ping first."""
    process = ContainerProcess("--unhealthy-pings", "2")
    try:
        local.add_endpoint("byoc", Container(process.url, wait=False, health_timeout=20))
        assert process.pings() == 0
        assert json.loads(facade.invoke("byoc", b"hi")["body"])["body"] == "hi"
        assert process.pings() == 3
    finally:
        process.stop()


def test_an_unhealthy_container_fails_clearly() -> None:
    """A /ping that never answers 200 raises ContainerNotHealthyError naming the URL."""
    process = ContainerProcess("--ping-status", "500")
    try:
        with pytest.raises(ContainerNotHealthyError) as caught:
            Container(process.url, health_timeout=0.3)
    finally:
        process.stop()
    message = str(caught.value)
    assert process.url in message
    assert "did not answer GET /ping with 200 within 0.3 s" in message
    assert "HTTP 500" in message


def test_nothing_listening_fails_clearly_and_invocations_are_model_errors(
    local: LocalRuntime, facade: SageMakerRuntime
) -> None:
    """No server at all: the error says why; with ``wait=False`` an invocation is a ModelError."""
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ContainerNotHealthyError, match="refused"):
        Container(url, health_timeout=0.2)
    local.add_endpoint("gone", Container(url, wait=False, health_timeout=0.2))
    with pytest.raises(ModelError) as caught:
        facade.invoke("gone", b"x")
    assert caught.value.original_status_code == 0
    assert "did not answer GET /ping" in (caught.value.original_message or "")


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("https://127.0.0.1:8080", {}),
        ("127.0.0.1:8080", {}),
        ("http://127.0.0.1:8080", {"health_timeout": 0}),
        ("http://127.0.0.1:8080", {"invocation_timeout": -1}),
    ],
)
def test_bad_arguments_are_rejected(url: str, options: dict[str, float]) -> None:
    """Only plain http URLs and positive timeouts; nothing is contacted."""
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        Container(url, wait=False, **options)

"""The examples run, unmodified, against the local endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from _models import INLINE_ASYNC_BODY
from typed_sagemaker_runtime import ModelStreamError
from typed_sagemaker_runtime.testing import EndpointResponse, InvocationRequest, LocalRuntime

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(example: str, local: LocalRuntime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": local.endpoint_url}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / example), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_invoke_json(local: LocalRuntime) -> None:
    local.add_endpoint(
        "model",
        lambda request: EndpointResponse(
            b'{"generated_text": "A service."}', content_type="application/json"
        ),
    )
    result = run("invoke_json.py", local, "model")
    assert result.returncode == 0, result.stderr
    assert "variant:    AllTraffic" in result.stdout
    assert "{'generated_text': 'A service.'}" in result.stdout
    assert local.requests[-1].json() == {"inputs": "What is Amazon SageMaker?"}


def test_invoke_json_reports_a_missing_endpoint(local: LocalRuntime) -> None:
    result = run("invoke_json.py", local, "nope")
    assert result.returncode == 2
    assert "no such endpoint: Endpoint nope of account" in result.stderr
    assert "Traceback" not in result.stderr


def test_stream_events(local: LocalRuntime) -> None:
    local.add_endpoint("story", lambda request: iter([b"Once ", b"upon ", b"a time"]))
    result = run("stream_events.py", local, "story")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Once upon a time\n"


def test_stream_events_reports_an_error_event(local: LocalRuntime) -> None:
    def failing(request: InvocationRequest) -> Iterator[bytes | ModelStreamError]:
        yield b"Once "
        yield ModelStreamError(message="took too long", error_code="ModelInvocationTimeExceeded")

    local.add_endpoint("story", failing)
    result = run("stream_events.py", local, "story")
    assert result.returncode == 1
    assert result.stdout == "Once "
    assert "ModelInvocationTimeExceeded: took too long" in result.stderr


@INLINE_ASYNC_BODY
def test_invoke_async_inline_and_s3(local: LocalRuntime) -> None:
    inline = run("invoke_async.py", local, "echo")
    assert inline.returncode == 0, inline.stderr
    assert "output location:  s3://" in inline.stdout
    assert local.requests[-1].body == b'{"inputs": "Summarise this document"}'
    from_s3 = run("invoke_async.py", local, "echo", "s3://bucket/input.json")
    assert from_s3.returncode == 0, from_s3.stderr
    assert local.requests[-1].input_location == "s3://bucket/input.json"


def test_the_plugin_example_passes_under_pytest() -> None:
    """examples/test_my_app.py uses the local_runtime fixture of the installed plugin."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLES / "test_my_app.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_container_example_forwards_to_a_real_container() -> None:
    container = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "containers" / "echo_container.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert container.stdout is not None
        port = int(container.stdout.readline().split()[1])
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "container_endpoint.py"), f"http://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        container.terminate()
        container.wait(timeout=30)
        if container.stdout is not None:
            container.stdout.close()
    assert result.returncode == 0, result.stderr
    assert "invoke: application/x-echo" in result.stdout
    assert "x-amzn-sagemaker-custom-attributes" in result.stdout  # forwarded to the container
    assert "stream: 1 parts" in result.stdout

"""The ``smr`` command line against the local endpoint, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from _models import SESSIONS
from typed_sagemaker_runtime import ModelStreamError
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
)

SMR = Path(sys.executable).parent / "smr"


def smr(
    local: LocalRuntime, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(SMR), *args, "--endpoint-url", local.endpoint_url],
        input=stdin,
        capture_output=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


def test_console_script_is_installed() -> None:
    assert SMR.exists()


def test_invoke_prints_the_body(local: LocalRuntime) -> None:
    result = smr(local, "invoke", "echo", '{"inputs": "hi"}')
    assert result.returncode == 0, result.stderr
    assert result.stdout == b'{"inputs": "hi"}'
    request = local.requests[-1]
    assert request.content_type == "application/json"


@SESSIONS
def test_invoke_options_arrive(local: LocalRuntime) -> None:
    result = smr(
        local,
        "invoke",
        "echo",
        "x",
        "--content-type",
        "text/plain",
        "--accept",
        "text/plain",
        "--custom-attributes",
        "a=1",
        "--target-variant",
        "v1",
        "--target-model",
        "m.tar.gz",
        "--inference-id",
        "i-1",
        "--inference-component",
        "ic",
        "--session-id",
        "NEW_SESSION",
        "--target-container-hostname",
        "c1",
    )
    assert result.returncode == 0, result.stderr
    request = local.requests[-1]
    assert (request.content_type, request.accept, request.custom_attributes) == (
        "text/plain",
        "text/plain",
        "a=1",
    )
    assert (request.target_variant, request.target_model, request.inference_id) == (
        "v1",
        "m.tar.gz",
        "i-1",
    )
    assert request.inference_component_name == "ic"
    assert request.session_id == "NEW_SESSION"
    assert request.target_container_hostname == "c1"


def test_invoke_body_from_a_file_and_from_stdin(local: LocalRuntime, tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(b'{"from": "file"}')
    assert smr(local, "invoke", "echo", "--file", str(path)).stdout == b'{"from": "file"}'
    assert smr(local, "invoke", "echo", "--file", "-", stdin=b"piped").stdout == b"piped"


def test_invoke_json_result(local: LocalRuntime) -> None:
    local.add_endpoint("ep", lambda r: EndpointResponse(b"ok", content_type="text/plain"))
    result = smr(local, "invoke", "ep", "{}", "--json")
    shaped = json.loads(result.stdout)
    assert shaped["body"] == "ok"
    assert shaped["content_type"] == "text/plain"
    assert shaped["response_metadata"]["request_id"] == local.requests[-1].request_id


def test_expected_errors_print_one_line(local: LocalRuntime) -> None:
    local.add_endpoint(
        "ep",
        faults=[ErrorResponse("ModelError", message="bad", fields={"OriginalStatusCode": 400})],
    )
    result = smr(local, "invoke", "ep", "{}")
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("smr: error: ModelError code=ModelError status=424")
    assert f"request_id={local.requests[-1].request_id}" in lines[0]


def test_validation_errors_exit_2(local: LocalRuntime) -> None:
    result = smr(local, "invoke", "not_valid!", "{}")
    assert result.returncode == 2
    assert b"ClientValidationError" in result.stderr
    assert b"Traceback" not in result.stderr
    assert local.requests == []


def test_unknown_profile_is_one_line(local: LocalRuntime) -> None:
    result = smr(local, "invoke", "echo", "{}", "--profile", "no-such-profile")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("smr: error: ProfileNotFound")


def test_stream_prints_text_tokens(local: LocalRuntime) -> None:
    local.add_endpoint("story", lambda r: iter([b"Once ", b"upon ", b"a time"]))
    result = smr(local, "stream", "story", "{}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Once upon a time\n"


def test_stream_raw_writes_the_payload_unchanged(local: LocalRuntime) -> None:
    local.add_endpoint("story", lambda r: iter([b"data: x\r\n", b"\r\n"]))
    result = smr(local, "stream", "story", "{}", "--raw")
    assert result.stdout == b"data: x\r\n\r\n"


def test_stream_prints_tgi_tokens_as_they_arrive(local: LocalRuntime) -> None:
    """The first token is on the terminal before the model generates the last one."""
    first_seen = threading.Event()
    waited: list[bool] = []

    def tgi(request: InvocationRequest) -> Iterator[bytes]:
        yield b'data: {"token": {"id": 1, "text": "Hello", "special": false}}\n\n'
        waited.append(first_seen.wait(20))
        yield b'data: {"token": {"id": 2, "text": " world", "special": false}}\n\n'
        yield b'data: {"token": {"id": 3, "text": "</s>", "special": true}}\n\n'

    local.add_endpoint("tgi", lambda r: EndpointResponse(tgi(r), content_type="text/event-stream"))
    with subprocess.Popen(
        [str(SMR), "stream", "tgi", "{}", "--endpoint-url", local.endpoint_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.read(5) == b"Hello"
        first_seen.set()
        rest, errors = process.communicate(timeout=60)
    assert waited == [True], "the first token was printed while the model was still generating"
    assert rest == b" world\n", errors
    assert process.returncode == 0


def test_stream_events(local: LocalRuntime) -> None:
    def failing(request: InvocationRequest) -> Iterator[bytes | ModelStreamError]:
        yield b"Once "
        yield ModelStreamError(message="too slow", error_code="ModelInvocationTimeExceeded")

    local.add_endpoint("story", failing)
    result = smr(local, "stream", "story", "{}", "--events")
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == [
        "PayloadPart(<5 bytes>)",
        "ModelStreamError(message='too slow', error_code='ModelInvocationTimeExceeded')",
    ]


def test_stream_error_event_fails_with_its_code(local: LocalRuntime) -> None:
    local.add_endpoint(
        "story",
        lambda r: iter([b"Once ", b"upon "]),
        faults=[ErrorResponse("ModelNotReadyException", times=1)],
    )
    result = smr(local, "stream", "story", "{}")
    assert result.returncode == 0, "retried once"
    assert len(local.requests) == 2


@pytest.mark.parametrize("command", ["invoke", "stream"])
def test_help(command: str) -> None:
    result = subprocess.run(
        [str(SMR), command, "--help"], capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert b"--endpoint-url" in result.stdout


def test_demo_walks_through_everything_and_exits_0() -> None:
    """The README's first command: invoke, live tokens, a typed in-stream error, async."""
    result = subprocess.run(
        [str(SMR), "demo", "--tokens-per-second", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "generated_text: " in out
    assert "caught ModelStreamInterruptedError: error_code=ModelInvocationTimeExceeded" in out
    assert "output_location: s3://" in out
    assert "the local endpoint is stopped" in out
    assert result.stderr == ""

"""The ``smr`` command line against the local endpoint, run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from _models import INLINE_ASYNC_BODY, SESSIONS
from typed_sagemaker_runtime import ClientValidationError, ModelStreamError, SageMakerRuntimeError
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


def test_the_entry_points_load_what_they_name() -> None:
    """``smr`` and the pytest plugin, as installed metadata names them (a stale path fails)."""
    from importlib.metadata import entry_points

    from typed_sagemaker_runtime._cli._main import main
    from typed_sagemaker_runtime.testing import _plugin

    (script,) = entry_points(group="console_scripts", name="smr")
    assert script.value == "typed_sagemaker_runtime._cli:main"
    assert script.load() is main
    (plugin,) = entry_points(group="pytest11", name="typed_sagemaker_runtime")
    assert plugin.load() is _plugin


def test_python_dash_m_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "typed_sagemaker_runtime._cli", "--help"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"usage: smr ")


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
    piped = smr(
        local, "invoke", "echo", "--file", "-", "--content-type", "text/plain", stdin=b"piped"
    )
    assert piped.stdout == b"piped"


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


def test_stream_failing_before_a_token_prints_no_empty_line(local: LocalRuntime) -> None:
    result = smr(local, "stream", "missing", "{}")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.startswith(b"smr: error: EndpointNotFoundError ")


def test_stream_cut_by_an_error_ends_the_line_of_text_once(local: LocalRuntime) -> None:
    def cut(request: InvocationRequest) -> Iterator[bytes | ModelStreamError]:
        yield b"Once "
        yield ModelStreamError(message="too slow", error_code="ModelInvocationTimeExceeded")

    local.add_endpoint("cut", cut)
    result = smr(local, "stream", "cut", "{}")
    assert result.returncode == 1
    assert result.stdout == b"Once \n"
    assert result.stderr.startswith(b"smr: error: ModelStreamInterruptedError ")


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
        faults=[ErrorResponse("ThrottlingException", times=1)],  # the stream's model lists no
    )  # ModelNotReadyException, so the local endpoint no longer answers it there
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
    lines = out.splitlines()
    assert "...     for token in stream.tokens(): print(token, end='')" in lines
    assert not [line for line in lines if line.startswith(">>>  ")], "a block's body shows ..."


# --- a terminal, a pipe, a pipe closed early ---------------------------------------------


def on_a_terminal(local: LocalRuntime, *args: str) -> tuple[int, bytes, bytes]:
    """Run smr with standard output on a pseudo-terminal in raw mode (no newline translation)."""
    controller, terminal = os.openpty()
    tty.setraw(terminal)
    try:
        process = subprocess.Popen(
            [str(SMR), *args, "--endpoint-url", local.endpoint_url],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(terminal)
    shown = bytearray()
    with process:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the last descriptor of the terminal side closed
                break
            if not chunk:
                break
            shown += chunk
        os.close(controller)
        _, errors = process.communicate(timeout=60)
    return process.returncode, bytes(shown), errors


def async_args(local: LocalRuntime) -> list[str]:
    return ["--s3-endpoint-url", local.s3_endpoint_url, "--poll-interval", "0.1"]


def test_invoke_ends_the_line_on_a_terminal(local: LocalRuntime) -> None:
    status, shown, errors = on_a_terminal(local, "invoke", "echo", '{"inputs": "hi"}')
    assert status == 0, errors
    assert shown == b'{"inputs": "hi"}\n'


def test_invoke_adds_no_second_newline_on_a_terminal(local: LocalRuntime) -> None:
    local.add_endpoint("ep", lambda r: EndpointResponse(b"line\n", content_type="text/plain"))
    status, shown, errors = on_a_terminal(local, "invoke", "ep", "{}")
    assert status == 0, errors
    assert shown == b"line\n"


@INLINE_ASYNC_BODY
def test_invoke_async_wait_ends_the_line_on_a_terminal(local: LocalRuntime) -> None:
    local.add_endpoint("ep", lambda r: EndpointResponse(b"done", content_type="text/plain"))
    status, shown, errors = on_a_terminal(
        local, "invoke-async", "ep", "{}", "--wait", *async_args(local)
    )
    assert status == 0, errors
    assert shown == b"done\n"


@INLINE_ASYNC_BODY
def test_invoke_and_invoke_async_write_the_body_unchanged_to_a_pipe(local: LocalRuntime) -> None:
    local.add_endpoint("ep", lambda r: EndpointResponse(b"done", content_type="text/plain"))
    assert smr(local, "invoke", "ep", "{}").stdout == b"done"
    waited = smr(local, "invoke-async", "ep", "{}", "--wait", *async_args(local))
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == b"done"


# --- a body that is not JSON, with a JSON content type -----------------------------------


@pytest.mark.parametrize("command", ["invoke", "stream"])
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("hello there", "the body is not JSON (Expecting value at line 1 column 1)"),
        # json's own words for it vary: "Illegal trailing comma" from Python 3.13 on
        ('{"inputs": "hello there",}', "the body is not JSON ("),
        ("", "the body is empty"),
    ],
)
def test_a_body_that_is_not_json_is_refused_before_sending(
    local: LocalRuntime, command: str, body: str, problem: str
) -> None:
    result = smr(local, command, "echo", body)
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"smr: error: ClientValidationError: {problem}")
    assert "--content-type is application/json" in lines[0]
    assert "--no-json-check" in lines[0]
    assert "hello" not in lines[0], "the body is never echoed"
    assert local.requests == []


def test_a_body_that_is_not_utf8_is_refused(local: LocalRuntime) -> None:
    result = smr(local, "invoke", "echo", "--file", "-", stdin=b'{"inputs": "\xff"}')
    assert result.returncode == 2
    assert b"ClientValidationError: the body is not JSON (not UTF-8 text)" in result.stderr
    assert local.requests == []


def test_an_explicit_json_content_type_is_checked_too(local: LocalRuntime) -> None:
    result = smr(local, "invoke", "echo", "x", "--content-type", "application/vnd.api+json")
    assert result.returncode == 2
    assert b"--content-type is application/vnd.api+json" in result.stderr
    assert local.requests == []


def test_a_body_that_is_not_json_is_sent_with_no_json_check(local: LocalRuntime) -> None:
    for command in ("invoke", "stream"):
        result = smr(local, command, "echo", "hello there", "--no-json-check")
        assert result.returncode == 0, result.stderr
    assert [(r.body, r.content_type) for r in local.requests] == [
        (b"hello there", "application/json"),
        (b"hello there", "application/json"),
    ]


def test_a_body_that_is_not_json_is_sent_with_its_own_content_type(local: LocalRuntime) -> None:
    result = smr(local, "invoke", "echo", "hello there", "--content-type", "text/plain")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello there"
    assert local.requests[-1].content_type == "text/plain"


@pytest.mark.parametrize("command", ["invoke", "stream"])
def test_help_says_how_to_send_a_body_that_is_not_json(command: str) -> None:
    result = subprocess.run(
        [str(SMR), command, "--help"], capture_output=True, timeout=60, check=False
    )
    shown = b" ".join(result.stdout.split())
    assert b"--no-json-check" in shown
    assert b"must parse as JSON" in shown


# --- a pipe whose reader stops early (smr ... | head -c 12) ------------------------------

SIGPIPE_STATUS = 141  # 128 + SIGPIPE, what a shell reports for a tool that SIGPIPE ended


def read_12_bytes_then_close(args: list[str], closed: threading.Event) -> tuple[int, bytes]:
    """Run smr like ``smr ... | head -c 12``: read 12 bytes, close the pipe, set ``closed``."""
    with subprocess.Popen(
        [str(SMR), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert len(process.stdout.read(12)) == 12
        process.stdout.close()
        closed.set()
        errors = process.stderr.read()
        process.wait(60)
    return process.returncode, errors


@pytest.mark.parametrize("shown", [[], ["--raw"], ["--events"]])
def test_stream_into_a_closed_pipe_ends_quietly(local: LocalRuntime, shown: list[str]) -> None:
    closed = threading.Event()
    waited: list[bool] = []

    def story(request: InvocationRequest) -> Iterator[bytes]:
        yield b"Once upon a time, "
        waited.append(closed.wait(20))
        yield from [b"there ", b"was ", b"a ", b"pipe."]

    local.add_endpoint("story", story)
    status, errors = read_12_bytes_then_close(
        ["stream", "story", "{}", *shown, "--endpoint-url", local.endpoint_url], closed
    )
    assert waited == [True]
    assert (status, errors) == (SIGPIPE_STATUS, b"")


def test_chat_into_a_closed_pipe_ends_quietly(local: LocalRuntime) -> None:
    closed = threading.Event()
    waited: list[bool] = []

    def delta(text: str) -> bytes:
        chunk = {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}}],
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def story(request: InvocationRequest) -> Iterator[bytes]:
        yield delta("Once upon a time, ")
        waited.append(closed.wait(20))
        yield from [delta("there "), delta("was "), delta("a pipe.")]

    local.add_endpoint(
        "story", lambda r: EndpointResponse(story(r), content_type="text/event-stream")
    )
    status, errors = read_12_bytes_then_close(
        ["chat", "story", "hi", "--endpoint-url", local.endpoint_url], closed
    )
    assert waited == [True]
    assert (status, errors) == (SIGPIPE_STATUS, b"")


@pytest.mark.parametrize("shown", [[], ["--json"]])
def test_invoke_into_a_closed_pipe_ends_quietly(local: LocalRuntime, shown: list[str]) -> None:
    """4 MB cannot fit in the pipe: the write is still blocked when the reader closes."""
    local.add_endpoint(
        "big", lambda r: EndpointResponse(b"x" * 4_000_000, content_type="text/plain")
    )
    status, errors = read_12_bytes_then_close(
        ["invoke", "big", "{}", *shown, "--endpoint-url", local.endpoint_url], threading.Event()
    )
    assert (status, errors) == (SIGPIPE_STATUS, b"")


@INLINE_ASYNC_BODY
def test_invoke_async_wait_into_a_closed_pipe_ends_quietly(local: LocalRuntime) -> None:
    local.add_endpoint(
        "big", lambda r: EndpointResponse(b"x" * 4_000_000, content_type="text/plain")
    )
    args = ["invoke-async", "big", "{}", "--wait", *async_args(local)]
    status, errors = read_12_bytes_then_close(
        [*args, "--endpoint-url", local.endpoint_url], threading.Event()
    )
    assert status == SIGPIPE_STATUS
    assert errors.decode().splitlines()[-1].startswith("done after "), "only the progress lines"


def test_serve_into_a_closed_pipe_stops_quietly() -> None:
    """``smr serve | head -c 12``: the banner fits the pipe; "Stopped." finds it closed."""
    with subprocess.Popen(
        [str(SMR), "serve", "--tokens-per-second", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(b"Local SageMaker Runtime at ")
        process.stdout.close()
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    assert (process.returncode, errors) == (SIGPIPE_STATUS, b"")


def _cli_line(exc: Exception) -> str:
    from typed_sagemaker_runtime._cli._failures import describe as _describe

    assert isinstance(exc, SageMakerRuntimeError)
    return _describe(exc)


def test_errors_name_command_line_options_not_python_arguments() -> None:
    """Messages written for Python callers, as ``smr`` prints them."""
    from botocore import exceptions as bce

    from typed_sagemaker_runtime._base._config import construction_error
    from typed_sagemaker_runtime._core._errors import map_exception

    no_region = construction_error(bce.NoRegionError())
    assert no_region is not None
    assert _cli_line(no_region) == (
        "smr: error: ClientValidationError: --region: no AWS region configured; "
        "pass --region REGION or set AWS_DEFAULT_REGION"
    )

    no_credentials = map_exception(bce.NoCredentialsError(), operation="InvokeEndpoint")
    assert no_credentials is not None
    line = _cli_line(no_credentials)
    assert "--profile NAME" in line
    assert "session=" not in line

    slow = map_exception(
        bce.ReadTimeoutError(endpoint_url="http://x"), operation="InvokeEndpoint", read_timeout=5
    )
    assert slow is not None
    line = _cli_line(slow)
    assert "--read-timeout" in line
    assert "read_timeout" not in line
    assert "botocore.config" not in line

    both = ClientValidationError(
        "input_location: pass exactly one of input_location (an S3 URI) or an inline body",
        field="input_location",
    )
    assert _cli_line(both).endswith(
        "--input: pass exactly one of --input (an S3 URI) or an inline body"
    )
    missing = ClientValidationError("body: missing: pass body= or json=", field="body")
    assert _cli_line(missing).endswith("BODY: missing: pass body= or json=")


def test_missing_credentials_exit_2_and_name_the_options(
    local: LocalRuntime, tmp_path: Path
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true")
    result = subprocess.run(
        [str(SMR), "invoke", "echo", "{}", "--region", "us-east-1"],
        capture_output=True,
        env={**env, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": local.endpoint_url},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("smr: error: CredentialsError: InvokeEndpoint: no AWS credentials")
    assert local.requests == []

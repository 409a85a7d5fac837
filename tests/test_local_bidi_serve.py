"""``smr serve`` serves bidirectional streams too, and prints what a shell needs (issue 21).

Run as a user runs it (a subprocess), its banner's exports are all a client needs: the
HTTP/2 endpoint URL and the CA file; the stream is driven by the library's awscrt transport.
The flags and config keys of the listener (``--bidi-port``, ``bidi_port``) and its faults
(``stream-reset``, ``op=bidi``) are parsed as the others are.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

import boto3

from typed_sagemaker_runtime import BidiEvent, BidiPayloadPart, SageMakerRuntime
from typed_sagemaker_runtime._cli._serve import add_serve_arguments
from typed_sagemaker_runtime._cli._serve_config import ServeConfigError, parse_fault, parse_settings
from typed_sagemaker_runtime.testing import ErrorResponse, StreamReset

SERVE = [sys.executable, "-m", "typed_sagemaker_runtime._cli._serve"]
BIDI = "InvokeEndpointWithBidirectionalStream"


def _serve(*args: str) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    """Start ``smr serve``; the process, its exports and its banner."""
    process = subprocess.Popen(
        [*SERVE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None
    banner: list[str] = []
    for line in process.stdout:
        banner.append(line.rstrip("\n"))
        if line.startswith("Any region"):
            break
    exports: dict[str, str] = {}
    for line in banner:
        if line.startswith("export "):
            for assignment in line.removeprefix("export ").split():
                name, _, value = assignment.partition("=")
                exports[name] = value
    return process, exports, banner


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
    return process.returncode


def _echo_through(exports: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[BidiEvent]:
    """A client configured by the exports alone (a shell that ran them) streams an echo."""
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the credentials the listener checks
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with SageMakerRuntime(session=boto3.Session()) as smr, smr.bidi_stream("ep") as stream:
        events = iter(stream)
        stream.send("hello")
        first = next(events)
        stream.end_input()
        return [first, *events]


def test_serve_prints_the_http2_endpoint_and_ca_file_and_a_client_needs_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process, exports, banner = _serve("--endpoint", "ep=echo")
    try:
        url = exports["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2"]
        assert url.startswith("https://localhost:")
        ca_bundle = exports["AWS_CA_BUNDLE"]
        assert Path(ca_bundle).read_text(encoding="ascii").startswith("-----BEGIN CERTIFICATE")
        assert exports["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"].startswith("http://127.0.0.1:")
        assert any("testing/testing" in line for line in banner), banner
        assert _echo_through(exports, monkeypatch) == [BidiPayloadPart(b"hello", "UTF8", None)]
    finally:
        status = _stop(process)
    assert status == 0
    assert not Path(ca_bundle).exists()  # the certificate goes with the server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_listens_for_bidirectional_streams_on_the_bidi_port_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _free_port()
    process, exports, _ = _serve("--endpoint", "ep=echo", "--bidi-port", str(port))
    try:
        assert exports["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2"] == f"https://localhost:{port}"
        assert _echo_through(exports, monkeypatch) == [BidiPayloadPart(b"hello", "UTF8", None)]
    finally:
        assert _stop(process) == 0


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_the_bidi_port_comes_from_the_flag_or_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "serve.json"
    config.write_text(json.dumps({"bidi_port": 18443}))
    assert parse_settings(_args("--config", str(config))).bidi_port == 18443
    assert parse_settings(_args("--config", str(config), "--bidi-port", "9")).bidi_port == 9
    assert parse_settings(_args()).bidi_port == 0


@pytest.mark.parametrize(
    ("argv", "document", "message"),
    [
        (["--bidi-port", "70000"], None, "port 70000 is out of range"),
        ([], {"bidi_port": "8443"}, "'bidi_port' must be an integer"),
    ],
)
def test_a_bad_bidi_port_is_refused(
    tmp_path: Path, argv: list[str], document: dict[str, object] | None, message: str
) -> None:
    if document is not None:
        config = tmp_path / "serve.json"
        config.write_text(json.dumps(document))
        argv = [*argv, "--config", str(config)]
    with pytest.raises(ServeConfigError, match=message):
        parse_settings(_args(*argv))


def test_bidirectional_faults_parse() -> None:
    assert parse_fault("stream-reset:after=2,code=8") == StreamReset(2, error_code=8)
    assert parse_fault("stream-reset") == StreamReset()
    assert parse_fault("stream-reset:code=0") == StreamReset(error_code=0)
    assert parse_fault("InputValidationError") == ErrorResponse("InputValidationError")
    throttling = parse_fault("ThrottlingException:op=bidi")
    assert isinstance(throttling, ErrorResponse)
    assert throttling.operations == frozenset({BIDI})
    with pytest.raises(ServeConfigError, match=f"{BIDI} only"):
        parse_fault("InputValidationError:op=invoke")
    with pytest.raises(ServeConfigError, match=f"{BIDI} cannot answer"):
        parse_fault("ModelNotReadyException:op=bidi")


def test_a_bidi_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import threading

    from typed_sagemaker_runtime._cli._serve import run_serve

    stop = threading.Event()
    stop.set()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_serve(_args("--bidi-port", str(port)), io.StringIO(), stop=stop) == 1
    assert f"(bidirectional streams: port {port})" in capsys.readouterr().err


def test_a_demo_endpoint_answers_bidirectional_streams_with_live_captions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process, exports, _ = _serve("--tokens-per-second", "0")  # the default endpoint: demo
    try:
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with (
            SageMakerRuntime(session=boto3.Session()) as smr,
            smr.bidi_stream("demo", input=["hello live captions"]) as stream,
        ):
            events = list(stream)
    finally:
        assert _stop(process) == 0
    assert len(events) == 3  # word by word
    assert all(isinstance(event, BidiPayloadPart) for event in events)
    assert b"".join(event.data for event in events if isinstance(event, BidiPayloadPart)) == (
        b"hello live captions"
    )

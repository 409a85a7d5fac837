"""``smr serve``'s code: run as a user runs it, then driven by the unmodified boto3 client."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import exceptions as bce
from botocore.config import Config
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from _models import models
from typed_sagemaker_runtime._cli._serve import add_serve_arguments, run_serve

SERVE = [sys.executable, "-m", "typed_sagemaker_runtime._cli._serve"]


class ServeProcess:
    """``python -m typed_sagemaker_runtime._cli._serve`` with its announced URL."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*SERVE, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env if env is not None else {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert self.process.stdout is not None
        self.banner: list[str] = []
        for line in self.process.stdout:
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Any region"):
                break
        exports = [
            line
            for line in self.banner
            if line.startswith("export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=")
        ]
        if len(exports) != 1:
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"no export line in {self.banner!r}; stderr: {err}")
        name, _, self.url = exports[0].removeprefix("export ").partition("=")
        assert name == "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``signum``; the exit status and the rest of stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=20)
        return self.process.returncode, out, err


@pytest.fixture(name="env_client")
def _env_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Makes a plain ``boto3.client("sagemaker-runtime")`` configured by the environment only."""
    clients: list[SageMakerRuntimeClient] = []

    def make(url: str) -> SageMakerRuntimeClient:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url)
        client: SageMakerRuntimeClient = boto3.client(
            "sagemaker-runtime", config=Config(retries={"total_max_attempts": 1})
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# --- as a process ---------------------------------------------------------------------


def test_default_serve_runs_the_three_operations_until_sigint(
    env_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No arguments: the demo LLM as ``demo`` on loopback; boto3 finds it via the env var."""
    serve = ServeProcess()
    try:
        assert serve.url.startswith("http://127.0.0.1:")
        assert "endpoint demo: demo LLM (50 tokens/s; TGI and Messages API)" in serve.banner
        client: SageMakerRuntimeClient = env_client(serve.url)
        assert client.meta.endpoint_url == serve.url

        body = json.dumps({"inputs": "Hello", "parameters": {"max_new_tokens": 4}})
        answer = client.invoke_endpoint(
            EndpointName="demo", Body=body.encode(), ContentType="application/json"
        )
        [document] = json.loads(answer["Body"].read())
        assert document["generated_text"]

        stream_body = json.dumps(
            {"inputs": "Hello", "stream": True, "parameters": {"max_new_tokens": 6}}
        )
        response = client.invoke_endpoint_with_response_stream(
            EndpointName="demo", Body=stream_body.encode(), ContentType="application/json"
        )
        assert response["ContentType"] == "text/event-stream"
        parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
        # Cut as SageMaker cuts streams: records split across parts and merged into one.
        assert "--rechunk random" in " ".join(serve.banner)
        records = b"".join(parts).split(b"\n\n")
        assert records[-1] == b""
        assert len(records[:-1]) == 6
        assert parts != [record + b"\n\n" for record in records[:-1]]
        events = [json.loads(record.removeprefix(b"data: ")) for record in records[:-1]]
        assert [event["index"] for event in events] == [1, 2, 3, 4, 5, 6]
        assert events[-1]["generated_text"].startswith(document["generated_text"])

        job = client.invoke_endpoint_async(
            EndpointName="demo", InputLocation="s3://my-bucket/input.json"
        )
        assert job["InferenceId"]
        assert job["OutputLocation"].startswith("s3://")
        assert job["ResponseMetadata"]["HTTPStatusCode"] == 202

        # The banner's AWS_ENDPOINT_URL_S3 lets the plain SDK read async results too.
        [s3_export] = [
            line for line in serve.banner if line.startswith("export AWS_ENDPOINT_URL_S3=")
        ]
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_export.partition("=")[2])
        s3 = boto3.client("s3")
        try:
            if models("InvokeEndpointAsync", "Body"):
                sent = client.invoke_endpoint_async(
                    EndpointName="demo", Body=body.encode(), ContentType="application/json"
                )
            else:  # this botocore cannot send an inline body: the input goes through S3
                s3.create_bucket(Bucket="inputs")
                s3.put_object(Bucket="inputs", Key="input.json", Body=body.encode())
                sent = client.invoke_endpoint_async(
                    EndpointName="demo",
                    InputLocation="s3://inputs/input.json",
                    ContentType="application/json",
                )
            bucket, _, key = sent["OutputLocation"].removeprefix("s3://").partition("/")
            s3.get_waiter("object_exists").wait(
                Bucket=bucket, Key=key, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
            output = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        finally:
            s3.close()
        assert output[0]["generated_text"]
    finally:
        status, out, err = serve.stop(signal.SIGINT)
    assert status == 0, err
    assert out.strip().endswith("Stopped.")
    assert "Traceback" not in err


def test_endpoints_and_faults_from_flags_until_sigterm(env_client: Any) -> None:
    """``--endpoint`` and ``--fault`` flags, a fixed ``--port``; SIGTERM stops it cleanly."""
    port = _free_port()
    serve = ServeProcess(
        "--port",
        str(port),
        "--endpoint",
        "echo=echo",
        "--endpoint",
        "fast=demo:0",
        "--fault",
        "echo:ThrottlingException:times=1",
        "--fault",
        "fast:stream-error:after=2,code=StreamBroken,message=cut",
    )
    try:
        assert serve.url == f"http://127.0.0.1:{port}"
        assert "endpoint echo: echo (answers with the request body) + 1 fault(s)" in serve.banner
        assert "endpoint fast: demo LLM (unpaced; TGI and Messages API) + 1 fault(s)" in (
            serve.banner
        )
        client: SageMakerRuntimeClient = env_client(serve.url)
        with pytest.raises(bce.ClientError) as caught:
            client.invoke_endpoint(EndpointName="echo", Body=b"hi")
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        assert client.invoke_endpoint(EndpointName="echo", Body=b"hi")["Body"].read() == b"hi"
        body = json.dumps({"inputs": "x", "stream": True}).encode()
        response = client.invoke_endpoint_with_response_stream(EndpointName="fast", Body=body)
        parts: list[bytes] = []
        with pytest.raises(bce.EventStreamError) as stream_error:
            for event in response["Body"]:
                parts.append(event["PayloadPart"]["Bytes"])
        response["Body"].close()
        assert len(parts) == 2
        assert stream_error.value.response["Error"] == {
            "Code": "ModelStreamError",
            "Message": "cut",
        }
    finally:
        status, out, err = serve.stop(signal.SIGTERM)
    assert status == 0, err
    assert out.strip().endswith("Stopped.")


# --- a newcomer's shell: no AWS configuration at all ----------------------------------

SMR = Path(sys.executable).parent / "smr"
PROMPT = '{"inputs": "Hello", "parameters": {"max_new_tokens": 4}}'


def _newcomer_env(home: Path) -> dict[str, str]:
    """No ``AWS_*`` variable, an empty home (no ``~/.aws``), instance metadata off."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    # Not configuration: keeps botocore from trying the EC2 metadata service (no network).
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def _in_shell(
    exports: list[str], env: dict[str, str], *command: str
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``sh`` after ``eval``-ing the lines ``smr serve`` printed."""
    script = 'eval "$SERVE_EXPORTS" && exec "$@"'
    return subprocess.run(
        ["sh", "-c", script, "sh", *command],
        env={**env, "SERVE_EXPORTS": "\n".join(exports)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(name="newcomer")
def _newcomer(tmp_path: Path) -> Iterator[tuple[ServeProcess, dict[str, str]]]:
    home = tmp_path / "home"
    home.mkdir()
    env = _newcomer_env(home)
    serve = ServeProcess("--tokens-per-second", "0", env=env)
    try:
        yield serve, env
    finally:
        status, _, err = serve.stop(signal.SIGINT)
        assert status == 0, err


def test_what_serve_prints_is_enough_in_a_shell_without_aws_configuration(
    newcomer: tuple[ServeProcess, dict[str, str]],
) -> None:
    serve, env = newcomer
    exports = [line for line in serve.banner if line.startswith("export ")]
    assert any("AWS_DEFAULT_REGION=" in line for line in exports), serve.banner
    assert any("AWS_ACCESS_KEY_ID=" in line for line in exports), serve.banner
    assert any("AWS_SECRET_ACCESS_KEY=" in line for line in exports), serve.banner

    invoked = _in_shell(exports, env, str(SMR), "invoke", "demo", PROMPT)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)[0]["generated_text"]

    streamed = _in_shell(exports, env, str(SMR), "stream", "demo", PROMPT)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.strip()


def test_without_the_exports_the_cli_names_its_own_options(
    newcomer: tuple[ServeProcess, dict[str, str]],
) -> None:
    """Each failure says what to do in a shell: ``--region``, ``--profile``, variables."""
    serve, env = newcomer
    endpoint = [line for line in serve.banner if line.startswith("export AWS_ENDPOINT_URL")]

    no_region = _in_shell(endpoint, env, str(SMR), "invoke", "demo", PROMPT)
    assert no_region.returncode == 2
    [line] = no_region.stderr.splitlines()
    assert "--region" in line
    assert "AWS_DEFAULT_REGION" in line
    assert "region_name" not in line

    no_credentials = _in_shell(
        endpoint, env, str(SMR), "invoke", "demo", PROMPT, "--region", "us-east-1"
    )
    assert no_credentials.returncode != 0
    [line] = no_credentials.stderr.splitlines()
    assert line.startswith("smr: error: CredentialsError")
    assert "AWS_ACCESS_KEY_ID" in line
    assert "--profile" in line
    assert "session=" not in line


def test_serve_prints_no_dummy_credentials_where_they_are_configured() -> None:
    """The suite's environment has a region and credentials: nothing extra is printed."""
    serve = ServeProcess("--tokens-per-second", "0")
    try:
        extra = [
            line
            for line in serve.banner
            if line.startswith("export ")
            and "AWS_ENDPOINT_URL" not in line
            and "AWS_CA_BUNDLE" not in line
        ]
        assert extra == []
    finally:
        status, _, err = serve.stop(signal.SIGINT)
    assert status == 0, err


def test_bad_flags_print_one_line_and_exit_2() -> None:
    """Configuration errors: one ``smr serve: error:`` line on stderr, exit status 2."""
    result = subprocess.run(
        [*SERVE, "--endpoint", "x=gpu"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "smr serve: error: endpoint x: unknown backend 'gpu' (use demo, "
        "demo:TOKENS_PER_SECOND, echo or container:URL)"
    ]


def test_an_unknown_fault_kind_lists_the_valid_ones() -> None:
    """``smr serve --fault demo:NoSuchKind``: one line naming every kind, exit 2, no traceback."""
    smr = Path(sys.executable).parent / "smr"
    result = subprocess.run(
        [str(smr), "serve", "--fault", "demo:NoSuchKind"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("smr serve: error: unknown fault kind 'NoSuchKind': use ")
    for kind in ("stream-error", "slow-tokens", "ThrottlingException", "ModelError"):
        assert kind in line
    assert "custom=true" in line


# --- in process -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _stopped() -> threading.Event:
    """A stop event already set: a run that wrongly got as far as serving returns at once."""
    event = threading.Event()
    event.set()
    return event


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


class _Banner(io.StringIO):
    """Captures the output; ``ready`` is set at the first flush (the banner is complete)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = threading.Event()

    def flush(self) -> None:
        super().flush()
        self.ready.set()


class InProcess:
    """``run_serve`` in a thread, stopped through its ``stop`` event."""

    def __init__(self, *argv: str) -> None:
        self.out = _Banner()
        self.stop_event = threading.Event()
        self.status: list[int] = []
        self.thread = threading.Thread(target=self._run, args=(_args(*argv),))
        self.thread.start()
        assert self.out.ready.wait(20), "run_serve printed nothing"
        export = next(
            line for line in self.out.getvalue().splitlines() if line.startswith("export ")
        )
        self.url = export.partition("=")[2]

    def _run(self, args: argparse.Namespace) -> None:
        self.status.append(run_serve(args, self.out, stop=self.stop_event))

    def stop(self) -> int:
        self.stop_event.set()
        self.thread.join(20)
        assert not self.thread.is_alive()
        return self.status[0]


def test_config_file(tmp_path: Path, env_client: Any) -> None:
    """Endpoints, settings and faults from a JSON file; flags add to and override it."""
    config = tmp_path / "serve.json"
    config.write_text(
        json.dumps(
            {
                "seed": 3,
                "tokens_per_second": 0,
                "rechunk": "4",
                "idle_timeout": 30,
                "max_connections": 8,
                "endpoints": {
                    "demo": "demo",
                    "flaky": {
                        "backend": "echo",
                        "content_type": "text/plain",
                        "faults": ["ModelNotReadyException:times=1"],
                    },
                },
            }
        )
    )
    served = InProcess("--config", str(config), "--endpoint", "extra=echo")
    try:
        banner = served.out.getvalue()
        assert "(--rechunk 4; off: one part per record)" in banner
        assert "endpoint demo: demo LLM (unpaced; TGI and Messages API)" in banner
        assert "endpoint flaky: echo (answers with the request body) + 1 fault(s)" in banner
        assert "endpoint extra: echo" in banner
        client: SageMakerRuntimeClient = env_client(served.url)
        with pytest.raises(client.exceptions.ModelNotReadyException):
            client.invoke_endpoint(EndpointName="flaky", Body=b"x")
        answer = client.invoke_endpoint(EndpointName="flaky", Body=b"x")
        assert answer["ContentType"] == "text/plain"
        assert answer["Body"].read() == b"x"
        response = client.invoke_endpoint_with_response_stream(
            EndpointName="extra", Body=b"abcdefghij"
        )
        parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
        assert parts == [b"abcd", b"efgh", b"ij"]
    finally:
        assert served.stop() == 0
    assert served.out.getvalue().endswith("Stopped.\n")


def test_fault_operations_and_custom_codes(env_client: Any) -> None:
    """``op=`` picks the operations; ``custom=true`` sends a code that no model lists."""
    served = InProcess(
        "--endpoint",
        "odd=echo",
        "--endpoint",
        "picky=echo",
        "--fault",
        "odd:SomethingNew:custom=true,status=409",
        "--fault",
        "picky:ThrottlingException:op=stream+async",
    )
    try:
        client: SageMakerRuntimeClient = env_client(served.url)
        with pytest.raises(bce.ClientError) as caught:
            client.invoke_endpoint(EndpointName="odd", Body=b"x")
        assert caught.value.response["Error"]["Code"] == "SomethingNew"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert client.invoke_endpoint(EndpointName="picky", Body=b"x")["Body"].read() == b"x"
        with pytest.raises(bce.ClientError) as caught:
            client.invoke_endpoint_with_response_stream(EndpointName="picky", Body=b"x")
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    finally:
        assert served.stop() == 0


def test_rechunk_off_sends_one_part_per_record(env_client: Any) -> None:
    """``--rechunk off``: each record the demo yields is one whole PayloadPart."""
    served = InProcess("--endpoint", "demo=demo:0", "--rechunk", "off")
    try:
        assert "Streams: one PayloadPart per record (--rechunk off)." in served.out.getvalue()
        client: SageMakerRuntimeClient = env_client(served.url)
        body = json.dumps({"inputs": "x", "stream": True, "parameters": {"max_new_tokens": 5}})
        response = client.invoke_endpoint_with_response_stream(EndpointName="demo", Body=body)
        parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
        assert len(parts) == 5
        assert all(part.startswith(b"data: {") and part.endswith(b"}\n\n") for part in parts)
    finally:
        assert served.stop() == 0


def test_connection_limits_from_flags(env_client: Any) -> None:
    """``--idle-timeout`` closes an idle connection; ``--request-timeout`` a stalled request."""
    served = InProcess("--endpoint", "e=echo", "--idle-timeout", "0.2", "--request-timeout", "0.2")
    try:
        port = int(served.url.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            assert idle.recv(100) == b""  # closed by the server, well before 10 s
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            stalled.sendall(b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\n")
            assert stalled.recv(100).startswith(b"HTTP/1.1 408 ")
        client: SageMakerRuntimeClient = env_client(served.url)
        assert client.invoke_endpoint(EndpointName="e", Body=b"ok")["Body"].read() == b"ok"
    finally:
        assert served.stop() == 0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_toml_config_file(tmp_path: Path, env_client: Any) -> None:
    """The same settings in TOML."""
    config = tmp_path / "serve.toml"
    config.write_text('[endpoints]\nmirror = "echo"\n')
    served = InProcess("--config", str(config))
    try:
        assert "endpoint mirror: echo" in served.out.getvalue()
        client: SageMakerRuntimeClient = env_client(served.url)
        assert client.invoke_endpoint(EndpointName="mirror", Body=b"t")["Body"].read() == b"t"
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoint", "noequals"], "expected NAME=BACKEND"),
        (["--endpoint", "d=demo:fast"], "not a number of tokens per second"),
        (["--endpoint", "c=container:ftp://x"], "looks like http://host:port"),
        (["--fault", "demo:nope"], "unknown fault kind 'nope'"),
        (["--fault", "demo:NoSuchKind"], "unknown fault kind 'NoSuchKind'"),
        (["--fault", "demo:ThrotlingException"], "(did you mean ThrottlingException?)"),
        (["--fault", "demo:stream-eror:after=1"], "(did you mean stream-error?)"),
        (["--fault", "demo:ModelStreamError"], "is an event of the stream: use stream-error"),
        (
            ["--fault", "demo:ModelNotReadyException:op=async"],
            "InvokeEndpointAsync cannot answer ModelNotReadyException",
        ),
        (["--fault", "demo:ThrottlingException:op=batch"], "unknown operation 'batch'"),
        (["--fault", "demo:ThrottlingException:custom=maybe"], "is not true or false"),
        (["--fault", "demo:stall"], "needs seconds=N"),
        (["--fault", "demo:slow-tokens"], "needs delay=SECONDS"),
        (["--fault", "demo:stream-error:every=2"], "bad option 'every=2'"),
        (["--fault", "demo:ThrottlingException:rate=lots"], "rate='lots' is not a number"),
        (["--fault", "demo:ThrottlingException:rate=2"], "rate must be None or between 0 and 1"),
        (["--fault", "demo:truncate:clean=maybe"], "is not true or false"),
        (["--fault", "missing:reset"], "no endpoint named 'missing'"),
        (["--fault", "nocolon"], "expected ENDPOINT:KIND"),
        (["--port", "70000"], "out of range"),
        (["--rechunk", "sometimes"], "--rechunk 'sometimes': use off, random"),
        (["--rechunk", "0"], "(bytes, at least 1)"),
        (["--rechunk", "random:9-3"], "--rechunk 'random:9-3'"),
        (["--idle-timeout", "-1"], "'idle_timeout' must be from 0 to 1,000,000,000 seconds"),
        (["--idle-timeout", "nan"], "'idle_timeout' must be from 0 to 1,000,000,000 seconds"),
        (["--idle-timeout", "inf"], "'idle_timeout' must be from 0 to 1,000,000,000 seconds"),
        (["--request-timeout", "1e400"], "'request_timeout' must be from 0 to"),
        (["--tokens-per-second", "nan"], "tokens_per_second must be None, 0 (unpaced) or"),
        (["--tokens-per-second", "1e-300"], "tokens_per_second must be None, 0 (unpaced) or"),
        (["--max-connections", "0"], "'max_connections' must be an integer >= 1"),
        (["--config", "/nonexistent/serve.json"], "cannot read config file"),
    ],
)
def test_configuration_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each mistake is one clear line and exit status 2; nothing is started."""
    assert run_serve(_args(*argv), io.StringIO(), stop=_stopped()) == 2
    err = capsys.readouterr().err
    assert err.startswith("smr serve: error: ")
    assert message in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1]", "must hold a table/object"),
        ("{not json", "is not valid"),
        ('{"colour": 1}', "unknown setting(s) colour"),
        ('{"port": "80"}', "'port' must be an integer"),
        ('{"endpoints": {"a": 5}}', "give a backend string or a table"),
        ('{"endpoints": {"a": {"backend": "echo", "url": "x"}}}', "unknown setting(s) url"),
        ('{"endpoints": {"a": {"backend": "echo", "faults": "reset"}}}', "list of strings"),
        ('{"endpoints": {"a": {"backend": 1}}}', "'backend' must be"),
        ('{"endpoints": {"a": {"backend": "echo", "faults": ["Nope"]}}}', "fault kind 'Nope'"),
        ('{"rechunk": 1}', "'rechunk' must be a string"),
        ('{"request_timeout": "soon"}', "'request_timeout' must be a number"),
        ('{"max_connections": 2.5}', "'max_connections' must be an integer >= 1"),
    ],
)
def test_config_file_errors(
    tmp_path: Path, document: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "serve.json"
    config.write_text(document)
    assert run_serve(_args("--config", str(config)), io.StringIO(), stop=_stopped()) == 2
    assert message in capsys.readouterr().err


def test_unhealthy_container_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A container that never answers /ping: one line naming it, exit status 1."""
    url = f"http://127.0.0.1:{_free_port()}"
    config = tmp_path / "serve.json"
    config.write_text(
        json.dumps(
            {"endpoints": {"byoc": {"backend": "container", "url": url, "health_timeout": 0.2}}}
        )
    )
    assert run_serve(_args("--config", str(config)), io.StringIO(), stop=_stopped()) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"smr serve: error: the model container at {url} did not answer")


def test_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_serve(_args("--port", str(port)), io.StringIO(), stop=_stopped()) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_help_says_after_counts_parts_as_cut() -> None:
    """``after=N`` counts PayloadParts, which ``--rechunk`` (on by default) cuts small."""
    parser = argparse.ArgumentParser(prog="smr serve")
    add_serve_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "after=N counts PayloadParts as --rechunk cuts them (--rechunk off: records)" in text

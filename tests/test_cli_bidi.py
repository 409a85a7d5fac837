"""``smr bidi``: the command run as a user runs it, against the local HTTP/2 listener.

The child finds the listener as a shell would after ``smr serve``'s exports
(``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2`` and ``AWS_CA_BUNDLE``), with dummy
credentials the listener checks every signature against. Reads from the child have a
deadline: a command that sent all its input before reading would hang there instead.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from test_cli_chat import Terminal
from typed_sagemaker_runtime import BidiEvent, BidiPayloadPart, ModelStreamError
from typed_sagemaker_runtime._cli._main import main
from typed_sagemaker_runtime._core._bidi_events import MAX_PART_BYTES
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="select() on pipes")
pty = pytest.importorskip("pty")

SMR = Path(sys.executable).parent / "smr"
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def listener() -> Iterator[BidiListener]:
    with BidiListener(credentials={KEY: SECRET}) as running:
        yield running


def environment(listener: BidiListener, secret: str = SECRET) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    nowhere = str(Path(tempfile.gettempdir()) / "typed-sagemaker-runtime-no-aws-config")
    env.update(
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2=listener.url,
        AWS_CA_BUNDLE=listener.ca_bundle,
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=nowhere,
        AWS_SHARED_CREDENTIALS_FILE=nowhere,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def run(
    listener: BidiListener, *args: str, stdin: bytes = b"", secret: str = SECRET
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(SMR), "bidi", *args],
        input=stdin,
        capture_output=True,
        env=environment(listener, secret),
        timeout=60,
        check=False,
    )


@contextmanager
def started(
    listener: BidiListener, *args: str, secret: str = SECRET
) -> Generator[subprocess.Popen[bytes], None, None]:
    """``smr bidi`` running with pipes for its three streams; killed if still running after."""
    with subprocess.Popen(
        [str(SMR), "bidi", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(listener, secret),
        bufsize=0,
    ) as child:
        try:
            yield child
        finally:
            child.kill()


def read_until(child: subprocess.Popen[bytes], wanted: bytes, timeout: float = 10.0) -> bytes:
    """What the child printed up to and including ``wanted``; fails after ``timeout`` s."""
    assert child.stdout is not None
    descriptor = child.stdout.fileno()
    deadline = time.monotonic() + timeout
    got = b""
    while wanted not in got:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([descriptor], [], [], max(remaining, 0))
        if not ready:
            raise AssertionError(f"waited {timeout} s for {wanted!r}, got {got!r}")
        data = os.read(descriptor, 4096)
        if not data:
            raise AssertionError(f"the output ended before {wanted!r}: {got!r}")
        got += data
    return got


def type_line(child: subprocess.Popen[bytes], line: bytes) -> None:
    assert child.stdin is not None
    child.stdin.write(line)
    child.stdin.flush()


@contextmanager
def in_process(
    listener: BidiListener, monkeypatch: pytest.MonkeyPatch
) -> Generator[None, None, None]:
    """``main`` run here, its environment the child's, its input a pipe left open."""
    env = environment(listener)
    for name in [name for name in os.environ if name.startswith("AWS_") and name not in env]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    reading, writing = os.pipe()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.FileIO(reading, "rb")))
    try:
        yield
    finally:
        os.close(writing)
        sys.stdin.close()


def rest(child: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """What the child (which has ended) wrote on standard output and error, not yet read."""
    assert child.stdout is not None
    assert child.stderr is not None
    return child.stdout.read(), child.stderr.read()


def recording(
    received: list[BidiPayloadPart],
) -> Callable[[Iterator[BidiPayloadPart]], Iterator[BidiEvent]]:
    def backend(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        for part in parts:
            received.append(part)
            yield part

    return backend


def test_each_line_is_sent_and_answered_before_the_next_is_typed(listener: BidiListener) -> None:
    with started(listener, "ep") as child:
        for word in (b"one", b"two", "ünï".encode()):
            type_line(child, word + b"\n")
            assert read_until(child, word + b"\n") == word + b"\n"  # half duplex hangs here
        assert child.stdin is not None
        child.stdin.close()  # end of input: the request ends, the answer's end is awaited
        assert child.wait(timeout=30) == 0
        assert rest(child) == (b"", b"")
    assert listener.wait_for_ends(1) == [True]  # the signed end frame, then END_STREAM
    assert listener.refusals == []


def test_a_pipe_prints_the_echoes_and_exits_0(listener: BidiListener) -> None:
    result = run(listener, "ep", stdin=b"hello\nworld\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"hello\nworld\n", b"")


def test_an_empty_input_ends_the_request_and_exits_0(listener: BidiListener) -> None:
    result = run(listener, "ep")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert listener.wait_for_ends(1) == [True]


def test_lines_are_sent_without_their_newline_and_blank_lines_are_not_sent(
    listener: BidiListener,
) -> None:
    received: list[BidiPayloadPart] = []
    listener.backend = recording(received)
    result = run(listener, "ep", stdin=b"a\r\n\nb\nlast")
    assert result.returncode == 0, result.stderr
    assert received == [BidiPayloadPart(data, "UTF8", None) for data in (b"a", b"b", b"last")]
    assert result.stdout == b"a\nb\nlast\n"


def test_keep_newlines_sends_each_line_as_read(listener: BidiListener) -> None:
    received: list[BidiPayloadPart] = []
    listener.backend = recording(received)
    result = run(listener, "ep", "--keep-newlines", stdin=b"a\n\nlast")
    assert result.returncode == 0, result.stderr
    assert [part.data for part in received] == [b"a\n", b"\n", b"last"]
    assert result.stdout == b"a\n\nlast\n"  # no second newline after one the message has


def test_partial_answers_print_as_they_arrive_and_each_message_ends_its_line(
    listener: BidiListener,
) -> None:
    def captions(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        for part in parts:
            if part.data == b"go":
                yield BidiPayloadPart(b"hel", "UTF8", "PARTIAL")
            else:
                yield BidiPayloadPart(b"lo", "UTF8", "COMPLETE")

    listener.backend = captions
    with started(listener, "ep") as child:
        type_line(child, b"go\n")
        assert read_until(child, b"hel") == b"hel"  # printed before its message completes
        type_line(child, b"more\n")
        assert read_until(child, b"lo\n") == b"lo\n"
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=30) == 0


def test_a_file_is_sent_as_binary_parts_at_the_rate_asked(
    listener: BidiListener, tmp_path: Path
) -> None:
    arrivals: list[tuple[float, BidiPayloadPart]] = []

    def timed(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        for part in parts:
            arrivals.append((time.monotonic(), part))
            yield part

    listener.backend = timed
    audio = bytes(range(256)) * 60  # 15,360 bytes: four parts of 3,200 and one of 2,560
    (tmp_path / "audio.raw").write_bytes(audio)
    started = time.monotonic()
    result = run(listener, "ep", "--file", str(tmp_path / "audio.raw"), "--rate", "16000")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert [part.data_type for _, part in arrivals] == ["BINARY"] * 5
    assert [len(part.data) for _, part in arrivals] == [3200] * 4 + [2560]
    assert b"".join(part.data for _, part in arrivals) == audio
    # 3,200 bytes at 16,000 bytes/s: 0.2 s apart, the last part 0.8 s after the first.
    assert arrivals[-1][0] - arrivals[0][0] >= 0.6
    assert elapsed < 20
    assert result.stdout == b"[3200 bytes]\n" * 4 + b"[2560 bytes]\n"


def test_binary_answers_go_unchanged_to_binary_output(
    listener: BidiListener, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 20
    (tmp_path / "in.raw").write_bytes(data)
    saved = tmp_path / "out.raw"
    args = ("ep", "--file", str(tmp_path / "in.raw"), "--chunk-bytes", "1000")
    result = run(listener, *args, "--binary-output", str(saved))
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert saved.read_bytes() == data
    to_stdout = run(listener, *args, "--binary-output", "-")
    assert (to_stdout.returncode, to_stdout.stdout) == (0, data)


def test_a_file_from_standard_input(listener: BidiListener) -> None:
    result = run(listener, "ep", "--file", "-", "--chunk-bytes", "4", stdin=b"\x00\x01\x02\x03\xff")
    assert (result.returncode, result.stdout) == (0, b"[4 bytes]\n[1 bytes]\n")


def test_a_wrong_secret_key_is_one_403_line_while_the_input_is_still_open(
    listener: BidiListener,
) -> None:
    # Its input is never written nor closed: the answer must not wait for it.
    with started(listener, "ep", secret="not-the-secret") as child:
        assert child.wait(timeout=30) == 1
        out, err = rest(child)
        assert out == b""
        [line] = err.decode().splitlines()
    assert line.startswith(
        "smr: error: AccessDeniedError code=InvalidSignatureException status=403 request_id="
    )


def test_an_error_event_ends_the_line_and_fails_with_its_code(listener: BidiListener) -> None:
    def failing(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        for _ in parts:
            yield BidiPayloadPart(b"half an ans", "UTF8", "PARTIAL")
            yield ModelStreamError("the model fell over", "ModelError")
            return

    listener.backend = failing
    result = run(listener, "ep", stdin=b"hi\n")
    assert result.returncode == 1
    assert result.stdout == b"half an ans\n"
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("smr: error: ModelStreamInterruptedError error_code=ModelError")
    assert line.endswith("the model fell over")


def test_ctrl_c_aborts_at_once_with_130_and_no_traceback(listener: BidiListener) -> None:
    with started(listener, "ep") as child:
        type_line(child, b"ready?\n")
        read_until(child, b"ready?\n")  # the stream is open and the input still is
        interrupted = time.monotonic()
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 130
        assert time.monotonic() - interrupted < 5
        assert rest(child)[1] == b"smr: interrupted\n"
    assert True not in listener.ended  # cut off: no signed end frame was sent


def test_a_closed_pipe_ends_quietly_with_141(listener: BidiListener) -> None:
    lines = "".join(f"{n}\n" for n in range(100_000)).encode()
    result = subprocess.run(
        ["bash", "-c", f"'{SMR}' bidi ep | head -1; echo \"status ${{PIPESTATUS[0]}}\""],
        input=lines,
        capture_output=True,
        env=environment(listener),
        timeout=60,
        check=False,
    )
    assert result.stdout == b"0\nstatus 141\n"
    assert result.stderr == b""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "16000"], "--rate needs --file"),
        (["--chunk-bytes", "10"], "--chunk-bytes needs --file"),
        (["--file", "-", "--keep-newlines"], "--keep-newlines is for lines"),
        (["--file", "-", "--chunk-bytes", "0"], "--chunk-bytes must be 1 to"),
        (["--file", "-", "--rate", "0"], "--rate must be a positive number"),
        (["--file", "/nonexistent/audio.raw"], "cannot read --file: No such file"),
        (["--model-invocation-path", "/v1"], "--model-invocation-path: '/v1' is not"),
        (["--model-query-string", "a b"], "--model-query-string: the value is not"),
        (["--target-variant", "x" * 64], "--target-variant: length must be 1-63"),
    ],
)
def test_invalid_options_are_refused_before_anything_is_sent(
    listener: BidiListener,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    with in_process(listener, monkeypatch):
        assert main(["bidi", "ep", *args], out=io.StringIO()) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("smr: error: ClientValidationError: ")
    assert message in line
    assert listener.requests == []


def test_request_options_arrive(listener: BidiListener) -> None:
    result = run(
        listener,
        "ep",
        "--model-invocation-path",
        "v1/listen",
        "--model-query-string",
        "model=nova-3",
        "--target-variant",
        "AllTraffic",
        stdin=b"x\n",
    )
    assert result.returncode == 0, result.stderr
    [headers] = listener.requests
    assert headers[":path"] == "/endpoints/ep/invocations-bidirectional-stream"
    assert headers["x-amzn-sagemaker-model-invocation-path"] == "v1/listen"
    assert headers["x-amzn-sagemaker-model-query-string"] == "model=nova-3"
    assert headers["x-amzn-sagemaker-target-variant"] == "AllTraffic"


def test_a_line_that_is_not_utf8_is_named(listener: BidiListener) -> None:
    result = run(listener, "ep", stdin=b"fine\n\xff\n")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1] == (
        "smr: error: ClientValidationError: line 2 of standard input is not UTF-8 text "
        "(byte 1 cannot start or continue a character)"
    )


def test_stats_count_the_parts_and_time_the_first_answer(listener: BidiListener) -> None:
    result = run(listener, "ep", "--stats", stdin=b"one\ntwo\n")
    assert result.returncode == 0
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("smr: sent 2 parts (6 bytes), received 2 parts (6 bytes); first answer ")


def test_bidi_endpoint_url_overrides_the_environment(listener: BidiListener) -> None:
    env = environment(listener)
    env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2"] = "https://localhost:9"  # nothing there
    result = subprocess.run(
        [str(SMR), "bidi", "ep", "--bidi-endpoint-url", listener.url],
        input=b"via the option\n",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, b"via the option\n"), result.stderr


def test_no_thread_of_the_library_is_left_when_main_returns(
    listener: BidiListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender thread, blocked reading an input still open, ends with the stream."""

    def failing(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield ModelStreamError("no", "ModelError")

    listener.backend = failing
    with in_process(listener, monkeypatch):
        assert main(["bidi", "ep"], out=io.StringIO()) == 1  # the input was never closed
    assert [t.name for t in threading.enumerate() if "typed-sagemaker-runtime" in t.name] == []


@contextmanager
def at_a_terminal(listener: BidiListener, *args: str) -> Generator[Terminal, None, None]:
    """``smr bidi`` whose controlling terminal is a pty: typing, Ctrl-C and Ctrl-D as a user's."""
    argv = [sys.executable, "-m", "typed_sagemaker_runtime._cli", "bidi", *args]
    env = environment(listener)
    pid, fd = pty.fork()
    if pid == 0:  # the child
        try:
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    terminal = Terminal(fd, pid)
    try:
        yield terminal
    finally:
        with suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        os.close(fd)


def slow_captions(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
    """Each message word by word, ten words a second."""
    for part in parts:
        words = part.data.split(b" ")
        for number, word in enumerate(words):
            time.sleep(0.1)
            last = number == len(words) - 1
            yield BidiPayloadPart(b" " * (number > 0) + word, "UTF8", None if last else "PARTIAL")


def test_at_a_terminal_typed_lines_are_answered_and_ctrl_d_ends(listener: BidiListener) -> None:
    listener.backend = slow_captions
    with at_a_terminal(listener, "ep") as terminal:
        terminal.wait_for(b"smr: type lines to send; Ctrl-D to end, Ctrl-C to abort\r\n")
        terminal.type(b"one two three\r")
        terminal.wait_for(b"one two three\r\n")  # the terminal's echo
        terminal.wait_for(b"one two three\r\n")  # the answer, its line ended
        terminal.type(b"four\r")
        terminal.wait_for(b"four\r\nfour\r\n")
        terminal.type(b"\x04")
        assert terminal.exit_status() == 0
    assert listener.wait_for_ends(1) == [True]


def test_at_a_terminal_ctrl_c_stops_an_answer_with_130(listener: BidiListener) -> None:
    listener.backend = slow_captions
    with at_a_terminal(listener, "ep") as terminal:
        terminal.wait_for(b"Ctrl-C to abort\r\n")
        line = b" ".join([b"word"] * 100)  # ten seconds of answer
        terminal.type(line + b"\r")
        terminal.wait_for(line + b"\r\n")  # the terminal's echo
        terminal.wait_for(b"word word")  # the answer's first words
        terminal.type(b"\x03")
        stopped = terminal.wait_for(b"^C\r\nsmr: interrupted\r\n")  # on a line of its own
        assert terminal.exit_status() == 130
    assert stopped < 5.0
    assert b"Traceback" not in terminal.output


def test_at_a_terminal_ctrl_c_while_the_stream_opens_ends_the_line(
    listener: BidiListener,
) -> None:
    with at_a_terminal(listener, "ep") as terminal:
        terminal.wait_for(b"Ctrl-C to abort\r\n")  # written before the client is made
        terminal.type(b"\x03")
        terminal.wait_for(b"^C\r\nsmr: interrupted\r\n")
        assert terminal.exit_status() == 130
    assert b"Traceback" not in terminal.output


def test_without_awscrt_the_error_is_one_line_naming_the_extra(
    listener: BidiListener, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # botocore itself asks awscrt its version: only the part the transport needs is gone.
    for name in [m for m in sys.modules if "_bidi_transport" in m or "_bidi_crt" in m]:
        monkeypatch.delitem(sys.modules, name)
    import awscrt

    monkeypatch.delattr(awscrt, "http", raising=False)
    monkeypatch.setitem(sys.modules, "awscrt.http", None)
    with in_process(listener, monkeypatch):
        assert main(["bidi", "ep", "--read-timeout", "5"], out=io.StringIO()) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("smr: error: bidirectional streams need awscrt, which the 'bidi' extra")


def test_a_line_over_the_limit_of_a_part_is_refused_unread(listener: BidiListener) -> None:
    received: list[BidiPayloadPart] = []
    listener.backend = recording(received)
    result = run(listener, "ep", stdin=b"short\n" + b"x" * (MAX_PART_BYTES + 1))
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1] == (
        "smr: error: ClientValidationError: line 2 of standard input is over the "
        f"{MAX_PART_BYTES:,}-byte limit of a part"
    )
    assert [part.data for part in received] in ([], [b"short"])


def test_closed_standard_input_is_refused_before_sending(listener: BidiListener) -> None:
    result = subprocess.run(
        ["bash", "-c", f"'{SMR}' bidi ep <&-"],
        capture_output=True,
        env=environment(listener),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == b"smr: error: ClientValidationError: standard input is closed\n"
    assert listener.requests == []


def test_missing_credentials_exit_2_before_sending(listener: BidiListener, tmp_path: Path) -> None:
    env = environment(listener)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    env["HOME"] = str(tmp_path)
    result = subprocess.run(
        [str(SMR), "bidi", "ep"], capture_output=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("smr: error: CredentialsError: ")
    assert listener.requests == []


def test_stats_of_a_model_that_speaks_first(listener: BidiListener) -> None:
    def greeter(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"welcome", "UTF8", None)
        yield from parts

    listener.backend = greeter
    result = run(listener, "ep", "--stats")  # nothing is sent: the model speaks anyway
    assert (result.returncode, result.stdout) == (0, b"welcome\n")
    assert "first answer " in result.stderr.decode()
    assert " ms after the stream opened" in result.stderr.decode()


def test_at_a_terminal_a_last_line_ended_by_ctrl_d_is_answered_on_a_line_of_its_own(
    listener: BidiListener,
) -> None:
    with at_a_terminal(listener, "ep") as terminal:
        terminal.wait_for(b"Ctrl-C to abort\r\n")
        terminal.type(b"no newline")
        terminal.wait_for(b"no newline")  # the terminal's echo
        terminal.type(b"\x04")  # hands over the line typed so far
        terminal.type(b"\x04")  # then the end of the input
        terminal.wait_for(b"\r\nno newline\r\n")  # not "no newlineno newline"
        assert terminal.exit_status() == 0


def test_help_says_whether_the_newline_is_sent() -> None:
    result = subprocess.run(
        [str(SMR), "bidi", "--help"], capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.decode().split())
    assert "sent as one UTF8 part as soon as it is read, WITHOUT its newline" in text
    assert "--keep-newlines" in text

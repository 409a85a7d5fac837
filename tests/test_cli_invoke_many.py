"""``smr invoke-many`` against the local endpoint, run in a subprocess as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import pytest

from typed_sagemaker_runtime.testing import (
    Capacity,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
)

SMR = Path(sys.executable).parent / "smr"
PROGRESS = re.compile(
    r"smr: [\d,]+(/[\d,]+)? records, [\d,]+/s, [\d,]+ in flight, [\d,]+ throttled, "
    r"[\d,]+ failed, ETA (-|\d+:\d\d(:\d\d)?)"
)
SUMMARY = re.compile(
    r"smr: (interrupted: )?[\d,]+ records( \(after the [\d,]+ OUTPUT held(, [\d,]+ of them "
    r"failed)?\))?, [\d,]+ ok, "
    r"[\d,]+ failed, [\d,]+ throttled, [\d,]+ retried, \d+:\d\d elapsed, [\d,]+ records/s"
    r"(; --resume continues)?"
)


def _score(request: InvocationRequest) -> bytes:
    """JSON answers, or text, bytes that are not UTF-8, or a model error, as the body asks."""
    if b"fail" in request.body:
        raise ModelFailure(500, "cannot score this")
    if b"binary" in request.body:
        return b"\xff\xfe\x00"
    if b"text" in request.body:
        return b"plain words"
    return json.dumps({"length": len(request.body)}).encode()


def _slowly(request: InvocationRequest) -> bytes:
    time.sleep(0.05)
    return _score(request)


@pytest.fixture(name="local")
def _local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_endpoint("score", _score)
        runtime.add_endpoint("slow", _slowly)
        yield runtime


def command(local: LocalRuntime, *args: str) -> list[str]:
    return [str(SMR), "invoke-many", *args, "--endpoint-url", local.endpoint_url]


def smr(
    local: LocalRuntime, *args: str, stdin: bytes | None = None, stdout: IO[Any] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(local, *args),
        input=None if stdin is None else stdin.decode(),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )


def lines_of(*records: object) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def numbered(count: int) -> bytes:
    return lines_of(*({"n": n} for n in range(count)))


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def indexes(path: Path) -> list[int]:
    return [record["index"] for record in read(path)]


def write_input(tmp_path: Path, data: bytes) -> str:
    source = tmp_path / "in.jsonl"
    source.write_bytes(data)
    return str(source)


def when(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_line_per_record_in_input_order_with_every_kind_of_body(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """Index is the line's number; blank lines are not records; one failure fails the run."""
    data = b'{"x": 1}\n\n{"fail": true}\n{"text": 1}\r\n  \n{"binary": 1}\n{"x": 22}'
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", write_input(tmp_path, data), "-o", str(out))
    assert result.returncode == 1, result.stderr  # a record failed; all are written
    records = read(out)
    error = records[1].pop("error")
    assert records == [
        {"index": 0, "body": {"length": 8}, "error": None},
        {"index": 2, "body": None},
        {"index": 3, "body": "plain words", "error": None},
        {"index": 5, "body": {"base64": "//4A"}, "error": None},
        {"index": 6, "body": {"length": 9}, "error": None},
    ]
    assert error["code"] == "ModelError"
    assert "cannot score this" in error["message"]
    sent = {request.body for request in local.requests}  # concurrently: in any order
    assert sent == {b'{"x": 1}', b'{"fail": true}', b'{"text": 1}', b'{"binary": 1}', b'{"x": 22}'}
    assert {request.content_type for request in local.requests} == {"application/json"}
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith("smr: 5 records, 4 ok, 1 failed, ")
    assert SUMMARY.fullmatch(summary)
    assert result.stdout == ""


def test_every_record_answered_exits_0_and_text_lines_go_as_text(
    local: LocalRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", write_input(tmp_path, b"text one\n{not json\n"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert read(out) == [
        {"index": 0, "body": "plain words", "error": None},
        {"index": 1, "body": {"length": 9}, "error": None},
    ]
    assert [request.content_type for request in local.requests] == ["text/plain"] * 2


def test_each_line_goes_as_json_when_it_parses_else_as_text(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """The type is the line's own, not the first line's: a mixed file is sent whole."""
    data = b'{"a": 1}\nwords\n\n[2, 3]\nNaN\n"quoted"\n\xff\xfe\n'
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", write_input(tmp_path, data), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1, 3, 4, 5, 6]
    sent = {request.body: request.content_type for request in local.requests}
    assert sent == {
        b'{"a": 1}': "application/json",
        b"words": "text/plain",
        b"[2, 3]": "application/json",
        b"NaN": "text/plain",  # Python reads it; JSON has no such value
        b'"quoted"': "application/json",
        b"\xff\xfe": "text/plain",
    }


def test_content_type_names_the_type_of_every_record(local: LocalRuntime, tmp_path: Path) -> None:
    source = write_input(tmp_path, b'{"a": 1}\nwords\n')
    out = str(tmp_path / "out.jsonl")
    result = smr(local, "score", source, "-o", out, "--content-type", "text/csv")
    assert result.returncode == 0, result.stderr
    assert [request.content_type for request in local.requests] == ["text/csv"] * 2


def test_content_type_json_sends_a_line_that_is_not_json_as_it_is(
    local: LocalRuntime, tmp_path: Path
) -> None:
    source = write_input(tmp_path, b'{"a": 1}\nwords\n')
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", source, "-o", str(out), "--content-type", "application/json")
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1]
    sent = {request.body: request.content_type for request in local.requests}
    assert sent == {b'{"a": 1}': "application/json", b"words": "application/json"}


def test_request_options_arrive_with_every_record(local: LocalRuntime, tmp_path: Path) -> None:
    result = smr(
        local,
        "score",
        write_input(tmp_path, numbered(2)),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--accept",
        "application/json",
        "--custom-attributes",
        "a=1",
        "--target-variant",
        "v1",
        "--target-model",
        "m.tar.gz",
        "--target-container-hostname",
        "c1",
        "--inference-component",
        "ic",
        "--concurrency",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert len(local.requests) == 2
    for request in local.requests:
        assert (request.accept, request.custom_attributes) == ("application/json", "a=1")
        assert (request.target_variant, request.target_model) == ("v1", "m.tar.gz")
        assert request.target_container_hostname == "c1"
        assert request.inference_component_name == "ic"


def test_standard_input_is_read_with_a_dash(local: LocalRuntime, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", "-", "-o", str(out), stdin=numbered(3))
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1, 2]


def test_an_existing_output_is_refused_and_left_as_it_was(
    local: LocalRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"precious\n")
    result = smr(local, "score", write_input(tmp_path, numbered(2)), "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("smr: error: ")
    assert result.stderr.strip().endswith("--resume to continue it, or --overwrite to replace it")
    assert out.read_bytes() == b"precious\n"
    assert local.requests == []


def test_overwrite_replaces_an_existing_output(local: LocalRuntime, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"old\n" * 10)
    source = write_input(tmp_path, numbered(2))
    result = smr(local, "score", source, "-o", str(out), "--overwrite")
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--concurrency", "0"], "--concurrency: expected a whole number >= 1"),
        (["--concurrency", "lots"], "--concurrency: expected a whole number >= 1"),
        (["--max-concurrency", "-3"], "--max-concurrency: expected a whole number >= 1"),
        (["--progress-interval", "0"], "--progress-interval: expected seconds > 0"),
        (["--progress-interval", "inf"], "--progress-interval: expected seconds > 0"),
        (["--progress-interval", "1e10"], "--progress-interval: expected seconds > 0"),
        (["--resume", "--overwrite"], "pass --resume or --overwrite, not both"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    local: LocalRuntime, tmp_path: Path, arguments: list[str], message: str
) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", write_input(tmp_path, numbered(2)), "-o", str(out), *arguments)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert local.requests == []


def test_a_missing_input_is_a_usage_error_and_leaves_no_output(
    local: LocalRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", str(tmp_path / "nowhere.jsonl"), "-o", str(out))
    assert result.returncode == 2
    assert result.stderr == (
        "smr: error: ClientValidationError: cannot read INPUT: No such file or directory\n"
    )
    assert not out.exists()


def test_output_that_is_the_input_is_refused_even_with_overwrite(
    local: LocalRuntime, tmp_path: Path
) -> None:
    source = write_input(tmp_path, numbered(2))
    result = smr(local, "score", source, "-o", source, "--overwrite")
    assert result.returncode == 2
    assert "OUTPUT is INPUT" in result.stderr
    assert Path(source).read_bytes() == numbered(2)


def test_an_endpoint_that_does_not_exist_is_one_error_line(
    local: LocalRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "missing", write_input(tmp_path, numbered(5)), "-o", str(out))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("smr: error:")]
    assert len(errors) == 1
    assert errors[0].startswith("smr: error: EndpointNotFoundError ")
    assert "Traceback" not in result.stderr
    assert out.read_bytes() == b""  # what was written (nothing) is a valid OUTPUT


def test_a_full_disk_is_one_error_line(local: LocalRuntime, tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    source = write_input(tmp_path, numbered(3))
    result = smr(local, "score", source, "-o", "/dev/full", "--overwrite")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "smr: error: OSError: No space left on device"
    assert "Traceback" not in result.stderr


def test_standard_output_is_not_used(local: LocalRuntime, tmp_path: Path) -> None:
    """``smr invoke-many ... > /dev/full``: nothing goes there, so nothing fails."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    out = tmp_path / "out.jsonl"
    source = write_input(tmp_path, numbered(3))
    with open("/dev/full", "w") as full:
        result = smr(local, "score", source, "-o", str(out), stdout=full)
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1, 2]


def test_a_throttled_record_is_retried_and_counted(local: LocalRuntime, tmp_path: Path) -> None:
    local.add_endpoint("busy", _score, faults=[ErrorResponse("ThrottlingException", times=2)])
    out = tmp_path / "out.jsonl"
    source = write_input(tmp_path, numbered(4))
    result = smr(local, "busy", source, "-o", str(out), "--concurrency", "1")
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1, 2, 3]
    assert ", 2 throttled, 2 retried, " in result.stderr.splitlines()[-1]


def test_progress_lines_on_standard_error_when_it_is_not_a_terminal(
    local: LocalRuntime, tmp_path: Path
) -> None:
    source = write_input(tmp_path, numbered(40))
    out = tmp_path / "out.jsonl"
    arguments = ("-o", str(out), "--concurrency", "2", "--progress-interval", "0.1")
    result = smr(local, "slow", source, *arguments)
    assert result.returncode == 0, result.stderr
    *progress, summary = result.stderr.splitlines()
    assert progress, result.stderr
    assert all(PROGRESS.fullmatch(line) for line in progress), progress
    assert any("/40 records" in line for line in progress)
    assert summary.startswith("smr: 40 records, 40 ok, 0 failed, ")


def test_resume_after_a_complete_run_sends_nothing(local: LocalRuntime, tmp_path: Path) -> None:
    source = write_input(tmp_path, numbered(3))
    out = tmp_path / "out.jsonl"
    assert smr(local, "score", source, "-o", str(out)).returncode == 0
    before = out.read_bytes()
    result = smr(local, "score", source, "-o", str(out), "--resume")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == before
    assert len(local.requests) == 3
    assert result.stderr.startswith("smr: 0 records (after the 3 OUTPUT held), 0 ok, 0 failed")


def test_resume_without_an_output_starts_from_the_first_record(
    local: LocalRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", write_input(tmp_path, numbered(2)), "-o", str(out), "--resume")
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1]


def test_a_torn_last_line_is_removed_and_its_record_sent_again(
    local: LocalRuntime, tmp_path: Path
) -> None:
    source = write_input(tmp_path, numbered(5))
    out = tmp_path / "out.jsonl"
    assert smr(local, "score", source, "-o", str(out)).returncode == 0
    whole = out.read_bytes()
    out.write_bytes(whole[:-10])  # a crash in the middle of the last line
    result = smr(local, "score", source, "-o", str(out), "--resume")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == whole
    assert [request.body for request in local.requests[5:]] == [b'{"n": 4}']
    assert "cut short" in result.stderr.splitlines()[0]


def test_resume_fails_the_run_when_output_holds_a_failed_record(
    local: LocalRuntime, tmp_path: Path
) -> None:
    source = write_input(tmp_path, lines_of({"fail": 1}, {"n": 1}))
    out = tmp_path / "out.jsonl"
    assert smr(local, "score", source, "-o", str(out)).returncode == 1
    out.write_bytes(out.read_bytes().splitlines(keepends=True)[0])
    result = smr(local, "score", source, "-o", str(out), "--resume")
    assert result.returncode == 1, result.stderr  # OUTPUT holds a failed record
    assert indexes(out) == [0, 1]
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith("smr: 1 records (after the 1 OUTPUT held, 1 of them failed), 1 ok")
    assert SUMMARY.fullmatch(summary)


def test_resume_refuses_an_output_smr_did_not_write(local: LocalRuntime, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"a,b,c\n")
    result = smr(local, "score", write_input(tmp_path, numbered(2)), "-o", str(out), "--resume")
    assert result.returncode == 2
    assert "line 1 of OUTPUT is not a record of smr invoke-many" in result.stderr
    assert out.read_bytes() == b"a,b,c\n"


def test_ctrl_c_writes_an_in_order_prefix_exits_130_and_resume_completes_it(
    local: LocalRuntime, tmp_path: Path
) -> None:
    count = 200
    source = write_input(tmp_path, numbered(count))
    out = tmp_path / "out.jsonl"
    with subprocess.Popen(
        command(local, "slow", source, "-o", str(out), "--concurrency", "4"),
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    ) as child:
        when(lambda: out.exists() and out.read_bytes().count(b"\n") >= 8)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert out.read_bytes().endswith(b"\n")
    done = indexes(out)
    assert done == list(range(len(done)))
    assert len(done) < count
    assert len(local.requests) == len(done)  # what was in flight was finished and written
    assert stderr.splitlines()[-1].startswith(f"smr: interrupted: {len(done)} records, ")
    assert stderr.splitlines()[-1].endswith("; --resume continues")
    assert "Traceback" not in stderr

    result = smr(local, "slow", source, "-o", str(out), "--resume", "--concurrency", "8")
    assert result.returncode == 0, result.stderr
    assert indexes(out) == list(range(count))
    sent = sorted(request.body for request in local.requests)
    assert sent == sorted(numbered(count).splitlines())  # each record sent once


def test_a_second_ctrl_c_quits_at_once_with_whole_lines(
    local: LocalRuntime, tmp_path: Path
) -> None:
    release = threading.Event()

    def stuck(request: InvocationRequest) -> bytes:
        if b'"n": 3' in request.body:
            release.wait(60)
        return b"{}"

    local.add_endpoint("stuck", stuck)
    out = tmp_path / "out.jsonl"
    arguments = ("-o", str(out), "--concurrency", "2", "--progress-interval", "0.05")
    with subprocess.Popen(
        command(local, "stuck", write_input(tmp_path, numbered(10)), *arguments),
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    ) as child:
        try:
            assert child.stderr is not None
            when(lambda: out.exists() and out.read_bytes().count(b"\n") >= 3)
            child.send_signal(signal.SIGINT)
            for line in child.stderr:
                if line.startswith("smr: stopping after what is in flight"):
                    break
            started = time.monotonic()
            child.send_signal(signal.SIGINT)
            assert child.wait(timeout=30) == 130
            assert time.monotonic() - started < 10  # not the 60 s the stuck request waits
            assert "smr: interrupted" in child.stderr.read()
        finally:
            release.set()
            if child.poll() is None:
                child.kill()
    assert indexes(out) == [0, 1, 2]
    assert out.read_bytes().endswith(b"\n")


def test_at_a_terminal_a_progress_bar_and_ctrl_c_exits_130(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """A rich bar redrawn in place; Ctrl-C typed at the terminal; the cursor shown again."""
    pytest.importorskip("rich")
    import pty

    from test_cli_chat import Terminal

    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "typed_sagemaker_runtime._cli", "invoke-many", "slow"]
    argv += [write_input(tmp_path, numbered(400)), "-o", str(out), "--concurrency", "2"]
    argv += ["--endpoint-url", local.endpoint_url]
    pid, fd = pty.fork()
    if pid == 0:  # the child
        try:
            os.execve(sys.executable, argv, dict(os.environ))
        finally:
            os._exit(127)
    terminal = Terminal(fd, pid)
    try:
        terminal.wait_for("━".encode())
        terminal.wait_for(b"/400 records")
        terminal.type(b"\x03")
        assert terminal.exit_status() == 130
    finally:
        with suppress(ChildProcessError):  # exit_status reaped it
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        os.close(fd)
    shown = bytes(terminal.output).decode("utf-8", "replace")
    assert "\x1b[?25l" in shown  # the cursor hidden while the bar is drawn,
    assert shown.rstrip().endswith("; --resume continues")
    assert "\x1b[?25h" in shown.rsplit("smr: interrupted: ", 1)[0]  # and shown before the summary
    done = indexes(out)
    assert done == list(range(len(done)))


@pytest.mark.parametrize("limit", [["--max-concurrency", "100"], ["--concurrency", "80"]])
def test_the_client_keeps_a_connection_for_each_request_in_flight(
    local: LocalRuntime, tmp_path: Path, caplog: pytest.LogCaptureFixture, limit: list[str]
) -> None:
    """Above the client's 64, each request beyond would open and discard a connection."""
    from typed_sagemaker_runtime._cli._main import main

    source = write_input(tmp_path, numbered(3))
    out = str(tmp_path / "out.jsonl")
    arguments = ["invoke-many", "score", source, "-o", out, *limit]
    assert main([*arguments, "--endpoint-url", local.endpoint_url]) == 0
    assert indexes(Path(out)) == [0, 1, 2]
    assert not [record for record in caplog.records if "max_pool_connections" in record.message]


def test_an_input_of_blank_lines_writes_an_empty_output_and_exits_0(
    local: LocalRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", write_input(tmp_path, b"\n \n\t\r\n"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == b""
    assert local.requests == []
    assert result.stderr.startswith("smr: 0 records, 0 ok, 0 failed, ")


def test_a_busy_endpoint_scores_every_record_and_the_summary_counts_its_throttles(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """Auto concurrency above the endpoint's 4 slots is throttled, backs off, and retries."""
    local.add_endpoint("busy", _score, capacity=Capacity(4, latency=0.01))
    out = tmp_path / "out.jsonl"
    source = write_input(tmp_path, numbered(300))
    result = smr(local, "busy", source, "-o", str(out), "--max-attempts", "20")
    assert result.returncode == 0, result.stderr
    assert indexes(out) == list(range(300))
    throttled = local.capacity_stats("busy").throttled
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith("smr: 300 records, 300 ok, 0 failed, ")
    assert f", {throttled:,} throttled, {throttled:,} retried, " in summary


def test_a_named_pipe_input_is_read_once_and_every_record_sent(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """``smr invoke-many EP <(zcat in.jsonl.gz)``: INPUT is a pipe; counting it for the bar
    must not eat the records."""
    source = tmp_path / "in.fifo"
    os.mkfifo(source)

    def feed() -> None:
        with open(source, "wb") as pipe:
            pipe.write(numbered(5))

    writer = threading.Thread(target=feed)
    writer.start()
    out = tmp_path / "out.jsonl"
    result = smr(local, "score", str(source), "-o", str(out))
    writer.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert indexes(out) == [0, 1, 2, 3, 4]


def test_a_closed_standard_error_still_sends_every_record(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """``smr invoke-many ... 2>&-`` (a cron job): no progress and no summary, but the run."""
    out = tmp_path / "out.jsonl"
    smr_command = command(local, "score", write_input(tmp_path, numbered(3)), "-o", str(out))
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *smr_command],
        stdout=subprocess.PIPE,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert indexes(out) == [0, 1, 2]


def test_resume_refuses_an_output_whose_last_record_is_not_a_line_of_input(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """OUTPUT of a longer INPUT: ``--resume`` with the wrong INPUT is refused, not a silent
    ``0 records`` success."""
    out = tmp_path / "out.jsonl"
    longer = tmp_path / "longer.jsonl"
    longer.write_bytes(numbered(5))
    assert smr(local, "score", str(longer), "-o", str(out)).returncode == 0
    before = out.read_bytes()
    result = smr(local, "score", write_input(tmp_path, numbered(2)), "-o", str(out), "--resume")
    assert result.returncode == 2, result.stderr
    assert "OUTPUT's last record (index 4) is not a record of INPUT" in result.stderr
    assert out.read_bytes() == before
    assert len(local.requests) == 5


def test_a_full_standard_error_does_not_fail_a_run_whose_records_all_succeeded(
    local: LocalRuntime, tmp_path: Path
) -> None:
    """``smr invoke-many ... 2>/dev/full``: the summary is lost, the run is not (no traceback,
    exit 0); as the progress lines are dropped when standard error is full."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    out = tmp_path / "out.jsonl"
    source = write_input(tmp_path, numbered(3))
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            command(local, "score", source, "-o", str(out)),
            stderr=full,
            env=dict(os.environ),
            timeout=120,
            check=False,
        )
    assert result.returncode == 0
    assert indexes(out) == [0, 1, 2]

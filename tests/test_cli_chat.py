"""``smr chat``: one-shot, a conversation through a pipe, and through a pseudo-terminal.

The pseudo-terminal test runs the real command in a child process whose controlling
terminal is the pty, types a turn, presses Ctrl-C while the answer streams (the line
discipline turns it into SIGINT) and Ctrl-D at the prompt, as a user at a terminal does.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import sys
import time
from typing import Any

import pytest

from typed_sagemaker_runtime._cli._main import main
from typed_sagemaker_runtime.testing import DemoLLM, LocalRuntime

pty = pytest.importorskip("pty")


def test_one_shot_streams_the_answer_and_stats(
    local: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    out = io.StringIO()
    argv = ["chat", "demo", "What is SageMaker?", "--endpoint-url", local.endpoint_url]
    status = main([*argv, "--system", "Be brief.", "--max-tokens", "7", "--stats"], out=out)
    assert status == 0
    with local.client() as smr:
        expected = smr.chat(
            "demo",
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is SageMaker?"},
            ],
            max_tokens=7,
        )
    assert out.getvalue() == expected.text + "\n"
    sent: dict[str, Any] = json.loads(local.requests[0].body)
    assert sent["stream"] is True
    assert sent["max_tokens"] == 7
    stderr = capsys.readouterr().err
    assert "time to first token" in stderr
    assert "finish_reason length" in stderr
    assert "usage prompt=" in stderr
    assert "completion=7" in stderr


def test_conversation_through_a_pipe_keeps_the_history(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello\n\nAnd then?\n"))
    out = io.StringIO()
    status = main(
        ["chat", "demo", "--endpoint-url", local.endpoint_url, "--max-tokens", "5"], out=out
    )
    assert status == 0
    assert len(local.requests) == 2  # the blank line is no turn
    first, second = (json.loads(request.body)["messages"] for request in local.requests)
    answer = out.getvalue().splitlines()[0]
    assert first == [{"role": "user", "content": "Hello"}]
    assert second == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And then?"},
    ]


def test_bad_endpoint_name_is_one_line_and_exit_2(
    local: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["chat", "bad name", "hi", "--endpoint-url", local.endpoint_url])
    assert status == 2
    assert capsys.readouterr().err.startswith("smr: error: ClientValidationError")


class Terminal:
    """The pty side of a child process: what it printed, and typing into it."""

    def __init__(self, fd: int, pid: int) -> None:
        self.fd = fd
        self.pid = pid
        self.output = bytearray()
        self.seen = 0  # where the next wait starts searching

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait_for(self, pattern: bytes, timeout: float = 60.0) -> float:
        """Read until ``pattern`` appears after the last match; return the seconds waited."""
        start = time.monotonic()
        while (at := self.output.find(pattern, self.seen)) < 0:
            remaining = start + timeout - time.monotonic()
            assert remaining > 0, f"no {pattern!r} in {bytes(self.output)!r}"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    data = b""
                assert data, f"the terminal closed before {pattern!r}: {bytes(self.output)!r}"
                self.output += data
        self.seen = at + len(pattern)
        return time.monotonic() - start

    def exit_status(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    self.output += os.read(self.fd, 4096)
        raise AssertionError(f"smr chat did not exit: {bytes(self.output)!r}")


def spawn_chat(endpoint_url: str, *extra: str) -> Terminal:
    argv = [sys.executable, "-m", "typed_sagemaker_runtime._cli._main", "chat", "demo"]
    argv += ["--endpoint-url", endpoint_url, *extra]
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        try:
            os.execv(sys.executable, argv)
        finally:
            os._exit(127)
    return Terminal(fd, pid)


def test_interactive_through_a_pty_ctrl_c_stops_the_answer_ctrl_d_exits() -> None:
    # 200 tokens at 20 per second: an answer takes 10 s unless Ctrl-C stops it.
    with LocalRuntime() as local:
        local.add_endpoint("demo", DemoLLM(tokens_per_second=20))
        terminal = spawn_chat(local.endpoint_url, "--max-tokens", "200")
        try:
            terminal.wait_for(b"> ")
            terminal.type(b"Tell me a story\r")
            terminal.wait_for(b"Tell me a story\r\n")  # the echo
            terminal.wait_for(b" ")  # the first words of the answer
            terminal.type(b"\x03")
            stopped = terminal.wait_for(b"smr: answer interrupted")
            assert stopped < 5.0, stopped
            terminal.wait_for(b"> ")
            terminal.type(b"\x04")
            assert terminal.exit_status() == 0
        finally:
            if not _reaped(terminal.pid):
                os.kill(terminal.pid, 9)
                os.waitpid(terminal.pid, 0)
            os.close(terminal.fd)
        assert len(local.requests) == 1
    print(f"Ctrl-C to 'answer interrupted': {stopped:.3f} s")


def test_interactive_through_a_pty_answers_and_keeps_history() -> None:
    with LocalRuntime() as local:
        local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
        terminal = spawn_chat(local.endpoint_url, "--max-tokens", "4", "--system", "Be brief.")
        try:
            terminal.wait_for(b"> ")
            terminal.type(b"Hello\r")
            terminal.wait_for(b"> ")
            terminal.type(b"Again\r")
            terminal.wait_for(b"> ")
            terminal.type(b"\x04")
            assert terminal.exit_status() == 0
        finally:
            if not _reaped(terminal.pid):
                os.kill(terminal.pid, 9)
                os.waitpid(terminal.pid, 0)
            os.close(terminal.fd)
        messages = [json.loads(request.body)["messages"] for request in local.requests]
    assert [len(turn) for turn in messages] == [2, 4]
    assert messages[1][2]["role"] == "assistant"
    assert messages[1][2]["content"] in terminal.output.decode()


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def test_a_failed_turn_is_one_line_and_the_conversation_goes_on(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from typed_sagemaker_runtime.testing import InvocationRequest, ModelFailure

    demo = DemoLLM(tokens_per_second=None)

    def handler(request: InvocationRequest) -> Any:
        if json.loads(request.body)["messages"][-1]["content"] == "fail":
            raise ModelFailure(500, "the model fell over")
        return demo(request)

    local.add_endpoint("demo", handler)
    monkeypatch.setattr(sys, "stdin", io.StringIO("fail\nHello\n"))
    out = io.StringIO()
    status = main(
        ["chat", "demo", "--endpoint-url", local.endpoint_url, "--max-tokens", "3"], out=out
    )
    assert status == 0
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("smr: error: ModelError:")
    assert json.loads(local.requests[-1].body)["messages"] == [{"role": "user", "content": "Hello"}]

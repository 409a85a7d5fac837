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

from typed_sagemaker_runtime import Generation, GenerationChunk
from typed_sagemaker_runtime._cli._main import main
from typed_sagemaker_runtime.testing import DemoLLM, LocalRuntime

pty = pytest.importorskip("pty")


def pipe_in(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Standard input as a pipe holding ``data`` (text over bytes, as Python opens it)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


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
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    pipe_in(monkeypatch, b"Hello\n\nAnd then?\n")
    out = io.StringIO()
    status = main(
        ["chat", "demo", "--endpoint-url", local.endpoint_url, "--max-tokens", "5"], out=out
    )
    assert status == 0
    assert capsys.readouterr().err == "", "no hint how to leave, without a terminal"
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
            terminal.wait_for(b"smr: Ctrl-D to end, Ctrl-C to stop an answer\r\n")
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
    pipe_in(monkeypatch, b"fail\nHello\n")
    out = io.StringIO()
    status = main(
        ["chat", "demo", "--endpoint-url", local.endpoint_url, "--max-tokens", "3"], out=out
    )
    assert status == 1, "a turn failed"
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("smr: error: ModelError code=ModelError status=424 ")
    assert json.loads(local.requests[-1].body)["messages"] == [{"role": "user", "content": "Hello"}]


def test_a_turn_too_large_to_send_names_the_conversation_and_the_next_turn_goes_on(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 7 MB line is refused unsent naming the conversation (smr chat has no BODY)."""
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    argv = ["chat", "demo", "--endpoint-url", local.endpoint_url, "--max-tokens", "3"]
    assert main([*argv, "x" * 7_000_000], out=io.StringIO()) == 2
    one_shot = capsys.readouterr().err.splitlines()
    assert len(one_shot) == 1
    assert one_shot[0].startswith("smr: error: ClientValidationError: the conversation: ")
    assert "BODY" not in one_shot[0]
    pipe_in(monkeypatch, b"x" * 7_000_000 + b"\nHello\n")
    out = io.StringIO()
    assert main(argv, out=out) == 2, "nothing was sent for a turn"
    errors = capsys.readouterr().err.splitlines()
    assert errors == one_shot
    assert out.getvalue() != ""
    assert [json.loads(r.body)["messages"] for r in local.requests] == [
        [{"role": "user", "content": "Hello"}]
    ]


# --- failures: the exit status, and where their lines start ------------------------------


def test_piped_turns_that_fail_exit_as_the_one_shot_does(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["chat", "missing", "--endpoint-url", local.endpoint_url]
    one_shot = io.StringIO()
    assert main([*argv, "hi"], out=one_shot) == 1
    assert one_shot.getvalue() == "", "no empty line before the error"
    assert capsys.readouterr().err.startswith("smr: error: EndpointNotFoundError code=")
    pipe_in(monkeypatch, b"hi\nagain\n")
    out = io.StringIO()
    assert main(argv, out=out) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2
    assert all(line.startswith("smr: error: EndpointNotFoundError code=") for line in errors)
    assert out.getvalue() == "", "no empty line before the errors"


def _chat_chunk(text: str) -> bytes:
    chunk = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def test_an_answer_cut_by_an_error_ends_its_line_once(
    local: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    from typed_sagemaker_runtime.testing import EndpointResponse, ModelStreamError

    def cut(request: object) -> EndpointResponse:
        events: list[bytes | ModelStreamError] = [
            _chat_chunk("Once "),
            _chat_chunk("upon"),
            ModelStreamError("late", "Timeout"),
        ]
        return EndpointResponse(iter(events), content_type="text/event-stream")

    local.add_endpoint("cut", cut)
    out = io.StringIO()
    assert main(["chat", "cut", "hi", "--endpoint-url", local.endpoint_url], out=out) == 1
    assert out.getvalue() == "Once upon\n"
    assert capsys.readouterr().err.startswith("smr: error: ModelStreamInterruptedError ")


# --- --stats: tokens per second -----------------------------------------------------------


def _token(text: str, finish: str | None = None, index: int = 0) -> GenerationChunk:
    return GenerationChunk(text, finish, None, (), index)


def test_tokens_per_second_is_the_pace_after_the_first_token() -> None:
    """5 tokens 20 ms apart, the first after 300 ms: 4 intervals of 20 ms, 50 tokens/s."""
    from typed_sagemaker_runtime._cli._chat_stats import AnswerTiming

    timing = AnswerTiming(started=10.0)
    for number in range(5):
        timing.add(_token("tok", "length" if number == 4 else None), 10.3 + 0.02 * number)
    timing.add(_token("other choice", index=1), 20.0)
    usage_only = GenerationChunk(
        "", None, {"prompt_tokens": 1, "completion_tokens": 5, "total_tokens": 6}, (), 0
    )
    timing.add(usage_only, 11.0)
    assert timing.tokens_per_second(5) == pytest.approx(50.0)
    generation = Generation("x", "length", usage_only.usage, (), 0.3, 1.0)
    line = timing.line(generation)
    assert line.startswith("smr: time to first token 0.300 s, 50.0 tokens/s, total 1.000 s")


def test_tokens_per_second_needs_two_tokens() -> None:
    from typed_sagemaker_runtime._cli._chat_stats import AnswerTiming

    timing = AnswerTiming(started=0.0)
    assert timing.tokens_per_second(3) is None
    timing.add(_token("only", "stop"), 1.0)
    assert timing.tokens_per_second(1) is None
    assert timing.tokens_per_second(None) is None


def test_stats_read_the_demo_pace(local: LocalRuntime, capsys: pytest.CaptureFixture[str]) -> None:
    """3 tokens at 10 tokens/s: 2 intervals of 100 ms (counting 3 tokens read 15)."""
    local.add_endpoint("slow", DemoLLM(tokens_per_second=10))
    argv = ["chat", "slow", "hi", "--max-tokens", "3", "--stats"]
    assert main([*argv, "--endpoint-url", local.endpoint_url], out=io.StringIO()) == 0
    stats = capsys.readouterr().err
    rate = float(stats.split(" tokens/s")[0].rsplit(" ", 1)[-1])
    assert 7.0 < rate < 12.5, stats
    assert "completion=3 " in stats


def test_stats_help_says_what_tokens_per_second_counts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["chat", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    counted = "the completion tokens after the first over the time from the first token to the last"
    assert f"tokens/s ({counted})" in shown

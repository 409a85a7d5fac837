"""What ``smr`` is given: hostile standard input and arguments, closed descriptors, the order.

Every failure is one ``smr: error:`` line and a non-zero exit, never a traceback; a
prompt or a body may come before, between or after the options.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from _models import INLINE_ASYNC_BODY
from typed_sagemaker_runtime.testing import DemoLLM, EndpointResponse, LocalRuntime

SMR = Path(sys.executable).parent / "smr"
NOT_UTF8 = b"caf\xe9\n"
BINARY = bytes(range(256)) * 4


def run(
    local: LocalRuntime,
    *args: str | bytes,
    stdin: bytes | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SMR, args[0], "--endpoint-url", local.endpoint_url, *args[1:]],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=60,
        check=False,
        preexec_fn=preexec_fn,
    )


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("smr: error: "), lines
    return lines[0]


@pytest.fixture(name="demo")
def _demo(local: LocalRuntime) -> LocalRuntime:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None))
    return local


# --- standard input that is not UTF-8 text ---------------------------------------------


@pytest.mark.parametrize("piped", [NOT_UTF8, BINARY], ids=["latin-1", "binary"])
def test_chat_turns_that_are_not_utf8_are_one_line_each_and_exit_2(
    demo: LocalRuntime, piped: bytes
) -> None:
    result = run(demo, "chat", "demo", "--max-tokens", "3", stdin=piped + b"\nHello\n")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines, "an error line per undecodable line"
    assert all(
        line.startswith("smr: error: ClientValidationError: line ")
        and line.endswith(")")
        and "is not UTF-8 text" in line
        for line in lines
    ), lines
    assert "caf" not in result.stderr.decode(), "the input is not echoed"
    sent = [json.loads(request.body)["messages"] for request in demo.requests]
    assert sent[-1][-1] == {"role": "user", "content": "Hello"}, "the conversation goes on"


def test_chat_reads_utf8_lines_with_nul_bytes_and_crlf(demo: LocalRuntime) -> None:
    result = run(demo, "chat", "demo", "--max-tokens", "3", stdin="é\x00\r\n".encode())
    assert result.returncode == 0, result.stderr
    assert json.loads(demo.requests[0].body)["messages"][0]["content"] == "é\x00"


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["invoke", "echo", b"caf\xe9", "--content-type", "text/plain"], "BODY"),
        (["stream", "echo", b"caf\xe9", "--content-type", "text/plain"], "BODY"),
        (["chat", "demo", b"caf\xe9"], "PROMPT"),
        (["chat", "demo", "hi", "--system", b"caf\xe9"], "--system"),
        (["chat", "demo", "hi", "--model", b"caf\xe9"], "--model"),
        (["chat", b"caf\xe9", "hi"], "ENDPOINT"),
        (["invoke-async", "echo", "{}", "--input", b"s3://b/caf\xe9"], "--input"),
    ],
)
def test_arguments_that_are_not_utf8_are_refused_before_sending(
    demo: LocalRuntime, args: list[str | bytes], shown: str
) -> None:
    result = run(demo, *args)
    assert result.returncode == 2
    assert one_error_line(result) == f"smr: error: ClientValidationError: {shown} is not UTF-8 text"
    assert demo.requests == []


def test_a_file_name_that_is_not_utf8_is_read(local: LocalRuntime, tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9.txt"
    with open(name, "wb") as handle:
        handle.write(b"from the file")
    result = run(local, "invoke", "echo", "--file", name, "--content-type", "text/plain")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"from the file"


# --- closed standard input and output ----------------------------------------------------


def _close(descriptor: int) -> Callable[[], None]:
    return lambda: os.close(descriptor)


@pytest.mark.parametrize(
    "args",
    [["chat", "demo"], ["invoke", "echo", "--file", "-"], ["stream", "echo", "--file", "-"]],
)
def test_a_closed_standard_input_is_one_line_and_exit_2(
    demo: LocalRuntime, args: list[str]
) -> None:
    result = run(demo, *args, preexec_fn=_close(0))
    assert result.returncode == 2
    assert one_error_line(result) == "smr: error: ClientValidationError: standard input is closed"
    assert demo.requests == []


@pytest.mark.parametrize(
    "args", [["chat", "demo", "hi"], ["invoke", "echo", "{}"], ["stream", "echo", "{}"]]
)
def test_a_closed_standard_output_is_one_line_and_exit_1(
    demo: LocalRuntime, args: list[str]
) -> None:
    result = run(demo, *args, preexec_fn=_close(1))
    assert result.returncode == 1
    assert one_error_line(result) == "smr: error: standard output is closed"
    assert demo.requests == []


# --- text standard output cannot carry ---------------------------------------------------

# "café" and a lone surrogate, which a JSON escape can carry and no encoding can
SURROGATE_CHUNK = (
    b'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, '
    b'"delta": {"content": "caf\\u00e9 \\ud800!"}}]}\n\n'
)


@pytest.fixture(name="odd")
def _odd(local: LocalRuntime) -> LocalRuntime:
    local.add_endpoint(
        "odd",
        lambda r: EndpointResponse(
            iter([SURROGATE_CHUNK, b"data: [DONE]\n\n"]), content_type="text/event-stream"
        ),
    )
    return local


@pytest.mark.parametrize(
    ("encoding", "shown"), [(None, "café ?!\n".encode()), ("ascii", b"caf? ?!\n")]
)
@pytest.mark.parametrize("args", [["chat", "odd", "hi"], ["stream", "odd", "{}"]])
def test_text_the_output_cannot_encode_prints_as_a_question_mark(
    odd: LocalRuntime, args: list[str], encoding: str | None, shown: bytes
) -> None:
    environment = dict(os.environ)
    if encoding is not None:
        environment["PYTHONIOENCODING"] = encoding
    result = subprocess.run(
        [SMR, *args, "--endpoint-url", odd.endpoint_url],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, shown, b"")


def test_an_answer_with_a_lone_surrogate_can_be_sent_back(odd: LocalRuntime) -> None:
    result = run(odd, "chat", "odd", stdin=b"hi\nagain\n")
    assert result.returncode == 0, result.stderr
    history = json.loads(odd.requests[1].body)["messages"]
    assert history[1] == {"role": "assistant", "content": "café \ufffd!"}


# --- positionals among the options --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["chat", "demo", "--max-tokens", "5", "What is SageMaker?"],
        ["chat", "--max-tokens", "5", "demo", "What is SageMaker?"],
        ["chat", "demo", "What is SageMaker?", "--max-tokens", "5"],
    ],
)
def test_chat_takes_the_prompt_anywhere(demo: LocalRuntime, args: list[str]) -> None:
    result = run(demo, *args)
    assert result.returncode == 0, result.stderr
    sent = json.loads(demo.requests[0].body)
    assert sent["messages"] == [{"role": "user", "content": "What is SageMaker?"}]
    assert sent["max_tokens"] == 5


def test_chat_takes_a_prompt_that_looks_like_an_option_after_a_double_dash(
    demo: LocalRuntime,
) -> None:
    result = run(demo, "chat", "demo", "--max-tokens", "5", "--", "-5 degrees?")
    assert result.returncode == 0, result.stderr
    assert json.loads(demo.requests[0].body)["messages"][0]["content"] == "-5 degrees?"


@pytest.mark.parametrize("command", ["invoke", "stream"])
def test_the_body_may_follow_the_options(local: LocalRuntime, command: str) -> None:
    result = run(local, command, "echo", "--content-type", "text/plain", "a body")
    assert result.returncode == 0, result.stderr
    assert local.requests[0].body == b"a body"
    assert local.requests[0].content_type == "text/plain"


@INLINE_ASYNC_BODY
def test_the_async_body_may_follow_the_options(local: LocalRuntime) -> None:
    s3 = ["--s3-endpoint-url", local.s3_endpoint_url, "--poll-interval", "0.1"]
    result = run(
        local, "invoke-async", "echo", "--wait", *s3, "--content-type", "text/plain", "a body"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"a body"


def test_an_extra_positional_is_still_a_usage_error(local: LocalRuntime) -> None:
    result = run(local, "invoke", "echo", "{}", "--accept", "text/plain", "surplus")
    assert result.returncode == 2
    assert b"unrecognized arguments: surplus" in result.stderr
    assert local.requests == []


def test_a_repeatable_option_that_is_not_utf8_is_refused() -> None:
    result = subprocess.run(
        [SMR, "serve", "--endpoint", "demo=demo", "--endpoint", b"caf\xe9=echo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        one_error_line(result) == "smr: error: ClientValidationError: --endpoint is not UTF-8 text"
    )

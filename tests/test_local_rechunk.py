"""``Rechunk``: PayloadParts cut as SageMaker cuts them, and the decoders reassembling them.

SageMaker splits records across PayloadParts and merges several into one; without
``rechunk`` the local endpoint sends each record whole. The wire tests read the parts
through raw boto3; the decoder tests run ``tokens()``, ``chunks()`` and
``generation()`` of both clients, through boto3 or aiobotocore, under every cut.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from botocore.config import Config
from hypothesis import given, strategies as st
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from _twins import Clients
from typed_sagemaker_runtime import ChatMessage, ToolSpec
from typed_sagemaker_runtime.testing import (
    DemoLLM,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
    ModelStreamError,
    PayloadPart,
    Rechunk,
    SlowTokens,
    StreamErrorEvent,
    StreamEvent,
)
from typed_sagemaker_runtime.testing._model import RawFrames
from typed_sagemaker_runtime.testing._rechunk import rechunked

RECORDS = [b'data: {"n":1}\n\n', b'data: {"n":22}\n\n', b'data: {"n":333}\n\n']
WHOLE = b"".join(RECORDS)


def _records(request: InvocationRequest) -> Iterator[bytes]:
    yield from RECORDS


@pytest.fixture(name="raw")
def _raw(local: LocalRuntime) -> Iterator[SageMakerRuntimeClient]:
    client = local.boto3_client(Config(retries={"total_max_attempts": 1}))
    yield client
    client.close()


def _events(raw: SageMakerRuntimeClient, endpoint: str) -> list[dict[str, Any]]:
    response = raw.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"{}")
    try:
        return [dict(event) for event in response["Body"]]
    finally:
        response["Body"].close()


def _parts(raw: SageMakerRuntimeClient, endpoint: str) -> list[bytes]:
    return [event["PayloadPart"]["Bytes"] for event in _events(raw, endpoint)]


def _parts_until_error(raw: SageMakerRuntimeClient, endpoint: str, match: str) -> list[bytes]:
    """The parts before the stream's error event, whose message must match ``match``."""
    response = raw.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=b"{}")
    parts: list[bytes] = []
    events: Any = response["Body"]
    with pytest.raises(Exception, match=match):
        for event in events:
            parts.append(event["PayloadPart"]["Bytes"])
    events.close()
    return parts


# --- the cut, on the wire -------------------------------------------------------------


def test_without_rechunk_each_record_is_one_part(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    local.add_endpoint("whole", _records)
    assert _parts(raw, "whole") == RECORDS


def test_fixed_one_byte_splits_every_record_at_every_byte(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    local.add_endpoint("bytes", _records, rechunk=Rechunk.fixed(1))
    parts = _parts(raw, "bytes")
    assert parts == [WHOLE[i : i + 1] for i in range(len(WHOLE))]


def test_fixed_sizes_repeat_and_merge_records(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """Sizes are used in turn; a big part holds several records; the rest goes out last."""
    local.add_endpoint("cut", _records, rechunk=Rechunk.fixed(3, 30))
    parts = _parts(raw, "cut")
    assert [len(part) for part in parts] == [3, 30, 3, len(WHOLE) - 36]
    assert b"".join(parts) == WHOLE
    assert RECORDS[1] in parts[1]  # the tail of the first record, the second whole,
    assert parts[1].count(b"\n\n") == 2  # and the head of the third


def test_random_sizes_stay_in_range_and_repeat_with_the_seed(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    long_records = [b"data: %d\n\n" % n for n in range(300)]
    local.add_endpoint("a", lambda _: iter(long_records), rechunk=Rechunk.random(1, 9, seed=5))
    local.add_endpoint("b", lambda _: iter(long_records), rechunk=Rechunk.random(1, 9, seed=5))
    first, second = _parts(raw, "a"), _parts(raw, "a")
    assert b"".join(first) == b"".join(long_records)
    assert all(1 <= len(part) <= 9 for part in first)
    assert len({len(part) for part in first}) > 5  # random sizes, not one size
    assert first != second  # each stream of an endpoint is cut differently...
    with LocalRuntime() as again:  # ...and the same way on every run
        again.add_endpoint("a", lambda _: iter(long_records), rechunk=Rechunk.random(1, 9, seed=5))
        client = again.boto3_client(Config(retries={"total_max_attempts": 1}))
        try:
            assert _parts(client, "a") == first
        finally:
            client.close()


def test_an_error_event_follows_the_bytes_before_it(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    def handler(request: InvocationRequest) -> Iterator[bytes | StreamEvent]:
        yield b"abcdef"
        yield ModelStreamError(message="boom", error_code="ModelStreamError")

    local.add_endpoint("fails", handler, rechunk=Rechunk.fixed(4))
    parts = _parts_until_error(raw, "fails", match="boom")
    assert parts == [b"abcd", b"ef"]


def test_a_handler_failing_mid_stream_sends_what_it_produced_first(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    def handler(request: InvocationRequest) -> Iterator[bytes]:
        yield b"hello"
        raise ModelFailure(500, "out of memory")

    local.add_endpoint("dies", handler, rechunk=Rechunk.fixed(100))
    parts = _parts_until_error(raw, "dies", match="out of memory")
    assert parts == [b"hello"]


def test_faults_count_the_parts_as_cut(local: LocalRuntime, raw: SageMakerRuntimeClient) -> None:
    local.add_endpoint(
        "cut", _records, rechunk=Rechunk.fixed(2), faults=[StreamErrorEvent(after_parts=3)]
    )
    parts = _parts_until_error(raw, "cut", match="ModelStreamError")
    assert parts == [WHOLE[0:2], WHOLE[2:4], WHOLE[4:6]]


@pytest.mark.parametrize("cut", [Rechunk.fixed(1000), Rechunk.fixed(7), Rechunk.random(1, 64)])
def test_a_paced_handlers_record_arrives_before_the_next_is_written(
    local: LocalRuntime, raw: SageMakerRuntimeClient, cut: Rechunk
) -> None:
    """A model writing tokens slowly: each record reaches the client whole before the next.

    A part that waited to be full held a record's tail until the model wrote the next
    one: text lagged a token behind, and ``smr chat --stats`` read 5,068 tokens/s for two
    tokens at 100 tokens/s. Here the handler writes its second record only once the
    client has the first (or gives up after 10 s).
    """
    client_has_first = threading.Event()
    waited: list[bool] = []

    def paced(request: InvocationRequest) -> Iterator[bytes]:
        time.sleep(0.05)  # the model reads the prompt
        yield RECORDS[0]
        waited.append(client_has_first.wait(10.0))
        yield RECORDS[1]

    local.add_endpoint("paced", paced, rechunk=cut)
    response = raw.invoke_endpoint_with_response_stream(EndpointName="paced", Body=b"{}")
    received = b""
    for event in response["Body"]:
        part: Any = event
        received += part["PayloadPart"]["Bytes"]
        if received == RECORDS[0]:
            client_has_first.set()
    assert received == RECORDS[0] + RECORDS[1]
    assert waited == [True]


def test_slow_tokens_wait_per_record_written_not_per_part_cut(
    local: LocalRuntime, raw: SageMakerRuntimeClient
) -> None:
    """``SlowTokens(0.2)`` over three records cut byte by byte: two waits, not 47.

    Waiting before each cut part, ``smr serve --fault demo:slow-tokens:delay=0.5`` (cut at
    random by default) ran several times slower than the delay per token it promises.
    """
    local.add_endpoint(
        "slow", _records, rechunk=Rechunk.fixed(1), faults=[SlowTokens(delay_seconds=0.2)]
    )
    started = time.monotonic()
    parts = _parts(raw, "slow")
    elapsed = time.monotonic() - started
    assert parts == [WHOLE[i : i + 1] for i in range(len(WHOLE))]
    assert elapsed < 3.0, f"{elapsed:.1f} s: a wait per part (47 x 0.2 s = 9.4 s)"


@pytest.mark.parametrize(
    "arguments",
    [
        {"sizes": (0,)},
        {"sizes": (3, -1)},
        {"min_size": 0},
        {"min_size": 9, "max_size": 3},
        {"sizes": (1.5,)},  # was accepted, then a TypeError in the stream blamed on the model
        {"sizes": (True,)},
        {"sizes": [3]},
        {"min_size": 1.5, "max_size": 3},
        {"max_size": "9"},
    ],
)
def test_rechunk_refuses_sizes_below_one(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Rechunk"):
        Rechunk(**arguments)


def test_rechunk_fixed_needs_a_size() -> None:
    with pytest.raises(ValueError, match="at least one size"):
        Rechunk.fixed()


@given(
    records=st.lists(st.binary(min_size=1, max_size=40), max_size=12),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5),
)
def test_any_cut_keeps_every_byte_in_order_at_the_sizes_given(
    records: list[bytes], sizes: list[int]
) -> None:
    """Whatever the records and sizes: the same bytes, parts of the sizes in turn, a short last."""

    def source() -> Generator[StreamEvent | RawFrames, None, None]:
        for record in records:
            yield PayloadPart(record)

    cut = Rechunk.fixed(*sizes)
    parts = list(rechunked(source(), cut.part_sizes("x")))
    data = [part.data for part in parts if isinstance(part, PayloadPart)]
    assert b"".join(data) == b"".join(records)
    expected = [sizes[i % len(sizes)] for i in range(len(data))]
    assert [len(d) for d in data[:-1]] == expected[:-1]
    if data:
        assert 1 <= len(data[-1]) <= expected[-1]


# --- the decoders reassemble under every cut ------------------------------------------

CUTS = {
    "whole records": None,
    "1 byte": Rechunk.fixed(1),
    "2 bytes": Rechunk.fixed(2),
    "7 bytes": Rechunk.fixed(7),
    "3 then 1000 bytes": Rechunk.fixed(3, 1000),
    "64 KiB": Rechunk.fixed(65536),
    "random 1-16": Rechunk.random(1, 16, seed=1),
    "random 1-512": Rechunk.random(),
    "random 100-4096": Rechunk.random(100, 4096, seed=3),
}
MESSAGES: list[ChatMessage] = [{"role": "user", "content": "Say something with a rocket."}]
WEATHER: ToolSpec = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _prompt_with_multibyte_text(demo: DemoLLM) -> str:
    """A prompt whose answer holds 4-byte UTF-8 (a 1-byte cut lands inside it)."""
    return next(f"question {n}" for n in range(200) if "🚀" in demo.generate(f"question {n}", 300))


@pytest.mark.parametrize("cut", list(CUTS.values()), ids=list(CUTS))
def test_tgi_tokens_and_chunks_reassemble(
    local: LocalRuntime, clients: Clients, cut: Rechunk | None
) -> None:
    demo = DemoLLM(tokens_per_second=None)
    local.add_endpoint("demo", demo, rechunk=cut)
    local.add_endpoint("whole", demo)
    smr = clients.local()
    prompt = _prompt_with_multibyte_text(demo)
    expected = demo.generate(prompt, 300)
    body = {"inputs": prompt, "stream": True, "parameters": {"max_new_tokens": 300}}
    with smr.stream("demo", json=body) as stream:
        assert "".join(stream.tokens()) == expected
    with smr.stream("whole", json=body) as stream:
        record_by_record = list(stream.chunks())
    with smr.stream("demo", json=body) as stream:
        assert list(stream.chunks()) == record_by_record  # one chunk per record, however cut
    assert "".join(chunk.text for chunk in record_by_record) == expected
    details = {**body, "parameters": {"max_new_tokens": 300, "details": True}}
    with smr.stream("demo", json=details) as stream:
        generation = stream.generation(format="tgi")
    assert generation.text == expected
    assert generation.finish_reason is not None


@pytest.mark.parametrize("cut", list(CUTS.values()), ids=list(CUTS))
def test_messages_api_chunks_usage_and_tool_calls_reassemble(
    local: LocalRuntime, clients: Clients, cut: Rechunk | None
) -> None:
    local.add_endpoint("demo", DemoLLM(tokens_per_second=None), rechunk=cut)
    local.add_endpoint("whole", DemoLLM(tokens_per_second=None))
    smr = clients.local()
    expected = smr.chat("whole", MESSAGES, max_tokens=300)
    with smr.chat_stream("whole", MESSAGES, max_tokens=300) as stream:
        record_by_record = list(stream.chunks())
    with smr.chat_stream("demo", MESSAGES, max_tokens=300) as stream:
        chunks = list(stream.chunks())
    assert chunks == record_by_record  # one chunk per record, however cut
    assert "".join(chunk.text for chunk in chunks) == expected.text
    assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == ["stop"]
    assert chunks[-1].usage == expected.usage
    with smr.chat_stream("demo", MESSAGES, max_tokens=300) as stream:
        assert "".join(stream.tokens()) == expected.text
    called = smr.chat("whole", MESSAGES, tools=[WEATHER])
    with smr.chat_stream("demo", MESSAGES, tools=[WEATHER]) as stream:
        generation = stream.generation()
    assert [(c.name, c.arguments) for c in generation.tool_calls] == [
        (c.name, c.arguments) for c in called.tool_calls
    ]
    assert json.loads(generation.tool_calls[0].arguments).keys() == {"city"}
    assert generation.finish_reason == "tool_calls"

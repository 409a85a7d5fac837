"""Structured chunks and generations: the sans-I/O decoder and accumulator.

Every fixture of ``tests/fixtures/streams`` is cut at every split point: the chunks'
text joined must be ``tokens()``'s joined, the error the same, and the chunks the
same wherever the stream was cut. ``manifest.json`` gives each fixture's expected
finish reason, usage and tool calls (``generation``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_decoders import FIXTURE_LIST, FIXTURES, Fixture, replay, run
from test_decoders_properties import cuttings, record_streams, soup
from typed_sagemaker_runtime import (
    ClientValidationError,
    GenerationChunk,
    GenerationError,
    StreamDecodeError,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from typed_sagemaker_runtime._decoders._auto import TokenFormat, token_decoder
from typed_sagemaker_runtime._decoders._chunks import (
    GenerationBuilder,
    chunk_decoder,
    generation_of,
    record_chunk,
)

MANIFEST = {fx.file: fx for fx in FIXTURE_LIST}
fixtures = pytest.mark.parametrize("fx", FIXTURE_LIST, ids=str)
fast = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

Summary = tuple[str, list[tuple[Any, ...]], "type[Exception] | None", str | None]


def summary(outcome: tuple[list[Any], type[Exception] | None, str | None]) -> Summary:
    """Joined text, the non-text content of the chunks in order, and the error."""
    chunks: list[GenerationChunk] = outcome[0]
    assert all(isinstance(chunk, GenerationChunk) for chunk in chunks)
    assert all(
        chunk.text or chunk.finish_reason or chunk.usage or chunk.tool_calls for chunk in chunks
    ), "a chunk that carries nothing"
    extras = [
        (chunk.finish_reason, chunk.usage, chunk.tool_calls, chunk.index)
        for chunk in chunks
        if chunk.finish_reason or chunk.usage or chunk.tool_calls
    ]
    return "".join(chunk.text for chunk in chunks), extras, outcome[1], outcome[2]


def token_text(
    pieces: Iterable[bytes], format: TokenFormat, ct: str | None
) -> tuple[str, type[Exception] | None, str | None]:
    out, error, message = run(token_decoder(format, ct), pieces)
    return "".join(out), error, message


ENTRIES: dict[str, dict[str, Any]] = {
    entry["file"]: entry for entry in json.loads((FIXTURES / "manifest.json").read_text("utf-8"))
}


def expected_generation(fx: Fixture) -> dict[str, Any]:
    generation: dict[str, Any] = ENTRIES[fx.file].get("generation") or {}
    return generation


# --- Fixtures ---------------------------------------------------------------------------


@fixtures
def test_chunks_text_is_tokens_text_at_every_split(fx: Fixture) -> None:
    """Cut anywhere: the joined text and the error are ``tokens()``'s, the chunks unchanged."""
    data = fx.data
    whole = summary(run(chunk_decoder(fx.format, fx.content_type), [data]))
    assert (whole[0], whole[2], whole[3]) == token_text([data], fx.format, fx.content_type)
    assert whole[0] == "".join(fx.tokens)
    assert whole[2] is fx.error
    for split in range(len(data) + 1):
        pieces = [data[:split], b"", data[split:]]
        outcome = run(chunk_decoder(fx.format, fx.content_type), pieces)
        assert summary(outcome) == whole, split
        if not fx.joined:  # one chunk per record: the very same chunks
            assert outcome == run(chunk_decoder(fx.format, fx.content_type), [data]), split


@fixtures
def test_auto_chunks_at_every_split(fx: Fixture) -> None:
    """``auto`` without a content type decides as ``tokens()`` does, wherever the head ends."""
    data = fx.data
    whole = summary(run(chunk_decoder(fx.format, fx.content_type), [data]))
    for split in range(0, len(data) + 1, 2):
        decoder = chunk_decoder("auto")
        assert summary(run(decoder, [data[:split], data[split:]])) == whole, split
        assert decoder.format == fx.format


@fixtures
def test_chunks_byte_by_byte_and_as_recorded(fx: Fixture) -> None:
    whole = summary(run(chunk_decoder(fx.format, fx.content_type), [fx.data]))
    pieces = [bytes([b]) for b in fx.data]
    assert summary(run(chunk_decoder("auto", fx.content_type), pieces)) == whole
    assert summary(run(chunk_decoder("auto", fx.content_type), replay(fx))) == whole


@pytest.mark.parametrize("fx", [fx for fx in FIXTURE_LIST if fx.error is None], ids=str)
def test_fixture_generation(fx: Fixture) -> None:
    """Finish reason, last usage and assembled tool calls as the manifest records them."""
    chunks, error, message = run(chunk_decoder(fx.format, fx.content_type), replay(fx))
    assert error is None, message
    generation = generation_of(chunks)
    expected = expected_generation(fx)
    assert generation.text == "".join(fx.tokens)
    assert generation.finish_reason == expected.get("finish_reason")
    assert generation.usage == expected.get("usage")
    assert generation.tool_calls == tuple(
        ToolCall(**call) for call in expected.get("tool_calls", [])
    )


def test_fixtures_cover_the_llm_records() -> None:
    """Final records of each format, tool-call streams of three servers, the usage chunk."""
    expected = {fx.file: expected_generation(fx) for fx in FIXTURE_LIST if fx.error is None}
    with_finish = {MANIFEST[file].format for file, gen in expected.items() if gen["finish_reason"]}
    assert with_finish >= {"tgi", "lmi", "openai", "json"}
    tools = {file.split("-")[0] for file, gen in expected.items() if gen["tool_calls"]}
    assert tools >= {"vllm", "tgi", "lmi"}
    assert any(b'"choices":[],"usage"' in MANIFEST[file].data for file in expected)


def test_tgi_final_record_carries_details() -> None:
    """The special EOS token of TGI's last event yields no text, but its details."""
    data = MANIFEST["tgi-2.1.sse"].data
    chunks, _, _ = run(chunk_decoder("tgi"), [data])
    last = chunks[-1]
    assert last.text == ""
    assert last.finish_reason == "eos_token"
    assert last.usage == Usage(prompt_tokens=41, completion_tokens=8, total_tokens=49)
    assert all(chunk.token_id is not None for chunk in chunks)
    assert all(isinstance(chunk.logprob, float) for chunk in chunks)


def test_vllm_tool_call_fragments() -> None:
    chunks, _, _ = run(chunk_decoder("openai"), [MANIFEST["vllm-chat-tools.sse"].data])
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert deltas[0] == ToolCallDelta(
        index=0, id="chatcmpl-tool-4b2e81", name="get_weather", arguments=""
    )
    assert [d.arguments for d in deltas if d.index == 0][1:] == [
        '{"city": "',
        'Zürich"',
        ', "unit": "celsius"}',
    ]
    assert chunks[-1].usage == Usage(prompt_tokens=188, completion_tokens=42, total_tokens=230)
    assert chunks[-1].text == ""


# --- Records --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": 7}], "usage": "x"},
        {"choices": [{"delta": {"content": "a", "tool_calls": "x"}}], "usage": [1]},
        {"choices": [{"delta": {"content": "a", "tool_calls": [1, None, {"function": 3}]}}]},
        {"token": {"text": "a", "id": "7", "logprob": "x"}, "details": {"finish_reason": 1}},
        {"token": {"text": "a"}, "details": {"generated_tokens": True, "input_length": "3"}},
    ],
)
def test_odd_extras_are_ignored_never_an_error(record: dict[str, Any]) -> None:
    """What ``tokens()`` does not read cannot make ``chunks()`` fail."""
    chunk = record_chunk(record, first=True)
    assert chunk is not None
    assert chunk.text == "a"
    assert chunk.finish_reason is None
    assert chunk.usage is None
    assert chunk.token_id is None
    assert chunk.logprob is None


def test_tool_call_without_index_takes_its_position() -> None:
    record = {
        "choices": [
            {
                "message": {
                    "tool_calls": [
                        {"id": "a", "function": {"name": "f", "arguments": {"x": 1}}},
                        {"id": "b", "function": {"name": "g", "arguments": "{}"}},
                    ]
                }
            }
        ]
    }
    chunk = record_chunk(record, first=True)
    assert chunk is not None
    assert chunk.tool_calls == (
        ToolCallDelta(index=0, id="a", name="f", arguments='{"x": 1}'),
        ToolCallDelta(index=1, id="b", name="g", arguments="{}"),
    )


def test_other_choices_are_left_out_like_tokens() -> None:
    record = {
        "choices": [
            {"index": 1, "delta": {"content": "no"}, "finish_reason": "length"},
            {"index": 0, "delta": {"content": "yes"}, "finish_reason": "stop"},
        ]
    }
    chunk = record_chunk(record, first=True)
    assert chunk == GenerationChunk("yes", "stop", None, (), 0)


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ClientValidationError):
        chunk_decoder("xml")  # type: ignore[arg-type]


# --- Properties --------------------------------------------------------------------------

FORMATS: list[TokenFormat] = ["auto", "tgi", "openai", "lmi", "json", "text"]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("content_type", [None, "text/event-stream", "application/jsonlines"])
@fast
@given(stream=st.binary(max_size=200) | soup | record_streams(), data=st.data())
def test_fuzz_chunks_follow_tokens(
    format: TokenFormat, content_type: str | None, stream: bytes, data: st.DataObject
) -> None:
    """Any bytes: the joined text and error are ``tokens()``'s, however the input is cut."""
    whole = summary(run(chunk_decoder(format, content_type), [stream]))
    assert (whole[0], whole[2], whole[3]) == token_text([stream], format, content_type)
    pieces = data.draw(cuttings(stream))
    assert summary(run(chunk_decoder(format, content_type), pieces)) == whole


fragment = st.text(st.characters(codec="utf-8"), max_size=6)


@fast
@given(
    calls=st.lists(st.lists(fragment, min_size=1, max_size=4), min_size=1, max_size=3),
    text=st.lists(fragment, max_size=3),
    jsonl=st.booleans(),
    data=st.data(),
)
def test_tool_call_oracle(
    calls: list[list[str]], text: list[str], jsonl: bool, data: st.DataObject
) -> None:
    """Interleaved fragments of parallel calls come back joined per index, in index order."""
    records: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": t}}]} for t in text
    ]
    schedule = data.draw(st.permutations([i for i, parts in enumerate(calls) for _ in parts]))
    sent = [0] * len(calls)
    for index in schedule:
        call: dict[str, Any] = {
            "index": index,
            "function": {"arguments": calls[index][sent[index]]},
        }
        if sent[index] == 0:
            call.update(id=f"call-{index}", type="function")
            call["function"]["name"] = f"f{index}"
        sent[index] += 1
        records.append({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    records.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    lines = [json.dumps(r, ensure_ascii=data.draw(st.booleans())) for r in records]
    stream = (
        "".join(f"{line}\n" for line in lines)
        if jsonl
        else "".join(f"data: {line}\n\n" for line in lines)
    ).encode()
    chunks, error, message = run(chunk_decoder("auto"), data.draw(cuttings(stream)))
    assert error is None, message
    generation = generation_of(chunks)
    assert generation.text == "".join(text)
    assert generation.finish_reason == "tool_calls"
    assert generation.tool_calls == tuple(
        ToolCall(index=i, id=f"call-{i}", name=f"f{i}", arguments="".join(parts))
        for i, parts in enumerate(calls)
    )


def test_long_record_memory_is_one_record() -> None:
    """A 300 kB record in 3-byte parts holds at most that record."""
    record = b"data: " + json.dumps({"token": {"text": "é" * 150_000}}).encode() + b"\n\n"
    decoder = chunk_decoder("tgi")
    out: list[GenerationChunk] = []
    for at in range(0, len(record), 3):
        out += decoder.feed(record[at : at + 3])
        assert decoder.buffered <= len(record)
    out += decoder.flush()
    assert [chunk.text for chunk in out] == ["é" * 150_000]
    assert decoder.buffered == 0


def test_errors_end_the_chunks_like_tokens() -> None:
    fx = MANIFEST["tgi-error.sse"]
    chunks, error, message = run(chunk_decoder("auto", fx.content_type), [fx.data])
    assert error is GenerationError
    assert message is not None
    assert "CUDA out of memory" in message
    assert "".join(chunk.text for chunk in chunks) == "".join(fx.tokens)
    bad = run(chunk_decoder("tgi"), [b"data: {not json\n\n"])
    assert bad[1] is StreamDecodeError


# --- Accumulating ------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_builder_times_first_text_and_duration() -> None:
    clock = Clock()
    builder = GenerationBuilder(clock=clock)
    clock.now = 100.5
    builder.add(
        GenerationChunk(
            "", None, Usage(prompt_tokens=1, completion_tokens=None, total_tokens=None), (), 0
        )
    )
    clock.now = 101.25
    builder.add(GenerationChunk("Hi", None, None, (), 0))
    clock.now = 102.0
    builder.add(GenerationChunk("!", "length", None, (), 0))
    builder.add(GenerationChunk("other", "stop", None, (), 1))
    clock.now = 103.0
    generation = builder.build()
    assert generation.text == "Hi!"
    assert generation.finish_reason == "length"
    assert generation.usage == Usage(prompt_tokens=1, completion_tokens=None, total_tokens=None)
    assert generation.time_to_first_token == 1.25
    assert generation.duration == 3.0


def test_builder_without_text_has_no_first_token_time() -> None:
    clock = Clock()
    generation = generation_of(
        [GenerationChunk("", None, None, (ToolCallDelta(0, None, "f", "{}"),), 0)],
        started=99.0,
        clock=clock,
    )
    assert generation.time_to_first_token is None
    assert generation.duration == 1.0
    assert generation.tool_calls == (ToolCall(index=0, id=None, name="f", arguments="{}"),)


def test_reprs_hide_the_text() -> None:
    chunk = GenerationChunk("secret", "stop", None, (ToolCallDelta(0, "i", "f", "secret"),), 0)
    assert "secret" not in repr(chunk)
    assert "secret" not in repr(chunk.tool_calls[0])
    assert "secret" not in repr(generation_of([chunk]))


@pytest.mark.parametrize("end", [b"", b"\n", b"\n\n"])
def test_whole_response_line_says_its_details_once(end: bytes) -> None:
    """A first line that is a whole response: a document until its newline shows otherwise.

    While the line is open ``auto`` streams it as a document; the details the document
    would yield at its close must wait for the decision, or a JSON-lines stream would
    say them twice.
    """
    data = b'{"generated_text": "ab", "details": {"finish_reason": "length"}}' + end
    for split in range(len(data) + 1):
        chunks, error, message = run(chunk_decoder("auto"), [data[:split], data[split:]])
        assert error is None, message
        assert "".join(chunk.text for chunk in chunks) == "ab"
        assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == ["length"]


LLM_KEYS = [
    *("choices", "delta", "message", "content", "text", "index", "finish_reason", "usage"),
    *("tool_calls", "function", "name", "arguments", "id", "type", "prompt_tokens"),
    *("completion_tokens", "total_tokens", "token", "special", "details", "generated_tokens"),
    *("input_length", "logprob", "log_prob", "generated_text", "error"),
]
llm_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.floats(allow_nan=False)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(LLM_KEYS), inner, max_size=5)
    ),
    max_leaves=16,
)


@fast
@given(records=st.lists(llm_values, max_size=6), sse=st.booleans(), data=st.data())
def test_fuzz_odd_llm_records(records: list[object], sse: bool, data: st.DataObject) -> None:
    """Records of any shape with the LLM keys: chunks() fails exactly when tokens() does."""
    lines = [json.dumps(record) for record in records]
    stream = "".join(f"data: {line}\n\n" if sse else f"{line}\n" for line in lines).encode()
    whole = summary(run(chunk_decoder("auto"), [stream]))
    assert (whole[0], whole[2], whole[3]) == token_text([stream], "auto", None)
    assert summary(run(chunk_decoder("auto"), data.draw(cuttings(stream)))) == whole
    if whole[2] is None:
        generation = generation_of(run(chunk_decoder("auto"), [stream])[0])
        assert generation.text == whole[0]


def test_huge_numbers_are_no_error() -> None:
    """A logprob too large for a float, arguments nested deep: ignored, never a crash."""
    huge = "9" * 400
    data = f'data: {{"token": {{"id": {huge}, "text": "a", "logprob": {huge}}}}}\n\n'.encode()
    chunks, error, message = run(chunk_decoder("tgi"), [data])
    assert error is None, message
    assert [(chunk.text, chunk.logprob) for chunk in chunks] == [("a", None)]

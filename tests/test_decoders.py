"""The sans-I/O payload decoders: UTF-8, lines, server-sent events and token formats.

Recorded-looking streams of every server format live in ``tests/fixtures/streams``;
``manifest.json`` there gives each one's content type, format, tokens and error.
Property tests (random cuttings, fuzzing, linearity) are in ``test_decoders_properties.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import pytest

from typed_sagemaker_runtime import ClientValidationError, GenerationError, StreamDecodeError
from typed_sagemaker_runtime._decoders._auto import (
    LineDecoder,
    ServerSentEvent,
    SSEDecoder,
    TokenFormat,
    Utf8Decoder,
    token_decoder,
)

T = TypeVar("T")
FIXTURES = Path(__file__).parent / "fixtures" / "streams"


class Decoder(Protocol[T]):
    def feed(self, data: bytes) -> list[T]: ...
    def flush(self) -> list[T]: ...


Outcome = tuple[list[Any], "type[Exception] | None", str | None]


def run(decoder: Decoder[Any], pieces: Iterable[bytes]) -> Outcome:
    """Feed ``pieces`` then flush; return the outputs and the error that ended them."""
    out: list[Any] = []
    try:
        for piece in pieces:
            out.extend(decoder.feed(piece))
        out.extend(decoder.flush())
    except (StreamDecodeError, GenerationError) as exc:
        return out, type(exc), str(exc)
    return out, None, None


def tokens(
    data: bytes | Sequence[bytes], format: TokenFormat = "auto", ct: str | None = None
) -> list[str]:
    """Decode a stream that must not fail."""
    pieces = [data] if isinstance(data, bytes) else data
    out, error, message = run(token_decoder(format, ct), pieces)
    assert error is None, message
    assert "" not in out
    return out


# --- Fixtures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    file: str
    data: bytes
    content_type: str
    format: TokenFormat
    tokens: list[str]
    error: type[Exception] | None
    error_contains: list[str]
    parts: list[int] | None

    def __str__(self) -> str:
        return self.file

    @property
    def joined(self) -> bool:
        """Text deltas depend on where the stream is cut: compare their concatenation."""
        return self.format in ("json", "text")

    def check(self, outcome: Outcome) -> None:
        out, error, message = outcome
        assert "" not in out
        if self.joined:
            assert "".join(out) == "".join(self.tokens)
        else:
            assert out == self.tokens
        assert error is self.error, message
        for fragment in self.error_contains:
            assert message is not None
            assert fragment in message


def _load_fixtures() -> list[Fixture]:
    manifest: list[dict[str, Any]] = json.loads((FIXTURES / "manifest.json").read_text("utf-8"))
    fixtures: list[Fixture] = []
    errors = {"GenerationError": GenerationError, "StreamDecodeError": StreamDecodeError}
    for entry in manifest:
        error: dict[str, Any] = entry.get("error") or {}
        fixtures.append(
            Fixture(
                file=entry["file"],
                data=(FIXTURES / entry["file"]).read_bytes(),
                content_type=entry["content_type"],
                format=entry["format"],
                tokens=entry["tokens"],
                error=errors[error["type"]] if error else None,
                error_contains=error.get("contains", []),
                parts=entry.get("parts"),
            )
        )
    return fixtures


FIXTURE_LIST = _load_fixtures()
fixtures = pytest.mark.parametrize("fx", FIXTURE_LIST, ids=str)


def replay(fx: Fixture) -> list[bytes]:
    """The stream cut as recorded (or whole, when the fixture records no cutting)."""
    if fx.parts is None:
        return [fx.data]
    pieces: list[bytes] = []
    at = 0
    for size in fx.parts:
        pieces.append(fx.data[at : at + size])
        at += size
    return pieces


def test_fixture_set_covers_every_format() -> None:
    """Every token format has fixtures, and the error fixtures cover every server family."""
    assert {fx.format for fx in FIXTURE_LIST} == {"tgi", "openai", "lmi", "json", "text"}
    assert {fx.file.split("-")[0] for fx in FIXTURE_LIST if fx.error} >= {"tgi", "lmi", "vllm"}
    assert any(b"\r\n" in fx.data for fx in FIXTURE_LIST)
    assert all(fx.tokens or fx.error or "tools" in fx.file for fx in FIXTURE_LIST)


@fixtures
def test_fixture_tokens(fx: Fixture) -> None:
    """Each recorded stream decodes to its tokens (and error) with its own format."""
    fx.check(run(token_decoder(fx.format, fx.content_type), replay(fx)))
    fx.check(run(token_decoder(fx.format), [fx.data]))


@fixtures
def test_fixture_every_split_point(fx: Fixture) -> None:
    """Cut in two anywhere, with an empty part in between: the same tokens, the same error."""
    expected = run(token_decoder(fx.format, fx.content_type), [fx.data])
    fx.check(expected)
    data = fx.data
    for split in range(len(data) + 1):
        outcome = run(token_decoder(fx.format, fx.content_type), [data[:split], b"", data[split:]])
        fx.check(outcome)
        assert outcome[1:] == expected[1:], split


@fixtures
def test_fixture_byte_by_byte(fx: Fixture) -> None:
    """One byte per part, as a slow network might deliver it."""
    fx.check(run(token_decoder(fx.format, fx.content_type), [bytes([b]) for b in fx.data]))


@fixtures
@pytest.mark.parametrize("content_type", ["given", None, "application/octet-stream"])
def test_auto_detects_fixture_format(fx: Fixture, content_type: str | None) -> None:
    """``auto`` picks the fixture's format from its content type, or by sniffing without one."""
    ct = fx.content_type if content_type == "given" else content_type
    decoder = token_decoder("auto", ct)
    fx.check(run(decoder, replay(fx)))
    assert decoder.format == fx.format


@fixtures
def test_auto_every_split_point(fx: Fixture) -> None:
    """Sniffing decides the same way wherever the first part ends."""
    data = fx.data
    for split in range(0, len(data) + 1, 3):
        decoder = token_decoder("auto")
        fx.check(run(decoder, [data[:split], data[split:]]))
        assert decoder.format == fx.format, split


# --- Utf8Decoder ------------------------------------------------------------------------------


def test_utf8_joins_code_points_split_across_feeds() -> None:
    """A 4-byte emoji and a 3-byte CJK character cut at every byte come out whole."""
    data = "a😀b日c".encode()
    for split in range(len(data) + 1):
        decoder = Utf8Decoder()
        out = decoder.feed(data[:split]) + decoder.feed(data[split:]) + decoder.flush()
        assert "".join(out) == "a😀b日c"
        assert "" not in out


def test_utf8_returns_empty_list_not_empty_string() -> None:
    """Nothing decodable yet gives ``[]``."""
    decoder = Utf8Decoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\xf0\x9f") == []
    assert decoder.buffered == 2
    assert decoder.feed(b"\x98\x80") == ["😀"]
    assert decoder.flush() == []


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        (b"\xff", ""),
        (b"ok\xc3\x28", "ok"),
        (b"\xed\xa0\x80", ""),
        (b"\xc0\xaf", ""),
        (b"\xf4\x90\x80\x80", ""),
    ],
    ids=["invalid-byte", "bad-continuation", "surrogate", "overlong", "above-max"],
)
def test_utf8_is_strict(data: bytes, valid: str) -> None:
    """Invalid UTF-8 raises ``StreamDecodeError`` (never U+FFFD) after the valid text."""
    out, error, message = run(Utf8Decoder(), [data])
    assert error is StreamDecodeError
    assert "".join(out) == valid
    assert message == f"invalid UTF-8 at byte {len(valid)} of the stream: " + (
        "invalid start byte" if data[len(valid)] in (0xFF, 0xC0) else "invalid continuation byte"
    )


def test_utf8_returns_text_before_an_error_then_raises_on_next_call() -> None:
    """The valid text before a bad byte is returned; the error comes with the next call."""
    decoder = Utf8Decoder()
    assert decoder.feed(b"h\xc3\xa9llo\xff!") == ["héllo"]
    with pytest.raises(StreamDecodeError, match="byte 6"):
        decoder.flush()
    with pytest.raises(StreamDecodeError):
        decoder.feed(b"more")


def test_utf8_incomplete_sequence_at_end_raises() -> None:
    """A stream cut inside a character fails at ``flush``."""
    decoder = Utf8Decoder()
    assert decoder.feed("ok😀".encode()[:-1]) == ["ok"]
    with pytest.raises(StreamDecodeError):
        decoder.flush()


# --- LineDecoder ------------------------------------------------------------------------------


def lines(pieces: Sequence[bytes], **kwargs: int) -> list[str]:
    out, error, message = run(LineDecoder(**kwargs), pieces)
    assert error is None, message
    return cast("list[str]", out)


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([b"a\nb\r\nc\rd"], ["a", "b", "c", "d"]),
        ([b"a\n\nb\n"], ["a", "", "b"]),
        ([b"\n\n"], ["", ""]),
        ([b"a\r", b"\nb"], ["a", "b"]),
        ([b"a\r", b"", b"\nb"], ["a", "b"]),
        ([b"a\r", b"\r\n"], ["a", ""]),
        ([b"a\r", b"b"], ["a", "b"]),
        ([b"a\r\r\nb"], ["a", "", "b"]),
        ([b"a\n", b"\rb"], ["a", "", "b"]),
        ([b"no newline"], ["no newline"]),
        ([b"x", b"y", b"z\n"], ["xyz"]),
        ([b""], []),
    ],
)
def test_line_breaks(pieces: list[bytes], expected: list[str]) -> None:
    """``\\n``, ``\\r\\n``, ``\\r`` break lines, also across feeds; empty lines are kept."""
    assert lines(pieces) == expected


def test_line_crlf_across_feeds_is_one_break_and_cr_is_not_held() -> None:
    """A line ending in ``\\r`` is returned at once; the ``\\n`` after it is dropped."""
    decoder = LineDecoder()
    assert decoder.feed(b"data: x\r") == ["data: x"]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [""]
    assert decoder.flush() == []


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
)
def test_line_never_splits_on_unicode_breaks(char: str) -> None:
    """Only CR and LF break lines: not U+2028 and friends (``str.splitlines`` does)."""
    text = json.dumps({"t": f"a{char}b"}, ensure_ascii=False)
    assert lines([f"{text}\n{text}".encode()]) == [text, text]


def test_line_multibyte_split_across_feeds() -> None:
    """Lines are decoded whole, so a character split across feeds needs no care."""
    data = "日本語\n😀\n".encode()
    for split in range(len(data) + 1):
        assert lines([data[:split], data[split:]]) == ["日本語", "😀"]


def test_line_invalid_utf8_raises_after_the_lines_before_it() -> None:
    """Lines decoded before a bad line are returned; the error comes with the next call."""
    decoder = LineDecoder()
    assert decoder.feed(b"good\nb\xffd\nnever\n") == ["good"]
    with pytest.raises(StreamDecodeError, match="byte 6"):
        decoder.feed(b"more\n")
    with pytest.raises(StreamDecodeError):
        decoder.flush()
    assert run(LineDecoder(), [b"b\xffd\n"])[1] is StreamDecodeError


def test_line_cap_exact_and_over() -> None:
    """``max_line_bytes`` allows a line of exactly that size and rejects one byte more."""
    assert lines([b"x" * 10 + b"\n"], max_line_bytes=10) == ["x" * 10]
    assert lines([b"x" * 5, b"x" * 5], max_line_bytes=10) == ["x" * 10]
    for pieces in ([b"x" * 11 + b"\n"], [b"x" * 6, b"x" * 5], [b"ok\n" + b"x" * 11]):
        out, error, message = run(LineDecoder(max_line_bytes=10), pieces)
        assert error is StreamDecodeError
        assert message is not None
        assert "longer than 10 bytes" in message
        assert out == (["ok"] if pieces[0].startswith(b"ok") else [])


def test_line_cap_raises_while_the_line_grows() -> None:
    """The cap bounds memory: the feed that passes it raises, before any newline or flush."""
    decoder = LineDecoder(max_line_bytes=10)
    assert decoder.feed(b"x" * 6) == []
    with pytest.raises(StreamDecodeError, match="longer than 10 bytes"):
        decoder.feed(b"x" * 5)


# --- SSEDecoder -------------------------------------------------------------------------------


def events(data: bytes | Sequence[bytes]) -> list[ServerSentEvent]:
    pieces = [data] if isinstance(data, bytes) else data
    out, error, message = run(SSEDecoder(), pieces)
    assert error is None, message
    return cast("list[ServerSentEvent]", out)


def test_sse_data_with_and_without_space() -> None:
    """Exactly one leading space is stripped from a field value."""
    assert [e.data for e in events(b"data:a\n\ndata: b\n\ndata:  c\n\ndata:\n\n")] == [
        "a",
        "b",
        " c",
        "",
    ]


def test_sse_fields() -> None:
    """``event``, ``id`` (carried over), ``retry`` and multi-line ``data`` joined with LF."""
    stream = (
        b"event: token\nid: 1\nretry: 2500\ndata: line one\ndata: line two\n\n"
        b"data: second\n\n"
        b"id\ndata: third\n\n"
    )
    assert events(stream) == [
        ServerSentEvent(data="line one\nline two", event="token", id="1", retry=2500),
        ServerSentEvent(data="second", event=None, id="1", retry=None),
        ServerSentEvent(data="third", event=None, id=None, retry=None),
    ]


def test_sse_ignores_invalid_fields() -> None:
    """Unknown fields, an id with NUL and a non-numeric retry are ignored."""
    stream = b"id: 7\n\nfoo: bar\nid: a\x00b\nretry: 1e3\nretry\ndata: x\n\n"
    assert events(stream) == [ServerSentEvent(data="x", id="7")]


def test_sse_comments_and_keepalives_produce_nothing() -> None:
    """``:`` comments, axum's ``:\\n\\n`` and sse-starlette's ping yield no event."""
    stream = b":\n\n: ping - 2025-01-01 00:00:00\r\n\r\n:comment\ndata: x\n\n\n\n"
    assert events(stream) == [ServerSentEvent(data="x")]


def test_sse_blank_line_without_data_resets_event_type() -> None:
    """An event type without data is dropped at the blank line, per the WHATWG rules."""
    assert events(b"event: ping\n\ndata: x\n\n") == [ServerSentEvent(data="x")]


def test_sse_pending_event_is_dispatched_at_flush() -> None:
    """A server that never writes the final blank line still gets its last event out."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b") == [ServerSentEvent(data="a")]
    assert decoder.flush() == [ServerSentEvent(data="b")]
    assert events(b"data: c\n") == [ServerSentEvent(data="c")]


def test_sse_bom_stripped_from_first_line_only() -> None:
    """A leading U+FEFF is not part of the first field name."""
    assert events("\ufeffdata: x\n\n".encode()) == [ServerSentEvent(data="x")]


def test_sse_several_events_in_one_part_and_split_prefix() -> None:
    """Many events in one part, and a ``data:`` prefix cut across parts."""
    assert [e.data for e in events(b"data: 1\n\ndata: 2\n\ndata: 3\n\n")] == ["1", "2", "3"]
    assert [e.data for e in events([b"da", b"ta", b": 1\r", b"\n\r", b"\n"])] == ["1"]


def test_sse_crlf_and_raw_u2028_in_data() -> None:
    """CRLF-terminated events; U+2028 inside data stays in the data."""
    assert events("data: a\u2028b\r\n\r\n".encode()) == [ServerSentEvent(data="a\u2028b")]


def test_sse_event_data_cap() -> None:
    """Data lines of one event are bounded too, not only single lines."""
    out, error, _ = run(SSEDecoder(max_line_bytes=16), [b"data: 12345678\n" * 3])
    assert out == []
    assert error is StreamDecodeError


def test_sse_repr_hides_data() -> None:
    """Model output can be sensitive: the repr shows its size only."""
    assert "secret" not in repr(ServerSentEvent(data="secret"))


# --- Token formats: records ---------------------------------------------------------------


def sse(*records: object) -> bytes:
    return b"".join(b"data: " + json.dumps(r).encode() + b"\n\n" for r in records)


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def tgi_token(text: str, *, special: bool = False) -> dict[str, object]:
    return {"token": {"id": 1, "text": text, "logprob": -0.1, "special": special}}


def test_tgi_special_tokens_skipped_by_flag_not_by_text() -> None:
    """``special: true`` hides any text; a non-special ``</s>`` is real text and is kept."""
    stream = sse(
        tgi_token("<|im_start|>", special=True),
        tgi_token("Hi"),
        tgi_token("</s>"),
        tgi_token("<|eot_id|>", special=True),
    )
    assert tokens(stream, "tgi") == ["Hi", "</s>"]


def test_tgi_generated_text_is_not_repeated() -> None:
    """The last event's ``generated_text`` summarises tokens already yielded."""
    last = {**tgi_token("!"), "generated_text": "Hello!", "details": None}
    assert tokens(sse(tgi_token("Hello"), last), "tgi") == ["Hello", "!"]


def test_tgi_error_record_carries_message_and_type() -> None:
    """``{"error", "error_type"}`` raises ``GenerationError`` with both."""
    stream = sse(
        tgi_token("a"), {"error": "Request failed: overloaded", "error_type": "overloaded"}
    )
    out, error, message = run(token_decoder("tgi"), [stream])
    assert out == ["a"]
    assert error is GenerationError
    assert message == "Request failed: overloaded (error_type: overloaded)"


def test_sse_error_event_type_raises() -> None:
    """An ``event: error`` carries an error whatever its data looks like."""
    out, error, message = run(token_decoder("tgi"), [b"event: error\ndata: worker died\n\n"])
    assert (out, error, message) == ([], GenerationError, "worker died")


def chat(content: str | None, *, index: int = 0, role: bool = False) -> dict[str, object]:
    delta: dict[str, object] = {"content": content}
    if role:
        delta["role"] = "assistant"
    return {"object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta}]}


def test_openai_skips_what_is_not_text() -> None:
    """Role-only, empty and null deltas, ``delta: {}``, usage-only chunks and ``[DONE]``."""
    stream = (
        sse(
            {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
            chat("", role=True),
            chat("Hi"),
            chat(None),
            {"choices": [{"index": 0, "delta": dict[str, str](), "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 1}},
        )
        + b"data: [DONE]\n\n"
    )
    assert tokens(stream, "openai") == ["Hi"]


def test_openai_only_choice_zero() -> None:
    """With ``n > 1``, only the choice with index 0 is yielded."""
    stream = sse(chat("a", index=0), chat("X", index=1), {"choices": [{"index": 0, "text": "b"}]})
    assert tokens(stream, "openai") == ["a", "b"]


def test_openai_json_lines_and_full_message() -> None:
    """OpenAI chunks as JSON lines (LMI async vLLM); a whole message when not streamed."""
    stream = jsonl(chat("a"), {"choices": [{"index": 0, "message": {"content": "b"}}]}) + b"\n"
    assert tokens(stream, "openai") == ["a", "b"]


def test_openai_content_parts_and_non_text_deltas() -> None:
    """A list of content parts gives its text parts; tool calls and reasoning are skipped."""
    parts = [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]
    tool = {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}
    stream = sse(
        {"choices": [{"index": 0, "delta": {"content": parts}}]},
        {"choices": [{"index": 0, "delta": tool}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "hmm", "content": None}}]},
    )
    assert tokens(stream, "openai") == ["ab"]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"error": {"message": "bad", "type": "BadRequestError", "code": 400}},
            "bad (error_type: BadRequestError, code: 400)",
        ),
        ({"error": {"message": "too long", "http_status_code": 422}}, "too long"),
        ({"error": "plain string"}, "plain string"),
        (
            {"object": "error", "message": "old vllm", "type": "X", "code": 500},
            "old vllm (error_type: X, code: 500)",
        ),
        ({"error": {"error_code": 400, "error_msg": "3p"}}, "3p (code: 400)"),
        ({"error": 42}, "the model server reported an error"),
    ],
)
def test_openai_error_shapes(record: dict[str, object], message: str) -> None:
    """Every in-band error shape raises ``GenerationError`` with the server's message."""
    out, error, text = run(token_decoder("openai"), [sse(chat("a"), record) + b"data: [DONE]\n\n"])
    assert (out, error, text) == (["a"], GenerationError, message)


def test_lmi_error_token_text_is_not_yielded() -> None:
    """An LMI error token raises with ``error_msg``; ``finish_reason: error`` alone also raises."""
    error_token = {"token": {"id": -1, "text": "partial", "error_msg": "boom"}}
    assert run(token_decoder("lmi"), [jsonl({"token": {"text": "a"}}, error_token)])[:3] == (
        ["a"],
        GenerationError,
        "boom",
    )
    finish = {"token": {"text": "x"}, "details": {"finish_reason": "error"}}
    out, error, message = run(token_decoder("lmi"), [jsonl(finish)])
    assert (out, error) == ([], GenerationError)
    assert message is not None
    assert "finish_reason" in message


def test_lmi_outputs_and_generated_text() -> None:
    """``outputs`` strings are yielded; a lone ``generated_text`` is a whole response."""
    assert tokens(jsonl({"outputs": ["a", "", "b"]}), "lmi") == ["a", "b"]
    assert tokens(jsonl({"generated_text": "whole"}), "lmi") == ["whole"]
    assert tokens(jsonl({"outputs": ["a"]}, {"generated_text": "a"}), "lmi") == ["a"]


def test_lmi_final_line_without_newline_is_parsed() -> None:
    """A last record without a newline is decoded at flush (LMI 0.23 errors end this way)."""
    assert tokens([b'{"outputs": ["a"]}\n{"outputs"', b': ["b"]}'], "lmi") == ["a", "b"]


@pytest.mark.parametrize(
    "record",
    [
        b'{"token": 5}',
        b'{"token": {"text": 5}}',
        b'{"choices": 3}',
        b'{"choices": [7]}',
        b'{"outputs": {"a": 1}}',
        b'{"choices": [{"delta": {"content": [1]}}]}',
        b"{oops}",
    ],
)
def test_malformed_records_raise_stream_decode_error(record: bytes) -> None:
    """A known key of the wrong type, or a record that is not JSON, is a decode error."""
    for framing in (record + b"\n", b"data: " + record + b"\n\n"):
        assert run(token_decoder("lmi"), [framing])[1] is StreamDecodeError


def test_unknown_records_and_non_objects_are_skipped() -> None:
    """Valid JSON of no known shape yields nothing (forward compatible)."""
    assert tokens(jsonl({"ping": True}, [1, 2], 3, "x", None, {"token": {"text": "a"}}), "lmi") == [
        "a"
    ]


def test_done_split_across_parts_and_in_same_part() -> None:
    """``[DONE]`` is skipped when cut across parts or sent with the last chunk."""
    stream = sse(chat("a")) + b"data: [DO"
    assert tokens([stream, b"NE]\n\n"], "openai") == ["a"]
    assert tokens([sse(chat("a")) + b"data: [DONE]\n\n"], "openai") == ["a"]
    assert tokens([b"data:[DONE]"], "openai") == []


def test_framing_follows_first_line_then_content_type() -> None:
    """Framing comes from the first non-blank line; the content type breaks ties."""
    assert tokens(b"\n\n" + jsonl({"outputs": ["a"]}), "tgi") == ["a"]
    assert tokens(b"\r\n" + sse({"outputs": ["a"]}), "lmi") == ["a"]
    decoder = token_decoder("tgi", "text/event-stream")
    assert run(decoder, [b"foo: bar\n" + sse(tgi_token("a"))])[0] == ["a"]
    assert run(token_decoder("tgi"), [b"foo: bar\n"])[1] is StreamDecodeError


# --- Token formats: json document and text -------------------------------------------------


def document(pieces: Sequence[bytes]) -> str:
    out, error, message = run(token_decoder("json"), pieces)
    assert error is None, message
    assert "" not in out
    return "".join(cast("list[str]", out))


def test_json_document_streams_generated_text() -> None:
    """LMI's piecewise document yields each piece as it arrives, escapes decoded."""
    decoder = token_decoder("json")
    assert decoder.feed(b'{"generated_text": "') == []
    assert decoder.feed(b"Hello") == ["Hello"]
    assert decoder.feed(b'\\n\\"w') == ['\n"w']
    assert decoder.feed(b'orld\\"') == ['orld"']
    assert decoder.feed(b'"}') == []
    assert decoder.flush() == []


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_json_document_escapes_split_everywhere(ensure_ascii: bool) -> None:
    """``\\uXXXX`` surrogate pairs and other escapes cut at every point match ``json.loads``."""
    text = 'a😀b\ud83d c\\"/\b\f\n\r\t\x01é\U0001f917'
    if not ensure_ascii:
        text = text.replace("\ud83d", "")
    data = json.dumps({"generated_text": text}, ensure_ascii=ensure_ascii).encode()
    for split in range(len(data) + 1):
        assert document([data[:split], data[split:]]) == text


def test_json_document_shapes() -> None:
    """Top-level object or first list element only; other documents yield nothing."""
    assert document([b'[{"generated_text": "a"}, {"generated_text": "b"}]']) == "a"
    assert document([b'{"details": {"generated_text": "x"}, "generated_text": "y"}']) == "y"
    assert document([b'{"generated\\u005ftext": "escaped key"}']) == "escaped key"
    assert document([b'{"generated_text": ["x"], "other": "z"}']) == ""
    assert document([b'{"outputs": ["x"]}', b"\n"]) == ""
    assert document([b"123"]) == ""
    assert document([b"", b"  \n"]) == ""


@pytest.mark.parametrize(
    "data",
    [
        b'{"generated_text": "abc',
        b'{"generated_text": "a\\q"}',
        b'{"generated_text": "a\\u12x4"}',
        b'{"generated_text": "a\nb"}',
        b'{"generated_text": "a"} {}',
        b'{"a": 1,}',
        b"}",
        b"nope",
        b'{"generated_text": "a\\',
    ],
)
def test_json_document_invalid_raises(data: bytes) -> None:
    """Invalid or truncated JSON raises ``StreamDecodeError`` after any text before it."""
    out, error, _ = run(token_decoder("json"), [data])
    assert error is StreamDecodeError
    assert "".join(out) in ("", "a", "abc")


def test_json_document_error_record() -> None:
    """``{"error": ...}`` raises ``GenerationError`` once the document closes."""
    out, error, message = run(token_decoder("json"), [b'{"error": {"message": "OOM"}}'])
    assert (out, error, message) == ([], GenerationError, "OOM")


def test_text_format_is_strict_utf8() -> None:
    """``text`` yields the payload as text and rejects invalid UTF-8."""
    assert "".join(tokens(["日".encode()[:1], "日".encode()[1:], b"!"], "text")) == "日!"
    assert run(token_decoder("text"), [b"\xff"])[1] is StreamDecodeError


# --- auto -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pieces", "content_type", "expected_format", "expected"),
    [
        ([b"da", b"ta: ", sse(tgi_token("a"))[6:]], None, "tgi", ["a"]),
        ([b"dat", b"e night"], None, "text", ["date night"]),
        ([b"id", b" est"], None, "text", ["id est"]),
        ([b"retr"], None, "text", ["retr"]),
        ([b" \n\t"], None, "text", [" \n\t"]),
        ([b""], None, "text", []),
        ([b": hi\n\n", sse(chat("a"))], None, "openai", ["a"]),
        ([b"\n\n", jsonl({"token": {"text": "a"}})], None, "lmi", ["a"]),
        ([b'{\n  "generated_text": "a"\n}\n'], None, "json", ["a"]),
        (
            [b'{"generated_text": "a"}\r\n', jsonl({"token": {"text": "b"}})],
            None,
            "lmi",
            ["a", "b"],
        ),
        ([b'[{"generated_text": "a"}]'], "application/json", "json", ["a"]),
        ([sse(tgi_token("a"))], "text/event-stream; charset=utf-8", "tgi", ["a"]),
        ([jsonl(chat("a"))], "Application/JSONLines", "openai", ["a"]),
        ([b"data: plain words"], "text/plain", "text", ["data: plain words"]),
    ],
)
def test_auto_rules(
    pieces: list[bytes], content_type: str | None, expected_format: str, expected: list[str]
) -> None:
    """The documented ``auto`` rules, including prefixes cut across parts."""
    decoder = token_decoder("auto", content_type)
    out, error, message = run(decoder, pieces)
    assert error is None, message
    assert "".join(out) == "".join(expected)
    assert decoder.format == expected_format


def test_auto_streams_an_unframed_json_document() -> None:
    """While the first line is open, its text is yielded as it arrives (LMI 0.24-0.26)."""
    decoder = token_decoder("auto", "application/json")
    formats: list[str] = []
    assert decoder.feed(b'{"generated_text": "Hel') == ["Hel"]
    formats.append(decoder.format)
    assert decoder.feed(b'lo"}') == ["lo"]
    assert decoder.flush() == []
    formats.append(decoder.format)
    assert formats == ["auto", "json"]


def test_auto_error_before_any_record_kind() -> None:
    """An error as the first record raises; the format stays undecided."""
    decoder = token_decoder("auto", "text/event-stream")
    assert run(decoder, [sse({"error": "overloaded", "error_type": "overloaded"})])[1] is (
        GenerationError
    )
    assert decoder.format == "auto"


def test_unknown_format_is_rejected() -> None:
    """A misspelt format fails before any byte is decoded."""
    with pytest.raises(ClientValidationError, match="unknown token format"):
        token_decoder(cast("TokenFormat", "vllm"))


@pytest.mark.parametrize("format", ["tgi", "openai", "lmi", "json", "text"])
def test_explicit_format_is_reported(format: TokenFormat) -> None:
    """A decoder reports the format it decodes."""
    assert token_decoder(format).format == format


def test_decoders_stay_failed() -> None:
    """After an error every call raises it again; nothing more is decoded."""
    decoder = token_decoder("tgi")
    stream = sse(tgi_token("a"), {"error": "x"}, tgi_token("b"))
    assert decoder.feed(stream) == ["a"]
    with pytest.raises(GenerationError):
        decoder.feed(sse(tgi_token("c")))
    with pytest.raises(GenerationError):
        decoder.flush()

"""Property tests of the payload decoders: cuttings, fuzzing, oracles, linearity, bounds.

The fixture streams are the ones of ``test_decoders.py`` (``tests/fixtures/streams``).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from typed_sagemaker_runtime import GenerationError, StreamDecodeError
from typed_sagemaker_runtime._decoders._auto import (
    LineDecoder,
    ServerSentEvent,
    SSEDecoder,
    TokenFormat,
    Utf8Decoder,
    token_decoder,
)

# The modules whose compiled patterns the linearity tests count searches of.
TEXT_MODULE = importlib.import_module("typed_sagemaker_runtime._decoders._text")
DOCUMENT_MODULE = importlib.import_module("typed_sagemaker_runtime._decoders._document")
DECODERS_MODULE = importlib.import_module("typed_sagemaker_runtime._decoders._auto")

FIXTURES = Path(__file__).parent / "fixtures" / "streams"
MANIFEST: list[dict[str, Any]] = json.loads((FIXTURES / "manifest.json").read_text("utf-8"))
FORMATS: list[TokenFormat] = ["auto", "tgi", "openai", "lmi", "json", "text"]
CONTENT_TYPES = [
    None,
    "text/event-stream",
    "application/jsonlines",
    "application/json",
    "text/plain",
]

fast = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


class Decoder(Protocol):
    def feed(self, data: bytes) -> list[Any]: ...
    def flush(self) -> list[Any]: ...


Outcome = tuple[Any, "type[Exception] | None", str | None]


def run(decoder: Decoder, pieces: Iterable[bytes], *, joined: bool = False) -> Outcome:
    """Feed, flush, and return (outputs, error type, error text); ``joined`` concatenates."""
    out: list[Any] = []
    error: tuple[type[Exception], str] | None = None
    try:
        for piece in pieces:
            out.extend(decoder.feed(piece))
        out.extend(decoder.flush())
    except (StreamDecodeError, GenerationError) as exc:
        error = (type(exc), str(exc))
    if not isinstance(decoder, LineDecoder):  # empty lines are lines; nothing else is empty
        assert "" not in out
    result = "".join(out) if joined else out
    return (result, *error) if error else (result, None, None)


def cut(data: bytes, points: Sequence[int]) -> list[bytes]:
    pieces: list[bytes] = []
    at = 0
    for point in sorted(points):
        pieces.append(data[at:point])
        at = point
    pieces.append(data[at:])
    return pieces


def awkward_points(data: bytes) -> list[int]:
    """Offsets that split a CRLF or a multi-byte character."""
    points = [i + 1 for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n"]
    points += [i for i, byte in enumerate(data) if 0x80 <= byte < 0xC0]
    return points or [0]


@st.composite
def cuttings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """Random cut points, biased towards the awkward ones; duplicates give empty parts."""
    point = st.integers(0, len(data)) | st.sampled_from(awkward_points(data))
    return cut(data, draw(st.lists(point, max_size=12)))


# --- Fixtures under random cuttings ---------------------------------------------------------


def test_fixtures_have_awkward_points() -> None:
    """The cutting strategy really splits CRLFs and multi-byte characters somewhere."""
    data = b"".join((FIXTURES / entry["file"]).read_bytes() for entry in MANIFEST)
    assert b"\r\n" in data
    assert any(byte >= 0xF0 for byte in data)


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda entry: entry["file"])
@pytest.mark.parametrize("mode", ["format", "auto", "auto-sniff"])
@settings(max_examples=25, deadline=None, derandomize=True)
@given(data=st.data())
def test_fixture_random_cuttings(entry: dict[str, Any], mode: str, data: st.DataObject) -> None:
    """Any cutting of a recorded stream gives the outcome of the uncut stream."""
    stream = (FIXTURES / entry["file"]).read_bytes()
    format: TokenFormat = entry["format"] if mode == "format" else "auto"
    content_type = None if mode == "auto-sniff" else entry["content_type"]
    joined = entry["format"] in ("json", "text")
    expected = run(token_decoder(format, content_type), [stream], joined=joined)
    assert expected[0] == ("".join(entry["tokens"]) if joined else entry["tokens"])
    pieces = data.draw(cuttings(stream))
    assert run(token_decoder(format, content_type), pieces, joined=joined) == expected


# --- Fuzzing: only our two errors, and the same outcome however the input is cut ---------------

FRAGMENTS = [
    *(b"data:", b"data: ", b"event: error\n", b"id: 1\n", b"retry: 9\n", b": ping\n", b":"),
    *(b"\n", b"\r", b"\r\n", b"\n\n", b" ", b"\t", b"{", b"}", b"[", b"]", b'"', b",", b"\\"),
    *(b"\\u", b"d83d", b"de00", b"00e9", b"\\n", b"[DONE]", b'"generated_text"', b'"token"'),
    *(b'"text"', b'"special"', b'"choices"', b'"delta"', b'"content"', b'"outputs"', b'"error"'),
    *(b'"index"', b"true", b"null", b"0", b"1e999", b'"x"', "é".encode(), "😀".encode()),
    *(b"\xf0\x9f", b"\xff", b"\x00", "\u2028".encode(), "\ufeff".encode(), b"[" * 40),
]
soup = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(b"".join)
KEYS = [
    *("token", "text", "special", "special_token", "error", "error_msg", "details", "index"),
    *("finish_reason", "choices", "delta", "message", "content", "outputs", "generated_text"),
    *("object", "code", "type", "error_type", "usage"),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["", "a", "é", "error"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def record_streams(draw: st.DrawFn) -> bytes:
    """Records of plausible keys and arbitrary shapes, framed as SSE or JSON lines."""
    records = [
        json.dumps(value, ensure_ascii=draw(st.booleans()))
        for value in draw(st.lists(json_values, max_size=6))
    ]
    if draw(st.booleans()):
        return "".join(f"data:{draw(st.sampled_from(['', ' ']))}{r}\n\n" for r in records).encode()
    return "".join(f"{r}\n" for r in records).encode()


DecoderFactory = Callable[[], Decoder]
FACTORIES: dict[str, tuple[DecoderFactory, bool]] = {
    "utf8": (Utf8Decoder, True),
    "lines": (LineDecoder, False),
    "lines-capped": (lambda: LineDecoder(max_line_bytes=8), False),
    "sse": (SSEDecoder, False),
}


def _token_factory(format: TokenFormat, content_type: str | None) -> DecoderFactory:
    return lambda: token_decoder(format, content_type)


for _format in FORMATS:
    for _ct in CONTENT_TYPES if _format == "auto" else [None]:
        FACTORIES[f"{_format}-{_ct}"] = (
            _token_factory(_format, _ct),
            _format in ("auto", "json", "text"),
        )
FACTORIES["auto-capped"] = (lambda: token_decoder("auto", max_line_bytes=16), True)
FACTORIES["json-capped"] = (lambda: token_decoder("json", max_line_bytes=16), True)


@pytest.mark.parametrize("name", list(FACTORIES))
@fast
@given(stream=st.binary(max_size=200) | soup | record_streams(), data=st.data())
def test_fuzz_only_decoder_errors_and_cut_invariant(
    name: str, stream: bytes, data: st.DataObject
) -> None:
    """Any bytes end in output or ``StreamDecodeError``/``GenerationError``, however cut."""
    factory, joined = FACTORIES[name]
    whole = run(factory(), [stream], joined=joined)
    pieces = data.draw(cuttings(stream))
    assert run(factory(), pieces, joined=joined) == whole
    assert run(factory(), [bytes([b]) for b in stream], joined=joined) == whole


# --- Oracles -------------------------------------------------------------------------------

line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8)


@fast
@given(lines=st.lists(line_text, max_size=8), ends=st.data(), data=st.data())
def test_lines_round_trip(lines: list[str], ends: st.DataObject, data: st.DataObject) -> None:
    """Lines joined with any mix of LF, CRLF and CR come back, cut anywhere."""
    stream = b""
    for line in lines:
        end = ends.draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
        if not line and end[:1] == b"\n" and stream.endswith(b"\r"):
            end = b"\r"  # "\r" + "\n" would be one break, not an empty line
        stream += line.encode() + end
    assert run(LineDecoder(), data.draw(cuttings(stream))) == (lines, None, None)


@fast
@given(
    tokens=st.lists(st.tuples(st.text(max_size=5), st.booleans()), max_size=8),
    space=st.sampled_from(["", " "]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    keepalive=st.sampled_from(["", ":", ": ping - 2025-01-01"]),
    ensure_ascii=st.booleans(),
    data=st.data(),
)
def test_tgi_stream_oracle(
    tokens: list[tuple[str, bool]],
    space: str,
    newline: str,
    keepalive: str,
    ensure_ascii: bool,
    data: st.DataObject,
) -> None:
    """Any TGI-style stream yields the non-empty texts of its non-special tokens."""
    events: list[str] = []
    for text, special in tokens:
        record = {"token": {"id": 1, "text": text, "logprob": -0.5, "special": special}}
        events.append(f"data:{space}{json.dumps(record, ensure_ascii=ensure_ascii)}{newline * 2}")
        if keepalive:
            events.append(keepalive + newline * 2)
    stream = "".join(events).encode()
    expected = [text for text, special in tokens if text and not special]
    for format in ("tgi", "auto"):
        pieces = data.draw(cuttings(stream))
        assert run(token_decoder(format, None), pieces) == (expected, None, None)


@fast
@given(
    text=st.text(st.characters(codec=None, exclude_categories=[]), max_size=30),
    ensure_ascii=st.booleans(),
    data=st.data(),
)
def test_json_document_oracle(text: str, ensure_ascii: bool, data: st.DataObject) -> None:
    """The streamed ``generated_text`` equals ``json.loads``'s, lone surrogates included."""
    try:
        stream = json.dumps({"generated_text": text}, ensure_ascii=ensure_ascii).encode()
    except UnicodeEncodeError:  # a lone surrogate cannot be written as raw UTF-8
        stream = json.dumps({"generated_text": text}).encode()
    assert json.loads(stream)["generated_text"] == text
    for format in ("json", "auto"):
        pieces = data.draw(cuttings(stream))
        assert run(token_decoder(format), pieces, joined=True) == (text, None, None)


@fast
@given(
    events=st.lists(
        st.tuples(st.lists(line_text, min_size=1, max_size=3), st.none() | line_text), max_size=5
    ),
    data=st.data(),
)
def test_sse_oracle(events: list[tuple[list[str], str | None]], data: st.DataObject) -> None:
    """Events written with multi-line data and an event type come back, cut anywhere."""
    stream = ""
    for lines, kind in events:
        if kind is not None:
            stream += f"event: {kind}\r\n"
        stream += "".join(f"data: {line}\r\n" for line in lines) + "\r\n"
    expected = [
        ServerSentEvent(data="\n".join(lines), event=kind or None) for lines, kind in events
    ]
    assert run(SSEDecoder(), data.draw(cuttings(stream.encode()))) == (expected, None, None)


# --- Linearity and memory bounds ----------------------------------------------------------


class CountingPattern:
    """Wraps a module's compiled pattern; counts how many characters its searches cover."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> None:
        pattern: re.Pattern[Any] = vars(module)[name]
        self.search_pattern: Callable[[Any, int], re.Match[Any] | None] = pattern.search
        self.scanned: int = 0
        monkeypatch.setattr(module, name, self)

    def search(self, string: Any, pos: int = 0) -> re.Match[Any] | None:
        match = self.search_pattern(string, pos)
        end: int = len(string) if match is None else match.end()
        self.scanned += end - pos
        return match


def test_long_line_in_one_byte_parts_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 MB line fed one byte at a time: every byte is searched for a newline once.

    Searching the whole buffer again on every feed would cover 5 * 10**11 bytes here.
    Counting the bytes each search covers, and checking the count as we go, fails
    such a regression within a few thousand feeds instead of timing anything; the
    linear decoder gets through the whole megabyte in about half a second.
    """
    counter = CountingPattern(monkeypatch, TEXT_MODULE, "_NEWLINE")
    size = 1_000_000
    decoder = LineDecoder()
    for fed in range(1, size + 1):
        assert decoder.feed(b"x") == []
        if fed % 1024 == 0:
            assert counter.scanned <= fed
    assert decoder.buffered == size
    assert decoder.feed(b"\n") == ["x" * size]
    assert decoder.buffered == 0
    assert counter.scanned <= size + 1


@pytest.mark.parametrize("format", ["tgi", "lmi", "auto"])
def test_long_record_in_small_parts_is_scanned_once(
    format: TokenFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 300 kB record in 3-byte parts: linear work, one record of memory."""
    line_counter = CountingPattern(monkeypatch, TEXT_MODULE, "_NEWLINE")
    head_counter = CountingPattern(monkeypatch, DECODERS_MODULE, "_NEWLINE")
    text = "é" * 150_000
    prefix = b"data: " if format == "tgi" else b""
    record = prefix + json.dumps({"token": {"text": text}}, ensure_ascii=False).encode() + b"\n\n"
    decoder = token_decoder(format)
    out: list[str] = []
    for at in range(0, len(record), 3):
        out += decoder.feed(record[at : at + 3])
        assert line_counter.scanned + head_counter.scanned <= 2 * (at + 3)
    out += decoder.flush()
    assert out == [text]
    assert line_counter.scanned <= 2 * len(record)
    assert head_counter.scanned <= 2 * len(record)


@pytest.mark.parametrize("format", ["json", "auto"])
def test_json_document_in_one_byte_parts_is_linear_and_small(
    format: TokenFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 kB generated text fed byte by byte: linear scanning, constant memory (json)."""
    counters = [
        CountingPattern(monkeypatch, DOCUMENT_MODULE, name)
        for name in ("_STRUCTURE", "_STRING_END", "_TEXT_SPECIAL")
    ]
    text = "ab\\n\\u00e9" * 20_000
    stream = b'{"generated_text": "' + text.encode() + b'", "details": null}'
    decoder = token_decoder(format)
    out: list[str] = []
    held = 0
    for fed, byte in enumerate(stream, 1):
        out += decoder.feed(bytes([byte]))
        if format == "json":
            held = max(held, _buffered(decoder))
        if fed % 1024 == 0:
            assert sum(counter.scanned for counter in counters) <= 2 * fed
    out += decoder.flush()
    assert "".join(out) == json.loads(stream)["generated_text"]
    assert sum(counter.scanned for counter in counters) <= 2 * len(stream)
    if format == "json":
        assert held < 64


def _buffered(decoder: Any) -> int:
    return int(decoder.buffered)


@pytest.mark.parametrize(
    ("make", "stream"),
    [
        (lambda: SSEDecoder(max_line_bytes=100), b"data: " + b"x" * 200 + b"\n\n"),
        (lambda: SSEDecoder(max_line_bytes=100), b"data: 0123456789\n" * 20),
        (lambda: token_decoder("tgi", max_line_bytes=100), b"data: " + b"x" * 200),
        (lambda: token_decoder("lmi", max_line_bytes=100), b'{"token": {"text": "' + b"x" * 200),
        (lambda: token_decoder("json", max_line_bytes=100), b'{"details": "' + b"x" * 200),
        (lambda: token_decoder("auto", max_line_bytes=100), b'{"details": "' + b"x" * 200),
        (
            lambda: token_decoder("auto", "application/jsonlines", max_line_bytes=100),
            b'{"a": "' + b"x" * 200,
        ),
    ],
)
def test_max_line_bytes_cap(make: Callable[[], Decoder], stream: bytes) -> None:
    """Past ``max_line_bytes`` a record raises ``StreamDecodeError`` at once, not at flush."""
    assert run(make(), [stream], joined=True)[1] is StreamDecodeError
    decoder = make()
    with pytest.raises(StreamDecodeError):
        for byte in stream:
            decoder.feed(bytes([byte]))
            assert _buffered(decoder) <= 2 * 100


@fast
@given(
    texts=st.lists(st.text(max_size=5), max_size=6),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    fields=st.sampled_from(
        ["event: error", "event:error", "event: error\nid: 3", "event: error\nretry: 5"]
    ),
    at_end=st.booleans(),
    data=st.data(),
)
def test_an_error_event_without_data_always_raises(
    texts: list[str], newline: str, fields: str, at_end: bool, data: st.DataObject
) -> None:
    """``event: error`` with no ``data``: the text before it, then ``GenerationError``."""
    records = [f"data: {json.dumps({'token': {'id': 1, 'text': text}})}\n\n" for text in texts]
    stream = "".join(records) + fields + ("\n" if at_end else "\n\n")
    if not at_end:
        stream += f"data: {json.dumps({'token': {'id': 1, 'text': 'after'}})}\n\n"
    stream = stream.replace("\n", newline)
    records_text = [text for text in texts if text]
    for format in ("tgi", "auto"):
        pieces = data.draw(cuttings(stream.encode()))
        out, error, _ = run(token_decoder(format, "text/event-stream"), pieces)
        assert (out, error) == (records_text, GenerationError)

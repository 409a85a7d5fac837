"""Structure-aware fuzzing that random bytes rarely reach, and linear time of the frame decoder.

* Frames with valid checksums around arbitrary header blocks and payloads: random bytes
  almost never pass the prelude CRC, so they never exercise header parsing or the
  classification of frames.
* SSE record streams fed one event per part, the shape of real token streams, which
  takes the record decoder's fast path: it must give exactly what byte-by-byte
  feeding gives, errors included.
* Frames fed in small reads: the checksummed bytes are counted, so a decoder that
  re-parses its buffer on every read fails without timing anything.
"""

from __future__ import annotations

import importlib
import json
import struct
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from typed_sagemaker_runtime import (
    GenerationError,
    PayloadPart,
    StreamDecodeError,
    StreamEvent,
)
from typed_sagemaker_runtime._core._eventstream import EventDecoder, encode_event
from typed_sagemaker_runtime._decoders._auto import token_decoder

EVENTSTREAM = importlib.import_module("typed_sagemaker_runtime._core._eventstream")

fuzz = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def frame(header_block: bytes, payload: bytes) -> bytes:
    """A frame with correct lengths and checksums around any header block and payload."""
    total = 16 + len(header_block) + len(payload)
    prelude = struct.pack(">II", total, len(header_block))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + header_block + payload
    return message + struct.pack(">I", zlib.crc32(message))


HEADER_NAMES = [b":message-type", b":event-type", b":exception-type", b":content-type", b"x"]
HEADER_VALUES = [b"event", b"exception", b"error", b"PayloadPart", b"ModelStreamError", b""]


@st.composite
def header_blocks(draw: st.DrawFn) -> bytes:
    """Header blocks that are well formed, nearly well formed, or arbitrary bytes."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(HEADER_NAMES) | st.binary(max_size=4))
        kind = draw(st.integers(0, 11))
        if kind in (6, 7):
            value = draw(st.sampled_from(HEADER_VALUES) | st.binary(max_size=6))
            length = draw(st.sampled_from([len(value), len(value) + 1, 0xFFFF]))
            body = struct.pack(">H", length) + value
        else:
            body = draw(st.binary(max_size=17))
        parts.append(bytes([len(name)]) + name + bytes([kind]) + body)
    block = b"".join(parts)
    return draw(st.sampled_from([block, block[:-1], block + b"\x00"]) | st.binary(max_size=30))


payloads = st.binary(max_size=40) | st.sampled_from(
    [b"", b"{}", b'{"Message": "m", "ErrorCode": "E"}', b"[1]", b"\xff", b'{"message": 1}']
)


def decode(pieces: list[bytes]) -> tuple[list[StreamEvent], str | None]:
    decoder = EventDecoder()
    events: list[StreamEvent] = []
    try:
        for piece in pieces:
            events.extend(decoder.feed(piece))
        decoder.finish()
    except StreamDecodeError as exc:
        return events, str(exc)
    return events, None


@fuzz
@given(
    frames=st.lists(st.tuples(header_blocks(), payloads), max_size=5),
    tail=st.binary(max_size=20),
    size=st.integers(1, 40),
)
def test_checksummed_frames_with_any_headers(
    frames: list[tuple[bytes, bytes]], tail: bytes, size: int
) -> None:
    """Valid-CRC frames around any headers: events or ``StreamDecodeError``, however read."""
    wire = b"".join(frame(headers, payload) for headers, payload in frames) + tail
    whole = decode([wire])
    assert decode([wire[at : at + size] for at in range(0, len(wire), size)]) == whole
    events, _ = whole
    assert all(type(event).__module__.startswith("typed_sagemaker_runtime") for event in events)


def test_crc_work_is_linear_in_small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """5 MB frames, and 20 000 tiny frames, fed in 1 KB and 7-byte reads: each byte is
    checksummed about once (prelude plus message), never once per read."""
    checked = 0
    real_crc32 = zlib.crc32

    def counting_crc32(data: Any, value: int = 0) -> int:
        nonlocal checked
        checked += len(data)
        return real_crc32(data, value)

    monkeypatch.setattr(EVENTSTREAM, "_crc32", counting_crc32)
    big = encode_event(PayloadPart(b"x" * (5 * 1024 * 1024))) * 2
    tiny = encode_event(PayloadPart(b"y" * 20)) * 20_000
    for wire, size in ((big, 1024), (tiny, 7)):
        checked = 0
        decoder = EventDecoder()
        count = 0
        for at in range(0, len(wire), size):
            count += len(decoder.feed(wire[at : at + size]))
            assert checked <= 2 * (at + size)
        decoder.finish()
        assert count in (2, 20_000)
        assert checked <= 1.2 * len(wire)


# --- SSE records, one event per part (the fast path) ---------------------------------------

RECORD_VALUES = st.sampled_from(
    [
        {"token": {"text": " hi", "special": False}},
        {"token": {"text": "</s>", "special": True}},
        {"token": {"text": "é😀"}, "generated_text": "x"},
        {"token": {"text": 5}},
        {"token": None},
        {"error": "overloaded", "error_type": "overloaded"},
        {"choices": [{"index": 0, "delta": {"content": "a"}}]},
        {"outputs": ["b"]},
        {"generated_text": "whole"},
        [{"generated_text": "listed"}],
        "text",
        7,
    ]
)
LINES = st.sampled_from(
    [
        b"",
        b"[DONE]",
        b" [DONE] ",
        b"not json",
        b"{",
        b'{"token": {"text": "\xff"}}',
        b'{"token": {"text": "\xed\xa0\x80"}}',
        b'{"token": {"text": "a"}} trailing',
        b'  {"token": {"text": "spaced"}}  ',
        b'{"token": {"text": "\\ud83d\\ude00"}}',
        b"[" * 3000,
    ]
)


@st.composite
def sse_parts(draw: st.DrawFn) -> list[bytes]:
    """An SSE stream cut at event boundaries: mostly ``data: {...}\\n\\n``, some odd parts."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            value = json.dumps(draw(RECORD_VALUES), ensure_ascii=draw(st.booleans())).encode()
        else:
            value = draw(LINES)
        prefix = draw(st.sampled_from([b"data: ", b"data:", b"data:  "]))
        extra = draw(
            st.sampled_from(
                [b"", b"", b"", b"event: error\n", b"id: 7\n", b": ping\n", b"retry: 5\n"]
            )
        )
        end = draw(st.sampled_from([b"\n\n", b"\n\n", b"\n\n", b"\r\n\r\n", b"\n", b""]))
        parts.append(extra + prefix + value + end)
    if draw(st.booleans()):
        parts[0] = b"\xef\xbb\xbf" + parts[0]
    return parts


def tokens(pieces: list[bytes], format: Any, content_type: str | None) -> tuple[Any, ...]:
    decoder = token_decoder(format, content_type)
    out: list[str] = []
    try:
        for piece in pieces:
            out += decoder.feed(piece)
        out += decoder.flush()
    except (StreamDecodeError, GenerationError) as exc:
        return "".join(out), type(exc), str(exc)
    return "".join(out), None, None


@pytest.mark.parametrize(
    ("format", "content_type"),
    [("tgi", None), ("openai", "text/event-stream"), ("auto", "text/event-stream"), ("auto", None)],
)
@fuzz
@given(parts=sse_parts())
def test_event_per_part_equals_byte_by_byte(
    format: Any, content_type: str | None, parts: list[bytes]
) -> None:
    """Feeding one SSE event per part (the fast path) gives exactly the byte-wise outcome."""
    wire = b"".join(parts)
    expected = tokens([wire[at : at + 1] for at in range(len(wire))], format, content_type)
    assert tokens(parts, format, content_type) == expected
    assert tokens([wire], format, content_type) == expected


def test_fast_path_is_taken_and_counts_offsets() -> None:
    """A long TGI stream in event-sized parts decodes, and an error later names its byte."""
    record = b'data: {"token": {"text": "a"}}\n\n'
    decoder = token_decoder("tgi")
    out: list[str] = []
    for _ in range(1000):
        out += decoder.feed(record)
    assert "".join(out) == "a" * 1000
    with pytest.raises(StreamDecodeError, match=f"byte {1000 * len(record) + 6}"):
        decoder.feed(b"data: \xff\n\n")

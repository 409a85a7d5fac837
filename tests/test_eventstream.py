"""The event-stream frame decoder and encoder, with no I/O."""

from __future__ import annotations

import io
import itertools
import struct
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings, strategies as st

from typed_sagemaker_runtime import (
    InternalStreamFailure,
    ModelStreamError,
    PayloadPart,
    StreamDecodeError,
    StreamEvent,
)
from typed_sagemaker_runtime._core._eventstream import (
    EventDecoder,
    FrameDecoder,
    encode_event,
    encode_frame,
    parse_headers,
)

EVENTS: list[StreamEvent] = [
    PayloadPart(b'data: {"token":{"text":"caf\xc3'),
    PayloadPart(b""),
    PayloadPart(bytes(range(256)) * 40),
    ModelStreamError(message="model timed out", error_code="ModelInvocationTimeExceeded"),
]
WIRE = b"".join(encode_event(event) for event in EVENTS)


def decode_all(pieces: list[bytes]) -> list[StreamEvent]:
    decoder = EventDecoder()
    events: list[StreamEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    decoder.finish()
    return events


def test_botocore_decodes_our_frames() -> None:
    """Our encoder writes frames that botocore's own parser accepts, CRCs included."""
    buffer = EventStreamBuffer()
    buffer.add_data(WIRE)
    messages = list(buffer)
    assert [m.headers[":event-type"] for m in messages[:3]] == ["PayloadPart"] * 3
    assert [m.payload for m in messages[:3]] == [e.data for e in EVENTS[:3]]  # type: ignore[union-attr]
    assert messages[3].headers[":exception-type"] == "ModelStreamError"
    assert messages[3].headers[":message-type"] == "exception"


def test_every_split_point_gives_the_same_events() -> None:
    """A frame boundary is not a read boundary: any cut decodes to the same events."""
    for split in range(len(WIRE) + 1):
        assert decode_all([WIRE[:split], b"", WIRE[split:]]) == EVENTS, split


def test_one_byte_at_a_time() -> None:
    assert decode_all([WIRE[i : i + 1] for i in range(len(WIRE))]) == EVENTS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(WIRE)), max_size=12))
def test_random_cuttings(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), len(WIRE)]
    pieces = [WIRE[a:b] for a, b in itertools.pairwise(edges)]
    assert decode_all(pieces) == EVENTS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=1, max_value=64), max_size=8))
def test_garbage_raises_only_stream_decode_error(data: bytes, sizes: list[int]) -> None:
    """Arbitrary bytes end in events or StreamDecodeError, never another exception."""
    decoder = EventDecoder()
    position = 0
    try:
        for size in [*sizes, len(data)]:
            decoder.feed(data[position : position + size])
            position += size
        decoder.finish()
    except StreamDecodeError:
        pass


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(PayloadPart, st.binary(max_size=300)),
            st.builds(ModelStreamError, st.none() | st.text(), st.none() | st.text()),
            st.builds(InternalStreamFailure, st.none() | st.text()),
        ),
        max_size=6,
    ),
    st.integers(min_value=1, max_value=50),
)
def test_round_trip_any_events(events: list[StreamEvent], step: int) -> None:
    wire = b"".join(encode_event(e) for e in events)
    assert decode_all([wire[i : i + step] for i in range(0, len(wire), step)]) == events


def test_truncated_stream_raises() -> None:
    """botocore ends quietly on a half frame; we do not."""
    decoder = EventDecoder()
    assert decoder.feed(WIRE[:-5]) == EVENTS[:3]
    with pytest.raises(StreamDecodeError, match="middle of a message"):
        decoder.finish()


@pytest.mark.parametrize("offset", [0, 5, 9, 20, -1])
def test_corruption_is_detected(offset: int) -> None:
    frame = bytearray(encode_event(PayloadPart(b"hello world")))
    frame[offset] ^= 0x40
    with pytest.raises(StreamDecodeError, match=r"checksum|length"):
        EventDecoder().feed(bytes(frame))


def test_bad_length_with_valid_prelude_crc() -> None:
    prelude = struct.pack(">II", 10, 0)
    frame = prelude + struct.pack(">I", zlib.crc32(prelude)) + b"\x00" * 8
    with pytest.raises(StreamDecodeError, match="invalid event-stream frame length"):
        FrameDecoder().feed(frame)


def test_oversized_frame_is_refused_before_buffering() -> None:
    prelude = struct.pack(">II", 100 * 1024 * 1024, 0)
    with pytest.raises(StreamDecodeError, match="exceeds the limit"):
        FrameDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_unknown_and_headerless_frames_are_skipped() -> None:
    wire = (
        encode_frame({}, b"no headers")
        + encode_frame({":message-type": "event", ":event-type": "SomethingNew"}, b"x")
        + encode_frame({":message-type": "event", ":event-type": "PayloadPart", "n": 7}, b"ok")
    )
    assert decode_all([wire]) == [PayloadPart(b"ok")]


def test_error_frames_become_failure_events() -> None:
    wire = encode_frame(
        {":message-type": "error", ":error-code": "InternalError", ":error-message": "boom"}
    ) + encode_frame(
        {":message-type": "exception", ":exception-type": "SomethingElse"},
        b'{"Message": "odd"}',
    )
    assert decode_all([wire]) == [
        InternalStreamFailure(message="InternalError: boom"),
        InternalStreamFailure(message="SomethingElse: odd"),
    ]


def test_error_code_is_kept() -> None:
    """botocore drops ModelStreamError.ErrorCode; the decoder keeps it."""
    event = ModelStreamError(message="broken", error_code="StreamBroken")
    assert decode_all([encode_event(event)]) == [event]


def test_all_header_types_parse() -> None:
    def header(name: bytes, kind: int, value: bytes) -> bytes:
        return bytes([len(name)]) + name + bytes([kind]) + value

    raw = b"".join(
        [
            header(b"t", 0, b""),
            header(b"f", 1, b""),
            header(b"b", 2, b"\xff"),
            header(b"s", 3, b"\x01\x00"),
            header(b"i", 4, b"\x00\x00\x01\x00"),
            header(b"l", 5, struct.pack(">q", -2)),
            header(b"ba", 6, b"\x00\x02hi"),
            header(b"st", 7, b"\x00\x03abc"),
            header(b"ts", 8, struct.pack(">q", 1700000000000)),
            header(b"u", 9, bytes(range(16))),
        ]
    )
    assert parse_headers(raw) == {
        "t": True,
        "f": False,
        "b": -1,
        "s": 256,
        "i": 256,
        "l": -2,
        "ba": b"hi",
        "st": "abc",
        "ts": 1700000000000,
        "u": bytes(range(16)),
    }


@pytest.mark.parametrize(
    "raw",
    [b"\x01a", b"\x01a\x07\x00\x05ab", b"\x01a\x0a", b"\x01a\x09\x00", b"\x02\xff\xfe\x00"],
)
def test_malformed_headers_raise(raw: bytes) -> None:
    with pytest.raises(StreamDecodeError):
        parse_headers(raw)


def test_large_frame_in_small_reads() -> None:
    """A 5 MB frame fed in 1 KB reads is parsed once, when complete."""
    payload = b"x" * (5 * 1024 * 1024)
    wire = encode_event(PayloadPart(payload))
    decoder = EventDecoder()
    stream = io.BytesIO(wire)
    events: list[StreamEvent] = []
    while piece := stream.read(1024):
        events.extend(decoder.feed(piece))
    assert events == [PayloadPart(payload)]


def test_deeply_nested_error_payload_is_not_a_recursion_error() -> None:
    frame = encode_frame(
        {":message-type": "exception", ":exception-type": "ModelStreamError"}, b"[" * 100_000
    )
    [event] = decode_all([frame])
    assert isinstance(event, ModelStreamError)

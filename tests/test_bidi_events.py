"""Events of InvokeEndpointWithBidirectionalStream on the wire (issue 21), both ways.

The codec reproduces smithy-python's event-stream vectors (V3 in docs bidi-protocol.md)
byte for byte; request parts carry their headers in the order AWS's serializer writes
them; response events decode at every split point; arguments are validated before sending.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, strategies as st

from typed_sagemaker_runtime._core._bidi_events import (
    MAX_PART_BYTES,
    BidiEvent,
    BidiEventDecoder,
    BidiPayloadPart,
    MessageJoiner,
    decode_request_part,
    encode_part,
    encode_response_event,
    request_part,
)
from typed_sagemaker_runtime._core._events import InternalStreamFailure, ModelStreamError
from typed_sagemaker_runtime._core._eventstream import (
    EncodableHeaderValue,
    FrameDecoder,
    HeaderValue,
    Timestamp,
    encode_frame,
    parse_headers,
)
from typed_sagemaker_runtime._core._exceptions import ClientValidationError, StreamDecodeError

# smithy-lang/smithy-python packages/smithy-aws-event-stream/tests/unit/test_events.py
V3: list[tuple[str, bytes, dict[str, EncodableHeaderValue], dict[str, HeaderValue], bytes]] = [
    (
        "EMPTY_MESSAGE",
        b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff",
        {},
        {},
        b"",
    ),
    (
        "TRUE_HEADER",
        b"\x00\x00\x00\x16\x00\x00\x00\x06\x63\xe1\x18\x7e\x04true\x00\xf1\xe7\xbc\xd7",
        {"true": True},
        {"true": True},
        b"",
    ),
    (
        "FALSE_HEADER",
        b"\x00\x00\x00\x17\x00\x00\x00\x07\x29\x86\x01\x58\x05false\x01\x52\x31\x7e\xf4",
        {"false": False},
        {"false": False},
        b"",
    ),
    (
        "INTEGER_HEADER",
        b"\x00\x00\x00\x1d\x00\x00\x00\x0d\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff"
        b"\x8b\x8e\x12\xeb",
        {"integer": -1},
        {"integer": -1},
        b"",
    ),
    (
        "BYTE_ARRAY_HEADER",
        b"\x00\x00\x00\x1e\x00\x00\x00\x0e\x5d\x4a\xdb\x8d\x05bytes\x06\x00\x05bytes"
        b"\xa1\x64\x4d\xbf",
        {"bytes": b"bytes"},
        {"bytes": b"bytes"},
        b"",
    ),
    (
        "STRING_HEADER",
        b"\x00\x00\x00\x20\x00\x00\x00\x10\xb9\x54\xe0\x09\x06string\x07\x00\x06string"
        b"\x4c\x8d\x9e\x14",
        {"string": "string"},
        {"string": "string"},
        b"",
    ),
    (
        "TIMESTAMP_HEADER",
        b"\x00\x00\x00\x23\x00\x00\x00\x13\x67\xfd\xcb\x63"
        b"\x09timestamp\x08\x00\x00\x00\x00\x00\x00\x00\x08\x8d\x45\x33\xee",
        {"timestamp": Timestamp(8)},
        {"timestamp": 8},
        b"",
    ),
    (
        "PAYLOAD_NO_HEADERS",
        b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfd\x52\x8c\x5a{'foo':'bar'}\xc3\x65\x39\x36",
        {},
        {},
        b"{'foo':'bar'}",
    ),
    (
        "PAYLOAD_ONE_STR_HEADER",
        b"\x00\x00\x00\x3d\x00\x00\x00\x20\x07\xfd\x83\x96"
        b"\x0ccontent-type\x07\x00\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1",
        {"content-type": "application/json"},
        {"content-type": "application/json"},
        b"{'foo':'bar'}",
    ),
    (
        "ERROR_EVENT_MESSAGE",
        b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e"
        b"\x0d:message-type\x07\x00\x05error\x0b:error-code\x07\x00\x04code"
        b"\x0e:error-message\x07\x00\x07message\x6b\x6c\xea\x3d",
        {":message-type": "error", ":error-code": "code", ":error-message": "message"},
        {":message-type": "error", ":error-code": "code", ":error-message": "message"},
        b"",
    ),
]


@pytest.mark.parametrize(
    ("wire", "headers", "decoded", "payload"),
    [case[1:] for case in V3],
    ids=[case[0] for case in V3],
)
def test_v3_codec_vectors_encode_and_decode_byte_for_byte(
    wire: bytes,
    headers: dict[str, EncodableHeaderValue],
    decoded: dict[str, HeaderValue],
    payload: bytes,
) -> None:
    assert encode_frame(headers, payload) == wire
    [(raw_headers, got_payload)] = FrameDecoder().feed(wire)
    assert parse_headers(raw_headers) == decoded
    assert got_payload == payload


def test_the_error_vector_decodes_as_an_internal_stream_failure() -> None:
    wire = V3[-1][1]
    assert BidiEventDecoder().feed(wire) == [InternalStreamFailure(message="code: message")]


# --- request parts ----------------------------------------------------------------------


def test_a_request_part_carries_the_headers_aws_serializer_writes_in_its_order() -> None:
    message = encode_part(BidiPayloadPart(b"hello", "UTF8", "PARTIAL"))
    [(raw_headers, payload)] = FrameDecoder().feed(message)
    assert list(parse_headers(raw_headers).items()) == [
        (":message-type", "event"),
        (":event-type", "PayloadPart"),
        ("DataType", "UTF8"),
        ("CompletionState", "PARTIAL"),
        (":content-type", "application/octet-stream"),
    ]
    assert payload == b"hello"


def test_an_empty_part_has_no_content_type_and_unset_headers_are_left_out() -> None:
    [(raw_headers, payload)] = FrameDecoder().feed(encode_part(BidiPayloadPart(b"", None, None)))
    assert parse_headers(raw_headers) == {":message-type": "event", ":event-type": "PayloadPart"}
    assert payload == b""


@pytest.mark.parametrize(
    ("data", "kwargs", "expected"),
    [
        ("héllo", {}, BidiPayloadPart("héllo".encode(), "UTF8", None)),
        (b"\x00\x01", {}, BidiPayloadPart(b"\x00\x01", "BINARY", None)),
        (bytearray(b"ab"), {}, BidiPayloadPart(b"ab", "BINARY", None)),
        (memoryview(b"abc")[1:], {}, BidiPayloadPart(b"bc", "BINARY", None)),
        (
            "text as bytes",
            {"data_type": "BINARY", "completion_state": "COMPLETE"},
            BidiPayloadPart(b"text as bytes", "BINARY", "COMPLETE"),
        ),
        # a PARTIAL UTF8 part may end inside a character
        (
            b"\xe2\x82",
            {"data_type": "UTF8", "completion_state": "PARTIAL"},
            BidiPayloadPart(b"\xe2\x82", "UTF8", "PARTIAL"),
        ),
        (BidiPayloadPart(b"x", None, None), {}, BidiPayloadPart(b"x", None, None)),
    ],
)
def test_request_part_accepts_what_send_takes(
    data: object, kwargs: dict[str, object], expected: BidiPayloadPart
) -> None:
    got = request_part(
        data, data_type=kwargs.get("data_type"), completion_state=kwargs.get("completion_state")
    )
    assert got == expected


@pytest.mark.parametrize(
    ("data", "kwargs", "field", "fragment"),
    [
        (42, {}, "data", "got int"),
        ("\ud800", {}, "data", "lone surrogate"),
        (b"x", {"data_type": "utf8"}, "data_type", "'UTF8' or 'BINARY'"),
        (b"x", {"data_type": 1}, "data_type", "got int"),
        (b"x", {"completion_state": "DONE"}, "completion_state", "'PARTIAL' or 'COMPLETE'"),
        (BidiPayloadPart(b"x", "TEXT", None), {}, "data_type", "got 'TEXT'"),
        (BidiPayloadPart(b"x", None, None), {"data_type": "UTF8"}, "data_type", "own data_type"),
        (BidiPayloadPart("s", None, None), {}, "input", "must be bytes"),  # type: ignore[arg-type]
    ],
)
def test_request_part_names_the_argument_it_rejects(
    data: object, kwargs: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(ClientValidationError, match=fragment) as caught:
        request_part(
            data,
            data_type=kwargs.get("data_type"),
            completion_state=kwargs.get("completion_state"),
            field="input" if field == "input" else "data",
        )
    assert caught.value.field == field
    assert caught.value.operation == "InvokeEndpointWithBidirectionalStream"


def test_a_part_over_the_frame_limit_is_refused_and_one_at_the_limit_fits_a_signed_frame() -> None:
    with pytest.raises(ClientValidationError, match="limit") as caught:
        request_part(bytes(MAX_PART_BYTES + 1))
    assert caught.value.field == "data"
    inner = encode_part(request_part(bytes(MAX_PART_BYTES), completion_state="PARTIAL"))
    outer = encode_frame({":date": Timestamp(0), ":chunk-signature": bytes(32)}, inner)
    assert len(FrameDecoder().feed(outer)) == 1


def test_a_part_shows_its_size_not_its_bytes_and_pickles() -> None:
    part = BidiPayloadPart(b"secret words", "UTF8", None)
    assert "secret" not in repr(part)
    assert "12 bytes" in repr(part)
    assert pickle.loads(pickle.dumps(part)) == part


def test_decode_request_part_refuses_what_is_not_one_part() -> None:
    part = encode_part(BidiPayloadPart(b"a", None, None))
    with pytest.raises(StreamDecodeError, match="one message"):
        decode_request_part(part + part)
    with pytest.raises(StreamDecodeError, match="not a PayloadPart"):
        decode_request_part(encode_frame({":message-type": "event", ":event-type": "Other"}))
    with pytest.raises(StreamDecodeError):
        decode_request_part(part[:-1])


# --- response events ----------------------------------------------------------------------

parts = st.builds(
    BidiPayloadPart,
    st.binary(max_size=40),
    st.sampled_from([None, "UTF8", "BINARY"]),
    st.sampled_from([None, "PARTIAL", "COMPLETE"]),
)
errors = st.one_of(
    st.builds(
        ModelStreamError,
        st.one_of(st.none(), st.text(max_size=20)),
        st.one_of(st.none(), st.text(max_size=20)),
    ),
    st.builds(InternalStreamFailure, st.one_of(st.none(), st.text(max_size=20))),
)


def _decode_in_pieces(wire: bytes, cuts: list[int]) -> list[BidiEvent]:
    decoder = BidiEventDecoder()
    events: list[BidiEvent] = []
    start = 0
    for cut in [*sorted(cuts), len(wire)]:
        events += decoder.feed(wire[start:cut])
        start = max(start, cut)
    decoder.finish()
    return events


@given(st.lists(parts, max_size=5), st.one_of(st.none(), errors), st.data())
def test_response_events_round_trip_at_any_cutting(
    sent: list[BidiPayloadPart], error: BidiEvent | None, data: st.DataObject
) -> None:
    events: list[BidiEvent] = [*sent] if error is None else [*sent, error]
    wire = b"".join(encode_response_event(event) for event in events)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=6))
    assert _decode_in_pieces(wire, cuts) == events


def test_every_split_point_of_a_part_and_an_error_decodes_the_same() -> None:
    events: list[BidiEvent] = [
        BidiPayloadPart(b"caption", "UTF8", "COMPLETE"),
        ModelStreamError(message="boom", error_code="ModelError"),
    ]
    wire = b"".join(encode_response_event(event) for event in events)
    for cut in range(len(wire) + 1):
        assert _decode_in_pieces(wire, [cut]) == events


@given(st.lists(parts, max_size=5))
def test_request_parts_round_trip(sent: list[BidiPayloadPart]) -> None:
    assert [decode_request_part(encode_part(part)) for part in sent] == sent


def test_unknown_events_are_skipped_and_a_corrupt_frame_raises_after_the_events_before_it() -> None:
    good = encode_response_event(BidiPayloadPart(b"ok", None, None))
    unknown = encode_frame({":message-type": "event", ":event-type": "Future"}, b"?")
    corrupt = bytearray(good)
    corrupt[-1] ^= 1
    decoder = BidiEventDecoder()
    assert decoder.feed(unknown + good + bytes(corrupt)) == [BidiPayloadPart(b"ok", None, None)]
    with pytest.raises(StreamDecodeError):
        decoder.feed(b"")


def test_a_truncated_response_raises_at_finish() -> None:
    decoder = BidiEventDecoder()
    assert decoder.feed(encode_response_event(BidiPayloadPart(b"ok", None, None))[:-3]) == []
    with pytest.raises(StreamDecodeError, match="middle of a message"):
        decoder.finish()


# --- messages joined from parts -----------------------------------------------------------


def test_partial_parts_are_joined_up_to_the_complete_one() -> None:
    joiner = MessageJoiner()
    snowman = "☃".encode()
    assert joiner.add(BidiPayloadPart(b"a" + snowman[:1], "UTF8", "PARTIAL")) is None
    assert joiner.pending == 2
    assert joiner.add(BidiPayloadPart(snowman[1:], "UTF8", "PARTIAL")) is None
    assert joiner.add(BidiPayloadPart(b"!", "UTF8", "COMPLETE")) == "a☃!"
    assert joiner.add(BidiPayloadPart(b"\x00", None, None)) == b"\x00"
    assert joiner.add(BidiPayloadPart(b"raw", "BINARY", "COMPLETE")) == b"raw"
    assert joiner.finish() is None


@given(st.lists(st.tuples(st.text(max_size=8), st.booleans()), max_size=8), st.data())
def test_any_text_cut_into_parts_joins_back(
    messages: list[tuple[str, bool]], data: st.DataObject
) -> None:
    joiner = MessageJoiner()
    got: list[bytes | str] = []
    for text, as_text in messages:
        raw = text.encode()
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=3)))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        kind = "UTF8" if as_text else "BINARY"
        for piece in pieces[:-1]:
            assert joiner.add(BidiPayloadPart(piece, kind, "PARTIAL")) is None
        message = joiner.add(BidiPayloadPart(pieces[-1], kind, "COMPLETE"))
        assert message is not None
        got.append(message)
    assert got == [text if as_text else text.encode() for text, as_text in messages]


def test_a_message_left_partial_at_the_end_is_given_by_finish() -> None:
    joiner = MessageJoiner()
    joiner.add(BidiPayloadPart(b"tail", "UTF8", "PARTIAL"))
    assert joiner.finish() == "tail"
    assert joiner.finish() is None


def test_invalid_utf8_and_an_endless_partial_message_raise() -> None:
    with pytest.raises(StreamDecodeError, match="UTF-8"):
        MessageJoiner().add(BidiPayloadPart(b"\xff", "UTF8", None))
    joiner = MessageJoiner(max_bytes=10)
    joiner.add(BidiPayloadPart(b"x" * 6, None, "PARTIAL"))
    with pytest.raises(StreamDecodeError, match="over 10 bytes"):
        joiner.add(BidiPayloadPart(b"x" * 6, None, "PARTIAL"))
    assert joiner.pending == 0
    assert joiner.finish() is None

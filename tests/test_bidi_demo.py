"""``BidiDemo``: live captions of UTF8 messages, per-second results of audio, Deepgram's controls.

The sans-I/O session is tested at every split point and with hypothesis; the backend is
driven as the listener drives it (``tests/_bidi_backend_harness.py``), without HTTP/2.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import struct
import time
import wave
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from _bidi_backend_harness import Caller
from typed_sagemaker_runtime._core._bidi_events import BidiPayloadPart
from typed_sagemaker_runtime.testing import BidiDemo, ModelStreamError
from typed_sagemaker_runtime.testing._backends._bidi_demo import DemoSession, caption_tokens
from typed_sagemaker_runtime.testing._backends._bidi_demo_audio import loudness_label


def tone(seconds: float, rate: int, channels: int = 1, amplitude: int = 3000) -> bytes:
    """A sine wave as 16-bit little-endian PCM, the same on every channel."""
    frames = round(seconds * rate)
    return b"".join(
        struct.pack("<h", round(amplitude * math.sin(i / 7))) * channels for i in range(frames)
    )


def wav(pcm: bytes, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


def audio(data: bytes) -> BidiPayloadPart:
    return BidiPayloadPart(data, "BINARY", None)


def text(data: str, state: str | None = None) -> BidiPayloadPart:
    return BidiPayloadPart(data.encode(), "UTF8", state)


def answers(parts: list[BidiPayloadPart]) -> list[object]:
    """What a session answers to ``parts`` then the input's end, JSON decoded."""
    session = DemoSession()
    outputs = [e.output for part in parts for e in session.feed(part)]
    outputs += [e.output for e in session.end()]
    return [_decoded(output) for output in outputs]


def _decoded(output: object) -> object:
    if isinstance(output, BidiPayloadPart) and output.data.startswith(b"{"):
        return json.loads(output.data)
    return output


def result(start: float, duration: float, transcript: str) -> dict[str, Any]:
    return {
        "type": "Results",
        "start": start,
        "duration": duration,
        "is_final": True,
        "channel": {"alternatives": [{"transcript": transcript, "confidence": 1.0}]},
    }


def metadata(duration: float, channels: int = 1, rate: int = 16000) -> dict[str, Any]:
    return {"type": "Metadata", "duration": duration, "channels": channels, "sample_rate": rate}


# --- captions -------------------------------------------------------------------------------


def test_a_message_comes_back_word_by_word_partial_then_complete() -> None:
    assert answers([text("hello big world")]) == [
        text("hello", "PARTIAL"),
        text(" big", "PARTIAL"),
        text(" world", "COMPLETE"),
    ]


@pytest.mark.parametrize(
    ("message", "tokens"),
    [
        ("", [""]),
        ("   ", ["   "]),
        ("one", ["one"]),
        ("  lead and trail  ", ["  lead", " and", " trail  "]),
        ("line\nbreak\ttab", ["line", "\nbreak", "\ttab"]),
    ],
)
def test_caption_tokens_keep_every_character(message: str, tokens: list[str]) -> None:
    assert caption_tokens(message) == tokens


@given(st.text())
def test_caption_tokens_join_back_to_the_message(message: str) -> None:
    assert "".join(caption_tokens(message)) == message


def test_partial_utf8_parts_are_joined_before_captioning() -> None:
    assert answers([text("hel", "PARTIAL"), text("lo wor", "PARTIAL"), text("ld", "COMPLETE")]) == [
        text("hello", "PARTIAL"),
        text(" world", "COMPLETE"),
    ]


@given(st.text(max_size=40), st.lists(st.integers(min_value=0, max_value=200), max_size=5))
def test_any_split_of_a_message_into_partial_parts_gives_the_same_captions(
    message: str, cuts: list[int]
) -> None:
    data = message.encode()
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)] or [b""]
    parts = [BidiPayloadPart(piece, "UTF8", "PARTIAL") for piece in pieces[:-1]]
    parts.append(BidiPayloadPart(pieces[-1], "UTF8", "COMPLETE"))
    session = DemoSession()
    outputs = [e.output for part in parts for e in session.feed(part)]
    assert outputs == [e.output for e in DemoSession().feed(text(message))]


def test_a_character_split_across_partial_parts_is_joined_whole() -> None:
    data = "café ok".encode()
    split = data.index(b"\xa9")  # inside "é"
    parts = [
        BidiPayloadPart(data[:split], "UTF8", "PARTIAL"),
        BidiPayloadPart(data[split:], "UTF8", None),  # no CompletionState: COMPLETE
    ]
    assert answers(parts) == [text("café", "PARTIAL"), text(" ok", "COMPLETE")]


def test_a_partial_message_pending_at_the_end_of_input_is_captioned() -> None:
    assert answers([text("cut sho", "PARTIAL")]) == [
        text("cut", "PARTIAL"),
        text(" sho", "COMPLETE"),
    ]


def test_json_that_is_not_a_control_message_is_captioned() -> None:
    session = DemoSession()
    [emission] = session.feed(text('{"type":"Configure"}'))
    assert emission.output == text('{"type":"Configure"}', "COMPLETE")


# --- audio ----------------------------------------------------------------------------------


def test_raw_pcm_gives_one_result_per_second_and_the_rest_at_the_end() -> None:
    assert answers([audio(bytes(2 * 16000 * 5 // 2))]) == [  # 2.5 s of silence
        result(0.0, 1.0, "[silence]"),
        result(1.0, 1.0, "[silence]"),
        result(2.0, 0.5, "[silence]"),
        metadata(2.5),
    ]


def test_a_wav_header_sets_the_rate_and_channels() -> None:
    stereo = wav(tone(1.5, 8000, channels=2), rate=8000, channels=2)
    assert answers([audio(stereo)]) == [
        result(0.0, 1.0, "[speech, -24 dBFS]"),
        result(1.0, 0.5, "[speech, -24 dBFS]"),
        metadata(1.5, channels=2, rate=8000),
    ]


def test_a_wav_header_split_at_every_byte_gives_the_same_results() -> None:
    data = wav(tone(1.25, 16000))
    expected = answers([audio(data)])
    for cut in range(1, 60):
        assert answers([audio(data[:cut]), audio(data[cut:])]) == expected, cut


def test_odd_sized_parts_give_the_same_results() -> None:
    data = wav(tone(1.1, 11025), rate=11025)
    expected = answers([audio(data)])
    assert answers([audio(data[i : i + 3]) for i in range(0, len(data), 3)]) == expected


def test_headerless_audio_starting_like_riff_is_read_as_raw() -> None:
    data = b"RIFX" + bytes(32000 - 4)  # one second, not a RIFF header
    [first, *_] = answers([audio(data[:2]), audio(data[2:])])
    assert first == result(0.0, 1.0, "[noise, -43 dBFS]")  # its first 4 bytes are samples


def test_chunks_other_than_fmt_and_data_are_skipped_and_the_data_size_bounds_the_audio() -> None:
    pcm = bytes(16000 * 2)
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    extra = b"LIST" + struct.pack("<I", 5) + b"hello" + b"\0"  # odd size: padded
    data = b"data" + struct.pack("<I", len(pcm)) + pcm
    trailer = b"LIST" + struct.pack("<I", 4000) + b"\x7f" * 4000  # after the audio: not audio
    body = b"WAVE" + extra + fmt + data + trailer
    riff = b"RIFF" + struct.pack("<I", len(body)) + body
    assert answers([audio(riff)]) == [result(0.0, 1.0, "[silence]"), metadata(1.0)]


def test_a_truncated_wav_header_alone_is_no_audio() -> None:
    assert answers([audio(wav(b"")[:30])]) == [metadata(0.0)]


def test_an_incomplete_last_frame_is_dropped() -> None:
    assert answers([audio(bytes(5))]) == [result(0.0, 0.0, "[silence]"), metadata(0.0)]


def test_audio_that_is_not_16_bit_pcm_ends_the_stream_with_an_error() -> None:
    [error] = answers([audio(wav(bytes(100), width=1))])
    assert isinstance(error, ModelStreamError)
    assert error.error_code == "UnsupportedAudio"
    assert "16-bit PCM" in (error.message or "")


@pytest.mark.parametrize(
    ("dbfs", "label"),
    [
        (-math.inf, "[silence]"),
        (-61.0, "[silence]"),
        (-42.4, "[noise, -42 dBFS]"),
        (-18.0, "[speech, -18 dBFS]"),
        (-3.0, "[loud, -3 dBFS]"),
    ],
)
def test_loudness_labels(dbfs: float, label: str) -> None:
    assert loudness_label(dbfs) == label


def test_full_scale_audio_is_loud() -> None:
    square = struct.pack("<hh", 32767, -32768) * 8000
    [first, _] = answers([audio(square)])
    assert first == result(0.0, 1.0, "[loud, 0 dBFS]")


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([(8000, 1), (16000, 2), (44100, 1)]),
    st.lists(st.integers(min_value=0, max_value=200_000), max_size=8),
)
def test_any_split_of_the_same_audio_gives_the_same_results(
    format_: tuple[int, int], cuts: list[int]
) -> None:
    rate, channels = format_
    data = wav(tone(2.3, rate, channels), rate=rate, channels=channels)
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    parts = [audio(data[a:b]) for a, b in itertools.pairwise(bounds)]
    assert answers(parts) == answers([audio(data)])


# --- Deepgram's control messages --------------------------------------------------------------


def test_finalize_gives_the_partial_second_at_once() -> None:
    half = bytes(16000)  # 0.5 s
    assert answers([audio(half), text('{"type": "Finalize"}'), audio(half + half)]) == [
        result(0.0, 0.5, "[silence]"),
        result(0.5, 1.0, "[silence]"),
        metadata(1.5),
    ]


def test_keepalive_is_ignored() -> None:
    assert answers([text('{"type":"KeepAlive"}')]) == []


def test_close_stream_finishes_and_later_parts_are_not_read() -> None:
    caller = Caller()
    caller.start(BidiDemo().serve_bidi(caller.invocation))
    caller.send(audio(bytes(16000)).data, "BINARY")
    caller.send('{"type": "CloseStream"}')
    outputs = [_decoded(output) for output in caller.rest()]  # ends with the input still open
    assert outputs == [result(0.0, 0.5, "[silence]"), metadata(0.5)]
    caller.send("never read")
    assert not caller.wait_taken(3, timeout=0.2)  # 2 taken before; nothing after CloseStream


# --- the backend: full duplex and pacing ---------------------------------------------------------


def test_a_result_arrives_as_soon_as_its_second_is_received() -> None:
    caller = Caller()
    caller.start(BidiDemo().serve_bidi(caller.invocation))
    caller.send(bytes(32000), "BINARY")
    assert _decoded(caller.next()) == result(0.0, 1.0, "[silence]")  # the input is still open
    caller.send("bye")
    assert caller.next() == text("bye", "COMPLETE")
    caller.end()
    assert [_decoded(output) for output in caller.rest()] == [metadata(1.0)]


def test_pacing_spaces_the_words_but_never_delays_reading() -> None:
    interval = 0.05
    caller = Caller()
    caller.start(BidiDemo(tokens_per_second=1 / interval).serve_bidi(caller.invocation))
    words = " ".join(f"w{i}" for i in range(40))  # 40 words: 2 s of pacing
    caller.send(words)
    first = caller.next()
    started = time.monotonic()
    caller.send("next")
    assert caller.wait_taken(2, timeout=1.0)  # read long before the 40 words are out
    caller.end()
    rest = caller.rest()
    elapsed = time.monotonic() - started
    assert (
        b"".join(p.data for p in [first, *rest] if isinstance(p, BidiPayloadPart))
        == (words + "next").encode()
    )
    assert elapsed >= 39 * interval * 0.99  # time.sleep never returns early


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="tokens_per_second"):
        BidiDemo(tokens_per_second=math.nan)
    with pytest.raises(ValueError, match="sample_rate"):
        BidiDemo(sample_rate=0)
    assert repr(BidiDemo(20)) == "BidiDemo(tokens_per_second=20, sample_rate=16000, channels=1)"

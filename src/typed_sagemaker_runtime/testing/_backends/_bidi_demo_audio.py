"""The bidirectional demo's audio side, sans-I/O: 16-bit PCM in, one result per second out.

Bytes arrive in pieces of any size. If they start with a RIFF/WAVE header, it is read
(its ``fmt `` chunk gives the channels and rate; the ``data`` chunk's size, when the writer
knew it, bounds the audio); otherwise the bytes are raw 16-bit little-endian PCM at the
rate and channel count given. Each full second of audio gives one result shaped like
Deepgram's live ``Results`` message, whose transcript describes the second's loudness; the
remainder is given on :meth:`AudioTranscriber.flush`. The results depend on the bytes
only, never on how they were split.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from typing import Any

__all__ = ["AudioTranscriber", "UnsupportedAudioError", "loudness_label"]

_RIFF = b"RIFF"
_HEADER = 12  # "RIFF", size, "WAVE"
_PCM = 1
_EXTENSIBLE = 0xFFFE
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what streaming writers put in the data chunk's size
_FULL_SCALE = 32768.0


class UnsupportedAudioError(ValueError):
    """The audio is not what the demo reads (16-bit PCM)."""


def loudness_label(dbfs: float) -> str:
    """The transcript of one stretch of audio at ``dbfs``: ``[silence]``, ``[speech, -18 dBFS]``."""
    if dbfs < -60:
        return "[silence]"
    kind = "noise" if dbfs < -35 else "speech" if dbfs < -6 else "loud"
    return f"[{kind}, {round(dbfs)} dBFS]"


def _dbfs(samples: array[int]) -> float:
    if not samples:
        return -math.inf
    if sys.byteorder == "big":
        samples.byteswap()
    power = sum(sample * sample for sample in samples) / len(samples)
    return 10 * math.log10(power / (_FULL_SCALE * _FULL_SCALE)) if power else -math.inf


class AudioTranscriber:
    """Turns a stream of audio bytes into per-second results; see the module docstring."""

    def __init__(self, sample_rate: int = 16000, channels: int = 1) -> None:
        """Read raw bytes as 16-bit PCM at ``sample_rate`` Hz with ``channels`` channels."""
        self.sample_rate = sample_rate
        """Frames per second (from the WAV header when there is one)."""
        self.channels = channels
        """Interleaved channels (from the WAV header when there is one)."""
        self._head = bytearray()  # bytes before the audio: a header, or not yet known
        self._in_header = True
        self._audio = bytearray()  # audio not yet in a result
        self._audio_left: int | None = None  # the data chunk's remaining size, when known
        self._frames_done = 0  # frames already in results

    @property
    def seconds(self) -> float:
        """Audio duration in results so far."""
        return self._frames_done / self.sample_rate

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Take the next bytes; the results of every second they complete."""
        if self._in_header:
            self._head += data
            if not self._read_header(final=False):
                return []
            data, self._head = bytes(self._head), bytearray()
        if self._audio_left is not None:
            data = data[: self._audio_left]
            self._audio_left -= len(data)
        self._audio += data
        results: list[dict[str, Any]] = []
        second = self.sample_rate * self.channels * 2
        while len(self._audio) >= second:
            results.append(self._result(second))
        return results

    def flush(self) -> list[dict[str, Any]]:
        """The result of the audio not yet in one (a partial second), if any."""
        if self._in_header:
            self._read_header(final=True)
            data, self._head = bytes(self._head), bytearray()
            if data:
                return self.feed(data) + self.flush()
        whole = len(self._audio) - len(self._audio) % (self.channels * 2)
        result = [self._result(whole)] if whole else []
        self._audio.clear()  # an incomplete last frame is dropped
        return result

    def _result(self, size: int) -> dict[str, Any]:
        samples = array("h", self._audio[:size])
        del self._audio[:size]
        frames = size // (self.channels * 2)
        start = self._frames_done / self.sample_rate
        self._frames_done += frames
        return {
            "type": "Results",
            "start": round(start, 3),
            "duration": round(frames / self.sample_rate, 3),
            "is_final": True,
            "channel": {
                "alternatives": [{"transcript": loudness_label(_dbfs(samples)), "confidence": 1.0}]
            },
        }

    def _read_header(self, *, final: bool) -> bool:
        """Consume a WAV header from ``_head`` if there is one; ``True`` once the audio starts.

        Leaves the audio's first bytes in ``_head``. With ``final`` (no more bytes will come)
        a header cut short is dropped: there is no audio.
        """
        head = self._head
        magic, form = bytes(head[:4]), bytes(head[8:12])
        if magic != _RIFF[: len(head)] or (len(head) >= _HEADER and form != b"WAVE"):
            self._in_header = False  # raw PCM
            return True
        offset, fmt_seen = _HEADER, False
        while len(head) >= offset + 8:
            chunk_id = bytes(head[offset : offset + 4])
            (size,) = struct.unpack_from("<I", head, offset + 4)
            if chunk_id == b"data":
                if not fmt_seen:
                    raise UnsupportedAudioError("the WAV data chunk comes before its fmt chunk")
                self._audio_left = None if size in _UNKNOWN_SIZES else size
                del head[: offset + 8]
                self._in_header = False
                return True
            end = offset + 8 + size + size % 2
            if len(head) < end:
                break
            if chunk_id == b"fmt ":
                self._read_format(bytes(head[offset + 8 : offset + 8 + size]))
                fmt_seen = True
            offset = end
        if final:
            head.clear()
            self._in_header = False
            return True
        return False

    def _read_format(self, chunk: bytes) -> None:
        if len(chunk) < 16:
            raise UnsupportedAudioError("the WAV fmt chunk is shorter than 16 bytes")
        tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", chunk)
        if len(chunk) >= 26 and tag == _EXTENSIBLE:
            (tag,) = struct.unpack_from("<H", chunk, 24)  # the sub-format GUID's first bytes
        if tag != _PCM or bits != 16 or channels < 1 or rate < 1:
            raise UnsupportedAudioError(
                f"the demo reads 16-bit PCM WAV, not format {tag} with {bits}-bit samples, "
                f"{channels} channel(s) at {rate} Hz"
            )
        self.sample_rate, self.channels = rate, channels

"""``BidiDemo``: a deterministic bidirectional-stream model, live captions and a mock transcriber.

The class is the backend: it reads the request's parts on a thread of its own, turns them into
answers with a sans-I/O :class:`DemoSession` (the audio side is ``_bidi_demo_audio``), and
yields the answers, pacing the caption tokens without ever delaying the reading.
"""

from __future__ import annotations

import json
import math
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, cast

from ..._core._bidi_events import BidiPayloadPart
from ..._core._events import ModelStreamError
from .._bidi_model import BidiInvocation, BidiOutput
from ._bidi_demo_audio import AudioTranscriber, UnsupportedAudioError

__all__ = ["BidiDemo", "DemoSession", "Emission", "caption_tokens"]

_WORD = re.compile(r"\s*\S+")


class Emission(NamedTuple):
    """One answer of the demo, and whether it is a caption token (paced)."""

    output: BidiOutput
    paced: bool = False


def caption_tokens(text: str) -> list[str]:
    """``text`` cut into words, each with the whitespace before it; joined they give ``text``."""
    tokens = _WORD.findall(text)
    trailing = text[len("".join(tokens)) :]
    if not tokens:
        return [trailing]
    tokens[-1] += trailing
    return tokens


def _utf8(text: str, state: str = "COMPLETE") -> BidiPayloadPart:
    return BidiPayloadPart(text.encode("utf-8"), "UTF8", state)


class DemoSession:
    """One stream's demo logic, sans-I/O: parts in (:meth:`feed`, :meth:`end`), answers out."""

    def __init__(self, sample_rate: int = 16000, channels: int = 1) -> None:
        """Read headerless audio as 16-bit PCM at ``sample_rate`` Hz with ``channels``."""
        self._audio = AudioTranscriber(sample_rate, channels)
        self._heard_audio = False
        self._text = bytearray()  # a UTF8 message's PARTIAL pieces so far
        self.finished = False
        """Whether the stream's answer is over (``CloseStream``, an error, or the input's end)."""

    def feed(self, part: BidiPayloadPart) -> list[Emission]:
        """The answers to one request part."""
        if self.finished:
            return []
        if part.data_type != "UTF8":
            self._heard_audio = True
            return self._guarded(lambda: self._audio.feed(part.data))
        self._text += part.data
        if part.completion_state == "PARTIAL":
            return []
        message = self._text.decode("utf-8", "replace")
        self._text.clear()
        return self._message(message)

    def end(self) -> list[Emission]:
        """The last answers once the input has ended: a pending message, the audio's rest."""
        if self.finished:
            return []
        emissions = self._message(self._text.decode("utf-8", "replace")) if self._text else []
        return emissions + self._close()

    def _message(self, message: str) -> list[Emission]:
        control = _control_type(message)
        if control == "CloseStream":
            return self._close()
        if control == "Finalize":
            return self._guarded(self._audio.flush)
        if control == "KeepAlive":
            return []
        tokens = caption_tokens(message)
        states = ["PARTIAL"] * (len(tokens) - 1) + ["COMPLETE"]
        return [
            Emission(_utf8(token, state), paced=True)
            for token, state in zip(tokens, states, strict=True)
        ]

    def _close(self) -> list[Emission]:
        emissions = self._guarded(self._audio.flush)
        if self._heard_audio and not self.finished:
            metadata = {
                "type": "Metadata",
                "duration": round(self._audio.seconds, 3),
                "channels": self._audio.channels,
                "sample_rate": self._audio.sample_rate,
            }
            emissions.append(Emission(_utf8(json.dumps(metadata))))
        self.finished = True
        return emissions

    def _guarded(self, results: Any) -> list[Emission]:
        """Run an audio step; its results as JSON messages, or the stream's error event."""
        try:
            produced: list[dict[str, Any]] = results()
        except UnsupportedAudioError as exc:
            self.finished = True
            return [Emission(ModelStreamError(str(exc), "UnsupportedAudio"))]
        return [Emission(_utf8(json.dumps(result))) for result in produced]


def _control_type(message: str) -> str | None:
    """The ``type`` of a Deepgram control message (``{"type": "CloseStream"}``), else None."""
    if not message.lstrip().startswith("{"):
        return None
    try:
        document: object = json.loads(message)
    except ValueError:
        return None
    if isinstance(document, dict):
        kind = cast("dict[str, object]", document).get("type")
        if kind in ("CloseStream", "Finalize", "KeepAlive"):
            return str(kind)
    return None


class BidiDemo:
    """A built-in demo backend for bidirectional streams: deterministic, no model needed.

    ::

        local.add_endpoint("captions", bidi=BidiDemo(tokens_per_second=20))

    * A UTF8 message (PARTIAL parts are joined up to the COMPLETE one) comes back as live
      captions: word by word, each word (with the whitespace before it) a PARTIAL UTF8 part,
      the last one COMPLETE, so joining them gives the message back. Words come at
      ``tokens_per_second`` (``None`` or 0: as fast as possible); the pacing never delays
      reading what the caller sends next.
    * BINARY parts (or parts with no ``DataType``) are audio, 16-bit PCM: a WAV file's bytes
      (its RIFF header gives the rate and channels; any rate, mono or stereo) or headerless
      PCM at ``sample_rate`` Hz with ``channels`` (16 kHz mono by default). Each second of
      audio received gives one UTF8 JSON message shaped like Deepgram's live results::

          {"type": "Results", "start": 1.0, "duration": 1.0, "is_final": true,
           "channel": {"alternatives": [{"transcript": "[speech, -18 dBFS]", "confidence": 1.0}]}}

      The transcript describes the second's loudness: ``[silence]`` below -60 dBFS, then
      ``[noise, N dBFS]``, ``[speech, N dBFS]`` and, from -6 dBFS, ``[loud, N dBFS]``.
      Other audio formats end the stream with a ``ModelStreamError`` coded
      ``UnsupportedAudio``.
    * Deepgram's control messages: ``{"type": "Finalize"}`` gives the result of the partial
      second at once; ``{"type": "KeepAlive"}`` is ignored; ``{"type": "CloseStream"}``
      finishes the answer, as the end of the input does: the partial second's result, then
      ``{"type": "Metadata", "duration": ..., "channels": ..., "sample_rate": ...}`` when
      audio was received, then the end of the stream (later parts are not read).

    The answers depend only on the bytes received, never on how they were split into parts.
    """

    def __init__(
        self,
        tokens_per_second: float | None = None,
        *,
        sample_rate: int = 16000,
        channels: int = 1,
    ) -> None:
        """Set the caption pace and the format of headerless audio."""
        if tokens_per_second is not None and not (
            tokens_per_second == 0 or 1e-6 <= tokens_per_second < math.inf
        ):
            raise ValueError(
                "tokens_per_second must be None, 0 (unpaced) or a finite number >= 1e-06, "
                f"not {tokens_per_second}"
            )
        for label, value in (("sample_rate", sample_rate), ("channels", channels)):
            if isinstance(value, bool) or value != int(value) or value < 1:
                raise ValueError(f"{label} must be a positive int, not {value!r}")
        self._interval = 1.0 / tokens_per_second if tokens_per_second else 0.0
        self._sample_rate = sample_rate
        self._channels = channels

    def __repr__(self) -> str:
        pace = f"tokens_per_second={1 / self._interval:g}" if self._interval else "unpaced"
        return f"BidiDemo({pace}, sample_rate={self._sample_rate}, channels={self._channels})"

    def serve_bidi(self, invocation: BidiInvocation) -> Iterator[BidiOutput]:
        """Answer one stream as the class docstring says, reading and answering at once."""
        session = DemoSession(self._sample_rate, self._channels)
        return _serve(session, invocation.parts, self._interval)


_DONE = object()


def _serve(
    session: DemoSession, parts: Iterable[BidiPayloadPart], interval: float
) -> Iterator[BidiOutput]:
    """Read ``parts`` on a thread into ``session``; yield its answers, pacing caption tokens."""
    outbox: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            for part in parts:
                for emission in session.feed(part):
                    outbox.put(emission)
                if session.finished or stop.is_set():
                    return
            for emission in session.end():
                outbox.put(emission)
        except BaseException as exc:  # handed to the answering side, which raises it
            outbox.put(exc)
        finally:
            outbox.put(_DONE)

    threading.Thread(target=read, name="bidi-demo-reader", daemon=True).start()
    next_due = 0.0
    try:
        while (item := outbox.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Emission)
            if item.paced and interval:
                now = time.monotonic()
                if next_due > now:
                    time.sleep(next_due - now)
                next_due = max(now, next_due) + interval
            yield item.output
    finally:
        stop.set()

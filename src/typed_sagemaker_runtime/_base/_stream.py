"""The sans-I/O core of a response stream, shared by the sync and the asyncio stream.

:class:`EventStreamCore` turns body bytes into typed events and holds the rules around
them: how much, and for how long, the body is drained after an error event so the
connection can be reused; whether the body was as long as its ``Content-Length`` said;
and what a ``StreamError`` raised while reading carries. :class:`PayloadFeed` drives a payload
decoder (text, lines, SSE, tokens) from events, raising error events. The streams only
read bytes and release connections.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from .._core._bidi_events import BidiPayloadPart
from .._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from .._core._eventstream import EventDecoder
from .._core._exceptions import (
    InternalStreamFailureError,
    ModelStreamInterruptedError,
    StreamConsumedError,
    StreamDecodeError,
    StreamError,
)
from .._core._llm_types import Generation, GenerationChunk
from .._core._types import StreamMetadata
from .._telemetry._call_record import OFF, CallRecord

if TYPE_CHECKING:
    from .._decoders._generation import GenerationBuilder

__all__ = [
    "OPERATION",
    "READ_SIZE",
    "MAX_DRAIN",
    "ERROR_GRACE",
    "KEPT_TEXT_LIMIT",
    "PayloadDecoder",
    "EventStreamCore",
    "PayloadFeed",
    "RawPayloads",
    "StreamState",
    "consumed_error",
    "generation_consumed_error",
    "declared_length",
    "raise_for_event",
]

OPERATION = "InvokeEndpointWithResponseStream"
READ_SIZE = 64 * 1024
"""Bytes asked of the socket per read."""
MAX_DRAIN = 64 * 1024
"""After an error event the body is read on to its end so the connection can be reused,
but never more than this: anything longer is not a well-formed ending."""
ERROR_GRACE = 0.2
"""Seconds the end of the body may take to arrive after an error event. The error is
raised (and the event loop ends) once the end arrives or this grace is over; only a body
that ended within it leaves a reusable connection, any other is closed."""

KEPT_TEXT_LIMIT = 16 * 1024 * 1024
"""Characters of text a ``chunks()`` pass keeps for ``generation()``. Past it the pass
keeps nothing (decoding memory stays bounded by a record, as the design promises), and
``generation()`` says so; LLM answers are far shorter."""

_T = TypeVar("_T")


class PayloadDecoder(Protocol[_T]):
    """A sans-I/O decoder of payload bytes: the shape shared by every decoder."""

    def feed(self, data: bytes, /) -> list[_T]:
        """Add payload bytes; return what is complete."""
        ...

    def flush(self) -> list[_T]:
        """End of stream; return the rest."""
        ...


def consumed_error() -> StreamConsumedError:
    """The error for a second pass over a stream, or a pass over a closed one."""
    return StreamConsumedError(
        "a response stream can be consumed once; it was already iterated or closed"
    )


def generation_consumed_error() -> StreamConsumedError:
    """The error for ``generation()`` on a stream another pass read (or a closed one)."""
    return StreamConsumedError(
        "generation() reads the whole stream, which was already read or closed; to show "
        "the text as it arrives and still get the Generation, iterate chunks() to its end, "
        "then call generation()"
    )


def raise_for_event(
    event: StreamEvent | BidiPayloadPart, request_id: str | None, operation: str = OPERATION
) -> None:
    """Raise the exception for an error event; return for a part."""
    if isinstance(event, ModelStreamError):
        raise ModelStreamInterruptedError(
            f"the model stream failed: {event.error_code or 'ModelStreamError'}: "
            f"{event.message or 'no message'}",
            event=event,
            request_id=request_id,
            operation=operation,
        )
    if isinstance(event, InternalStreamFailure):
        raise InternalStreamFailureError(
            f"SageMaker failed while streaming: {event.message or 'no message'}",
            event=event,
            request_id=request_id,
            operation=operation,
        )


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The body length a response declared (``Content-Length``), when it is binding.

    ``None`` for a chunked or content-encoded body (its length on the wire is not the
    length read) or a missing or invalid header. ``headers`` are lower-cased.
    """
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return None
    if headers.get("content-encoding", "identity").lower() != "identity":
        return None
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


class StreamState:
    """What both streams keep and show about one response: its metadata and whether it is done.

    The subclasses read the body and release the connection; garbage collection of a
    stream whose connection is still held closes it.
    """

    _kept_text_limit = KEPT_TEXT_LIMIT

    def __init__(
        self,
        metadata: StreamMetadata,
        read_timeout: float | None,
        requested_at: float | None = None,
        telemetry: CallRecord = OFF,
    ) -> None:
        self._metadata = metadata
        self._read_timeout = read_timeout
        # ``time.monotonic()`` when the request was made: what a generation's times count from.
        self._requested_at = time.monotonic() if requested_at is None else requested_at
        self._telemetry = telemetry
        self._started = False
        self._closed = False
        self._connection_done = False
        # What a ``chunks()`` pass read to its end accumulated: ``generation()`` returns it.
        self._generation: Generation | None = None
        self._generation_dropped = False  # the pass yielded more than KEPT_TEXT_LIMIT

    @property
    def metadata(self) -> StreamMetadata:
        """Content type, production variant, custom attributes and response metadata."""
        return self._metadata

    @property
    def request_id(self) -> str | None:
        """The ``x-amzn-RequestId`` of the call."""
        return self._metadata["response_metadata"]["request_id"]

    @property
    def closed(self) -> bool:
        """Whether the stream was closed or read to its end."""
        return self._closed or self._connection_done

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} request_id={self.request_id!r} {state}>"

    def __del__(self) -> None:
        if not getattr(self, "_connection_done", True):
            self._release_connection(reuse=False)

    def _check_generation_unread(self) -> None:
        """Raise ``StreamConsumedError`` when ``generation()`` can no longer read the stream."""
        if self._started or self._closed:
            raise self._generation_error()

    def _generation_result(self) -> Generation:
        """The generation a ``chunks()`` pass accumulated; raise if none ended."""
        if self._generation is None:
            raise self._generation_error()
        return self._generation

    def _generation_error(self) -> StreamConsumedError:
        if self._generation_dropped:
            return StreamConsumedError(
                f"generation() after chunks(): the pass yielded more than "
                f"{self._kept_text_limit} characters of text and tool calls, more than it "
                "keeps; join the chunks yourself, or read the stream with generation() alone"
            )
        return generation_consumed_error()

    def _kept(
        self, builder: GenerationBuilder | None, chunk: GenerationChunk, limit: int | None
    ) -> bool:
        """Add ``chunk`` to a pass's ``builder``; ``False`` once the pass keeps nothing more.

        ``limit``: characters of text and tool calls the pass keeps (``None``: all, for
        ``generation()``).
        """
        if builder is None:
            return False
        if not builder.add(chunk, limit):
            self._generation_dropped = True
            return False
        return True

    def _keep_generation(self, builder: GenerationBuilder | None) -> None:
        """A ``chunks()`` pass ended: keep what it accumulated (the first pass's only).

        Not when :meth:`close` ended it: the pass then stops quietly, its text cut short.
        """
        if builder is not None and self._generation is None and not self._closed:
            self._generation = builder.build()

    def _new_core(self) -> EventStreamCore:
        """The decoding state of one pass over this response's body."""
        headers = self._metadata["response_metadata"]["http_headers"]
        telemetry = self._telemetry
        observer = telemetry if telemetry.recording else None
        return EventStreamCore(self.request_id, declared_length(headers), observer)

    def _release_connection(self, *, reuse: bool) -> None:
        """Close the connection, or hand it back to the pool when ``reuse``. Idempotent.

        The one place a stream ends: it also ends the call's telemetry record.
        """
        raise NotImplementedError


class EventStreamCore:
    """Body bytes in, typed events out; the state of one pass over a stream.

    ``feed`` returns events in order; the first event that is not a ``PayloadPart``
    ends the stream: the reader yields it at once, then drains the rest for at most
    :data:`ERROR_GRACE` seconds (:meth:`drained` says how much it may read), and stops.
    ``finish`` at the end of the body raises ``StreamDecodeError`` when a frame was cut
    or the body is shorter than its ``Content-Length``. ``observer`` (the call's telemetry
    record) sees every event as it is decoded, and every failure.
    """

    __slots__ = ("_decoder", "_drained", "_expected", "_observer", "_received", "request_id")

    def __init__(
        self,
        request_id: str | None,
        expected_length: int | None = None,
        observer: CallRecord | None = None,
    ) -> None:
        self.request_id = request_id
        self._decoder = EventDecoder()
        self._drained = 0
        self._expected = expected_length
        self._received = 0
        self._observer = observer

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode body bytes; return the events now complete."""
        self._received += len(chunk)
        events = self._decoder.feed(chunk)
        if self._observer is not None and events:
            self._observer.events(events)
        return events

    def finish(self) -> None:
        """The body ended; raise ``StreamDecodeError`` if it ended early or inside a frame."""
        if not self.complete():
            raise StreamDecodeError(
                f"the stream ended after {self._received} of the {self._expected} bytes its "
                "Content-Length declared (truncated response)",
                request_id=self.request_id,
                operation=OPERATION,
            )
        self._decoder.finish()

    def complete(self) -> bool:
        """Whether the body read so far is as long as its ``Content-Length`` (if any)."""
        return self._expected is None or self._received >= self._expected

    def drained(self, size: int) -> bool:
        """Count ``size`` bytes read after an error event; ``False`` once over the limit."""
        self._received += size
        self._drained += size
        return self._drained <= MAX_DRAIN

    def annotate(self, exc: StreamError) -> StreamError:
        """Give a stream error the request id and operation it lacks."""
        exc.request_id = exc.request_id or self.request_id
        exc.operation = exc.operation or OPERATION
        return exc

    def fail(self, exc: Exception) -> None:
        """Reading the body failed with ``exc``: annotate it (a stream error), tell the observer."""
        if isinstance(exc, StreamError):
            self.annotate(exc)
        if self._observer is not None:
            self._observer.failed(exc)


class PayloadFeed(Generic[_T]):
    """Drive a payload decoder from stream events; error events raise.

    ``event`` returns what the decoder completed with a ``PayloadPart``'s bytes and raises
    the ``StreamError`` of an error event; ``end`` flushes the decoder. Every
    ``StreamError`` raised carries the stream's request id.
    """

    __slots__ = ("_core", "_decoder")

    def __init__(self, decoder: PayloadDecoder[_T], request_id: str | None) -> None:
        self._decoder = decoder
        self._core = EventStreamCore(request_id)

    def event(self, event: StreamEvent) -> list[_T]:
        """Decode one event's payload, or raise for an error event."""
        try:
            if type(event) is PayloadPart:
                return self._decoder.feed(event.data)
            raise_for_event(event, self._core.request_id)
        except StreamError as exc:
            self._core.annotate(exc)
            raise
        raise AssertionError("unreachable: raise_for_event raises for every error event")

    def end(self) -> list[_T]:
        """The stream ended: what the decoder still held."""
        try:
            return self._decoder.flush()
        except StreamError as exc:
            self._core.annotate(exc)
            raise

    def annotate(self, exc: StreamError) -> StreamError:
        """Give a stream error raised by the events themselves the request id."""
        return self._core.annotate(exc)


class RawPayloads:
    """The identity payload decoder: each ``PayloadPart``'s bytes as they are."""

    __slots__ = ()

    def feed(self, data: bytes, /) -> list[bytes]:
        """Return ``[data]``."""
        return [data]

    def flush(self) -> list[bytes]:
        """Nothing is held back."""
        return []

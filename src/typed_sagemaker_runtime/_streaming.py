"""``ResponseStream``: the typed, self-closing result of ``SageMakerRuntime.stream``."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Generator, Iterator
from typing import Any, Protocol, TypeVar

from ._chunks import chunk_decoder, generation_of
from ._decoders import (
    LineDecoder,
    ServerSentEvent,
    SSEDecoder,
    TokenFormat,
    Utf8Decoder,
    token_decoder,
)
from ._errors import map_stream_exception
from ._events import PayloadPart, StreamEvent
from ._exceptions import SageMakerRuntimeError, StreamError
from ._llm_types import Generation, GenerationChunk
from ._stream_core import (
    OPERATION as _OPERATION,
    READ_SIZE as _READ_SIZE,
    EventStreamCore,
    PayloadDecoder,
    PayloadFeed,
    StreamState,
    consumed_error,
    raise_for_event,
)
from ._types import StreamMetadata

__all__ = ["ResponseStream"]

_T = TypeVar("_T")


class _RawResponse(Protocol):
    """The part of urllib3's ``HTTPResponse`` a stream uses."""

    def stream(self, amt: int | None = ..., decode_content: bool | None = ...) -> Iterator[bytes]:
        """Yield the body as it arrives, one HTTP chunk at a time."""
        ...

    def close(self) -> None:
        """Close the response and its socket."""
        ...

    def release_conn(self) -> None:
        """Hand the connection back to its pool."""
        ...


class ResponseStream(StreamState):
    """The events of an InvokeEndpointWithResponseStream response.

    Use it as a context manager. Iterating yields :data:`StreamEvent` values; a
    ``ModelStreamError`` or ``InternalStreamFailure`` is always the last event.
    The helpers (:meth:`payloads`, :meth:`read`) raise instead of yielding error events.
    The stream is single-pass.

    The HTTP connection is handed back to the pool when the stream is read to its end
    (also when it ended with an error event) and closed at once when the stream is
    abandoned: ``close()``, leaving the ``with`` block, breaking out of the loop, an
    exception, or garbage collection.
    """

    def __init__(
        self,
        raw: _RawResponse,
        metadata: StreamMetadata,
        *,
        read_timeout: float | None = None,
    ) -> None:
        super().__init__(metadata, read_timeout)
        self._raw = raw
        self._iterator: weakref.ReferenceType[Generator[StreamEvent, None, None]] | None = None

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        iterator = self._iterator() if self._iterator is not None else None
        if iterator is not None:
            with contextlib.suppress(ValueError):  # it is running in another thread
                iterator.close()
        self._release_connection(reuse=False)

    def __iter__(self) -> Iterator[StreamEvent]:
        if self._started or self._closed:
            raise consumed_error()
        self._started = True
        events = self._events()
        # Not kept alive by the stream: a loop that breaks drops the last reference
        # and the generator's ``finally`` closes the connection at once.
        self._iterator = weakref.ref(events)
        return events

    def payloads(self) -> Iterator[bytes]:
        """Yield the bytes of each ``PayloadPart``; raise a ``StreamError`` on an error event."""
        request_id = self.request_id
        events = iter(self)
        for event in events:
            if type(event) is PayloadPart:
                yield event.data
            else:
                _finish(events)
                raise_for_event(event, request_id)

    def read(self) -> bytes:
        """Read the whole payload; raise a ``StreamError`` on an error event."""
        return b"".join(self.payloads())

    def text(self) -> Iterator[str]:
        """Yield the payload as text, decoding UTF-8 incrementally.

        A character split across parts comes out whole; invalid UTF-8 raises
        ``StreamDecodeError``.
        """
        return self.decode(Utf8Decoder())

    def lines(self) -> Iterator[str]:
        """Yield the payload's lines, split on ``\\n``, ``\\r\\n`` and ``\\r`` only.

        Lines are split at byte level (also when ``\\r`` and ``\\n`` arrive in different
        parts) and decoded whole. Empty lines are yielded; a last line without a newline
        is yielded at the end of the stream. U+2028 and other Unicode breaks never split.
        """
        return self.decode(LineDecoder())

    def sse(self) -> Iterator[ServerSentEvent]:
        """Yield the payload's server-sent events (``data:`` joined, comments skipped)."""
        return self.decode(SSEDecoder())

    def tokens(self, format: TokenFormat = "auto") -> Iterator[str]:
        """Yield the generated text of an LLM server as it arrives.

        ``format`` is ``"tgi"``, ``"openai"``, ``"lmi"``, ``"json"``, ``"text"`` or
        ``"auto"`` (chosen from the content type and the first record). Special tokens,
        keep-alives, ``[DONE]`` and usage-only chunks are skipped; an error record from
        the server raises ``GenerationError`` after the text that came before it.
        """
        return self.decode(token_decoder(format, self._metadata["content_type"]))

    def decode(self, decoder: PayloadDecoder[_T]) -> Iterator[_T]:
        """Drive any sans-I/O ``decoder`` (``feed``/``flush``) over the payload."""
        feed = PayloadFeed(decoder, self.request_id)
        events = iter(self)
        for event in events:
            if type(event) is not PayloadPart:
                _finish(events)
            yield from feed.event(event)
        yield from feed.end()

    def chunks(self, format: TokenFormat = "auto") -> Iterator[GenerationChunk]:
        """Yield what each record of an LLM stream carries: text, finish reason, usage, tool calls.

        The formats, detection and errors of :meth:`tokens`, whose text the chunks' text
        joined equals; records that carry nothing (keep-alives, ``[DONE]``, special
        tokens without details) yield nothing.
        """
        return self.decode(chunk_decoder(format, self._metadata["content_type"]))

    def generation(self, format: TokenFormat = "auto") -> Generation:
        """Read the stream to its end and accumulate its :meth:`chunks` into a ``Generation``.

        Times are measured from this call (the response has already started).
        """
        return generation_of(self.chunks(format))

    # --- internals ------------------------------------------------------------------

    def _events(self) -> Generator[StreamEvent, None, None]:
        core = EventStreamCore(self.request_id)
        chunks = self._chunks()
        try:
            for chunk in chunks:
                for event in core.feed(chunk):
                    if type(event) is PayloadPart:
                        yield event
                        continue
                    yield event  # the last event, at once
                    # Resumed (the loop went on): read the end of the body so the
                    # connection can be reused. A loop that stops here closes it.
                    self._drain(chunks, core)
                    return
            core.finish()
            self._release_connection(reuse=True)
        except StreamError as exc:
            core.annotate(exc)
            raise
        finally:
            chunks.close()
            if not self._connection_done:
                self._release_connection(reuse=False)

    def _chunks(self) -> Generator[bytes, None, None]:
        try:
            yield from self._raw.stream(_READ_SIZE, decode_content=False)
        except SageMakerRuntimeError:
            raise
        except Exception as exc:
            if self._closed:  # close() from another thread while this one was reading
                raise StreamError(
                    "the stream was closed while it was being read",
                    request_id=self.request_id,
                    operation=_OPERATION,
                ) from exc
            mapped = map_stream_exception(
                exc, operation=_OPERATION, read_timeout=self._read_timeout
            )
            if mapped is None:
                raise
            mapped.request_id = self.request_id
            raise mapped from exc

    def _drain(self, chunks: Iterator[bytes], core: EventStreamCore) -> None:
        """Read the rest of the body after an error event, so the connection is reusable."""
        try:
            for chunk in chunks:
                if not core.drained(len(chunk)):
                    self._release_connection(reuse=False)
                    return
        except SageMakerRuntimeError:
            self._release_connection(reuse=False)
            return
        self._release_connection(reuse=True)

    def _release_connection(self, *, reuse: bool) -> None:
        if self._connection_done:
            return
        self._connection_done = True
        raw: Any = self._raw
        try:
            if not reuse:
                raw.close()
        finally:
            # A closed connection goes back too: the pool reconnects it on next use.
            raw.release_conn()


def _finish(events: Iterator[StreamEvent]) -> None:
    """Run the events past an error event (the last one) so the connection is reused."""
    for _ in events:
        pass

"""``AsyncResponseStream``: the asyncio twin of :class:`ResponseStream`.

Only the I/O is here: reading body chunks from aiohttp and releasing the connection.
Frame decoding, the drain rule after error events, error events becoming exceptions and
every payload decoder are the sans-I/O objects the sync stream uses
(``_base._stream``, ``_core._eventstream``, ``_decoders``).

The iterators are plain classes with ``__anext__``, not async generators: an abandoned
iterator then closes its connection the moment it is dropped (``break``), instead of
whenever the event loop gets round to finalising an async generator.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import weakref
from collections.abc import AsyncIterator
from typing import Any, Generic, Protocol, TypeVar

from typing_extensions import Self

from .._base._stream import (
    ERROR_GRACE,
    OPERATION,
    EventStreamCore,
    PayloadDecoder,
    PayloadFeed,
    RawPayloads,
    StreamState,
    consumed_error,
)
from .._core._events import PayloadPart, StreamEvent
from .._core._exceptions import SageMakerRuntimeError, StreamError
from .._core._llm_types import Generation, GenerationChunk
from .._core._public import public
from .._core._types import StreamMetadata
from .._decoders._auto import (
    LineDecoder,
    ServerSentEvent,
    SSEDecoder,
    TokenFormat,
    Utf8Decoder,
    token_decoder,
)
from .._decoders._chunks import chunk_decoder
from .._decoders._generation import GenerationBuilder
from .._telemetry._call_record import OFF, CallRecord
from ._errors import map_aio_stream_exception

__all__ = ["AsyncResponseStream"]

_T = TypeVar("_T")


class _AioContent(Protocol):
    """The part of aiohttp's ``StreamReader`` a stream uses."""

    async def readchunk(self) -> tuple[bytes, bool]:
        """The next bytes, up to the end of an HTTP chunk; ``(b"", False)`` at the end."""
        ...


class _AioResponse(Protocol):
    """The part of aiohttp's ``ClientResponse`` a stream uses."""

    @property
    def content(self) -> _AioContent:
        """The body."""
        ...

    def close(self) -> None:
        """Close the connection at once."""
        ...

    def release(self) -> object:
        """Hand the connection back to the pool (closed if the body was not read)."""
        ...


@public
class AsyncResponseStream(StreamState):
    """The events of an InvokeEndpointWithResponseStream response, for asyncio.

    Use it with ``async with``; ``async for`` yields :data:`StreamEvent` values, a
    ``ModelStreamError`` or ``InternalStreamFailure`` always last. The helpers
    (:meth:`payloads`, :meth:`text`, :meth:`lines`, :meth:`sse`, :meth:`tokens`,
    :meth:`decode`) are async iterators that raise instead of yielding error events;
    :meth:`read` is a coroutine. The stream is single-pass.

    The connection goes back to aiohttp's pool when the stream is read to its end (also
    when it ended with an error event) and is closed at once when the stream is
    abandoned: :meth:`aclose`, leaving ``async with``, breaking out of ``async for``, an
    exception, cancellation of the task reading it, or garbage collection.
    """

    def __init__(
        self,
        raw: _AioResponse,
        metadata: StreamMetadata,
        *,
        read_timeout: float | None = None,
        requested_at: float | None = None,
        telemetry: CallRecord = OFF,
    ) -> None:
        super().__init__(metadata, read_timeout, requested_at, telemetry)
        self._raw = raw
        self._iterator: weakref.ReferenceType[_Events] | None = None
        self._failure: Exception | None = None
        self._first_read = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and close the connection (unless it was read to its end). Idempotent."""
        self._closed = True
        iterator = self._iterator() if self._iterator is not None else None
        if iterator is not None:
            iterator.stop()
        self._release_connection(reuse=False)

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._start()

    def _start(self) -> _Events:
        """The one pass over the events."""
        if self._started or self._closed:
            raise consumed_error()
        self._started = True
        events = _Events(self)
        # Not kept alive by the stream: a loop that breaks drops the last reference
        # and the iterator closes the connection at once.
        self._iterator = weakref.ref(events)
        return events

    def payloads(self) -> AsyncIterator[bytes]:
        """Yield the bytes of each ``PayloadPart``; raise a ``StreamError`` on an error event."""
        return self.decode(RawPayloads())

    async def read(self) -> bytes:
        """Read the whole payload; raise a ``StreamError`` on an error event."""
        return b"".join([data async for data in self.payloads()])

    def text(self) -> AsyncIterator[str]:
        """Yield the payload as text, decoding UTF-8 incrementally (see ``ResponseStream.text``)."""
        return self.decode(Utf8Decoder())

    def lines(self) -> AsyncIterator[str]:
        """Yield the payload's lines, split on ``\\n``, ``\\r\\n`` and ``\\r`` only.

        The same rules as ``ResponseStream.lines``: split at byte level, decoded whole,
        empty lines kept, a last line without a newline yielded at the end.
        """
        return self.decode(LineDecoder())

    def sse(self) -> AsyncIterator[ServerSentEvent]:
        """Yield the payload's server-sent events (``data:`` joined, comments skipped)."""
        return self.decode(SSEDecoder())

    def tokens(self, format: TokenFormat = "auto") -> AsyncIterator[str]:
        """Yield the generated text of an LLM server as it arrives (see ``ResponseStream.tokens``).

        An error record from the server raises ``GenerationError`` after the text that
        came before it.
        """
        return self.decode(token_decoder(format, self._metadata["content_type"]))

    def decode(self, decoder: PayloadDecoder[_T]) -> AsyncIterator[_T]:
        """Drive any sans-I/O ``decoder`` (``feed``/``flush``) over the payload."""
        return _Decoded(self._start(), PayloadFeed(decoder, self.request_id))

    def chunks(self, format: TokenFormat = "auto") -> AsyncIterator[GenerationChunk]:
        """Yield what each record of an LLM stream carries (see ``ResponseStream.chunks``).

        Iterated to its end, the chunks are also accumulated (up to 16 Mi characters of
        text and tool calls): ``await`` :meth:`generation` then returns their ``Generation``.
        """
        return self._chunks(format, self._kept_text_limit)

    async def generation(self, format: TokenFormat = "auto") -> Generation:
        """Read the stream to its end and accumulate its chunks into a ``Generation``.

        After a :meth:`chunks` pass read to its end, returns what that pass accumulated;
        after any other pass, or once closed, raises ``StreamConsumedError`` (see
        ``ResponseStream.generation``).
        """
        if self._generation is None:
            self._check_generation_unread()
            async for _ in self._chunks(format, None):
                pass
        return self._generation_result()

    # --- internals ------------------------------------------------------------------

    def _chunks(self, format: TokenFormat, limit: int | None) -> _Accumulating:
        """A :meth:`chunks` pass keeping up to ``limit`` characters of text (``None``: all)."""
        decoder = chunk_decoder(format, self._metadata["content_type"])
        events = self._start()  # first: a pass that cannot start must not take the tee
        chunks = _Decoded(events, PayloadFeed(self._telemetry.tee(decoder), self.request_id))
        return _Accumulating(self, chunks, GenerationBuilder(started=self._requested_at), limit)

    def _user_closed(self) -> bool:
        """Whether :meth:`aclose` was called (a read failing after it is no error)."""
        return self._closed

    async def _read(self) -> bytes:
        """The next body bytes; ``b""`` at the end of the body or once closed."""
        if self._closed:
            return b""
        failure, self._failure = self._failure, None
        try:
            if failure is not None:
                raise failure
            content = self._raw.content
            readany = getattr(content, "readany", None)  # aiohttp's; not the httpx body's
            if readany is not None and not self._first_read:
                # Everything received so far, across HTTP chunks: under load many chunks
                # wait in the buffer, and one read (one pass of the frame decoder) per
                # chunk is most of a stream's cost. Events of the chunks received before
                # a failure are still yielded before it: the failure raises on the next
                # read (see _salvage).
                data: bytes = await readany()
                return data
            # The first read takes one HTTP chunk: the first event is not held back while
            # a backlog behind it is decoded (a client that fell behind, many streams).
            # (A body with a Content-Length has no chunks: aiohttp's first buffered piece.)
            self._first_read = False
            while True:
                data, end_of_chunk = await content.readchunk()
                if data or not end_of_chunk:
                    return data
        except (SageMakerRuntimeError, asyncio.CancelledError):
            raise
        except Exception as exc:
            if self._user_closed():  # aclose() from another task while this one was reading
                raise StreamError(
                    "the stream was closed while it was being read",
                    request_id=self.request_id,
                    operation=OPERATION,
                ) from exc
            if failure is None:
                held = _salvage(self._raw.content)
                if held:
                    self._failure = exc  # raised by the next read, after these bytes
                    return held
            mapped = map_aio_stream_exception(
                exc, operation=OPERATION, read_timeout=self._read_timeout
            )
            if mapped is None:
                raise
            mapped.request_id = self.request_id
            raise mapped from exc

    async def _drain(self, core: EventStreamCore) -> None:
        """Read the rest of the body after an error event, for at most ``ERROR_GRACE``.

        The connection is reused only when the body ends within the grace (and is as
        long as it said); otherwise it is closed.
        """
        try:
            reuse = await asyncio.wait_for(self._read_to_end(core), ERROR_GRACE)
        except (SageMakerRuntimeError, asyncio.TimeoutError):
            reuse = False
        self._release_connection(reuse=reuse)

    async def _read_to_end(self, core: EventStreamCore) -> bool:
        """Read and drop the body to its end; whether it ended well within the limits."""
        while chunk := await self._read():
            if not core.drained(len(chunk)):
                return False
        return not self._closed and core.complete()

    def _release_connection(self, *, reuse: bool) -> None:
        if self._connection_done:
            return
        self._connection_done = True
        if reuse:
            self._raw.release()  # read to its end: aiohttp keeps the connection
        else:
            _shutdown(self._raw)
            self._raw.close()
        self._telemetry.end(completed=reuse)


def _salvage(content: object) -> bytes:
    """Bytes aiohttp received before the connection failed but no longer hands out.

    Once the connection fails, aiohttp's reads raise at once, even with data still
    buffered: the events that arrived before a reset or a cut would be lost, where the
    sync stream yields them before raising. aiohttp has no public way to read them,
    so this takes its buffer (a private ``deque[bytes]``) when it has that shape.
    """
    buffer = getattr(content, "_buffer", None)
    if not isinstance(buffer, collections.deque) or not buffer:
        return b""
    held = b"".join(bytes(part) for part in buffer)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    buffer.clear()
    return held


def _shutdown(raw: object) -> None:
    """Shut the socket down now: aiohttp's close only takes effect on the loop's next turn.

    A stream dropped outside a running loop (garbage collection) would otherwise keep
    its socket open, and the server streaming, until the loop runs again.
    """
    connection: Any = getattr(raw, "connection", None)
    transport: Any = getattr(connection, "transport", None)
    sock: Any = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Events:
    """``async for event in stream``: one pass over the body."""

    __slots__ = ("__weakref__", "_core", "_done", "_drain_due", "_pending", "_stream")

    def __init__(self, stream: AsyncResponseStream) -> None:
        self._stream = stream
        self._core = stream._new_core()  # pyright: ignore[reportPrivateUsage]
        self._pending: collections.deque[StreamEvent] = collections.deque()
        self._done = False
        self._drain_due = False  # an error event was returned; the body's end is unread

    def __aiter__(self) -> Self:
        return self

    def __del__(self) -> None:
        # Dropped before the end (``break``): close the connection now.
        if not getattr(self, "_done", True) or getattr(self, "_drain_due", False):
            self._stream._release_connection(reuse=False)  # pyright: ignore[reportPrivateUsage]

    async def __anext__(self) -> StreamEvent:
        pending = self._pending
        if pending:
            return pending.popleft()
        stream = self._stream
        core = self._core
        if self._done:
            if self._drain_due:
                # The loop went on after the error event: read the end of the body so
                # the connection can be reused.
                self._drain_due = False
                try:
                    await stream._drain(core)  # pyright: ignore[reportPrivateUsage]
                except BaseException:  # cancelled while draining: close, do not leak
                    self.abandon()
                    raise
            raise StopAsyncIteration
        try:
            while not pending:
                chunk = await stream._read()  # pyright: ignore[reportPrivateUsage]
                if not chunk:
                    self._done = True
                    if not stream.closed:
                        core.finish()
                        stream._release_connection(reuse=True)  # pyright: ignore[reportPrivateUsage]
                    raise StopAsyncIteration
                for event in core.feed(chunk):
                    pending.append(event)
                    if type(event) is not PayloadPart:  # the last event: returned at once
                        self._done = True
                        self._drain_due = True
                        break
        except StopAsyncIteration:
            raise
        except Exception as exc:
            core.fail(exc)  # a StreamError gets the request id; the telemetry sees it
            self.abandon()
            raise
        except BaseException:
            self.abandon()
            raise
        return pending.popleft()

    def stop(self) -> None:
        """The stream was closed: yield nothing more."""
        self._done = True
        self._drain_due = False
        self._pending.clear()

    def abandon(self) -> None:
        """Stop and close the connection unless it was released already."""
        self.stop()
        self._stream._release_connection(reuse=False)  # pyright: ignore[reportPrivateUsage]


class _Decoded(Generic[_T]):
    """A payload decoder driven by the events of a stream, as an async iterator.

    A ``StreamError`` (an error event, a bad record, a truncated body) has released the
    connection before it leaves: the caller may keep the exception, and with it this
    iterator, as long as it likes.
    """

    __slots__ = ("_events", "_feed", "_finished", "_pending")

    def __init__(self, events: _Events, feed: PayloadFeed[_T]) -> None:
        self._events = events
        self._feed = feed
        self._pending: collections.deque[_T] = collections.deque()
        self._finished = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        pending = self._pending
        while not pending:
            if self._finished:
                raise StopAsyncIteration
            try:
                event = await self._events.__anext__()
            except StopAsyncIteration:
                self._finished = True
                pending.extend(self._feed.end())  # the connection was released at the end
                continue
            except StreamError as exc:
                self._finished = True
                self._feed.annotate(exc)
                raise
            if type(event) is not PayloadPart:  # the last event: finish the body first
                with contextlib.suppress(StopAsyncIteration):
                    await self._events.__anext__()
            try:
                pending.extend(self._feed.event(event))
            except StreamError:
                self._finished = True
                self._events.abandon()
                raise
        return pending.popleft()


class _Accumulating:
    """``chunks()``: the decoded chunks, accumulated; their generation is kept at the end."""

    __slots__ = ("_builder", "_chunks", "_limit", "_stream")

    def __init__(
        self,
        stream: AsyncResponseStream,
        chunks: AsyncIterator[GenerationChunk],
        builder: GenerationBuilder,
        limit: int | None,
    ) -> None:
        self._stream = stream
        self._chunks = chunks
        self._builder: GenerationBuilder | None = builder
        self._limit = limit

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> GenerationChunk:
        stream = self._stream
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            stream._keep_generation(self._builder)  # pyright: ignore[reportPrivateUsage]
            raise
        if not stream._kept(self._builder, chunk, self._limit):  # pyright: ignore[reportPrivateUsage]
            self._builder = None
        return chunk

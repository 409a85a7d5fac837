"""``ResponseStream``: the typed, self-closing result of ``SageMakerRuntime.stream``."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._base._stream import (
    ERROR_GRACE,
    OPERATION as _OPERATION,
    READ_SIZE as _READ_SIZE,
    EventStreamCore,
    PayloadDecoder,
    PayloadFeed,
    StreamState,
    consumed_error,
    raise_for_event,
)
from .._core._errors import map_stream_exception
from .._core._events import PayloadPart, StreamEvent
from .._core._exceptions import StreamError
from .._core._public import public
from .._core._types import StreamMetadata
from .._telemetry._call_record import OFF, CallRecord

if TYPE_CHECKING:
    from .._core._llm_types import Generation, GenerationChunk
    from .._decoders._auto import ServerSentEvent, TokenFormat
    from .._decoders._generation import GenerationBuilder

__all__ = ["ResponseStream"]

_T = TypeVar("_T")


class _RawResponse(Protocol):
    """The part of urllib3's ``HTTPResponse`` a stream uses."""

    def stream(
        self, amt: int | None = ..., decode_content: bool | None = ...
    ) -> Generator[bytes, None, None]:
        """Yield the body as it arrives, one HTTP chunk at a time."""
        ...

    def close(self) -> None:
        """Close the response and its socket."""
        ...

    def release_conn(self) -> None:
        """Hand the connection back to its pool."""
        ...


@public
class ResponseStream(StreamState):
    """The events of an InvokeEndpointWithResponseStream response.

    Use it as a context manager. Iterating yields :data:`StreamEvent` values; a
    ``ModelStreamError`` or ``InternalStreamFailure`` is always the last event.
    The helpers (:meth:`payloads`, :meth:`read`) raise instead of yielding error events.
    The stream is single-pass.

    The HTTP connection is handed back to the pool when the stream is read to its end
    (also when it ended with an error event) and closed at once when the stream is
    abandoned: ``close()``, leaving the ``with`` block, breaking out of the loop, an
    exception, or garbage collection. ``close()`` may come from another thread: a read
    blocked there is woken and raises ``StreamError``.
    """

    def __init__(
        self,
        raw: _RawResponse,
        metadata: StreamMetadata,
        *,
        read_timeout: float | None = None,
        requested_at: float | None = None,
        telemetry: CallRecord = OFF,
    ) -> None:
        # Every use of ``raw`` but the blocking read itself holds this lock, so a close()
        # from another thread never touches the connection while this one (or urllib3 for
        # it) hands it back. During a read, close() only shuts the socket down.
        self._lock = threading.Lock()
        super().__init__(metadata, read_timeout, requested_at, telemetry)
        self._raw = raw
        self._reading = False
        self._closed_by: int | None = None
        self._grace_over = False

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection. Idempotent; safe from any thread.

        A read blocked in another thread (a stalled server) is woken at once and raises
        ``StreamError``; that thread then closes the connection.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closed_by = threading.get_ident()
            if self._reading:
                # Wake the reader; it closes the connection itself. A read that ended the
                # body has handed the connection back already (no socket any more), but
                # urllib3 forgets it just after putting it in the pool: in that instant a
                # pooled socket may be shut down, which the pool sees as dropped.
                sock = connection_socket(self._raw)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return
        self._release_connection(reuse=False)

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._start()

    def payloads(self) -> Iterator[bytes]:
        """Yield the bytes of each ``PayloadPart``; raise a ``StreamError`` on an error event."""
        request_id = self.request_id
        events = self._start()
        try:
            for event in events:
                if type(event) is PayloadPart:
                    yield event.data
                else:
                    _finish(events)
                    raise_for_event(event, request_id)
        finally:
            events.close()  # released before any exception leaves, even if it is kept

    def read(self) -> bytes:
        """Read the whole payload; raise a ``StreamError`` on an error event."""
        return b"".join(self.payloads())

    def text(self) -> Iterator[str]:
        """Yield the payload as text, decoding UTF-8 incrementally.

        A character split across parts comes out whole; invalid UTF-8 raises
        ``StreamDecodeError``.
        """
        from .._decoders._auto import Utf8Decoder

        return self.decode(Utf8Decoder())

    def lines(self) -> Iterator[str]:
        """Yield the payload's lines, split on ``\\n``, ``\\r\\n`` and ``\\r`` only.

        Lines are split at byte level (also when ``\\r`` and ``\\n`` arrive in different
        parts) and decoded whole. Empty lines are yielded; a last line without a newline
        is yielded at the end of the stream. U+2028 and other Unicode breaks never split.
        """
        from .._decoders._auto import LineDecoder

        return self.decode(LineDecoder())

    def sse(self) -> Iterator[ServerSentEvent]:
        """Yield the payload's server-sent events (``data:`` joined, comments skipped)."""
        from .._decoders._auto import SSEDecoder

        return self.decode(SSEDecoder())

    def tokens(self, format: TokenFormat = "auto") -> Iterator[str]:
        """Yield the generated text of an LLM server as it arrives.

        ``format`` is ``"tgi"``, ``"openai"``, ``"lmi"``, ``"json"``, ``"text"`` or
        ``"auto"`` (chosen from the content type and the first record). Special tokens,
        keep-alives, ``[DONE]`` and usage-only chunks are skipped; an error record from
        the server raises ``GenerationError`` after the text that came before it.
        """
        from .._decoders._auto import token_decoder

        return self.decode(token_decoder(format, self._metadata["content_type"]))

    def decode(self, decoder: PayloadDecoder[_T]) -> Iterator[_T]:
        """Drive any sans-I/O ``decoder`` (``feed``/``flush``) over the payload."""
        return self._decode(decoder)

    def _decode(
        self,
        decoder: PayloadDecoder[_T],
        observe: Callable[[PayloadDecoder[_T]], PayloadDecoder[_T]] | None = None,
    ) -> Iterator[_T]:
        """The pass of :meth:`decode`; ``observe`` wraps the decoder once the pass starts.

        Not before: a pass that never starts must not take the decoding over from the
        instrumentation (``CallRecord.tee``) while another pass reads the events.
        """
        events = self._start()
        feed = PayloadFeed(decoder if observe is None else observe(decoder), self.request_id)
        try:
            for event in events:
                if type(event) is not PayloadPart:
                    _finish(events)
                yield from feed.event(event)
            yield from feed.end()
        finally:
            events.close()  # released before any exception leaves, even if it is kept

    def chunks(self, format: TokenFormat = "auto") -> Iterator[GenerationChunk]:
        """Yield what each record of an LLM stream carries: text, finish reason, usage, tool calls.

        The formats, detection and errors of :meth:`tokens`, whose text the chunks' text
        joined equals; records that carry nothing (keep-alives, ``[DONE]``, special
        tokens without details) yield nothing. Iterated to its end, the chunks are also
        accumulated: :meth:`generation` then returns their ``Generation`` (to print the
        text as it arrives and still get the tool calls and usage). A pass keeps at most
        16 Mi characters of text and tool calls for it (memory stays bounded on any
        stream); past that, ``generation()`` raises ``StreamConsumedError`` saying so.
        """
        return self._chunks(format, self._kept_text_limit)

    def generation(self, format: TokenFormat = "auto") -> Generation:
        """Read the stream to its end and accumulate its :meth:`chunks` into a ``Generation``.

        Times are measured from the request (``time_to_first_token`` includes the wait
        for the response head). After a :meth:`chunks` pass read to its end, returns
        what that pass accumulated (``format`` is then the pass's). After any other pass
        (one of chunks() abandoned or failed, tokens(), the events), or once closed,
        raises ``StreamConsumedError``.
        """
        if self._generation is None:
            self._check_generation_unread()
            for _ in self._chunks(format, None):
                pass
        return self._generation_result()

    # --- internals ------------------------------------------------------------------

    def _chunks(self, format: TokenFormat, limit: int | None) -> Iterator[GenerationChunk]:
        """A :meth:`chunks` pass keeping up to ``limit`` characters of text (``None``: all)."""
        from .._decoders._chunks import chunk_decoder
        from .._decoders._generation import GenerationBuilder

        decoder = chunk_decoder(format, self._metadata["content_type"])
        chunks = self._decode(decoder, self._telemetry.tee)
        return self._accumulate(chunks, GenerationBuilder(started=self._requested_at), limit)

    def _accumulate(
        self, chunks: Iterator[GenerationChunk], builder: GenerationBuilder, limit: int | None
    ) -> Iterator[GenerationChunk]:
        """Yield ``chunks``, accumulated; at their end the generation is kept."""
        keeping: GenerationBuilder | None = builder
        for chunk in chunks:
            if keeping is not None and not self._kept(keeping, chunk, limit):
                keeping = None
            yield chunk
        self._keep_generation(keeping)

    def _start(self) -> Generator[StreamEvent, None, None]:
        """The one pass over the events."""
        if self._started or self._closed:
            raise consumed_error()
        self._started = True
        # Not kept by the stream: a loop that breaks drops the last reference and the
        # generator's ``finally`` closes the connection at once.
        return self._events()

    def _events(self) -> Generator[StreamEvent, None, None]:
        core = self._new_core()
        chunks = _body_pieces(self._raw)
        try:
            while chunk := self._read(chunks):
                for event in core.feed(chunk):
                    yield event
                    if type(event) is not PayloadPart:
                        # The last event, yielded at once. Resumed (the loop went on): read
                        # the end of the body, briefly, so the connection can be reused.
                        if not self._closed:
                            self._drain(chunks, core)
                        return
                    if self._closed:
                        self._raise_if_closed_elsewhere()
                        return
            if self._closed:
                return
            core.finish()
            self._release_connection(reuse=True)
        except Exception as exc:
            core.fail(exc)  # a StreamError gets the request id; the telemetry sees it
            raise
        finally:
            with self._lock:
                chunks.close()
            self._release_connection(reuse=False)  # nothing to do once released

    def _read(self, chunks: Generator[bytes, None, None]) -> bytes:
        """The next body bytes; ``b""`` at the end of the body or once closed here.

        Raises ``StreamError`` when :meth:`close` came from another thread, before or
        during the read, and the mapped ``SageMakerRuntimeError`` when the read fails.
        """
        lock = self._lock  # acquire/release, not ``with``: this runs once per HTTP chunk
        lock.acquire()
        closed = self._closed
        self._reading = not closed
        lock.release()
        if closed:
            self._raise_if_closed_elsewhere()
            return b""
        failure: Exception | None = None
        chunk = b""
        try:
            chunk = next(chunks, b"")
        except Exception as exc:
            failure = exc
        lock.acquire()
        self._reading = False
        closed = self._closed
        lock.release()
        if closed:
            self._raise_if_closed_elsewhere(failure)
            return b""
        if failure is not None:
            mapped = map_stream_exception(
                failure, operation=_OPERATION, read_timeout=self._read_timeout
            )
            if mapped is None:
                raise failure
            mapped.request_id = self.request_id
            raise mapped from failure
        return chunk

    def _raise_if_closed_elsewhere(self, cause: BaseException | None = None) -> None:
        """After :meth:`close`: raise ``StreamError`` if another thread called it."""
        if self._closed_by != threading.get_ident():
            raise StreamError(
                "the stream was closed while it was being read",
                request_id=self.request_id,
                operation=_OPERATION,
            ) from cause

    def _drain(self, chunks: Generator[bytes, None, None], core: EventStreamCore) -> None:
        """Read the rest of the body after an error event, for at most ``ERROR_GRACE``.

        The connection is reused only when the body ends within the grace (and is as
        long as it said); otherwise it is closed. The grace is wall-clock time: a timer
        shuts the socket down at the deadline, as :meth:`close` from another thread
        does, so a server that trickles a long HTTP chunk cannot stretch it (a socket
        timeout bounds each ``recv``, not http.client's read of a whole chunk).
        """
        sock = connection_socket(self._raw)
        timer = threading.Timer(ERROR_GRACE, self._end_grace, (sock,))
        timer.name = "smr-error-grace"
        timer.daemon = True
        reuse = False
        try:
            timer.start()
            while chunk := self._read(chunks):
                if not core.drained(len(chunk)):
                    break
            else:
                reuse = not self._closed and core.complete()
        except Exception:  # the grace ended it, a reset, or close() from another thread
            pass
        finally:
            timer.cancel()
            timer.join()
        with self._lock:
            reuse = reuse and not self._grace_over
        self._release_connection(reuse=reuse)

    def _end_grace(self, sock: socket.socket | None) -> None:
        """The grace after an error event is over: shut the socket down if still this response's."""
        with self._lock:
            self._grace_over = True
            if sock is not None and connection_socket(self._raw) is sock:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _release_connection(self, *, reuse: bool) -> None:
        with self._lock:  # one test-and-set: the connection goes back (or closes) once
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
        self._telemetry.end(completed=reuse)


def connection_socket(raw: object) -> socket.socket | None:
    """The socket under a urllib3 response, while the response still holds its connection.

    urllib3 has no public way to reach it (``HTTPResponse.shutdown()`` only exists from
    urllib3 2.3 and only shuts the read side), so this follows ``.connection.sock``:
    ``None`` once the connection went back to the pool or was closed.
    """
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _body_pieces(raw: _RawResponse) -> Generator[bytes, None, None]:
    """The body's bytes as they arrive: one HTTP chunk, or what one read received.

    urllib3's ``stream()`` yields a chunked body chunk by chunk, but blocks on a
    ``Content-Length`` body until it has ``READ_SIZE`` bytes or the end: events (an error
    event too) would wait for bytes behind them. ``read1`` (urllib3 2.2 and later)
    returns what one read received.
    """
    read1: Callable[..., bytes] | None = getattr(raw, "read1", None)
    if getattr(raw, "chunked", True) or read1 is None:
        return raw.stream(_READ_SIZE, decode_content=False)
    return _read1_pieces(read1)


def _read1_pieces(read1: Callable[..., bytes]) -> Generator[bytes, None, None]:
    while data := read1(_READ_SIZE, decode_content=False):
        yield data


def _finish(events: Iterator[StreamEvent]) -> None:
    """Run the events past an error event (the last one) so the connection is reused."""
    for _ in events:
        pass

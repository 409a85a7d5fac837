"""``AsyncBidiStream``: one InvokeEndpointWithBidirectionalStream under asyncio.

Returned by :meth:`AsyncSageMakerRuntime.bidi_stream` unopened, once its arguments are
checked: ``async with`` opens it (and closes it on exit), ``await`` opens it and gives it
back. The request is signed with the credentials the session has at that moment. Parts
are sent by ``await stream.send(...)`` or by a task of the stream's own from ``input=``
(an iterable or an async iterable) while ``async for`` yields the model's events. awscrt
(the ``bidi`` extra) is imported only when a stream opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any, Protocol

from typing_extensions import Self

from .._base._bidi_inbox import BidiInbox, MessagePass
from .._base._bidi_setup import BidiSettings, missing_awscrt
from .._core._bidi_events import (
    BidiEvent,
    BidiInput,
    BidiPayloadPart,
    request_part,
)
from .._core._bidi_request import OpenedRequest
from .._core._exceptions import SageMakerRuntimeError, StreamError
from .._core._public import public


class AsyncBidiConnection(Protocol):
    """What an :class:`AsyncBidiStream` needs of its transport (``_bidi_transport``'s)."""

    @property
    def inbox(self) -> BidiInbox:
        """What has arrived."""
        ...

    async def send(self, part: BidiPayloadPart) -> None:
        """Sign and write one part."""
        ...

    async def end_input(self) -> None:
        """Write the signed end frame with END_STREAM, once."""
        ...

    async def next_events(self) -> tuple[list[BidiEvent], bool]:
        """Wait for events; return them and whether the response is over."""
        ...

    def abort(self, failure: BaseException | None = None) -> object:
        """Close at once, from any task or thread; later calls raise ``failure``."""
        ...

    async def close(self, failure: BaseException | None = None) -> None:
        """Close the connection, waiting briefly for its shutdown."""
        ...


__all__ = ["AsyncBidiStream", "open_connection"]


async def open_connection(opened: OpenedRequest, settings: BidiSettings) -> AsyncBidiConnection:
    """Import the transport (naming the extra if awscrt is missing) and connect."""
    try:
        from ._bidi_transport import AsyncBidiConnection as Connection
    except ImportError as exc:
        if (missing := missing_awscrt(exc)) is None:
            raise
        raise missing from exc
    return await Connection.open(opened, settings)


@public
class AsyncBidiStream:
    """A bidirectional stream under asyncio: ``await send()`` while ``async for`` reads.

    ::

        async with smr.bidi_stream("ep") as stream:
            await stream.send("hello")
            async for event in stream:    # BidiPayloadPart, ModelStreamError, InternalStreamFailure
                ...
            await stream.end_input()

    Nothing is sent until it is entered or awaited (``stream = await smr.bidi_stream(...)``
    opens it and returns it; close it with :meth:`aclose`). Iteration yields the events as
    they arrive; a ``ModelStreamError`` or ``InternalStreamFailure`` is the last event. An
    error response raises from whichever call the caller is in: :meth:`send`, iteration
    or :meth:`end_input`. :meth:`close` may be called from any task or thread; a task
    waiting in the stream then raises :class:`StreamError`.
    """

    def __init__(
        self,
        endpoint_name: str,
        opener: Callable[[], Awaitable[AsyncBidiConnection]],
        input: Iterable[BidiInput] | AsyncIterable[BidiInput] | None = None,
    ) -> None:
        """Made by :meth:`AsyncSageMakerRuntime.bidi_stream`; see the class docstring."""
        self._endpoint_name = endpoint_name
        self._opener: Callable[[], Awaitable[AsyncBidiConnection]] | None = opener
        self._input = input
        self._connection: AsyncBidiConnection | None = None
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self._unread: deque[BidiEvent] = deque()
        self._over = False

    # --- opening ------------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, AsyncBidiStream]:
        return self._open().__await__()

    async def _open(self) -> AsyncBidiStream:
        opener, self._opener = self._opener, None
        if opener is None:
            if self._connection is None:
                raise StreamError("the bidirectional stream was closed before it opened")
            return self  # already open
        self._connection = await opener()
        # A stream dropped without being closed still closes its connection when collected.
        weakref.finalize(self, self._connection.abort)
        if self._closed:  # closed from another task while it was opening
            await self._connection.close()
            raise StreamError("the bidirectional stream was closed while it opened")
        if self._input is not None:
            # The task holds the connection, not the stream: a stream dropped while its
            # input goes on is still collected, and its connection closed.
            self._sender = asyncio.get_running_loop().create_task(
                _send_all(self._connection, self._input),
                name=f"bidi input {self._endpoint_name}",
            )
        return self

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open_connection(self) -> AsyncBidiConnection:
        if self._connection is None:
            raise StreamError(
                "the bidirectional stream is not open: use `async with` or await it first"
                if not self._closed
                else "the bidirectional stream was closed"
            )
        return self._connection

    # --- the stream -----------------------------------------------------------------------

    @property
    def request_id(self) -> str | None:
        """The response's ``x-amzn-RequestId``; ``None`` until its headers have arrived."""
        return None if self._connection is None else self._connection.inbox.request_id

    @property
    def invoked_production_variant(self) -> str | None:
        """The production variant that serves the stream; ``None`` until the response starts."""
        connection = self._connection
        return None if connection is None else connection.inbox.invoked_production_variant

    async def send(
        self,
        data: BidiInput,
        *,
        data_type: str | None = None,
        completion_state: str | None = None,
    ) -> None:
        """Sign and send one part; waits only while over 1 MiB sent is not yet written.

        Args:
            data: ``bytes``-like data (sent as ``BINARY``), ``str`` (UTF-8, sent as
                ``UTF8``), or a :class:`BidiPayloadPart` sent as it is.
            data_type: ``"UTF8"`` or ``"BINARY"`` instead of the default for ``data``.
            completion_state: ``"PARTIAL"`` for a piece of a message whose last piece
                is sent ``"COMPLETE"`` (default: not sent, which the service reads as
                ``COMPLETE``).

        Raises:
            ClientValidationError: ``data`` or an option is invalid (nothing is sent).
            ServiceError: The service answered with an error (its subclass by status).
            ModelStreamInterruptedError: The model's stream already failed.
            StreamError: The stream is not open, was closed, or its input ended.
            TransportError: The connection failed or timed out.
        """
        part = request_part(data, data_type=data_type, completion_state=completion_state)
        await self._open_connection().send(part)

    async def end_input(self) -> None:
        """End the input: the signed empty frame, then END_STREAM; later calls do nothing.

        The model's answer goes on: keep iterating to read it.
        """
        await self._open_connection().end_input()

    def __aiter__(self) -> AsyncIterator[BidiEvent]:
        """The model's events as they arrive, until the service ends the stream."""
        return self._events(self._open_connection())

    async def _events(self, connection: AsyncBidiConnection) -> AsyncIterator[BidiEvent]:
        # Events taken from the connection wait here, so that a loop left early leaves the
        # rest for the next one.
        while True:
            while self._unread:
                yield self._unread.popleft()
            if self._over:
                return
            events, self._over = await connection.next_events()
            self._unread.extend(events)

    async def messages(self) -> AsyncIterator[bytes | str]:
        """The model's messages: ``PARTIAL`` parts joined up to the ``COMPLETE`` one.

        ``str`` for ``UTF8`` messages, ``bytes`` for ``BINARY`` ones. A
        ``ModelStreamError`` or ``InternalStreamFailure`` event raises
        :class:`ModelStreamInterruptedError` / :class:`InternalStreamFailureError` after
        the messages before it; a stream that ends inside a message raises
        :class:`StreamDecodeError`.
        """
        messages = MessagePass(self._open_connection().inbox)
        async for event in self:
            message = messages.add(event)
            if message is not None:
                yield message
        messages.finish()

    # --- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the stream at once; safe from any task or thread, and more than once.

        A task waiting in the stream raises :class:`StreamError`. :meth:`aclose` does
        the same and also waits for the connection's shutdown and the ``input=`` task.
        """
        self._closed = True
        connection = self._connection
        if connection is not None:
            connection.abort()
        sender = self._sender
        if sender is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to cancel
                sender.get_loop().call_soon_threadsafe(sender.cancel)

    async def aclose(self) -> None:
        """Close the stream and wait for its connection to shut down. Idempotent."""
        self._closed = True
        self._opener = None
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            await asyncio.wait({sender})  # its outcome was the reader's to see
        if self._connection is not None:
            await self._connection.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._connection else "not opened"
        return f"<AsyncBidiStream {self._endpoint_name!r} {state}>"


async def _send_all(
    connection: AsyncBidiConnection, parts: Iterable[Any] | AsyncIterable[Any]
) -> None:
    """The sender task of ``input=``: every part, then the end of the input."""
    try:
        if isinstance(parts, AsyncIterable):
            async for data in parts:
                await connection.send(request_part(data, field="input"))
        else:
            for data in parts:
                await connection.send(request_part(data, field="input"))
        await connection.end_input()
    except asyncio.CancelledError:
        raise
    except SageMakerRuntimeError as exc:
        if not connection.inbox.failed:  # else the reader meets the failure itself
            connection.abort(exc)
    except BaseException as exc:  # the caller's iterable failed: the reader raises it
        connection.abort(exc)

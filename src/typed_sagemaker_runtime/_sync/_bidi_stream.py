"""``BidiStream``: one InvokeEndpointWithBidirectionalStream, sending while it reads.

Opened by :meth:`SageMakerRuntime.bidi_stream`: the request is signed with the
credentials the client's session has at that moment and sent before the method returns
(a model may speak first). Parts are signed and written by :meth:`BidiStream.send` (or by
a thread of the stream's own from ``input=``), while iteration yields the model's events
as they arrive. The transport (awscrt, the ``bidi`` extra) is imported here only when a
stream opens, so importing the package does not need it.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol

from .._base._bidi_inbox import BidiInbox, MessagePass
from .._base._bidi_setup import BidiSettings, missing_awscrt
from .._core._bidi_events import (
    BidiEvent,
    BidiInput,
    BidiPayloadPart,
    request_part,
)
from .._core._bidi_request import OpenedRequest
from .._core._exceptions import SageMakerRuntimeError
from .._core._public import public


class BidiConnection(Protocol):
    """What a :class:`BidiStream` needs of its transport (``_bidi_transport``'s connection)."""

    @property
    def inbox(self) -> BidiInbox:
        """What has arrived."""
        ...

    def send(self, part: BidiPayloadPart) -> None:
        """Sign and write one part."""
        ...

    def end_input(self) -> None:
        """Write the signed end frame with END_STREAM, once."""
        ...

    def next_events(self) -> tuple[list[BidiEvent], bool]:
        """Wait for events; return them and whether the response is over."""
        ...

    def close(self, failure: BaseException | None = None) -> None:
        """Close the connection; later calls raise ``failure``."""
        ...


__all__ = ["BidiStream", "open_connection"]


def open_connection(opened: OpenedRequest, settings: BidiSettings) -> BidiConnection:
    """Import the transport (naming the extra if awscrt is missing) and connect."""
    try:
        from ._bidi_transport import SyncBidiConnection
    except ImportError as exc:
        if (missing := missing_awscrt(exc)) is None:
            raise
        raise missing from exc
    return SyncBidiConnection.open(opened, settings)


@public
class BidiStream:
    """A bidirectional stream: :meth:`send` parts while iterating the model's events.

    ::

        with smr.bidi_stream("ep") as stream:
            stream.send("hello")
            for event in stream:          # BidiPayloadPart, ModelStreamError, InternalStreamFailure
                ...
            stream.end_input()

    Iteration yields the events as they arrive, while sending goes on; a
    ``ModelStreamError`` or ``InternalStreamFailure`` is the last event. An error response
    (403, 424, 429, ...) raises from whichever call the caller is in: :meth:`send`,
    iteration or :meth:`end_input`. Leaving ``with`` (or :meth:`close`) closes the
    stream; :meth:`close` may be called from any thread, and a reader blocked there then
    raises :class:`StreamError`.
    """

    def __init__(
        self,
        endpoint_name: str,
        connection: BidiConnection,
        input: Iterable[BidiInput] | None = None,
    ) -> None:
        """Made by :meth:`SageMakerRuntime.bidi_stream`; see the class docstring."""
        self._endpoint_name = endpoint_name
        self._connection = connection
        self._closed = False
        self._closing = threading.Event()
        self._unread: deque[BidiEvent] = deque()
        self._over = False
        self._sender: threading.Thread | None = None
        # A stream dropped without close() still closes its connection when collected;
        # the input= thread holds the connection, not the stream, so that it can be.
        self._finalizer = weakref.finalize(self, _close, connection, self._closing)
        if input is not None:
            self._sender = threading.Thread(
                target=_send_all,
                args=(connection, iter(input), self._closing),
                name=f"typed-sagemaker-runtime bidi input {endpoint_name}",
                daemon=True,
            )
            self._sender.start()

    @property
    def request_id(self) -> str | None:
        """The response's ``x-amzn-RequestId``; ``None`` until its headers have arrived."""
        return self._connection.inbox.request_id

    @property
    def invoked_production_variant(self) -> str | None:
        """The production variant that serves the stream; ``None`` until the response starts."""
        return self._connection.inbox.invoked_production_variant

    def send(
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
            StreamError: The stream was closed, or its input ended.
            TransportError: The connection failed or timed out.
        """
        part = request_part(data, data_type=data_type, completion_state=completion_state)
        self._connection.send(part)

    def end_input(self) -> None:
        """End the input: the signed empty frame, then END_STREAM; later calls do nothing.

        The model's answer goes on: keep iterating to read it.
        """
        self._connection.end_input()

    def __iter__(self) -> Iterator[BidiEvent]:
        """The model's events as they arrive, until the service ends the stream."""
        # Events taken from the connection wait here, so that a loop left early (a break,
        # next()) leaves the rest for the next one.
        while True:
            while self._unread:
                yield self._unread.popleft()
            if self._over:
                return
            events, self._over = self._connection.next_events()
            self._unread.extend(events)

    def messages(self) -> Iterator[bytes | str]:
        """The model's messages: ``PARTIAL`` parts joined up to the ``COMPLETE`` one.

        ``str`` for ``UTF8`` messages, ``bytes`` for ``BINARY`` ones. A
        ``ModelStreamError`` or ``InternalStreamFailure`` event raises
        :class:`ModelStreamInterruptedError` / :class:`InternalStreamFailureError` after
        the messages before it; a stream that ends inside a message raises
        :class:`StreamDecodeError`.
        """
        messages = MessagePass(self._connection.inbox)
        for event in self:
            message = messages.add(event)
            if message is not None:
                yield message
        messages.finish()

    def close(self) -> None:
        """Close the stream and its connection; safe from any thread, and more than once.

        A reader or sender blocked in the stream raises :class:`StreamError`. A stream
        whose input has not ended is cut off (the model sees the connection close).
        """
        self._closed = True
        self._finalizer()
        sender = self._sender
        if sender is not None and sender is not threading.current_thread():
            # It ends at once unless the caller's iterable is blocked: then it ends when
            # the iterable next yields, and close() does not wait for that.
            sender.join(0.05)

    def __enter__(self) -> BidiStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<BidiStream {self._endpoint_name!r} {state}>"


def _close(connection: BidiConnection, closing: threading.Event) -> None:
    closing.set()
    connection.close()


def _send_all(connection: BidiConnection, parts: Iterator[Any], closing: threading.Event) -> None:
    """The sender thread of ``input=``: every part, then the end of the input."""
    try:
        for data in parts:
            if closing.is_set():
                return
            connection.send(request_part(data, field="input"))
        connection.end_input()
    except SageMakerRuntimeError as exc:
        if not connection.inbox.failed:  # else the reader meets the failure itself
            connection.close(exc)
    except BaseException as exc:  # the caller's iterable failed: the reader raises it
        connection.close(exc)

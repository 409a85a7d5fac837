"""What a bidirectional stream has received, shared by awscrt's thread and the caller's.

awscrt reports on its own event-loop thread; the caller may iterate on one thread (or
task) while it sends on another. Both need to see the same thing at once: the events not
yet read, the error response or failure that ends the stream (kept, and raised to every
later call, so an error reaches ``send()`` as well as the reader), and whether the service
has ended its side. :class:`BidiInbox` holds that under one lock and calls ``wake`` after
every change; each twin waits its own way (a condition variable, or futures of the event
loop) and polls again. The inbox does no I/O and never blocks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from .._core._bidi_endpoint import INVOKED_VARIANT_HEADER
from .._core._bidi_events import OPERATION, BidiEvent, BidiPayloadPart, MessageJoiner
from .._core._exceptions import SageMakerRuntimeError, StreamDecodeError, TransportError
from ._bidi_reader import Item, ResponseReader
from ._stream import raise_for_event

_REQUEST_ID_HEADERS = ("x-amzn-requestid", "x-amz-request-id")

ERROR_BODY_GRACE = 0.1
"""Seconds an error response's body may take to end before the error is raised without
the rest: a 429 whose body never ends must not hold the caller (AWS's client hung there)."""


class BidiInbox:
    """The received side of one stream: events, the ending, and what ended it.

    :meth:`put` is called on awscrt's thread with each report; :meth:`poll` and
    :meth:`check` on the caller's. A failure (an error response, a broken stream, a
    close) is kept: :meth:`poll` raises it once the events that came before it are read,
    :meth:`check` at once. :meth:`abort` ends the stream from the caller's side (close,
    a failed input) and drops what was not read.
    """

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._reader = ResponseReader()
        self._events: deque[BidiEvent] = deque()
        self._failure: SageMakerRuntimeError | BaseException | None = None
        self._error_event: BidiEvent | None = None
        self._finished = False
        self._ungranted = 0  # response bytes received and not yet handed to the caller
        self._handed = 0  # those handed over by the last poll: the caller holds them
        self._grant = 0  # what the next take_grant() reopens
        self._error_deadline: float | None = None
        self.request_id: str | None = None
        """The response's request id, once its headers have arrived."""
        self.invoked_production_variant: str | None = None
        """The variant that served the stream, once the response headers have arrived."""

    def put(self, item: Item) -> None:
        """Take one of awscrt's reports (its thread); wake whoever waits."""
        with self._lock:
            if item[0] == "body":
                self._ungranted += len(item[1])
            if self._failure is None and not self._finished:
                self._read(item)
        self._wake()

    def _read(self, item: Item) -> None:
        had_headers = self._reader.status is not None
        try:
            events, self._finished = self._reader.read(item)
        except SageMakerRuntimeError as exc:
            self._failure = exc
            events = []
        except Exception as exc:  # a defect here must not kill awscrt's thread or hang a caller
            self._failure = TransportError(
                f"bidirectional stream: reading failed: {type(exc).__name__}"
            )
            self._failure.__cause__ = exc
            events = []
        if not had_headers and self._reader.status is not None:
            self._take_headers()
            if self._reader.status != 200:
                self._error_deadline = time.monotonic() + ERROR_BODY_GRACE
        for event in events:
            if not isinstance(event, BidiPayloadPart) and self._error_event is None:
                self._error_event = event
            self._events.append(event)

    def _take_headers(self) -> None:
        for name, value in self._reader.headers:
            lowered = name.lower()
            if lowered in _REQUEST_ID_HEADERS and self.request_id is None:
                self.request_id = value
            elif lowered == INVOKED_VARIANT_HEADER.lower():
                self.invoked_production_variant = value
        if isinstance(self._failure, SageMakerRuntimeError) and self._failure.request_id is None:
            self._failure.request_id = self.request_id

    @property
    def settle_at(self) -> float | None:
        """When an error response still waiting for its body is raised without it."""
        with self._lock:
            return self._error_deadline if self._failure is None else None

    def _settle(self) -> None:
        """Under the lock: an error response whose body is late is raised as it stands."""
        deadline = self._error_deadline
        if self._failure is None and deadline is not None and time.monotonic() >= deadline:
            failure = self._reader.give_up()
            failure.request_id = failure.request_id or self.request_id
            self._failure = failure

    def abort(self, failure: BaseException) -> None:
        """End the stream from this side: later calls raise ``failure``, unread events go."""
        with self._lock:
            self._failure = failure
            self._events.clear()
        self._wake()

    @property
    def status(self) -> int | None:
        """The response's HTTP status, once its headers have arrived."""
        return self._reader.status

    @property
    def answered(self) -> bool:
        """Whether the response has come to a verdict: 200 headers, an error, or the end."""
        with self._lock:
            return self._reader.streaming or self._failure is not None or self._finished

    @property
    def ended(self) -> bool:
        """Whether the service ended the response, without an error."""
        with self._lock:
            return self._finished and self._failure is None

    @property
    def pending_bytes(self) -> int:
        """The data of parts received and not yet read."""
        with self._lock:
            return sum(len(e.data) for e in self._events if isinstance(e, BidiPayloadPart))

    @property
    def failed(self) -> bool:
        """Whether the stream has failed or carried an error event (:meth:`check` raises)."""
        with self._lock:
            return self._failure is not None or self._error_event is not None

    def poll(self) -> tuple[list[BidiEvent], bool] | None:
        """The events ready and whether the response is over; ``None``: nothing yet.

        Raises the failure that ended the stream once the events before it are taken.
        """
        with self._lock:
            self._settle()
            # A poll means the caller has used up what the last one handed over: only
            # now is its window reopened, so the stream never holds more than one window.
            self._grant += self._handed
            self._handed = 0
            if self._events:
                events = list(self._events)
                self._events.clear()
                self._handed, self._ungranted = self._ungranted, 0
                return events, self._finished and self._failure is None
            if self._failure is not None:
                raise self._failure
            if self._finished:
                return [], True
            # The caller waits and holds nothing: what has arrived is a part larger than
            # the window, still coming, which the window must let through.
            self._grant += self._ungranted
            self._ungranted = 0
            return None

    def take_grant(self) -> int:
        """Response bytes the caller has used up: the window to reopen after a poll.

        Called after :meth:`poll`. Bytes handed over by one poll count as used up at the
        next (the caller polls only once it has taken every event it was given), so the
        receive window reopens only as fast as the caller reads: what is held for a slow
        reader, taken or still arriving, stays within one window.
        """
        with self._lock:
            grant, self._grant = self._grant, 0
        return grant

    def check(self) -> None:
        """Raise what ended the stream, if anything did: before a write, and while one waits.

        An error response or failure is raised as it is; an error event (which iteration
        yields as data) as :class:`ModelStreamInterruptedError` or
        :class:`InternalStreamFailureError`, since a part sent after it reaches no model.
        """
        with self._lock:
            self._settle()
            failure, event = self._failure, self._error_event
        if failure is not None:
            raise failure
        if event is not None:
            raise_for_event(event, self.request_id, OPERATION)


class MessagePass:
    """One pass of ``messages()``, sans-I/O: events in, whole messages out.

    :meth:`add` returns the message an event completes (``None`` while it is partial) and
    raises an error event as its exception; :meth:`finish` raises
    :class:`StreamDecodeError` when the stream ended inside a message.
    """

    def __init__(self, inbox: BidiInbox) -> None:
        self._inbox = inbox
        self._joiner = MessageJoiner()

    def add(self, event: BidiEvent) -> bytes | str | None:
        """The message ``event`` completes, if any; raises for an error event."""
        if isinstance(event, BidiPayloadPart):
            return self._joiner.add(event)
        raise_for_event(event, self._inbox.request_id, OPERATION)
        return None

    def finish(self) -> None:
        """At the stream's end: raise if a message was left without its COMPLETE part."""
        if self._joiner.pending:
            raise StreamDecodeError(
                f"the stream ended inside a message ({self._joiner.pending:,} bytes without "
                "their COMPLETE part)",
                request_id=self._inbox.request_id,
                operation=OPERATION,
            )

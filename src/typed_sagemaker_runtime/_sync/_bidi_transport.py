"""The synchronous transport of a bidirectional stream, on awscrt (issue 21).

:class:`~.._base._bidi_crt.CrtBidiStream` does the HTTP/2 work on awscrt's threads and
hands what arrives to a :class:`~.._base._bidi_inbox.BidiInbox`; callers wait on one
condition variable, woken by every arrival and every finished write. So a reader blocked
for the next event and a sender blocked on flow control both see an error response the
moment it is complete, and ``close()`` from any thread wakes them both. awscrt is the
``bidi`` extra: this module is imported only when a bidirectional stream is opened.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import NoReturn, TypeVar

from awscrt import http as crt_http

from .._base._bidi_crt import WRITE_AHEAD, CrtBidiStream, PendingWrites, connect
from .._base._bidi_inbox import BidiInbox
from .._base._bidi_reader import crt_error
from .._base._bidi_setup import BidiSettings
from .._core._bidi_events import BidiEvent, BidiPayloadPart
from .._core._bidi_request import OpenedRequest
from .._core._exceptions import StreamError, TimeoutError, TransportError

_T = TypeVar("_T")

ANSWER_GRACE = 1.0
"""Seconds a failed write waits for the service's answer that explains it (a 403, say)."""
CLOSE_WAIT = 1.0
"""Seconds ``close()`` waits for awscrt to shut the connection down."""


def _wait(future: Future[_T], timeout: float | None, what: str) -> _T:
    try:
        return future.result(timeout)
    except FutureTimeout as exc:
        future.cancel()
        raise TimeoutError(f"bidirectional stream: {what} took over {timeout} s") from exc
    except Exception as exc:
        raise crt_error(exc, what) from exc


class SyncBidiConnection:
    """One bidirectional stream over its own HTTP/2 connection; see :meth:`open`."""

    def __init__(
        self,
        opened: OpenedRequest,
        connection: crt_http.Http2ClientConnection,
        settings: BidiSettings,
    ) -> None:
        self._timeout = settings.read_timeout
        self._changed = threading.Condition()
        self.inbox: BidiInbox = BidiInbox(self._wake)
        """What has arrived: events, the response headers, the failure that ended it."""
        self._stream = CrtBidiStream(opened, connection, self.inbox.put, settings.user_agent)
        self._writes = PendingWrites()
        self._draining = 0  # callers waiting in _drain: only they need a write's completion

    @classmethod
    def open(cls, opened: OpenedRequest, settings: BidiSettings) -> SyncBidiConnection:
        """Connect to ``opened.endpoint`` and send the request's headers (no body yet)."""
        connection = _wait(
            connect(opened, settings),
            settings.connect_timeout,
            "connecting",
        )
        return cls(opened, connection, settings)

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _deadline(self) -> float | None:
        return None if self._timeout is None else time.monotonic() + self._timeout

    def _wait_changed(self, deadline: float | None, what: str) -> None:
        """Wait (holding the condition) for a change; :class:`TimeoutError` at the deadline."""
        now = time.monotonic()
        remaining = None if deadline is None else deadline - now
        settle_at = self.inbox.settle_at
        if settle_at is not None and (remaining is None or settle_at - now < remaining):
            self._changed.wait(max(0.0, settle_at - now))  # then the inbox raises the error
            return
        if (remaining is not None and remaining <= 0) or not self._changed.wait(remaining):
            raise TimeoutError(f"bidirectional stream: {what} for {self._timeout} s")

    def send(self, part: BidiPayloadPart) -> None:
        """Sign and hand one part to awscrt; wait while over :data:`WRITE_AHEAD` is unwritten.

        Raises the stream's error response or failure as soon as it is known, also while
        the write waits for flow control.
        """
        self.inbox.check()
        try:
            written = self._stream.write_part(part)
        except TransportError as exc:
            self._raise_answer(exc)
        self._track(written, len(part.data))
        self._drain(WRITE_AHEAD)

    def end_input(self) -> None:
        """Write the signed empty end frame with END_STREAM and wait until all is written.

        Later calls do nothing.
        """
        self.inbox.check()
        try:
            written = self._stream.write_end()
        except TransportError as exc:
            try:
                self._raise_answer(exc)
            except StreamError:
                if self.inbox.ended:  # the service ended the stream first, and reset it
                    return
                raise
        if written is not None:
            self._track(written, 0)
            self._drain(None)

    def _track(self, written: Future[None], size: int) -> None:
        self._writes.add(written, size)
        written.add_done_callback(self._written)

    def _written(self, _: Future[None]) -> None:
        if self._draining:
            self._wake()

    def _drain(self, limit: int | None) -> None:
        """Wait until at most ``limit`` bytes are unwritten (``None``: every write done)."""
        deadline = self._deadline()
        with self._changed:
            self._draining += 1
            try:
                while True:
                    failure = self._writes.settle()
                    if failure is not None:
                        self._raise_answer(crt_error(failure, "writing"))
                    if self._writes.within(limit):
                        return
                    self.inbox.check()
                    self._wait_changed(deadline, "a write was not taken")
            finally:
                self._draining -= 1

    def _raise_answer(self, failure: TransportError | StreamError) -> NoReturn:
        """A write fails once the service has answered and ended the stream: raise the answer."""
        deadline = time.monotonic() + ANSWER_GRACE
        with self._changed:
            while not self.inbox.answered and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
        self.inbox.check()
        if self.inbox.ended:
            raise StreamError("the service has ended the stream: nothing more can be sent")
        raise failure

    def next_events(self) -> tuple[list[BidiEvent], bool]:
        """Wait for events (or the end); return them and whether the response is over."""
        deadline = self._deadline()
        with self._changed:
            while (polled := self._poll()) is None:
                self._wait_changed(deadline, "nothing was received")
        return polled

    def _poll(self) -> tuple[list[BidiEvent], bool] | None:
        try:
            return self.inbox.poll()
        finally:
            self._stream.grant(self.inbox.take_grant())

    def close(self, failure: BaseException | None = None) -> None:
        """Close the connection; later calls raise ``failure`` (default: a closed stream)."""
        self.inbox.abort(failure or StreamError("the bidirectional stream was closed"))
        with contextlib.suppress(Exception):  # best effort: the connection is gone either way
            self._stream.close().result(CLOSE_WAIT)

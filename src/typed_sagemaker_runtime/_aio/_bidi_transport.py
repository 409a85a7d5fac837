"""The asyncio transport of a bidirectional stream, on awscrt (issue 21).

The twin of ``_sync._bidi_transport``, on the same :class:`~.._base._bidi_crt.CrtBidiStream`
and :class:`~.._base._bidi_inbox.BidiInbox`: every arrival wakes the tasks waiting on the
stream through ``call_soon_threadsafe``, and write futures are awaited with
``asyncio.wrap_future``. ``awscrt.aio.http`` is not used: its stream drains the request
body from a hidden task that writes END_STREAM in a ``finally``, so a stream the service
has already answered (a 403) leaves that task failed with an exception nobody retrieves
(see ``notes/bidi-transport.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Future
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


async def _wait(future: Future[_T], timeout: float | None, what: str) -> _T:
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except asyncio.TimeoutError as exc:
        raise TimeoutError(f"bidirectional stream: {what} took over {timeout} s") from exc
    except Exception as exc:
        raise crt_error(exc, what) from exc


class AsyncBidiConnection:
    """One bidirectional stream over its own HTTP/2 connection; see :meth:`open`."""

    def __init__(
        self,
        opened: OpenedRequest,
        connection: crt_http.Http2ClientConnection,
        settings: BidiSettings,
    ) -> None:
        self._timeout = settings.read_timeout
        self._loop = asyncio.get_running_loop()
        self._waiters: list[asyncio.Future[None]] = []
        self.inbox: BidiInbox = BidiInbox(self._wake)
        """What has arrived: events, the response headers, the failure that ended it."""
        self._stream = CrtBidiStream(opened, connection, self.inbox.put, settings.user_agent)
        self._writes = PendingWrites()
        self._draining = 0  # callers waiting in _drain: only they need a write's completion

    @classmethod
    async def open(cls, opened: OpenedRequest, settings: BidiSettings) -> AsyncBidiConnection:
        """Connect to ``opened.endpoint`` and send the request's headers (no body yet)."""
        connection = await _wait(
            connect(opened, settings),
            settings.connect_timeout,
            "connecting",
        )
        return cls(opened, connection, settings)

    def _wake(self) -> None:
        # Any thread; a closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake_waiters)

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _changed(self, deadline: float | None, what: str) -> None:
        """Wait for the next change; :class:`TimeoutError` at the deadline.

        Callers check the inbox first, without awaiting in between: a change after the
        check schedules a wake-up that runs after this waiter is registered.
        """
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        now = time.monotonic()
        remaining = None if deadline is None else deadline - now
        settle_at = self.inbox.settle_at
        if settle_at is not None and (remaining is None or settle_at - now < remaining):
            with contextlib.suppress(asyncio.TimeoutError):  # then the inbox raises the error
                await asyncio.wait_for(waiter, max(0.0, settle_at - now))
            return
        try:
            await asyncio.wait_for(waiter, remaining)
        except asyncio.TimeoutError:
            raise TimeoutError(f"bidirectional stream: {what} for {self._timeout} s") from None

    def _deadline(self) -> float | None:
        return None if self._timeout is None else time.monotonic() + self._timeout

    async def send(self, part: BidiPayloadPart) -> None:
        """Sign and hand one part to awscrt; wait while over :data:`WRITE_AHEAD` is unwritten."""
        self.inbox.check()
        try:
            written = self._stream.write_part(part)
        except TransportError as exc:
            await self._raise_answer(exc)
        self._track(written, len(part.data))
        await self._drain(WRITE_AHEAD)

    async def end_input(self) -> None:
        """Write the signed empty end frame with END_STREAM and wait until all is written.

        Later calls do nothing.
        """
        self.inbox.check()
        try:
            written = self._stream.write_end()
        except TransportError as exc:
            try:
                await self._raise_answer(exc)
            except StreamError:
                if self.inbox.ended:  # the service ended the stream first, and reset it
                    return
                raise
        if written is not None:
            self._track(written, 0)
            await self._drain(None)

    def _track(self, written: Future[None], size: int) -> None:
        self._writes.add(written, size)
        written.add_done_callback(self._written)

    def _written(self, _: Future[None]) -> None:
        if self._draining:
            self._wake()

    async def _drain(self, limit: int | None) -> None:
        """Wait until at most ``limit`` bytes are unwritten (``None``: every write done)."""
        deadline = self._deadline()
        self._draining += 1
        try:
            while True:
                failure = self._writes.settle()
                if failure is not None:
                    await self._raise_answer(crt_error(failure, "writing"))
                if self._writes.within(limit):
                    return
                self.inbox.check()
                await self._changed(deadline, "a write was not taken")
        finally:
            self._draining -= 1

    async def _raise_answer(self, failure: TransportError | StreamError) -> NoReturn:
        """A write fails once the service has answered and ended the stream: raise the answer."""
        deadline = time.monotonic() + ANSWER_GRACE
        with contextlib.suppress(TimeoutError):
            while not self.inbox.answered:
                await self._changed(deadline, "waiting for the answer")
        self.inbox.check()
        if self.inbox.ended:
            raise StreamError("the service has ended the stream: nothing more can be sent")
        raise failure

    async def next_events(self) -> tuple[list[BidiEvent], bool]:
        """Wait for events (or the end); return them and whether the response is over."""
        deadline = self._deadline()
        while (polled := self._poll()) is None:
            await self._changed(deadline, "nothing was received")
        return polled

    def _poll(self) -> tuple[list[BidiEvent], bool] | None:
        try:
            return self.inbox.poll()
        finally:
            self._stream.grant(self.inbox.take_grant())

    def abort(self, failure: BaseException | None = None) -> Future[None]:
        """Close at once, from any task or thread; later calls raise ``failure``.

        The default failure is a closed stream. Returns awscrt's shutdown future, which
        :meth:`close` waits for.
        """
        self.inbox.abort(failure or StreamError("the bidirectional stream was closed"))
        return self._stream.close()

    async def close(self, failure: BaseException | None = None) -> None:
        """Close the connection, waiting briefly for awscrt to shut it down."""
        shutdown = asyncio.wrap_future(self.abort(failure), loop=self._loop)
        with contextlib.suppress(Exception):  # best effort: the connection is gone either way
            await asyncio.wait_for(shutdown, CLOSE_WAIT)

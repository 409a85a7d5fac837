"""The asyncio transport of a bidirectional stream, on awscrt (issue 21).

The twin of ``_sync._bidi_transport``, on the same :class:`~.._base._bidi_crt.CrtBidiStream`:
awscrt's reports reach an ``asyncio.Queue`` through ``call_soon_threadsafe`` and its write
futures are awaited with ``asyncio.wrap_future``. ``awscrt.aio.http`` is not used: its
stream drains the request body from a hidden task that writes END_STREAM in a ``finally``,
so a stream the service has already answered (a 403) leaves that task failed with an
exception nobody retrieves (see ``notes/bidi-transport.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import NoReturn, TypeVar

from awscrt import http as crt_http

from .._base._bidi_crt import (
    DEFAULT_TIMEOUT,
    CrtBidiStream,
    Item,
    ResponseReader,
    connect,
    crt_error,
)
from .._core._bidi_events import BidiEvent, BidiPayloadPart
from .._core._bidi_request import OpenedRequest
from .._core._exceptions import TimeoutError, TransportError

_T = TypeVar("_T")


async def _wait(future: Future[_T], timeout: float, what: str) -> _T:
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except asyncio.TimeoutError as exc:
        raise TimeoutError(f"bidirectional stream: {what} took over {timeout} s") from exc
    except Exception as exc:
        raise crt_error(exc, what) from exc


class AsyncBidiConnection:
    """One bidirectional stream over its own HTTP/2 connection; see :meth:`open`."""

    def __init__(
        self, opened: OpenedRequest, connection: crt_http.Http2ClientConnection, timeout: float
    ) -> None:
        self._timeout = timeout
        self._items: asyncio.Queue[Item] = asyncio.Queue()
        self._reader = ResponseReader()
        self._finished = False
        loop = asyncio.get_running_loop()

        def sink(item: Item) -> None:
            # awscrt's thread; a closed loop means nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._items.put_nowait, item)

        self._stream = CrtBidiStream(opened, connection, sink)

    @classmethod
    async def open(
        cls,
        opened: OpenedRequest,
        *,
        ca_file: str | None = None,
        verify: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> AsyncBidiConnection:
        """Connect to ``opened.endpoint`` and send the request's headers (no body yet)."""
        connection = await _wait(connect(opened, ca_file, verify), timeout, "connecting")
        return cls(opened, connection, timeout)

    @property
    def status(self) -> int | None:
        """The response's HTTP status, once its headers have arrived."""
        return self._reader.status

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The response's headers, once they have arrived."""
        return self._reader.headers

    async def send(self, part: BidiPayloadPart) -> None:
        """Sign and write one part; returns once awscrt has written it."""
        try:
            await _wait(self._stream.write_part(part), self._timeout, "writing")
        except TransportError as exc:
            await self._raise_answer(exc)

    async def end_input(self) -> None:
        """Write the signed empty end frame with END_STREAM; later calls do nothing."""
        try:
            written = self._stream.write_end()
            if written is not None:
                await _wait(written, self._timeout, "writing")
        except TransportError as exc:
            await self._raise_answer(exc)

    async def _raise_answer(self, failure: TransportError) -> NoReturn:
        """A write fails once the service has answered and ended the stream: raise the answer."""
        if not self._reader.streaming:
            await self.wait_response()  # raises the error response, or why there is none
        raise failure

    async def _read(self) -> list[BidiEvent]:
        try:
            item = await asyncio.wait_for(self._items.get(), self._timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"bidirectional stream: nothing received for {self._timeout} s"
            ) from None
        events, self._finished = self._reader.read(item)
        return events

    async def wait_response(self) -> None:
        """Wait for the response's headers; raise the mapped error for a non-200 status."""
        while not self._reader.streaming:
            await self._read()  # nothing but headers (or an error body) comes before a 200

    async def events(self) -> AsyncIterator[BidiEvent]:
        """The response's events as they arrive, until the service ends its side."""
        await self.wait_response()
        while not self._finished:
            for event in await self._read():
                yield event

    async def close(self) -> None:
        """Close the connection (the stream with it)."""
        try:
            await _wait(self._stream.close(), self._timeout, "closing")
        except Exception:  # best effort: the connection is gone either way
            return

"""The synchronous transport of a bidirectional stream, on awscrt (issue 21).

:class:`~.._base._bidi_crt.CrtBidiStream` does the HTTP/2 work on awscrt's threads; here its
reports land on a ``queue.Queue`` and its write futures are waited on, each with the
transport's timeout, on the caller's thread. awscrt is the ``bidi`` extra: this module is
imported only when a bidirectional stream is opened.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator
from concurrent.futures import Future, TimeoutError as FutureTimeout
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


def _wait(future: Future[_T], timeout: float, what: str) -> _T:
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
        self, opened: OpenedRequest, connection: crt_http.Http2ClientConnection, timeout: float
    ) -> None:
        self._timeout = timeout
        self._items: queue.Queue[Item] = queue.Queue()
        self._reader = ResponseReader()
        self._finished = False
        self._stream = CrtBidiStream(opened, connection, self._items.put)

    @classmethod
    def open(
        cls,
        opened: OpenedRequest,
        *,
        ca_file: str | None = None,
        verify: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> SyncBidiConnection:
        """Connect to ``opened.endpoint`` and send the request's headers (no body yet)."""
        connection = _wait(connect(opened, ca_file, verify), timeout, "connecting")
        return cls(opened, connection, timeout)

    @property
    def status(self) -> int | None:
        """The response's HTTP status, once its headers have arrived."""
        return self._reader.status

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The response's headers, once they have arrived."""
        return self._reader.headers

    def send(self, part: BidiPayloadPart) -> None:
        """Sign and write one part; returns once awscrt has written it."""
        try:
            _wait(self._stream.write_part(part), self._timeout, "writing")
        except TransportError as exc:
            self._raise_answer(exc)

    def end_input(self) -> None:
        """Write the signed empty end frame with END_STREAM; later calls do nothing."""
        try:
            written = self._stream.write_end()
            if written is not None:
                _wait(written, self._timeout, "writing")
        except TransportError as exc:
            self._raise_answer(exc)

    def _raise_answer(self, failure: TransportError) -> NoReturn:
        """A write fails once the service has answered and ended the stream: raise the answer."""
        if not self._reader.streaming:
            self.wait_response()  # raises the error response, or why there is none
        raise failure

    def _read(self) -> list[BidiEvent]:
        try:
            item = self._items.get(timeout=self._timeout)
        except queue.Empty:
            raise TimeoutError(
                f"bidirectional stream: nothing received for {self._timeout} s"
            ) from None
        events, self._finished = self._reader.read(item)
        return events

    def wait_response(self) -> None:
        """Wait for the response's headers; raise the mapped error for a non-200 status."""
        while not self._reader.streaming:
            self._read()  # nothing but headers (or an error body) comes before a 200

    def events(self) -> Iterator[BidiEvent]:
        """The response's events as they arrive, until the service ends its side."""
        self.wait_response()
        while not self._finished:
            yield from self._read()

    def close(self) -> None:
        """Close the connection (the stream with it); waits for awscrt's shutdown briefly."""
        with contextlib.suppress(Exception):  # best effort: the connection is gone either way
            self._stream.close().result(self._timeout)

"""Reading requests off a socket in bounded memory and under wall-clock deadlines.

A per-``recv`` timeout does not stop a client that sends one byte a second (slowloris):
each ``recv`` here may wait only for what is left of the current deadline. Lines are
read up to a limit, bodies up to their declared size, and nothing is buffered beyond
what the parser asked for plus one ``recv``.
"""

from __future__ import annotations

import socket
import time

_RECV_SIZE = 65536


class ReadTimeout(Exception):
    """The deadline passed before the bytes asked for arrived."""


class LineTooLong(Exception):
    """A line ran past the limit it was read with."""


class SocketReader:
    """Reads lines and exact byte counts from a connected socket.

    ``deadline`` (a ``time.monotonic()`` value, or ``None`` for none) bounds every read
    until it is changed; ``waiting`` is true while the connection is idle between
    requests (since ``waiting_since``), so that a full server may close it to make room.
    """

    __slots__ = ("_buffer", "_sock", "deadline", "waiting", "waiting_since")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self.deadline: float | None = None
        self.waiting = False
        self.waiting_since = 0.0

    def _fill(self, size: int = _RECV_SIZE) -> bool:
        """Receive up to ``size`` more bytes into the buffer; ``False`` at end of stream."""
        timeout = None
        if self.deadline is not None:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                raise ReadTimeout
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(min(size, _RECV_SIZE))
        except TimeoutError:
            raise ReadTimeout from None
        if not data:
            return False
        self._buffer += data
        return True

    def wait_for_request(self, idle_timeout: float | None) -> bool:
        """Wait for the first byte of the next request.

        ``False`` when the client closed the connection, or sent nothing for
        ``idle_timeout`` seconds (``None``: wait as long as it takes).
        """
        if self._buffer:
            return True
        self.waiting_since = time.monotonic()
        self.deadline = None if idle_timeout is None else self.waiting_since + idle_timeout
        self.waiting = True
        try:
            return self._fill()
        except ReadTimeout:
            return False
        finally:
            self.waiting = False

    def readline(self, limit: int) -> bytes:
        """The next line with its line feed; ``b""`` at end of stream between lines.

        Raises ``LineTooLong`` when no line feed comes within ``limit`` bytes and
        ``ConnectionAbortedError`` when the stream ends in the middle of a line.
        """
        searched = 0
        while True:
            end = self._buffer.find(b"\n", searched)
            if end >= 0:
                if end >= limit:
                    raise LineTooLong
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) >= limit:
                raise LineTooLong
            searched = len(self._buffer)
            if not self._fill():
                if self._buffer:
                    raise ConnectionAbortedError("the client closed the connection mid-line")
                return b""

    def read_exact(self, size: int) -> bytes:
        """Exactly ``size`` bytes; ``ConnectionAbortedError`` if the stream ends first."""
        while len(self._buffer) < size:
            if not self._fill(size - len(self._buffer)):
                raise ConnectionAbortedError("the client closed the connection mid-request")
        with memoryview(self._buffer) as view:  # one copy, not a slice and a copy
            data = bytes(view[:size])
        if len(self._buffer) == size:  # let a large body's buffer go, not keep its capacity
            self._buffer = bytearray()
        else:
            del self._buffer[:size]
        return data

    def discard(self, seconds: float) -> None:
        """Read and drop whatever arrives for up to ``seconds``, or until the stream ends.

        Used after answering a request whose body was not read: closing at once, with
        bytes still unread, would send a TCP reset that can destroy the answer before
        the client reads it (RFC 9112, section 9.6).
        """
        self.deadline = time.monotonic() + seconds
        self._buffer.clear()
        try:
            while self._fill():
                self._buffer.clear()
        except (ReadTimeout, OSError):
            pass

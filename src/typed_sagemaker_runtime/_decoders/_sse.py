"""Server-sent events (WHATWG ``text/event-stream``) over payload bytes, sans-I/O."""

from __future__ import annotations

from dataclasses import dataclass

from .._core._exceptions import StreamDecodeError
from .._core._public import public
from ._text import DEFAULT_MAX_LINE_BYTES, BaseDecoder, LineDecoder

__all__ = ["SSEDecoder", "SSEParser", "ServerSentEvent"]


@public
@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched server-sent event."""

    data: str
    """The ``data`` field values of the event, joined with ``"\\n"``."""
    event: str | None = None
    """The ``event`` field (the event type); ``None`` when absent or empty (a "message")."""
    id: str | None = None
    """The last event ID of the stream so far (it carries over to later events, per spec)."""
    retry: int | None = None
    """The reconnection time in milliseconds, from a ``retry`` field since the last event."""

    def __repr__(self) -> str:
        # Event data is model output and may be sensitive or huge: show the size only.
        return (
            f"ServerSentEvent(data=<{len(self.data)} chars>, event={self.event!r}, "
            f"id={self.id!r}, retry={self.retry!r})"
        )


class SSEParser:
    """The line-by-line state machine of the WHATWG event-stream format.

    Feed it decoded lines without their terminators; :meth:`line` returns an event
    when a blank line dispatches one. Lines starting with ``:`` are comments. A field
    value loses exactly one leading space. Unknown fields are ignored, and a blank
    line with no ``data`` dispatches nothing (keep-alives such as ``:\\n\\n``), except,
    with ``keep_dataless_errors``, an event of type ``error``: dispatched with empty data,
    so an LLM stream's reader cannot miss the server saying it failed.
    """

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_first",
        "_keep_errors",
        "_last_id",
        "_max_data",
        "_retry",
    )

    def __init__(
        self, *, max_data_chars: int = DEFAULT_MAX_LINE_BYTES, keep_dataless_errors: bool = False
    ) -> None:
        self._keep_errors = keep_dataless_errors
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None
        self._first = True
        self._max_data = max_data_chars

    @property
    def buffered(self) -> int:
        """Characters of ``data`` held for the event being built."""
        return self._data_size

    def line(self, line: str) -> ServerSentEvent | None:
        """Process one line; return the event it dispatches, if any."""
        if self._first:
            self._first = False
            if line.startswith("\ufeff"):
                line = line[1:]
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > self._max_data:
                raise StreamDecodeError(
                    f"a server-sent event has more than {self._max_data} characters of data"
                )
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        elif name == "id":
            if "\0" not in value:
                self._last_id = value or None
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) < 19:
            self._retry = int(value)
        return None

    def lone_data(self) -> bool:
        """Whether a ``data`` line and a blank line would dispatch exactly that line's value.

        True when no field of an event is pending. A caller that handles such an event
        itself (a fast path) then calls :meth:`skip_lone_data`.
        """
        return not self._data and self._event is None

    def skip_lone_data(self) -> None:
        """Leave the parser as a lone ``data`` line and a blank line leave it (a fast path)."""
        self._first = False
        self._retry = None

    def end(self) -> ServerSentEvent | None:
        """Signal the end of the stream: dispatch an event still missing its blank line."""
        return self._dispatch()

    def _dispatch(self) -> ServerSentEvent | None:
        event, self._event = self._event, None
        if not self._data:
            if event == "error" and self._keep_errors:
                self._retry = None
                return ServerSentEvent(data="", event=event, id=self._last_id, retry=None)
            return None
        data = "\n".join(self._data)
        self._data.clear()
        self._data_size = 0
        retry, self._retry = self._retry, None
        return ServerSentEvent(data=data, event=event, id=self._last_id, retry=retry)


class SSEDecoder(BaseDecoder[ServerSentEvent]):
    """Incremental server-sent events decoder from payload bytes.

    Lines are split as by :class:`LineDecoder` (``\\n``, ``\\r\\n``, ``\\r``, also
    across feeds) and parsed by the WHATWG rules (see :class:`SSEParser`). Unlike a
    browser, ``flush`` dispatches an event that the server never ended with a blank
    line. ``max_line_bytes`` bounds both a line and the data of one event.
    """

    __slots__ = ("_lines", "_parser")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__()
        self._lines = LineDecoder(max_line_bytes=max_line_bytes)
        self._parser = SSEParser(max_data_chars=max_line_bytes)

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete line plus characters of an undispatched event."""
        return self._lines.buffered + self._parser.buffered

    def _feed(self, data: bytes, out: list[ServerSentEvent]) -> None:
        parse = self._parser.line
        for line in self._lines.feed(data):
            event = parse(line)
            if event is not None:
                out.append(event)

    def _flush(self, out: list[ServerSentEvent]) -> None:
        parse = self._parser.line
        for line in self._lines.flush():
            event = parse(line)
            if event is not None:
                out.append(event)
        event = self._parser.end()
        if event is not None:
            out.append(event)

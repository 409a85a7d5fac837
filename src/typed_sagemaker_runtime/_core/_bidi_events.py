"""Events of InvokeEndpointWithBidirectionalStream on the wire, both ways, sans-I/O.

Built on the event-stream codec in :mod:`._eventstream`. A request event is a
``PayloadPart`` message (docs ``bidi-protocol.md`` section 1): headers ``:message-type``
``event``, ``:event-type`` ``PayloadPart``, the optional string headers ``DataType``
(``UTF8``/``BINARY``) and ``CompletionState`` (``PARTIAL``/``COMPLETE``), and
``:content-type: application/octet-stream`` when the payload is not empty, in the order
AWS's serializer writes them; the payload is the part's raw bytes. Each such *inner* message
becomes the payload of a signed *outer* message (:mod:`._bidi_signing`).

The response carries the same ``PayloadPart`` messages unsigned, or a ``ModelStreamError``
/ ``InternalStreamFailure`` exception message, decoded as the response stream's are.
The optional padding header ``P`` is neither sent nor reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias, cast

from ._events import InternalStreamFailure, ModelStreamError
from ._eventstream import (
    MAX_PAYLOAD_LENGTH,
    EncodableHeaderValue,
    FrameDecoder,
    HeaderValue,
    encode_event,
    encode_frame,
    error_event,
    parse_headers,
)
from ._exceptions import ClientValidationError, StreamDecodeError
from ._public import public

OPERATION = "InvokeEndpointWithBidirectionalStream"
"""The operation's name, as AWS spells it."""
DATA_TYPES = ("UTF8", "BINARY")
"""The values of ``DataType``: UTF-8 text, or bytes."""
COMPLETION_STATES = ("PARTIAL", "COMPLETE")
"""The values of ``CompletionState``: a fragment, or the last piece of a message."""
MAX_PART_BYTES = MAX_PAYLOAD_LENGTH - 1024
"""The largest part's data: its inner message must fit an outer frame's payload.

This is the codec's frame limit (what the local endpoint accepts), not a documented
service limit.
"""


@public
@dataclass(frozen=True, slots=True)
class BidiPayloadPart:
    """A piece of a bidirectional stream, either way, with its headers as sent."""

    data: bytes
    """The bytes of this part (UTF-8 text when ``data_type`` is ``"UTF8"``)."""
    data_type: str | None
    """``"UTF8"`` or ``"BINARY"`` as sent; ``None``: not sent (the service reads BINARY)."""
    completion_state: str | None
    """``"PARTIAL"`` or ``"COMPLETE"`` as sent; ``None``: not sent (the service reads COMPLETE)."""

    def __repr__(self) -> str:
        # Payloads may be sensitive or huge: show the size only.
        return (
            f"BidiPayloadPart(<{len(self.data)} bytes>, data_type={self.data_type!r}, "
            f"completion_state={self.completion_state!r})"
        )

    def __reduce__(
        self,
    ) -> tuple[type[BidiPayloadPart], tuple[bytes, str | None, str | None]]:
        # Python 3.10 cannot unpickle a frozen dataclass with slots by default.
        return (BidiPayloadPart, (self.data, self.data_type, self.completion_state))


BidiEvent: TypeAlias = BidiPayloadPart | ModelStreamError | InternalStreamFailure
"""An event of a bidirectional stream's response."""

BidiInput: TypeAlias = "bytes | bytearray | memoryview | str | BidiPayloadPart"
"""What may be sent as a part: bytes-like (BINARY), ``str`` (UTF8), or a part as it is."""


def _fail(field: str, message: str) -> ClientValidationError:
    return ClientValidationError(f"{field}: {message}", field=field, operation=OPERATION)


def _check_choice(field: str, value: object, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in choices:
        return value
    allowed = " or ".join(repr(choice) for choice in choices)
    shown = repr(value[:20]) if isinstance(value, str) else type(value).__name__
    raise _fail(field, f"must be {allowed} or None, got {shown}")


def request_part(
    data: object,
    *,
    data_type: object = None,
    completion_state: object = None,
    field: str = "data",
) -> BidiPayloadPart:
    """Validate what a caller sends and make it a part; :class:`ClientValidationError` if not.

    ``str`` is sent as UTF-8 with ``DataType: UTF8`` and bytes-like data as ``BINARY``,
    unless ``data_type`` says otherwise. A :class:`BidiPayloadPart` is checked and kept as
    it is (``data_type``/``completion_state`` must then be ``None``). ``field`` names the
    argument in errors (``"data"``, ``"input"``).
    """
    if isinstance(data, BidiPayloadPart):
        if data_type is not None or completion_state is not None:
            raise _fail("data_type", "give the part's own data_type, not an argument beside it")
        given = cast("object", data.data)  # a dataclass does not check its field types
        if not isinstance(given, bytes):
            raise _fail(field, f"BidiPayloadPart.data must be bytes, got {type(given).__name__}")
        data_type, completion_state = data.data_type, data.completion_state
        raw = given
        default_type = None
    elif isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail(field, "holds a lone surrogate (no UTF-8 encoding)") from None
        default_type = "UTF8"
    elif isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
        default_type = "BINARY"
    elif isinstance(data, memoryview):
        raw = cast("memoryview[int]", data).tobytes()
        default_type = "BINARY"
    else:
        raise _fail(
            field,
            f"expected bytes, bytearray, memoryview, str or BidiPayloadPart, "
            f"got {type(data).__name__}",
        )
    checked_type = _check_choice("data_type", data_type, DATA_TYPES)
    checked_state = _check_choice("completion_state", completion_state, COMPLETION_STATES)
    if len(raw) > MAX_PART_BYTES:
        raise _fail(
            field, f"{len(raw):,} bytes is over the {MAX_PART_BYTES:,}-byte limit of a part"
        )
    return BidiPayloadPart(raw, checked_type or default_type, checked_state)


def _part_headers(part: BidiPayloadPart) -> dict[str, EncodableHeaderValue]:
    headers: dict[str, EncodableHeaderValue] = {
        ":message-type": "event",
        ":event-type": "PayloadPart",
    }
    if part.data_type is not None:
        headers["DataType"] = part.data_type
    if part.completion_state is not None:
        headers["CompletionState"] = part.completion_state
    if part.data:
        headers[":content-type"] = "application/octet-stream"
    return headers


def encode_part(part: BidiPayloadPart) -> bytes:
    """The inner event-stream message of a ``PayloadPart`` (request or response)."""
    return encode_frame(_part_headers(part), part.data)


def encode_response_event(event: BidiEvent) -> bytes:
    """A response event as the service writes it: for the local endpoint."""
    if isinstance(event, BidiPayloadPart):
        return encode_part(event)
    return encode_event(event)


def _string(headers: Mapping[str, HeaderValue], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None


def part_from_frame(headers: Mapping[str, HeaderValue], payload: bytes) -> BidiPayloadPart | None:
    """The part a parsed ``PayloadPart`` event frame carries; ``None`` for any other frame."""
    if headers.get(":message-type") != "event" or headers.get(":event-type") != "PayloadPart":
        return None
    return BidiPayloadPart(
        payload, _string(headers, "DataType"), _string(headers, "CompletionState")
    )


def decode_request_part(message: bytes) -> BidiPayloadPart:
    """The part in one inner request message (an outer frame's payload).

    Raises :class:`StreamDecodeError` if it is not exactly one valid ``PayloadPart`` message.
    """
    decoder = FrameDecoder()
    frames = decoder.feed(message)
    decoder.finish()
    if len(frames) != 1:
        raise StreamDecodeError(f"an event must hold one message, not {len(frames)}")
    raw_headers, payload = frames[0]
    part = part_from_frame(parse_headers(raw_headers), payload)
    if part is None:
        raise StreamDecodeError("the event is not a PayloadPart")
    return part


class BidiEventDecoder:
    """Incremental decoder of a bidirectional stream's response into :data:`BidiEvent`.

    Frames that are neither parts nor errors (an unknown ``:event-type``) are skipped;
    ``:message-type: error`` frames and unknown exception types become
    :class:`InternalStreamFailure`. As with :class:`EventDecoder`, the events before a
    corrupt frame are returned first and the error is raised by the next call.
    """

    __slots__ = ("_error", "_frames", "_headers")

    def __init__(self) -> None:
        self._frames = FrameDecoder()
        self._headers: dict[bytes, dict[str, HeaderValue]] = {}
        self._error: StreamDecodeError | None = None

    def feed(self, data: bytes) -> list[BidiEvent]:
        """Add bytes; return the events now complete."""
        if self._error is not None:
            raise self._error
        events: list[BidiEvent] = []
        for raw_headers, payload in self._frames.feed(data):
            headers = self._headers.get(raw_headers)
            if headers is None:
                try:
                    headers = parse_headers(raw_headers)
                except StreamDecodeError as exc:
                    self._error = exc
                    if not events:
                        raise
                    return events
                if len(self._headers) < 64:
                    self._headers[raw_headers] = headers
            part = part_from_frame(headers, payload)
            event = part if part is not None else error_event(headers, payload)
            if event is not None:
                events.append(event)
        return events

    def finish(self) -> None:
        """Signal the end of input; raise ``StreamDecodeError`` if a frame is incomplete."""
        if self._error is not None:
            raise self._error
        self._frames.finish()


MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The default bound of one message joined from PARTIAL parts."""


class MessageJoiner:
    """Joins PARTIAL parts up to the COMPLETE one: what ``messages()`` yields, sans-I/O.

    ``add(part)`` returns the finished message, or ``None`` while it is still partial. A
    part without ``CompletionState`` is complete (the service's default). The message is
    ``str`` when its first part is UTF8, else ``bytes`` (no ``DataType`` means BINARY), and
    its UTF-8 is decoded once whole, so a character may be split across parts. Invalid
    UTF-8 or a message over ``max_bytes`` raises :class:`StreamDecodeError`.
    """

    __slots__ = ("_data_type", "_max_bytes", "_pieces", "_size")

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._pieces: list[bytes] = []
        self._size = 0
        self._data_type: str | None = None

    @property
    def pending(self) -> int:
        """Bytes of a message still waiting for its COMPLETE part."""
        return self._size

    def add(self, part: BidiPayloadPart) -> bytes | str | None:
        """Add the next part; return the message it completes, if it does."""
        if not self._pieces:
            self._data_type = part.data_type
        self._size += len(part.data)
        if self._size > self._max_bytes:
            self._pieces.clear()
            self._size = 0
            raise StreamDecodeError(
                f"a message joined from PARTIAL parts is over {self._max_bytes:,} bytes"
            )
        self._pieces.append(part.data)
        if part.completion_state == "PARTIAL":
            return None
        return self._take()

    def finish(self) -> bytes | str | None:
        """At the end of the stream: the message left without its COMPLETE part, if any."""
        return self._take() if self._pieces else None

    def _take(self) -> bytes | str:
        data = b"".join(self._pieces)
        self._pieces.clear()
        self._size = 0
        if self._data_type != "UTF8":
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StreamDecodeError(f"a UTF8 message is not valid UTF-8: {exc.reason}") from None

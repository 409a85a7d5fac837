"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``), sans-I/O.

We decode the frames ourselves instead of using botocore's ``EventStream``, because:

* botocore raises ``ModelStreamError`` and ``InternalStreamFailure`` as a bare
  ``EventStreamError`` and drops the ``ErrorCode`` member;
* botocore treats a stream cut in the middle of a message as a clean end;
* botocore's ``EventStreamBuffer`` grows with ``+=`` and re-slices after every
  message, which is quadratic for large frames arriving in small reads and about
  4x slower than a read-offset decoder for small frames.

The encoder is written here too: botocore has none, awscrt exposes no standalone
encoder, and smithy's event-stream package needs Python 3.12. The local endpoint
and the ``testing`` helpers use it to write real frames.

Frame layout (all integers big-endian)::

    total_length:u32 headers_length:u32 prelude_crc:u32 headers payload message_crc:u32
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias, cast

from ._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from ._exceptions import StreamDecodeError

HeaderValue: TypeAlias = bool | int | bytes | str
"""A decoded header value. Timestamps decode to ``int`` milliseconds, UUIDs to 16 ``bytes``."""


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A header value to encode as an event-stream timestamp (type 8), e.g. a signed ``:date``.

    Decoding gives the plain ``int`` milliseconds back (see :data:`HeaderValue`).
    """

    millis: int
    """Milliseconds since the Unix epoch."""


EncodableHeaderValue: TypeAlias = HeaderValue | Timestamp
"""What :func:`encode_frame` writes: a :data:`HeaderValue`, or a :class:`Timestamp`."""

PRELUDE_LENGTH = 12
MIN_FRAME_LENGTH = PRELUDE_LENGTH + 4
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
MAX_FRAME_LENGTH = MIN_FRAME_LENGTH + MAX_HEADERS_LENGTH + MAX_PAYLOAD_LENGTH

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_INT_TYPES = {2: struct.Struct(">b"), 3: struct.Struct(">h"), 4: struct.Struct(">i")}
_I64 = struct.Struct(">q")
_crc32 = zlib.crc32


def _decode_error(message: str) -> StreamDecodeError:
    return StreamDecodeError(message)


def parse_headers(raw: bytes | memoryview) -> dict[str, HeaderValue]:
    """Parse a frame's header block into a dict. Raises ``StreamDecodeError`` when malformed."""
    headers: dict[str, HeaderValue] = {}
    end = len(raw)
    pos = 0
    try:
        while pos < end:
            name_length = raw[pos]
            pos += 1
            name = bytes(raw[pos : pos + name_length]).decode("utf-8")
            pos += name_length
            if pos >= end:
                raise _decode_error("event-stream header is truncated")
            kind = raw[pos]
            pos += 1
            value: HeaderValue
            if kind == 0:
                value = True
            elif kind == 1:
                value = False
            elif kind in _INT_TYPES:
                fmt = _INT_TYPES[kind]
                (value,) = fmt.unpack_from(raw, pos)
                pos += fmt.size
            elif kind in (5, 8):  # int64, timestamp (ms since epoch)
                (value,) = _I64.unpack_from(raw, pos)
                pos += 8
            elif kind in (6, 7):  # byte array, string
                (length,) = _U16.unpack_from(raw, pos)
                pos += 2
                if pos + length > end:
                    raise _decode_error("event-stream header value is truncated")
                data = bytes(raw[pos : pos + length])
                pos += length
                value = data.decode("utf-8") if kind == 7 else data
            elif kind == 9:  # uuid
                if pos + 16 > end:
                    raise _decode_error("event-stream header value is truncated")
                value = bytes(raw[pos : pos + 16])
                pos += 16
            else:
                raise _decode_error(f"unknown event-stream header type {kind}")
            headers[name] = value
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise _decode_error(f"malformed event-stream headers: {exc}") from exc
    if pos != end:
        raise _decode_error("event-stream header is truncated")
    return headers


class FrameDecoder:
    """Incremental frame decoder: ``feed(bytes)`` returns complete ``(headers, payload)`` frames.

    Both CRCs are checked. Input is parsed in place where possible; only an incomplete
    tail is kept, so memory is bounded by the longest frame and time is linear in the input.

    When a ``feed`` finds an invalid frame after complete ones, it returns those and the
    error is raised by the next call (``feed`` or ``finish``), so the frames before an
    error do not depend on how the input was cut. After an error every call raises it.
    """

    __slots__ = ("_buffer", "_error", "_needed")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._needed = 0  # bytes the buffered frame needs before it can be parsed
        self._error: StreamDecodeError | None = None

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back for the next ``feed``."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Add bytes; return the raw header block and payload of every frame now complete."""
        if self._error is not None:
            raise self._error
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._needed:
                return []
            source: bytes | bytearray = buffer
        else:
            source = data
        frames: list[tuple[bytes, bytes]] = []
        end = len(source)
        pos = 0
        needed = PRELUDE_LENGTH
        view = memoryview(source)
        failure: StreamDecodeError | None = None
        try:
            while end - pos >= PRELUDE_LENGTH:
                total, headers_length, prelude_crc = _PRELUDE.unpack_from(source, pos)
                if _crc32(view[pos : pos + 8]) != prelude_crc:
                    raise _decode_error("event-stream prelude checksum mismatch")
                if total < MIN_FRAME_LENGTH or headers_length > total - MIN_FRAME_LENGTH:
                    raise _decode_error(f"invalid event-stream frame length {total}")
                if headers_length > MAX_HEADERS_LENGTH or total > MAX_FRAME_LENGTH:
                    raise _decode_error(f"event-stream frame of {total} bytes exceeds the limit")
                if end - pos < total:
                    needed = total
                    break
                crc_at = pos + total - 4
                (message_crc,) = _U32.unpack_from(source, crc_at)
                if _crc32(view[pos:crc_at]) != message_crc:
                    raise _decode_error("event-stream message checksum mismatch")
                payload_at = pos + PRELUDE_LENGTH + headers_length
                frames.append(
                    (bytes(view[pos + PRELUDE_LENGTH : payload_at]), bytes(view[payload_at:crc_at]))
                )
                pos += total
            if not buffer and pos < end:
                buffer += view[pos:]
        except StreamDecodeError as exc:
            failure = exc
        finally:
            view.release()
        if failure is not None:
            self._error = failure
            buffer.clear()
            self._needed = 0
            if not frames:
                raise failure
            return frames
        if source is buffer and pos:
            del buffer[:pos]
        self._needed = needed
        return frames

    def finish(self) -> None:
        """Signal the end of input; raise ``StreamDecodeError`` if a frame is incomplete."""
        if self._error is not None:
            raise self._error
        if self._buffer:
            held = len(self._buffer)
            self._buffer.clear()
            raise _decode_error(
                f"the event stream ended in the middle of a message ({held} bytes left over)"
            )


# Kinds of frame, decided once per distinct header block (they repeat for every event).
_PAYLOAD = 0
_MODEL_STREAM_ERROR = 1
_INTERNAL_STREAM_FAILURE = 2
_SKIP = 3
_ERROR_MESSAGE = 4


def _classify(headers: Mapping[str, HeaderValue]) -> int:
    message_type = headers.get(":message-type")
    if message_type == "event":
        return _PAYLOAD if headers.get(":event-type") == "PayloadPart" else _SKIP
    if message_type == "exception":
        exception_type = headers.get(":exception-type")
        if exception_type == "ModelStreamError":
            return _MODEL_STREAM_ERROR
        return _INTERNAL_STREAM_FAILURE
    if message_type == "error":
        return _ERROR_MESSAGE
    return _SKIP


def _error_fields(payload: bytes) -> tuple[str | None, str | None]:
    try:
        decoded: object = json.loads(payload) if payload else {}
    except (ValueError, RecursionError):
        return payload.decode("utf-8", "replace") or None, None
    if not isinstance(decoded, dict):
        return None, None
    body = cast("dict[str, object]", decoded)
    message = body.get("Message", body.get("message"))
    code = body.get("ErrorCode", body.get("errorCode"))
    return (
        message if isinstance(message, str) else None,
        code if isinstance(code, str) else None,
    )


def _error_event(
    kind: int, headers: Mapping[str, HeaderValue], payload: bytes
) -> ModelStreamError | InternalStreamFailure:
    if kind == _MODEL_STREAM_ERROR:
        message, code = _error_fields(payload)
        return ModelStreamError(message=message, error_code=code)
    if kind == _INTERNAL_STREAM_FAILURE:
        message, _ = _error_fields(payload)
        exception_type = headers.get(":exception-type")
        if exception_type != "InternalStreamFailure" and isinstance(exception_type, str):
            message = f"{exception_type}: {message}" if message else exception_type
        return InternalStreamFailure(message=message)
    parts = [
        str(value)
        for value in (headers.get(":error-code"), headers.get(":error-message"))
        if value is not None
    ]
    return InternalStreamFailure(message=": ".join(parts) or None)


def error_event(
    headers: Mapping[str, HeaderValue], payload: bytes
) -> ModelStreamError | InternalStreamFailure | None:
    """The error event a parsed frame carries, or ``None`` if it is not an error frame.

    ``:message-type: exception`` of an unknown type and ``:message-type: error`` become
    :class:`InternalStreamFailure`, as in :class:`EventDecoder`.
    """
    kind = _classify(headers)
    if kind in (_PAYLOAD, _SKIP):
        return None
    return _error_event(kind, headers, payload)


class EventDecoder:
    """Incremental decoder from event-stream bytes to typed SageMaker stream events.

    Frames that are valid but not SageMaker events (unknown ``:event-type``, no
    headers) are skipped. ``:message-type: error`` frames and unknown exception types
    become :class:`InternalStreamFailure`, since they end the stream in error.

    Errors follow :class:`FrameDecoder`'s rule: the events before an invalid frame are
    returned first, and the error is raised by the next call.
    """

    __slots__ = ("_error", "_frames", "_kinds")

    def __init__(self) -> None:
        self._frames = FrameDecoder()
        self._kinds: dict[bytes, tuple[int, dict[str, HeaderValue]]] = {}
        self._error: StreamDecodeError | None = None

    def feed(self, data: bytes) -> list[StreamEvent]:
        """Add bytes; return the events now complete."""
        if self._error is not None:
            raise self._error
        events: list[StreamEvent] = []
        kinds = self._kinds
        for raw_headers, payload in self._frames.feed(data):
            known = kinds.get(raw_headers)
            if known is None:
                try:
                    headers = parse_headers(raw_headers)
                except StreamDecodeError as exc:
                    self._error = exc
                    if not events:
                        raise
                    return events
                known = (_classify(headers), headers)
                if len(kinds) < 64:
                    kinds[raw_headers] = known
            kind = known[0]
            if kind == _PAYLOAD:
                events.append(PayloadPart(payload))
            elif kind != _SKIP:
                events.append(_error_event(kind, known[1], payload))
        return events

    def finish(self) -> None:
        """Signal the end of input; raise ``StreamDecodeError`` if a frame is incomplete."""
        if self._error is not None:
            raise self._error
        self._frames.finish()


# --- Encoding ---------------------------------------------------------------------------


def _encode_header(name: str, value: EncodableHeaderValue) -> bytes:
    encoded_name = name.encode("utf-8")
    prefix = bytes([len(encoded_name)]) + encoded_name
    if isinstance(value, Timestamp):
        return prefix + b"\x08" + _I64.pack(value.millis)
    if isinstance(value, bool):
        return prefix + (b"\x00" if value else b"\x01")
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return prefix + b"\x04" + struct.pack(">i", value)
        return prefix + b"\x05" + _I64.pack(value)
    if isinstance(value, str):
        data, kind = value.encode("utf-8"), b"\x07"
    else:
        data, kind = bytes(value), b"\x06"
    return prefix + kind + _U16.pack(len(data)) + data


def encode_headers(headers: Mapping[str, EncodableHeaderValue]) -> bytes:
    """Encode a frame's header block, in the mapping's order."""
    return b"".join(_encode_header(name, value) for name, value in headers.items())


def encode_frame(headers: Mapping[str, EncodableHeaderValue], payload: bytes = b"") -> bytes:
    """Encode one event-stream frame with both CRCs."""
    header_block = encode_headers(headers)
    total = MIN_FRAME_LENGTH + len(header_block) + len(payload)
    prelude = struct.pack(">II", total, len(header_block))
    message = prelude + _U32.pack(_crc32(prelude)) + header_block + payload
    return message + _U32.pack(_crc32(message))


_PAYLOAD_HEADERS: Mapping[str, HeaderValue] = {
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
    ":message-type": "event",
}


def encode_event(event: StreamEvent) -> bytes:
    """Encode a typed event exactly as SageMaker writes it on the wire."""
    if isinstance(event, PayloadPart):
        return encode_frame(_PAYLOAD_HEADERS, event.data)
    body: dict[str, str] = {}
    if event.message is not None:
        body["Message"] = event.message
    if isinstance(event, ModelStreamError):
        name = "ModelStreamError"
        if event.error_code is not None:
            body["ErrorCode"] = event.error_code
    else:
        name = "InternalStreamFailure"
    headers: Mapping[str, HeaderValue] = {
        ":exception-type": name,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_frame(headers, json.dumps(body).encode("utf-8"))

"""Runs one bidirectional stream's backend on a thread of its own, and its fault.

The backend (a :data:`BidiHandler` called with the parts iterator, or a
:class:`BidiBackend` given a :class:`BidiInvocation`) reads the request's parts as they
arrive and yields :data:`BidiOutput`: ``bytes`` become BINARY parts, ``str`` UTF8 parts, a
:class:`BidiPayloadPart` is sent as it is, and a ``ModelStreamError`` /
``InternalStreamFailure`` is sent as the stream's error event, which ends the response. An
exception raised by the backend ends the stream with an ``InternalStreamFailure`` event
whose message names only the exception's type (nothing of the request).

The stream's fault (chosen when it opened) is applied here: an HTTP error, a raw response,
a stall, a reset of the stream or of the connection before the headers; or, counted in
response parts, an error event, a stall, a reset, a corrupt or truncated frame, slow parts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from ..._core._bidi_events import BidiEvent, BidiPayloadPart, encode_response_event
from ..._core._events import InternalStreamFailure, ModelStreamError
from ..._core._eventstream import encode_frame
from .._bidi_model import BidiBackend, BidiHandler, BidiInvocation, BidiOutput
from .._faults import (
    ConnectionReset,
    CorruptFrame,
    ErrorResponse,
    Fault,
    RawResponse,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    StreamReset,
    TruncatedFrame,
    bidi_error_status,
)
from ._bidi_stream import (
    Action,
    DropConnection,
    EndStream,
    Post,
    RequestStream,
    ResetStream,
    SendData,
    SendHeaders,
    error_actions,
)
from ._errors import error_body, error_headers

logger = logging.getLogger("typed_sagemaker_runtime.testing")

_FILLER = BidiPayloadPart(b"local-sagemaker-filler", "BINARY", None)
"""The "next frame" of a truncated or corrupt frame when the backend has none."""


def echo_bidi(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiPayloadPart]:
    """The default bidirectional backend: answers every part with itself, at once."""
    yield from parts


def as_event(output: BidiOutput) -> BidiEvent:
    """A backend's output as the event sent; ``TypeError`` for anything else."""
    if isinstance(output, (BidiPayloadPart, ModelStreamError, InternalStreamFailure)):
        return output
    if isinstance(output, str):
        return BidiPayloadPart(output.encode("utf-8"), "UTF8", None)
    given = cast("object", output)  # a backend may break its annotation
    if isinstance(given, (bytes, bytearray)):
        return BidiPayloadPart(bytes(given), "BINARY", None)
    raise TypeError(
        f"a bidirectional backend yields bytes, str, BidiPayloadPart, ModelStreamError or "
        f"InternalStreamFailure, not {type(given).__name__}"
    )


def _flip_last_byte(frame: bytes) -> bytes:
    # The byte before the message CRC: payload (or header) data, never the prelude.
    return frame[:-5] + bytes([frame[-5] ^ 0xFF]) + frame[-4:]


@dataclass(frozen=True, slots=True)
class StreamContext:
    """What a runner needs beside its stream: where it is and what it answers with."""

    invocation: BidiInvocation
    backend: BidiHandler | BidiBackend
    fault: Fault | None
    region_name: str
    account_id: str
    response_headers: tuple[tuple[str, str], ...]


class _Done:
    """The end of the backend's outputs."""


_DONE = _Done()


class _Ended(Exception):
    """The response has ended (or the stream is gone): stop reading the backend."""


class StreamRunner:
    """Answers one stream: the fault before the headers, then the backend's outputs."""

    def __init__(self, request: RequestStream, context: StreamContext, post: Post) -> None:
        self.request = request
        self._context = context
        self._post = post
        self._lock = threading.Lock()
        self._finished = False
        self._headers_sent = False
        self.thread = threading.Thread(
            target=self._run, name=f"smr-bidi-stream-{request.stream_id}", daemon=True
        )

    # --- writing -------------------------------------------------------------------------

    def _send(self, *actions: Action, last: bool = False, hold: bool = True) -> None:
        """Post actions unless the response has ended; ``last`` ends it.

        With ``hold``, data waits first while the stream's backlog is full (never under the
        lock, which the connection's thread takes to refuse an event).
        """
        size = sum(len(action.data) for action in actions if isinstance(action, SendData))
        if hold and size:
            self.request.backlog.add(size)
        with self._lock:
            if self._finished or self.request.cancelled.is_set():
                raise _Ended
            for action in actions:
                self._post(self.request.stream_id, action)
                self._headers_sent = self._headers_sent or isinstance(action, SendHeaders)
            self._finished = last

    def refuse_event(self, code: str, message: str) -> None:
        """A request event failed its check: an in-stream error message, then the end.

        Called on the connection's thread; the backend's later outputs are dropped.
        """
        frame = encode_frame(
            {":message-type": "error", ":error-code": code, ":error-message": message}
        )
        # The error goes out before the parts end (else the backend could end the response
        # first: an echo ends with its input), and after the headers, which the runner's
        # thread may not have sent yet.
        with self._lock:
            if not self._finished and not self.request.cancelled.is_set():
                if not self._headers_sent:
                    self._post(self.request.stream_id, SendHeaders(self._context.response_headers))
                    self._headers_sent = True
                self._post(self.request.stream_id, SendData(frame))
                self._post(self.request.stream_id, EndStream())
                self._finished = True
        self.request.end_input()

    def _wait(self, seconds: float) -> None:
        if self.request.cancelled.wait(seconds):
            raise _Ended

    # --- running -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if not self._before_headers(self._context.fault):
                return
            self._send(SendHeaders(self._context.response_headers))
            self._serve(self._context.fault)
        except _Ended:
            pass
        finally:
            # A backend's own thread still reading the parts (a container's forwarder) ends.
            self.request.end_input()

    def _before_headers(self, fault: Fault | None) -> bool:
        """Apply a fault that strikes instead of (or before) the headers; whether to go on."""
        context = self._context
        if isinstance(fault, ErrorResponse):
            name = context.invocation.endpoint_name
            body = error_body(
                fault.code,
                fault.message,
                fault.fields,
                endpoint=name,
                region=context.region_name,
                account=context.account_id,
            )
            headers = [*error_headers(fault.code), ("x-amzn-requestid", self._request_id)]
            self._send(*error_actions(bidi_error_status(fault.code, fault.status), headers, body))
            return False
        if isinstance(fault, RawResponse):
            self._send(
                *error_actions(fault.status, list((fault.headers or {}).items()), fault.body)
            )
            return False
        if isinstance(fault, (ConnectionReset, StreamReset, Stall)) and fault.after_parts is None:
            if isinstance(fault, Stall):
                self._wait(fault.seconds)
                return True
            self._send(_cut(fault), last=True)
            return False
        return True

    @property
    def _request_id(self) -> str:
        return self._context.invocation.request_id

    def _outputs(self) -> Iterable[BidiOutput]:
        backend = self._context.backend
        if isinstance(backend, BidiBackend):
            return backend.serve_bidi(self._context.invocation)
        return backend(self._context.invocation.parts)

    def _serve(self, fault: Fault | None) -> None:
        outputs: Iterator[BidiOutput] | None = None
        try:
            outputs = iter(self._outputs())
            self._pump(outputs, fault)
        except _Ended:
            raise
        except Exception as exc:  # a failing backend ends its stream, not the listener
            logger.warning(
                "bidirectional backend of endpoint %s failed: %s",
                self._context.invocation.endpoint_name,
                type(exc).__name__,
            )
            failure = InternalStreamFailure(f"the model failed: {type(exc).__name__}")
            self._send(SendData(encode_response_event(failure)), EndStream(), last=True)
        finally:
            close = getattr(outputs, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()

    def _pump(self, outputs: Iterator[BidiOutput], fault: Fault | None) -> None:
        after: int | None = getattr(fault, "after_parts", None)
        sent = 0
        mangle: CorruptFrame | TruncatedFrame | None = None
        while True:
            if fault is not None and after is not None and sent == after:
                after = None
                if isinstance(fault, Stall):
                    self._wait(fault.seconds)
                elif isinstance(fault, (CorruptFrame, TruncatedFrame)):
                    mangle = fault
                else:
                    self._strike(fault)
                    return
            output = next(outputs, _DONE)
            if self.request.cancelled.is_set():
                raise _Ended
            if isinstance(output, _Done):
                if after is not None:  # fewer parts than after_parts: strike after the last
                    after = sent
                    continue
                if mangle is None:
                    self._send(EndStream(), last=True)
                    return
            event = _FILLER if isinstance(output, _Done) else as_event(output)
            frame = encode_response_event(event)
            if isinstance(mangle, TruncatedFrame):
                end: Action = EndStream() if mangle.clean_end else ResetStream(2)
                self._send(SendData(frame[: len(frame) // 2]), end, last=True)
                return
            if mangle is not None:
                frame, mangle = _flip_last_byte(frame), None
            if not isinstance(event, BidiPayloadPart):  # an error event ends the response
                self._send(SendData(frame), EndStream(), last=True)
                return
            if sent and isinstance(fault, SlowTokens):
                self._wait(fault.delay_seconds)
            self._send(SendData(frame))
            sent += 1
            if isinstance(output, _Done):  # the filler of a corrupt frame: nothing follows
                self._send(EndStream(), last=True)
                return

    def _strike(self, fault: Fault) -> None:
        """A fault that ends the response after some parts."""
        if isinstance(fault, (StreamErrorEvent, StreamFailureEvent)):
            event: BidiEvent = (
                ModelStreamError(fault.message, fault.error_code)
                if isinstance(fault, StreamErrorEvent)
                else InternalStreamFailure(fault.message)
            )
            self._send(SendData(encode_response_event(event)))
            if fault.hold_seconds:
                self._wait(fault.hold_seconds)
            self._send(EndStream(), last=True)
        elif isinstance(fault, (ConnectionReset, StreamReset)):
            self._send(_cut(fault), last=True)
        else:  # a fault this operation does not take (the endpoint filters them out)
            self._send(EndStream(), last=True)


def _cut(fault: ConnectionReset | StreamReset) -> Action:
    return DropConnection() if isinstance(fault, ConnectionReset) else ResetStream(fault.error_code)

"""Faults the local endpoint injects on demand: ``add_endpoint(..., faults=[...])``.

For each request the endpoint uses the first fault that applies to the operation and is
not used up. ``times=None`` applies it to every request; ``times=N`` to the first ``N``
requests it applies to, so "fail twice, then succeed" is ``ErrorResponse(code, times=2)``.
:class:`ErrorResponse` also takes a ``rate``: the probability (0 to 1) that it strikes a
request, drawn from the ``LocalRuntime``'s seeded random generator (``LocalRuntime(seed=...)``),
so a run is repeatable; with ``times`` too, only the requests it struck count.

``after_parts`` counts the ``PayloadPart`` events sent before the fault strikes; when the
handler produces fewer parts, the fault strikes after the last one.

Which operations a fault applies to (a fault that does not apply is skipped and not used up);
"the REST operations" are InvokeEndpoint, InvokeEndpointAsync and
InvokeEndpointWithResponseStream:

* :class:`ErrorResponse`: the operations whose botocore service model lists its code, plus
  the generic codes every AWS operation may answer (throttling, the 403s, 500 and 503), or
  only those of its ``operations``. So ``ErrorResponse("ModelNotReadyException")`` strikes
  InvokeEndpoint only, and ``ErrorResponse("ModelError")`` InvokeEndpoint and the stream,
  and InvokeEndpointAsync as SageMaker reports a model failure there: the request is
  accepted and the error is written to its failure location in S3. A code that no
  operation lists, or that one of its ``operations`` cannot answer, is refused when the
  fault is made, unless ``custom=True``.
* :class:`RawResponse`: every operation.
* :class:`ConnectionReset`, :class:`Stall`: every operation. With ``after_parts`` set, on
  InvokeEndpoint and InvokeEndpointAsync they strike in the middle of the response body
  (after the headers and half the body; the value of ``after_parts`` does not matter there).
* :class:`ShortContentLength`: the REST operations; on InvokeEndpoint and InvokeEndpointAsync it
  sends half the body (``after_parts`` does not matter there).
* :class:`StreamErrorEvent`, :class:`StreamFailureEvent`, :class:`TruncatedFrame`,
  :class:`CorruptFrame`, :class:`SlowTokens`: the two streams (InvokeEndpointWithResponseStream
  and InvokeEndpointWithBidirectionalStream).
* :class:`StreamReset`: InvokeEndpointWithBidirectionalStream only.

On InvokeEndpointWithBidirectionalStream (the HTTP/2 listener), ``after_parts`` counts the
response's parts; :class:`ErrorResponse` answers with the HTTP2 service's codes
(:data:`BIDI_ERROR_STATUS`: ``InputValidationError``, ``ModelError``, ``InternalServerError``,
``ServiceUnavailableError``; throttling is 429 there) or a generic one, the classic-only
codes (``ValidationError``, ``ModelNotReadyException``, ...) skip it; :class:`TruncatedFrame`
ends the stream after half a frame (a reset when ``clean_end=False``); :class:`ConnectionReset`
cuts every stream of the connection.

A slow first byte is :class:`Stall` without ``after_parts``; slow tokens are :class:`SlowTokens`;
an error event after which the server keeps the body open is :class:`StreamErrorEvent` (or
:class:`StreamFailureEvent`) with ``hold_seconds``; a body shorter than its ``Content-Length``
is :class:`ShortContentLength`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import TypeAlias

from ._codes import GENERIC_ERROR_CODES, OPERATIONS, code_problem, operations_answering
from ._model import Operation

__all__ = [
    "ErrorResponse",
    "RawResponse",
    "StreamErrorEvent",
    "StreamFailureEvent",
    "TruncatedFrame",
    "CorruptFrame",
    "ConnectionReset",
    "StreamReset",
    "Stall",
    "SlowTokens",
    "ShortContentLength",
    "Fault",
    "DEFAULT_ERROR_STATUS",
    "BIDI_ERROR_STATUS",
]

BIDI_OPERATION: Operation = "InvokeEndpointWithBidirectionalStream"
ALL_OPERATIONS: tuple[Operation, ...] = (*OPERATIONS, BIDI_OPERATION)

DEFAULT_ERROR_STATUS: Mapping[str, int] = {
    "ValidationError": 400,
    "ModelError": 424,
    "ModelNotReadyException": 429,
    "ThrottlingException": 400,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "InternalDependencyException": 530,
    "AccessDeniedException": 403,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "ExpiredTokenException": 403,
}
"""The HTTP status :class:`ErrorResponse` uses for an error code.

Other codes: the status botocore's service model gives them, else 400.
"""

BIDI_ERROR_STATUS: Mapping[str, int] = {
    "InputValidationError": 400,
    "ModelError": 424,
    "InternalServerError": 500,
    "ServiceUnavailableError": 503,
    "ThrottlingException": 429,
}
"""The HTTP status of an error code on InvokeEndpointWithBidirectionalStream.

The first four are the HTTP2 service model's errors; throttling is answered 429 there.
Other generic codes (:data:`GENERIC_ERROR_CODES`) use :data:`DEFAULT_ERROR_STATUS`.
"""

_BIDI_CODES = frozenset(BIDI_ERROR_STATUS) | GENERIC_ERROR_CODES
_BIDI_ONLY_CODES = frozenset(
    {"InputValidationError", "InternalServerError", "ServiceUnavailableError"}
)


def bidi_error_status(code: str, status: int | None) -> int:
    """The status an :class:`ErrorResponse` is answered with on the bidirectional stream."""
    if status is not None:
        return status
    return BIDI_ERROR_STATUS.get(code) or DEFAULT_ERROR_STATUS.get(code) or 400


def error_problem(
    code: str, operations: frozenset[Operation] | None, *, opt_in: str = "custom=True"
) -> str | None:
    """Why an :class:`ErrorResponse` cannot answer ``operations`` (``None``: any of them).

    ``opt_in`` names the way to send it anyway, as the caller spells it.
    """
    if code in _BIDI_ONLY_CODES:
        if operations is None or operations == frozenset({BIDI_OPERATION}):
            return None
        return (
            f"{code} is an error of {BIDI_OPERATION} only; pass "
            f"operations=[{BIDI_OPERATION!r}], or {opt_in} to send it anyway"
        )
    if operations is not None and BIDI_OPERATION in operations and code not in _BIDI_CODES:
        return (
            f"{BIDI_OPERATION} cannot answer {code}; it answers "
            f"{', '.join(sorted(_BIDI_CODES))}; {opt_in} sends it anyway"
        )
    classic = None if operations is None else operations - {BIDI_OPERATION}
    return None if classic == frozenset() else code_problem(code, classic, opt_in=opt_in)


def _operation_set(given: Collection[Operation]) -> frozenset[Operation]:
    """``given`` as a frozenset (one name alone is accepted too); unknown names are refused."""
    items: Collection[object] = (given,) if isinstance(given, str) else given
    chosen: set[Operation] = set()
    for item in items:
        matches: list[Operation] = [known for known in ALL_OPERATIONS if known == item]
        if not matches:
            raise ValueError(f"unknown operation {item!r}: use one of {', '.join(ALL_OPERATIONS)}")
        chosen.update(matches)
    if not chosen:
        raise ValueError("operations is empty: name at least one, or pass None for all")
    return frozenset(chosen)


def _check_times(times: int | None) -> None:
    if times is not None and times < 0:
        raise ValueError(f"times must be None or >= 0, not {times}")


def _check_seconds(name: str, seconds: float) -> None:
    if seconds < 0:
        raise ValueError(f"{name} must be >= 0, not {seconds}")


def _check_after_parts(after_parts: int | None) -> None:
    if after_parts is not None and after_parts < 0:
        raise ValueError(f"after_parts must be None or >= 0, not {after_parts}")


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """Answer with a SageMaker JSON error instead of calling the handler.

    ``status`` defaults from :data:`DEFAULT_ERROR_STATUS`. ``fields`` adds (or overrides)
    members of the JSON body, e.g. ``{"ErrorCode": "INFERENCE_COMPONENT_NAME_MISSING"}``.
    For ``ModelError``, ``message`` is the model's own message (``OriginalMessage``) and the
    body gets SageMaker's other members (``Message``, ``ErrorCode``, ``OriginalStatusCode``
    500 unless given in ``fields``, ``LogStreamArn``).

    The code must be one that botocore's ``sagemaker-runtime`` model lists (or a generic
    one: see the module docstring), and ``operations`` must all be able to answer it;
    otherwise ``ValueError`` says which codes they answer, or the closest known code.
    ``custom=True`` lifts that check: the code is sent as given on ``operations`` (default:
    all three), for a client's handling of a code the model does not know.
    """

    code: str
    """The error code, sent in ``x-amzn-ErrorType`` (e.g. ``"ThrottlingException"``)."""
    _: KW_ONLY
    message: str | None = None
    """The error message; a default per code when ``None``."""
    status: int | None = None
    """The HTTP status; from :data:`DEFAULT_ERROR_STATUS` when ``None``."""
    fields: Mapping[str, object] | None = None
    """Extra JSON body members."""
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""
    rate: float | None = None
    """The probability (0 to 1) that it strikes a request it applies to (``None``: always)."""
    operations: Collection[Operation] | None = None
    """The operations it strikes (kept as a frozenset; ``None``: all that can answer it).

    ``"InvokeEndpointWithBidirectionalStream"`` is one of them (see the module docstring)."""
    custom: bool = False
    """Send ``code`` even where botocore's service model does not list it."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be None or between 0 and 1, not {self.rate}")
        operations = None
        if self.operations is not None:
            operations = _operation_set(self.operations)
            object.__setattr__(self, "operations", operations)
        problem = None if self.custom else error_problem(self.code, operations)
        if problem is not None:
            raise ValueError(problem)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """Answer with exactly this status, body and headers (plus ``Content-Length`` and ``Date``).

    No ``x-amzn-RequestId`` and no ``x-amzn-ErrorType`` are added: use it for what a proxy
    or load balancer sends, e.g. ``RawResponse(502, b"<html>Bad Gateway</html>")``.
    """

    status: int
    """The HTTP status."""
    body: bytes = b""
    """The response body."""
    headers: Mapping[str, str] | None = None
    """The response headers."""
    _: KW_ONLY
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)


@dataclass(frozen=True, slots=True)
class StreamErrorEvent:
    """End the stream with a ``ModelStreamError`` event after ``after_parts`` parts.

    ``hold_seconds`` keeps the body open that long after the event before ending it (a
    server that does not end its body); ``LocalRuntime.stop()`` ends the wait at once.
    """

    after_parts: int
    """Payload parts sent before the event."""
    _: KW_ONLY
    error_code: str | None = "ModelInvocationTimeExceeded"
    """The event's ``ErrorCode`` (``ModelInvocationTimeExceeded`` or ``StreamBroken`` on AWS)."""
    message: str | None = "Model invocation time exceeded while streaming the response."
    """The event's ``Message``."""
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""
    hold_seconds: float = 0.0
    """How long the body stays open after the event before it ends."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)
        _check_seconds("hold_seconds", self.hold_seconds)


@dataclass(frozen=True, slots=True)
class StreamFailureEvent:
    """End the stream with an ``InternalStreamFailure`` event after ``after_parts`` parts.

    ``hold_seconds`` keeps the body open that long after the event, as in
    :class:`StreamErrorEvent`.
    """

    after_parts: int
    """Payload parts sent before the event."""
    _: KW_ONLY
    message: str | None = "Internal stream failure."
    """The event's ``Message``."""
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""
    hold_seconds: float = 0.0
    """How long the body stays open after the event before it ends."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)
        _check_seconds("hold_seconds", self.hold_seconds)


@dataclass(frozen=True, slots=True)
class TruncatedFrame:
    """After ``after_parts`` parts, send only the first half of the next frame, then end.

    ``clean_end=True`` ends the chunked body properly (raw botocore then ends the iteration
    silently); ``clean_end=False`` closes the connection without the final chunk. The next
    frame is the handler's next part, or a small made-up part when there is none.
    """

    after_parts: int
    """Payload parts sent before the truncated frame."""
    _: KW_ONLY
    clean_end: bool = True
    """Whether the HTTP chunked body ends with its terminating chunk."""
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)


@dataclass(frozen=True, slots=True)
class CorruptFrame:
    """After ``after_parts`` parts, send the next frame with one byte flipped (CRC mismatch).

    The stream then goes on with the handler's remaining parts and ends normally.
    """

    after_parts: int
    """Payload parts sent intact before the corrupt frame."""
    _: KW_ONLY
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """Reset the TCP connection (RST, not FIN).

    ``after_parts=None``: after reading the request, before any response byte. Otherwise
    after that many stream parts (mid-body on the other operations).
    """

    after_parts: int | None = None
    """Where to reset; ``None`` means before the response."""
    _: KW_ONLY
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)


@dataclass(frozen=True, slots=True)
class StreamReset:
    """Reset one bidirectional stream (HTTP/2 RST_STREAM): InvokeEndpointWithBidirectionalStream.

    ``after_parts=None``: instead of the response headers. Otherwise after that many
    response parts. The connection stays up; ``error_code`` is the RST_STREAM code
    (2, INTERNAL_ERROR, by default; 0 is NO_ERROR, 8 CANCEL).
    """

    after_parts: int | None = None
    """Response parts sent before the reset; ``None`` means before the response."""
    _: KW_ONLY
    error_code: int = 2
    """The HTTP/2 error code of the RST_STREAM frame."""
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)
        if not 0 <= self.error_code <= 0xFFFFFFFF:
            raise ValueError(f"error_code must be a 32-bit unsigned integer, not {self.error_code}")


@dataclass(frozen=True, slots=True)
class Stall:
    """Wait ``seconds``, then carry on: a slow first byte, or a stall mid-body.

    ``LocalRuntime.stop()`` ends the wait at once.

    ``after_parts=None``: before the response headers (a slow first byte). Otherwise after
    that many stream parts (mid-body on the other operations).
    """

    seconds: float
    """How long to wait."""
    _: KW_ONLY
    after_parts: int | None = None
    """Where to wait; ``None`` means before the response headers."""
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)
        if self.seconds < 0:
            raise ValueError(f"seconds must be >= 0, not {self.seconds}")


@dataclass(frozen=True, slots=True)
class ShortContentLength:
    """Declare a ``Content-Length`` and close the connection before sending all of it.

    A stream is then sent whole-body (no chunked encoding) and cut at a frame boundary:
    the frames of the first ``after_parts`` parts go out, the declared length also counts
    the next frame (the handler's next part, or a small made-up one), and the connection
    closes (FIN). ``after_parts=None`` cuts before the first frame. On InvokeEndpoint
    and InvokeEndpointAsync, half the body goes out.
    """

    after_parts: int | None = None
    """Payload parts sent whole before the cut (streams only)."""
    _: KW_ONLY
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        _check_after_parts(self.after_parts)


@dataclass(frozen=True, slots=True)
class SlowTokens:
    """Wait ``delay_seconds`` before each stream part after the first (slow token generation).

    With ``rechunk``, the wait comes before each part the handler yields (each token),
    not before each part cut from them. The first part goes out at once; a slow first
    byte is :class:`Stall`. Like every fault it is the only fault of a request it strikes
    (it does not combine with an error event).
    ``LocalRuntime.stop()`` ends a wait at once.
    """

    delay_seconds: float
    """How long to wait between two parts."""
    _: KW_ONLY
    times: int | None = None
    """How many requests this fault applies to (``None``: all)."""

    def __post_init__(self) -> None:
        _check_times(self.times)
        if self.delay_seconds < 0:
            raise ValueError(f"delay_seconds must be >= 0, not {self.delay_seconds}")


Fault: TypeAlias = (
    ErrorResponse
    | RawResponse
    | StreamErrorEvent
    | StreamFailureEvent
    | TruncatedFrame
    | CorruptFrame
    | ConnectionReset
    | StreamReset
    | Stall
    | SlowTokens
    | ShortContentLength
)
"""Any fault accepted by ``LocalRuntime.add_endpoint(..., faults=...)``."""

STREAM_ONLY_FAULTS = (
    StreamErrorEvent,
    StreamFailureEvent,
    TruncatedFrame,
    CorruptFrame,
    SlowTokens,
)


def fault_operations(fault: Fault) -> frozenset[Operation]:
    """The operations ``fault`` applies to (see the module docstring)."""
    if isinstance(fault, STREAM_ONLY_FAULTS):
        return frozenset({"InvokeEndpointWithResponseStream", BIDI_OPERATION})
    if isinstance(fault, StreamReset):
        return frozenset({BIDI_OPERATION})
    if isinstance(fault, ShortContentLength):
        return frozenset(OPERATIONS)
    if isinstance(fault, ErrorResponse):
        chosen = frozenset(ALL_OPERATIONS if fault.operations is None else fault.operations)
        if fault.custom:
            return chosen
        answering = operations_answering(fault.code)
        if fault.code in _BIDI_CODES:
            answering = answering | {BIDI_OPERATION}
        return chosen & answering
    return frozenset(ALL_OPERATIONS)

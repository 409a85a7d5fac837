"""Which error codes each SageMaker Runtime operation can answer, from botocore's service model.

An operation answers the error shapes its model lists with an HTTP status
(``error.httpStatusCode``), plus :data:`GENERIC_ERROR_CODES`. The model is read once per
process (the tables are cached), so checking a fault costs a set lookup.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache

from ._model import Operation

__all__ = [
    "ASYNC_MODEL_FAILURE",
    "GENERIC_ERROR_CODES",
    "OPERATIONS",
    "answered_codes",
    "code_problem",
    "known_codes",
    "modelled_status",
    "operations_answering",
]

OPERATIONS: tuple[Operation, ...] = (
    "InvokeEndpoint",
    "InvokeEndpointAsync",
    "InvokeEndpointWithResponseStream",
)

GENERIC_ERROR_CODES: frozenset[str] = frozenset(
    {
        "ThrottlingException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
"""Codes every operation may answer, whatever its model lists.

AWS's front end answers them before a request reaches the operation, so no service models
them per operation (botocore has none of the first five for ``sagemaker-runtime``): a
rejected signature or expired token (403: ``UnrecognizedClientException``,
``InvalidSignatureException``, ``ExpiredTokenException``; ``AccessDeniedException`` when
IAM denies the action), request-rate throttling (``ThrottlingException``, which botocore's
retry logic recognises for every service), and the service failing or being down
(``InternalFailure`` 500, ``ServiceUnavailable`` 503, which SageMaker Runtime lists for all
three operations anyway). Operation-specific conditions are not generic:
``ModelNotReadyException`` and ``InternalDependencyException`` are InvokeEndpoint's alone,
``ModelError`` is InvokeEndpoint's and the stream's.
"""

ASYNC_MODEL_FAILURE = "ModelError"
"""The code that InvokeEndpointAsync reports as a failure object, not as an HTTP error.

SageMaker accepts an async request before the model runs; a model that fails is reported
in the object at the request's ``FailureLocation``.
"""

_STREAM_EVENT_FAULTS: Mapping[str, str] = {
    "ModelStreamError": "StreamErrorEvent",
    "InternalStreamFailure": "StreamFailureEvent",
}


@cache
def _error_shapes() -> Mapping[Operation, Mapping[str, int | None]]:
    """Each operation's error shapes and their HTTP status (``None``: an event-stream error)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    shapes: dict[Operation, Mapping[str, int | None]] = {}
    for operation in OPERATIONS:
        statuses: dict[str, int | None] = {}
        for shape in model.operation_model(operation).error_shapes:
            status = shape.metadata.get("error", {}).get("httpStatusCode")
            statuses[shape.name] = status if isinstance(status, int) else None
        shapes[operation] = statuses
    return shapes


@cache
def answered_codes(operation: Operation) -> frozenset[str]:
    """The HTTP error codes ``operation`` can answer: its model's, and the generic ones."""
    modelled = {code for code, status in _error_shapes()[operation].items() if status is not None}
    return GENERIC_ERROR_CODES | modelled


@cache
def known_codes() -> frozenset[str]:
    """Every HTTP error code some operation can answer."""
    codes: set[str] = set()
    for operation in OPERATIONS:
        codes |= answered_codes(operation)
    return frozenset(codes)


@cache
def operations_answering(code: str) -> frozenset[Operation]:
    """The operations that answer ``code`` (InvokeEndpointAsync: ``ModelError`` too, in S3)."""
    answering: set[Operation] = {
        operation for operation in OPERATIONS if code in answered_codes(operation)
    }
    if code == ASYNC_MODEL_FAILURE:
        answering.add("InvokeEndpointAsync")
    return frozenset(answering)


def modelled_status(code: str) -> int | None:
    """The HTTP status the service model gives ``code``, if any operation lists it."""
    for statuses in _error_shapes().values():
        status = statuses.get(code)
        if status is not None:
            return status
    return None


def _listed(codes: frozenset[str]) -> str:
    return ", ".join(sorted(codes))


def code_problem(
    code: str, operations: frozenset[Operation] | None, *, opt_in: str = "custom=True"
) -> str | None:
    """Why ``code`` cannot be answered (by ``operations``, or by any operation), or ``None``.

    ``opt_in`` names the way to send it anyway, as the caller spells it.
    """
    event_fault = _STREAM_EVENT_FAULTS.get(code)
    if event_fault is not None:
        return (
            f"{code} is an event of the InvokeEndpointWithResponseStream body, not an HTTP "
            f"error: use {event_fault}"
        )
    known = known_codes()
    if code not in known:
        close = difflib.get_close_matches(code, sorted(known), n=1)
        hint = f"did you mean {close[0]}?" if close else f"known codes: {_listed(known)}"
        return (
            f"no SageMaker Runtime operation answers error code {code!r} ({hint}); pass "
            f"{opt_in} to send a code outside botocore's service model"
        )
    for operation in sorted(operations or ()):
        if operation not in operations_answering(code):
            also = (
                f", and {ASYNC_MODEL_FAILURE} (written to the failure location)"
                if operation == "InvokeEndpointAsync"
                else ""
            )
            return (
                f"{operation} cannot answer {code}; it answers "
                f"{_listed(answered_codes(operation))}{also}; {opt_in} sends it anyway"
            )
    return None

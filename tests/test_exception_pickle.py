"""Every exported exception survives pickle, ``copy.copy`` and ``copy.deepcopy`` with its fields.

Exceptions cross process boundaries (``concurrent.futures.ProcessPoolExecutor``,
multiprocessing, pytest-xdist, Celery): a ``ServiceError`` that cannot be unpickled
(``missing keyword-only argument 'code'``) turns the failure into a different one, and
one that loses ``request_id`` or ``http_status`` loses what the caller needs.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import typed_sagemaker_runtime as smr
import typed_sagemaker_runtime.testing as smr_testing
from _twins import Clients
from typed_sagemaker_runtime import InternalStreamFailure, ModelStreamError, PayloadPart

COMMON: dict[str, Any] = {"request_id": "req-1", "operation": "InvokeEndpoint", "retryable": True}
SERVICE: dict[str, Any] = {
    **COMMON,
    "code": "SomeCode",
    "http_status": 418,
    "response": {"Error": {"Code": "SomeCode", "Message": "m"}, "ResponseMetadata": {}},
}

# Each exported exception class, built with every field it has set to a non-default value.
BUILDERS: dict[type[BaseException], Callable[[], BaseException]] = {
    smr.SageMakerRuntimeError: lambda: smr.SageMakerRuntimeError("boom", **COMMON),
    smr.ClientValidationError: lambda: smr.ClientValidationError(
        "json: bad", field="json", operation="InvokeEndpoint"
    ),
    smr.CredentialsError: lambda: smr.CredentialsError("no credentials", operation="X"),
    smr.ServiceError: lambda: smr.ServiceError("boom", **SERVICE),
    smr.ValidationError: lambda: smr.ValidationError("bad", error_code="SUB", **SERVICE),
    smr.EndpointNotFoundError: lambda: smr.EndpointNotFoundError(
        "Endpoint x of account 1 not found.", error_code=None, **SERVICE
    ),
    smr.AccessDeniedError: lambda: smr.AccessDeniedError("denied", **SERVICE),
    smr.ModelError: lambda: smr.ModelError(
        "model failed",
        original_status_code=500,
        original_message="oops",
        log_stream_arn="arn:aws:logs:...",
        error_code="SERVER_ERROR_FROM_MODEL",
        **SERVICE,
    ),
    smr.ModelNotReadyError: lambda: smr.ModelNotReadyError("loading", **SERVICE),
    smr.ThrottlingError: lambda: smr.ThrottlingError("slow down", **SERVICE),
    smr.InternalFailureError: lambda: smr.InternalFailureError("internal", **SERVICE),
    smr.ServiceUnavailableError: lambda: smr.ServiceUnavailableError("unavailable", **SERVICE),
    smr.InternalDependencyError: lambda: smr.InternalDependencyError("dependency", **SERVICE),
    smr.TransportError: lambda: smr.TransportError("reset", **COMMON),
    smr.TimeoutError: lambda: smr.TimeoutError("timed out", **COMMON),
    smr.StreamError: lambda: smr.StreamError("stream", event=PayloadPart(b"x"), **COMMON),
    smr.ModelStreamInterruptedError: lambda: smr.ModelStreamInterruptedError(
        "interrupted", event=ModelStreamError("too long", "ModelInvocationTimeExceeded"), **COMMON
    ),
    smr.InternalStreamFailureError: lambda: smr.InternalStreamFailureError(
        "failure", event=InternalStreamFailure("internal"), **COMMON
    ),
    smr.StreamDecodeError: lambda: smr.StreamDecodeError("truncated", **COMMON),
    smr.GenerationError: lambda: smr.GenerationError("in-band", **COMMON),
    smr.AsyncInferenceError: lambda: smr.AsyncInferenceError("async", **COMMON),
    smr.AsyncInferenceFailedError: lambda: smr.AsyncInferenceFailedError(
        "failed", failure_location="s3://b/f", failure="why", **COMMON
    ),
    smr.AsyncInferenceTimeoutError: lambda: smr.AsyncInferenceTimeoutError(
        "late", output_location="s3://b/o", **COMMON
    ),
    smr.StreamConsumedError: lambda: smr.StreamConsumedError("consumed"),
    smr_testing.ModelFailure: lambda: smr_testing.ModelFailure(
        503, "busy", stream_error_code="ModelInvocationTimeExceeded"
    ),
    smr_testing.ContainerNotHealthyError: lambda: smr_testing.ContainerNotHealthyError("ping"),
}


def _exported_exceptions() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in (smr, smr_testing):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                found.add(value)
    return found


def test_every_exported_exception_is_covered() -> None:
    assert set(BUILDERS) == _exported_exceptions()


def _round_trips() -> dict[str, Callable[[BaseException], BaseException]]:
    trips: dict[str, Callable[[BaseException], BaseException]] = {
        f"pickle-{protocol}": lambda e, p=protocol: pickle.loads(pickle.dumps(e, protocol=p))
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
    }
    trips["copy"] = copy.copy
    trips["deepcopy"] = copy.deepcopy
    return trips


ROUND_TRIPS = _round_trips()


def _fields(error: BaseException) -> dict[str, Any]:
    return {name: value for name, value in vars(error).items() if not name.startswith("__")}


CLASSES: list[type[BaseException]] = sorted(BUILDERS, key=lambda c: c.__qualname__)


@pytest.mark.parametrize("trip", sorted(ROUND_TRIPS))
@pytest.mark.parametrize("cls", CLASSES, ids=[c.__qualname__ for c in CLASSES])
def test_an_exception_survives_a_round_trip_with_its_fields(
    cls: type[BaseException], trip: str
) -> None:
    original = BUILDERS[cls]()
    assert type(original) is cls
    restored = ROUND_TRIPS[trip](original)
    assert type(restored) is cls
    assert restored is not original
    assert restored.args == original.args
    assert str(restored) == str(original)
    assert _fields(restored) == _fields(original)
    if isinstance(original, smr.SageMakerRuntimeError):
        assert _fields(original)  # the fields compared are there to compare
        assert restored.request_id == original.request_id  # type: ignore[attr-defined]


def test_a_service_error_keeps_status_code_and_response() -> None:
    """The leftover of issue 20: ``missing keyword-only argument 'code'`` on unpickling."""
    error = BUILDERS[smr.ModelError]()
    assert isinstance(error, smr.ModelError)
    restored = pickle.loads(pickle.dumps(error))
    assert isinstance(restored, smr.ModelError)
    assert (restored.code, restored.http_status, restored.original_status_code) == (
        "SomeCode",
        418,
        500,
    )
    assert restored.response == error.response
    assert restored.retryable is True


def test_a_timeout_error_stays_a_builtin_timeout_error() -> None:
    restored = pickle.loads(pickle.dumps(smr.TimeoutError("late", operation="InvokeEndpoint")))
    assert isinstance(restored, TimeoutError)
    assert isinstance(restored, smr.TransportError)
    assert restored.operation == "InvokeEndpoint"


def test_a_stream_error_keeps_its_event() -> None:
    error = BUILDERS[smr.ModelStreamInterruptedError]()
    restored = pickle.loads(pickle.dumps(error))
    assert restored.event == ModelStreamError("too long", "ModelInvocationTimeExceeded")
    assert restored.error_code == "ModelInvocationTimeExceeded"


@pytest.mark.parametrize("method", ["invoke", "stream"])
def test_an_error_mapped_from_a_real_response_round_trips(clients: Clients, method: str) -> None:
    """A ServiceError carrying botocore's (or aiobotocore's) real parsed response pickles too."""
    client = clients.local(retry=smr.RetryPolicy.disabled())
    with pytest.raises(smr.EndpointNotFoundError) as caught:
        getattr(client, method)("missing", json={})
    restored = pickle.loads(pickle.dumps(caught.value))
    assert type(restored) is smr.EndpointNotFoundError
    assert restored.request_id == caught.value.request_id
    assert restored.response == caught.value.response
    assert str(restored) == str(caught.value)
    assert copy.deepcopy(caught.value).response == caught.value.response

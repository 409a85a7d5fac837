"""A local SageMaker Runtime endpoint for tests: ``LocalRuntime``, handlers, faults.

::

    from typed_sagemaker_runtime.testing import ErrorResponse, LocalRuntime

    with LocalRuntime() as local:
        local.add_endpoint("echo")  # default handler: echo the request body
        local.add_endpoint("flaky", faults=[ErrorResponse("ThrottlingException", times=2)])
        smr = local.client()        # or local.boto3_client() for raw boto3
        ...

With pytest, the ``local_runtime`` fixture yields a started ``LocalRuntime``.

The names are imported on first use: the pytest plugin imports this package in every
test run, so importing it must cost nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
    from ._faults import (
        DEFAULT_ERROR_STATUS,
        ConnectionReset,
        CorruptFrame,
        ErrorResponse,
        Fault,
        RawResponse,
        Stall,
        StreamErrorEvent,
        StreamFailureEvent,
        TruncatedFrame,
    )
    from ._headers import Headers
    from ._model import (
        EndpointResponse,
        Handler,
        HandlerResult,
        InvocationRequest,
        Operation,
        ResponseBody,
    )
    from ._runtime import LocalRuntime

__all__ = [
    # the server
    "LocalRuntime",
    # what handlers receive and return
    "InvocationRequest",
    "Operation",
    "Headers",
    "EndpointResponse",
    "ResponseBody",
    "HandlerResult",
    "Handler",
    "PayloadPart",
    "ModelStreamError",
    "InternalStreamFailure",
    "StreamEvent",
    # faults
    "Fault",
    "ErrorResponse",
    "RawResponse",
    "StreamErrorEvent",
    "StreamFailureEvent",
    "TruncatedFrame",
    "CorruptFrame",
    "ConnectionReset",
    "Stall",
    "DEFAULT_ERROR_STATUS",
]

_MODULES = {
    "LocalRuntime": "._runtime",
    "InvocationRequest": "._model",
    "Operation": "._model",
    "Headers": "._headers",
    "EndpointResponse": "._model",
    "ResponseBody": "._model",
    "HandlerResult": "._model",
    "Handler": "._model",
    "PayloadPart": ".._events",
    "ModelStreamError": ".._events",
    "InternalStreamFailure": ".._events",
    "StreamEvent": ".._events",
    "Fault": "._faults",
    "ErrorResponse": "._faults",
    "RawResponse": "._faults",
    "StreamErrorEvent": "._faults",
    "StreamFailureEvent": "._faults",
    "TruncatedFrame": "._faults",
    "CorruptFrame": "._faults",
    "ConnectionReset": "._faults",
    "Stall": "._faults",
    "DEFAULT_ERROR_STATUS": "._faults",
}


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

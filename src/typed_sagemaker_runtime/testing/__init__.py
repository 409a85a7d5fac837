"""A local SageMaker Runtime endpoint for tests: ``LocalRuntime``, handlers, faults.

::

    from typed_sagemaker_runtime.testing import (
        Capacity, Container, DemoLLM, ErrorResponse, LocalRuntime
    )

    with LocalRuntime() as local:
        local.add_endpoint("echo")  # default handler: echo the request body
        local.add_endpoint("flaky", faults=[ErrorResponse("ThrottlingException", times=2)])
        local.add_endpoint("demo", DemoLLM())   # a deterministic LLM speaking TGI's format
        local.add_endpoint("byoc", Container("http://127.0.0.1:8080"))  # a model container
        local.add_endpoint("live", bidi=lambda parts: (p.data.upper() for p in parts))
        local.add_endpoint("busy", capacity=Capacity(16, latency=0.05))  # throttles the 17th
        local.bidi_endpoint_url, local.ca_bundle  # InvokeEndpointWithBidirectionalStream
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
    from .._core._bidi_events import BidiPayloadPart
    from .._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
    from ._backends._bidi_demo import BidiDemo
    from ._backends._container import Container, ContainerNotHealthyError
    from ._backends._demo import DemoLLM
    from ._bidi_model import BidiBackend, BidiHandler, BidiInvocation, BidiOutput
    from ._capacity import Capacity, CapacityStats, Overload
    from ._failure import ModelFailure
    from ._faults import (
        DEFAULT_ERROR_STATUS,
        ConnectionReset,
        CorruptFrame,
        ErrorResponse,
        Fault,
        RawResponse,
        ShortContentLength,
        SlowTokens,
        Stall,
        StreamErrorEvent,
        StreamFailureEvent,
        StreamReset,
        TruncatedFrame,
    )
    from ._headers import Headers
    from ._model import (
        EndpointResponse,
        Handler,
        HandlerResult,
        InvocationRequest,
        Operation,
        RawFrames,
        ResponseBody,
    )
    from ._rechunk import Rechunk
    from ._runtime import LocalRuntime
    from ._stubbing import botocore_event_stream, stub_stream_response

__all__ = [
    # the server
    "LocalRuntime",
    "Rechunk",
    # a busy endpoint
    "Capacity",
    "CapacityStats",
    "Overload",
    # what handlers receive and return
    "InvocationRequest",
    "Operation",
    "Headers",
    "EndpointResponse",
    "RawFrames",
    "ResponseBody",
    "HandlerResult",
    "Handler",
    "PayloadPart",
    "ModelStreamError",
    "InternalStreamFailure",
    "StreamEvent",
    "ModelFailure",
    # what bidirectional-stream backends receive and yield
    "BidiInvocation",
    "BidiHandler",
    "BidiBackend",
    "BidiOutput",
    "BidiPayloadPart",
    # backends
    "Container",
    "ContainerNotHealthyError",
    "DemoLLM",
    "BidiDemo",
    # botocore's Stubber
    "stub_stream_response",
    "botocore_event_stream",
    # faults
    "Fault",
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
    "DEFAULT_ERROR_STATUS",
]

_MODULES = {
    "LocalRuntime": "._runtime",
    "Rechunk": "._rechunk",
    "Capacity": "._capacity",
    "CapacityStats": "._capacity",
    "Overload": "._capacity",
    "InvocationRequest": "._model",
    "Operation": "._model",
    "Headers": "._headers",
    "EndpointResponse": "._model",
    "RawFrames": "._model",
    "ResponseBody": "._model",
    "HandlerResult": "._model",
    "Handler": "._model",
    "PayloadPart": ".._core._events",
    "ModelStreamError": ".._core._events",
    "InternalStreamFailure": ".._core._events",
    "StreamEvent": ".._core._events",
    "ModelFailure": "._failure",
    "BidiInvocation": "._bidi_model",
    "BidiHandler": "._bidi_model",
    "BidiBackend": "._bidi_model",
    "BidiOutput": "._bidi_model",
    "BidiPayloadPart": ".._core._bidi_events",
    "Container": "._backends._container",
    "ContainerNotHealthyError": "._backends._container",
    "DemoLLM": "._backends._demo",
    "BidiDemo": "._backends._bidi_demo",
    "stub_stream_response": "._stubbing",
    "botocore_event_stream": "._stubbing",
    "Fault": "._faults",
    "ErrorResponse": "._faults",
    "RawResponse": "._faults",
    "StreamErrorEvent": "._faults",
    "StreamFailureEvent": "._faults",
    "TruncatedFrame": "._faults",
    "CorruptFrame": "._faults",
    "ConnectionReset": "._faults",
    "StreamReset": "._faults",
    "Stall": "._faults",
    "SlowTokens": "._faults",
    "ShortContentLength": "._faults",
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

"""typed-sagemaker-runtime: a thin, fully typed facade over boto3's ``sagemaker-runtime`` client."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._core._exceptions import (
    AccessDeniedError,
    AsyncInferenceError,
    AsyncInferenceFailedError,
    AsyncInferenceTimeoutError,
    ClientValidationError,
    CredentialsError,
    EndpointNotFoundError,
    GenerationError,
    InternalDependencyError,
    InternalFailureError,
    InternalStreamFailureError,
    ModelError,
    ModelNotReadyError,
    ModelStreamInterruptedError,
    SageMakerRuntimeError,
    ServiceError,
    ServiceUnavailableError,
    StreamConsumedError,
    StreamDecodeError,
    StreamError,
    ThrottlingError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._aio._bidi_stream import AsyncBidiStream
    from ._aio._client import AsyncSageMakerRuntime
    from ._aio._invoke_many import AsyncInvokeMany
    from ._aio._stream import AsyncResponseStream
    from ._aio._stream_request import AsyncStreamRequest
    from ._core._async_inference import S3ClientLike
    from ._core._bidi_events import BidiEvent, BidiInput, BidiPayloadPart
    from ._core._bulk_types import InvokeManyStats, InvokeOutcome
    from ._core._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
    from ._core._llm_types import (
        ChatMessage,
        ChatToolCall,
        ContentPart,
        FunctionCall,
        FunctionSpec,
        GenerateParameters,
        Generation,
        GenerationChunk,
        ImagePart,
        ImageURL,
        Role,
        TextPart,
        ToolCall,
        ToolCallDelta,
        ToolChoice,
        ToolChoiceFunction,
        ToolSpec,
        Usage,
    )
    from ._core._retry import RetryPolicy
    from ._core._types import (
        AsyncOutput,
        Body,
        InvokeAsyncResult,
        InvokeResult,
        ReadableBody,
        ResponseMetadata,
        StreamMetadata,
    )
    from ._decoders._sse import ServerSentEvent
    from ._decoders._tokens import TokenFormat
    from ._ray._invoke_batches import InvokeBatches
    from ._sync._bidi_stream import BidiStream
    from ._sync._client import SageMakerRuntime
    from ._sync._invoke_many import InvokeMany
    from ._sync._stream import ResponseStream

__all__ = [
    # clients
    "SageMakerRuntime",
    "AsyncSageMakerRuntime",
    "RetryPolicy",
    # results
    "InvokeResult",
    "InvokeAsyncResult",
    "StreamMetadata",
    "ResponseMetadata",
    "AsyncOutput",
    "Body",
    "ReadableBody",
    "S3ClientLike",
    # streams
    "ResponseStream",
    "AsyncResponseStream",
    "AsyncStreamRequest",
    "StreamEvent",
    "PayloadPart",
    "ModelStreamError",
    "InternalStreamFailure",
    "ServerSentEvent",
    "TokenFormat",
    # bidirectional streams
    "BidiStream",
    "AsyncBidiStream",
    "BidiPayloadPart",
    "BidiEvent",
    "BidiInput",
    # bulk invocation
    "InvokeMany",
    "AsyncInvokeMany",
    "InvokeOutcome",
    "InvokeManyStats",
    "InvokeBatches",
    # LLM layer
    "GenerationChunk",
    "Generation",
    "ToolCallDelta",
    "ToolCall",
    "Usage",
    "ChatMessage",
    "Role",
    "ContentPart",
    "TextPart",
    "ImagePart",
    "ImageURL",
    "ChatToolCall",
    "FunctionCall",
    "ToolSpec",
    "FunctionSpec",
    "ToolChoice",
    "ToolChoiceFunction",
    "GenerateParameters",
    # exceptions
    "SageMakerRuntimeError",
    "ClientValidationError",
    "CredentialsError",
    "ServiceError",
    "ValidationError",
    "EndpointNotFoundError",
    "AccessDeniedError",
    "ModelError",
    "ModelNotReadyError",
    "ThrottlingError",
    "InternalFailureError",
    "ServiceUnavailableError",
    "InternalDependencyError",
    "TransportError",
    "TimeoutError",
    "StreamError",
    "ModelStreamInterruptedError",
    "InternalStreamFailureError",
    "StreamDecodeError",
    "GenerationError",
    "AsyncInferenceError",
    "AsyncInferenceFailedError",
    "AsyncInferenceTimeoutError",
    "StreamConsumedError",
    "__version__",
]


# Imported on first use, so `import typed_sagemaker_runtime` costs little on top of boto3:
# the clients pull in boto3 (which a pytest plugin or a CLI --help should not pay for),
# the LLM layer and the decoders are not needed for a plain invoke. Only the exceptions
# are imported eagerly. Each class names this module as its own where it is defined
# (``_core._public``), so nothing here rewrites what it hands out.
_LAZY = {
    "SageMakerRuntime": "._sync._client",
    "ResponseStream": "._sync._stream",
    "AsyncSageMakerRuntime": "._aio._client",
    "AsyncResponseStream": "._aio._stream",
    "AsyncStreamRequest": "._aio._stream_request",
    "S3ClientLike": "._core._async_inference",
    "ServerSentEvent": "._decoders._sse",
    "TokenFormat": "._decoders._tokens",
    "RetryPolicy": "._core._retry",
    "InvokeBatches": "._ray._invoke_batches",
    "BidiStream": "._sync._bidi_stream",
    "AsyncBidiStream": "._aio._bidi_stream",
    "InvokeMany": "._sync._invoke_many",
    "AsyncInvokeMany": "._aio._invoke_many",
    **dict.fromkeys(("InvokeOutcome", "InvokeManyStats"), "._core._bulk_types"),
    **dict.fromkeys(("BidiPayloadPart", "BidiEvent", "BidiInput"), "._core._bidi_events"),
    **dict.fromkeys(
        ("StreamEvent", "PayloadPart", "ModelStreamError", "InternalStreamFailure"),
        "._core._events",
    ),
    **dict.fromkeys(
        (
            "InvokeResult",
            "InvokeAsyncResult",
            "StreamMetadata",
            "ResponseMetadata",
            "AsyncOutput",
            "Body",
            "ReadableBody",
        ),
        "._core._types",
    ),
    **dict.fromkeys(
        (
            "GenerationChunk",
            "Generation",
            "ToolCallDelta",
            "ToolCall",
            "Usage",
            "ChatMessage",
            "Role",
            "ContentPart",
            "TextPart",
            "ImagePart",
            "ImageURL",
            "ChatToolCall",
            "FunctionCall",
            "ToolSpec",
            "FunctionSpec",
            "ToolChoice",
            "ToolChoiceFunction",
            "GenerateParameters",
        ),
        "._core._llm_types",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

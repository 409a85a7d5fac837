"""typed-sagemaker-runtime: a thin, fully typed facade over boto3's ``sagemaker-runtime`` client."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._async_inference import S3ClientLike
from ._decoders import ServerSentEvent, TokenFormat
from ._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
from ._exceptions import (
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
from ._llm_types import (
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
from ._retry import RetryPolicy
from ._types import (
    AsyncOutput,
    Body,
    InvokeAsyncResult,
    InvokeResult,
    ReadableBody,
    ResponseMetadata,
    StreamMetadata,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._async_client import AsyncSageMakerRuntime
    from ._async_streaming import AsyncResponseStream
    from ._client import SageMakerRuntime
    from ._streaming import ResponseStream

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
    "StreamEvent",
    "PayloadPart",
    "ModelStreamError",
    "InternalStreamFailure",
    "ServerSentEvent",
    "TokenFormat",
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


# Tracebacks and reprs name the public module, not the private one it lives in.
# Imported on first use: they pull in boto3, which a pytest plugin or a CLI --help
# should not pay for.
_LAZY = {
    "SageMakerRuntime": "._client",
    "ResponseStream": "._streaming",
    "AsyncSageMakerRuntime": "._async_client",
    "AsyncResponseStream": "._async_streaming",
}


def _publish(obj: object) -> None:
    if isinstance(obj, type) and obj.__module__.startswith(__name__ + "._"):
        obj.__module__ = __name__


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    _publish(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _publish_all() -> None:
    for name in __all__:
        if name not in _LAZY:
            _publish(globals()[name])


_publish_all()

"""typed-sagemaker-runtime: a thin, fully typed facade over boto3's ``sagemaker-runtime`` client."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

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
from ._version import __version__

if TYPE_CHECKING:
    from ._async_client import AsyncSageMakerRuntime
    from ._async_inference import S3ClientLike
    from ._async_streaming import AsyncResponseStream
    from ._client import SageMakerRuntime
    from ._decoders import ServerSentEvent, TokenFormat
    from ._events import InternalStreamFailure, ModelStreamError, PayloadPart, StreamEvent
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
    from ._streaming import ResponseStream
    from ._types import (
        AsyncOutput,
        Body,
        InvokeAsyncResult,
        InvokeResult,
        ReadableBody,
        ResponseMetadata,
        StreamMetadata,
    )

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


# Imported on first use, so `import typed_sagemaker_runtime` costs little on top of boto3:
# the clients pull in boto3 (which a pytest plugin or a CLI --help should not pay for),
# the LLM layer and the decoders are not needed for a plain invoke. Only the exceptions
# are imported eagerly.
_LAZY = {
    "SageMakerRuntime": "._client",
    "ResponseStream": "._streaming",
    "AsyncSageMakerRuntime": "._async_client",
    "AsyncResponseStream": "._async_streaming",
    "S3ClientLike": "._async_inference",
    "ServerSentEvent": "._decoders",
    "TokenFormat": "._decoders",
    "RetryPolicy": "._retry",
    **dict.fromkeys(
        ("StreamEvent", "PayloadPart", "ModelStreamError", "InternalStreamFailure"), "._events"
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
        "._types",
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
        "._llm_types",
    ),
}


def _publish(obj: object) -> None:
    """Tracebacks and reprs name the public module, not the private one a class lives in."""
    if isinstance(obj, type) and obj.__module__.startswith(__name__ + "._"):
        obj.__module__ = __name__


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module(module, __name__)  # which binds its names (_publish_loaded)
    return globals()[name]


def _publish_loaded() -> None:  # pyright: ignore[reportUnusedFunction]  (the lazy modules call it)
    """Bind (and publish) every lazy name whose module is loaded by now.

    Each module of ``_LAZY`` calls it as its last line, however it was first imported
    (a lookup here, a client loading its stream module, ``testing``, the CLI).
    """
    namespace = globals()
    for name, module in _LAZY.items():
        if name not in namespace:
            loaded = sys.modules.get(__name__ + module)
            if loaded is not None and name in vars(loaded):
                value = vars(loaded)[name]
                _publish(value)
                namespace[name] = value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _publish_eager() -> None:
    for name in __all__:
        if name not in _LAZY:
            _publish(globals()[name])


_publish_eager()

"""The public surface: every name in design.md importable from the root, cheaply."""

from __future__ import annotations

import subprocess
import sys

import typed_sagemaker_runtime

DESIGNED = {
    "SageMakerRuntime",
    "AsyncSageMakerRuntime",
    "AsyncResponseStream",
    "InvokeResult",
    "InvokeAsyncResult",
    "StreamMetadata",
    "ResponseMetadata",
    "AsyncOutput",
    "ResponseStream",
    "PayloadPart",
    "ModelStreamError",
    "InternalStreamFailure",
    "StreamEvent",
    "ServerSentEvent",
    "SageMakerRuntimeError",
    "ClientValidationError",
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
    "ToolCallDelta",
    "ToolCall",
    "Usage",
    "GenerationChunk",
    "Generation",
    "ChatMessage",
    "ToolSpec",
    "GenerateParameters",
}


def test_every_designed_name_is_exported() -> None:
    assert set(typed_sagemaker_runtime.__all__) >= DESIGNED
    for name in typed_sagemaker_runtime.__all__:
        assert getattr(typed_sagemaker_runtime, name) is not None


def test_public_classes_name_the_public_module() -> None:
    for name in typed_sagemaker_runtime.__all__:
        obj = getattr(typed_sagemaker_runtime, name)
        if isinstance(obj, type):
            assert obj.__module__ == "typed_sagemaker_runtime", name


def test_dir_lists_the_lazy_names() -> None:
    assert {
        "SageMakerRuntime",
        "ResponseStream",
        "AsyncSageMakerRuntime",
        "AsyncResponseStream",
    } <= set(dir(typed_sagemaker_runtime))


def test_root_import_does_not_load_boto3() -> None:
    """The pytest plugin imports the package in every test run: keep it cheap."""
    code = (
        "import sys, typed_sagemaker_runtime, typed_sagemaker_runtime.testing;"
        "print(sorted(m for m in ('boto3', 'botocore', 'urllib3', 'aiobotocore', 'aiohttp')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

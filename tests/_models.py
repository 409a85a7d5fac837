"""Skip a test whose feature the installed botocore's service model lacks.

The library decides what it can send by asking the service model (``models_member``),
never by version numbers; so do these skips. On the dependency floors (``.ci/run``)
they name what is missing; on a recent botocore nothing skips.
"""

from __future__ import annotations

import functools

import botocore
import botocore.session
import pytest
from botocore.model import OperationModel

from typed_sagemaker_runtime._core._params import models_member


@functools.cache
def _operation_model(operation: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    return model.operation_model(operation)


def models(operation: str, member: str) -> bool:
    """Whether the installed botocore models ``member`` in the operation's input or output."""
    operation_model = _operation_model(operation)
    output = operation_model.output_shape
    return models_member(operation_model, member) or (
        output is not None and member in output.members
    )


def needs_model(operation: str, member: str) -> pytest.MarkDecorator:
    """Skip unless the installed botocore models ``operation.member``."""
    return pytest.mark.skipif(
        not models(operation, member),
        reason=f"botocore {botocore.__version__} does not model {operation}.{member}",
    )


INLINE_ASYNC_BODY = needs_model("InvokeEndpointAsync", "Body")
"""For tests that send InvokeEndpointAsync an inline body."""

SESSIONS = needs_model("InvokeEndpoint", "SessionId")
"""For tests of stateful sessions (``session_id``, ``NewSessionId``)."""

OUTPUT_NAMING = needs_model("InvokeEndpointAsync", "Filename")
"""For tests of ``s3_output_path_extension`` and ``filename`` (modelled together)."""

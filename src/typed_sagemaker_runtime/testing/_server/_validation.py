"""The checks SageMaker makes on a request before it reaches the model, from botocore's model.

Raw boto3 sends whatever it is given; without these checks a request AWS rejects (a 7 MB
body, 5,000 characters of custom attributes) would pass locally. Messages follow AWS's
"1 validation error detected" form and never quote header values.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .._model import InvocationRequest


@cache
def _operation_model(operation: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    return model.operation_model(operation)


def _camel(member: str) -> str:
    return member[:1].lower() + member[1:]


def validation_problem(request: InvocationRequest) -> str | None:
    """Why SageMaker would reject ``request`` with a ValidationError, or ``None``."""
    shape = _operation_model(request.operation).input_shape
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        limit = member_shape.metadata.get("max")
        if location == "header" and member_shape.type_name == "string":
            value = request.headers.get(member_shape.serialization["name"])
            if value is not None and limit is not None and len(value) > limit:
                return (
                    f"1 validation error detected: Value at '{_camel(member)}' failed to "
                    f"satisfy constraint: Member must have length less than or equal to {limit}"
                )
        elif member_shape.type_name == "blob" and limit is not None and len(request.body) > limit:
            return (
                f"1 validation error detected: Value at 'body' failed to satisfy constraint: "
                f"Member must have length less than or equal to {limit}"
            )
    return None

"""The routing arguments of the LLM methods, and botocore's parameters for them, sans-I/O.

``chat``, ``chat_stream``, ``generate`` and ``generate_stream`` of both clients take the
routing arguments of ``invoke`` next to their own and send a JSON body; this is where the
request that botocore receives is built from them.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict

from .._core._params import build_params

__all__ = ["Routing", "routed_params"]


class Routing(TypedDict):
    """The endpoint-routing arguments of an LLM method, as the caller passed them."""

    custom_attributes: str | None
    target_variant: str | None
    target_container_hostname: str | None
    inference_id: str | None
    inference_component_name: str | None
    session_id: str | None


def routed_params(
    operation_model: Any, endpoint_name: str, body: object, routing: Routing
) -> dict[str, Any]:
    """botocore's arguments for a chat or generate request: ``body`` as JSON, and the routing."""
    return build_params(operation_model, {"endpoint_name": endpoint_name, "json": body, **routing})

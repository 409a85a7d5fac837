"""What the local endpoint hands to bidirectional-stream backends, and what they give back.

A backend of InvokeEndpointWithBidirectionalStream is either a plain callable that receives
the request's parts as they arrive and yields the response (:data:`BidiHandler`), or an
object that also wants the request's headers, invocation path and query string (the
container and the demo): it has a ``serve_bidi`` method taking a :class:`BidiInvocation`
(:class:`BidiBackend`). What either yields (:data:`BidiOutput`): ``bytes`` (a BINARY
part), ``str`` (a UTF8 part), a :class:`BidiPayloadPart` as it is, or a
:class:`ModelStreamError` / :class:`InternalStreamFailure`, which is sent as the stream's
error event and ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

from .._core._bidi_events import BidiPayloadPart
from .._core._events import InternalStreamFailure, ModelStreamError
from ._headers import Headers

__all__ = ["BidiBackend", "BidiHandler", "BidiInvocation", "BidiOutput"]

BidiOutput: TypeAlias = "bytes | str | BidiPayloadPart | ModelStreamError | InternalStreamFailure"
"""What a backend yields: a part (bytes are BINARY, str is UTF8) or the stream's error event."""


@dataclass(frozen=True, slots=True, repr=False)
class BidiInvocation:
    """One bidirectional stream received by the local endpoint, as its backend sees it."""

    endpoint_name: str
    """The endpoint name from the request path."""
    headers: Headers
    """The request's headers (case-insensitive), signature headers included."""
    request_id: str
    """The ``x-amzn-RequestId`` the local endpoint answered this stream with."""
    parts: Iterator[BidiPayloadPart]
    """The request's parts, each as soon as its signature is verified; ends with the input."""

    @property
    def model_invocation_path(self) -> str | None:
        """``X-Amzn-SageMaker-Model-Invocation-Path``, when sent."""
        return self.headers.get("X-Amzn-SageMaker-Model-Invocation-Path")

    @property
    def model_query_string(self) -> str | None:
        """``X-Amzn-SageMaker-Model-Query-String``, when sent."""
        return self.headers.get("X-Amzn-SageMaker-Model-Query-String")

    @property
    def target_variant(self) -> str | None:
        """``X-Amzn-SageMaker-Target-Variant``, when sent."""
        return self.headers.get("X-Amzn-SageMaker-Target-Variant")

    def __repr__(self) -> str:
        return f"<BidiInvocation {self.endpoint_name!r} request_id={self.request_id!r}>"


BidiHandler: TypeAlias = Callable[[Iterator[BidiPayloadPart]], Iterable[BidiOutput]]
"""A plain backend: the request's parts in, the response out, both as they come."""


@runtime_checkable
class BidiBackend(Protocol):
    """A backend that wants the whole :class:`BidiInvocation` (the container, the demo)."""

    def serve_bidi(self, invocation: BidiInvocation) -> Iterable[BidiOutput]:
        """Answer one stream: read ``invocation.parts`` as they arrive, yield the response."""
        ...

"""Typed events of an InvokeEndpointWithResponseStream response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ._public import public

__all__ = ["PayloadPart", "ModelStreamError", "InternalStreamFailure", "StreamEvent"]


@public
@dataclass(frozen=True, slots=True)
class PayloadPart:
    """A piece of the model's response body. Boundaries are arbitrary: not lines, not tokens."""

    data: bytes
    """The bytes of this part."""

    def __repr__(self) -> str:
        # Payloads are model output and may be sensitive or huge: show the size only.
        return f"PayloadPart(<{len(self.data)} bytes>)"

    def __reduce__(self) -> tuple[type[PayloadPart], tuple[bytes]]:
        # Python 3.10 cannot unpickle a frozen dataclass with slots by default.
        return (PayloadPart, (self.data,))


@public
@dataclass(frozen=True, slots=True)
class ModelStreamError:
    """The model stream failed; always the last event of a stream."""

    message: str | None
    """SageMaker's description of the failure."""
    error_code: str | None
    """The wire ``ErrorCode``, e.g. ``ModelInvocationTimeExceeded`` or ``StreamBroken``."""

    def __reduce__(self) -> tuple[type[ModelStreamError], tuple[str | None, str | None]]:
        return (ModelStreamError, (self.message, self.error_code))


@public
@dataclass(frozen=True, slots=True)
class InternalStreamFailure:
    """SageMaker failed internally while streaming; always the last event of a stream."""

    message: str | None
    """SageMaker's description of the failure."""

    def __reduce__(self) -> tuple[type[InternalStreamFailure], tuple[str | None]]:
        return (InternalStreamFailure, (self.message,))


StreamEvent: TypeAlias = PayloadPart | ModelStreamError | InternalStreamFailure
"""Any event yielded by iterating a :class:`ResponseStream`."""

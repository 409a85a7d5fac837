"""What a call reports to: :class:`CallRecord`, its no-op :data:`OFF`, the operation names.

One :class:`CallRecord` per client call hears what the response said (request id, usage,
finish reasons, response id and model, time to the first chunk, retries, error type) and
ends once, when the call returns or fails, or, for a stream, when the stream releases its
connection. The clients and streams only tell the record what happened. This module loads nothing of
OpenTelemetry: the record that does the recording is in ``_otel_record``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from .._base._stream import PayloadDecoder
    from .._core._events import StreamEvent
    from .._core._llm_types import Generation, GenerationChunk

__all__ = ["INVOKE", "INVOKE_ASYNC", "CHAT", "TEXT_COMPLETION", "CallRecord", "OFF"]

INVOKE = "invoke_endpoint"
"""``gen_ai.operation.name`` of ``invoke()`` and ``stream()``: the payload is the model's own."""
INVOKE_ASYNC = "invoke_endpoint_async"
"""``gen_ai.operation.name`` of ``invoke_async()``: queues a request, no answer yet."""
CHAT = "chat"
TEXT_COMPLETION = "text_completion"


class CallRecord:
    """What a client tells the instrumentation about one call. This base records nothing.

    Use it as a context manager around the call: an ``Exception`` leaving the block ends
    the record as failed; a clean exit ends it unless :meth:`stream_started` handed it to
    a stream, which calls :meth:`end` when it releases its connection.
    """

    __slots__ = ()
    recording = False

    def __repr__(self) -> str:
        return "<CallRecord: not recorded>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def retried(self) -> None:
        """Another attempt is about to be made."""

    def responded(self, request_id: str | None, variant: str | None) -> None:
        """The response arrived (request id, invoked production variant)."""

    def stream_started(
        self, request_id: str | None, variant: str | None, content_type: str | None
    ) -> None:
        """A stream's response head arrived; the stream now owns the record."""

    def generation(self, generation: Generation, answer: bytes | None = None) -> None:
        """A non-streamed chat or generate answer: its usage, finish reason, id and model.

        ``answer`` is the response body, read for its ``id`` and ``model`` only.
        """

    def events(self, events: list[StreamEvent]) -> None:
        """Events decoded from a stream's body, before anyone sees them."""

    def tee(self, decoder: PayloadDecoder[GenerationChunk]) -> PayloadDecoder[GenerationChunk]:
        """The stream's reader decodes chunks itself: observe them through ``decoder``."""
        return decoder

    def failed(self, exc: BaseException) -> None:
        """The call failed with ``exc`` (only the first failure is kept)."""

    def end(self, completed: bool = True) -> None:
        """End the span and record the metrics; idempotent. ``completed``: read to its end."""


OFF = CallRecord()
"""The record of a call that is not recorded."""

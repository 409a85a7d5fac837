"""``ModelFailure``: how a handler fails the way a model container does."""

from __future__ import annotations

__all__ = ["ModelFailure"]


class ModelFailure(Exception):
    """Raise from a handler to fail as a model container answering an error status would.

    Before anything was sent (InvokeEndpoint, or a stream before its first part) the client
    gets SageMaker's ``ModelError`` (HTTP 424) with ``OriginalStatusCode`` = ``status_code``,
    ``OriginalMessage`` = ``message`` and ``ErrorCode`` ``CLIENT_ERROR_FROM_MODEL`` (a 4xx
    status) or ``SERVER_ERROR_FROM_MODEL`` (anything else). Once a stream has sent parts it
    ends with a ``ModelStreamError`` event instead, with ``stream_error_code`` and ``message``.

    ``status_code`` 0 means the model sent no HTTP status at all (SageMaker reports timeouts
    of the container that way).
    """

    status_code: int
    """The HTTP status the model answered (``OriginalStatusCode``)."""
    message: str
    """The model's error message (``OriginalMessage``; the stream error event's message)."""
    stream_error_code: str
    """The ``ErrorCode`` of the ``ModelStreamError`` event when a stream already started."""

    def __init__(
        self, status_code: int, message: str, *, stream_error_code: str = "StreamBroken"
    ) -> None:
        """Fail with ``status_code`` and ``message``; see the class docstring."""
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message
        self.stream_error_code = stream_error_code

    def __str__(self) -> str:
        return self.message

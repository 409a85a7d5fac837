"""``BidiMethods``: InvokeEndpointWithBidirectionalStream on ``AsyncSageMakerRuntime``.

The asyncio twin of ``_sync._bidi_methods``: the arguments are checked when
``bidi_stream`` is called; the stream opens (credentials read, request signed and sent
over awscrt) when it is entered or awaited.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING

from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._core._bidi_events import BidiInput
    from ._bidi_stream import AsyncBidiConnection, AsyncBidiStream

__all__ = ["BidiMethods"]


class BidiMethods(ClientCore):
    """``bidi_stream``."""

    def bidi_stream(
        self,
        endpoint_name: str,
        *,
        input: Iterable[BidiInput] | AsyncIterable[BidiInput] | None = None,
        model_invocation_path: str | None = None,
        model_query_string: str | None = None,
        target_variant: str | None = None,
    ) -> AsyncBidiStream:
        """An InvokeEndpointWithBidirectionalStream, opened by ``async with`` or ``await``.

        ``async with smr.bidi_stream(...) as stream:`` opens it and closes it on exit;
        ``stream = await smr.bidi_stream(...)`` opens it and returns it. The arguments are
        checked now; the request is signed and sent when the stream opens. Needs the
        ``bidi`` extra (awscrt). The endpoint, TLS trust, timeouts and credentials follow
        the wrapped aiobotocore client, as for :meth:`SageMakerRuntime.bidi_stream`.
        Nothing is retried: a stream cannot be replayed.

        Args:
            endpoint_name: The endpoint's name.
            input: Parts for the stream to send from a task of its own (an iterable or
                an async iterable of ``str``, bytes-like or :class:`BidiPayloadPart`),
                ending the input when it is exhausted, while the caller iterates the
                events. An exception it raises is raised to the reader.
            model_invocation_path: The path the container's WebSocket is opened on,
                e.g. ``"v1/listen"`` (default: ``invocations-bidirectional-stream``).
            model_query_string: The query string passed to the container, e.g.
                ``"model=nova-3"``; never echoed in error messages.
            target_variant: The production variant to send the stream to.

        Returns:
            The :class:`AsyncBidiStream`, not yet open.

        Raises:
            ClientValidationError: An argument is invalid (raised here; nothing is sent).
            CredentialsError: The session has no usable credentials (on opening).
            TransportError: The connection could not be made (on opening).
            ImportError: awscrt is not installed (the ``bidi`` extra; on opening).
        """
        # Imported here: a client that never streams both ways does not load them.
        from .._base._bidi_setup import (
            check_arguments,
            credentials_loader,
            loading_credentials,
            signed_request,
        )
        from ._bidi_stream import AsyncBidiStream, open_connection

        target = check_arguments(
            endpoint_name,
            input=input,
            target_variant=target_variant,
            model_invocation_path=model_invocation_path,
            model_query_string=model_query_string,
        )

        async def open_stream() -> AsyncBidiConnection:
            client = await self._ensure_client()
            load = credentials_loader(client)
            with loading_credentials():
                loaded = load()
                credentials = await loaded if inspect.isawaitable(loaded) else loaded
            opened, settings = signed_request(client, self._bidi_endpoint_url, target, credentials)
            return await open_connection(opened, settings)

        return AsyncBidiStream(endpoint_name, open_stream, input)

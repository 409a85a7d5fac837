"""``BidiMethods``: InvokeEndpointWithBidirectionalStream on ``SageMakerRuntime``.

botocore does not carry this operation (HTTP/2, full duplex, every event signed): the
request is signed and sent over awscrt, with the region, endpoint, trust, timeouts and
credentials of the wrapped boto3 client (``_base._bidi_setup``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._core._bidi_events import BidiInput
    from ._bidi_stream import BidiStream

__all__ = ["BidiMethods"]


class BidiMethods(ClientCore):
    """``bidi_stream``."""

    def bidi_stream(
        self,
        endpoint_name: str,
        *,
        input: Iterable[BidiInput] | None = None,
        model_invocation_path: str | None = None,
        model_query_string: str | None = None,
        target_variant: str | None = None,
    ) -> BidiStream:
        """Open an InvokeEndpointWithBidirectionalStream: send parts while reading events.

        The request is signed and sent before this returns (a model may speak first);
        use the stream with ``with`` so that it is closed. Needs the ``bidi`` extra
        (awscrt). The endpoint is ``https://runtime.sagemaker.REGION.amazonaws.com:8443``
        for the client's region (FIPS and dual-stack as the client's configuration says),
        or the client's ``bidi_endpoint_url`` / ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2``;
        TLS trust, timeouts and credentials are the wrapped boto3 client's. Nothing is
        retried: a stream cannot be replayed.

        Args:
            endpoint_name: The endpoint's name.
            input: Parts for the stream to send from a thread of its own (``str`` as
                UTF8, bytes-like as BINARY, or :class:`BidiPayloadPart`), ending the
                input when the iterable is exhausted, while the caller iterates the
                events. An exception the iterable raises is raised to the reader.
            model_invocation_path: The path the container's WebSocket is opened on,
                e.g. ``"v1/listen"`` (default: ``invocations-bidirectional-stream``).
            model_query_string: The query string passed to the container, e.g.
                ``"model=nova-3"``; never echoed in error messages.
            target_variant: The production variant to send the stream to.

        Returns:
            The open :class:`BidiStream`.

        Raises:
            ClientValidationError: An argument is invalid (nothing is sent).
            CredentialsError: The session has no usable credentials.
            TransportError: The connection could not be made (or timed out).
            ImportError: awscrt is not installed (the ``bidi`` extra).
        """
        # Imported here: a client that never streams both ways does not load them.
        from .._base._bidi_setup import (
            check_arguments,
            credentials_loader,
            loading_credentials,
            signed_request,
        )
        from ._bidi_stream import BidiStream, open_connection

        target = check_arguments(
            endpoint_name,
            input=input,
            target_variant=target_variant,
            model_invocation_path=model_invocation_path,
            model_query_string=model_query_string,
        )
        load = credentials_loader(self._client)
        with loading_credentials():
            credentials = load()
        opened, settings = signed_request(
            self._client, self._bidi_endpoint_url, target, credentials
        )
        return BidiStream(endpoint_name, open_connection(opened, settings), input)

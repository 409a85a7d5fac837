"""Opening a bidirectional stream, sans-I/O: arguments checked, request signed, signer ready.

What the sync and asyncio transports both do before they dial, in one place: validate the
stream's arguments (before credentials are even looked at), sign the request with the
credentials frozen for this stream, and seed the event signer with the request's signature.
The transport then sends ``request.headers`` on ``request.path`` and passes every encoded
part through ``signer.sign`` and, once, ``signer.end_frame()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._bidi_endpoint import BidiEndpoint, request_target
from ._bidi_events import OPERATION
from ._bidi_signing import (
    SERVICE,
    Clock,
    EventSigner,
    FrozenCredentials,
    SignedRequest,
    sign_request,
    utc_now,
)
from ._exceptions import ClientValidationError


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """A signed request and the signer of its events."""

    endpoint: BidiEndpoint
    request: SignedRequest
    signer: EventSigner


def prepare_request(
    endpoint_name: object,
    *,
    endpoint: BidiEndpoint,
    region: str | None,
    credentials: FrozenCredentials,
    target_variant: object = None,
    model_invocation_path: object = None,
    model_query_string: object = None,
    clock: Clock = utc_now,
) -> OpenedRequest:
    """Validate, sign and seed: everything a transport needs before it connects.

    ``region`` is the session's (it scopes the signature even when a custom endpoint is
    used). Raises :class:`ClientValidationError` naming a bad argument, or
    :class:`CredentialsError` for incomplete credentials.
    """
    path, headers = request_target(
        endpoint_name,
        target_variant=target_variant,
        model_invocation_path=model_invocation_path,
        model_query_string=model_query_string,
    )
    if not region:
        raise ClientValidationError(
            "region_name: a region is needed to sign the request "
            "(region_name=, AWS_REGION, or the profile's region)",
            field="region_name",
            operation=OPERATION,
        )
    request = sign_request(
        url=endpoint.url,
        path=path,
        region=region,
        credentials=credentials,
        moment=clock(),
        headers=headers,
        service=SERVICE,
    )
    signer = EventSigner(credentials, region, request.seed_signature, clock=clock, service=SERVICE)
    return OpenedRequest(endpoint=endpoint, request=request, signer=signer)

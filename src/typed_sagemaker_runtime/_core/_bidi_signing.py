"""SigV4 for InvokeEndpointWithBidirectionalStream: the request and every event, sans-I/O.

The scheme is ``STREAMING-AWS4-HMAC-SHA256-EVENTS`` (docs ``bidi-protocol.md`` section 2):

1. The HTTP/2 request is signed with ordinary SigV4 (service ``sagemaker``), its payload hash
   being the literal ``STREAMING-AWS4-HMAC-SHA256-EVENTS``, sent as ``X-Amz-Content-SHA256``.
   The hex ``Signature=`` of its ``Authorization`` header is the *seed*.
2. Each request event (an encoded event-stream message, the *inner* message) is wrapped in an
   *outer* message whose payload is the inner message's bytes and whose headers are ``:date``
   (timestamp, milliseconds) and ``:chunk-signature`` (the raw 32-byte HMAC). The signature
   covers the previous signature (hex), the encoded ``:date`` header and the payload, so the
   events form a chain rooted in the seed.
3. The input ends with one more signed outer message whose payload is empty.

What comes from botocore and what is written here:

* The request (step 1) is signed by ``botocore.auth.SigV4Auth``'s own pieces (canonical
  request, string to sign, key derivation), on a ``botocore.awsrequest.AWSRequest``. Only
  ``add_auth`` is not called: it reads the wall clock itself, and the time is injected here
  so tests are deterministic. Its last step (the ``Authorization`` header from scope,
  signed headers and signature) is therefore assembled here, with the same public methods.
* The events (steps 2-3) are hand-written: botocore has no event signer (its event streams
  only flow from the service), and AWS's own Python signer (``aws-sdk-signers``) requires
  Python 3.12 and reads the clock for every event. They are a few HMACs over the
  string to sign below, checked against the published vectors of aws-sdk-go-v2 and
  smithy-typescript in the tests.

Credentials are one frozen set per stream: the caller reads them from the session (e.g.
``credentials.get_frozen_credentials()``) when the stream opens, and the request and all
its events are signed with that set. They cannot change within a stream: the service
checks every event with the key of the request's ``Authorization`` header, so events signed
with refreshed keys would not verify. Refreshing credentials are refreshed between streams.
The signing key is derived per UTC day, so a stream that crosses midnight keeps verifying.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from ._eventstream import Timestamp, encode_frame, encode_headers
from ._exceptions import CredentialsError

SERVICE = "sagemaker"
"""The signing name of the SageMaker Runtime HTTP2 service."""
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
"""The request's ``X-Amz-Content-SHA256`` value, which says its events are signed."""
EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
"""The request's and the response's ``Content-Type``."""
EVENT_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
"""The first line of an event's string to sign."""
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

Clock = Callable[[], datetime]
"""Returns the current time; timezone-aware, or naive meaning UTC."""


class FrozenCredentials(Protocol):
    """What signing reads from credentials: botocore's ``ReadOnlyCredentials`` has it."""

    @property
    def access_key(self) -> str | None:
        """The access key id."""
        ...

    @property
    def secret_key(self) -> str | None:
        """The secret access key."""
        ...

    @property
    def token(self) -> str | None:
        """The session token, if the credentials are temporary."""
        ...


def freeze(credentials: FrozenCredentials) -> ReadOnlyCredentials:
    """A copy of ``credentials`` that cannot change; :class:`CredentialsError` if incomplete."""
    access_key, secret_key = credentials.access_key, credentials.secret_key
    if not access_key or not secret_key:
        missing = "access key id" if not access_key else "secret access key"
        raise CredentialsError(
            f"the AWS credentials have no {missing}: configure complete credentials "
            "(aws configure, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a profile)"
        )
    return ReadOnlyCredentials(access_key, secret_key, credentials.token or None)


def utc_now() -> datetime:
    """The wall clock in UTC: the default clock."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to milliseconds (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of a datetime (naive meaning UTC)."""
    return (as_utc(moment) - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_millis(millis: int) -> datetime:
    """The UTC datetime of a ``:date`` header value, exactly (``OverflowError`` if out of range)."""
    return _EPOCH + timedelta(milliseconds=millis)


def signing_key(secret_key: str, day: str, region: str, service: str = SERVICE) -> bytes:
    """The SigV4 derived key: HMAC chain of ``AWS4``+secret over day, region, service."""
    key = hmac.new(f"AWS4{secret_key}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def event_string_to_sign(
    *,
    amz_date: str,
    region: str,
    service: str,
    prior_signature: str,
    headers: bytes,
    payload: bytes,
) -> str:
    """The string an event signature signs (``amz_date`` is ``YYYYMMDDTHHMMSSZ``).

    ``headers`` are the encoded outer headers that are signed (only ``:date``), and
    ``payload`` the outer payload (the inner message's bytes, or nothing at the end).
    """
    return "\n".join(
        (
            EVENT_ALGORITHM,
            amz_date,
            f"{amz_date[:8]}/{region}/{service}/aws4_request",
            prior_signature,
            hashlib.sha256(headers).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        )
    )


def event_signature(
    *,
    secret_key: str,
    region: str,
    prior_signature: str,
    headers: bytes,
    payload: bytes,
    moment: datetime,
    service: str = SERVICE,
    key: bytes | None = None,
) -> bytes:
    """The raw 32-byte signature of one event; ``prior_signature`` is the previous one in hex.

    ``key`` may pass the day's derived key to skip deriving it again.
    """
    amz_date = as_utc(moment).strftime(AMZ_DATE_FORMAT)
    if key is None:
        key = signing_key(secret_key, amz_date[:8], region, service)
    string_to_sign = event_string_to_sign(
        amz_date=amz_date,
        region=region,
        service=service,
        prior_signature=prior_signature,
        headers=headers,
        payload=payload,
    )
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()


def encode_date_header(moment: datetime) -> bytes:
    """The encoded ``:date`` header of an outer message: the bytes its signature covers."""
    return encode_headers({":date": Timestamp(epoch_millis(moment))})


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The signed HTTP/2 request that opens a bidirectional stream.

    ``headers`` are lowercase and include ``host`` (the authority, with its port when it is
    not 443): an HTTP/2 transport sends it as ``:authority``. Every one of them is signed
    (``authorization`` carries the signature); headers a transport adds later
    (``user-agent``, ``accept``) are outside the signature, which is allowed.
    """

    method: str
    url: str
    path: str
    headers: tuple[tuple[str, str], ...]
    seed_signature: str
    """The hex signature of the request: the first link of the event chain."""


def sign_request(
    *,
    url: str,
    path: str,
    region: str,
    credentials: FrozenCredentials,
    moment: datetime,
    headers: Mapping[str, str] | None = None,
    service: str = SERVICE,
) -> SignedRequest:
    """Sign ``POST {url}{path}`` for an event stream with botocore's SigV4.

    ``url`` is the endpoint (``https://host[:port]``, no path); ``headers`` are extra headers
    to send and sign (the ``X-Amzn-SageMaker-*`` ones).
    """
    frozen = freeze(credentials)
    amz_date = as_utc(moment).strftime(AMZ_DATE_FORMAT)
    request = AWSRequest(method="POST", url=url.rstrip("/") + path)
    request.headers["Content-Type"] = EVENT_STREAM_CONTENT_TYPE
    request.headers["X-Amz-Content-SHA256"] = STREAMING_PAYLOAD
    for name, value in (headers or {}).items():
        request.headers[name] = value
    request.headers["X-Amz-Date"] = amz_date
    if frozen.token:
        request.headers["X-Amz-Security-Token"] = frozen.token
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(frozen, service, region)
    signed = auth.headers_to_sign(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={auth.scope(request)}, "
        f"SignedHeaders={auth.signed_headers(signed)}, Signature={signature}"
    )
    sent = [(name, str(signed[name])) for name in sorted(set(signed))]
    sent.append(("authorization", authorization))
    return SignedRequest(
        method="POST",
        url=request.url or url,
        path=path,
        headers=tuple(sent),
        seed_signature=signature,
    )


class EventSigner:
    """Wraps and signs request events in order, each chained to the one before.

    One per stream, fed in the order the frames go on the wire (it is not thread-safe:
    the writer that sends the frames signs them). ``clock`` is read once per event.
    """

    __slots__ = ("_clock", "_ended", "_key", "_prior", "_region", "_secret", "_service")

    def __init__(
        self,
        credentials: FrozenCredentials,
        region: str,
        seed_signature: str,
        *,
        clock: Clock = utc_now,
        service: str = SERVICE,
    ) -> None:
        self._secret: str = freeze(credentials).secret_key or ""
        self._region = region
        self._service = service
        self._prior = seed_signature
        self._clock = clock
        self._key: tuple[str, bytes] = ("", b"")
        self._ended = False

    @property
    def prior_signature(self) -> str:
        """The hex signature of the last frame signed (the seed before the first)."""
        return self._prior

    @property
    def ended(self) -> bool:
        """Whether the end frame has been signed."""
        return self._ended

    def _day_key(self, day: str) -> bytes:
        if self._key[0] != day:
            self._key = (day, signing_key(self._secret, day, self._region, self._service))
        return self._key[1]

    def sign(self, message: bytes) -> bytes:
        """The signed outer frame carrying ``message`` (an encoded inner event)."""
        if self._ended:
            raise ValueError("the input has ended: no event can follow the end frame")
        return self._sign(message)

    def end_frame(self) -> bytes:
        """The signed empty frame that ends the input; only once."""
        if self._ended:
            raise ValueError("the end frame was already signed")
        frame = self._sign(b"")
        self._ended = True
        return frame

    def _sign(self, payload: bytes) -> bytes:
        moment = as_utc(self._clock())
        millis = epoch_millis(moment)
        date_header = encode_headers({":date": Timestamp(millis)})
        signature = event_signature(
            secret_key=self._secret,
            region=self._region,
            prior_signature=self._prior,
            headers=date_header,
            payload=payload,
            moment=moment,
            service=self._service,
            key=self._day_key(moment.strftime("%Y%m%d")),
        )
        self._prior = signature.hex()
        return encode_frame({":date": Timestamp(millis), ":chunk-signature": signature}, payload)

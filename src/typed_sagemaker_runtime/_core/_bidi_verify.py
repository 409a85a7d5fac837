"""Checking bidirectional-stream signatures, as the service does: for the local endpoint.

The server side of :mod:`._bidi_signing`, sans-I/O. :func:`verify_request_signature`
recomputes the request's SigV4 signature with botocore from the headers it names as
signed, and returns the seed of the event chain; :class:`EventChainVerifier` then checks
each outer frame's ``:chunk-signature`` against the previous one, the ``:date`` against the
clock, and that nothing follows the empty end frame. Failures raise
:class:`SignatureMismatch` with a reason that names no secret and echoes no payload.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from ._bidi_signing import (
    AMZ_DATE_FORMAT,
    SERVICE,
    STREAMING_PAYLOAD,
    Clock,
    as_utc,
    encode_date_header,
    event_signature,
    from_epoch_millis,
    signing_key,
)
from ._eventstream import HeaderValue, parse_headers
from ._exceptions import StreamDecodeError

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far a request's or an event's date may be from the verifier's clock, as SigV4 allows."""

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;._-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


class SignatureMismatch(ValueError):
    """A request or an event is not signed as the scheme requires; ``str()`` says why."""


def _check_skew(moment: datetime, clock: Clock | None, max_skew: timedelta, what: str) -> None:
    if clock is not None and abs(as_utc(clock()) - as_utc(moment)) > max_skew:
        raise SignatureMismatch(f"the {what} date is more than {max_skew} from the server's clock")


def verify_request_signature(
    *,
    method: str,
    authority: str,
    path: str,
    headers: Mapping[str, str],
    secret_for: Callable[[str], str | None],
    clock: Clock | None = None,
    max_skew: timedelta = MAX_CLOCK_SKEW,
    service: str = SERVICE,
) -> tuple[str, str, str]:
    """Check the request's SigV4; return ``(seed_signature, region, secret_key)``.

    ``headers`` maps lowercase names to values (HTTP/2 sends them lowercase);
    ``authority`` is ``:authority`` (or ``host``), signed as ``host``. ``secret_for`` gives
    the secret of an access key id, or ``None`` for an unknown one. ``clock=None`` skips the
    date check.
    """
    match = _AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    if match is None:
        raise SignatureMismatch("the Authorization header is missing or malformed")
    if match["service"] != service:
        raise SignatureMismatch(f"the credential scope names service {match['service']!r}")
    if headers.get("x-amz-content-sha256") != STREAMING_PAYLOAD:
        raise SignatureMismatch(f"X-Amz-Content-SHA256 must be {STREAMING_PAYLOAD}")
    amz_date = headers.get("x-amz-date", "")
    try:
        moment = datetime.strptime(amz_date, AMZ_DATE_FORMAT)
    except ValueError:
        raise SignatureMismatch("X-Amz-Date is missing or malformed") from None
    if amz_date[:8] != match["day"]:
        raise SignatureMismatch("the credential scope's date is not X-Amz-Date's")
    _check_skew(moment, clock, max_skew, "request")
    secret = secret_for(match["key"])
    if secret is None:
        raise SignatureMismatch("the access key id is not known")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise SignatureMismatch("the host header is not signed")
    request = AWSRequest(method=method, url=f"https://{authority}{path}")
    for name in signed:
        value = authority if name == "host" else headers.get(name)
        if value is None:
            raise SignatureMismatch(f"the signed header {name!r} is missing")
        request.headers[name] = value
    request.context["timestamp"] = amz_date
    token = headers.get("x-amz-security-token")
    auth = SigV4Auth(ReadOnlyCredentials(match["key"], secret, token), service, match["region"])
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureMismatch("the request signature does not match")
    return match["signature"], match["region"], secret


def verify_event_signature(
    *,
    headers: Mapping[str, HeaderValue],
    payload: bytes,
    prior_signature: str,
    secret_key: str,
    region: str,
    service: str = SERVICE,
    key: bytes | None = None,
) -> tuple[datetime, bytes]:
    """Check one outer frame's ``:chunk-signature``; return its ``:date`` and raw signature.

    The outer frame must carry exactly ``:date`` and ``:chunk-signature`` (nothing unsigned).
    """
    if set(headers) != {":date", ":chunk-signature"}:
        raise SignatureMismatch("an event must carry exactly :date and :chunk-signature headers")
    millis, signature = headers[":date"], headers[":chunk-signature"]
    if isinstance(millis, bool) or not isinstance(millis, int):
        raise SignatureMismatch("the :date header is not a timestamp")
    if not isinstance(signature, bytes) or len(signature) != 32:
        raise SignatureMismatch("the :chunk-signature header is not 32 bytes")
    try:
        moment = from_epoch_millis(millis)
    except (OverflowError, OSError, ValueError):
        raise SignatureMismatch("the :date header is out of range") from None
    expected = event_signature(
        secret_key=secret_key,
        region=region,
        prior_signature=prior_signature,
        headers=encode_date_header(moment),
        payload=payload,
        moment=moment,
        service=service,
        key=key,
    )
    if not hmac.compare_digest(expected, signature):
        raise SignatureMismatch("the event signature does not match")
    return moment, signature


class EventChainVerifier:
    """Checks a request's outer frames in order, each against the one before.

    ``verify(raw_headers, payload)`` takes a frame as :class:`FrameDecoder` gives it and
    returns its payload (the inner message), ``b""`` for the end frame. After a failure or
    the end frame, every further frame is refused.
    """

    __slots__ = (
        "_clock",
        "_ended",
        "_failed",
        "_key",
        "_max_skew",
        "_prior",
        "_region",
        "_secret",
        "_service",
    )

    def __init__(
        self,
        *,
        seed_signature: str,
        secret_key: str,
        region: str,
        clock: Clock | None = None,
        max_skew: timedelta = MAX_CLOCK_SKEW,
        service: str = SERVICE,
    ) -> None:
        self._prior = seed_signature
        self._secret = secret_key
        self._region = region
        self._clock = clock
        self._max_skew = max_skew
        self._service = service
        self._key: tuple[str, bytes] = ("", b"")
        self._ended = False
        self._failed = False

    @property
    def ended(self) -> bool:
        """Whether the signed empty end frame has arrived."""
        return self._ended

    def verify(self, raw_headers: bytes, payload: bytes) -> bytes:
        """Check the next frame; return its payload. Raises :class:`SignatureMismatch`."""
        if self._failed:
            raise SignatureMismatch("an earlier event failed verification")
        if self._ended:
            raise SignatureMismatch("an event followed the end frame")
        self._failed = True
        try:
            headers = parse_headers(raw_headers)
        except StreamDecodeError:
            raise SignatureMismatch("the event's headers are malformed") from None
        millis = headers.get(":date")
        day = ""
        if isinstance(millis, int) and not isinstance(millis, bool):
            try:
                day = from_epoch_millis(millis).strftime("%Y%m%d")
            except (OverflowError, OSError, ValueError):
                day = ""
        if day and self._key[0] != day:
            self._key = (day, signing_key(self._secret, day, self._region, self._service))
        moment, signature = verify_event_signature(
            headers=headers,
            payload=payload,
            prior_signature=self._prior,
            secret_key=self._secret,
            region=self._region,
            service=self._service,
            key=self._key[1] if day else None,
        )
        _check_skew(moment, self._clock, self._max_skew, "event")
        self._failed = False
        self._prior = signature.hex()
        self._ended = not payload
        return payload

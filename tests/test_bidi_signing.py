"""Signing of InvokeEndpointWithBidirectionalStream (issue 21): the request and every event.

The event signatures are checked against the published vectors (docs bidi-protocol.md
section 2: V1 from aws-sdk-go-v2, V2 from smithy-typescript/aws-sdk-ruby, V4 self-made),
and the request and the chain against a recomputation written here from the SigV4
specification, independent of the module's code.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from datetime import datetime, timedelta, timezone

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from typed_sagemaker_runtime._core._bidi_events import BidiPayloadPart, encode_part
from typed_sagemaker_runtime._core._bidi_signing import (
    EventSigner,
    epoch_millis,
    event_signature,
    event_string_to_sign,
    from_epoch_millis,
    sign_request,
)
from typed_sagemaker_runtime._core._eventstream import FrameDecoder, parse_headers
from typed_sagemaker_runtime._core._exceptions import CredentialsError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIALS = ReadOnlyCredentials("AKIDEXAMPLE", SECRET, None)
ENDPOINT = "https://runtime.sagemaker.us-east-1.amazonaws.com:8443"
PATH = "/endpoints/my-endpoint/invocations-bidirectional-stream"
NOON = datetime(2025, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


# --- independent recomputation (SigV4 by hand) ----------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _key(secret: str, day: str, region: str, service: str) -> bytes:
    return _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), service), "aws4_request"
    )


def _date_header(millis: int) -> bytes:
    return b"\x05:date\x08" + struct.pack(">q", millis)


def _expected_event_signature(prior_hex: str, millis: int, payload: bytes, secret: str) -> bytes:
    moment = datetime.fromtimestamp(millis / 1000, timezone.utc)
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "AWS4-HMAC-SHA256-PAYLOAD",
        stamp,
        f"{stamp[:8]}/us-east-1/sagemaker/aws4_request",
        prior_hex,
        hashlib.sha256(_date_header(millis)).hexdigest(),
        hashlib.sha256(payload).hexdigest(),
    ]
    return _hmac(_key(secret, stamp[:8], "us-east-1", "sagemaker"), "\n".join(lines))


def _frame(data: bytes) -> tuple[dict[str, object], bytes]:
    decoder = FrameDecoder()
    [(raw_headers, payload)] = decoder.feed(data)
    decoder.finish()
    return dict(parse_headers(raw_headers)), payload


# --- published vectors -------------------------------------------------------------------


def test_v1_go_stream_signer_chain_and_end_frame() -> None:
    expected = [
        (b"foo", 10, "e3a136405ec1152f62136742efd41f8639cd647a1cf21fab12aedb22cccd8999"),
        (b"bar", 20, "92a6ad677e839d3003672cb2cefc71ef80d42e8cb300fefce0807e8398c74068"),
        (b"baz", 30, "46d6660bd40f2ff5d6246a347895cabe7f4e89d9e1f4c6dad6dabdc801923be1"),
        (b"", 30, "492bcb3e21de447c85f8a9bef6c0eb833e992e405b9b3584be84edaccc5aad18"),
    ]
    prior = b"foobarbazqux".hex()
    for data, seconds, signature in expected:
        got = event_signature(
            secret_key="SECRET",
            region="us-east-1",
            service="transcribestreaming",
            prior_signature=prior,
            headers=data,
            payload=data,
            moment=_at(seconds),
        )
        assert got.hex() == signature
        prior = got.hex()


def test_v1_string_to_sign_of_the_first_event() -> None:
    foo = hashlib.sha256(b"foo").hexdigest()
    assert event_string_to_sign(
        amz_date="19700101T000010Z",
        region="us-east-1",
        service="transcribestreaming",
        prior_signature="666f6f62617262617a717578",
        headers=b"foo",
        payload=b"foo",
    ) == (
        "AWS4-HMAC-SHA256-PAYLOAD\n19700101T000010Z\n"
        f"19700101/us-east-1/transcribestreaming/aws4_request\n666f6f62617262617a717578\n{foo}\n{foo}"
    )


def test_v2_typescript_event_vector_with_an_empty_prior_signature() -> None:
    headers = bytes([5, 58, 100, 97, 116, 101, 8, 0, 0, 1, 103, 247, 125, 87, 112])
    got = event_signature(
        secret_key="secret",
        region="REGION",
        service="SERVICE",
        prior_signature="",
        headers=headers,
        payload=b"foo",
        moment=datetime(2013, 5, 24, tzinfo=timezone.utc),
    )
    assert got.hex() == "204bb5e2713e95354680e9522986d3ac0304aeafd33397f39e6540ca51ffe226"
    assert headers == _date_header(1546045446000)  # the vector's headers are a real :date


def test_v4_sagemaker_golden_sequence() -> None:
    clock = iter([NOON, NOON + timedelta(seconds=1)])
    signer = EventSigner(CREDENTIALS, "us-east-1", "0" * 64, clock=lambda: next(clock))
    first = _frame(signer.sign(encode_part(BidiPayloadPart(b"hello", "UTF8", "COMPLETE"))))
    end = _frame(signer.end_frame())
    assert first[0][":chunk-signature"] == bytes.fromhex(
        "15e2bc3939725ac4d7c85bf4ee13b5fb703079b2a1bdb23f4dd55a1c56fd5fd2"
    )
    assert end[0][":chunk-signature"] == bytes.fromhex(
        "847d607905e62d7deeb96017b36960a759412ca84cec141e17edb695442af93a"
    )


# --- the request -------------------------------------------------------------------------


def test_request_signature_matches_a_hand_computed_sigv4() -> None:
    credentials = ReadOnlyCredentials("AKID", "SECRET", "TOKEN")
    signed = sign_request(
        url=ENDPOINT,
        path=PATH,
        region="us-east-1",
        credentials=credentials,
        moment=NOON,
        headers={"X-Amzn-SageMaker-Model-Invocation-Path": "v1/listen"},
    )
    headers = dict(signed.headers)
    assert headers["host"] == "runtime.sagemaker.us-east-1.amazonaws.com:8443"
    assert headers["x-amz-content-sha256"] == "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amz-date"] == "20251125T120000Z"
    assert headers["x-amz-security-token"] == "TOKEN"
    names = sorted(name for name in headers if name != "authorization")
    canonical = "\n".join(
        [
            "POST",
            PATH,
            "",
            *(f"{name}:{headers[name]}" for name in names),
            "",
            ";".join(names),
            "STREAMING-AWS4-HMAC-SHA256-EVENTS",
        ]
    )
    scope = "20251125/us-east-1/sagemaker/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            "20251125T120000Z",
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    signature = _hmac(_key("SECRET", "20251125", "us-east-1", "sagemaker"), string_to_sign).hex()
    assert "x-amzn-sagemaker-model-invocation-path" in names
    assert headers["authorization"] == (
        f"AWS4-HMAC-SHA256 Credential=AKID/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    assert signed.seed_signature == signature
    assert signed.url == ENDPOINT + PATH


@pytest.mark.skipif(
    not hasattr(botocore.auth, "get_current_datetime"),
    reason="this botocore's SigV4Auth reads the clock itself (no get_current_datetime to fix)",
)
def test_request_signature_equals_botocores_add_auth_at_the_same_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOON.replace(tzinfo=None))
    request = AWSRequest(method="POST", url=ENDPOINT + PATH)
    request.headers["Content-Type"] = "application/vnd.amazon.eventstream"
    request.headers["X-Amz-Content-SHA256"] = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    botocore.auth.SigV4Auth(CREDENTIALS, "sagemaker", "us-east-1").add_auth(request)
    signed = sign_request(
        url=ENDPOINT, path=PATH, region="us-east-1", credentials=CREDENTIALS, moment=NOON
    )
    assert dict(signed.headers)["authorization"] == request.headers["Authorization"]


def test_the_default_https_port_is_not_part_of_the_signed_host() -> None:
    signed = sign_request(
        url="https://example.com:443",
        path=PATH,
        region="us-east-1",
        credentials=CREDENTIALS,
        moment=NOON,
    )
    assert dict(signed.headers)["host"] == "example.com"


# --- the event chain ---------------------------------------------------------------------


def test_each_event_is_wrapped_signed_and_chained_to_the_one_before() -> None:
    signed = sign_request(
        url=ENDPOINT, path=PATH, region="us-east-1", credentials=CREDENTIALS, moment=NOON
    )
    times = [NOON + timedelta(milliseconds=1500 * n + 7) for n in range(4)]
    clock = iter(times)
    signer = EventSigner(CREDENTIALS, "us-east-1", signed.seed_signature, clock=lambda: next(clock))
    inner = [encode_part(BidiPayloadPart(data, "BINARY", None)) for data in (b"a", b"", b"c" * 999)]
    frames = [signer.sign(message) for message in inner] + [signer.end_frame()]

    prior = signed.seed_signature
    for frame, moment, payload in zip(frames, times, [*inner, b""], strict=True):
        headers, carried = _frame(frame)
        assert list(headers) == [":date", ":chunk-signature"]
        millis = int(moment.timestamp() * 1000)
        assert headers[":date"] == millis
        assert carried == payload
        expected = _expected_event_signature(prior, millis, payload, SECRET)
        assert headers[":chunk-signature"] == expected
        prior = expected.hex()
    assert signer.prior_signature == prior
    assert signer.ended


def test_the_end_frame_is_signed_once_and_nothing_follows_it() -> None:
    signer = EventSigner(CREDENTIALS, "us-east-1", "0" * 64, clock=lambda: NOON)
    signer.end_frame()
    with pytest.raises(ValueError, match="already"):
        signer.end_frame()
    with pytest.raises(ValueError, match="ended"):
        signer.sign(b"late")


def test_a_stream_crossing_midnight_uses_each_days_key() -> None:
    before = datetime(2025, 11, 25, 23, 59, 59, tzinfo=timezone.utc)
    after = before + timedelta(seconds=2)
    clock = iter([before, after])
    signer = EventSigner(CREDENTIALS, "us-east-1", "0" * 64, clock=lambda: next(clock))
    first, _ = _frame(signer.sign(b"x"))
    second, _ = _frame(signer.sign(b"y"))
    secret = SECRET
    expected_first = _expected_event_signature("0" * 64, 1764115199000, b"x", secret)
    assert first[":chunk-signature"] == expected_first
    assert second[":chunk-signature"] == _expected_event_signature(
        expected_first.hex(), 1764115201000, b"y", secret
    )


def test_credentials_are_frozen_when_the_signer_is_made() -> None:
    credentials = Credentials("AKID", "first-secret")
    signer = EventSigner(credentials, "us-east-1", "0" * 64, clock=lambda: NOON)
    credentials.secret_key = "refreshed-secret"  # a refresh in the middle of a stream
    headers, _ = _frame(signer.sign(b"x"))
    millis = int(NOON.timestamp() * 1000)
    assert headers[":chunk-signature"] == _expected_event_signature(
        "0" * 64, millis, b"x", "first-secret"
    )


def test_a_naive_clock_is_utc_and_sub_millisecond_time_is_dropped() -> None:
    signer = EventSigner(
        CREDENTIALS, "us-east-1", "0" * 64, clock=lambda: datetime(2025, 11, 25, 12, 0, 0, 123456)
    )
    headers, _ = _frame(signer.sign(b"x"))
    assert headers[":date"] == int(NOON.timestamp() * 1000) + 123


@pytest.mark.parametrize("credentials", [("", "secret", None), ("AKID", None, "token")])
def test_incomplete_credentials_raise_credentials_error_before_anything_is_signed(
    credentials: tuple[str, str | None, str | None],
) -> None:
    incomplete = ReadOnlyCredentials(*credentials)
    with pytest.raises(CredentialsError, match=r"no (access key id|secret access key)"):
        sign_request(
            url=ENDPOINT, path=PATH, region="us-east-1", credentials=incomplete, moment=NOON
        )
    with pytest.raises(CredentialsError):
        EventSigner(incomplete, "us-east-1", "0" * 64)


@pytest.mark.parametrize("millis", [0, 1, 999, 1_764_072_000_123, 253_402_300_799_999, -1])
def test_date_header_milliseconds_convert_exactly_both_ways(millis: int) -> None:
    moment = from_epoch_millis(millis)
    assert epoch_millis(moment) == millis
    assert moment.tzinfo is not None

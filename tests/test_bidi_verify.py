"""The server's side of bidirectional-stream signing (issue 21): what the local endpoint checks.

Frames made by the client's signer verify; a tampered payload, a changed date, a broken or
reordered chain, a wrong key, an unsigned extra header and anything after the end frame
are refused, as is a request whose signature, key or date is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import given, strategies as st

from typed_sagemaker_runtime._core._bidi_endpoint import BidiEndpoint
from typed_sagemaker_runtime._core._bidi_events import (
    BidiPayloadPart,
    decode_request_part,
    encode_part,
)
from typed_sagemaker_runtime._core._bidi_request import prepare_request
from typed_sagemaker_runtime._core._bidi_signing import EventSigner, sign_request
from typed_sagemaker_runtime._core._bidi_verify import (
    EventChainVerifier,
    SignatureMismatch,
    verify_request_signature,
)
from typed_sagemaker_runtime._core._eventstream import (
    EncodableHeaderValue,
    FrameDecoder,
    Timestamp,
    encode_frame,
    parse_headers,
)
from typed_sagemaker_runtime._core._exceptions import ClientValidationError, CredentialsError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIALS = ReadOnlyCredentials("AKIDEXAMPLE", SECRET, "TOK")
AUTHORITY = "runtime.sagemaker.us-east-1.amazonaws.com:8443"
PATH = "/endpoints/ep/invocations-bidirectional-stream"
NOON = datetime(2025, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def _ticks() -> Iterator[datetime]:
    moment = NOON
    while True:
        yield moment
        moment += timedelta(milliseconds=250)


def _stream(parts: list[bytes]) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A signed request's seed and its frames (parts then the end frame), split as received."""
    signed = sign_request(
        url=f"https://{AUTHORITY}",
        path=PATH,
        region="us-east-1",
        credentials=CREDENTIALS,
        moment=NOON,
    )
    ticks = _ticks()
    signer = EventSigner(CREDENTIALS, "us-east-1", signed.seed_signature, clock=lambda: next(ticks))
    wire = b"".join(signer.sign(encode_part(BidiPayloadPart(p, "BINARY", None))) for p in parts)
    wire += signer.end_frame()
    return signed.seed_signature, FrameDecoder().feed(wire)


def _verifier(seed: str, secret: str | None = None, **kwargs: object) -> EventChainVerifier:
    return EventChainVerifier(
        seed_signature=seed,
        secret_key=secret or SECRET,
        region="us-east-1",
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_signed_stream_verifies_and_yields_its_parts_then_the_end() -> None:
    seed, frames = _stream([b"one", b"two", b""])
    verifier = _verifier(seed, clock=lambda: NOON)
    messages = [verifier.verify(headers, payload) for headers, payload in frames]
    assert [decode_request_part(m).data for m in messages[:-1]] == [b"one", b"two", b""]
    assert messages[-1] == b""
    assert verifier.ended


@given(st.lists(st.binary(max_size=64), max_size=6))
def test_any_stream_round_trips_through_signer_and_verifier(parts: list[bytes]) -> None:
    seed, frames = _stream(parts)
    verifier = _verifier(seed)
    received = [verifier.verify(headers, payload) for headers, payload in frames]
    assert [decode_request_part(m) for m in received[:-1]] == [
        BidiPayloadPart(p, "BINARY", None) for p in parts
    ]
    assert verifier.ended


def test_a_tampered_payload_is_refused() -> None:
    seed, frames = _stream([b"one"])
    headers, payload = frames[0]
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verifier(seed).verify(headers, payload.replace(b"one", b"two"))


def test_a_changed_date_is_refused() -> None:
    seed, frames = _stream([b"one"])
    headers = parse_headers(frames[0][0])
    moved = encode_frame(
        {
            ":date": Timestamp(int(headers[":date"]) + 1000),
            ":chunk-signature": headers[":chunk-signature"],
        },
        frames[0][1],
    )
    [(raw_headers, payload)] = FrameDecoder().feed(moved)
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verifier(seed).verify(raw_headers, payload)


def test_a_date_far_from_the_servers_clock_is_refused() -> None:
    seed, frames = _stream([b"one"])
    verifier = _verifier(seed, clock=lambda: NOON + timedelta(minutes=6))
    with pytest.raises(SignatureMismatch, match="clock"):
        verifier.verify(*frames[0])


def test_a_broken_chain_is_refused() -> None:
    seed, frames = _stream([b"one", b"two"])
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verifier(seed).verify(*frames[1])  # the first frame is missing
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verifier("0" * 64).verify(*frames[0])  # another request's seed


def test_a_wrong_key_is_refused() -> None:
    seed, frames = _stream([b"one"])
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verifier(seed, secret="not-the-secret").verify(*frames[0])


def test_an_unsigned_extra_header_is_refused() -> None:
    seed, frames = _stream([b"one"])
    headers = dict(parse_headers(frames[0][0]))
    assert isinstance(headers[":date"], int)
    extra = encode_frame(
        {
            ":date": Timestamp(headers[":date"]),
            ":chunk-signature": headers[":chunk-signature"],
            "x": "y",
        },
        frames[0][1],
    )
    with pytest.raises(SignatureMismatch, match="exactly"):
        _verifier(seed).verify(*FrameDecoder().feed(extra)[0])


def test_nothing_is_accepted_after_the_end_frame_or_a_failure() -> None:
    seed, frames = _stream([b"one"])
    verifier = _verifier(seed)
    for frame in frames:
        verifier.verify(*frame)
    with pytest.raises(SignatureMismatch, match="end frame"):
        verifier.verify(*frames[0])
    failed = _verifier(seed)
    with pytest.raises(SignatureMismatch):
        failed.verify(frames[0][0], b"tampered")
    with pytest.raises(SignatureMismatch, match="earlier"):
        failed.verify(*frames[0])


# --- the request -------------------------------------------------------------------------


def _signed_headers(moment: datetime = NOON) -> dict[str, str]:
    signed = sign_request(
        url=f"https://{AUTHORITY}",
        path=PATH,
        region="us-east-1",
        credentials=CREDENTIALS,
        moment=moment,
        headers={"X-Amzn-SageMaker-Target-Variant": "v1"},
    )
    return dict(signed.headers)


def _verify(headers: dict[str, str], **kwargs: object) -> tuple[str, str, str]:
    secrets = {"AKIDEXAMPLE": SECRET}
    options: dict[str, object] = {"clock": lambda: NOON, **kwargs}
    return verify_request_signature(
        method="POST",
        authority=str(options.pop("authority", AUTHORITY)),
        path=str(options.pop("path", PATH)),
        headers=headers,
        secret_for=secrets.get,
        **options,  # type: ignore[arg-type]
    )


def test_a_signed_request_verifies_and_gives_the_seed() -> None:
    headers = _signed_headers()
    seed, region, secret = _verify(headers)
    assert headers["authorization"].endswith(f"Signature={seed}")
    assert (region, secret) == ("us-east-1", SECRET)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"x-amzn-sagemaker-target-variant": "v2"}, "does not match"),
        ({"x-amz-security-token": "other"}, "does not match"),
        ({"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, "X-Amz-Content-SHA256"),
        ({"authorization": "Bearer x"}, "Authorization"),
        ({"x-amz-date": "yesterday"}, "X-Amz-Date"),
    ],
)
def test_a_changed_request_header_is_refused(change: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureMismatch, match=reason):
        _verify({**_signed_headers(), **change})


def test_a_request_to_another_path_or_host_is_refused() -> None:
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verify(_signed_headers(), path=PATH.replace("/ep/", "/other/"))
    with pytest.raises(SignatureMismatch, match="does not match"):
        _verify(_signed_headers(), authority="runtime.sagemaker.us-east-1.amazonaws.com")


def test_an_unknown_key_a_wrong_secret_and_an_old_date_are_refused() -> None:
    headers = _signed_headers()
    with pytest.raises(SignatureMismatch, match="not known"):
        verify_request_signature(
            method="POST",
            authority=AUTHORITY,
            path=PATH,
            headers=headers,
            secret_for=lambda _: None,
        )
    with pytest.raises(SignatureMismatch, match="does not match"):
        verify_request_signature(
            method="POST", authority=AUTHORITY, path=PATH, headers=headers, secret_for=lambda _: "x"
        )
    with pytest.raises(SignatureMismatch, match="clock"):
        _verify(_signed_headers(NOON - timedelta(minutes=10)))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        # an int32 :date decodes as an int too, but the signature covers a timestamp's bytes
        ({":date": 5, ":chunk-signature": bytes(32)}, "does not match"),
        ({":date": "now", ":chunk-signature": bytes(32)}, "not a timestamp"),
        ({":date": Timestamp(2**62), ":chunk-signature": bytes(32)}, "out of range"),
        ({":date": Timestamp(0), ":chunk-signature": bytes(31)}, "not 32 bytes"),
        ({":date": Timestamp(0), ":chunk-signature": "0" * 32}, "not 32 bytes"),
        ({":date": Timestamp(0)}, "exactly"),
    ],
)
def test_malformed_signature_headers_are_refused(
    headers: dict[str, EncodableHeaderValue], reason: str
) -> None:
    frame = encode_frame(headers, b"payload")
    with pytest.raises(SignatureMismatch, match=reason):
        _verifier("0" * 64).verify(*FrameDecoder().feed(frame)[0])


# --- the whole opening, client to server -------------------------------------------------


def test_a_prepared_request_and_its_events_verify_end_to_end() -> None:
    endpoint = BidiEndpoint("https://localhost:9443", "localhost", 9443, True)
    ticks = _ticks()
    opened = prepare_request(
        "my-ep",
        endpoint=endpoint,
        region="eu-west-1",
        credentials=CREDENTIALS,
        model_invocation_path="v1/listen",
        model_query_string="model=nova-3",
        clock=lambda: next(ticks),
    )
    request = opened.request
    headers = dict(request.headers)
    assert request.path == "/endpoints/my-ep/invocations-bidirectional-stream"
    assert headers["host"] == "localhost:9443"
    seed, region, secret = verify_request_signature(
        method=request.method,
        authority=endpoint.authority,
        path=request.path,
        headers=headers,
        secret_for={"AKIDEXAMPLE": SECRET}.get,
        clock=lambda: NOON,
    )
    assert region == "eu-west-1"
    verifier = EventChainVerifier(seed_signature=seed, secret_key=secret, region=region)
    wire = opened.signer.sign(encode_part(BidiPayloadPart(b"hi", "UTF8", None)))
    wire += opened.signer.end_frame()
    received = [verifier.verify(*frame) for frame in FrameDecoder().feed(wire)]
    assert decode_request_part(received[0]).data == b"hi"
    assert verifier.ended


def test_arguments_are_checked_before_credentials_and_a_region_is_required() -> None:
    endpoint = BidiEndpoint("https://localhost:9443", "localhost", 9443, True)
    incomplete = ReadOnlyCredentials(None, None, None)
    with pytest.raises(ClientValidationError) as caught:
        prepare_request("bad_name", endpoint=endpoint, region="us-east-1", credentials=incomplete)
    assert caught.value.field == "endpoint_name"
    with pytest.raises(ClientValidationError) as caught:
        prepare_request("ep", endpoint=endpoint, region=None, credentials=CREDENTIALS)
    assert caught.value.field == "region_name"
    with pytest.raises(CredentialsError):
        prepare_request("ep", endpoint=endpoint, region="us-east-1", credentials=incomplete)

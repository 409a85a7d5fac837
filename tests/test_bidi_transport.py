"""The sync HTTP/2 transport of a bidirectional stream against the local listener (issue 21).

Real awscrt over TLS with ALPN h2 to the h2 listener, which checks the request's SigV4 and
every event's chained signature. Full duplex is shown by waiting for each echo before the
next part is sent: a client that sends its whole body before reading would time out.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from botocore.credentials import ReadOnlyCredentials

from typed_sagemaker_runtime._base._bidi_setup import BidiSettings
from typed_sagemaker_runtime._core._bidi_endpoint import parse_endpoint_url
from typed_sagemaker_runtime._core._bidi_events import (
    BidiEvent,
    BidiPayloadPart,
    request_part,
)
from typed_sagemaker_runtime._core._bidi_request import OpenedRequest, prepare_request
from typed_sagemaker_runtime._core._bidi_signing import EventSigner
from typed_sagemaker_runtime._core._events import InternalStreamFailure
from typed_sagemaker_runtime._core._exceptions import AccessDeniedError
from typed_sagemaker_runtime._sync._bidi_transport import SyncBidiConnection
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIALS = ReadOnlyCredentials(KEY, SECRET, None)
TIMEOUT = 5.0


@pytest.fixture
def listener() -> Iterator[BidiListener]:
    with BidiListener(credentials={KEY: SECRET}) as running:
        yield running


def _opened(
    listener: BidiListener, credentials: ReadOnlyCredentials = CREDENTIALS
) -> OpenedRequest:
    endpoint = parse_endpoint_url(listener.url, "bidi_endpoint_url")
    return prepare_request("ep", endpoint=endpoint, region="us-east-1", credentials=credentials)


def _settings(listener: BidiListener, opened: OpenedRequest) -> BidiSettings:
    return BidiSettings(
        endpoint=opened.endpoint,
        region="us-east-1",
        ca_file=listener.ca_bundle,
        verify=True,
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
        user_agent="tests/1.0",
    )


def _connect(listener: BidiListener, opened: OpenedRequest) -> SyncBidiConnection:
    return SyncBidiConnection.open(opened, _settings(listener, opened))


def _events(connection: SyncBidiConnection) -> Iterator[BidiEvent]:
    while True:
        events, over = connection.next_events()
        yield from events
        if over:
            return


def test_each_part_is_echoed_before_the_next_is_sent(listener: BidiListener) -> None:
    connection = _connect(listener, _opened(listener))
    try:
        events = _events(connection)
        received: list[BidiEvent] = []
        for text in ("one", "two", "three"):
            connection.send(request_part(text))
            received.append(next(events))  # a half-duplex client times out here
        connection.end_input()
        rest = list(events)
    finally:
        connection.close()
    assert received == [BidiPayloadPart(t.encode(), "UTF8", None) for t in ("one", "two", "three")]
    assert rest == []
    assert listener.wait_for_ends(1) == [True]  # the signed end frame came before END_STREAM
    assert listener.refusals == []


def test_the_request_goes_out_with_host_as_authority_and_the_response_headers_are_kept(
    listener: BidiListener,
) -> None:
    connection = _connect(listener, _opened(listener))
    try:
        connection.end_input()
        assert list(_events(connection)) == []
    finally:
        connection.close()
    (request,) = listener.requests
    assert request[":authority"] == f"localhost:{listener.port}"
    assert "host" not in request
    assert request[":path"] == "/endpoints/ep/invocations-bidirectional-stream"
    assert request["user-agent"] == "tests/1.0"
    assert connection.inbox.status == 200
    assert connection.inbox.invoked_production_variant == "AllTraffic"
    assert connection.inbox.request_id


def test_the_model_may_speak_first(listener: BidiListener) -> None:
    def greeter(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"hello", "UTF8", None)
        yield from parts

    listener.backend = greeter
    connection = _connect(listener, _opened(listener))
    try:
        events = _events(connection)
        assert next(events).data == b"hello"  # before anything was sent
        connection.end_input()
        assert list(events) == []
    finally:
        connection.close()


def test_a_tampered_request_signature_is_refused_with_403(listener: BidiListener) -> None:
    opened = _opened(listener)
    headers = tuple(
        (name, value[:-4] + "0000" if name == "authorization" else value)
        for name, value in opened.request.headers
    )
    tampered = dataclasses.replace(
        opened, request=dataclasses.replace(opened.request, headers=headers)
    )
    connection = _connect(listener, tampered)
    try:
        with pytest.raises(AccessDeniedError) as caught:
            list(_events(connection))
    finally:
        connection.close()
    assert caught.value.code == "InvalidSignatureException"
    assert caught.value.http_status == 403
    assert caught.value.request_id


def test_an_unknown_access_key_is_refused_with_403(listener: BidiListener) -> None:
    stranger = ReadOnlyCredentials("AKIDSTRANGER", SECRET, None)
    connection = _connect(listener, _opened(listener, stranger))
    try:
        with pytest.raises(AccessDeniedError) as caught:
            list(_events(connection))
    finally:
        connection.close()
    assert caught.value.code == "UnrecognizedClientException"


def test_an_event_signed_with_another_key_ends_the_stream_with_an_error_event(
    listener: BidiListener,
) -> None:
    opened = _opened(listener)
    forged = EventSigner(
        ReadOnlyCredentials(KEY, "not-the-secret", None),
        "us-east-1",
        opened.request.seed_signature,
    )
    connection = _connect(listener, dataclasses.replace(opened, signer=forged))
    try:
        connection.send(request_part("hi"))
        events = list(_events(connection))
    finally:
        connection.close()
    assert len(events) == 1
    assert isinstance(events[0], InternalStreamFailure)
    assert "InvalidSignatureException" in (events[0].message or "")
    assert listener.refusals == ["the event signature does not match"]


def test_one_small_part_round_trips_quickly(listener: BidiListener) -> None:
    connection = _connect(listener, _opened(listener))
    try:
        events = _events(connection)
        connection.send(request_part("warm-up"))
        next(events)
        started = time.perf_counter()
        for _ in range(20):
            connection.send(request_part("x"))
            next(events)
        per_part = (time.perf_counter() - started) / 20
        connection.end_input()
        assert list(events) == []
    finally:
        connection.close()
    assert per_part < 0.5  # generous: measured ~1 ms on the dev machine


def test_a_send_after_a_403_raises_the_403_not_a_transport_error(listener: BidiListener) -> None:
    opened = _opened(listener)
    headers = tuple(
        (name, "AWS4-HMAC-SHA256 Credential=x" if name == "authorization" else value)
        for name, value in opened.request.headers
    )
    tampered = dataclasses.replace(
        opened, request=dataclasses.replace(opened.request, headers=headers)
    )
    connection = _connect(listener, tampered)
    deadline = time.monotonic() + TIMEOUT
    try:
        with pytest.raises(AccessDeniedError) as caught:
            while time.monotonic() < deadline:  # the writes fail once the 403 has ended it
                connection.send(request_part("x"))
    finally:
        connection.close()
    assert caught.value.http_status == 403


def test_parts_larger_than_a_flow_control_window_go_both_ways_whole(
    listener: BidiListener,
) -> None:
    data = bytes(range(256)) * 1200  # 300 KiB: several 64 KiB windows, many 16 KiB frames
    connection = _connect(listener, _opened(listener))
    try:
        events = _events(connection)
        for _ in range(3):
            connection.send(request_part(data))
            assert next(events) == BidiPayloadPart(data, "BINARY", None)
        connection.end_input()
        assert list(events) == []
    finally:
        connection.close()

"""LocalRuntime serves InvokeEndpointWithBidirectionalStream over HTTP/2 with TLS (issue 21).

Real awscrt (the library's sync transport) against the runtime's listener, signed with the
dummy credentials its clients use, trusting ``local.ca_bundle``: echo, each kind of backend
output, ``serve_bidi`` backends, a failing backend, the recorded request, unknown
endpoints, the clients' trust, and ``stop()`` leaving no thread and no file behind.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from typed_sagemaker_runtime import (
    BidiEvent,
    BidiPayloadPart,
    InternalStreamFailure,
    ModelStreamError,
    SageMakerRuntimeError,
    ValidationError,
)
from typed_sagemaker_runtime.testing import LocalRuntime
from typed_sagemaker_runtime.testing._bidi_model import BidiInvocation, BidiOutput

BIDI = "InvokeEndpointWithBidirectionalStream"


def exchange(
    local: LocalRuntime, *parts: str | bytes, endpoint: str = "ep", **options: str
) -> list[BidiEvent]:
    """Stream ``parts`` to ``endpoint`` through ``local.client()``; every event of the answer."""
    with local.client() as smr, smr.bidi_stream(endpoint, input=parts, **options) as stream:
        return list(stream)


@pytest.fixture
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as running:
        yield running


def test_the_default_backend_echoes_each_part_before_the_next_is_sent(local: LocalRuntime) -> None:
    local.add_endpoint("ep")
    answers: list[BidiEvent] = []
    with local.client() as smr, smr.bidi_stream("ep") as stream:
        events = iter(stream)
        for text in ("one", "two"):
            stream.send(text)
            answers.append(next(events))  # a half-duplex exchange would time out here
        stream.send(b"\x00\x01")
        answers.append(next(events))
        stream.end_input()
        assert list(events) == []
    assert answers == [
        BidiPayloadPart(b"one", "UTF8", None),
        BidiPayloadPart(b"two", "UTF8", None),
        BidiPayloadPart(b"\x00\x01", "BINARY", None),
    ]


def test_the_asyncio_client_streams_both_ways_with_no_further_arguments(
    local: LocalRuntime,
) -> None:
    pytest.importorskip("aiobotocore")
    local.add_endpoint("ep", bidi=lambda parts: (part.data.upper() for part in parts))

    async def talk() -> list[BidiEvent]:
        async with local.async_client() as smr, smr.bidi_stream("ep") as stream:
            await stream.send("abc")
            first = await stream.__aiter__().__anext__()
            await stream.end_input()
            return [first, *[event async for event in stream]]

    assert asyncio.run(talk()) == [BidiPayloadPart(b"ABC", "BINARY", None)]


def test_a_handler_s_outputs_become_parts_and_an_error_event_ends_the_stream(
    local: LocalRuntime,
) -> None:
    def handler(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiOutput]:
        for part in parts:
            yield part.data  # bytes: a BINARY part
            yield part.data.decode().upper()  # str: a UTF8 part
            yield BidiPayloadPart(b"half", "UTF8", "PARTIAL")  # as it is
        yield ModelStreamError("the model gave up", "StreamBroken")
        yield "never sent"

    local.add_endpoint("ep", bidi=handler)
    events = exchange(local, "abc")
    assert events == [
        BidiPayloadPart(b"abc", "BINARY", None),
        BidiPayloadPart(b"ABC", "UTF8", None),
        BidiPayloadPart(b"half", "UTF8", "PARTIAL"),
        ModelStreamError("the model gave up", "StreamBroken"),
    ]


def test_an_internal_stream_failure_output_is_the_last_event(local: LocalRuntime) -> None:
    def handler(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiOutput]:
        yield "first"
        yield InternalStreamFailure("down")
        yield "never sent"

    local.add_endpoint("ep", bidi=handler)
    assert exchange(local) == [
        BidiPayloadPart(b"first", "UTF8", None),
        InternalStreamFailure("down"),
    ]


def test_a_failing_backend_ends_its_stream_with_an_internal_stream_failure_naming_no_request(
    local: LocalRuntime,
) -> None:
    def handler(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiOutput]:
        for part in parts:
            yield "ok"
            raise ValueError(f"cannot handle {part.data!r}")

    local.add_endpoint("ep", bidi=handler)
    events = exchange(local, "secret-payload")
    assert events[0] == BidiPayloadPart(b"ok", "UTF8", None)
    assert len(events) == 2
    failure = events[1]
    assert isinstance(failure, InternalStreamFailure)
    assert "secret-payload" not in (failure.message or "")
    assert "ValueError" in (failure.message or "")


def test_a_backend_yielding_something_else_fails_its_stream(local: LocalRuntime) -> None:
    local.add_endpoint("ep", bidi=lambda parts: [42])  # type: ignore[list-item]
    (event,) = exchange(local)
    assert isinstance(event, InternalStreamFailure)


class _Model:
    """A REST handler that also serves bidirectional streams, as the Container does."""

    def __init__(self) -> None:
        self.invocations: list[BidiInvocation] = []

    def __call__(self, request: object) -> bytes:
        return b"rest"

    def serve_bidi(self, invocation: BidiInvocation) -> Iterator[BidiOutput]:
        self.invocations.append(invocation)
        yield f"{invocation.model_invocation_path} {invocation.model_query_string}"
        yield from invocation.parts


def test_a_handler_with_serve_bidi_serves_the_stream_and_sees_the_invocation(
    local: LocalRuntime,
) -> None:
    model = _Model()
    local.add_endpoint("ep", model)
    with (
        local.client() as smr,
        smr.bidi_stream(
            "ep", model_invocation_path="v1/listen", model_query_string="model=nova-3"
        ) as stream,
    ):
        events = iter(stream)
        assert next(events) == BidiPayloadPart(b"v1/listen model=nova-3", "UTF8", None)
        stream.send("x")
        assert next(events) == BidiPayloadPart(b"x", "UTF8", None)
        stream.end_input()
        assert list(events) == []
        request_id = stream.request_id
    (invocation,) = model.invocations
    assert invocation.endpoint_name == "ep"
    assert invocation.request_id == request_id == local.requests[-1].request_id


def test_an_explicit_bidi_backend_wins_over_the_handler_s_serve_bidi(local: LocalRuntime) -> None:
    local.add_endpoint("ep", _Model(), bidi=lambda parts: ["mine"])
    assert exchange(local) == [BidiPayloadPart(b"mine", "UTF8", None)]


def test_the_target_variant_is_answered_as_the_invoked_production_variant(
    local: LocalRuntime,
) -> None:
    local.add_endpoint("ep", bidi=lambda parts: ["hi"])
    with local.client() as smr, smr.bidi_stream("ep", target_variant="blue") as stream:
        assert list(stream) == [BidiPayloadPart(b"hi", "UTF8", None)]
        assert stream.invoked_production_variant == "blue"
    with local.client() as smr, smr.bidi_stream("ep") as stream:
        list(stream)
        assert stream.invoked_production_variant == "AllTraffic"


def test_the_request_is_recorded_with_its_headers_and_no_parts(local: LocalRuntime) -> None:
    local.add_endpoint("ep")
    exchange(local, "not kept")
    (request,) = local.requests
    assert request.operation == BIDI
    assert request.endpoint_name == "ep"
    assert request.body == b""
    assert request.headers[":path"] == "/endpoints/ep/invocations-bidirectional-stream"
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")


def test_an_unknown_endpoint_is_refused_as_the_service_refuses_it(local: LocalRuntime) -> None:
    with pytest.raises(ValidationError) as caught:
        exchange(local, "x", endpoint="missing")
    assert caught.value.code == "InputValidationError"
    assert caught.value.http_status == 400
    assert "Endpoint missing of account 123456789012 not found." in str(caught.value)
    assert local.requests[-1].endpoint_name == "missing"


def test_a_removed_endpoint_is_no_longer_served(local: LocalRuntime) -> None:
    local.add_endpoint("ep", bidi=lambda parts: ["x"])
    local.remove_endpoint("ep")
    local.add_endpoint("ep")  # the bidi backend went with it: echo again
    assert exchange(local, "y") == [BidiPayloadPart(b"y", "UTF8", None)]


def test_the_clients_trust_the_listener_s_certificate_authority(local: LocalRuntime) -> None:
    with local.client() as smr:
        wrapped: Any = smr.client  # the boto3 client the facade wraps
        assert wrapped._endpoint.http_session._verify == local.ca_bundle
    assert local.bidi_endpoint_url.startswith("https://localhost:")
    with open(local.ca_bundle, encoding="ascii") as pem:
        assert pem.read().startswith("-----BEGIN CERTIFICATE-----")


def test_the_asyncio_client_trusts_it_too(local: LocalRuntime) -> None:
    pytest.importorskip("aiobotocore")

    async def verify_of_wrapped_client() -> object:
        async with local.async_client() as smr:
            wrapped: Any = await smr._ensure_client()
            return wrapped._endpoint.http_session._verify  # aiobotocore's session keeps it too

    verify = asyncio.run(verify_of_wrapped_client())
    assert verify == local.ca_bundle


def _library_threads() -> set[threading.Thread]:
    # awscrt's event-loop threads show up as dummy threads once they call back into Python.
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def test_stop_ends_open_streams_and_leaves_no_thread_and_no_file() -> None:
    before = _library_threads()
    reading = threading.Event()

    def slow_reader(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiOutput]:
        reading.set()
        yield from parts  # blocked here when stop() comes

    local = LocalRuntime(stop_timeout=5.0).start()
    local.add_endpoint("ep", bidi=slow_reader)
    ca_bundle = local.ca_bundle
    smr = local.client()
    stream = smr.bidi_stream("ep")
    try:
        stream.send("a")
        assert reading.wait(5.0)
        started = time.monotonic()
        local.stop()
        assert time.monotonic() - started < 3.0
        with pytest.raises(SageMakerRuntimeError):  # the reader learns that it was cut
            list(stream)
    finally:
        stream.close()
        smr.close()
    assert _library_threads() == before
    assert not os.path.exists(ca_bundle)


def test_stop_does_not_hang_on_a_backend_stuck_in_its_own_code() -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiOutput]:
        entered.set()
        release.wait(30.0)  # neither reading its parts nor yielding
        yield "late"

    local = LocalRuntime(stop_timeout=0.5).start()
    local.add_endpoint("ep", bidi=stuck)
    smr = local.client()
    stream = smr.bidi_stream("ep")
    try:
        assert entered.wait(5.0)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="1 bidirectional backend"):
            local.stop()
        assert time.monotonic() - started < 3.0
    finally:
        release.set()
        stream.close()
        smr.close()


def test_concurrent_streams_each_get_their_own_answers(local: LocalRuntime) -> None:
    local.add_endpoint("ep")
    results: dict[int, list[BidiEvent]] = {}

    def talk(index: int) -> None:
        results[index] = exchange(local, *(f"{index}-{n}" for n in range(20)))

    threads = [threading.Thread(target=talk, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30.0)
    assert sorted(results) == list(range(6))
    for index, events in results.items():
        assert events == [BidiPayloadPart(f"{index}-{n}".encode(), "UTF8", None) for n in range(20)]
    assert len(local.requests) == 6


def _open_without_reading(local: LocalRuntime) -> socket.socket:
    """A signed request from a raw h2 client that then never reads (nor opens a window)."""
    import h2.config
    import h2.connection
    from botocore.credentials import ReadOnlyCredentials

    from typed_sagemaker_runtime._core._bidi_endpoint import parse_endpoint_url
    from typed_sagemaker_runtime._core._bidi_request import prepare_request

    opened = prepare_request(
        "ep",
        endpoint=parse_endpoint_url(local.bidi_endpoint_url, "bidi_endpoint_url"),
        region=local.region_name,
        credentials=ReadOnlyCredentials("testing", "testing", None),
    )
    context = ssl.create_default_context(cafile=local.ca_bundle)
    context.set_alpn_protocols(["h2"])
    port = int(local.bidi_endpoint_url.rsplit(":", 1)[1])
    sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
    )
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    client.initiate_connection()  # HTTP/2's default 64 KiB windows, never widened
    request = opened.request
    authority = dict(request.headers)["host"]
    headers = [(":method", "POST"), (":scheme", "https"), (":authority", authority)]
    headers.append((":path", request.path))
    headers.extend((name, value) for name, value in request.headers if name != "host")
    client.send_headers(1, headers)
    sock.sendall(client.data_to_send())
    return sock


def test_a_client_that_does_not_read_holds_the_backend_back(local: LocalRuntime) -> None:
    """What flow control holds back waits in the backend, not in the server's memory."""
    total = 200
    produced: list[int] = []

    def flood(parts: Iterator[BidiPayloadPart]) -> Iterator[bytes]:
        for index in range(total):
            produced.append(index)
            yield bytes(1024 * 1024)

    local.add_endpoint("ep", bidi=flood)
    sock = _open_without_reading(local)
    try:
        settled, seen = time.monotonic(), -1
        while len(produced) < total and time.monotonic() - settled < 1.0:
            time.sleep(0.05)  # until the backend is held (or has produced everything)
            if len(produced) != seen:
                settled, seen = time.monotonic(), len(produced)
        # 64 KiB in the client's window, up to 8 MiB waiting for it: not 200 MiB.
        assert len(produced) <= 10
    finally:
        sock.close()


def _tls_client(local: LocalRuntime) -> tuple[ssl.SSLContext, int]:
    context = ssl.create_default_context(cafile=local.ca_bundle)
    context.set_alpn_protocols(["h2"])
    return context, int(local.bidi_endpoint_url.rsplit(":", 1)[1])


def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    with LocalRuntime(idle_timeout=0.2) as local:
        context, port = _tls_client(local)
        raw = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            started = time.monotonic()
            while sock.recv(65536):  # the server's preface, a GOAWAY, then the end
                pass
            assert time.monotonic() - started < 4.0


def test_connections_beyond_max_connections_are_closed_at_once() -> None:
    with LocalRuntime(max_connections=1) as local:
        context, port = _tls_client(local)
        first = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        with context.wrap_socket(first, server_hostname="localhost"):
            second = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            with second, pytest.raises(OSError, match=r"EOF|reset|closed"):  # before its handshake
                context.wrap_socket(second, server_hostname="localhost")


def test_without_h2_or_trustme_the_rest_endpoint_still_runs_and_bidi_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "h2" else find_spec(name, *a)
    )
    with LocalRuntime() as local:
        local.add_endpoint("ep")
        assert not local.serves_bidi
        with pytest.raises(RuntimeError, match=r"typed-sagemaker-runtime\[local\]"):
            _ = local.ca_bundle
        with local.client() as smr:
            assert smr.invoke("ep", b"still here")["body"] == b"still here"


def test_serves_bidi_once_started() -> None:
    local = LocalRuntime()
    assert not local.serves_bidi
    with local:
        assert local.serves_bidi

"""The local endpoint's HTTP/2 TLS listener against hostile clients (raw h2 over ssl sockets).

Each test drives the listener of a started :class:`LocalRuntime` with bytes no well-behaved
client sends, and checks that the listener answers (or closes) and keeps serving: no
listener thread dies with a traceback, the REST side keeps answering, and ``stop()`` leaves
nothing behind.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("h2")
pytest.importorskip("trustme")

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from botocore.credentials import ReadOnlyCredentials

from typed_sagemaker_runtime import BidiPayloadPart
from typed_sagemaker_runtime._core._bidi_endpoint import parse_endpoint_url
from typed_sagemaker_runtime._core._bidi_events import encode_part
from typed_sagemaker_runtime._core._bidi_request import OpenedRequest, prepare_request
from typed_sagemaker_runtime._core._bidi_signing import EventSigner
from typed_sagemaker_runtime.testing import LocalRuntime


@pytest.fixture
def thread_failures() -> Iterator[list[str]]:
    """Every exception that escapes a thread while the test runs (a traceback on stderr)."""
    failures: list[str] = []
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        failures.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}")
        previous(args)

    threading.excepthook = hook
    yield failures
    threading.excepthook = previous


def _port(local: LocalRuntime) -> int:
    return int(local.bidi_endpoint_url.rsplit(":", 1)[1])


def _context(local: LocalRuntime) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=local.ca_bundle)
    context.set_alpn_protocols(["h2"])
    return context


class RawClient:
    """A raw h2 client over one TLS connection to the listener."""

    def __init__(self, local: LocalRuntime, *, validate: bool = True) -> None:
        self.local = local
        raw = socket.create_connection(("127.0.0.1", _port(local)), timeout=10.0)
        self.sock = _context(local).wrap_socket(raw, server_hostname="localhost")
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_outbound_headers=validate,
                normalize_outbound_headers=validate,
                validate_inbound_headers=False,
            )
        )
        self.h2.initiate_connection()
        self.flush()

    def opened(self, endpoint: str = "ep") -> OpenedRequest:
        return prepare_request(
            endpoint,
            endpoint=parse_endpoint_url(self.local.bidi_endpoint_url, "bidi_endpoint_url"),
            region=self.local.region_name,
            credentials=ReadOnlyCredentials("testing", "testing", None),
        )

    def request_headers(self, opened: OpenedRequest) -> list[tuple[str, str]]:
        request = opened.request
        headers = [(":method", "POST"), (":scheme", "https")]
        headers.append((":authority", dict(request.headers)["host"]))
        headers.append((":path", request.path))
        headers.extend((name, value) for name, value in request.headers if name != "host")
        return headers

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def events(self, until: float = 10.0) -> Iterator[h2.events.Event]:
        """Events as they arrive, until the connection ends or ``until`` seconds pass."""
        deadline = time.monotonic() + until
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            try:
                received = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError:
                return
            self.flush()
            yield from received

    def close(self) -> None:
        self.sock.close()


def echo_round_trip(local: LocalRuntime) -> list[object]:
    with local.client() as smr, smr.bidi_stream("ep", input=["still", b"here"]) as stream:
        return list(stream)


def rest_round_trip(local: LocalRuntime) -> bytes:
    with local.client() as smr:
        return smr.invoke("ep", b"rest")["body"]


def assert_still_serving(local: LocalRuntime) -> None:
    assert echo_round_trip(local) == [
        BidiPayloadPart(b"still", "UTF8", None),
        BidiPayloadPart(b"here", "BINARY", None),
    ]
    assert rest_round_trip(local) == b"rest"


@pytest.fixture
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as running:
        running.add_endpoint("ep")
        yield running


def test_a_header_that_is_not_utf8_is_refused_and_kills_no_thread(
    local: LocalRuntime, thread_failures: list[str]
) -> None:
    client = RawClient(local, validate=False)
    headers = [
        (k.encode(), b"\xff\xfe" if k == "content-type" else v.encode())  # a signed header
        for k, v in client.request_headers(client.opened())
    ]
    client.h2.send_headers(1, headers)
    client.flush()
    statuses: list[bytes] = []
    for event in client.events():
        if isinstance(event, h2.events.ResponseReceived):
            statuses.append(dict(event.headers or [])[b":status"])
        if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
            break
    client.close()
    assert statuses == [b"403"]  # the header is not what was signed
    assert thread_failures == []
    assert_still_serving(local)


def _echoes(client: RawClient, stream_id: int, until: float = 10.0) -> bytes:
    """The response bytes of ``stream_id`` until it ends (or the connection does)."""
    data = b""
    for event in client.events(until):
        if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
            data += event.data or b""
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
            break
    return data


def test_a_stream_reset_as_it_opens_leaves_the_connection_s_other_streams_served(
    local: LocalRuntime, thread_failures: list[str]
) -> None:
    client = RawClient(local)
    first = client.opened()
    client.h2.send_headers(1, client.request_headers(first))
    client.flush()
    for stream_id in range(3, 203, 2):  # each reset in the same read as its headers
        client.h2.send_headers(stream_id, client.request_headers(client.opened()))
        client.h2.reset_stream(stream_id)
    client.h2.send_data(1, first.signer.sign(encode_part(BidiPayloadPart(b"one", "UTF8", None))))
    client.h2.send_data(1, first.signer.end_frame(), end_stream=True)
    client.flush()
    answer = _echoes(client, 1)
    client.close()
    assert b"one" in answer
    assert thread_failures == []


def _connection_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "smr-bidi-connection" and t.is_alive()]


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_stop_returns_at_once_while_a_connection_has_not_begun_its_handshake() -> None:
    local = LocalRuntime().start()
    raw = socket.create_connection(("127.0.0.1", _port(local)), timeout=10.0)
    try:
        assert _wait_until(lambda: len(_connection_threads()) == 1, 5.0)
        started = time.monotonic()
        local.stop()
        assert time.monotonic() - started < 2.5  # was the handshake's 5 s timeout
        assert _connection_threads() == []
    finally:
        raw.close()


def test_a_client_that_never_reads_is_dropped_after_the_idle_timeout(
    thread_failures: list[str],
) -> None:
    with LocalRuntime(idle_timeout=0.3) as local:
        local.add_endpoint("ep")
        client = RawClient(local)
        client.sock.setblocking(False)
        while True:  # PINGs whose answers it never reads, until its own sends block
            client.h2.ping(b"hostile!")
            try:
                client.sock.send(client.h2.data_to_send())
            except (ssl.SSLWantWriteError, BlockingIOError):
                break
        try:
            # The server's answers fill the socket: it cannot write, and it lets go.
            assert _wait_until(lambda: _connection_threads() == [], 10.0)
            assert thread_failures == []
            assert_still_serving(local)
        finally:
            client.close()


def _forged(opened: OpenedRequest) -> bytes:
    """An event signed with another secret, chained to ``opened``'s request signature."""
    signer = EventSigner(
        ReadOnlyCredentials("testing", "not-the-secret", None),
        "us-east-1",
        opened.request.seed_signature,
    )
    return signer.sign(encode_part(BidiPayloadPart(b"forged", "UTF8", None)))


def test_every_refused_event_is_answered_with_its_error_even_when_the_backend_ends_first(
    local: LocalRuntime,
) -> None:
    # The echo backend ends with its input; the refusal used to race it (a quiet end ~1 in 6).
    client = RawClient(local)
    streams = range(1, 61, 2)
    for stream_id in streams:
        opened = client.opened()
        client.h2.send_headers(stream_id, client.request_headers(opened))
        client.h2.send_data(stream_id, _forged(opened))
    client.flush()
    answers: dict[int, bytes] = dict.fromkeys(streams, b"")
    ended: set[int] = set()
    for event in client.events():
        if isinstance(event, h2.events.DataReceived):
            answers[event.stream_id] += event.data or b""
        if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
            ended.add(event.stream_id)
            if ended == set(streams):
                break
    client.close()
    refused = [i for i, answer in answers.items() if b"InvalidSignatureException" in answer]
    assert refused == list(streams)


def test_a_replayed_or_reordered_event_is_refused(local: LocalRuntime) -> None:
    client = RawClient(local)
    orders = {1: (0, 0), 3: (1, 0)}  # the first event twice; the second before the first
    for stream_id, order in orders.items():
        opened = client.opened()
        client.h2.send_headers(stream_id, client.request_headers(opened))
        events = [
            opened.signer.sign(encode_part(BidiPayloadPart(text, "UTF8", None)))
            for text in (b"one", b"two")
        ]
        for index in order:
            client.h2.send_data(stream_id, events[index])
    client.flush()
    answers: dict[int, bytes] = dict.fromkeys(orders, b"")
    ended: set[int] = set()
    for event in client.events():
        if isinstance(event, h2.events.DataReceived):
            answers[event.stream_id] += event.data or b""
        if isinstance(event, h2.events.StreamEnded):
            ended.add(event.stream_id)
            if ended == set(orders):
                break
    client.close()
    assert all(b"the event signature does not match" in answer for answer in answers.values())
    assert b"two" not in answers[3]


def test_a_client_sending_faster_than_its_backend_reads_is_held_by_flow_control() -> None:
    """Request parts the backend has not taken are bounded by the stream's window."""
    release = threading.Event()

    def not_reading(parts: Iterator[BidiPayloadPart]) -> Iterator[bytes]:
        release.wait(30.0)
        yield from (part.data[:1] for part in parts)

    with LocalRuntime() as local:
        local.add_endpoint("ep", bidi=not_reading)
        client = RawClient(local)
        opened = client.opened()
        client.h2.send_headers(1, client.request_headers(opened))
        client.flush()
        part = opened.signer.sign(encode_part(BidiPayloadPart(bytes(256 * 1024), "BINARY", None)))
        accepted, offset = 0, 0
        total = 96 * 1024 * 1024
        client.sock.settimeout(0.2)
        deadline = time.monotonic() + 20.0
        while accepted < total and time.monotonic() < deadline:
            window = min(client.h2.local_flow_control_window(1), client.h2.max_outbound_frame_size)
            if window > 0:
                chunk = part[offset : offset + window]
                client.h2.send_data(1, chunk)
                client.flush()
                accepted += len(chunk)
                offset = (offset + len(chunk)) % len(part)
                if offset == 0:
                    part = opened.signer.sign(
                        encode_part(BidiPayloadPart(bytes(256 * 1024), "BINARY", None))
                    )
                continue
            try:
                data = client.sock.recv(65536)
            except TimeoutError:
                break  # no window given back: the server holds this stream
            if not data:
                break
            client.h2.receive_data(data)
            client.flush()
        release.set()
        client.close()
    # 16 MiB of window (and a little): not the 96 MiB the old server took and queued.
    assert accepted < 40 * 1024 * 1024


def _mute_container() -> tuple[socket.socket, threading.Event]:
    """A container that answers /ping and the WebSocket upgrade, then never sends a byte
    (not even the answer to a close frame)."""
    import base64
    import hashlib

    listener = socket.create_server(("127.0.0.1", 0))
    release = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            if request.startswith(b"GET /ping"):
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                return
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            magic = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
            accept = base64.b64encode(hashlib.sha1(key + magic).digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                b"connection: Upgrade\r\nsec-websocket-accept: " + accept + b"\r\n\r\n"
            )
            release.wait(60.0)

    def accept() -> None:
        while not release.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, release


def test_stop_does_not_wait_for_a_container_that_never_answers() -> None:
    from typed_sagemaker_runtime.testing import Container

    listener, release = _mute_container()
    port = listener.getsockname()[1]
    local = LocalRuntime().start()
    try:
        local.add_endpoint("mine", Container(f"http://127.0.0.1:{port}"))
        with local.client() as smr:
            stream = smr.bidi_stream("mine")
            stream.send("anyone there?")
            assert _wait_until(
                lambda: any(t.name.startswith("bidi-ws-pump") for t in threading.enumerate()),
                5.0,
            )
            started = time.monotonic()
            local.stop()  # raised RuntimeError after stop_timeout (10 s): the stream was stuck
            assert time.monotonic() - started < 5.0
            stream.close()
    finally:
        release.set()
        listener.close()

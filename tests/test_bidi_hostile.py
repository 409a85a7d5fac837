"""The bidirectional client against servers that lie, stall and cut it off (issue 21).

A raw HTTP/2 server (``tests/_hostile_h2.py``) sends what no honest endpoint would: an
error status that never ends, garbage after a 200, a GOAWAY, a reset in the middle of the
input, a server that stops reading. Each must raise one of the library's exceptions
(never awscrt's, never a bare Python one), in bounded time, and leave no thread behind.
The local endpoint's faults cover the honest failures (``test_local_bidi_faults.py``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pathlib
import queue
import threading
import time
from collections.abc import Callable, Iterator

import boto3
import pytest
import trustme

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from botocore.config import Config

from _hostile_h2 import HostileServer, Peer, Script, hostile_server
from typed_sagemaker_runtime import (
    BidiPayloadPart,
    ClientValidationError,
    CredentialsError,
    ModelError,
    ModelStreamError,
    ModelStreamInterruptedError,
    SageMakerRuntime,
    SageMakerRuntimeError,
    StreamError,
    ThrottlingError,
    TimeoutError as LibraryTimeoutError,
    TransportError,
)
from typed_sagemaker_runtime._core._bidi_events import encode_response_event
from typed_sagemaker_runtime.testing import ErrorResponse, LocalRuntime
from typed_sagemaker_runtime.testing._boto import DUMMY_KEY

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _client(server: HostileServer, read_timeout: float = 20) -> SageMakerRuntime:
    session = boto3.Session(
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    session._session.set_config_variable("ca_bundle", server.ca_bundle)  # pyright: ignore[reportPrivateUsage]
    return SageMakerRuntime(
        session=session,
        bidi_endpoint_url=server.url,
        config=Config(read_timeout=read_timeout, connect_timeout=5),
    )


Serve = Callable[[Script], HostileServer]


@pytest.fixture
def serve(tmp_path: pathlib.Path) -> Iterator[Serve]:
    with contextlib.ExitStack() as servers:
        yield lambda script: servers.enter_context(hostile_server(script, str(tmp_path)))


def _library_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("typed-sagemaker-runtime")]


def _part(text: str) -> bytes:
    return encode_response_event(BidiPayloadPart(text.encode(), "UTF8", None))


ERROR_HEADERS = (("x-amzn-errortype", "ThrottlingException:http://internal"),)


def test_an_error_status_whose_body_never_ends_raises_at_once(serve: Serve) -> None:
    # A 429 with no content-length whose body never ends: AWS's client hung here.
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 429, *ERROR_HEADERS)
        peer.data(stream_id, b'{"message": "slow down"')

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        started = time.monotonic()
        with pytest.raises(ThrottlingError) as raised:
            for _ in stream:
                pass
        assert time.monotonic() - started < 3
        assert raised.value.code == "ThrottlingException"


def test_an_error_status_with_no_body_that_never_ends_raises_from_send(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 429, *ERROR_HEADERS)

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        started = time.monotonic()
        with pytest.raises(ThrottlingError):
            while time.monotonic() - started < 10:
                stream.send(b"\x00" * 1024)
                time.sleep(0.01)
        assert time.monotonic() - started < 3


def test_garbage_after_a_200_is_the_library_s_error(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.data(stream_id, _part("fine"))
        peer.data(stream_id, b"\x00\x00\x00\x05garbage that is not an event stream frame")

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        seen: list[object] = []
        with pytest.raises(SageMakerRuntimeError):
            for event in stream:
                seen.append(event)
        assert seen == [BidiPayloadPart(b"fine", "UTF8", None)]


def test_a_goaway_before_the_response_is_the_library_s_error(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.conn.close_connection(error_code=2, last_stream_id=0)
        peer.flush()

    server = serve(script)
    with _client(server) as smr:
        started = time.monotonic()
        with pytest.raises(SageMakerRuntimeError), smr.bidi_stream("ep") as stream:
            for _ in stream:
                pass
        assert time.monotonic() - started < 5


def test_a_goaway_after_some_parts_is_the_library_s_error(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.data(stream_id, _part("one"))
        peer.conn.close_connection(error_code=0, last_stream_id=0)
        peer.flush()
        peer.sock.close()

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        seen: list[object] = []
        with pytest.raises(SageMakerRuntimeError):
            for event in stream:
                seen.append(event)
                stream.send("more")
        assert seen[:1] == [BidiPayloadPart(b"one", "UTF8", None)]


def test_a_reset_in_the_middle_of_the_input_raises_from_send(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.conn.reset_stream(stream_id, error_code=2)
        peer.flush()

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        started = time.monotonic()
        with pytest.raises(SageMakerRuntimeError):
            while time.monotonic() - started < 10:
                stream.send(b"\x00" * 4096)
        assert time.monotonic() - started < 3


def test_a_response_larger_than_the_window_is_the_library_s_error(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        frame = _part("x" * 16000)
        # Ignore the client's window: write DATA frames straight onto the wire.
        from hyperframe.frame import DataFrame

        for _ in range(1200):  # ~19 MB, beyond the 16 MiB window
            data = DataFrame(stream_id)
            data.data = frame
            peer.raw(data.serialize())

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        started = time.monotonic()
        time.sleep(1)  # read nothing while the server overruns the window
        with pytest.raises(SageMakerRuntimeError):
            for _ in stream:
                pass
        assert time.monotonic() - started < 10


def test_a_send_blocked_by_a_server_that_stopped_reading_raises_its_error(serve: Serve) -> None:
    answered = threading.Event()

    def script(peer: Peer, stream_id: int) -> None:
        peer.stop_reading = True

        def answer_later() -> None:
            answered.wait(10)
            peer.headers(
                stream_id, 424, ("x-amzn-errortype", "ModelError"), ("content-length", "2")
            )
            peer.data(stream_id, b"{}")

        threading.Thread(target=answer_later, daemon=True).start()

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        blocked = threading.Event()

        def release_when_blocked() -> None:
            blocked.wait(10)
            time.sleep(0.3)
            answered.set()

        threading.Thread(target=release_when_blocked, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(ModelError):
            for _ in range(10_000):
                blocked.set()
                stream.send(b"\x00" * 65536)
        assert time.monotonic() - started < 5


def test_close_returns_quickly_while_a_send_is_blocked_by_flow_control(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.stop_reading = True

    server = serve(script)
    before = len(_library_threads())
    with _client(server) as smr:
        stream = smr.bidi_stream("ep")
        failure: list[BaseException] = []
        sending = threading.Event()

        def send_forever() -> None:
            try:
                while True:
                    sending.set()
                    stream.send(b"\x00" * 65536)
            except BaseException as exc:
                failure.append(exc)

        sender = threading.Thread(target=send_forever)
        sender.start()
        sending.wait(5)
        time.sleep(0.5)  # long enough for the windows to fill
        started = time.monotonic()
        stream.close()
        closing = time.monotonic() - started
        sender.join(5)
        assert closing < 0.5
        assert not sender.is_alive()
        assert isinstance(failure[0], StreamError)
    assert len(_library_threads()) <= before


def test_close_returns_quickly_while_input_is_blocked(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)

    server = serve(script)
    parts: queue.Queue[bytes | None] = queue.Queue()

    def blocking_input() -> Iterator[bytes]:
        while (part := parts.get()) is not None:
            yield part

    with _client(server) as smr:
        stream = smr.bidi_stream("ep", input=blocking_input())
        reader_failure: list[BaseException] = []

        def read() -> None:
            try:
                for _ in stream:
                    pass
            except BaseException as exc:
                reader_failure.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.2)
        started = time.monotonic()
        stream.close()
        closing = time.monotonic() - started
        reader.join(5)
        parts.put(None)  # the caller's iterable ends: the stream's sender goes with it
        assert closing < 0.2
        assert isinstance(reader_failure[0], StreamError)


def echo(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiPayloadPart]:
    yield from parts


@pytest.fixture
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime(stop_timeout=5.0) as running:
        running.add_endpoint("ep", bidi=echo)
        running.add_endpoint("busy", bidi=echo, faults=[ErrorResponse("ThrottlingException")])
        yield running


def test_concurrent_senders_keep_the_signature_chain_valid(local: LocalRuntime) -> None:
    # The listener checks every event's signature: a chain broken by a race ends the stream.
    with local.client() as smr, smr.bidi_stream("ep") as stream:

        def send_many(name: str) -> None:
            for number in range(40):
                stream.send(f"{name}-{number}")

        senders = [threading.Thread(target=send_many, args=(str(n),)) for n in range(4)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(10)
        enders = [threading.Thread(target=stream.end_input) for _ in range(3)]
        for ender in enders:
            ender.start()
        for ender in enders:
            ender.join(10)
        stream.end_input()
        events = list(stream)
    assert all(isinstance(event, BidiPayloadPart) for event in events)
    assert len(events) == 160


def test_input_and_end_input_end_the_input_once(local: LocalRuntime) -> None:
    with local.client() as smr, smr.bidi_stream("ep", input=["a", b"b"]) as stream:
        stream.end_input()  # may race the input's own end: one signed end frame either way
        events = list(stream)
    assert all(isinstance(event, BidiPayloadPart) for event in events)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_many_streams_leave_no_socket_or_thread_behind(local: LocalRuntime) -> None:
    with local.client() as smr:
        with smr.bidi_stream("ep", input=["warm"]) as stream:
            list(stream)
        gc.collect()
        fds, threads = _open_fds(), len(_library_threads())
        for number in range(30):
            kind = number % 3
            if kind == 0:  # read to the end
                with smr.bidi_stream("ep", input=["x", b"y"]) as stream:
                    list(stream)
            elif kind == 1:  # closed from another thread while the reader waits
                with smr.bidi_stream("ep") as stream:
                    timer = threading.Timer(0.02, stream.close)
                    timer.start()
                    with pytest.raises(StreamError):
                        list(stream)
                    timer.join()
            else:  # an error response
                with pytest.raises(ThrottlingError), smr.bidi_stream("busy") as stream:
                    list(stream)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            _open_fds() > fds + 2 or len(_library_threads()) > threads
        ):
            gc.collect()
            time.sleep(0.05)
        assert _open_fds() <= fds + 2
        assert len(_library_threads()) <= threads


def test_a_tls_handshake_past_the_connect_timeout_times_out_and_leaves_no_connection(
    serve: Serve,
) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)

    server = serve(script)
    server.handshake_delay = 1.5
    session = boto3.Session(
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    session._session.set_config_variable("ca_bundle", server.ca_bundle)  # pyright: ignore[reportPrivateUsage]
    config = Config(connect_timeout=0.5, read_timeout=5)
    with SageMakerRuntime(session=session, bidi_endpoint_url=server.url, config=config) as smr:
        started = time.monotonic()
        with pytest.raises(SageMakerRuntimeError):
            smr.bidi_stream("ep")
        assert time.monotonic() - started < 1.4
        # The handshake completes later: the connection nobody waits for must be closed.
        assert server.closed_by_client.wait(5)


def test_a_caller_who_reads_one_event_and_stops_holds_at_most_the_receive_window(
    local: LocalRuntime,
) -> None:
    # The caller takes one event, then works slowly: what the stream holds for it (taken
    # from the connection and not yet yielded, plus what is still arriving) stays within
    # the 16 MiB receive window, not twice that.
    mib = 1024 * 1024

    def firehose(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiPayloadPart]:
        next(parts)
        for index in range(48):
            yield BidiPayloadPart(bytes([index]) * mib, "BINARY", None)

    local.add_endpoint("firehose", bidi=firehose)
    with local.client() as smr, smr.bidi_stream("firehose") as stream:
        stream.send("go")
        inbox = stream._connection.inbox  # pyright: ignore[reportPrivateUsage]
        deadline = time.monotonic() + 10
        while inbox.pending_bytes < 15 * mib and time.monotonic() < deadline:
            time.sleep(0.01)
        events = iter(stream)
        next(events)  # takes what has arrived into the stream; the caller has read one

        def held() -> int:
            unread = stream._unread  # pyright: ignore[reportPrivateUsage]
            return inbox.pending_bytes + sum(
                len(e.data) for e in unread if isinstance(e, BidiPayloadPart)
            )

        time.sleep(0.5)  # without flow control the model sends the remaining 32 MiB here
        assert held() <= 17 * mib
        received = 1 + sum(1 for _ in events)
    assert received == 48


def test_a_part_larger_than_the_receive_window_arrives_whole(local: LocalRuntime) -> None:
    big = bytes(range(256)) * (20 * 4096)  # 20 MiB, beyond the 16 MiB window

    def one_big_part(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiPayloadPart]:
        next(parts)
        yield BidiPayloadPart(big, "BINARY", None)

    local.add_endpoint("big", bidi=one_big_part)
    config = Config(read_timeout=10)
    with local.client(config=config) as smr, smr.bidi_stream("big", input=["go"]) as stream:
        received = list(stream)
    assert received == [BidiPayloadPart(big, "BINARY", None)]


def test_an_http_endpoint_is_refused_naming_where_it_comes_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2", "http://localhost:1")
    session = boto3.Session(
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    with SageMakerRuntime(session=session) as smr, pytest.raises(TransportError) as raised:
        smr.bidi_stream("ep")
    assert "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2" in str(raised.value)
    assert "bidi_endpoint_url" in str(raised.value)


def _local_session(local: LocalRuntime) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name="us-east-1"
    )


def test_aws_ca_bundle_is_trusted(local: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", local.ca_bundle)
    with (
        SageMakerRuntime(
            session=_local_session(local), bidi_endpoint_url=local.bidi_endpoint_url
        ) as smr,
        smr.bidi_stream("ep", input=["hi"]) as stream,
    ):
        assert list(stream) == [BidiPayloadPart(b"hi", "UTF8", None)]


def test_verify_path_of_a_wrapped_client_is_trusted(local: LocalRuntime) -> None:
    client = _local_session(local).client(
        "sagemaker-runtime", region_name="us-east-1", verify=local.ca_bundle
    )
    with (
        SageMakerRuntime(client=client, bidi_endpoint_url=local.bidi_endpoint_url) as smr,
        smr.bidi_stream("ep", input=["hi"]) as stream,
    ):
        assert list(stream) == [BidiPayloadPart(b"hi", "UTF8", None)]


def test_credentials_that_cannot_be_refreshed_are_a_credentials_error(
    local: LocalRuntime,
) -> None:
    from botocore.credentials import RefreshableCredentials

    def refresh() -> dict[str, str]:
        raise RuntimeError("the SSO token expired: secret-ish detail")

    session = _local_session(local)
    expired = RefreshableCredentials.create_from_metadata(
        {
            "access_key": DUMMY_KEY,
            "secret_key": DUMMY_KEY,
            "token": "t",
            "expiry_time": "2000-01-01T00:00:00Z",
        },
        refresh_using=refresh,
        method="sso",
    )
    session._session._credentials = expired  # pyright: ignore[reportPrivateUsage]
    with (
        SageMakerRuntime(session=session, bidi_endpoint_url=local.bidi_endpoint_url) as smr,
        pytest.raises(CredentialsError) as raised,
    ):
        smr.bidi_stream("ep")
    assert "secret-ish" not in str(raised.value)


def test_the_query_string_is_not_echoed_by_any_failure(local: LocalRuntime) -> None:
    secret_query = "api_key=hunter2hunter2"
    config = Config(read_timeout=5)
    with local.client(config=config) as smr:
        with (
            pytest.raises(SageMakerRuntimeError) as raised,
            smr.bidi_stream("busy", model_query_string=secret_query) as stream,
        ):
            assert "hunter2" not in repr(stream)
            list(stream)
        assert "hunter2" not in str(raised.value)
        assert "hunter2" not in repr(raised.value)
        with pytest.raises(ClientValidationError) as invalid:
            smr.bidi_stream("ep", model_query_string=secret_query + " \n")
        assert "hunter2" not in str(invalid.value)


def test_a_huge_header_block_is_the_library_s_error_or_read(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.conn.max_outbound_frame_size = 16384
        peer.headers(stream_id, 200, ("x-padding", "p" * 300_000))
        peer.data(stream_id, _part("after"), end=True)

    server = serve(script)
    # awscrt refuses a large header block; past some size it stops reading it and the
    # stream ends with the read timeout (bounded, and the library's error either way).
    with _client(server, read_timeout=2) as smr:
        started = time.monotonic()
        try:
            with smr.bidi_stream("ep") as stream:
                events = list(stream)
        except SageMakerRuntimeError:
            events = None
        assert time.monotonic() - started < 5
    assert events in (None, [BidiPayloadPart(b"after", "UTF8", None)])


def test_a_200_then_silence_times_out_as_the_library_s_timeout(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)

    server = serve(script)
    with _client(server, read_timeout=0.5) as smr, smr.bidi_stream("ep") as stream:
        started = time.monotonic()
        with pytest.raises(LibraryTimeoutError):
            list(stream)
        assert time.monotonic() - started < 3


def test_a_stream_dropped_while_its_input_goes_on_is_closed_when_collected(
    local: LocalRuntime,
) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            time.sleep(0.005)
            yield b"\x00" * 320

    with local.client() as smr:
        before = len(_library_threads())
        stream = smr.bidi_stream("ep", input=endless())
        assert len(_library_threads()) == before + 1
        del stream  # dropped without close(): its input= thread must not keep it alive
        deadline = time.monotonic() + 5
        while len(_library_threads()) > before and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.05)
        assert len(_library_threads()) == before


def test_end_input_after_the_service_finished_and_reset_with_no_error_is_quiet(
    serve: Serve,
) -> None:
    # A server may end its side, then reset the stream with NO_ERROR (RFC 9113 8.1: it
    # needs no more of the request). The stream succeeded: end_input() must not fail it.
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.data(stream_id, _part("done"), end=True)
        peer.conn.reset_stream(stream_id, error_code=0)
        peer.flush()

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        assert list(stream) == [BidiPayloadPart(b"done", "UTF8", None)]
        time.sleep(0.2)  # the reset has arrived
        stream.end_input()


def test_end_input_after_a_model_that_finished_first_is_quiet(local: LocalRuntime) -> None:
    def first_word_only(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiPayloadPart]:
        yield next(parts)

    local.add_endpoint("short", bidi=first_word_only)
    with local.client() as smr, smr.bidi_stream("short") as stream:
        stream.send("one")
        assert list(stream) == [BidiPayloadPart(b"one", "UTF8", None)]
        time.sleep(0.2)
        stream.end_input()


def test_a_send_after_the_service_finished_and_reset_says_so(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.data(stream_id, _part("done"), end=True)
        peer.conn.reset_stream(stream_id, error_code=0)
        peer.flush()

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        assert list(stream) == [BidiPayloadPart(b"done", "UTF8", None)]
        time.sleep(0.2)  # the reset has arrived
        with pytest.raises(StreamError, match="the service has ended the stream"):
            stream.send("late")


def test_a_ca_bundle_rewritten_in_place_is_read_again(tmp_path: pathlib.Path) -> None:
    # A long-lived process whose AWS_CA_BUNDLE file is replaced (a rotated CA) trusts the
    # new one, as botocore does, rather than the trust store it read first.
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.data(stream_id, _part("ok"), end=True)

    bundle = str(tmp_path / "bundle.pem")
    for _ in range(2):
        ca = trustme.CA()
        server = HostileServer(script, bundle, ca)
        try:
            time.sleep(0.01)  # a distinct mtime even on coarse clocks
            ca.cert_pem.write_to_path(bundle)
            with _client(server) as smr, smr.bidi_stream("ep") as stream:
                assert list(stream) == [BidiPayloadPart(b"ok", "UTF8", None)]
        finally:
            server.close()


def test_an_error_event_reaches_a_send_blocked_by_a_server_that_stopped_reading(
    serve: Serve,
) -> None:
    answered = threading.Event()

    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.stop_reading = True

        def fail_later() -> None:
            answered.wait(10)
            peer.data(stream_id, encode_response_event(ModelStreamError("boom", "Crashed")))

        threading.Thread(target=fail_later, daemon=True).start()

    server = serve(script)
    with _client(server) as smr, smr.bidi_stream("ep") as stream:
        failure: list[BaseException] = []

        def send_forever() -> None:
            try:
                while True:
                    stream.send(b"\x00" * 65536)
            except BaseException as exc:
                failure.append(exc)

        sender = threading.Thread(target=send_forever)
        sender.start()
        time.sleep(0.5)  # the windows fill; the send waits
        assert sender.is_alive()
        answered.set()
        started = time.monotonic()
        sender.join(5)
        assert time.monotonic() - started < 1
        assert isinstance(failure[0], ModelStreamInterruptedError)

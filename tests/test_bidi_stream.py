"""``SageMakerRuntime.bidi_stream`` end to end: the public stream over awscrt, against the
local HTTP/2 listener, which checks the request's and every event's signature (issue 21).

The client is an ordinary ``SageMakerRuntime`` built from a boto3 session whose profile
trusts the listener's CA (``ca_bundle``), as a user's would with ``AWS_CA_BUNDLE``.
"""

from __future__ import annotations

import gc
import pathlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from typed_sagemaker_runtime import (
    AccessDeniedError,
    BidiEvent,
    BidiPayloadPart,
    ClientValidationError,
    CredentialsError,
    InternalStreamFailure,
    InternalStreamFailureError,
    ModelStreamError,
    ModelStreamInterruptedError,
    SageMakerRuntime,
    StreamDecodeError,
    StreamError,
    TransportError,
)
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _session(listener: BidiListener, secret: str = SECRET) -> boto3.Session:
    session = boto3.Session(
        aws_access_key_id=KEY, aws_secret_access_key=secret, region_name="us-east-1"
    )
    session._session.set_config_variable("ca_bundle", listener.ca_bundle)  # pyright: ignore[reportPrivateUsage]
    return session


@pytest.fixture
def listener() -> Iterator[BidiListener]:
    with BidiListener(credentials={KEY: SECRET}) as running:
        yield running


@pytest.fixture
def smr(listener: BidiListener) -> Iterator[SageMakerRuntime]:
    with SageMakerRuntime(session=_session(listener), bidi_endpoint_url=listener.url) as client:
        yield client


def _library_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("typed-sagemaker-runtime")]


def test_each_answer_is_read_before_the_next_part_is_sent(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    with smr.bidi_stream("ep") as stream:
        events = iter(stream)
        received = []
        for data in ("one", b"\x00\x01", "three"):
            stream.send(data)
            received.append(next(events))  # a client that sends everything first hangs here
        stream.end_input()
        assert list(events) == []
    assert received == [
        BidiPayloadPart(b"one", "UTF8", None),
        BidiPayloadPart(b"\x00\x01", "BINARY", None),
        BidiPayloadPart(b"three", "UTF8", None),
    ]
    assert listener.wait_for_ends(1) == [True]  # the signed end frame, then END_STREAM
    assert listener.refusals == []


def test_request_id_and_variant_come_from_the_response_headers(smr: SageMakerRuntime) -> None:
    with smr.bidi_stream("ep", target_variant="AllTraffic") as stream:
        stream.send("hi")
        next(iter(stream))
        assert stream.request_id
        assert stream.invoked_production_variant == "AllTraffic"


def test_input_is_sent_by_the_stream_while_the_caller_reads(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    parts = ["a", b"b", BidiPayloadPart(b"c", "UTF8", "PARTIAL"), "d"]
    with smr.bidi_stream("ep", input=parts) as stream:
        assert list(stream.messages()) == ["a", b"b", "cd"]
    assert listener.wait_for_ends(1) == [True]
    assert _library_threads() == []


def test_end_input_is_sent_once_however_often_it_is_called(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    with smr.bidi_stream("ep") as stream:
        stream.send("x")
        stream.end_input()
        stream.end_input()
        assert [event.data for event in stream if isinstance(event, BidiPayloadPart)] == [b"x"]
        stream.end_input()
    assert listener.wait_for_ends(1) == [True]
    assert listener.refusals == []  # a second end frame would break the signature chain


def test_a_send_after_end_input_is_refused(smr: SageMakerRuntime) -> None:
    with smr.bidi_stream("ep") as stream:
        stream.end_input()
        with pytest.raises(StreamError, match="end_input"):
            stream.send("late")


def test_the_model_may_speak_first(smr: SageMakerRuntime, listener: BidiListener) -> None:
    def greeter(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"hello", "UTF8", None)
        yield from parts

    listener.backend = greeter
    with smr.bidi_stream("ep") as stream:
        assert next(iter(stream)).data == b"hello"  # type: ignore[union-attr]


def test_an_error_event_is_the_last_event_and_messages_raise_it(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    def failing(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"partial answer", "UTF8", None)
        yield ModelStreamError("the model fell over", "ModelInvocationTimeExceeded")

    listener.backend = failing
    with smr.bidi_stream("ep") as stream:
        events = list(stream)
    assert events == [
        BidiPayloadPart(b"partial answer", "UTF8", None),
        ModelStreamError("the model fell over", "ModelInvocationTimeExceeded"),
    ]
    with smr.bidi_stream("ep") as stream:
        received = []
        with pytest.raises(ModelStreamInterruptedError) as caught:
            for message in stream.messages():
                received.append(message)
    assert received == ["partial answer"]
    assert caught.value.error_code == "ModelInvocationTimeExceeded"
    assert caught.value.request_id == stream.request_id
    assert caught.value.operation == "InvokeEndpointWithBidirectionalStream"


def test_a_send_after_the_model_failed_raises_its_error(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    def failing(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield InternalStreamFailure("broken")

    listener.backend = failing
    with smr.bidi_stream("ep") as stream:
        assert list(stream) == [InternalStreamFailure("broken")]
        with pytest.raises(InternalStreamFailureError):
            stream.send("anyone there?")


def test_an_error_response_raises_from_send_while_the_caller_is_still_sending(
    listener: BidiListener,
) -> None:
    session = _session(listener, secret="not-the-secret")
    with SageMakerRuntime(session=session, bidi_endpoint_url=listener.url) as smr:
        stream = smr.bidi_stream("ep")
        opened = time.monotonic()
        sent = 0
        with stream, pytest.raises(AccessDeniedError) as caught:
            while time.monotonic() - opened < 5:
                stream.send(b"\x00" * 320)  # 10 ms of 16 kHz audio, as fast as it goes
                sent += 1
        elapsed = time.monotonic() - opened
    assert caught.value.http_status == 403
    assert caught.value.code == "InvalidSignatureException"
    assert caught.value.request_id
    assert elapsed < 1.0  # the 403 arrives within milliseconds; 250 ms is the promise


def test_an_error_response_raises_from_iteration_and_again_from_send(
    listener: BidiListener,
) -> None:
    session = _session(listener, secret="not-the-secret")
    smr = SageMakerRuntime(session=session, bidi_endpoint_url=listener.url)
    with smr, smr.bidi_stream("ep") as stream:
        with pytest.raises(AccessDeniedError):
            list(stream)
        with pytest.raises(AccessDeniedError):
            stream.send("x")
        with pytest.raises(AccessDeniedError):
            list(stream)  # iteration never ends quietly after an error


def test_close_from_another_thread_wakes_a_blocked_reader(smr: SageMakerRuntime) -> None:
    stream = smr.bidi_stream("ep")
    outcome: list[BaseException] = []
    reading = threading.Event()

    def read() -> None:
        reading.set()
        try:
            list(stream)  # the echo model says nothing until something is sent
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    reading.wait()
    started = time.monotonic()
    stream.close()
    closed_in = time.monotonic() - started
    reader.join(5)
    assert not reader.is_alive()
    assert closed_in < 0.1
    assert len(outcome) == 1
    assert isinstance(outcome[0], StreamError)
    assert "closed" in str(outcome[0])
    stream.close()  # again: nothing happens
    with pytest.raises(StreamError, match="closed"):
        stream.send("x")


def test_an_exception_from_input_reaches_the_reader(smr: SageMakerRuntime) -> None:
    class MicrophoneUnplugged(Exception):
        pass

    def audio() -> Iterator[bytes]:
        yield b"\x00\x01"
        raise MicrophoneUnplugged

    with smr.bidi_stream("ep", input=audio()) as stream, pytest.raises(MicrophoneUnplugged):
        list(stream)
    assert _library_threads() == []


def test_an_invalid_part_in_input_is_named_and_raised_to_the_reader(
    smr: SageMakerRuntime,
) -> None:
    parts: list[object] = ["fine", 42]
    stream = smr.bidi_stream("ep", input=parts)  # type: ignore[arg-type]
    with stream, pytest.raises(ClientValidationError) as caught:
        list(stream)
    assert caught.value.field == "input"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"endpoint_name": "bad name"}, "endpoint_name"),
        ({"endpoint_name": "ep", "input": "a single string"}, "input"),
        ({"endpoint_name": "ep", "input": 5}, "input"),
        ({"endpoint_name": "ep", "model_invocation_path": "/v1/listen"}, "model_invocation_path"),
        ({"endpoint_name": "ep", "model_query_string": "a b"}, "model_query_string"),
        ({"endpoint_name": "ep", "target_variant": "x" * 64}, "target_variant"),
    ],
)
def test_invalid_arguments_are_refused_before_anything_is_sent(
    smr: SageMakerRuntime, listener: BidiListener, arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(ClientValidationError) as caught:
        smr.bidi_stream(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert listener.requests == []


@pytest.mark.parametrize(
    ("keywords", "field"),
    [({"data_type": "TEXT"}, "data_type"), ({"completion_state": "DONE"}, "completion_state")],
)
def test_invalid_part_options_are_refused_and_the_stream_goes_on(
    smr: SageMakerRuntime, keywords: dict[str, str], field: str
) -> None:
    with smr.bidi_stream("ep") as stream:
        with pytest.raises(ClientValidationError) as caught:
            stream.send("x", **keywords)  # type: ignore[arg-type]
        stream.send("y")
        assert next(iter(stream)) == BidiPayloadPart(b"y", "UTF8", None)
    assert caught.value.field == field


def test_the_stream_ending_inside_a_message_is_a_decode_error(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    def cut(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"half a sent", "UTF8", "PARTIAL")

    listener.backend = cut
    with smr.bidi_stream("ep") as stream, pytest.raises(StreamDecodeError, match="inside"):
        list(stream.messages())


def test_an_unsigned_client_cannot_open_a_stream(listener: BidiListener) -> None:
    config = Config(signature_version=UNSIGNED)
    with (
        SageMakerRuntime(
            session=_session(listener), config=config, bidi_endpoint_url=listener.url
        ) as smr,
        pytest.raises(CredentialsError, match="always signed"),
    ):
        smr.bidi_stream("ep")
    assert listener.requests == []


def test_without_awscrt_the_error_names_the_extra(
    smr: SageMakerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "awscrt" or m.startswith("awscrt.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if "_bidi_transport" in m or "_bidi_crt" in m]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "awscrt", None)
    with pytest.raises(ImportError, match=r"'bidi' extra"):
        smr.bidi_stream("ep")


def test_verify_false_on_the_boto3_client_is_honoured(listener: BidiListener) -> None:
    session = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    client = session.client("sagemaker-runtime", region_name="us-east-1", verify=False)
    smr = SageMakerRuntime(client=client, bidi_endpoint_url=listener.url)
    with smr, smr.bidi_stream("ep", input=["trusted blindly"]) as stream:
        assert list(stream.messages()) == ["trusted blindly"]


def test_the_endpoint_comes_from_the_environment(
    listener: BidiListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2", listener.url)
    smr = SageMakerRuntime(session=_session(listener))
    with smr, smr.bidi_stream("ep", input=["via the environment"]) as stream:
        assert list(stream.messages()) == ["via the environment"]


def test_a_caller_who_does_not_read_holds_at_most_the_receive_window(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    mib = 1024 * 1024

    def firehose(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        next(parts)
        for index in range(40):
            yield BidiPayloadPart(bytes([index]) * mib, "BINARY", None)

    listener.backend = firehose
    with smr.bidi_stream("ep") as stream:
        stream.send("go")
        inbox = stream._connection.inbox  # pyright: ignore[reportPrivateUsage]
        deadline = time.monotonic() + 10
        while inbox.pending_bytes < 15 * mib and time.monotonic() < deadline:
            time.sleep(0.01)
        held = inbox.pending_bytes
        time.sleep(0.3)  # the model could send 24 MiB more in this time without flow control
        assert 15 * mib <= held <= inbox.pending_bytes <= 17 * mib
        received = [event for event in stream if isinstance(event, BidiPayloadPart)]
    assert [part.data[:1] for part in received] == [bytes([index]) for index in range(40)]
    assert all(len(part.data) == mib for part in received)


@pytest.mark.parametrize(("content", "reason"), [(None, "no such file"), (b"not a PEM", "no PEM")])
def test_an_unusable_ca_bundle_is_named(
    listener: BidiListener, tmp_path: pathlib.Path, content: bytes | None, reason: str
) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    session = _session(listener)
    session._session.set_config_variable("ca_bundle", str(bundle))  # pyright: ignore[reportPrivateUsage]
    smr = SageMakerRuntime(session=session, bidi_endpoint_url=listener.url)
    with smr, pytest.raises(TransportError, match=reason) as caught:
        smr.bidi_stream("ep")
    assert str(bundle) in str(caught.value)


def test_an_untrusted_certificate_says_where_trust_comes_from(listener: BidiListener) -> None:
    session = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    smr = SageMakerRuntime(session=session, region_name="us-east-1", bidi_endpoint_url=listener.url)
    # awscrt's TLS library delays a failed negotiation on purpose: this takes ~20 s.
    with smr, pytest.raises(TransportError, match="AWS_CA_BUNDLE") as caught:
        smr.bidi_stream("ep")
    assert "AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE" in str(caught.value)


def test_a_stream_dropped_without_close_closes_its_connection(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    got_part, input_over = threading.Event(), threading.Event()

    def watcher(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        for _ in parts:
            got_part.set()
        input_over.set()  # the connection closed (no end frame was sent)
        yield from ()

    listener.backend = watcher
    stream = smr.bidi_stream("ep")
    stream.send("then forgotten")
    assert got_part.wait(5)  # send() does not wait for the server: the part has arrived
    del stream
    gc.collect()
    assert input_over.wait(5)


def test_each_stream_signs_with_the_credentials_of_its_opening(listener: BidiListener) -> None:
    keys = iter([("AKIDFIRST", "first-secret"), ("AKIDSECOND", "second-secret")])

    def refresh() -> dict[str, str]:
        key, secret = next(keys)
        expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
        return {"access_key": key, "secret_key": secret, "token": "", "expiry_time": expiry}

    listener.credentials.update({"AKIDFIRST": "first-secret", "AKIDSECOND": "second-secret"})
    session = _session(listener)
    credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    session._session._credentials = credentials  # pyright: ignore[reportPrivateUsage]
    with SageMakerRuntime(session=session, bidi_endpoint_url=listener.url) as smr:
        for expected in ("AKIDFIRST", "AKIDSECOND"):
            with smr.bidi_stream("ep", input=["signed"]) as stream:
                assert list(stream.messages()) == ["signed"]
            assert expected in listener.requests[-1]["authorization"]
            credentials._expiry_time = datetime.now(timezone.utc)  # pyright: ignore[reportPrivateUsage]
    assert listener.refusals == []


def test_a_closed_port_is_a_transport_error_at_once(listener: BidiListener) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens on it once closed
    smr = SageMakerRuntime(
        session=_session(listener), bidi_endpoint_url=f"https://localhost:{port}"
    )
    started = time.monotonic()
    with smr, pytest.raises(TransportError, match="CONNECTION_REFUSED"):
        smr.bidi_stream("ep")
    assert time.monotonic() - started < 5


def test_a_defect_in_reading_is_raised_to_the_caller_not_lost_on_awscrts_thread(
    smr: SageMakerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typed_sagemaker_runtime._base._bidi_reader import ResponseReader

    read = ResponseReader.read

    def broken(self: ResponseReader, item: tuple[str, object]) -> object:
        if item[0] == "body":
            raise KeyError("a bug")
        return read(self, item)

    monkeypatch.setattr(ResponseReader, "read", broken)
    with smr.bidi_stream("ep") as stream:
        stream.send("x")
        with pytest.raises(TransportError, match="reading failed: KeyError"):
            list(stream)


def test_a_loop_left_early_leaves_the_rest_for_the_next(
    smr: SageMakerRuntime, listener: BidiListener
) -> None:
    def burst(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        for part in parts:
            yield from (BidiPayloadPart(bytes([index]), "BINARY", None) for index in range(50))
            yield part

    listener.backend = burst
    with smr.bidi_stream("ep", input=["end"]) as stream:
        first = next(iter(stream))  # the other 50 arrived with it, in one read
        rest = list(stream)
    assert [event.data for event in [first, *rest]] == [bytes([i]) for i in range(50)] + [b"end"]

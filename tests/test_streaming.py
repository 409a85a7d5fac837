"""ResponseStream and AsyncResponseStream through boto3/aiobotocore: events, faults, connections.

Every test taking ``smr``, ``pool_of_one`` or ``clients`` runs twice: sync, and async
(see ``_twins``).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from botocore.config import Config

import typed_sagemaker_runtime as smr_pkg
from _models import SESSIONS
from _twins import Client, Clients
from typed_sagemaker_runtime import (
    InternalStreamFailure,
    ModelStreamError,
    PayloadPart,
    RetryPolicy,
    StreamConsumedError,
)
from typed_sagemaker_runtime._core._eventstream import encode_event, encode_frame
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    CorruptFrame,
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
    RawFrames,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    TruncatedFrame,
)


@pytest.fixture(name="smr")
def _smr(clients: Clients) -> Client:
    """Each client in turn, wired to the local endpoint, retrying without waiting."""
    return clients.local(retry=RetryPolicy(initial_backoff=0))


PARTS = [b'data: {"token": {"text": "Hel', b'lo"}}\n\n', b"data: [DONE]\n\n"]


@pytest.fixture(name="tokens")
def _tokens(local: LocalRuntime) -> LocalRuntime:
    local.add_endpoint(
        "tokens",
        lambda request: EndpointResponse(iter(PARTS), content_type="text/event-stream"),
    )
    return local


def test_events_are_typed_payload_parts(tokens: LocalRuntime, smr: Client) -> None:
    with smr.stream("tokens", json={"inputs": "hi", "stream": True}) as stream:
        events = list(stream)
    assert events == [PayloadPart(part) for part in PARTS]
    assert stream.closed


def test_metadata_and_request_id(tokens: LocalRuntime, smr: Client) -> None:
    with smr.stream("tokens", b"{}", target_variant="green") as stream:
        assert stream.metadata["content_type"] == "text/event-stream"
        assert stream.metadata["invoked_production_variant"] == "green"
        assert stream.metadata["custom_attributes"] is None
        assert stream.request_id == tokens.requests[-1].request_id
        assert stream.metadata["response_metadata"]["http_status_code"] == 200
        assert stream.read() == b"".join(PARTS)


@SESSIONS
def test_every_stream_parameter_arrives(local: LocalRuntime, smr: Client) -> None:
    with smr.stream(
        "echo",
        "body",
        content_type="text/plain",
        accept="text/event-stream",
        custom_attributes="c=1",
        target_variant="v1",
        target_container_hostname="host-1",
        inference_id="inf-1",
        inference_component_name="ic-1",
        session_id="sess-1",
    ) as stream:
        assert stream.read() == b"body"
    request = local.requests[-1]
    assert request.operation == "InvokeEndpointWithResponseStream"
    assert (request.content_type, request.accept) == ("text/plain", "text/event-stream")
    assert request.custom_attributes == "c=1"
    assert request.target_variant == "v1"
    assert request.target_container_hostname == "host-1"
    assert request.inference_id == "inf-1"
    assert request.inference_component_name == "ic-1"
    assert request.session_id == "sess-1"


def test_model_stream_error_is_the_last_event_with_its_code(
    tokens: LocalRuntime, smr: Client
) -> None:
    tokens.add_endpoint(
        "failing",
        lambda request: iter(PARTS),
        faults=[StreamErrorEvent(1, error_code="StreamBroken", message="broken pipe")],
    )
    with smr.stream("failing", b"{}") as stream:
        events = list(stream)
    assert events == [
        PayloadPart(PARTS[0]),
        ModelStreamError(message="broken pipe", error_code="StreamBroken"),
    ]


def test_internal_stream_failure_event(tokens: LocalRuntime, smr: Client) -> None:
    tokens.add_endpoint(
        "failing", lambda request: iter(PARTS), faults=[StreamFailureEvent(2, message="oops")]
    )
    with smr.stream("failing", b"{}") as stream:
        events = list(stream)
    assert events[-1] == InternalStreamFailure(message="oops")
    assert len(events) == 3


def test_helpers_raise_error_events_after_yielding_what_came_before(
    local: LocalRuntime, smr: Client
) -> None:
    local.add_endpoint(
        "failing",
        lambda request: iter(PARTS),
        faults=[StreamErrorEvent(2, error_code="ModelInvocationTimeExceeded")],
    )
    received: list[bytes] = []
    interrupted = pytest.raises(smr_pkg.ModelStreamInterruptedError)
    with smr.stream("failing", b"{}") as stream, interrupted as info:
        received.extend(stream.payloads())
    assert received == PARTS[:2]
    error = info.value
    assert error.error_code == "ModelInvocationTimeExceeded"
    assert error.request_id == local.requests[-1].request_id
    assert error.operation == "InvokeEndpointWithResponseStream"
    assert isinstance(error.event, ModelStreamError)


def test_read_raises_internal_stream_failure(local: LocalRuntime, smr: Client) -> None:
    local.add_endpoint("failing", faults=[StreamFailureEvent(0, message="internal")])
    with (
        smr.stream("failing", b"{}") as stream,
        pytest.raises(smr_pkg.InternalStreamFailureError, match="internal"),
    ):
        stream.read()


def test_yielded_error_events_from_a_handler(local: LocalRuntime, smr: Client) -> None:
    def handler(request: InvocationRequest) -> Iterator[bytes | ModelStreamError]:
        yield b"partial"
        yield ModelStreamError(message="gave up", error_code="ModelInvocationTimeExceeded")

    local.add_endpoint("ep", handler)
    with smr.stream("ep", b"{}") as stream:
        assert list(stream) == [
            PayloadPart(b"partial"),
            ModelStreamError(message="gave up", error_code="ModelInvocationTimeExceeded"),
        ]


def test_single_pass(tokens: LocalRuntime, smr: Client) -> None:
    with smr.stream("tokens", b"{}") as stream:
        list(stream)
        with pytest.raises(StreamConsumedError):
            iter(stream)
        assert isinstance(StreamConsumedError(), RuntimeError)
    with smr.stream("tokens", b"{}") as stream:
        stream.close()
        with pytest.raises(StreamConsumedError):
            stream.read()


def test_close_is_idempotent_and_exit_does_not_swallow(tokens: LocalRuntime, smr: Client) -> None:
    stream = smr.stream("tokens", b"{}")
    with pytest.raises(KeyError), stream:
        raise KeyError("user error")
    stream.close()
    stream.close()
    assert stream.closed
    assert stream.__exit__(None, None, None) is None


def test_repr_shows_no_payload(tokens: LocalRuntime, smr: Client) -> None:
    with smr.stream("tokens", b"secret-body") as stream:
        assert "secret" not in repr(stream)
        events = list(stream)
    assert "Hel" not in repr(events[0])


# --- faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (TruncatedFrame(1), smr_pkg.StreamDecodeError),
        (TruncatedFrame(1, clean_end=False), smr_pkg.StreamDecodeError),
        (CorruptFrame(1), smr_pkg.StreamDecodeError),
        (ConnectionReset(after_parts=1), smr_pkg.TransportError),
    ],
    ids=["truncated-clean-end", "truncated-socket-closed", "corrupt-crc", "reset"],
)
def test_stream_faults_raise_typed_errors_after_the_first_part(
    local: LocalRuntime,
    smr: Client,
    fault: TruncatedFrame | CorruptFrame | ConnectionReset,
    error: type[smr_pkg.StreamError],
) -> None:
    local.add_endpoint("ep", lambda request: iter(PARTS), faults=[fault])
    received: list[smr_pkg.StreamEvent] = []
    with smr.stream("ep", b"{}") as stream, pytest.raises(error) as info:
        received.extend(stream)
    assert received == [PayloadPart(PARTS[0])]
    assert info.value.request_id == local.requests[-1].request_id
    assert len(local.requests) == 1, "never retried mid-stream"


def test_stall_mid_stream_is_a_timeout(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("ep", lambda request: iter(PARTS), faults=[Stall(30, after_parts=1)])
    with clients.local(config=Config(read_timeout=0.3)) as smr, smr.stream("ep", b"{}") as stream:
        events = iter(stream)
        assert next(events) == PayloadPart(PARTS[0])
        with pytest.raises(smr_pkg.TimeoutError) as info:
            next(events)
    assert isinstance(info.value, TimeoutError)
    assert info.value.request_id == local.requests[-1].request_id


def test_slow_first_byte_is_a_timeout_from_the_call(local: LocalRuntime, clients: Clients) -> None:
    local.add_endpoint("ep", faults=[Stall(30)])
    policy = RetryPolicy(initial_backoff=0)
    with (
        clients.local(config=Config(read_timeout=0.3), retry=policy) as smr,
        pytest.raises(smr_pkg.TimeoutError),
    ):
        smr.stream("ep", b"{}")
    assert len(local.requests) == 1, "read timeouts are not retried"


# --- connections ---------------------------------------------------------------------


@pytest.fixture(name="pool_of_one")
def _pool_of_one(clients: Clients) -> Iterator[Client]:
    config = Config(max_pool_connections=1, read_timeout=5)
    with clients.local(config=config, retry=RetryPolicy.disabled()) as client:
        yield client


def test_a_consumed_stream_returns_its_connection(
    tokens: LocalRuntime, pool_of_one: Client
) -> None:
    for _ in range(3):
        with pool_of_one.stream("tokens", b"{}") as stream:
            list(stream)
        pool_of_one.invoke("echo", b"x")
    assert tokens.connections_opened == 1


def test_a_stream_ending_in_an_error_event_returns_its_connection(
    local: LocalRuntime, pool_of_one: Client
) -> None:
    """Raw boto3 never reuses the connection after an error event; the facade does."""
    local.add_endpoint("failing", lambda r: iter(PARTS), faults=[StreamErrorEvent(1)])
    for _ in range(3):
        with pool_of_one.stream("failing", b"{}") as stream, pytest.raises(smr_pkg.StreamError):
            stream.read()
        pool_of_one.invoke("echo", b"x")
    assert local.connections_opened == 1


class EndlessStream:
    """A handler that streams until the client goes away, and says when it noticed."""

    def __init__(self) -> None:
        self.client_left = threading.Event()

    def __call__(self, request: InvocationRequest) -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            self.client_left.set()


class UserCodeFailed(Exception):
    """An error in the code that consumes a stream."""


@pytest.mark.parametrize(
    "how", ["break", "exception", "close", "garbage-collected", "never-iterated-collected"]
)
def test_an_abandoned_stream_closes_its_socket_at_once(
    local: LocalRuntime, pool_of_one: Client, how: str
) -> None:
    endless = EndlessStream()
    local.add_endpoint("endless", endless)
    if how == "break":
        with pool_of_one.stream("endless", b"{}") as stream:
            for _ in stream:
                break
            assert endless.client_left.wait(10), "breaking out of the loop closed the socket"
    elif how == "exception":
        with pytest.raises(UserCodeFailed), pool_of_one.stream("endless", b"{}") as stream:
            for _ in stream:
                raise UserCodeFailed
    elif how == "close":
        stream = pool_of_one.stream("endless", b"{}")
        events = iter(stream)
        next(events)
        stream.close()
        assert endless.client_left.wait(10)
        with pytest.raises(StopIteration):
            next(events)
    elif how == "garbage-collected":
        stream = pool_of_one.stream("endless", b"{}")
        events = iter(stream)
        next(events)
        del events, stream
        gc.collect()
    else:
        stream = pool_of_one.stream("endless", b"{}")
        del stream
        gc.collect()
    assert endless.client_left.wait(10), "the server saw the client close the connection"
    assert pool_of_one.invoke("echo", b"next")["body"] == b"next"
    assert local.connections_opened == 2


# --- text helpers ---------------------------------------------------------------------

TGI_PARTS = [
    b'data: {"index":1,"token":{"id":1,"text":"caf',
    b"\xc3",
    b'\xa9","logprob":-0.1,"special":false},"generated_text":null,"details":null}\r',
    b'\n\r\ndata: {"index":2,"token":{"id":2,"text":" \\u2028ok","logprob":-0.1,"special":false},'
    b'"generated_text":null,"details":null}\n\n:\n\n'
    b'data: {"index":3,"token":{"id":3,"text":"</s>","logprob":-0.1,"special":true},'
    b'"generated_text":"caf\xc3\xa9 \xe2\x80\xa8ok","details":null}\n\n',
]


@pytest.fixture(name="tgi")
def _tgi(local: LocalRuntime) -> LocalRuntime:
    local.add_endpoint(
        "tgi", lambda r: EndpointResponse(iter(TGI_PARTS), content_type="text/event-stream")
    )
    return local


def test_tokens_through_the_real_stack(tgi: LocalRuntime, smr: Client) -> None:
    with smr.stream("tgi", json={"inputs": "hi", "stream": True}) as stream:
        assert list(stream.tokens()) == ["café", " \u2028ok"]
    with smr.stream("tgi", b"{}") as stream:
        assert list(stream.tokens("tgi")) == ["café", " \u2028ok"]


def test_text_joins_characters_split_across_parts(tgi: LocalRuntime, smr: Client) -> None:
    with smr.stream("tgi", b"{}") as stream:
        chunks = list(stream.text())
    assert "".join(chunks) == b"".join(TGI_PARTS).decode()
    assert all("\ufffd" not in chunk for chunk in chunks)


def test_lines_split_crlf_across_parts_and_keep_u2028(tgi: LocalRuntime, smr: Client) -> None:
    with smr.stream("tgi", b"{}") as stream:
        lines = list(stream.lines())
    assert lines[1] == ""
    assert lines[2].endswith('"details":null}')
    assert len(lines) == 8
    assert lines[6].endswith('"generated_text":"café \u2028ok","details":null}')


def test_sse_skips_comments(tgi: LocalRuntime, smr: Client) -> None:
    with smr.stream("tgi", b"{}") as stream:
        events = list(stream.sse())
    assert len(events) == 3
    assert all(event.data.startswith('{"index":') for event in events)


def test_generation_error_carries_the_request_id(local: LocalRuntime, smr: Client) -> None:
    local.add_endpoint(
        "oom",
        lambda r: EndpointResponse(
            iter(
                [
                    b'data: {"token":{"id":1,"text":"Hi","special":false}}\n\n',
                    b'data: {"error":"CUDA out of memory","error_type":"generation"}\n\n',
                ]
            ),
            content_type="text/event-stream",
        ),
    )
    tokens: list[str] = []
    with smr.stream("oom", b"{}") as stream, pytest.raises(smr_pkg.GenerationError) as info:
        tokens.extend(stream.tokens())
    assert tokens == ["Hi"]
    assert "CUDA out of memory" in info.value.message
    assert info.value.request_id == local.requests[-1].request_id


@pytest.mark.parametrize("helper", ["text", "lines", "sse", "tokens", "payloads"])
def test_every_helper_raises_error_events(local: LocalRuntime, smr: Client, helper: str) -> None:
    local.add_endpoint(
        "failing",
        lambda r: EndpointResponse(
            iter([b'data: {"token":{"text":"x"}}\n\n']), content_type="text/event-stream"
        ),
        faults=[StreamErrorEvent(1, error_code="StreamBroken")],
    )
    interrupted = pytest.raises(smr_pkg.ModelStreamInterruptedError)
    with smr.stream("failing", b"{}") as stream, interrupted as info:
        list(getattr(stream, helper)())
    assert info.value.error_code == "StreamBroken"
    assert info.value.request_id == local.requests[-1].request_id


def test_a_stream_read_by_tokens_returns_its_connection(
    tgi: LocalRuntime, pool_of_one: Client
) -> None:
    for _ in range(3):
        with pool_of_one.stream("tgi", b"{}") as stream:
            assert list(stream.tokens()) == ["café", " \u2028ok"]
    assert tgi.connections_opened == 1


def test_frames_that_are_not_sagemaker_events_are_skipped(local: LocalRuntime, smr: Client) -> None:
    unknown = encode_frame({":message-type": "event", ":event-type": "SomethingNew"}, b"?")
    no_headers = encode_frame({}, b"??")
    odd_header_types = encode_frame(
        {":message-type": "event", ":event-type": "PayloadPart", "flag": True, "n": 7}, b"ok"
    )
    local.add_endpoint(
        "ep", lambda r: iter([RawFrames(unknown + no_headers), RawFrames(odd_header_types)])
    )
    with smr.stream("ep", b"{}") as stream:
        assert list(stream) == [PayloadPart(b"ok")]


def test_close_from_another_thread_fails_the_reader(local: LocalRuntime) -> None:
    """A watchdog's close() must not hand the reading thread a truncated body as complete."""
    produced = threading.Event()

    def paced(request: InvocationRequest) -> Iterator[bytes]:
        for index in range(1000):
            if index == 3:
                produced.set()
            yield b"part;"
            threading.Event().wait(0.02)  # pacing only; nothing asserts on time

    local.add_endpoint("paced", paced)
    outcome: list[BaseException | bytes] = []
    with local.client() as smr:
        stream = smr.stream("paced", b"{}")

        def reader() -> None:
            try:
                outcome.append(stream.read())
            except BaseException as exc:  # the outcome is asserted below
                outcome.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        assert produced.wait(10)
        stream.close()
        thread.join(10)
    assert not thread.is_alive()
    [result] = outcome
    assert isinstance(result, smr_pkg.StreamError), result
    assert "closed while it was being read" in result.message


def test_an_error_event_is_yielded_before_the_body_ends(
    local: LocalRuntime, clients: Clients
) -> None:
    """A server that keeps the body open after the error frame does not delay the event."""
    seen = threading.Event()
    waited: list[bool] = []
    error = ModelStreamError(message="stopped", error_code="ModelInvocationTimeExceeded")

    def holds_the_body_open(request: InvocationRequest) -> Iterator[bytes | RawFrames]:
        yield b"partial"
        yield RawFrames(encode_event(error))  # sent as is: the server does not end the body
        waited.append(seen.wait(10))

    local.add_endpoint("ep", holds_the_body_open)
    with clients.local(retry=RetryPolicy.disabled()) as smr, smr.stream("ep", b"{}") as stream:
        events = iter(stream)
        assert next(events) == PayloadPart(b"partial")
        assert next(events) == error
        seen.set()
        assert list(events) == []
    assert waited == [True], "the event arrived while the server still held the body open"

"""Faults of the local endpoint on InvokeEndpointWithBidirectionalStream (issue 21).

Each fault reaches the real awscrt transport as one of the library's own exceptions or
events: HTTP errors typed as the other operations' are, in-stream error events after N
parts, a reset stream, a dropped connection, a stall, a corrupt or truncated frame. Faults
that make no sense for this operation skip it and are not used up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from botocore.config import Config

from typed_sagemaker_runtime import (
    AccessDeniedError,
    BidiEvent,
    BidiPayloadPart,
    InternalFailureError,
    InternalStreamFailure,
    ModelError,
    ModelStreamError,
    SageMakerRuntimeError,
    ServiceError,
    ServiceUnavailableError,
    StreamDecodeError,
    ThrottlingError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    CorruptFrame,
    ErrorResponse,
    Fault,
    LocalRuntime,
    RawResponse,
    ShortContentLength,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
    StreamReset,
    TruncatedFrame,
)

PARTS = ("a", "b", "c")


def numbered(parts: Iterator[BidiPayloadPart]) -> Iterator[str]:
    """Three parts at once, whatever is sent, then the input's parts echoed."""
    yield from PARTS
    yield from (part.data.decode() for part in parts)


@pytest.fixture
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime(stop_timeout=5.0) as running:
        yield running


def served(local: LocalRuntime, *faults: Fault) -> LocalRuntime:
    local.add_endpoint("ep", bidi=numbered, faults=faults)
    return local


def read_all(local: LocalRuntime) -> list[BidiEvent]:
    """Every event of a stream whose input ends at once, through ``local.client()``."""
    with local.client() as smr, smr.bidi_stream("ep", input=()) as stream:
        return list(stream)


def read_until_error(
    local: LocalRuntime, timeout: float = 5.0
) -> tuple[list[BidiEvent], SageMakerRuntimeError]:
    """The events before the stream fails, and the library's exception it fails with."""
    received: list[BidiEvent] = []
    config = Config(read_timeout=timeout, connect_timeout=5.0)
    with (
        pytest.raises(SageMakerRuntimeError) as caught,  # never an awscrt exception
        local.client(config=config) as smr,
        smr.bidi_stream("ep", input=()) as stream,
    ):
        received.extend(stream)
    return received, caught.value


def parts_of(*texts: str) -> list[BidiEvent]:
    return [BidiPayloadPart(text.encode(), "UTF8", None) for text in texts]


# --- HTTP errors ----------------------------------------------------------------------------


def test_a_model_error_is_a_424_with_its_fields(local: LocalRuntime) -> None:
    served(
        local,
        ErrorResponse("ModelError", message="bad setting", fields={"OriginalStatusCode": 422}),
    )
    _, error = read_until_error(local)
    assert isinstance(error, ModelError)
    assert error.http_status == 424
    assert error.code == "ModelError"
    assert error.original_status_code == 422
    assert error.original_message == "bad setting"
    assert (
        error.log_stream_arn
        == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep"
    )
    assert error.request_id


def test_a_model_error_raises_from_send_while_the_caller_is_still_sending(
    local: LocalRuntime,
) -> None:
    served(local, ErrorResponse("ModelError"))
    with local.client() as smr, smr.bidi_stream("ep") as stream:
        started = time.monotonic()
        with pytest.raises(ModelError):
            while time.monotonic() - started < 5.0:
                stream.send("more")
        assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        (ErrorResponse("ThrottlingException"), ThrottlingError, 429),
        (ErrorResponse("InputValidationError"), ValidationError, 400),
        (ErrorResponse("InternalServerError"), InternalFailureError, 500),
        (ErrorResponse("ServiceUnavailableError"), ServiceUnavailableError, 503),
        (ErrorResponse("ThrottlingException", status=400), ThrottlingError, 400),
        (ErrorResponse("InvalidSignatureException"), AccessDeniedError, 403),
    ],
)
def test_each_http_error_reaches_the_client_typed_with_its_code(
    local: LocalRuntime, fault: ErrorResponse, error_class: type[ServiceError], status: int
) -> None:
    served(local, fault)
    _, error = read_until_error(local)
    assert type(error) is error_class
    assert isinstance(error, ServiceError)
    assert error.code == fault.code
    assert error.http_status == status


def test_a_raw_response_is_sent_as_it_is(local: LocalRuntime) -> None:
    headers = {"Content-Type": "text/html", "Connection": "close", "Content-Length": "1"}
    served(local, RawResponse(502, b"<html>Bad Gateway</html>", headers))
    _, error = read_until_error(local)
    assert isinstance(error, ServiceError)
    assert error.http_status == 502


def test_times_counts_streams_and_then_the_backend_answers(local: LocalRuntime) -> None:
    served(local, ErrorResponse("ThrottlingException", times=1))
    _, error = read_until_error(local)
    assert isinstance(error, ThrottlingError)
    assert read_all(local) == parts_of(*PARTS)


def test_faults_this_operation_cannot_answer_skip_it_and_are_not_used_up(
    local: LocalRuntime,
) -> None:
    served(
        local,
        ErrorResponse("ValidationError", times=1),  # the classic operations' name
        ErrorResponse("ModelError", operations=["InvokeEndpoint"], times=1),
        ShortContentLength(times=1),  # HTTP/1.1's
    )
    assert read_all(local) == parts_of(*PARTS)
    with local.client() as smr, pytest.raises(ValidationError):
        smr.invoke("ep", b"{}")  # the first fault was kept for the operation it fits


def test_a_bidi_only_code_is_refused_for_the_other_operations() -> None:
    with pytest.raises(ValueError, match="InvokeEndpointWithBidirectionalStream only"):
        ErrorResponse("InputValidationError", operations=["InvokeEndpoint"])
    with pytest.raises(ValueError, match="cannot answer ValidationError"):
        ErrorResponse("ValidationError", operations=["InvokeEndpointWithBidirectionalStream"])


# --- in-stream error events ------------------------------------------------------------------


def test_a_model_stream_error_event_ends_the_stream_after_n_parts(local: LocalRuntime) -> None:
    served(local, StreamErrorEvent(2, error_code="StreamBroken", message="broken"))
    assert read_all(local) == [*parts_of("a", "b"), ModelStreamError("broken", "StreamBroken")]


def test_an_internal_stream_failure_event_ends_the_stream_after_n_parts(
    local: LocalRuntime,
) -> None:
    served(local, StreamFailureEvent(1, message="oops"))
    assert read_all(local) == [*parts_of("a"), InternalStreamFailure("oops")]


def test_an_error_event_after_more_parts_than_the_backend_gives_comes_after_the_last(
    local: LocalRuntime,
) -> None:
    served(local, StreamFailureEvent(99))
    assert read_all(local) == [*parts_of(*PARTS), InternalStreamFailure("Internal stream failure.")]


# --- resets, drops, stalls, bad frames -------------------------------------------------------


def test_a_stream_reset_after_n_parts_raises_the_library_s_error_after_them(
    local: LocalRuntime,
) -> None:
    served(local, StreamReset(1))
    received, error = read_until_error(local)
    assert received == parts_of("a")
    assert isinstance(error, TransportError)
    assert "awscrt" not in type(error).__module__


def test_a_stream_reset_before_the_response_raises_the_library_s_error(
    local: LocalRuntime,
) -> None:
    served(local, StreamReset())
    received, error = read_until_error(local)
    assert received == []
    assert isinstance(error, TransportError)


def test_a_stream_reset_leaves_the_endpoint_serving(local: LocalRuntime) -> None:
    served(local, StreamReset(0, times=1))
    read_until_error(local)
    assert read_all(local) == parts_of(*PARTS)


@pytest.mark.parametrize("after_parts", [None, 2])
def test_a_dropped_connection_raises_the_library_s_error(
    local: LocalRuntime, after_parts: int | None
) -> None:
    served(local, ConnectionReset(after_parts))
    received, error = read_until_error(local)
    assert received == parts_of(*PARTS[: after_parts or 0])
    assert isinstance(error, TransportError)


def test_a_stall_before_the_response_times_out_as_the_library_s_timeout(
    local: LocalRuntime,
) -> None:
    served(local, Stall(60))
    started = time.monotonic()
    _, error = read_until_error(local, timeout=0.5)
    assert isinstance(error, TimeoutError)
    assert time.monotonic() - started < 5.0


def test_a_stall_after_n_parts_holds_the_rest(local: LocalRuntime) -> None:
    served(local, Stall(60, after_parts=1))
    received, error = read_until_error(local, timeout=0.5)
    assert received == parts_of("a")
    assert isinstance(error, TimeoutError)


def test_a_short_stall_then_carries_on(local: LocalRuntime) -> None:
    served(local, Stall(0.05, after_parts=1))
    assert read_all(local) == parts_of(*PARTS)


def test_stop_ends_a_stall_at_once() -> None:
    local = LocalRuntime(stop_timeout=5.0).start()
    served(local, Stall(60, after_parts=1))
    with local.client() as smr, smr.bidi_stream("ep") as stream:
        events = iter(stream)
        assert next(events) == parts_of("a")[0]
        started = time.monotonic()
        local.stop()
        assert time.monotonic() - started < 3.0
        with pytest.raises(SageMakerRuntimeError):
            list(events)


def test_a_corrupt_frame_raises_a_decode_error_after_the_parts_before_it(
    local: LocalRuntime,
) -> None:
    served(local, CorruptFrame(1))
    received, error = read_until_error(local)
    assert received == parts_of("a")
    assert isinstance(error, StreamDecodeError)


@pytest.mark.parametrize("clean_end", [True, False])
def test_a_truncated_frame_raises_the_library_s_error(local: LocalRuntime, clean_end: bool) -> None:
    served(local, TruncatedFrame(2, clean_end=clean_end))
    received, error = read_until_error(local)
    assert received == parts_of("a", "b")
    assert isinstance(error, (StreamDecodeError, TransportError))


def test_slow_tokens_delay_the_parts_after_the_first(local: LocalRuntime) -> None:
    served(local, SlowTokens(0.01))
    assert read_all(local) == parts_of(*PARTS)


# --- the asyncio client meets the same faults ------------------------------------------------


def _async_read_until_error(local: LocalRuntime) -> tuple[list[BidiEvent], BaseException]:
    pytest.importorskip("aiobotocore")
    received: list[BidiEvent] = []

    async def read() -> BaseException:
        try:
            async with local.async_client() as smr, smr.bidi_stream("ep", input=()) as stream:
                async for event in stream:
                    received.append(event)
        except SageMakerRuntimeError as exc:
            return exc
        raise AssertionError("the stream ended without an error")

    return received, asyncio.run(read())


def test_a_model_error_reaches_the_asyncio_client_typed(local: LocalRuntime) -> None:
    served(local, ErrorResponse("ModelError", fields={"OriginalStatusCode": 422}))
    _, error = _async_read_until_error(local)
    assert isinstance(error, ModelError)
    assert error.original_status_code == 422


def test_a_stream_reset_reaches_the_asyncio_client_as_the_library_s_error(
    local: LocalRuntime,
) -> None:
    served(local, StreamReset(2))
    received, error = _async_read_until_error(local)
    assert received == parts_of("a", "b")
    assert isinstance(error, TransportError)


def test_an_error_event_is_the_asyncio_client_s_last_event(local: LocalRuntime) -> None:
    pytest.importorskip("aiobotocore")
    served(local, StreamErrorEvent(1, error_code="StreamBroken", message="broken"))

    async def read() -> list[BidiEvent]:
        async with local.async_client() as smr, smr.bidi_stream("ep", input=()) as stream:
            return [event async for event in stream]

    assert asyncio.run(read()) == [*parts_of("a"), ModelStreamError("broken", "StreamBroken")]

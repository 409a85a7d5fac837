"""Faults with a rate, slow tokens, and ``ModelFailure`` raised by handlers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import urllib3
from botocore import exceptions as bce
from botocore.config import Config

from typed_sagemaker_runtime import ModelError, RetryPolicy, SageMakerRuntime
from typed_sagemaker_runtime._core._eventstream import encode_event
from typed_sagemaker_runtime.testing import (
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
    ModelStreamError,
    PayloadPart,
    ShortContentLength,
    SlowTokens,
    Stall,
    StreamErrorEvent,
    StreamFailureEvent,
)

NO_RETRIES = Config(read_timeout=10, retries={"total_max_attempts": 1})


def _three_parts(request: InvocationRequest) -> Iterator[bytes]:
    yield b"p1"
    yield b"p2"
    yield b"p3"


def _outcomes(local: LocalRuntime, count: int) -> list[bool]:
    """Whether each of ``count`` invokes of ``ep`` failed with ThrottlingException."""
    client = local.boto3_client(NO_RETRIES)
    failed: list[bool] = []
    try:
        for _ in range(count):
            try:
                client.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"].read()
                failed.append(False)
            except bce.ClientError as exc:
                if exc.response["Error"]["Code"] != "ThrottlingException":
                    raise
                failed.append(True)
    finally:
        client.close()
    return failed


def _pattern(seed: int | None, fault: ErrorResponse, count: int = 40) -> list[bool]:
    with LocalRuntime(seed=seed) as local:
        local.add_endpoint("ep", faults=[fault])
        return _outcomes(local, count)


# --- rate -----------------------------------------------------------------------------


def test_rate_strikes_some_requests_repeatably_per_seed() -> None:
    """``rate=0.5``: some requests fail, some succeed; the same seed gives the same pattern."""
    fault = ErrorResponse("ThrottlingException", rate=0.5)
    first = _pattern(7, fault)
    assert 0 < sum(first) < len(first)
    assert _pattern(7, fault) == first
    assert _pattern(8, fault) != first


def test_rate_zero_and_one() -> None:
    """``rate=0`` never strikes, ``rate=1`` always does."""
    assert _pattern(0, ErrorResponse("ThrottlingException", rate=0.0), 10) == [False] * 10
    assert _pattern(0, ErrorResponse("ThrottlingException", rate=1.0), 10) == [True] * 10


def test_rate_with_times_counts_only_strikes() -> None:
    """``times=3`` with a rate: exactly three failures, then never again."""
    pattern = _pattern(3, ErrorResponse("ThrottlingException", rate=0.5, times=3))
    assert sum(pattern) == 3
    last_failure = max(index for index, failed in enumerate(pattern) if failed)
    assert last_failure > 2  # spared requests did not use the fault up


def test_a_spared_request_falls_through_to_the_next_fault(local: LocalRuntime) -> None:
    """A rate fault that does not strike leaves the request to the faults after it."""
    local.add_endpoint(
        "ep",
        faults=[
            ErrorResponse("ServiceUnavailable", rate=0.0),
            ErrorResponse("ThrottlingException", times=1),
        ],
    )
    assert _outcomes(local, 2) == [True, False]


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_must_be_a_probability(rate: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        ErrorResponse("ThrottlingException", rate=rate)


def test_unseeded_runtime_still_honours_the_rate() -> None:
    """``seed=None`` draws fresh numbers; rate 1 still always strikes."""
    assert _pattern(None, ErrorResponse("ThrottlingException", rate=1.0), 3) == [True] * 3


# --- slow tokens ----------------------------------------------------------------------


def test_slow_tokens_send_the_first_part_at_once_then_wait(local: LocalRuntime) -> None:
    """With a long delay the first part arrives, and the read of the second times out."""
    local.add_endpoint("ep", _three_parts, faults=[SlowTokens(60)])
    client = local.boto3_client(Config(read_timeout=0.3, retries={"total_max_attempts": 1}))
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    events = iter(response["Body"])
    try:
        assert next(events) == {"PayloadPart": {"Bytes": b"p1"}}
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            next(events)
    finally:
        response["Body"].close()
        client.close()


def test_slow_tokens_delay_each_later_part(local: LocalRuntime) -> None:
    """Three parts with 0.05 s between them take at least 0.1 s and all arrive."""
    local.add_endpoint("ep", _three_parts, faults=[SlowTokens(0.05)])
    with local.client() as smr:
        started = time.monotonic()
        with smr.stream("ep", b"x") as stream:
            assert stream.read() == b"p1p2p3"
        assert time.monotonic() - started >= 0.1


def test_slow_tokens_do_not_apply_to_invoke(local: LocalRuntime) -> None:
    """A stream-only fault: InvokeEndpoint is answered at once and does not use it up."""
    local.add_endpoint("ep", _three_parts, faults=[SlowTokens(60, times=1)])
    client = local.boto3_client(Config(read_timeout=0.5, retries={"total_max_attempts": 1}))
    try:
        assert client.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"].read() == b"p1p2p3"
    finally:
        client.close()


def test_stop_ends_a_slow_token_wait() -> None:
    """``LocalRuntime.stop()`` cuts a stream waiting between tokens at once."""
    reached = threading.Event()

    def handler(request: InvocationRequest) -> Iterator[bytes]:
        yield b"p1"
        reached.set()
        yield b"p2"

    local = LocalRuntime(stop_timeout=5)
    local.start()
    local.add_endpoint("ep", handler, faults=[SlowTokens(60)])
    client = local.boto3_client(Config(read_timeout=60, retries={"total_max_attempts": 1}))
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    events = iter(response["Body"])
    assert next(events) == {"PayloadPart": {"Bytes": b"p1"}}
    assert reached.wait(5)  # the server now waits before sending p2
    started = time.monotonic()
    local.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(urllib3.exceptions.ProtocolError):
        next(events)
    response["Body"].close()
    client.close()


def test_slow_first_byte_is_a_stall_without_after_parts(local: LocalRuntime) -> None:
    """``Stall(seconds)`` delays the response head; documented as the slow first byte."""
    assert Stall.__doc__ is not None
    assert "slow first byte" in Stall.__doc__
    local.add_endpoint("ep", faults=[Stall(60)])
    client = local.boto3_client(Config(read_timeout=0.3, retries={"total_max_attempts": 1}))
    try:
        with pytest.raises(bce.ReadTimeoutError):
            client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    finally:
        client.close()


@pytest.mark.parametrize("make", [lambda: SlowTokens(-1), lambda: SlowTokens(1, times=-1)])
def test_slow_tokens_arguments_are_checked(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        make()


# --- short Content-Length, held error events -----------------------------------------


def test_short_content_length_ends_raw_botocores_event_stream_quietly(local: LocalRuntime) -> None:
    """What the fault is for: botocore turns urllib3's length check off, so a stream cut at
    a frame boundary looks complete to raw boto3 (the facade raises: test_promises.py)."""
    local.add_endpoint("ep", _three_parts, faults=[ShortContentLength(2)])
    client = local.boto3_client(NO_RETRIES)
    try:
        response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
        declared = int(response["ResponseMetadata"]["HTTPHeaders"]["content-length"])
        assert "transfer-encoding" not in response["ResponseMetadata"]["HTTPHeaders"]
        try:
            events = list(response["Body"])
        except (urllib3.exceptions.ProtocolError, bce.ResponseStreamingError):
            # botocore before 1.35 leaves urllib3's check on; the facade raises on both.
            pytest.skip("this botocore keeps urllib3's Content-Length check")
        assert events == [{"PayloadPart": {"Bytes": b"p1"}}, {"PayloadPart": {"Bytes": b"p2"}}]
        assert declared > sum(len(encode_event(PayloadPart(p))) for p in (b"p1", b"p2"))
    finally:
        client.close()


def test_short_content_length_cuts_an_invoke_body_in_half(local: LocalRuntime) -> None:
    local.add_endpoint("ep", faults=[ShortContentLength(times=1)])
    client = local.boto3_client(NO_RETRIES)
    try:
        with pytest.raises((bce.ResponseStreamingError, bce.IncompleteReadError)):
            client.invoke_endpoint(EndpointName="ep", Body=b"x" * 100)["Body"].read()
        assert client.invoke_endpoint(EndpointName="ep", Body=b"ok")["Body"].read() == b"ok"
    finally:
        client.close()


def test_an_error_event_can_hold_the_body_open(local: LocalRuntime) -> None:
    """``hold_seconds``: the event arrives, the end of the body does not (until it is over)."""
    local.add_endpoint("ep", _three_parts, faults=[StreamErrorEvent(1, hold_seconds=60)])
    client = local.boto3_client(Config(read_timeout=0.3, retries={"total_max_attempts": 1}))
    try:
        response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
        raw = response["Body"]._raw_stream
        chunks = raw.stream(65536, decode_content=False)
        frames = next(chunks) + next(chunks)
        error = ModelStreamError(
            message="Model invocation time exceeded while streaming the response.",
            error_code="ModelInvocationTimeExceeded",
        )
        assert frames == encode_event(PayloadPart(b"p1")) + encode_event(error)
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            next(chunks)
        response["Body"].close()
    finally:
        client.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ShortContentLength(-1),
        lambda: ShortContentLength(times=-1),
        lambda: StreamErrorEvent(1, hold_seconds=-1),
        lambda: StreamFailureEvent(1, hold_seconds=-1),
    ],
)
def test_short_content_length_and_hold_arguments_are_checked(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        make()


# --- ModelFailure ---------------------------------------------------------------------


@pytest.fixture(name="facade")
def _facade(local: LocalRuntime) -> Iterator[SageMakerRuntime]:
    with local.client(retry=RetryPolicy.disabled()) as client:
        yield client


def _failing(
    status: int, after: int, **options: str
) -> Callable[[InvocationRequest], Iterator[bytes]]:
    def handler(request: InvocationRequest) -> Iterator[bytes]:
        for index in range(after):
            yield b"part %d" % index
        raise ModelFailure(status, "the model gave up", **options)

    return handler


@pytest.mark.parametrize(
    ("status", "error_code"), [(404, "CLIENT_ERROR_FROM_MODEL"), (507, "SERVER_ERROR_FROM_MODEL")]
)
def test_model_failure_on_invoke_is_a_model_error(
    local: LocalRuntime, facade: SageMakerRuntime, status: int, error_code: str
) -> None:
    """The handler's status and message become OriginalStatusCode and OriginalMessage."""
    local.add_endpoint("ep", _failing(status, after=1))
    with pytest.raises(ModelError) as caught:
        facade.invoke("ep", b"x")
    assert caught.value.original_status_code == status
    assert caught.value.original_message == "the model gave up"
    assert caught.value.error_code == error_code


def test_model_failure_before_the_first_part_fails_the_stream_call(
    local: LocalRuntime, facade: SageMakerRuntime
) -> None:
    """Nothing streamed yet: ModelError 424 from the stream call itself."""
    local.add_endpoint("ep", _failing(429, after=0))
    with pytest.raises(ModelError) as caught:
        facade.stream("ep", b"x")
    assert caught.value.http_status == 424
    assert caught.value.original_status_code == 429


@pytest.mark.parametrize(
    ("options", "code"),
    [({}, "StreamBroken"), ({"stream_error_code": "ModelInvocationTimeExceeded"}, None)],
)
def test_model_failure_after_parts_is_a_stream_error_event(
    local: LocalRuntime, facade: SageMakerRuntime, options: dict[str, str], code: str | None
) -> None:
    """Parts already sent: the stream ends with a ModelStreamError carrying the message."""
    local.add_endpoint("ep", _failing(500, after=2, **options))
    with facade.stream("ep", b"x") as stream:
        events = list(stream)
    assert events == [
        PayloadPart(b"part 0"),
        PayloadPart(b"part 1"),
        ModelStreamError(
            message="the model gave up",
            error_code=code or options["stream_error_code"],
        ),
    ]


def test_model_failure_attributes() -> None:
    failure = ModelFailure(418, "teapot")
    assert (failure.status_code, failure.message, failure.stream_error_code) == (
        418,
        "teapot",
        "StreamBroken",
    )
    assert str(failure) == "teapot"

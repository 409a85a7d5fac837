"""Streaming responses queued on botocore's ``Stubber``, read by raw boto3 and by the facade."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import botocore.eventstream
import pytest
from botocore import exceptions as bce
from botocore.stub import Stubber
from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

from typed_sagemaker_runtime import (
    InternalStreamFailureError,
    ModelStreamInterruptedError,
    SageMakerRuntime,
)
from typed_sagemaker_runtime.testing import (
    InternalStreamFailure,
    ModelStreamError,
    PayloadPart,
    botocore_event_stream,
    stub_stream_response,
)


@pytest.fixture(name="client")
def _client() -> Iterator[SageMakerRuntimeClient]:
    client: SageMakerRuntimeClient = boto3.client("sagemaker-runtime", region_name="us-east-1")
    yield client
    client.close()


@pytest.fixture(name="stubber")
def _stubber(client: SageMakerRuntimeClient) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_the_plain_stubber_rejects_an_event_stream(client: SageMakerRuntimeClient) -> None:
    """Why the helper exists: ``add_response`` validates an event-stream member as a dict."""
    stream = botocore_event_stream([b"x"])
    try:
        with pytest.raises(bce.ParamValidationError, match="valid types: <class 'dict'>"):
            Stubber(client).add_response("invoke_endpoint_with_response_stream", {"Body": stream})
    finally:
        stream.close()


def test_raw_boto3_reads_stubbed_events(client: SageMakerRuntimeClient, stubber: Stubber) -> None:
    """botocore decodes the frames itself: dicts per part, header members, metadata."""
    stub_stream_response(
        stubber,
        [PayloadPart(b"Hel"), "lo ", "wörld".encode()],
        content_type="text/plain",
        custom_attributes="trace=1",
        request_id="req-1",
        expected_params={"EndpointName": "ep", "Body": b"hi"},
    )
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"hi")
    assert isinstance(response["Body"], botocore.eventstream.EventStream)
    assert response["ContentType"] == "text/plain"
    assert response["CustomAttributes"] == "trace=1"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    metadata = response["ResponseMetadata"]
    assert metadata["RequestId"] == "req-1"
    assert metadata["HTTPStatusCode"] == 200
    assert metadata["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = list(response["Body"])
    response["Body"].close()
    assert events == [
        {"PayloadPart": {"Bytes": b"Hel"}},
        {"PayloadPart": {"Bytes": b"lo "}},
        {"PayloadPart": {"Bytes": "wörld".encode()}},
    ]


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (ModelStreamError("too slow", "ModelInvocationTimeExceeded"), "ModelStreamError"),
        (InternalStreamFailure("oops"), "InternalStreamFailure"),
    ],
)
def test_raw_boto3_gets_botocores_error_for_error_events(
    client: SageMakerRuntimeClient,
    stubber: Stubber,
    event: ModelStreamError | InternalStreamFailure,
    code: str,
) -> None:
    """An error event raises botocore's EventStreamError after the parts before it."""
    stub_stream_response(stubber, [b"a", event])
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    seen: list[object] = []
    with pytest.raises(bce.EventStreamError) as caught:
        for item in response["Body"]:
            seen.append(item)
    response["Body"].close()
    assert seen == [{"PayloadPart": {"Bytes": b"a"}}]
    assert caught.value.response["Error"]["Code"] == code


def test_facade_yields_typed_events(client: SageMakerRuntimeClient, stubber: Stubber) -> None:
    """``SageMakerRuntime(client=stubbed)`` reads the frames; the ErrorCode survives."""
    events = [
        PayloadPart(b"one"),
        PayloadPart(b"two"),
        ModelStreamError("cut", "StreamBroken"),
    ]
    stub_stream_response(
        stubber,
        events,
        content_type="application/jsonlines",
        request_id="req-2",
        expected_params={"EndpointName": "ep", "Body": b"prompt"},
    )
    smr = SageMakerRuntime(client=client)
    with smr.stream("ep", b"prompt") as stream:
        assert stream.metadata["content_type"] == "application/jsonlines"
        assert stream.metadata["invoked_production_variant"] == "AllTraffic"
        assert stream.request_id == "req-2"
        assert list(stream) == events
        assert stream.closed


def test_facade_helpers_raise_for_error_events(
    client: SageMakerRuntimeClient, stubber: Stubber
) -> None:
    """``read()`` and ``payloads()`` raise the typed stream errors."""
    stub_stream_response(stubber, [b"a", ModelStreamError("late", "ModelInvocationTimeExceeded")])
    stub_stream_response(stubber, [InternalStreamFailure("boom")])
    stub_stream_response(stubber, ["fine"])
    smr = SageMakerRuntime(client=client)
    with smr.stream("ep", b"x") as stream, pytest.raises(ModelStreamInterruptedError) as caught:
        stream.read()
    assert caught.value.error_code == "ModelInvocationTimeExceeded"
    with smr.stream("ep", b"x") as stream, pytest.raises(InternalStreamFailureError):
        list(stream.payloads())
    with smr.stream("ep", b"x") as stream:
        assert stream.read() == b"fine"


def test_unset_headers_are_absent(client: SageMakerRuntimeClient, stubber: Stubber) -> None:
    """``None`` leaves a header out, as when the service does not send it."""
    stub_stream_response(stubber, [], content_type=None, invoked_production_variant=None)
    response = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    assert "ContentType" not in response
    assert "InvokedProductionVariant" not in response
    assert "CustomAttributes" not in response
    assert list(response["Body"]) == []
    response["Body"].close()


def test_expected_params_are_still_checked(
    client: SageMakerRuntimeClient, stubber: Stubber
) -> None:
    """The Stubber's own parameter check applies to the stream response too."""
    stub_stream_response(stubber, [b"x"], expected_params={"EndpointName": "other", "Body": b"x"})
    with pytest.raises(bce.StubAssertionError):
        client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")
    client.invoke_endpoint_with_response_stream(EndpointName="other", Body=b"x")["Body"].close()


def test_botocore_event_stream_alone() -> None:
    """The bare EventStream: real frames decoded by botocore."""
    stream = botocore_event_stream([PayloadPart(b"a"), "b"])
    try:
        assert list(stream) == [{"PayloadPart": {"Bytes": b"a"}}, {"PayloadPart": {"Bytes": b"b"}}]
    finally:
        stream.close()


def test_bad_events_are_rejected(stubber: Stubber) -> None:
    with pytest.raises(TypeError, match="not int"):
        stub_stream_response(stubber, [1])  # type: ignore[list-item]

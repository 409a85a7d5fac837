"""AWS's own Python client against the local bidirectional listener (issue 21, item 7).

``aws-sdk-sagemaker-runtime-http2`` (AWS's generated client, on its CRT transport
``smithy_http.aio.crt.AWSCRTHTTPClient``) is a client nobody here wrote: its request and
event signatures verify, its UTF8 and BINARY parts echo one by one (full duplex), its input
ends with the signed empty frame, and the listener's errors reach it as its own exception
classes. It needs Python 3.12+ and ``pip install 'aws-sdk-sagemaker-runtime-http2[awscrt]'``;
elsewhere the module skips. CI runs it in the Python 3.12 stage of ``.ci/run``.

Trusting the listener's CA: the CRT transport builds its TLS context from
``TlsContextOptions()`` with no hook (smithy-http 0.6.0 ``aio/crt.py``: "TODO: Support TLS
configuration"), but that default trust store honours ``SSL_CERT_FILE`` when the transport
is constructed (it *replaces* the system store for that context). The tests set it, so the
client and its transport run unmodified.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

if sys.version_info < (3, 12):
    pytest.skip(
        "AWS's client (aws-sdk-sagemaker-runtime-http2) needs Python 3.12+",
        allow_module_level=True,
    )
pytest.importorskip(
    "aws_sdk_sagemaker_runtime_http2",
    reason="AWS's client is not installed: pip install 'aws-sdk-sagemaker-runtime-http2[awscrt]'",
)
pytest.importorskip("awscrt", reason="AWS's CRT transport needs awscrt (its [awscrt] extra)")
pytest.importorskip("h2")
pytest.importorskip("trustme")

from aws_sdk_sagemaker_runtime_http2 import models as aws
from aws_sdk_sagemaker_runtime_http2.client import AsyncSageMakerRuntimeHTTP2Client
from aws_sdk_sagemaker_runtime_http2.config import AsyncSageMakerRuntimeHTTP2Config
from smithy_aws_core.identity import AWSCredentialsIdentity
from smithy_aws_core.identity.static import StaticCredentialsResolver
from smithy_core.exceptions import CallError
from smithy_http.aio.crt import AWSCRTHTTPClient

from typed_sagemaker_runtime._core._bidi_events import BidiEvent, BidiPayloadPart
from typed_sagemaker_runtime._core._events import InternalStreamFailure, ModelStreamError
from typed_sagemaker_runtime.testing import ErrorResponse, LocalRuntime

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TIMEOUT = 10.0  # per awaited step: a half-duplex client would stall here, not hang the run

Handler = Callable[[Iterator[BidiPayloadPart]], Iterable[BidiEvent]]


def echo(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
    yield from parts


@dataclass
class Served:
    """What AWS's client needs of the local endpoint, and what the tests inspect."""

    url: str
    ca_bundle: str
    refusals: list[str]
    """Why each refused event was refused."""
    requests: Callable[[], list[Mapping[str, str]]]
    """Each request's headers, pseudo-headers included."""
    wait_for_ends: Callable[[int], list[bool]]
    """For each of N requests that ended their input: whether the signed end frame came first."""


@contextlib.contextmanager
def serve(handler: Handler = echo, *, error: tuple[str, int] | None = None) -> Iterator[Served]:
    """The local endpoint (``LocalRuntime``), answering every stream on ``ep`` with ``handler``.

    ``error=(code, status)`` answers every stream with that HTTP error instead (an
    ``ErrorResponse`` fault).
    """
    faults = [ErrorResponse(error[0], status=error[1])] if error is not None else []
    with LocalRuntime() as local:
        local.add_endpoint("ep", bidi=handler, faults=faults)
        listener = local._bidi  # pyright: ignore[reportPrivateUsage]  # its test hooks
        assert listener is not None
        listener.credentials[KEY] = SECRET
        yield Served(
            local.bidi_endpoint_url,
            local.ca_bundle,
            listener.refusals,
            lambda: [request.headers for request in local.requests],
            listener.wait_for_ends,
        )


@contextlib.asynccontextmanager
async def aws_client(
    served: Served, monkeypatch: pytest.MonkeyPatch, *, secret: str = SECRET
) -> AsyncIterator[AsyncSageMakerRuntimeHTTP2Client]:
    """AWS's client on its CRT transport, as its users configure it, trusting the local CA."""
    monkeypatch.setenv("SSL_CERT_FILE", served.ca_bundle)  # read by the transport's TLS context
    transport = AWSCRTHTTPClient()
    identity = AWSCredentialsIdentity(access_key_id=KEY, secret_access_key=secret)
    config = await AsyncSageMakerRuntimeHTTP2Config.resolve(
        endpoint_uri=served.url,
        region="us-east-1",
        transport=transport,
        aws_credentials_identity_resolver=StaticCredentialsResolver(identity),
    )
    try:
        yield AsyncSageMakerRuntimeHTTP2Client(config=config)
    finally:
        await transport.close()


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    """``asyncio.run(main())``; the loop may report nothing but one known failure of AWS's.

    After an answer that ends the response first (403, an error event), awscrt's hidden
    body-writer task fails writing the end of the request (AWS_ERROR_HTTP_STREAM_HAS_COMPLETED)
    and nobody retrieves it; that is AWS's transport's business. Anything else fails the test.
    """
    reported: list[dict[str, Any]] = []

    async def wrapped() -> Any:
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: reported.append(context)
        )
        return await main()

    result = asyncio.run(wrapped())
    for context in reported:
        assert "AWS_ERROR_HTTP_STREAM_HAS_COMPLETED" in repr(context.get("exception")), context
    return result


def utf8(text: str, state: str | None = None) -> aws.RequestStreamEventPayloadPart:
    part = aws.RequestPayloadPart(bytes_=text.encode(), data_type="UTF8", completion_state=state)
    return aws.RequestStreamEventPayloadPart(value=part)


def binary(data: bytes, data_type: str | None = "BINARY") -> aws.RequestStreamEventPayloadPart:
    return aws.RequestStreamEventPayloadPart(
        value=aws.RequestPayloadPart(bytes_=data, data_type=data_type)
    )


async def receive(output: Any) -> aws.ResponsePayloadPart:
    event = await asyncio.wait_for(output.receive(), TIMEOUT)
    assert isinstance(event, aws.ResponseStreamEventPayloadPart), event
    return event.value


def test_its_signatures_verify_and_each_utf8_part_echoes_before_the_next_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [("hello", None), ("wor", "PARTIAL"), ("ld", "COMPLETE"), ("ünïcode ✓", None)]

    async def main() -> tuple[list[aws.ResponsePayloadPart], object, str | None]:
        async with aws_client(served, monkeypatch) as client:
            stream = await client.invoke_endpoint_with_bidirectional_stream(
                aws.InvokeEndpointWithBidirectionalStreamInput(
                    endpoint_name="ep",
                    model_invocation_path="v1/listen",
                    model_query_string="model=nova-3&language=en",
                    target_variant="variant-1",
                )
            )
            received: list[aws.ResponsePayloadPart] = []
            await stream.input_stream.send(utf8(*texts[0]))
            output, events = await asyncio.wait_for(stream.await_output(), TIMEOUT)
            received.append(await receive(events))
            for text, state in texts[1:]:  # each echo is read before the next part is sent
                await stream.input_stream.send(utf8(text, state))
                received.append(await receive(events))
            await stream.input_stream.close()  # the signed empty frame, then END_STREAM
            end = await asyncio.wait_for(events.receive(), TIMEOUT)
            await events.close()
            return received, end, output.invoked_production_variant

    with serve() as served:
        received, end, variant = run(main)
        assert served.wait_for_ends(1) == [True]  # the end frame came, signed, before END_STREAM
        assert served.refusals == []
        (request,) = served.requests()

    assert [(p.bytes_, p.data_type, p.completion_state) for p in received] == [
        (text.encode(), "UTF8", state) for text, state in texts
    ]
    assert end is None
    assert variant == "variant-1"  # the variant it asked for, as SageMaker answers
    signed = request["authorization"].partition("SignedHeaders=")[2].partition(",")[0]
    assert {
        "host",
        "x-amz-content-sha256",
        "x-amzn-sagemaker-model-invocation-path",
        "x-amzn-sagemaker-model-query-string",
        "x-amzn-sagemaker-target-variant",
    } <= set(signed.split(";"))
    assert "/sagemaker/aws4_request" in request["authorization"]
    assert request["x-amz-content-sha256"] == "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    # AWS's client sends an empty query: ':path' ends in '?' (the listener must accept it)
    assert request[":path"].partition("?")[0] == "/endpoints/ep/invocations-bidirectional-stream"


def test_binary_parts_echo_whole_one_by_one_even_beyond_a_flow_control_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payloads = [bytes(range(256)), b"\x00" * 32 * 1024, bytes(300 * 1024), b"\xff"]

    async def main() -> list[aws.ResponsePayloadPart]:
        async with aws_client(served, monkeypatch) as client:
            stream = await client.invoke_endpoint_with_bidirectional_stream(
                aws.InvokeEndpointWithBidirectionalStreamInput(endpoint_name="ep")
            )
            received: list[aws.ResponsePayloadPart] = []
            events = None
            for index, data in enumerate(payloads):
                # the service reads a part without DataType as BINARY: AWS's client may omit it
                await stream.input_stream.send(binary(data, None if index == 3 else "BINARY"))
                if events is None:
                    _, events = await asyncio.wait_for(stream.await_output(), TIMEOUT)
                received.append(await receive(events))
            await stream.input_stream.close()
            assert events is not None
            assert await asyncio.wait_for(events.receive(), TIMEOUT) is None
            await events.close()
            return received

    with serve() as served:
        received = run(main)
        assert served.wait_for_ends(1) == [True]
        assert served.refusals == []

    assert [p.bytes_ for p in received] == payloads
    assert [p.data_type for p in received] == ["BINARY", "BINARY", "BINARY", None]


def test_the_model_may_speak_before_aws_client_sends_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def greeter(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"ready", "UTF8", None)
        yield from parts

    async def main() -> bytes | None:
        async with aws_client(served, monkeypatch) as client:
            stream = await client.invoke_endpoint_with_bidirectional_stream(
                aws.InvokeEndpointWithBidirectionalStreamInput(endpoint_name="ep")
            )
            _, events = await asyncio.wait_for(stream.await_output(), TIMEOUT)
            greeting = (await receive(events)).bytes_
            await stream.input_stream.close()
            assert await asyncio.wait_for(events.receive(), TIMEOUT) is None
            await events.close()
            return greeting

    with serve(greeter) as served:
        assert run(main) == b"ready"
        assert served.wait_for_ends(1) == [True]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            ModelStreamError("the model gave up", "ModelInvocationTimeExceeded"),
            aws.ModelStreamError,
        ),
        (InternalStreamFailure("the service failed"), aws.InternalStreamFailure),
    ],
)
def test_an_error_event_arrives_as_its_own_exception_after_the_parts_before_it(
    monkeypatch: pytest.MonkeyPatch, event: BidiEvent, expected: type[Exception]
) -> None:
    def failing(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield next(parts)
        yield event

    async def main() -> tuple[bytes | None, Exception]:
        async with aws_client(served, monkeypatch) as client:
            stream = await client.invoke_endpoint_with_bidirectional_stream(
                aws.InvokeEndpointWithBidirectionalStreamInput(endpoint_name="ep")
            )
            await stream.input_stream.send(utf8("first"))
            _, events = await asyncio.wait_for(stream.await_output(), TIMEOUT)
            first = (await receive(events)).bytes_
            with pytest.raises(expected) as raised:
                await asyncio.wait_for(events.receive(), TIMEOUT)
            await events.close()
            return first, raised.value

    with serve(failing) as served:
        first, error = run(main)
        assert served.refusals == []

    assert first == b"first"
    assert isinstance(error, expected)
    assert error.message == event.message  # type: ignore[attr-defined]
    if isinstance(event, ModelStreamError):
        assert isinstance(error, aws.ModelStreamError)
        assert error.error_code == "ModelInvocationTimeExceeded"


def test_a_wrong_secret_key_is_refused_with_403_invalid_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> CallError:
        async with aws_client(served, monkeypatch, secret="not-the-secret") as client:
            stream = await client.invoke_endpoint_with_bidirectional_stream(
                aws.InvokeEndpointWithBidirectionalStreamInput(endpoint_name="ep")
            )
            await stream.input_stream.send(utf8("hello"))
            with pytest.raises(CallError) as raised:
                await asyncio.wait_for(stream.await_output(), TIMEOUT)
            return raised.value

    with serve() as served:
        error = run(main)

    # 403 is not in the HTTP2 service's model: AWS's client raises its generic CallError
    assert type(error) is CallError
    assert error.response_metadata is not None
    assert error.response_metadata.http_status_code == 403
    assert error.response_metadata.request_id
    assert "InvalidSignatureException" in error.message


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ModelError", 424, aws.ModelError),
        ("InputValidationError", 400, aws.InputValidationError),
        ("InternalServerError", 500, aws.InternalServerError),
        ("ServiceUnavailableError", 503, aws.ServiceUnavailableError),
        ("ThrottlingException", 429, CallError),  # not modelled; hung before awscrt 0.32
    ],
)
def test_an_http_error_arrives_as_its_modelled_exception(
    monkeypatch: pytest.MonkeyPatch, code: str, status: int, expected: type[Exception]
) -> None:
    async def main() -> Exception:
        async with aws_client(served, monkeypatch) as client:
            stream = await client.invoke_endpoint_with_bidirectional_stream(
                aws.InvokeEndpointWithBidirectionalStreamInput(endpoint_name="ep")
            )
            await stream.input_stream.send(utf8("hello"))  # the answer comes while input is open
            with pytest.raises(expected) as raised:
                await asyncio.wait_for(stream.await_output(), TIMEOUT)
            return raised.value

    with serve(error=(code, status)) as served:
        error = run(main)

    assert isinstance(error, CallError)
    assert error.response_metadata is not None
    assert error.response_metadata.http_status_code == status
    if isinstance(error, aws.ModelError):  # SageMaker's members of a 424, parsed
        assert error.original_status_code is not None
    if status == 429:
        assert error.is_throttling_error

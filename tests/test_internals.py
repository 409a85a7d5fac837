"""The private behaviour of botocore, aiobotocore, urllib3 and aiohttp the library relies on.

Each reliance sits behind one small function; each test here drives the real library
over HTTP and fails with a message naming that function when a release changes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import botocore
import pytest
import urllib3
from botocore import exceptions as bce
from botocore.config import Config

from typed_sagemaker_runtime._aio._errors import _reset_in
from typed_sagemaker_runtime._base._config import error_sub_code
from typed_sagemaker_runtime._core._errors import protocol_error_causes
from typed_sagemaker_runtime.testing import (
    ConnectionReset,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    TruncatedFrame,
)

NO_RETRIES = Config(retries={"total_max_attempts": 1})
SUB_CODE = "INFERENCE_COMPONENT_NAME_MISSING"


def _changed(library: str, version: str, what: str, function: str) -> str:
    return (
        f"{library} {version} changed {what}: update typed_sagemaker_runtime.{function}, "
        "or the library silently loses what it reads there"
    )


def _two_parts(request: InvocationRequest) -> Iterator[bytes]:
    yield b"p1"
    yield b"p2"


@pytest.fixture(name="failing")
def _failing(local: LocalRuntime) -> LocalRuntime:
    local.add_endpoint(
        "ep", faults=[ErrorResponse("ValidationError", fields={"ErrorCode": SUB_CODE})]
    )
    return local


# --- the ErrorCode sub-code: _base._config.keep_error_code / keep_error_code_aio ---------


def _check_after_call(seen: dict[str, Any], response: object, body: object) -> None:
    message = _changed(
        "botocore",
        botocore.__version__,
        "the after-call event (kwargs http_response and parsed)",
        "_base._config.keep_error_code",
    )
    assert {"http_response", "parsed"} <= seen.keys(), message
    assert seen["parsed"] is response, message
    assert seen["http_response"].status_code == 400, message
    assert seen["http_response"].raw is not None, message
    assert isinstance(body, bytes), message
    assert f'"ErrorCode": "{SUB_CODE}"'.encode() in body.replace(b'":"', b'": "'), message


def test_botocore_after_call_sees_the_error_body_and_the_parsed_response(
    failing: LocalRuntime,
) -> None:
    """The hook reads the error body botocore already read, and writes to ``parsed``."""
    seen: dict[str, Any] = {}
    client = failing.boto3_client(NO_RETRIES)
    client.meta.events.register(
        "after-call.sagemaker-runtime.InvokeEndpoint", lambda **kwargs: seen.update(kwargs)
    )
    with pytest.raises(bce.ClientError) as caught:
        client.invoke_endpoint(EndpointName="ep", Body=b"{}")
    client.close()
    _check_after_call(seen, caught.value.response, seen.get("http_response", {}).content)


def test_aiobotocore_after_call_sees_the_error_body_and_the_parsed_response(
    failing: LocalRuntime,
) -> None:
    """aiobotocore's twin: an async handler, and ``content`` is awaited."""
    pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
    from typed_sagemaker_runtime.testing._boto import dummy_aio_session

    seen: dict[str, Any] = {}

    async def spy(**kwargs: Any) -> None:
        seen.update(kwargs)
        seen["body"] = await kwargs["http_response"].content

    async def main() -> object:
        session = dummy_aio_session("us-east-1")
        async with session.create_client(
            "sagemaker-runtime", endpoint_url=failing.endpoint_url, config=NO_RETRIES
        ) as client:
            client.meta.events.register("after-call.sagemaker-runtime.InvokeEndpoint", spy)
            with pytest.raises(bce.ClientError) as caught:
                await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
            return caught.value.response

    response = asyncio.run(main())
    _check_after_call(seen, response, seen.get("body"))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"ErrorCode": "X", "Message": "m"}', "X"),
        (b'{"ErrorCode": 5}', None),
        (b'["ErrorCode"]', None),
        (b"<html>ErrorCode</html>", None),
        (b"", None),
        (None, None),
    ],
)
def test_error_sub_code_reads_only_a_string_member(body: object, code: str | None) -> None:
    """Whatever the body (a proxy's page, another JSON shape), the hook never raises."""
    assert error_sub_code(body) == code


# --- urllib3's ProtocolError: _core._errors.protocol_error_causes --------------------------


def _stream_failure(local: LocalRuntime) -> urllib3.exceptions.ProtocolError:
    client = local.boto3_client(NO_RETRIES)
    body = client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"x")["Body"]
    try:
        with pytest.raises(urllib3.exceptions.ProtocolError) as caught:
            for _ in body:
                pass
    finally:
        body.close()
        client.close()
    return caught.value


def test_urllib3_protocol_error_carries_the_reset(local: LocalRuntime) -> None:
    """A reset mid-body: the ``OSError`` is among the causes (a ``TransportError``)."""
    local.add_endpoint("ep", _two_parts, faults=[ConnectionReset(after_parts=1)])
    exc = _stream_failure(local)
    causes = protocol_error_causes(exc)
    assert any(isinstance(cause, ConnectionResetError) for cause in causes), _changed(
        "urllib3",
        urllib3.__version__,
        f"where ProtocolError keeps the reset ({exc.args!r})",
        "_core._errors.protocol_error_causes",
    )


def test_urllib3_protocol_error_of_a_cut_body_carries_no_socket_error(
    local: LocalRuntime,
) -> None:
    """A body that just ends: no ``OSError`` among the causes (a ``StreamDecodeError``)."""
    local.add_endpoint("ep", _two_parts, faults=[TruncatedFrame(1, clean_end=False)])
    exc = _stream_failure(local)
    causes = protocol_error_causes(exc)
    assert not any(isinstance(cause, OSError) for cause in causes), _changed(
        "urllib3",
        urllib3.__version__,
        f"what ProtocolError reports for a body cut short ({exc.args!r})",
        "_core._errors.protocol_error_causes",
    )


# --- aiohttp's ClientPayloadError: _aio._errors._reset_in ----------------------------------


@pytest.mark.parametrize(
    ("fault", "reset"),
    [(ConnectionReset(after_parts=1), True), (TruncatedFrame(1, clean_end=False), False)],
)
def test_aiohttp_payload_error_tells_a_reset_from_a_cut(
    local: LocalRuntime, fault: object, reset: bool
) -> None:
    """aiohttp names a reset only in the message of its ``ClientPayloadError``."""
    aiohttp = pytest.importorskip("aiohttp", reason="the 'aio' extra is not installed")
    pytest.importorskip("aiobotocore", reason="the 'aio' extra is not installed")
    from typed_sagemaker_runtime.testing._boto import dummy_aio_session

    local.add_endpoint("ep", _two_parts, faults=[fault])  # type: ignore[list-item]

    async def main() -> BaseException:
        session = dummy_aio_session("us-east-1")
        async with session.create_client(
            "sagemaker-runtime", endpoint_url=local.endpoint_url, config=NO_RETRIES
        ) as client:
            response = await client.invoke_endpoint_with_response_stream(
                EndpointName="ep", Body=b"x"
            )
            with pytest.raises(aiohttp.ClientPayloadError) as caught:
                async for _ in response["Body"]:
                    pass
            response["Body"]._raw_stream.close()
            return caught.value

    exc = asyncio.run(main())
    assert _reset_in(exc) is reset, _changed(
        "aiohttp",
        aiohttp.__version__,
        f"how ClientPayloadError reports a reset ({exc!r})",
        "_aio._errors._reset_in",
    )

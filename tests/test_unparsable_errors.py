"""An error body botocore's parser cannot read is a ``ServiceError``, not its crash.

A JSON error body that is not UTF-8 (a proxy's Latin-1 page), a plain body with invalid
UTF-8, one nested 100,000 levels deep: botocore's parser raises ``UnicodeDecodeError`` or
``RecursionError`` outside its own error handling. A real HTTP server on loopback sends
them to the unmodified boto3 and aiobotocore stacks; ``invoke``, ``stream`` and ``chat``
raise a ``ServiceError`` with the status, the request id, one short line of the body, and
botocore's exception as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import botocore.parsers
import botocore.session
import pytest

import typed_sagemaker_runtime as smr
from _twins import Clients
from typed_sagemaker_runtime._core._errors import map_exception

DEEP = b"[" * 100_000 + b"]" * 100_000
JSON = "application/json"

# endpoint name -> (status, content type, body)
BODIES: dict[str, tuple[int, str, bytes]] = {
    "latin1-json": (400, JSON, b'{"message": "caf\xe9"}'),
    "latin1-plain": (502, "text/plain", b"Bad gateway: caf\xe9 \xff\xfe upstream"),
    "deep-json": (400, JSON, DEEP),
    "deep-json-500": (500, JSON, DEEP),
    "latin1-503": (503, "text/html", b"<!DOCTYPE html><title>Wartung \xfcber Nacht</title>"),
    "only-invalid": (400, JSON, b"\xff\xfe\xfd" * 1000),
    "huge-latin1": (400, JSON, b'{"message": "caf\xe9 ' + b"\xe9" * 5_000_000 + b'"}'),
    "empty-400": (400, JSON, b""),
    "latin1-202": (202, JSON, b'{"OutputLocation": "s3://bucket/caf\xe9"}'),
}
REQUEST_ID = "unparsable-request-id"


class _Handler(BaseHTTPRequestHandler):
    """Answers each POST with the body named by the endpoint in the path."""

    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # httpx may send the absolute form (http://host:port/endpoints/NAME/invocations).
        status, content_type, body = BODIES[urlsplit(self.path).path.split("/")[2]]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", REQUEST_ID)
        self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


# botocore emits ``before-parse`` from 1.35.16: before, the status and body of a response
# its parser failed on are unknown (test_without_the_before_parse_hook_... covers that).
needs_before_parse = pytest.mark.skipif(
    tuple(int(part) for part in botocore.__version__.split(".")[:3]) < (1, 35, 16),
    reason="botocore before 1.35.16 has no before-parse event: the status is unknown",
)


@pytest.fixture(name="server")
def _server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


CALLS: dict[str, Callable[[object, str], object]] = {
    "invoke": lambda client, name: client.invoke(name, json={"inputs": "hi"}),  # type: ignore[attr-defined]
    "stream": lambda client, name: client.stream(name, json={"inputs": "hi"}),  # type: ignore[attr-defined]
    "chat": lambda client, name: client.chat(name, [{"role": "user", "content": "hi"}]),  # type: ignore[attr-defined]
}


def _error(clients: Clients, url: str, call: str, endpoint: str) -> smr.ServiceError:
    client = clients.build(
        region_name="us-east-1", endpoint_url=url, retry=smr.RetryPolicy.disabled()
    )
    with pytest.raises(smr.ServiceError) as caught:
        CALLS[call](client, endpoint)
    return caught.value


@needs_before_parse
@pytest.mark.parametrize("call", sorted(CALLS))
def test_non_utf8_json_400_is_a_service_error(server: str, clients: Clients, call: str) -> None:
    error = _error(clients, server, call, "latin1-json")
    assert type(error) is smr.ServiceError
    assert error.http_status == 400
    assert error.code == "400"
    assert error.request_id == REQUEST_ID
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert "HTTP 400 Bad Request response" in error.message
    assert "not UTF-8" in error.message
    assert 'caf\ufffd"}' in error.message  # the body, decoded with replacement characters
    assert "\n" not in str(error)


@needs_before_parse
@pytest.mark.parametrize("call", sorted(CALLS))
def test_invalid_utf8_plain_502_is_a_service_error(
    server: str, clients: Clients, call: str
) -> None:
    error = _error(clients, server, call, "latin1-plain")
    assert error.http_status == 502
    assert error.request_id == REQUEST_ID
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert "Bad gateway: caf\ufffd" in error.message


@needs_before_parse
@pytest.mark.parametrize("call", sorted(CALLS))
def test_json_nested_100000_levels_is_a_service_error(
    server: str, clients: Clients, call: str
) -> None:
    error = _error(clients, server, call, "deep-json")
    assert error.http_status == 400
    assert isinstance(error.__cause__, RecursionError)
    assert "nested too deeply" in error.message
    assert len(error.message) < 300


@needs_before_parse
@pytest.mark.parametrize("call", ["invoke", "stream"])
def test_a_500_keeps_its_subclass_and_is_retryable(
    server: str, clients: Clients, call: str
) -> None:
    error = _error(clients, server, call, "deep-json-500")
    assert type(error) is smr.InternalFailureError
    assert error.retryable


@needs_before_parse
def test_a_503_keeps_its_subclass_and_retry_after(server: str, clients: Clients) -> None:
    error = _error(clients, server, "invoke", "latin1-503")
    assert type(error) is smr.ServiceUnavailableError
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert "Wartung \ufffdber Nacht" in error.message  # the page's title
    assert error.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"
    policy = smr.RetryPolicy(max_backoff=60)
    assert policy.backoff(error, 1) >= 7  # the server's Retry-After is honoured


@needs_before_parse
@pytest.mark.parametrize("endpoint", ["only-invalid", "huge-latin1"])
def test_the_excerpt_stays_one_short_line(server: str, clients: Clients, endpoint: str) -> None:
    error = _error(clients, server, "invoke", endpoint)
    assert error.http_status == 400
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert len(str(error)) < 300
    assert "\n" not in str(error)


def test_an_empty_400_stays_botocore_s_client_error(server: str, clients: Clients) -> None:
    # botocore parses an empty body fine: the ClientError mapping, as before.
    error = _error(clients, server, "invoke", "empty-400")
    assert error.http_status == 400
    assert error.request_id == REQUEST_ID
    assert type(error.__cause__).__name__ == "ClientError"


@needs_before_parse
def test_a_parsed_error_response_does_not_leak_into_the_next_call(
    server: str, clients: Clients
) -> None:
    first = _error(clients, server, "invoke", "latin1-plain")
    second = _error(clients, server, "invoke", "deep-json")
    assert (first.http_status, second.http_status) == (502, 400)
    assert "Bad gateway" not in second.message


def _parse_error(body: bytes) -> BaseException:
    """The exception botocore's own rest-json parser raises on a 400 with ``body``."""
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    shape = model.operation_model("InvokeEndpoint").output_shape
    assert shape is not None
    parser = botocore.parsers.create_parser("rest-json")
    response: dict[str, Any] = {"status_code": 400, "headers": {}, "body": body}
    try:
        parser.parse(response, shape)
    except (ValueError, RecursionError) as exc:
        return exc
    raise AssertionError("botocore parsed the body")


def test_without_the_before_parse_hook_it_is_still_a_service_error() -> None:
    """botocore < 1.35.16 emits no ``before-parse``: no status, but still our exception."""
    exc = _parse_error(b'{"message": "caf\xe9"}')
    # A fresh context: what the hook would have kept is absent.
    error = contextvars.Context().run(map_exception, exc, operation="InvokeEndpoint")
    assert type(error) is smr.ServiceError
    assert error.http_status is None
    assert "could not parse (not UTF-8)" in error.message


def test_a_decode_error_outside_botocore_s_parser_is_not_a_service_error() -> None:
    with pytest.raises(UnicodeDecodeError) as caught:
        b"caf\xe9".decode("utf-8")
    assert map_exception(caught.value, operation="InvokeEndpoint") is None


@pytest.mark.parametrize("method", ["invoke", "stream"])
@pytest.mark.parametrize("endpoint", ["latin1-json", "deep-json"])
def test_aiobotocore_s_httpx_backend_too(server: str, method: str, endpoint: str) -> None:
    from test_aio_httpx import _config  # pyright: ignore[reportPrivateUsage]

    config = _config()

    async def main() -> smr.ServiceError:
        client = smr.AsyncSageMakerRuntime(
            region_name="us-east-1",
            endpoint_url=server,
            config=config,
            retry=smr.RetryPolicy.disabled(),
        )
        async with client:
            with pytest.raises(smr.ServiceError) as caught:
                await getattr(client, method)(endpoint, json={"inputs": "hi"})
        return caught.value

    error = asyncio.run(main())
    assert error.http_status == 400
    assert error.request_id == REQUEST_ID
    assert isinstance(error.__cause__, (UnicodeDecodeError, RecursionError))


@needs_before_parse
def test_a_2xx_answer_botocore_cannot_parse_keeps_its_status_and_request_id(
    server: str, clients: Clients
) -> None:
    """An InvokeEndpointAsync answer that is not UTF-8: the status and request id are known."""
    client = clients.build(
        region_name="us-east-1", endpoint_url=server, retry=smr.RetryPolicy.disabled()
    )
    with pytest.raises(smr.ServiceError) as caught:
        client.invoke_async("latin1-202", input_location="s3://bucket/input.json")
    error = caught.value
    assert error.http_status == 202
    assert error.request_id == REQUEST_ID
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert "HTTP 202 Accepted response" in error.message
    assert "caf" not in error.message, "a successful answer's body is not quoted"

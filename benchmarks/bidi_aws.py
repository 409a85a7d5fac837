"""AWS's client's side of ``bidi.py``: run by it with a Python 3.12+ that has the package.

    python bidi_aws.py URL CA_FILE PARTS WARMUP MIB

``aws-sdk-sagemaker-runtime-http2`` on its CRT transport (``AWSCRTHTTPClient``, as its
users configure it), trusting the listener's CA through ``SSL_CERT_FILE`` (the transport
has no TLS option; its default trust store reads that variable). Prints one JSON object:
the per-part round trips of small UTF8 parts (seconds), and the seconds to send and to
receive MIB MiB in 32 KiB BINARY parts.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from importlib.metadata import version
from typing import Any

KEY = SECRET = "bench"
PART = 32 * 1024


async def main(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> dict[str, Any]:
    os.environ["SSL_CERT_FILE"] = ca_file  # before the transport builds its TLS context
    from aws_sdk_sagemaker_runtime_http2 import models as aws
    from aws_sdk_sagemaker_runtime_http2.client import AsyncSageMakerRuntimeHTTP2Client
    from aws_sdk_sagemaker_runtime_http2.config import AsyncSageMakerRuntimeHTTP2Config
    from smithy_aws_core.identity import AWSCredentialsIdentity
    from smithy_aws_core.identity.static import StaticCredentialsResolver
    from smithy_http.aio.crt import AWSCRTHTTPClient

    transport = AWSCRTHTTPClient()
    config = await AsyncSageMakerRuntimeHTTP2Config.resolve(
        endpoint_uri=url,
        region="us-east-1",
        transport=transport,
        aws_credentials_identity_resolver=StaticCredentialsResolver(
            AWSCredentialsIdentity(access_key_id=KEY, secret_access_key=SECRET)
        ),
    )
    client = AsyncSageMakerRuntimeHTTP2Client(config=config)

    def part(data: bytes, data_type: str) -> Any:
        return aws.RequestStreamEventPayloadPart(
            value=aws.RequestPayloadPart(bytes_=data, data_type=data_type)
        )

    async def opened(command: str) -> tuple[Any, Any]:
        stream = await client.invoke_endpoint_with_bidirectional_stream(
            aws.InvokeEndpointWithBidirectionalStreamInput(endpoint_name="bench")
        )
        await stream.input_stream.send(part(command.encode(), "UTF8"))
        _, events = await stream.await_output()
        assert (await events.receive()).value.bytes_ == command.encode()  # the stream is open
        return stream, events

    async def finish(stream: Any, events: Any) -> None:
        await stream.input_stream.close()
        while await events.receive() is not None:
            pass
        await events.close()

    # Round trips: send one small UTF8 part, wait for its echo.
    stream, events = await opened("echo")
    trips: list[float] = []
    for index in range(warmup + parts):
        data = f"part {index:08d}".encode()
        start = time.perf_counter()
        await stream.input_stream.send(part(data, "UTF8"))
        event = await events.receive()
        trips.append(time.perf_counter() - start)
        assert event.value.bytes_ == data
    await finish(stream, events)

    # Upload: MIB MiB of 32 KiB parts; the sink answers with the byte count at the end.
    count = mib * 1024 * 1024 // PART
    payload = bytes(PART)
    stream, events = await opened("sink")
    start = time.perf_counter()
    for _ in range(count):
        await stream.input_stream.send(part(payload, "BINARY"))
    await stream.input_stream.close()
    answer = await events.receive()
    up = time.perf_counter() - start
    assert int(answer.value.bytes_) == count * PART
    assert await events.receive() is None
    await events.close()

    # Download: MIB MiB of 32 KiB parts from the source.
    stream, events = await opened(f"source {count} {PART}")
    start = time.perf_counter()
    await stream.input_stream.send(part(b"go", "UTF8"))
    received = 0
    while received < count * PART:
        received += len((await events.receive()).value.bytes_)
    down = time.perf_counter() - start
    await finish(stream, events)
    await transport.close()
    return {
        "trips": trips[warmup:],
        "up": up,
        "down": down,
        "versions": {
            name: version(name)
            for name in ("aws-sdk-sagemaker-runtime-http2", "smithy-http", "awscrt")
        },
        "python": sys.version.split()[0],
    }


def run(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> dict[str, Any]:
    loop_errors: list[str] = []

    async def wrapped() -> dict[str, Any]:
        # awscrt's body-writer task may fail writing after the response ended: not ours to fix
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: loop_errors.append(repr(context.get("exception")))
        )
        return await main(url, ca_file, parts, warmup, mib)

    result = asyncio.run(wrapped())
    result["loop_errors"] = loop_errors
    return result


if __name__ == "__main__":
    url, ca_file, parts, warmup, mib = sys.argv[1:6]
    print(json.dumps(run(url, ca_file, int(parts), int(warmup), int(mib))))

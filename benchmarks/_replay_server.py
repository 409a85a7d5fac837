"""Replays the local endpoint's recorded stream responses from one asyncio loop, cheaply.

Run by ``bench_async_concurrency.py``, not by hand: it prints its URL, then serves until
stdin closes. ``LocalRuntime`` runs a thread per connection and builds every response in
Python; at a thousand concurrent streams that server, not the client under test, sets the
pace (both clients then read at its speed and the ratio says nothing about them). So this
server records, once, the exact bytes ``LocalRuntime`` sends for each stream (head and
HTTP chunks, taken off a raw socket), and replays them on keep-alive connections: it reads
a request, writes the recorded head, then one HTTP chunk per write. The request's signature
and headers are not checked: the clients under test are the same unmodified stacks the
local endpoint's tests cover.

Endpoints ``burst-N`` and ``paced-N`` stream N TGI token records (N in ``TOKEN_COUNTS``),
one event-stream frame per HTTP chunk. ``paced`` writes one chunk per connection per turn of
the loop (the clients read about one frame per socket read, in step with the server);
``burst`` writes a stream's chunks back to back, as fast as the socket takes them, so a
client that falls behind finds many frames waiting at each read, the server never sets
the pace, and the aggregate rate is the client's own capacity.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from _server import tgi_record

from typed_sagemaker_runtime import PayloadPart
from typed_sagemaker_runtime._core._eventstream import encode_event
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
    RawFrames,
)

TOKEN_COUNTS = (50, 250)

Recorded = tuple[bytes, list[bytes]]  # the response head; its HTTP chunks, framing included


def record(url: str, endpoint: str) -> Recorded:
    """What ``LocalRuntime`` sends for one stream request, byte for byte, split into chunks."""
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST /endpoints/{endpoint}/invocations-response-stream HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request)
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    assert b"transfer-encoding: chunked" in head.lower(), head
    chunks: list[bytes] = []
    at = 0
    while True:
        size_end = body.index(b"\r\n", at)
        size = int(body[at:size_end], 16)
        end = size_end + 2 + size + 2
        chunks.append(body[at:end])
        at = end
        if size == 0:
            break
    return b"\r\n".join(lines) + b"\r\n\r\n", chunks


def recordings() -> dict[str, Recorded]:
    frames = [
        RawFrames(encode_event(PayloadPart(tgi_record(i, f" tok{i % 97}"))))
        for i in range(1, max(TOKEN_COUNTS) + 1)
    ]

    def stream(request: InvocationRequest) -> EndpointResponse:
        count = int(request.endpoint_name.removeprefix("tokens-"))
        return EndpointResponse(iter(frames[:count]), content_type="text/event-stream")

    with LocalRuntime() as local:
        for count in TOKEN_COUNTS:
            local.add_endpoint(f"tokens-{count}", stream)
        return {str(count): record(local.endpoint_url, f"tokens-{count}") for count in TOKEN_COUNTS}


async def serve(responses: dict[str, Recorded]) -> None:
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                endpoint = head.split(b" ", 2)[1].split(b"/")[2].decode()
                kind, _, count = endpoint.rpartition("-")
                response_head, chunks = responses[count]
                writer.write(response_head)
                for chunk in chunks:
                    writer.write(chunk)
                    if kind == "paced":
                        await asyncio.sleep(0)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the server is stopping
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve(recordings()))

"""100 concurrent streams on one event loop against one stream, with AsyncSageMakerRuntime.

    python benchmarks/bench_async_concurrency.py

The local endpoint (in this process, one server thread per connection) streams 20
TGI-style tokens per request with a delay between tokens, like a model generating
text. If no stream blocks another, 100 concurrent streams take about as long as one;
a client that serialised them would take 100 times as long. A second run without the
delay shows the client's own overhead per stream. Needs the ``aio`` extra.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

from botocore.config import Config

from typed_sagemaker_runtime import AsyncSageMakerRuntime, RetryPolicy
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
    SlowTokens,
)

STREAMS = 100
TOKENS = 20
RUNS = 3


def tokens(_request: InvocationRequest) -> EndpointResponse:
    def parts() -> Iterator[bytes]:
        for i in range(TOKENS):
            yield b'data: {"token": {"id": %d, "text": " tok", "special": false}}\n\n' % i

    return EndpointResponse(parts(), content_type="text/event-stream")


async def one_stream(smr: AsyncSageMakerRuntime, endpoint: str) -> int:
    async with await smr.stream(endpoint, json={"inputs": "hi", "stream": True}) as stream:
        return len([token async for token in stream.tokens()])


async def timed(smr: AsyncSageMakerRuntime, endpoint: str, count: int) -> float:
    start = time.perf_counter()
    results = await asyncio.gather(*(one_stream(smr, endpoint) for _ in range(count)))
    elapsed = time.perf_counter() - start
    assert results == [TOKENS] * count, results
    return elapsed


async def measure(local: LocalRuntime, endpoint: str) -> tuple[float, float]:
    config = Config(max_pool_connections=STREAMS, read_timeout=60)
    async with local.async_client(config=config, retry=RetryPolicy.disabled()) as smr:
        await timed(smr, endpoint, STREAMS)  # warm-up: opens the connections
        single = statistics.median([await timed(smr, endpoint, 1) for _ in range(RUNS)])
        many = statistics.median([await timed(smr, endpoint, STREAMS) for _ in range(RUNS)])
    return single, many


def main() -> None:
    with LocalRuntime() as local:
        local.add_endpoint("slow", tokens, faults=[SlowTokens(0.05)])
        local.add_endpoint("fast", tokens)
        print(f"{STREAMS} concurrent streams vs 1 stream, {TOKENS} tokens each, median of {RUNS}")
        print(f"{'endpoint':<34} {'1 stream':>10} {f'{STREAMS} streams':>12} {'ratio':>7}")
        for endpoint, label in (
            ("slow", "50 ms between tokens (~1 s/stream)"),
            ("fast", "no delay (client overhead)"),
        ):
            single, many = asyncio.run(measure(local, endpoint))
            print(
                f"{label:<34} {single * 1000:>8.0f}ms {many * 1000:>10.0f}ms {many / single:>6.2f}x"
            )
        print(f"a client that serialised the streams: ~{STREAMS}x the single-stream time")


if __name__ == "__main__":
    main()

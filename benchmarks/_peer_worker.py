"""One column of the peer table, run in that peer's own interpreter (see ``peers.py``).

    python _peer_worker.py COLUMN URL [--quick]      # every workload; prints one JSON object
    python _peer_worker.py --rss COLUMN URL MIB      # a fresh process: peak RSS after a stream

Needs only the standard library, boto3 and the peer's own package, since it runs in the
peer's virtual environment. Every workload runs against raw boto3 in this same process,
rep by rep, taking turns at going first, so load from elsewhere lands on both sides.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from importlib import metadata
from typing import Any, ClassVar, TypeVar

MIB = 1024 * 1024
REGION = "us-east-1"
KEY = "bench"  # static dummy credentials: the endpoint is a LocalRuntime on loopback
EVENTS = {"tiny-packed": 100_000, "tiny-chunked": 20_000, "large": 1_000}  # as _server.py serves
LINES = 20_000  # _server.LINE_COUNT
CONCURRENT_EVENTS = 50  # parts in each stream of the "concurrent" endpoint
# Compiled bytecode is cached outside the tree, as it is for an installed package.
ENV = {
    **{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "typed-sagemaker-runtime-pycache"),
    "AWS_ACCESS_KEY_ID": KEY,
    "AWS_SECRET_ACCESS_KEY": KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
T = TypeVar("T")


def botocore_config(pool: int) -> Any:
    from botocore.config import Config

    return Config(read_timeout=120, retries={"total_max_attempts": 1}, max_pool_connections=pool)


# --- columns ---------------------------------------------------------------------------


NOT_ASYNC = "not an asyncio client"
NO_LINES = "no line iterator"


class Column:
    """A way of calling the endpoint; each method is one unit of work.

    ``lacks`` names the workloads the column has no API for, and why.
    """

    import_statement = "import boto3"
    distributions: tuple[str, ...] = ()
    lacks: ClassVar[dict[str, str]] = {"concurrent": NOT_ASYNC, "lines": NO_LINES}

    def invoke(self, body: bytes) -> None:
        raise NotImplementedError

    def first_event(self, endpoint: str) -> float:
        """Seconds from the call to the first event; the rest of the stream is drained."""
        raise NotImplementedError

    def events(self, endpoint: str, body: bytes = b"{}") -> int:
        raise NotImplementedError

    def lines(self, endpoint: str, body: bytes = b"{}") -> int:
        raise NotImplementedError

    def concurrent(self, endpoint: str, count: int) -> float:
        """Wall seconds of ``count`` streams read at once on one event loop."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class RawBoto3(Column):
    """boto3's client, as a user calls it: the baseline of every ratio."""

    def __init__(self, url: str, pool: int = 10) -> None:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION
        )
        self.client = session.client(
            "sagemaker-runtime", endpoint_url=url, config=botocore_config(pool)
        )

    def invoke(self, body: bytes) -> None:
        response = self.client.invoke_endpoint(
            EndpointName="echo", Body=body, ContentType="application/octet-stream"
        )
        assert len(response["Body"].read()) == len(body)

    def stream(self, endpoint: str, body: bytes = b"{}") -> Any:
        response = self.client.invoke_endpoint_with_response_stream(
            EndpointName=endpoint, Body=body
        )
        return response["Body"]

    def first_event(self, endpoint: str) -> float:
        start = time.perf_counter()
        return first_of(iter(self.stream(endpoint)), start)

    def events(self, endpoint: str, body: bytes = b"{}") -> int:
        return sum(1 for _ in self.stream(endpoint, body))


class LineIteratorColumn(RawBoto3):
    """A ``LineIterator`` class wrapped around raw boto3's event stream."""

    lacks: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("invoke", "first-event", "tiny-packed", "tiny-chunked", "large"), ""),
        "concurrent": NOT_ASYNC,
    }

    def __init__(self, url: str, iterator: Callable[[Any], Iterable[bytes]]) -> None:
        super().__init__(url)
        self.iterator = iterator

    def lines(self, endpoint: str, body: bytes = b"{}") -> int:
        return sum(1 for _ in self.iterator(self.stream(endpoint, body)))


def langchain_column(url: str) -> Column:
    from langchain_aws.llms.sagemaker_endpoint import LineIterator

    column = LineIteratorColumn(url, LineIterator)
    column.import_statement = (
        "import boto3\nfrom langchain_aws.llms.sagemaker_endpoint import LineIterator"
    )
    column.distributions = ("langchain-aws",)
    return column


def sagemaker_sdk_column(url: str) -> Column:
    from sagemaker.iterators import LineIterator

    column = LineIteratorColumn(url, LineIterator)
    column.import_statement = "import boto3\nfrom sagemaker.iterators import LineIterator"
    column.distributions = ("sagemaker",)
    return column


class CapoSync(Column):
    """capo-sagemaker-runtime's sync client: its own HTTP stack (zapros), no botocore."""

    import_statement = "from capo_sagemaker_runtime import SageMakerRuntimeClient"
    distributions = ("capo-sagemaker-runtime", "zapros")

    def __init__(self, url: str) -> None:
        from capo_sagemaker_runtime import SageMakerRuntimeClient

        self.client = SageMakerRuntimeClient(**capo_options(url))

    def invoke(self, body: bytes) -> None:
        output = self.client.invoke_endpoint(
            "echo", body=body, content_type="application/octet-stream"
        )
        assert len(output["body"]) == len(body)

    def first_event(self, endpoint: str) -> float:
        start = time.perf_counter()
        with self.client.invoke_endpoint_with_response_stream(endpoint, body=b"{}") as output:
            return first_of(iter(output["body"]), start)

    def events(self, endpoint: str, body: bytes = b"{}") -> int:
        with self.client.invoke_endpoint_with_response_stream(endpoint, body=body) as output:
            return sum(1 for _ in output["body"])


def capo_options(url: str) -> dict[str, Any]:
    """A custom endpoint URL, static credentials, one attempt: as the boto3 clients here."""
    return {
        "region": REGION,
        "endpoint": url,
        "credentials": {"access_key": KEY, "secret_key": KEY},
        "retry_max_attempts": 1,
    }


class AsyncColumn(Column):
    """An asyncio client, driven from this thread through its own event loop."""

    lacks: ClassVar[dict[str, str]] = {"lines": NO_LINES}

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    def close(self) -> None:
        self.run(self.aclose())
        self.loop.close()

    async def aclose(self) -> None:
        raise NotImplementedError

    def invoke(self, body: bytes) -> None:
        self.run(self.ainvoke(body))

    def first_event(self, endpoint: str) -> float:
        return self.run(self.afirst_event(endpoint))

    def events(self, endpoint: str, body: bytes = b"{}") -> int:
        return self.run(self.aevents(endpoint, body))

    def concurrent(self, endpoint: str, count: int) -> float:
        async def many() -> float:
            start = time.perf_counter()
            counts = await asyncio.gather(*(self.aevents(endpoint) for _ in range(count)))
            elapsed = time.perf_counter() - start
            assert counts == [CONCURRENT_EVENTS] * count, counts
            return elapsed

        return self.run(many())

    async def ainvoke(self, body: bytes) -> None:
        raise NotImplementedError

    async def afirst_event(self, endpoint: str) -> float:
        raise NotImplementedError

    async def aevents(self, endpoint: str, body: bytes = b"{}") -> int:
        raise NotImplementedError


class CapoAsync(AsyncColumn):
    """capo-sagemaker-runtime's asyncio client, with a pool sized for the concurrent row."""

    import_statement = "from capo_sagemaker_runtime import AsyncSageMakerRuntimeClient"
    distributions = ("capo-sagemaker-runtime", "zapros")

    def __init__(self, url: str, pool: int) -> None:
        super().__init__()
        from capo_sagemaker_runtime import AsyncSageMakerRuntimeClient
        from zapros import AsyncStdNetworkHandler

        handler = AsyncStdNetworkHandler(http1={"max_connections_per_host": pool})
        self.client = AsyncSageMakerRuntimeClient(http_handler=handler, **capo_options(url))

    async def aclose(self) -> None:
        await self.client.__aexit__(None, None, None)

    async def ainvoke(self, body: bytes) -> None:
        output = await self.client.invoke_endpoint(
            "echo", body=body, content_type="application/octet-stream"
        )
        assert len(output["body"]) == len(body)

    async def afirst_event(self, endpoint: str) -> float:
        start = time.perf_counter()
        async with self.client.invoke_endpoint_with_response_stream(endpoint, body=b"{}") as output:
            return await afirst_of(aiter(output["body"]), start)

    async def aevents(self, endpoint: str, body: bytes = b"{}") -> int:
        async with self.client.invoke_endpoint_with_response_stream(endpoint, body=body) as output:
            return await acount(output["body"])


class AioBotocore(AsyncColumn):
    """aiobotocore's client used directly: the baseline of the concurrent row."""

    import_statement = "import aiobotocore.session"
    distributions = ("aiobotocore", "aiohttp")

    def __init__(self, url: str, pool: int) -> None:
        super().__init__()
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        session = get_session()
        session.set_credentials(KEY, KEY)
        config = AioConfig(
            read_timeout=120, retries={"total_max_attempts": 1}, max_pool_connections=pool
        )
        creator = session.create_client(
            "sagemaker-runtime", region_name=REGION, endpoint_url=url, config=config
        )
        self.creator = creator
        self.client = self.run(creator.__aenter__())

    async def aclose(self) -> None:
        await self.creator.__aexit__(None, None, None)

    async def ainvoke(self, body: bytes) -> None:
        response = await self.client.invoke_endpoint(
            EndpointName="echo", Body=body, ContentType="application/octet-stream"
        )
        assert len(await response["Body"].read()) == len(body)

    async def afirst_event(self, endpoint: str) -> float:
        start = time.perf_counter()
        response = await self.client.invoke_endpoint_with_response_stream(
            EndpointName=endpoint, Body=b"{}"
        )
        return await afirst_of(aiter(response["Body"]), start)

    async def aevents(self, endpoint: str, body: bytes = b"{}") -> int:
        response = await self.client.invoke_endpoint_with_response_stream(
            EndpointName=endpoint, Body=body
        )
        return await acount(response["Body"])


class OursSync(Column):
    """typed-sagemaker-runtime's ``SageMakerRuntime``."""

    lacks: ClassVar[dict[str, str]] = {"concurrent": NOT_ASYNC}

    import_statement = "from typed_sagemaker_runtime import SageMakerRuntime"
    distributions = ("typed-sagemaker-runtime",)

    def __init__(self, url: str) -> None:
        import boto3

        from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime

        session = boto3.session.Session(
            aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION
        )
        self.smr = SageMakerRuntime(
            session=session,
            endpoint_url=url,
            config=botocore_config(10),
            retry=RetryPolicy.disabled(),
        )

    def invoke(self, body: bytes) -> None:
        result = self.smr.invoke("echo", body, content_type="application/octet-stream")
        assert len(result["body"]) == len(body)

    def first_event(self, endpoint: str) -> float:
        start = time.perf_counter()
        with self.smr.stream(endpoint, b"{}") as stream:
            return first_of(iter(stream), start)

    def events(self, endpoint: str, body: bytes = b"{}") -> int:
        with self.smr.stream(endpoint, body) as stream:
            return sum(1 for _ in stream)

    def lines(self, endpoint: str, body: bytes = b"{}") -> int:
        with self.smr.stream(endpoint, body) as stream:
            return sum(1 for _ in stream.lines())


class OursAsync(AsyncColumn):
    """typed-sagemaker-runtime's ``AsyncSageMakerRuntime`` (on aiobotocore)."""

    lacks: ClassVar[dict[str, str]] = {}

    import_statement = (
        "from typed_sagemaker_runtime import AsyncSageMakerRuntime\nimport aiobotocore.session"
    )
    distributions = ("typed-sagemaker-runtime", "aiobotocore", "aiohttp")

    def __init__(self, url: str, pool: int) -> None:
        super().__init__()
        from aiobotocore.session import get_session

        from typed_sagemaker_runtime import AsyncSageMakerRuntime, RetryPolicy

        session = get_session()
        session.set_credentials(KEY, KEY)
        self.smr = AsyncSageMakerRuntime(
            session=session,
            region_name=REGION,
            endpoint_url=url,
            config=botocore_config(pool),
            retry=RetryPolicy.disabled(),
        )
        self.run(self.smr.__aenter__())

    async def aclose(self) -> None:
        await self.smr.aclose()

    async def ainvoke(self, body: bytes) -> None:
        result = await self.smr.invoke("echo", body, content_type="application/octet-stream")
        assert len(result["body"]) == len(body)

    async def afirst_event(self, endpoint: str) -> float:
        start = time.perf_counter()
        async with await self.smr.stream(endpoint, b"{}") as stream:
            return await afirst_of(aiter(stream), start)

    async def aevents(self, endpoint: str, body: bytes = b"{}") -> int:
        async with await self.smr.stream(endpoint, body) as stream:
            return await acount(stream)

    def lines(self, endpoint: str, body: bytes = b"{}") -> int:
        async def count() -> int:
            async with await self.smr.stream(endpoint, body) as stream:
                return await acount(stream.lines())

        return self.run(count())


def first_of(events: Iterator[object], start: float) -> float:
    next(events)
    elapsed = time.perf_counter() - start
    for _ in events:
        pass
    return elapsed


async def afirst_of(events: AsyncIterator[object], start: float) -> float:
    await anext(events)
    elapsed = time.perf_counter() - start
    async for _ in events:
        pass
    return elapsed


async def acount(events: Any) -> int:
    count = 0
    async for _ in events:
        count += 1
    return count


def make_column(name: str, url: str, pool: int) -> Column:
    factories: dict[str, Callable[[], Column]] = {
        "raw": lambda: RawBoto3(url),
        "capo-sync": lambda: CapoSync(url),
        "capo-async": lambda: CapoAsync(url, pool),
        "aiobotocore": lambda: AioBotocore(url, pool),
        "langchain": lambda: langchain_column(url),
        "sagemaker-sdk": lambda: sagemaker_sdk_column(url),
        "ours-sync": lambda: OursSync(url),
        "ours-async": lambda: OursAsync(url, pool),
    }
    return factories[name]()


# --- measuring ---------------------------------------------------------------------------


def turns(
    reps: int, peer: Callable[[], float], raw: Callable[[], float]
) -> list[tuple[float, float]]:
    """``reps`` pairs (peer, raw) after one warm-up each, the two taking turns at going first."""
    peer(), raw()
    pairs: list[tuple[float, float]] = []
    for index in range(reps):
        if index % 2:
            raw_value = raw()
            pairs.append((peer(), raw_value))
        else:
            peer_value = peer()
            pairs.append((peer_value, raw()))
    return pairs


def timer(work: Callable[[], object], expected: int | None = None) -> Callable[[], float]:
    def timed() -> float:
        start = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - start
        assert expected is None or result == expected, (result, expected)
        return elapsed

    return timed


def speed_cell(pairs: list[tuple[float, float]], unit: str, amount: float) -> dict[str, Any]:
    """Seconds per unit of work -> the median of per-pair speed ratios (raw time / peer time)."""
    peer = statistics.median(p for p, _ in pairs)
    raw = statistics.median(r for _, r in pairs)
    return {
        "ratio": statistics.median(r / p for p, r in pairs),
        "detail": f"{amount / peer:,.0f} vs boto3 {amount / raw:,.0f} {unit}",
    }


def time_cell(peer: float, raw: float, unit: str = "ms", scale: float = 1000) -> dict[str, Any]:
    return {
        "ratio": peer / raw,
        "detail": f"{peer * scale:,.2f} vs {raw * scale:,.2f} {unit}",
    }


def import_time(statement: str) -> float:
    code = f"import time\nstart = time.perf_counter()\n{statement}\n"
    code += "print(time.perf_counter() - start)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True
    ).stdout
    return last_number(out)


def last_number(out: str) -> float:
    """The number a child printed last (the SageMaker SDK prints on import)."""
    return float(out.split()[-1])


def import_row(column: Column, sizes: dict[str, int]) -> dict[str, Any]:
    pairs = turns(
        sizes["import_runs"],
        lambda: import_time(column.import_statement),
        lambda: import_time("import boto3"),
    )
    peer = statistics.median(p for p, _ in pairs)
    raw = statistics.median(r for _, r in pairs)
    return {
        "ratio": statistics.median(p / r for p, r in pairs),
        "detail": f"{peer * 1000:,.0f} vs {raw * 1000:,.0f} ms",
    }


def invoke_row(column: Column, raw: RawBoto3, sizes: dict[str, int]) -> dict[str, Any]:
    body = os.urandom(1024)
    calls = sizes["invoke_calls"]

    def rounds(client: Column) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                client.invoke(body)
            return time.perf_counter() - start

        return run

    return speed_cell(turns(sizes["reps"], rounds(column), rounds(raw)), "req/s", calls)


def first_event_row(column: Column, raw: RawBoto3, sizes: dict[str, int]) -> dict[str, Any]:
    pairs = turns(
        sizes["ttft_samples"], lambda: column.first_event("ttft"), lambda: raw.first_event("ttft")
    )
    return time_cell(statistics.median(p for p, _ in pairs), statistics.median(r for _, r in pairs))


def events_row(endpoint: str, unit: str, amount: float) -> Callable[..., dict[str, Any]]:
    def row(column: Column, raw: RawBoto3, sizes: dict[str, int]) -> dict[str, Any]:
        expected = EVENTS[endpoint]
        pairs = turns(
            sizes["reps"],
            timer(lambda: column.events(endpoint), expected),
            timer(lambda: raw.events(endpoint), expected),
        )
        return speed_cell(pairs, unit, amount)

    return row


def lines_row(column: Column, raw: RawBoto3, sizes: dict[str, int]) -> dict[str, Any]:
    """Lines from the peer against raw boto3's bare ``for event in body`` on the same stream."""
    pairs = turns(
        sizes["reps"],
        timer(lambda: column.lines("lines"), LINES),
        timer(lambda: raw.events("lines")),
    )
    found = speed_cell(pairs, "", LINES)
    peer = statistics.median(p for p, _ in pairs)
    raw_time = statistics.median(r for _, r in pairs)
    found["detail"] = (
        f"{LINES / peer:,.0f} lines/s; {peer * 1000:,.1f} vs {raw_time * 1000:,.1f} ms"
    )
    return found


def concurrent_row(column: Column, url: str, sizes: dict[str, int]) -> dict[str, Any]:
    count = sizes["streams"]
    if isinstance(column, AioBotocore):
        column.concurrent("concurrent", count)
        wall = statistics.median(
            column.concurrent("concurrent", count) for _ in range(sizes["reps"])
        )
        return {"ratio": 1.0, "detail": f"{wall * 1000:,.2f} ms (the baseline)"}
    baseline = AioBotocore(url, count)
    try:
        pairs = turns(
            sizes["reps"],
            lambda: column.concurrent("concurrent", count),
            lambda: baseline.concurrent("concurrent", count),
        )
    finally:
        baseline.close()
    return time_cell(statistics.median(p for p, _ in pairs), statistics.median(r for _, r in pairs))


def rss_row(name: str, url: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Peak RSS of fresh processes streaming the same bytes: this column, then raw boto3."""

    def peak(which: str) -> float:
        samples = [rss_of(which, url, sizes["rss_mib"]) for _ in range(sizes["rss_runs"])]
        return statistics.median(samples)

    peer, raw = peak(name), peak("raw")
    return {"ratio": peer / raw, "text": f"{peer:.0f} MB (boto3 {raw:.0f})"}


def rss_of(which: str, url: str, mib: int) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--rss", which, url, str(mib)],
        env=ENV,
        capture_output=True,
        text=True,
    )
    last = (result.stdout.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
    if result.returncode:
        raise RuntimeError(last)
    return last_number(last)


def rss_child(name: str, url: str, mib: int) -> None:
    """Stream ``mib`` MiB of JSON lines (lines where the column reads lines); print peak RSS."""
    column = make_column(name, url, 10)
    body = json.dumps({"megabytes": mib}).encode()
    try:
        if "lines" in column.lacks:
            column.events("lines-sized", body)
        else:
            column.lines("lines-sized", body)
    except Exception as exc:
        # The parent reports this line (stderr may hold a peer's decorated traceback).
        print(f"{type(exc).__name__}: {exc}")
        sys.exit(1)
    column.close()
    print(peak_rss_mib())


def peak_rss_mib() -> float:
    """This process's peak RSS. Linux keeps ``ru_maxrss`` across fork and exec, so a child
    would report its parent's peak; ``VmHWM`` belongs to the process's own memory map."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- main --------------------------------------------------------------------------------

SIZES = {
    "quick": {
        "reps": 2,
        "import_runs": 2,
        "invoke_calls": 20,
        "ttft_samples": 10,
        "streams": 50,
        "rss_mib": 20,
        "rss_runs": 1,
    },
    "full": {
        "reps": 7,
        "import_runs": 7,
        "invoke_calls": 200,
        "ttft_samples": 60,
        "streams": 200,
        "rss_mib": 200,
        "rss_runs": 3,
    },
}


def workloads(name: str, url: str) -> dict[str, Callable[[Column, RawBoto3, dict[str, int]], Any]]:
    return {
        "import": lambda column, _raw, sizes: import_row(column, sizes),
        "invoke": invoke_row,
        "first-event": first_event_row,
        "tiny-packed": events_row("tiny-packed", "events/s", EVENTS["tiny-packed"]),
        "tiny-chunked": events_row("tiny-chunked", "events/s", EVENTS["tiny-chunked"]),
        "large": events_row("large", "MB/s", EVENTS["large"] * 65536 / 1e6),
        "concurrent": lambda column, _raw, sizes: concurrent_row(column, url, sizes),
        "lines": lines_row,
        "rss": lambda _column, _raw, sizes: rss_row(name, url, sizes),
    }


def cell(column: Column, workload: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if workload in column.lacks:
        return {"na": column.lacks[workload]}
    try:
        return run()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def versions(column: Column) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in (*column.distributions, "boto3", "botocore"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def main(name: str, url: str, quick: bool) -> None:
    sizes = SIZES["quick" if quick else "full"]
    column = make_column(name, url, sizes["streams"])
    raw = RawBoto3(url)
    results: dict[str, Any] = {"versions": versions(column), "cells": {}}
    for workload, run in workloads(name, url).items():
        print(f"  {name}: {workload}...", file=sys.stderr, flush=True)
        results["cells"][workload] = cell(column, workload, lambda run=run: run(column, raw, sizes))
    column.close()
    print(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1] == "--rss":
        rss_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main(sys.argv[1], sys.argv[2], "--quick" in sys.argv[3:])

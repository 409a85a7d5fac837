"""Concurrency at scale: 1,000 streams on one event loop, 64 threads on one sync client.

    python benchmarks/bench_async_concurrency.py                  # 1,000 streams, 5 reps
    python benchmarks/bench_async_concurrency.py --quick          # 200 streams, 3 reps
    python benchmarks/bench_async_concurrency.py --streams 500 --reps 7

Every stream reads the ``concurrent`` endpoint of ``_server.py`` (a LocalRuntime in its own
process): 50 TGI token records, one event-stream frame per HTTP chunk, as LLM servers send
them. Each side runs in a fresh process of its own, rep by rep, taking turns at going
first, so load from elsewhere on the machine lands on both sides alike:

* asyncio: ``AsyncSageMakerRuntime`` against aiobotocore's client used directly, N streams
  started together with ``asyncio.gather`` on one loop. Both clients need a pool of N:
  aiobotocore passes ``max_pool_connections`` to aiohttp's ``TCPConnector(limit=...)``,
  which *queues* requests beyond it (with the default of 10, 1,000 streams would run ten
  at a time).
* threads: 64 threads sharing one ``SageMakerRuntime`` against 64 threads sharing one raw
  boto3 client, each thread reading streams back to back; with the pool the facade now
  builds (64 when ``max_pool_connections`` is not set) and with botocore's default of 10,
  counting urllib3's "Connection pool is full, discarding connection" warnings.

Figures per side: aggregate events/s (all events over the wall time of the whole batch),
p50/p99 time to first event (from the batch's start: it includes waiting for the server),
peak RSS (``VmHWM``) and RSS per open stream: ``VmRSS`` when every stream has yielded its
first event and none has finished (they wait on a barrier), minus ``VmRSS`` before the
batch, over N. (``ru_maxrss`` would do for the peak, but a child inherits its parent's on
Linux; ``/proc/self/status`` is the process's own.) The soft limit of open files is raised
to fit N sockets when it is lower (``resource.setrlimit``); the run says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import HERE, local_server, table

EVENTS = 50  # records of the "concurrent" endpoint of _server.py
REGION = "us-east-1"
KEY = "bench"
THREADS = 64
THREAD_STREAMS = 8  # streams each thread reads, back to back


def status(field: str) -> float:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), in MiB."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def raise_file_limit(needed: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return f"open files: soft limit {soft}, enough"
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return f"open files: soft limit raised from {soft} to {wanted}"


# --- asyncio side (in a child process) ---------------------------------------------------


class Opened:
    """Counts streams that yielded their first event; all wait until every one has."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.firsts: list[float] = []
        self.all_open = asyncio.Event()
        self.rss_open = 0.0

    def first(self, start: float) -> None:
        self.firsts.append(time.perf_counter() - start)
        if len(self.firsts) == self.count:
            self.rss_open = status("VmRSS")
            self.all_open.set()


Side = tuple[Callable[[Opened, float], Any], Callable[[], Any]]  # one stream; close


async def ours_streams(url: str, count: int) -> Side:
    from aiobotocore.session import get_session
    from botocore.config import Config

    from typed_sagemaker_runtime import AsyncSageMakerRuntime, RetryPolicy

    session = get_session()
    session.set_credentials(KEY, KEY)
    smr = AsyncSageMakerRuntime(
        session=session,
        region_name=REGION,
        endpoint_url=url,
        config=Config(read_timeout=120, max_pool_connections=count),
        retry=RetryPolicy.disabled(),
    )
    await smr.__aenter__()

    async def one(opened: Opened, start: float) -> int:
        async with await smr.stream("concurrent", b"{}") as stream:
            events = aiter(stream)
            await anext(events)
            opened.first(start)
            await opened.all_open.wait()
            return 1 + sum([1 async for _ in events])

    return one, smr.aclose


async def aiobotocore_streams(url: str, count: int) -> Side:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session = get_session()
    session.set_credentials(KEY, KEY)
    config = AioConfig(
        read_timeout=120, retries={"total_max_attempts": 1}, max_pool_connections=count
    )
    creator = session.create_client(
        "sagemaker-runtime", region_name=REGION, endpoint_url=url, config=config
    )
    client = await creator.__aenter__()

    async def one(opened: Opened, start: float) -> int:
        response = await client.invoke_endpoint_with_response_stream(
            EndpointName="concurrent", Body=b"{}"
        )
        events = aiter(response["Body"])
        await anext(events)
        opened.first(start)
        await opened.all_open.wait()
        return 1 + sum([1 async for _ in events])

    return one, lambda: creator.__aexit__(None, None, None)


async def async_batch(one: Callable[[Opened, float], Any], count: int) -> dict[str, float]:
    opened = Opened(count)
    rss_before = status("VmRSS")
    cpu = time.process_time()
    start = time.perf_counter()
    counts = await asyncio.gather(*(one(opened, start) for _ in range(count)))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    assert counts == [EVENTS] * count, counts[:5]
    firsts = sorted(opened.firsts)
    return {
        "events_per_s": count * EVENTS / wall,
        "cpu_us_per_event": cpu / (count * EVENTS) * 1e6,
        "p50_first": firsts[len(firsts) // 2],
        "p99_first": firsts[min(len(firsts) - 1, int(len(firsts) * 0.99))],
        "rss_per_stream_kib": (opened.rss_open - rss_before) * 1024 / count,
    }


def async_child(side: str, url: str, count: int) -> dict[str, float]:
    async def main() -> dict[str, float]:
        make = ours_streams if side == "ours-async" else aiobotocore_streams
        one, close = await make(url, count)
        first = await async_batch(one, count)  # also the warm-up: opens the connections
        result = await async_batch(one, count)
        await close()
        # Memory per open stream from the first batch, whose connections are new: in the
        # second, memory the first freed is reused and the difference is mostly noise.
        return {
            **result,
            "rss_per_stream_kib": first["rss_per_stream_kib"],
            "peak_rss_mib": status("VmHWM"),
        }

    return asyncio.run(main())


# --- threads side (in a child process) ---------------------------------------------------


class WarningCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Connection pool is full" in record.getMessage():
            self.count += 1


def thread_child(side: str, url: str, pool: int | None) -> dict[str, float]:
    import boto3
    from botocore.config import Config

    from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime

    warnings = WarningCount()
    logging.getLogger("urllib3.connectionpool").addHandler(warnings)
    options: dict[str, Any] = {"read_timeout": 120}
    if pool is not None:
        options["max_pool_connections"] = pool
    session = boto3.session.Session(
        aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name=REGION
    )
    if side == "ours-sync":
        smr = SageMakerRuntime(
            session=session,
            endpoint_url=url,
            config=Config(**options),
            retry=RetryPolicy.disabled(),
        )

        def read_one() -> tuple[float, int]:
            start = time.perf_counter()
            with smr.stream("concurrent", b"{}") as stream:
                events = iter(stream)
                next(events)
                first = time.perf_counter() - start
                return first, 1 + sum(1 for _ in events)

    else:
        raw = session.client(
            "sagemaker-runtime",
            endpoint_url=url,
            config=Config(retries={"total_max_attempts": 1}, **options),
        )

        def read_one() -> tuple[float, int]:
            start = time.perf_counter()
            events = iter(
                raw.invoke_endpoint_with_response_stream(EndpointName="concurrent", Body=b"{}")[
                    "Body"
                ]
            )
            next(events)
            first = time.perf_counter() - start
            return first, 1 + sum(1 for _ in events)

    def batch() -> tuple[float, list[float]]:
        firsts: list[float] = []
        lock = threading.Lock()
        go = threading.Barrier(THREADS + 1)

        def work() -> None:
            go.wait()
            for _ in range(THREAD_STREAMS):
                first, count = read_one()
                assert count == EVENTS, count
                with lock:
                    firsts.append(first)

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        go.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start, sorted(firsts)

    batch()  # warm-up
    warnings.count = 0
    wall, firsts = batch()
    return {
        "events_per_s": THREADS * THREAD_STREAMS * EVENTS / wall,
        "p50_first": firsts[len(firsts) // 2],
        "p99_first": firsts[int(len(firsts) * 0.99)],
        "pool_full_warnings": warnings.count,
        "peak_rss_mib": status("VmHWM"),
    }


# --- the parent: turns, medians, the table -----------------------------------------------


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def turns(reps: int, sides: dict[str, tuple[str, ...]]) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    names = list(sides)
    for index in range(reps):
        for name in names if index % 2 == 0 else names[::-1]:
            results[name].append(run_child(*sides[name]))
    return results


def median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def paired_ratio(ours: list[dict[str, float]], base: list[dict[str, float]], key: str) -> float:
    return statistics.median(o[key] / b[key] for o, b in zip(ours, base, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200 streams, 3 reps")
    args = parser.parse_args()
    count, reps = (200, 3) if args.quick else (args.streams, args.reps)
    # The child processes inherit the limit.
    print(raise_file_limit(count + 256), file=sys.stderr)
    with local_server() as url:
        print(f"{count} concurrent streams, {reps} reps...", file=sys.stderr)
        loop = turns(
            reps,
            {
                "ours": ("ours-async", url, str(count)),
                "aiobotocore": ("aiobotocore", url, str(count)),
            },
        )
        print(f"{THREADS} threads...", file=sys.stderr)
        threads = turns(
            reps,
            {
                "ours": ("ours-sync", url, "default"),
                "raw": ("raw-sync", url, str(THREADS)),
                "ours-10": ("ours-sync", url, "10"),
                "raw-10": ("raw-sync", url, "default"),
            },
        )
    ours, base = loop["ours"], loop["aiobotocore"]
    rows = [
        (
            "aggregate events/s",
            f"{median(base, 'events_per_s'):,.0f}",
            f"{median(ours, 'events_per_s'):,.0f}",
            f"{paired_ratio(ours, base, 'events_per_s'):.2f}x",
        ),
        *(
            (
                f"time to first event, {label} (from the batch's start)",
                f"{median(base, key) * 1000:,.1f} ms",
                f"{median(ours, key) * 1000:,.1f} ms",
                f"{paired_ratio(ours, base, key):.2f}x",
            )
            for key, label in (("p50_first", "p50"), ("p99_first", "p99"))
        ),
        (
            "client CPU per event (the request's share included)",
            f"{median(base, 'cpu_us_per_event'):,.1f} us",
            f"{median(ours, 'cpu_us_per_event'):,.1f} us",
            f"{paired_ratio(ours, base, 'cpu_us_per_event'):.2f}x",
        ),
        (
            "RSS per open stream (first batch, new connections)",
            f"{median(base, 'rss_per_stream_kib'):,.1f} KiB",
            f"{median(ours, 'rss_per_stream_kib'):,.1f} KiB",
            f"{paired_ratio(ours, base, 'rss_per_stream_kib'):.2f}x",
        ),
        (
            "peak RSS of the process (VmHWM)",
            f"{median(base, 'peak_rss_mib'):,.1f} MiB",
            f"{median(ours, 'peak_rss_mib'):,.1f} MiB",
            f"{paired_ratio(ours, base, 'peak_rss_mib'):.2f}x",
        ),
    ]
    print(
        f"\n{count} concurrent streams on one event loop, {EVENTS} events each "
        f"(max_pool_connections={count} on both sides; median of {reps} reps):"
    )
    print(table(rows, ("measure", "aiobotocore directly", "AsyncSageMakerRuntime", "ratio")))
    thread_rows = []
    for label, ours_key, raw_key in (
        ("pool 64 (facade: its default; raw: max_pool_connections=64)", "ours", "raw"),
        ("pool 10 (botocore's default)", "ours-10", "raw-10"),
    ):
        ours_t, raw_t = threads[ours_key], threads[raw_key]
        thread_rows += [
            (
                f"{label}: aggregate events/s",
                f"{median(raw_t, 'events_per_s'):,.0f}",
                f"{median(ours_t, 'events_per_s'):,.0f}",
                f"{paired_ratio(ours_t, raw_t, 'events_per_s'):.2f}x",
            ),
            (
                "  time to first event p50 / p99",
                f"{median(raw_t, 'p50_first') * 1000:,.1f} / "
                f"{median(raw_t, 'p99_first') * 1000:,.1f} ms",
                f"{median(ours_t, 'p50_first') * 1000:,.1f} / "
                f"{median(ours_t, 'p99_first') * 1000:,.1f} ms",
                "",
            ),
            (
                "  'Connection pool is full' warnings per batch",
                f"{median(raw_t, 'pool_full_warnings'):,.0f}",
                f"{median(ours_t, 'pool_full_warnings'):,.0f}",
                "",
            ),
            (
                "  peak RSS (VmHWM)",
                f"{median(raw_t, 'peak_rss_mib'):,.1f} MiB",
                f"{median(ours_t, 'peak_rss_mib'):,.1f} MiB",
                "",
            ),
        ]
    print(f"\n{THREADS} threads sharing one client, {THREAD_STREAMS} streams each, back to back:")
    print(table(thread_rows, ("measure", "raw boto3", "SageMakerRuntime", "ratio")))


def child(argv: list[str]) -> None:
    side, url, size = argv
    if side in ("ours-async", "aiobotocore"):
        result = async_child(side, url, int(size))
    else:
        result = thread_child(side, url, None if size == "default" else int(size))
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        sys.path.insert(0, str(HERE))
        main()

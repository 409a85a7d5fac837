"""Concurrency at scale: 1,000 streams on one event loop, 64 threads on one sync client.

    python benchmarks/bench_async_concurrency.py                  # 1,000 streams, 5 reps
    python benchmarks/bench_async_concurrency.py --quick          # 200 streams, 3 reps
    python benchmarks/bench_async_concurrency.py --streams 500 --reps 7 --no-threads

Every stream reads TGI token records from ``_replay_server.py``, one event-stream frame per
HTTP chunk, as LLM servers send them: the bytes ``LocalRuntime`` sends, recorded once and
replayed from one asyncio loop, so that at a thousand connections the server is not what
sets the pace (``LocalRuntime`` runs a thread per connection). Four workloads: 50 or 250
records per stream (a short answer, a typical one), each written ``burst`` (back to back:
a client that falls behind finds many frames at each read, and the aggregate rate is its
own capacity) or ``paced`` (one chunk per connection per turn of the server's loop: the
client reads about one frame per socket read, in step with the server). The table shows
how busy the server was, so a run where it set the pace shows as one.

Each side runs in a fresh process of its own, rep by rep, taking turns at going first, so
load from elsewhere on the machine lands on both sides alike:

* asyncio: ``AsyncSageMakerRuntime`` against aiobotocore's client used directly, N streams
  started together with ``asyncio.gather`` on one loop. Both clients need a pool of N:
  aiobotocore passes ``max_pool_connections`` to aiohttp's ``TCPConnector(limit=...)``,
  which *queues* requests beyond it (with the default of 10, 1,000 streams would run ten
  at a time). Two warm-up batches fill the pool (after the first, aiohttp had kept only
  some of the new connections), the third is measured: a service under steady load reuses
  its connections. Both clients are built as a user would build them: the facade with its
  own settings (botocore's parameter validation off, a User-Agent built once), aiobotocore
  with its defaults; both with retries off and the same read timeout and pool.
* threads: 64 threads sharing one ``SageMakerRuntime`` against 64 threads sharing one raw
  boto3 client, each thread reading streams back to back; with the pool the facade now
  builds (64 when ``max_pool_connections`` is not set) and with botocore's default of 10,
  counting urllib3's "Connection pool is full, discarding connection" warnings.

Figures per side: aggregate events/s (all events over the wall time of the whole batch),
client CPU per event (user + system, the request's share included), p50/p99 time to first
event (from the batch's start: it includes waiting for the server), the server's CPU time
over the batch's wall time, all from the measured batch; peak RSS (``VmHWM``) and RSS per
open stream: ``VmRSS`` when every stream has yielded its first event and none has finished
(they wait on a barrier), minus ``VmRSS`` before the batch, over N, taken in the first
batch, whose connections are new. Only that batch holds its streams: held, their frames
pile up, and a paced stream would no longer be read a frame at a time. (``ru_maxrss``
would do for the peak, but a child inherits its parent's on Linux; ``/proc/self/status`` is
the process's own.) The soft limit of open files is raised to fit N sockets when it is
lower (``resource.setrlimit``); the run says so.
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

from _common import HERE, process_cpu, server_process, table

TOKENS = (50, 250)  # records per stream: endpoints burst-N and paced-N of _replay_server.py
MODES = ("burst", "paced")
REGION = "us-east-1"
KEY = "bench"
THREADS = 64
THREAD_STREAMS = 8  # streams each thread reads, back to back
THREAD_TOKENS = 50
THREAD_ENDPOINT = f"burst-{THREAD_TOKENS}"


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
    """Counts streams that yielded their first event; with ``hold``, all wait until every one has.

    Held, all N streams are open at once (for the memory per open stream); their frames pile
    up meanwhile, so the batches that measure speed do not hold.
    """

    def __init__(self, count: int, *, hold: bool) -> None:
        self.count = count
        self.firsts: list[float] = []
        self.all_open = asyncio.Event()
        self.rss_open = 0.0
        if not hold:
            self.all_open.set()

    def first(self, start: float) -> None:
        self.firsts.append(time.perf_counter() - start)
        if len(self.firsts) == self.count:
            self.rss_open = status("VmRSS")
            self.all_open.set()


Side = tuple[Callable[[Opened, float], Any], Callable[[], Any]]  # one stream; close


async def ours_streams(url: str, count: int, endpoint: str) -> Side:
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
        async with await smr.stream(endpoint, b"{}") as stream:
            events = aiter(stream)
            await anext(events)
            opened.first(start)
            await opened.all_open.wait()
            return 1 + sum([1 async for _ in events])

    return one, smr.aclose


async def aiobotocore_streams(url: str, count: int, endpoint: str) -> Side:
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
            EndpointName=endpoint, Body=b"{}"
        )
        events = aiter(response["Body"])
        await anext(events)
        opened.first(start)
        await opened.all_open.wait()
        return 1 + sum([1 async for _ in events])

    return one, lambda: creator.__aexit__(None, None, None)


async def async_batch(
    one: Callable[[Opened, float], Any], count: int, events: int, *, hold: bool, server: int
) -> dict[str, float]:
    opened = Opened(count, hold=hold)
    rss_before = status("VmRSS")
    server_cpu = process_cpu(server)
    cpu = time.process_time()  # user + system
    start = time.perf_counter()
    counts = await asyncio.gather(*(one(opened, start) for _ in range(count)))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    server_cpu = process_cpu(server) - server_cpu
    assert counts == [events] * count, counts[:5]
    firsts = sorted(opened.firsts)
    return {
        "events_per_s": count * events / wall,
        "cpu_us_per_event": cpu / (count * events) * 1e6,
        "server_busy": server_cpu / wall,
        "p50_first": firsts[len(firsts) // 2],
        "p99_first": firsts[min(len(firsts) - 1, int(len(firsts) * 0.99))],
        "rss_per_stream_kib": (opened.rss_open - rss_before) * 1024 / count,
    }


def async_child(side: str, url: str, count: int, endpoint: str, server: int) -> dict[str, float]:
    async def main() -> dict[str, float]:
        make = ours_streams if side == "ours-async" else aiobotocore_streams
        events = int(endpoint.rpartition("-")[2])
        one, close = await make(url, count, endpoint)
        # Warm-up, held: opens the connections, and measures the memory per open stream.
        first = await async_batch(one, count, events, hold=True, server=server)
        # Warm-up: aiohttp kept only some of the new connections; the pool is full after it.
        await async_batch(one, count, events, hold=False, server=server)
        result = await async_batch(one, count, events, hold=False, server=server)
        await close()
        # Memory per open stream from the first batch, whose connections are new: in a
        # later one, memory the first freed is reused and the difference is mostly noise.
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
            with smr.stream(THREAD_ENDPOINT, b"{}") as stream:
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
                raw.invoke_endpoint_with_response_stream(EndpointName=THREAD_ENDPOINT, Body=b"{}")[
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
                assert count == THREAD_TOKENS, count
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
        "events_per_s": THREADS * THREAD_STREAMS * THREAD_TOKENS / wall,
        "p50_first": firsts[len(firsts) // 2],
        "p99_first": firsts[int(len(firsts) * 0.99)],
        "pool_full_warnings": warnings.count,
        "peak_rss_mib": status("VmHWM"),
    }


# --- the parent: turns, medians, the table -----------------------------------------------


def run_child(server_pid: int, *args: str) -> dict[str, float]:
    """One side in a fresh process (told the server's process id, to read its CPU time)."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(server_pid), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def turns(
    server_pid: int, reps: int, sides: dict[str, tuple[str, ...]]
) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    names = list(sides)
    for index in range(reps):
        for name in names if index % 2 == 0 else names[::-1]:
            results[name].append(run_child(server_pid, *sides[name]))
    return results


def median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def paired_ratio(ours: list[dict[str, float]], base: list[dict[str, float]], key: str) -> float:
    return statistics.median(o[key] / b[key] for o, b in zip(ours, base, strict=True))


def loop_rows(ours: list[dict[str, float]], base: list[dict[str, float]]) -> list[tuple[str, ...]]:
    def row(label: str, key: str, unit: str, scale: float = 1.0) -> tuple[str, ...]:
        return (
            label,
            f"{median(base, key) * scale:,.1f}{unit}",
            f"{median(ours, key) * scale:,.1f}{unit}",
            f"{paired_ratio(ours, base, key):.2f}x",
        )

    return [
        row("aggregate events/s (higher is better)", "events_per_s", ""),
        row("time to first event, p50 (from the batch's start)", "p50_first", " ms", 1000),
        row("time to first event, p99 (from the batch's start)", "p99_first", " ms", 1000),
        row("client CPU per event (the request's share included)", "cpu_us_per_event", " us"),
        row("RSS per open stream (first batch, new connections)", "rss_per_stream_kib", " KiB"),
        row("peak RSS of the process (VmHWM)", "peak_rss_mib", " MiB"),
        (
            "server busy (its CPU over the batch's wall time)",
            f"{median(base, 'server_busy'):.0%}",
            f"{median(ours, 'server_busy'):.0%}",
            "",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="200 streams, 3 reps")
    parser.add_argument("--no-threads", action="store_true", help="the event loop only")
    args = parser.parse_args()
    count, reps = (200, 3) if args.quick else (args.streams, args.reps)
    # The child processes inherit the limit.
    print(raise_file_limit(count + 256), file=sys.stderr)
    with server_process("_replay_server.py") as (url, pid):
        loops = {}
        for mode in MODES:
            for tokens in TOKENS:
                endpoint = f"{mode}-{tokens}"
                print(f"{count} concurrent streams, {endpoint}, {reps} reps...", file=sys.stderr)
                loops[endpoint] = turns(
                    pid,
                    reps,
                    {
                        "ours": ("ours-async", url, str(count), endpoint),
                        "aiobotocore": ("aiobotocore", url, str(count), endpoint),
                    },
                )
        threads = {}
        if not args.no_threads:
            print(f"{THREADS} threads...", file=sys.stderr)
            threads = turns(
                pid,
                reps,
                {
                    "ours": ("ours-sync", url, "default"),
                    "raw": ("raw-sync", url, str(THREADS)),
                    "ours-10": ("ours-sync", url, "10"),
                    "raw-10": ("raw-sync", url, "default"),
                },
            )
    for endpoint, loop in loops.items():
        mode, _, tokens = endpoint.partition("-")
        print(
            f"\n{count} concurrent streams on one event loop, {tokens} events each, {mode} "
            f"(max_pool_connections={count} on both sides; median of {reps} reps):"
        )
        rows = loop_rows(loop["ours"], loop["aiobotocore"])
        print(table(rows, ("measure", "aiobotocore directly", "AsyncSageMakerRuntime", "ratio")))
    if not threads:
        return
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
    print(
        f"\n{THREADS} threads sharing one client, {THREAD_STREAMS} streams of "
        f"{THREAD_TOKENS} events each, back to back:"
    )
    print(table(thread_rows, ("measure", "raw boto3", "SageMakerRuntime", "ratio")))


def child(argv: list[str]) -> None:
    server, side, url, size, *endpoint = argv
    if side in ("ours-async", "aiobotocore"):
        result = async_child(side, url, int(size), endpoint[0], int(server))
    else:
        result = thread_child(side, url, None if size == "default" else int(size))
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        sys.path.insert(0, str(HERE))
        main()

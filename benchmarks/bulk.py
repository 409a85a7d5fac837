"""Bulk invocation: ``invoke_many`` against the hand-written thread pool and raw boto3 loops.

    python benchmarks/bulk.py            # the full run (1,000,000 records for the memory row)
    python benchmarks/bulk.py --quick    # fewer records

The endpoint (``bulk_server.py``, its own process) has a fixed capacity: 16 requests
served at once, 50 ms each, anything beyond refused at once with ThrottlingException, so
at most 320 records/s get through. Measured, in one run:

- throughput of ``invoke_many`` at fixed concurrencies around the capacity (the best of
  them is the target's yardstick) and with ``concurrency="auto"``: records/s, the share of
  attempts throttled (the server's own count), records failed;
- the hand-written baseline: ``ThreadPoolExecutor(64)`` mapping raw boto3's
  ``invoke_endpoint`` over the records, in botocore's standard and adaptive retry modes:
  records/s, throttled attempts, records lost (raised out of ``executor.map``);
- client CPU per record (``time.process_time`` of this process) of ``invoke_many``
  against a raw boto3 loop, on an endpoint without a capacity, one in flight and eight;
- peak RSS over a generator of a million records: flat means bounded by
  ``max_concurrency``, not the input.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from _common import raw_client, server_process, session, table
from botocore.config import Config

from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime

CAPACITY = 16 * (1 / 0.05)  # records/s the busy endpoint can serve
FIXED = (8, 12, 14, 16, 18, 24, 32)
POOL = Config(max_pool_connections=64, read_timeout=60)


def facade(url: str, retry: RetryPolicy | None = None) -> SageMakerRuntime:
    return SageMakerRuntime(session=session(), endpoint_url=url, config=POOL, retry=retry)


def server_stats(smr: SageMakerRuntime, endpoint: str) -> dict[str, int]:
    answer: dict[str, int] = json.loads(smr.invoke("stats", endpoint)["body"])
    return answer


def bodies(count: int) -> list[bytes]:
    return [b'{"inputs":"record %d"}' % index for index in range(count)]


class Outcome:
    """One throughput run: records/s, attempts throttled, records failed or lost."""

    def __init__(
        self,
        seconds: float,
        records: int,
        failed: int,
        before: dict[str, int],
        after: dict[str, int],
    ) -> None:
        self.rate = records / seconds
        self.failed = failed
        self.throttled = after["throttled"] - before["throttled"]
        attempts = self.throttled + after["served"] - before["served"]
        self.share = self.throttled / attempts if attempts else 0.0


def measure(url: str, endpoint: str, work: Callable[[], int], records: int) -> Outcome:
    with facade(url) as probe:
        before = server_stats(probe, endpoint)
        start = time.perf_counter()
        failed = work()
        seconds = time.perf_counter() - start
        after = server_stats(probe, endpoint)
    return Outcome(seconds, records, failed, before, after)


def ours(url: str, endpoint: str, records: int, concurrency: int | str) -> Outcome:
    def work() -> int:
        with (
            facade(url) as smr,
            smr.invoke_many(
                endpoint,
                bodies(records),
                concurrency=concurrency,  # type: ignore[arg-type]
            ) as run,
        ):
            return sum(outcome.error is not None for outcome in run)

    return measure(url, endpoint, work, records)


def thread_pool(url: str, endpoint: str, records: int, mode: str) -> Outcome:
    config = POOL.merge(Config(retries={"mode": mode}))
    client = session().client("sagemaker-runtime", endpoint_url=url, config=config)

    def call(body: bytes) -> bytes:
        return client.invoke_endpoint(EndpointName=endpoint, Body=body)["Body"].read()

    def work() -> int:
        lost = 0
        with ThreadPoolExecutor(64) as executor:
            futures = [executor.submit(call, body) for body in bodies(records)]
            for future in futures:
                if future.exception() is not None:
                    lost += 1
        return lost

    try:
        return measure(url, endpoint, work, records)
    finally:
        client.close()


def throughput_rows(url: str, records: int) -> list[tuple[str, ...]]:
    fixed = {n: ours(url, "busy", records, n) for n in FIXED}
    best_n = max(fixed, key=lambda n: fixed[n].rate)
    best = fixed[best_n]
    auto = ours(url, "busy", records, "auto")
    rows: list[tuple[str, ...]] = []
    for n, outcome in fixed.items():
        mark = " (best)" if n == best_n else ""
        rows.append(_row(f"invoke_many(concurrency={n}){mark}", outcome, best))
    goal = "met" if auto.rate >= 0.9 * best.rate and auto.share <= 0.02 else "MISSED"
    rows.append(_row('invoke_many(concurrency="auto")', auto, best, f">= 0.9x, <= 2%: {goal}"))
    for mode in ("standard", "adaptive"):
        pool = thread_pool(url, "busy", records, mode)
        rows.append(_row(f"ThreadPoolExecutor(64) + raw boto3, {mode} retries", pool, best))
    return rows


def _row(name: str, outcome: Outcome, best: Outcome, goal: str = "") -> tuple[str, ...]:
    return (
        name,
        f"{outcome.rate:,.0f}/s",
        f"{outcome.rate / best.rate:.2f}x",
        f"{outcome.share:.1%}",
        f"{outcome.failed:,}",
        goal,
    )


def cpu_per_record(url: str, records: int) -> list[tuple[str, ...]]:
    client = raw_client(url)
    data = bodies(records)

    def raw_loop() -> None:
        for body in data:
            client.invoke_endpoint(EndpointName="echo", Body=body)["Body"].read()

    def raw_pool() -> None:
        def call(body: bytes) -> bytes:
            return client.invoke_endpoint(EndpointName="echo", Body=body)["Body"].read()

        with ThreadPoolExecutor(8) as executor:
            list(executor.map(call, data))

    smr = facade(url, RetryPolicy.disabled())

    def ours_at(concurrency: int) -> Callable[[], None]:
        def work() -> None:
            with smr.invoke_many("echo", data, concurrency=concurrency) as run:
                for outcome in run:
                    assert outcome.error is None

        return work

    rows = []
    for name, raw, mine in (
        ("one in flight: raw loop / invoke_many(concurrency=1)", raw_loop, ours_at(1)),
        (
            "eight in flight: ThreadPoolExecutor(8) / invoke_many(concurrency=8)",
            raw_pool,
            ours_at(8),
        ),
    ):
        raw_cpu, our_cpu = _cpu(raw, records), _cpu(mine, records)
        goal = "<= 1.1x: " + ("met" if our_cpu <= 1.1 * raw_cpu else "MISSED")
        rows.append(
            (
                f"client CPU per record, {name}",
                f"{raw_cpu:.0f} us",
                f"{our_cpu:.0f} us",
                f"{our_cpu / raw_cpu:.3f}x",
                goal,
            )
        )
    client.close()
    smr.close()
    return rows


def _cpu(work: Callable[[], None], records: int) -> float:
    """Median CPU microseconds per record over 3 runs, after a warm-up."""
    work()
    samples = []
    for _ in range(3):
        start = time.process_time()
        work()
        samples.append((time.process_time() - start) / records * 1e6)
    return statistics.median(samples)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_row(url: str, records: int) -> tuple[str, ...]:
    def generate() -> Iterator[dict[str, object]]:
        for index in range(records):
            yield {"inputs": f"record {index}", "parameters": {"top_k": 5}}

    samples: list[float] = []
    step = records // 10
    start = time.perf_counter()
    with facade(url) as smr, smr.invoke_many("echo", json=generate()) as run:
        for outcome in run:
            if outcome.index % step == step - 1:
                samples.append(rss_mib())
    seconds = time.perf_counter() - start
    first, last, peak = samples[0], samples[-1], max(samples)
    flat = "met" if peak - first < 8 else "MISSED"
    return (
        f"RSS over {records:,} records from a generator ({records / seconds:,.0f}/s)",
        f"at 10%: {first:.1f} MiB",
        f"at 100%: {last:.1f} MiB, peak {peak:.1f} MiB",
        f"+{peak - first:.1f} MiB",
        f"flat: {flat}",
    )


def report(quick: bool) -> str:
    records = 800 if quick else 2400
    with server_process("bulk_server.py") as (url, _pid):
        print("bulk: throughput against a capacity...", file=sys.stderr)
        throughput = throughput_rows(url, records)
        print("bulk: client CPU per record...", file=sys.stderr)
        cpu = cpu_per_record(url, 500 if quick else 2000)
        print("bulk: memory over a long input...", file=sys.stderr)
        memory = memory_row(url, 100_000 if quick else 1_000_000)
    first = table(
        throughput,
        (
            "endpoint: 16 at once x 50 ms (320/s)",
            "records/s",
            "vs best fixed",
            "attempts throttled",
            "records failed/lost",
            "target",
        ),
    )
    second = table([*cpu, memory], ("measure", "raw boto3", "invoke_many", "ratio", "target"))
    return f"{first}\n\n{second}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records")
    print(report(parser.parse_args().quick))


if __name__ == "__main__":
    main()

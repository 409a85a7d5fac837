"""Client CPU per call: raw boto3 against the facade, invoke and stream start.

    python benchmarks/bench_request_cost.py            # 15 rounds of 200 calls each
    python benchmarks/bench_request_cost.py --quick    # 5 rounds

The endpoint (``_server.py``) runs in its own process, so only the client's CPU is
counted: ``time.process_time()`` (user + system CPU of this process) around a batch of
calls. Wall time on a shared machine swings by more than the effect being measured; CPU
time does not count the time spent waiting for the server. Raw and facade batches take
turns, alternating which goes first; each ratio is the median of the per-round ratios.

Rows: raw boto3 vs a facade-built client (the configuration the facade chooses), and vs
the facade wrapping a plain boto3 client passed in with ``client=`` (botocore's defaults
kept), so the saving of letting the facade build the client shows on its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from _common import CONFIG, local_server, raw_client, session, table

from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime

BODY = os.urandom(1024)
Row = tuple[str, str, str, str, str]


def cpu_per_call(work: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        work()
    return (time.process_time() - start) / calls


def interleaved(
    rounds: int, calls: int, sides: dict[str, Callable[[], object]]
) -> dict[str, list[float]]:
    """CPU seconds per call of each side, round by round, the order alternating."""
    for work in sides.values():
        cpu_per_call(work, calls // 4)  # warm-up: connections, caches
    results: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            results[name].append(cpu_per_call(sides[name], calls))
    return results


def rows_for(
    label: str,
    raw: Callable[[], object],
    ours: dict[str, Callable[[], object]],
    rounds: int,
    calls: int,
) -> list[Row]:
    results = interleaved(rounds, calls, {"raw": raw, **ours})
    base = results["raw"]
    rows: list[Row] = []
    for name in ours:
        ratio = statistics.median(o / r for o, r in zip(results[name], base, strict=True))
        target = ""
        if name == "built" and label.startswith("invoke"):
            target = "<= 0.90x: " + ("met" if ratio <= 0.90 else "MISSED")
        rows.append(
            (
                f"{label}, {'facade-built client' if name == 'built' else 'client= (plain boto3)'}",
                f"{statistics.median(base) * 1e6:.0f} us",
                f"{statistics.median(results[name]) * 1e6:.0f} us",
                f"{ratio:.3f}x CPU",
                target,
            )
        )
    return rows


def measure(rounds: int, calls: int) -> list[Row]:
    with local_server() as url:
        raw = raw_client(url)
        built = SageMakerRuntime(
            session=session(), endpoint_url=url, config=CONFIG, retry=RetryPolicy.disabled()
        )
        wrapped = SageMakerRuntime(client=raw_client(url))

        def raw_invoke() -> None:
            raw.invoke_endpoint(
                EndpointName="echo", Body=BODY, ContentType="application/octet-stream"
            )["Body"].read()

        def our_invoke(smr: SageMakerRuntime) -> Callable[[], object]:
            return lambda: smr.invoke("echo", BODY, content_type="application/octet-stream")

        def raw_first_event() -> None:
            response = raw.invoke_endpoint_with_response_stream(EndpointName="echo", Body=BODY)
            for _ in response["Body"]:
                pass

        def our_first_event(smr: SageMakerRuntime) -> Callable[[], object]:
            def work() -> None:
                with smr.stream("echo", BODY) as stream:
                    for _ in stream:
                        pass

            return work

        rows = rows_for(
            "invoke 1 KB",
            raw_invoke,
            {"built": our_invoke(built), "wrapped": our_invoke(wrapped)},
            rounds,
            calls,
        )
        rows += rows_for(
            "stream call + its one 1 KB event",
            raw_first_event,
            {"built": our_first_event(built), "wrapped": our_first_event(wrapped)},
            rounds,
            calls,
        )
        built.close()
        raw.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = parser.parse_args()
    rows = measure(5 if args.quick else 15, 200)
    print(table(rows, ("client CPU per call", "raw boto3", "facade", "ratio", "target")))


if __name__ == "__main__":
    main()

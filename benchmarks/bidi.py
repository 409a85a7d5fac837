"""Bidirectional streams: round trips, throughput and memory, against AWS's client, one run.

    python benchmarks/bidi.py            # 3 rounds, each 400 round trips and 32 MiB each way;
                                         # 1 GiB for memory (about 4 minutes on 2 cores)
    python benchmarks/bidi.py --quick    # 1 round: 300 round trips, 16 MiB; 256 MiB (20 s)
    BIDI_AWS_PYTHON=/path/to/python3.12 python benchmarks/bidi.py   # AWS's client's Python

Every client talks to the same local listener (``bidi_server.py``, in its own process, which
verifies every signature for every client alike), in the same run:

* the floor: raw awscrt (``Http2ClientConnection``, ``manual_write``) writing frames that were
  encoded and signed before the clock started, and counting response bytes without decoding
  them: the transport's cost with no per-part Python work (the listener is unchanged: it
  still checks the signatures, so its work per part is the same as for the others);
* ours, sync and asyncio: the public ``smr.bidi_stream(...)`` (``bidi_clients.py``);
* AWS's client (``aws-sdk-sagemaker-runtime-http2`` on its CRT transport) on Python 3.12+,
  in a subprocess (``bidi_aws.py``) run by ``BIDI_AWS_PYTHON`` (default: this Python, if it
  can import the package); left out, with a note, when there is none.

Each round runs every client in turn, each round in another order, so that drift on the
machine lands on all of them. Round trip: send one small UTF8 part, wait for its echo
(p50/p99 of every round's parts together, after 50 warm-up each).
Throughput: 32 KiB BINARY parts, up (to a sink that answers with the byte count at the end
of the input) and down (from a source), each clock started once the stream is open.
Memory: RSS of a fresh process echoing 1 GiB of 32 KiB parts through our sync transport,
sampled every 64 MiB received; flat means the last sample within 8 MiB of the first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bidi_clients import (
    MIB,
    PART,
    Figures,
    data_of,
    measure_async,
    measure_floor,
    measure_sync,
    open_ours_sync,
)

HERE = Path(__file__).parent
RSS_EVERY = 64 * MIB
FLAT_MIB = 8.0


# --- AWS's client, in a Python 3.12+ subprocess ----------------------------------------------


def aws_python() -> tuple[str | None, str]:
    """The Python that runs AWS's client, or ``None`` and why there is none."""
    python = os.environ.get("BIDI_AWS_PYTHON") or sys.executable
    probe = subprocess.run(
        [python, "-c", "import aws_sdk_sagemaker_runtime_http2, smithy_http.aio.crt, awscrt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None, (
            f"{python} cannot import aws_sdk_sagemaker_runtime_http2 with its CRT transport: "
            "set BIDI_AWS_PYTHON to a Python 3.12+ with aws-sdk-sagemaker-runtime-http2[awscrt]"
        )
    return python, ""


def measure_aws(
    python: str, url: str, ca_file: str, parts: int, warmup: int, mib: int
) -> tuple[Figures, dict[str, Any]]:
    out = subprocess.run(
        [python, str(HERE / "bidi_aws.py"), url, ca_file, str(parts), str(warmup), str(mib)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out)
    return Figures(result["trips"], result["up"], result["down"]), result


# --- memory ----------------------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory_child(url: str, ca_file: str, mib: int) -> None:
    """Echo ``mib`` MiB of 32 KiB parts through our sync transport; print RSS samples."""
    side = open_ours_sync(url, ca_file)
    side.send("echo")
    assert data_of(next(side.events)) == b"echo"
    count, payload = mib * MIB // PART, os.urandom(PART)
    samples: list[tuple[int, float]] = []

    def read() -> None:
        received = 0
        for event in side.events:
            received += len(data_of(event))
            if received % RSS_EVERY == 0:
                samples.append((received // MIB, _rss_mib()))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(count):
        side.send(payload)
    side.end()
    reader.join()
    side.close()
    print(json.dumps(samples))


def measure_memory(url: str, ca_file: str, mib: int) -> list[tuple[int, float]]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", url, ca_file, str(mib)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(int(at), float(rss)) for at, rss in json.loads(out)]


# --- the report --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _p(trips: list[float], fraction: float) -> float:
    ordered = sorted(trips)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _verdict(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'MISSED'}"


def _pooled(rounds: list[Figures]) -> Figures:
    """Every round's round trips together; the median round's seconds up and down."""
    trips = [trip for figures in rounds for trip in figures.trips]
    return Figures(
        trips,
        statistics.median(f.up for f in rounds),
        statistics.median(f.down for f in rounds),
    )


def report(quick: bool, parts: int | None = None, warmup: int = 50) -> str:
    """Run every measure against one listener; return the table (and notes) as text."""
    from _common import server_process, table

    rounds = 1 if quick else 3
    parts = parts or (300 if quick else 400)
    mib = 16 if quick else 32
    memory_mib = 256 if quick else 1024
    python, missing = aws_python()
    notes: list[str] = []
    if python is None:
        notes.append(f"AWS's client left out: {missing}")
    runs: dict[str, list[Figures]] = {"floor": [], "aws": [], "sync": [], "asyncio": []}
    with server_process("bidi_server.py") as (line, _pid):
        url, ca_file = line.split()
        args = (url, ca_file, parts, warmup, mib)

        def aws_run() -> Figures:
            assert python is not None
            figures, details = measure_aws(python, *args)
            versions = ", ".join(f"{k} {v}" for k, v in details["versions"].items())
            notes.append(f"AWS's client: Python {details['python']}, {versions}")
            notes.extend(f"AWS's client's event loop reported: {e}" for e in details["loop_errors"])
            return figures

        clients: list[tuple[str, Callable[[], Figures]]] = [
            ("floor", lambda: measure_floor(*args)),
            ("sync", lambda: measure_sync(*args)),
            ("asyncio", lambda: asyncio.run(measure_async(*args))),
        ]
        if python is not None:
            clients.append(("aws", aws_run))
        for index in range(rounds):  # each round in another order: drift lands on every client
            for name, measure in clients[index:] + clients[:index]:
                print(
                    f"bidi: round {index + 1}/{rounds}, {name}: {parts} round trips, "
                    f"{mib} MiB each way...",
                    file=sys.stderr,
                )
                runs[name].append(measure())
        print(f"bidi: memory, {memory_mib} MiB echoed through ours (sync)...", file=sys.stderr)
        samples = measure_memory(url, ca_file, memory_mib)
    notes = list(dict.fromkeys(notes))
    floor, ours, ours_aio = (_pooled(runs[name]) for name in ("floor", "sync", "asyncio"))
    aws = _pooled(runs["aws"]) if runs["aws"] else None

    def cells(pick: Callable[[Figures], float], show: Callable[[float], str]) -> list[str]:
        return [show(pick(f)) if f is not None else "-" for f in (floor, aws, ours, ours_aio)]

    def ratio(pick: Callable[[Figures], float], lower_is_better: bool) -> tuple[str, bool]:
        if aws is None:
            return "-", True
        sync, asyncio_ = pick(ours) / pick(aws), pick(ours_aio) / pick(aws)
        met = (max(sync, asyncio_) <= 1.0) if lower_is_better else (min(sync, asyncio_) >= 1.0)
        return f"{sync:.2f}x / {asyncio_:.2f}x", met

    rows: list[tuple[str, ...]] = []
    for label, fraction in (("p50", 0.50), ("p99", 0.99)):
        shown, met = ratio(lambda f, q=fraction: _p(f.trips, q), True)
        rows.append(
            (
                f"round trip {label}, small UTF8 parts ({rounds} x {parts})",
                *cells(lambda f, q=fraction: _p(f.trips, q), _ms),
                shown,
                _verdict(met, "<= AWS's") if aws is not None else "",
            )
        )
    total = mib * MIB
    for label, pick in (("up", lambda f: total / f.up), ("down", lambda f: total / f.down)):
        shown, met = ratio(pick, False)
        rows.append(
            (
                f"throughput {label}, 32 KiB BINARY parts ({mib} MiB, median of {rounds})",
                *cells(pick, lambda v: f"{v / 1e6:.1f} MB/s"),
                shown,
                _verdict(met, ">= AWS's") if aws is not None else "",
            )
        )
    first, last = samples[0][1], samples[-1][1]
    rows.append(
        (
            f"RSS, {memory_mib} MiB echoed in 32 KiB parts (at {samples[0][0]} -> "
            f"{samples[-1][0]} MiB)",
            "-",
            "-",
            f"{first:.0f} -> {last:.0f} MiB",
            "-",
            f"{last - first:+.1f} MiB",
            _verdict(last - first <= FLAT_MIB, f"flat: <= {FLAT_MIB:.0f} MiB"),
        )
    )
    notes.append(
        "RSS samples (MiB received, RSS MiB): " + ", ".join(f"{a}:{r:.0f}" for a, r in samples)
    )
    header = (
        "bidirectional stream",
        "floor: raw awscrt",
        "AWS's client",
        "ours sync",
        "ours asyncio",
        "ours / AWS's (sync / asyncio)",
        "target",
    )
    return "\n".join([table(rows, header), *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, 16 MiB, 256 MiB")
    parser.add_argument("--parts", type=int, help="round trips per round (400; quick: 300)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(report(args.quick, args.parts))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()

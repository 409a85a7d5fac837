"""Shared benchmark plumbing: the server process, clients, timing and the table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.config import Config

from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime

HERE = Path(__file__).parent
CONFIG = Config(read_timeout=120, retries={"total_max_attempts": 1})


@contextmanager
def server_process(script: str = "_server.py") -> Iterator[tuple[str, int]]:
    """Start ``script`` (``_server.py``) in its own process; yield its URL and process id."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        yield process.stdout.readline().strip(), process.pid
    finally:
        process.stdin.close()
        process.wait(timeout=60)


@contextmanager
def local_server(script: str = "_server.py") -> Iterator[str]:
    """Start ``script`` (``_server.py``) in its own process; yield its URL."""
    with server_process(script) as (url, _pid):
        yield url


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far, from ``/proc``."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )


def raw_client(url: str):
    return session().client("sagemaker-runtime", endpoint_url=url, config=CONFIG)


def facade(url: str) -> SageMakerRuntime:
    return SageMakerRuntime(
        session=session(), endpoint_url=url, config=CONFIG, retry=RetryPolicy.disabled()
    )


def best_of(runs: int, work: Callable[[], float]) -> float:
    """The median of ``runs`` timings (seconds) of ``work``, after one warm-up."""
    work()
    return statistics.median(work() for _ in range(runs))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in rows
    ]
    return "\n".join([line, rule, *body])

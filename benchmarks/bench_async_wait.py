"""Waiting for async inference results: our waiter against the SageMaker SDK's polling.

    python benchmarks/bench_async_wait.py [--delays 1 5 30]

Runs against the local endpoint with moto's S3 server (no AWS). For each delay, a model
answers after that many seconds; two waiters wait for the same kind of job:

* ours: ``SageMakerRuntime.wait_for_async_result`` with its defaults (one loop, HEAD of
  the output and failure locations, 0.1 s doubling to 5 s, one HeadBucket).
* sdk: what ``AsyncInferenceResponse.get_result(WaiterConfig())`` of the SageMaker Python
  SDK does: two threads, each running boto3's ``object_exists`` waiter (HEAD every 15 s,
  60 attempts) on one location, while the main thread checks their events every second,
  then one GET. The losing thread is not stopped: it keeps polling to its 60th attempt.

Every S3 request is counted with botocore's ``before-send`` event on the waiter's client.
The scenarios run concurrently, so the whole run takes about as long as the slowest one.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from typed_sagemaker_runtime import InvokeAsyncResult, SageMakerRuntime
from typed_sagemaker_runtime._core._async_inference import parse_s3_uri
from typed_sagemaker_runtime.testing import InvocationRequest, LocalRuntime

SDK_DELAY = 15  # WaiterConfig(max_attempts=60, delay=15), the SDK's default
SDK_ATTEMPTS = 60


@dataclass
class Outcome:
    """One waiter on one job."""

    delay: float
    waiter: str
    requests: int
    seconds: float
    left_polling: int


class Counter:
    """Counts the S3 requests a client sends; thread-safe."""

    def __init__(self, client: Any) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.by_key: dict[str, int] = {}
        client.meta.events.register("before-send.s3", self._count)

    def _count(self, request: Any, **_: Any) -> None:
        with self._lock:
            self.total += 1
            key = request.url.rsplit("/", 1)[-1]
            self.by_key[key] = self.by_key.get(key, 0) + 1


def slow_model(request: InvocationRequest) -> bytes:
    time.sleep(float(request.body))
    return b'{"generated_text": "done"}'


def ours(local: LocalRuntime, smr: SageMakerRuntime, job: InvokeAsyncResult) -> tuple[int, int]:
    s3 = local.s3_client()
    counter = Counter(s3)
    try:
        smr.wait_for_async_result(job, s3_client=s3)
    finally:
        s3.close()
    return counter.total, 0


def sdk(local: LocalRuntime, _smr: SageMakerRuntime, job: InvokeAsyncResult) -> tuple[int, int]:
    s3: Any = local.s3_client()  # shared by both threads, as in the SDK
    counter = Counter(s3)
    output = parse_s3_uri(job["output_location"], field="output")
    failure = parse_s3_uri(job["failure_location"], field="failure")
    found = {"output": threading.Event(), "failure": threading.Event()}

    def watch(name: str, bucket: str, key: str) -> None:
        with contextlib.suppress(Exception):  # the loser dies when the benchmark stops S3
            s3.get_waiter("object_exists").wait(
                Bucket=bucket,
                Key=key,
                WaiterConfig={"Delay": SDK_DELAY, "MaxAttempts": SDK_ATTEMPTS},
            )
            found[name].set()

    for name, location in (("output", output), ("failure", failure)):
        threading.Thread(
            target=watch, args=(name, location.bucket, location.key), daemon=True
        ).start()
    while not (found["output"].is_set() or found["failure"].is_set()):
        time.sleep(1)
    s3.get_object(Bucket=output.bucket, Key=output.key)["Body"].read()
    total = counter.total
    loser_polls = counter.by_key.get(failure.key.rsplit("/", 1)[-1], 0)
    return total, SDK_ATTEMPTS - loser_polls


def scenario(
    local: LocalRuntime,
    delay: float,
    name: str,
    wait: Callable[[LocalRuntime, SageMakerRuntime, InvokeAsyncResult], tuple[int, int]],
) -> Outcome:
    with local.client() as smr:
        job = smr.invoke_async("slow", body=str(delay).encode())
        started = time.monotonic()
        requests, left = wait(local, smr, job)
        seconds = time.monotonic() - started
    return Outcome(delay, name, requests, seconds, left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delays", type=float, nargs="+", default=[1.0, 5.0, 30.0])
    args = parser.parse_args()
    delays: list[float] = args.delays
    waiters = [("ours (0.1 s doubling to 5 s)", ours), ("sdk (2 waiters, every 15 s)", sdk)]
    with LocalRuntime(async_workers=2 * len(delays)) as local:
        local.add_endpoint("slow", slow_model)
        _ = local.s3_endpoint_url  # start moto before timing anything
        with ThreadPoolExecutor(2 * len(delays)) as pool:
            futures = [
                pool.submit(scenario, local, delay, name, wait)
                for delay in delays
                for name, wait in waiters
            ]
            outcomes = [future.result() for future in futures]
    print("| result after | waiter | S3 requests to result | time to result | polls left running |")
    print("|---:|---|---:|---:|---:|")
    for outcome in outcomes:
        left = (
            f"{outcome.left_polling} HEADs over {outcome.left_polling * SDK_DELAY / 60:.0f} min"
            if outcome.left_polling
            else "none"
        )
        print(
            f"| {outcome.delay:g} s | {outcome.waiter} | {outcome.requests} "
            f"| {outcome.seconds:.1f} s | {left} |"
        )


if __name__ == "__main__":
    main()

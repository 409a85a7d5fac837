"""Soak under faults: many threads invoke and stream against a faulty local endpoint.

    python benchmarks/soak.py                 # 180 s
    python benchmarks/soak.py --seconds 600
    python benchmarks/soak.py --short         # about 30 s, for CI

The endpoint is a LocalRuntime on 127.0.0.1 in a child process (so this process holds
only client sockets). Each endpoint injects one kind of fault: error responses (with a
rate, some retried by the client), ModelStreamError events (also one after which the
server holds the body open), truncated and corrupt frames, bodies shorter than their
``Content-Length``, connection resets before and during the body, stalls longer than the
client's read timeout, slow tokens. Each thread loops until the deadline over random
endpoints and calls (``invoke``, ``stream`` read as events, ``stream().tokens()``, and a
stream that a watchdog thread closes while it is being read), and sometimes abandons a
stream half-way.

Every request carries a unique id that the endpoint echoes (in the invoke body, in every
stream part). Exits 1 unless, at the end:

* every call ended in a result or one of the library's typed exceptions
  (``SageMakerRuntimeError``), never a raw botocore/urllib3 one;
* no result or part carried another request's id;
* the client still works afterwards (20 plain calls succeed);
* open sockets stayed bounded (never more than threads + 2) and went back to the
  starting count once the client was closed;
* resident memory grew by less than ``--max-growth-mb`` between the end of the warm-up
  (a fifth of the run) and the end.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import random
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

THREADS = 8
POOL = 10
READ_TIMEOUT = 0.5


# --- the endpoint (child process) --------------------------------------------------------


def tgi_record(index: int, text: str) -> bytes:
    token = {"id": index, "text": text, "logprob": -0.25, "special": False}
    record = {"index": index, "token": token, "generated_text": None, "details": None}
    return b"data: " + json.dumps(record).encode() + b"\n\n"


def serve() -> None:
    from typed_sagemaker_runtime.testing import (
        ConnectionReset,
        CorruptFrame,
        EndpointResponse,
        ErrorResponse,
        InvocationRequest,
        LocalRuntime,
        ShortContentLength,
        SlowTokens,
        Stall,
        StreamErrorEvent,
        TruncatedFrame,
    )

    def handler(request: InvocationRequest) -> Any:
        if request.operation != "InvokeEndpointWithResponseStream":
            return request.body  # the echo carries the request's id
        asked = request.json()
        ident, parts = str(asked["id"]), int(asked["parts"])

        def records() -> Iterator[bytes]:
            for index in range(parts):
                yield tgi_record(index, f"{ident}:{index} ")

        return EndpointResponse(records(), content_type="text/event-stream")

    faults: dict[str, list[Any]] = {
        "ok": [],
        "errors": [
            ErrorResponse("ModelError", rate=0.3),
            ErrorResponse("ServiceUnavailable", rate=0.3),  # retried by the client
        ],
        "throttled": [ErrorResponse("ThrottlingException", rate=0.5)],
        "stream-error": [StreamErrorEvent(after_parts=3)],
        "stream-error-held": [StreamErrorEvent(after_parts=2, hold_seconds=READ_TIMEOUT * 3)],
        "short-length": [ShortContentLength(after_parts=2)],
        "truncated": [TruncatedFrame(after_parts=2)],
        "truncated-unclean": [TruncatedFrame(after_parts=2, clean_end=False)],
        "corrupt": [CorruptFrame(after_parts=2)],
        "reset": [ConnectionReset()],
        "reset-mid": [ConnectionReset(after_parts=2)],
        "stall": [Stall(READ_TIMEOUT * 3)],
        "stall-mid": [Stall(READ_TIMEOUT * 3, after_parts=1)],
        "slow": [SlowTokens(0.005)],
    }
    with LocalRuntime(seed=None, stop_timeout=10) as local:
        for name, endpoint_faults in faults.items():
            local.add_endpoint(name, handler, faults=endpoint_faults)
        print(local.endpoint_url, " ".join(faults), flush=True)
        stop = threading.Event()

        def forget() -> None:  # the runtime records every request: keep it bounded
            while not stop.wait(1.0):
                local.requests.clear()

        threading.Thread(target=forget, daemon=True).start()
        sys.stdin.read()
        stop.set()


# --- the client (this process) -----------------------------------------------------------


def sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.raw: list[str] = []
        self.mixups: list[str] = []

    def add(self, key: str) -> None:
        with self.lock:
            self.outcomes[key] += 1


def one_call(smr: Any, rng: random.Random, endpoints: list[str], tally: Tally) -> None:
    from typed_sagemaker_runtime import SageMakerRuntimeError

    endpoint = rng.choice(endpoints)
    kind = rng.choice(("invoke", "events", "tokens", "watchdog"))
    ident = f"{threading.get_ident():x}-{rng.getrandbits(64):016x}"
    parts = rng.randint(1, 8)
    try:
        if kind == "invoke":
            body = json.dumps({"id": ident, "pad": "x" * rng.randint(0, 4096)}).encode()
            result = smr.invoke(endpoint, body, inference_id=ident)
            if result["body"] != body:
                tally.mixups.append(f"invoke {ident} got {result['body'][:60]!r}")
        else:
            request = {"id": ident, "parts": parts}
            abandon = rng.random() < 0.15
            with smr.stream(endpoint, json=request, inference_id=ident) as stream:
                pieces = stream.tokens() if kind == "tokens" else stream.payloads()
                for count, piece in enumerate(pieces):
                    if kind == "watchdog" and count == 0:  # close() from another thread
                        threading.Timer(rng.random() * 0.05, stream.close).start()
                    text = piece if isinstance(piece, str) else piece.decode()
                    if ident not in text:
                        tally.mixups.append(f"{kind} {ident} got {text[:60]!r}")
                    if abandon and count >= parts // 2:
                        break
        tally.add(f"{kind} ok")
    except SageMakerRuntimeError as exc:
        tally.add(f"{kind} {type(exc).__name__}")
    except Exception:
        tally.add(f"{kind} RAW")
        tally.raw.append(traceback.format_exc())


def soak(url: str, endpoints: list[str], seconds: float, max_growth: float) -> int:
    from botocore.config import Config

    from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime
    from typed_sagemaker_runtime.testing._boto import dummy_session

    config = Config(read_timeout=READ_TIMEOUT, connect_timeout=2, max_pool_connections=POOL)
    smr = SageMakerRuntime(
        session=dummy_session("us-east-1"),
        endpoint_url=url,
        config=config,
        retry=RetryPolicy(initial_backoff=0.02, max_backoff=0.1),
    )
    gc.collect()
    sockets_before_client = sockets()
    smr.invoke("ok", b"{}")
    tally = Tally()
    deadline = time.monotonic() + seconds
    warm_until = time.monotonic() + seconds / 5
    samples: list[tuple[float, int, float]] = []  # (time, sockets, rss)
    stop = threading.Event()

    def monitor() -> None:
        start = time.monotonic()
        while not stop.wait(0.1):
            samples.append((time.monotonic() - start, sockets(), rss_mb()))

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            one_call(smr, rng, endpoints, tally)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    while time.monotonic() < warm_until:
        time.sleep(0.05)
    gc.collect()
    rss_warm = rss_mb()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    hung = sum(thread.is_alive() for thread in threads)
    # After all the faults the client still works: fresh calls succeed, on pooled sockets.
    recovered = 0
    for index in range(20):
        body = json.dumps({"id": f"after-{index}"}).encode()
        recovered += smr.invoke("ok", body)["body"] == body
    gc.collect()
    rss_end = rss_mb()
    stop.set()
    watcher.join()
    sockets_open_end = sockets()
    smr.close()
    gc.collect()
    sockets_closed = sockets()

    calls = sum(tally.outcomes.values())
    peak_sockets = max((s for _, s, _ in samples), default=0) - sockets_before_client
    print(f"soak: {seconds:.0f} s, {THREADS} threads, {calls:,} calls ({calls / seconds:,.0f}/s)")
    for key, count in sorted(tally.outcomes.items()):
        print(f"  {key:40} {count:7,}")
    checks = [
        (not tally.raw, f"raw (untyped) exceptions: {len(tally.raw)}"),
        (not tally.mixups, f"responses with another request's id: {len(tally.mixups)}"),
        (hung == 0, f"threads still running after the deadline: {hung}"),
        (recovered == 20, f"calls that succeeded after the soak: {recovered} of 20"),
        (
            peak_sockets <= THREADS + 2,
            f"peak client sockets: {peak_sockets} (bound: {THREADS} threads + 2)",
        ),
        (
            sockets_open_end - sockets_before_client <= POOL,
            f"client sockets at the end, before close(): "
            f"{sockets_open_end - sockets_before_client} (pool: {POOL})",
        ),
        (
            sockets_closed <= sockets_before_client,
            f"sockets after close(): {sockets_closed} (before the client: {sockets_before_client})",
        ),
        (
            rss_end - rss_warm <= max_growth,
            f"RSS after warm-up {rss_warm:.1f} MB, at the end {rss_end:.1f} MB "
            f"(growth {rss_end - rss_warm:+.1f} MB, bound {max_growth} MB)",
        ),
    ]
    failed = 0
    for ok, text in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
        failed += not ok
    for sample in tally.raw[:3] + tally.mixups[:3]:
        print(sample)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--short", action="store_true", help="30 s, for CI")
    parser.add_argument("--max-growth-mb", type=float, default=16.0)
    args = parser.parse_args()
    seconds = 30.0 if args.short else args.seconds
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        url, *endpoints = server.stdout.readline().split()
        assert url.startswith("http://127.0.0.1:"), url
        return soak(url, endpoints, seconds, args.max_growth_mb)
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(main())

"""Every benchmark in one run: a table of ratios against raw boto3, same run, same endpoint.

    python benchmarks/run_all.py            # the full run (about 2-3 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # fewer repeats and a 40 MB "long" stream
    python benchmarks/run_all.py --peers    # the peer table instead (see peers.py)

Bidirectional streams get a table of their own (``bidi.py``: against AWS's client and the
awscrt floor, on the local HTTP/2 listener), printed after the main one, and so does bulk
invocation (``bulk.py``: ``invoke_many`` against fixed concurrencies and a hand-written
thread pool on an endpoint of fixed capacity; its memory row takes a million records in
the full run, about 20 minutes on two cores, and 100,000 with ``--quick``).

The endpoint is ``_server.py`` (a LocalRuntime serving pre-encoded frames) in its own
process, on loopback. Import, client construction and peak memory are measured in fresh
subprocesses (median of several). Every ratio compares with raw boto3 measured in this
run, interleaved where it matters, so machine noise hits both sides alike.

Time to first token: the server puts the time of a shared clock
(``clock_gettime(CLOCK_MONOTONIC)``, system-wide on Linux) in the payload of the part it
is about to send; the client reads the same clock when its iterator yields that part.
The first part goes out with the response head (so the gap includes parsing the
response head); a second part follows 3 ms later, when the client is blocked in a read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable

from _common import CONFIG, best_of, facade, local_server, raw_client, table
from bench_request_cost import measure as request_cost_rows
from bench_stream import our_chunks, our_events, our_generation, our_tokens, raw_events

MIB = 1024 * 1024
# Compiled bytecode is cached (outside the tree), as it is for an installed package: with
# PYTHONDONTWRITEBYTECODE set, every import of the library would compile it from source.
ENV = {
    **{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "typed-sagemaker-runtime-pycache"),
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
Row = tuple[str, str, str, str, str]


def clock() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def run_python(code: str) -> list[float]:
    """Run ``code`` in a fresh interpreter; return the floats it prints."""
    out = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True
    ).stdout
    return [float(value) for value in out.split()]


def median_of(runs: int, code: str) -> list[float]:
    run_python(code)  # warm up: the bytecode cache and the disk cache
    results = [run_python(code) for _ in range(runs)]
    return [statistics.median(column) for column in zip(*results, strict=True)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def verdict(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'MISSED'}"


# --- import and construction ------------------------------------------------------------

_IMPORT = "import time\n{before}\nt = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t)"


def import_rows(runs: int) -> list[Row]:
    boto3_alone = median_of(runs, _IMPORT.format(before="", stmt="import boto3"))[0]
    root = median_of(
        runs, _IMPORT.format(before="import boto3", stmt="import typed_sagemaker_runtime")
    )[0]
    client = median_of(
        runs,
        _IMPORT.format(
            before="import boto3", stmt="from typed_sagemaker_runtime import SageMakerRuntime"
        ),
    )[0]
    return [
        (
            "import typed_sagemaker_runtime, on top of import boto3",
            f"import boto3: {ms(boto3_alone)}",
            f"+{ms(root)}",
            f"+{root / boto3_alone:.1%}",
            verdict(root <= 0.010, "<= 10 ms"),
        ),
        (
            "from typed_sagemaker_runtime import SageMakerRuntime, on top",
            f"import boto3: {ms(boto3_alone)}",
            f"+{ms(client)}",
            f"+{client / boto3_alone:.1%}",
            verdict(client <= 0.010, "<= 10 ms"),
        ),
    ]


_CLIENTS = """
import statistics, time
import boto3
{imports}
def make():
    return {make}
t = time.perf_counter(); make(); first = time.perf_counter() - t
further = []
for _ in range(20):
    t = time.perf_counter(); make(); further.append(time.perf_counter() - t)
print(first, statistics.median(further))
"""


# Further clients, in one process that built one of each first: raw and facade in turns,
# so that the machine's drift lands on both (the ratio is the median of the pairs).
_FURTHER = """
import statistics, time
import boto3
from typed_sagemaker_runtime import SageMakerRuntime
boto3.client("sagemaker-runtime"); SageMakerRuntime()
raw, ours, ratios = [], [], []
for _ in range(40):
    t = time.perf_counter(); boto3.client("sagemaker-runtime"); r = time.perf_counter() - t
    t = time.perf_counter(); SageMakerRuntime(); o = time.perf_counter() - t
    raw.append(r); ours.append(o); ratios.append(o / r)
print(statistics.median(raw), statistics.median(ours), statistics.median(ratios))
"""


def client_rows(runs: int) -> list[Row]:
    raw_first, _ = median_of(
        runs,
        _CLIENTS.format(imports="", make='boto3.client("sagemaker-runtime")'),
    )
    raw_more, our_more, more_ratio = median_of(runs, _FURTHER)
    our_first, _ = median_of(
        runs,
        _CLIENTS.format(
            imports="from typed_sagemaker_runtime import SageMakerRuntime",
            make="SageMakerRuntime()",
        ),
    )
    # The same raw construction in a process that imported the library too: what is left
    # is the constructor's own cost (the first client is slower after any large import).
    same_first, _ = median_of(
        runs,
        _CLIENTS.format(
            imports="from typed_sagemaker_runtime import SageMakerRuntime",
            make='boto3.client("sagemaker-runtime")',
        ),
    )
    return [
        (
            "client construction, first in a process",
            ms(raw_first),
            ms(our_first),
            f"{our_first / raw_first:.3f}x time",
            verdict(our_first / raw_first <= 1.05, "<= 1.05x"),
        ),
        (
            "  same, raw boto3.client after importing the library too",
            ms(same_first),
            ms(our_first),
            f"{our_first / same_first:.3f}x time",
            verdict(our_first / same_first <= 1.05, "<= 1.05x"),
        ),
        (
            "client construction, further clients (in turns, one process)",
            ms(raw_more),
            ms(our_more),
            f"{more_ratio:.3f}x time",
            verdict(more_ratio <= 1.05, "<= 1.05x"),
        ),
    ]


# --- invoke ------------------------------------------------------------------------------


def invoke_rows(raw, smr, rounds: int) -> list[Row]:
    rows: list[Row] = []
    for label, size, calls in (("1 KB", 1024, 200), ("5 MB", 5 * MIB, 8)):
        body = os.urandom(size)

        def raw_call(body: bytes = body) -> None:
            response = raw.invoke_endpoint(
                EndpointName="echo", Body=body, ContentType="application/octet-stream"
            )
            assert len(response["Body"].read()) == len(body)

        def our_call(body: bytes = body) -> None:
            result = smr.invoke("echo", body, content_type="application/octet-stream")
            assert len(result["body"]) == len(body)

        raw_times, our_times = interleaved(rounds, calls, raw_call, our_call)
        ratio = statistics.median(o / r for o, r in zip(our_times, raw_times, strict=True))
        rows.append(
            (
                f"invoke round trip, {label} echo (per call)",
                ms(statistics.median(raw_times)),
                ms(statistics.median(our_times)),
                f"{ratio:.3f}x time",
                verdict(ratio <= 1.02, "<= 1.02x"),
            )
        )
    return rows


def interleaved(
    rounds: int, calls: int, raw: Callable[[], None], ours: Callable[[], None]
) -> tuple[list[float], list[float]]:
    """Per-call seconds of each round, raw and ours alternating (and alternating first)."""
    raw(), ours()
    raw_times: list[float] = []
    our_times: list[float] = []
    for index in range(rounds):
        pair = [(raw, raw_times), (ours, our_times)]
        for work, times in pair if index % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            for _ in range(calls):
                work()
            times.append((time.perf_counter() - start) / calls)
    return raw_times, our_times


# --- streams -----------------------------------------------------------------------------

STREAMS = {  # name: (label, events, payload bytes per event, target speed-up)
    "tiny-packed": ("100k x 20 B parts, packed in 64 KB chunks", 100_000, 20, 2.5),
    "tiny-chunked": ("20k x 20 B parts, one HTTP chunk each", 20_000, 20, 2.0),
    "large": ("1k x 64 KB parts", 1_000, 65536, 1.0),
}


def paired(
    runs: int, raw_work: Callable[[], float], our_work: Callable[[], float]
) -> tuple[float, float, float]:
    """Median seconds of each side, and the median of the per-pair ratios raw/ours.

    Raw and ours run in turns (and take turns going first), so a burst of load from
    elsewhere on the machine lands on both sides instead of skewing one.
    """
    raw_work(), our_work()
    pairs: list[tuple[float, float]] = []
    for index in range(runs):
        if index % 2:
            raw_time = raw_work()
            pairs.append((raw_time, our_work()))
        else:
            our_time = our_work()
            pairs.append((raw_work(), our_time))
    return (
        statistics.median(r for r, _ in pairs),
        statistics.median(o for _, o in pairs),
        statistics.median(r / o for r, o in pairs),
    )


def stream_rows(raw, smr, runs: int) -> list[Row]:
    rows: list[Row] = []
    for name, (label, events, size, target) in STREAMS.items():
        raw_time, our_time, ratio = paired(
            runs,
            lambda name=name: raw_events(raw, name),
            lambda name=name: our_events(smr, name),
        )
        rows.append(
            (
                f"stream events, {label}",
                f"{events / raw_time:,.0f} ev/s ({events * size / raw_time / 1e6:,.0f} MB/s)",
                f"{events / our_time:,.0f} ev/s ({events * size / our_time / 1e6:,.0f} MB/s)",
                f"{ratio:.2f}x speed",
                verdict(ratio >= target, f">= {target}x"),
            )
        )
    # 5 MB of payload in 1 KB HTTP chunks, as 5 x 1 MB parts and as 1 x 5 MB part.
    raw_1 = best_of(max(2, runs // 2), lambda: raw_events(raw, "parts-1mb-in-1kb"))
    raw_5 = best_of(max(2, runs // 2), lambda: raw_events(raw, "parts-5mb-in-1kb"))
    our_1 = best_of(runs, lambda: our_events(smr, "parts-1mb-in-1kb"))
    our_5 = best_of(runs, lambda: our_events(smr, "parts-5mb-in-1kb"))
    rows.append(
        (
            "stream, 5 MB part in 1 KB reads",
            f"{5 * MIB / raw_5 / 1e6:,.0f} MB/s",
            f"{5 * MIB / our_5 / 1e6:,.0f} MB/s",
            f"{raw_5 / our_5:.2f}x speed",
            verdict(raw_5 / our_5 >= 1.0, ">= 1.0x"),
        )
    )
    rows.append(
        (
            "  same bytes: time(1 x 5 MB) / time(5 x 1 MB parts)",
            f"{raw_5 / raw_1:.2f}",
            f"{our_5 / our_1:.2f}",
            "",
            verdict(our_5 / our_1 <= 1.5, "ours <= 1.5 (quadratic: ~5)"),
        )
    )
    tgi_events = 20_000
    raw_time, event_time, event_ratio = paired(
        runs, lambda: raw_events(raw, "tgi"), lambda: our_events(smr, "tgi")
    )
    raw_time_2, token_time, token_ratio = paired(
        runs, lambda: raw_events(raw, "tgi"), lambda: our_tokens(smr, "tgi")
    )
    rows.append(
        (
            "TGI stream (20k records): raw events vs our events",
            f"{tgi_events / raw_time:,.0f} ev/s",
            f"{tgi_events / event_time:,.0f} ev/s",
            f"{event_ratio:.2f}x speed",
            "",
        )
    )
    rows.append(
        (
            "TGI stream: raw `for event in body` vs our tokens()",
            f"{tgi_events / raw_time_2:,.0f} ev/s",
            f"{tgi_events / token_time:,.0f} tokens/s",
            f"{token_ratio:.2f}x speed",
            verdict(token_ratio >= 1.0, ">= 1.0x"),
        )
    )
    rows += llm_rows(raw, smr, runs)
    return rows


def llm_rows(raw, smr, runs: int) -> list[Row]:
    """chunks() and generation() on a 20k-record TGI stream and an OpenAI chat stream."""
    rows: list[Row] = []
    records = 20_000
    for name, label in (("tgi", "TGI stream"), ("openai-chat", "OpenAI chat stream")):
        for method, measure in (("chunks()", our_chunks), ("generation()", our_generation)):
            raw_time, our_time, ratio = paired(
                runs,
                lambda name=name: raw_events(raw, name),
                lambda name=name, measure=measure: measure(smr, name),
            )
            rows.append(
                (
                    f"{label} (20k records): raw `for event in body` vs our {method}",
                    f"{records / raw_time:,.0f} ev/s",
                    f"{records / our_time:,.0f} records/s",
                    f"{ratio:.2f}x speed",
                    verdict(ratio >= 1.0, ">= 1.0x") if method == "chunks()" else "",
                )
            )
    return rows


def ttft_rows(raw, smr, samples: int) -> list[Row]:
    def raw_once() -> tuple[float, float, float]:
        start = clock()
        response = raw.invoke_endpoint_with_response_stream(EndpointName="ttft", Body=b"{}")
        events = iter(response["Body"])
        first = next(events)
        first_at = clock()
        second = next(events)
        second_at = clock()
        assert sum(1 for _ in events) == 0
        return (
            first_at - float(first["PayloadPart"]["Bytes"]),
            second_at - float(second["PayloadPart"]["Bytes"]),
            first_at - start,
        )

    def our_once() -> tuple[float, float, float]:
        start = clock()
        with smr.stream("ttft", b"{}") as stream:
            events = iter(stream)
            first = next(events)
            first_at = clock()
            second = next(events)
            second_at = clock()
            assert sum(1 for _ in events) == 0
        return first_at - float(first.data), second_at - float(second.data), first_at - start

    raw_once(), our_once()
    raw_samples: list[tuple[float, float, float]] = []
    our_samples: list[tuple[float, float, float]] = []
    for index in range(samples):
        if index % 2:
            raw_samples.append(raw_once())
            our_samples.append(our_once())
        else:
            our_samples.append(our_once())
            raw_samples.append(raw_once())
    rows: list[Row] = []
    labels = (
        "time to first token: server sends part 1 (with head) -> yielded",
        "  part 2, sent 3 ms later -> yielded",
        "  call -> first part yielded (whole request)",
    )
    for column, label in enumerate(labels):
        raw_median = statistics.median(s[column] for s in raw_samples)
        our_median = statistics.median(s[column] for s in our_samples)
        rows.append(
            (
                label,
                ms(raw_median),
                ms(our_median),
                f"{(our_median - raw_median) * 1000:+.3f} ms",
                verdict(our_median - raw_median <= 0.0005, "within +0.5 ms") if column < 2 else "",
            )
        )
    return rows


# --- memory ------------------------------------------------------------------------------


def memory_child(kind: str, url: str, megabytes: int) -> None:
    """Print the peak of Python memory (MB) allocated by one workload, in a fresh process."""
    if kind.startswith("raw"):
        client = raw_client(url)
        client.invoke_endpoint(EndpointName="echo", Body=b"warm up")["Body"].read()
    else:
        smr = facade(url)
        smr.invoke("echo", b"warm up")
        with smr.stream("tgi-sized", json={"megabytes": 0}) as stream:
            list(stream.tokens())  # the decoders load on first use: not the workload's memory
    body = os.urandom(megabytes * MIB) if kind.endswith("invoke") else b""
    # ru_maxrss would hide the workload under the peak of loading botocore's models;
    # tracemalloc counts what the workload allocates (every buffer is a Python object).
    tracemalloc.start()
    if kind == "raw-invoke":
        response = client.invoke_endpoint(EndpointName="echo", Body=body)
        assert len(response["Body"].read()) == len(body)
    elif kind == "our-invoke":
        assert len(smr.invoke("echo", body)["body"]) == len(body)
    elif kind == "raw-stream":
        response = client.invoke_endpoint_with_response_stream(
            EndpointName="tgi-sized", Body=f'{{"megabytes": {megabytes}}}'.encode()
        )
        assert sum(1 for _ in response["Body"]) > 0
    elif kind == "our-tokens":
        with smr.stream("tgi-sized", json={"megabytes": megabytes}) as stream:
            assert sum(1 for _ in stream.tokens()) > 0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(peak / MIB)


def memory_rows(url: str, stream_megabytes: int, runs: int) -> list[Row]:
    def peak(kind: str, megabytes: int, runs: int = runs) -> float:
        samples = [
            run_python_file(["--memory-child", kind, url, str(megabytes)]) for _ in range(runs)
        ]
        return statistics.median(samples)

    raw_stream = peak("raw-stream", stream_megabytes, 1)
    our_stream = peak("our-tokens", stream_megabytes, 1)
    raw_invoke = peak("raw-invoke", 5)
    our_invoke = peak("our-invoke", 5)
    return [
        (
            f"peak traced memory, {stream_megabytes} MB TGI stream (raw events / our tokens())",
            f"+{raw_stream:.1f} MB",
            f"+{our_stream:.1f} MB",
            f"{our_stream - raw_stream:+.1f} MB",
            verdict(our_stream <= 1.0, "flat: < 1 MB"),
        ),
        (
            "peak traced memory, 5 MB invoke echo",
            f"+{raw_invoke:.1f} MB",
            f"+{our_invoke:.1f} MB",
            f"{our_invoke - raw_invoke:+.1f} MB",
            verdict(our_invoke <= raw_invoke * 1.01, "<= raw"),
        ),
    ]


def run_python_file(args: list[str]) -> float:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=ENV, capture_output=True, text=True, check=True
    ).stdout
    return float(out.split()[-1])


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a 40 MB stream")
    parser.add_argument(
        "--peers", action="store_true", help="the table against peer libraries (peers.py)"
    )
    args = parser.parse_args()
    quick: bool = args.quick
    if args.peers:
        import peers

        peers.main(quick)
        return
    rows: list[Row] = []
    started = time.perf_counter()
    print("import and client construction (fresh processes)...", file=sys.stderr)
    rows += import_rows(5 if quick else 9)
    rows += client_rows(3 if quick else 5)
    print("client CPU per call...", file=sys.stderr)
    rows += request_cost_rows(5 if quick else 15, 200)
    with local_server() as url:
        raw, smr = raw_client(url), facade(url)
        assert CONFIG.read_timeout == 120
        print("invoke...", file=sys.stderr)
        rows += invoke_rows(raw, smr, 5 if quick else 15)
        print("time to first token...", file=sys.stderr)
        rows += ttft_rows(raw, smr, 100 if quick else 300)
        print("stream throughput...", file=sys.stderr)
        rows += stream_rows(raw, smr, 5 if quick else 9)
        print("peak memory (fresh processes)...", file=sys.stderr)
        rows += memory_rows(url, 40 if quick else 200, 1 if quick else 3)
        smr.close()
        raw.close()
    print(table(rows, ("measure", "raw boto3", "typed-sagemaker-runtime", "ratio", "target")))
    print("bidirectional streams...", file=sys.stderr)
    try:
        import bidi
    except ImportError as missing:  # awscrt (the bidi extra), h2 or trustme (local)
        print(f"\nbidirectional streams left out: {missing}")
    else:
        print()
        print(bidi.report(quick))
    print("bulk invocation...", file=sys.stderr)
    import bulk

    print()
    print(bulk.report(quick))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()

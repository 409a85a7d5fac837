"""Stream throughput: raw boto3 against the facade's events and tokens(), in one run.

    python benchmarks/bench_stream.py

Serves pre-encoded streams from a local endpoint in another process and prints
events/s, MB/s and ratios to raw boto3 measured in the same run; then checks that
tokens() is linear in stream length and that its memory stays flat for a 200 MB stream.
"""

from __future__ import annotations

import resource
import subprocess
import sys

from _common import best_of, facade, local_server, raw_client, table, timed

RUNS = 5
STREAMS = {  # name: (events, payload bytes per event)
    "tiny-packed": (100_000, 20),
    "tiny-chunked": (20_000, 20),
    "large": (1_000, 65536),
}


def raw_events(client, name: str) -> float:
    def work() -> None:
        response = client.invoke_endpoint_with_response_stream(EndpointName=name, Body=b"{}")
        count = sum(1 for _ in response["Body"])
        assert count > 0

    return timed(work)


def our_events(smr, name: str) -> float:
    def work() -> None:
        with smr.stream(name, b"{}") as stream:
            count = sum(1 for _ in stream)
        assert count > 0

    return timed(work)


def our_tokens(smr, name: str, body: bytes = b"{}") -> float:
    def work() -> None:
        with smr.stream(name, body) as stream:
            count = sum(1 for _ in stream.tokens())
        assert count > 0

    return timed(work)


def our_chunks(smr, name: str) -> float:
    def work() -> None:
        with smr.stream(name, b"{}") as stream:
            count = sum(1 for _ in stream.chunks())
        assert count > 0

    return timed(work)


def our_generation(smr, name: str) -> float:
    def work() -> None:
        with smr.stream(name, b"{}") as stream:
            generation = stream.generation()
        assert generation.text

    return timed(work)


def memory_child(url: str, megabytes: int) -> None:
    """Consume a stream of ``megabytes`` with tokens(); print the peak RSS growth in MB."""
    smr = facade(url)
    smr.invoke("echo", b"warm up")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with smr.stream("tgi-sized", json={"megabytes": megabytes}) as stream:
        tokens = sum(1 for _ in stream.tokens())
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{tokens} {(after - before) / 1024:.1f}")


def main() -> None:
    with local_server() as url:
        raw, smr = raw_client(url), facade(url)
        rows = []
        for name, (events, size) in STREAMS.items():
            raw_time = best_of(RUNS, lambda name=name: raw_events(raw, name))
            our_time = best_of(RUNS, lambda name=name: our_events(smr, name))
            rows.append(
                (
                    f"events, {name} ({events:,} x {size} B)",
                    f"{events / raw_time:,.0f}/s ({events * size / raw_time / 1e6:,.0f} MB/s)",
                    f"{events / our_time:,.0f}/s ({events * size / our_time / 1e6:,.0f} MB/s)",
                    f"{raw_time / our_time:.2f}x",
                )
            )
        tgi_events = 20_000
        raw_time = best_of(RUNS, lambda: raw_events(raw, "tgi"))
        event_time = best_of(RUNS, lambda: our_events(smr, "tgi"))
        token_time = best_of(RUNS, lambda: our_tokens(smr, "tgi"))
        rows.append(
            (
                "TGI stream: raw events vs our events",
                f"{tgi_events / raw_time:,.0f}/s",
                f"{tgi_events / event_time:,.0f}/s",
                f"{raw_time / event_time:.2f}x",
            )
        )
        rows.append(
            (
                "TGI stream: raw events vs our tokens()",
                f"{tgi_events / raw_time:,.0f}/s",
                f"{tgi_events / token_time:,.0f} tokens/s",
                f"{raw_time / token_time:.2f}x",
            )
        )
        rows.append(
            (
                "tokens() cost over our own event iteration",
                "",
                "",
                f"{token_time / event_time:.2f}x time",
            )
        )
        print(table(rows, ("measure", "raw boto3", "typed-sagemaker-runtime", "ratio")))

        print("\nLinearity of tokens() (same records, longer streams):")
        lines = []
        for megabytes in (10, 20, 40):
            body = f'{{"megabytes": {megabytes}}}'.encode()
            seconds = best_of(3, lambda body=body: our_tokens(smr, "tgi-sized", body))
            lines.append(
                (f"{megabytes} MB", f"{seconds:.2f} s", f"{seconds / megabytes * 1000:.1f} ms/MB")
            )
        print(table(lines, ("stream", "tokens()", "per MB")))

        print("\nPeak memory of tokens() (a fresh process each):")
        mem_rows = []
        for megabytes in (20, 200):
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", url, str(megabytes)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            mem_rows.append((f"{megabytes} MB", f"{int(out[0]):,}", f"+{out[1]} MB"))
        print(table(mem_rows, ("stream", "tokens", "peak RSS growth")))
        smr.close()
        raw.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], int(sys.argv[3]))
    else:
        main()

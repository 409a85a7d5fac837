"""The cost of the OpenTelemetry instrumentation per call: off, no SDK, and recording.

    python benchmarks/bench_telemetry.py          # about 30 s
    python benchmarks/bench_telemetry.py --quick

Three facade clients against the same local endpoint (``_server.py``, its own process):
``instrument=False``; the default with the OpenTelemetry API installed but no SDK
configured (the API's proxy providers: what most users without tracing run); and an SDK
``TracerProvider`` and ``MeterProvider`` with in-memory exporters (a span and the
metrics recorded for every call). Rounds are interleaved so machine noise hits all three
alike. Client CPU time (``time.process_time``; the server runs in another process) is
reported beside wall time: on a loaded machine it is the steadier of the two.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from _common import CONFIG, local_server, session, table
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from typed_sagemaker_runtime import RetryPolicy, SageMakerRuntime


def client(url: str, **options: object) -> SageMakerRuntime:
    return SageMakerRuntime(
        session=session(),
        endpoint_url=url,
        config=CONFIG,
        retry=RetryPolicy.disabled(),
        **options,  # type: ignore[arg-type]
    )


def measure(work: Callable[[], object], calls: int) -> tuple[float, float]:
    """Wall and CPU seconds per call of ``work``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        work()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    with local_server() as url:
        clients = {
            "off (instrument=False)": client(url, instrument=False),
            "on, no SDK configured": client(url),
            "on, SDK recording": client(
                url, tracer_provider=tracer_provider, meter_provider=meter_provider
            ),
        }

        def invoke(size: int) -> Callable[[SageMakerRuntime], Callable[[], object]]:
            body = b"x" * size

            def make(smr: SageMakerRuntime) -> Callable[[], object]:
                return lambda: smr.invoke("echo", body, content_type="application/octet-stream")

            return make

        def tokens(smr: SageMakerRuntime) -> Callable[[], object]:
            def work() -> None:
                with smr.stream("tgi", b"{}") as stream:
                    assert sum(1 for _ in stream.tokens()) == 20_000

            return work

        def chunks(smr: SageMakerRuntime) -> Callable[[], object]:
            def work() -> None:
                with smr.chat_stream("openai-chat", [{"role": "user", "content": "x"}]) as s:
                    assert s.generation().usage is not None

            return work

        cases: list[tuple[str, Callable[[SageMakerRuntime], Callable[[], object]], int]] = [
            ("invoke 1 KB echo (per call)", invoke(1024), 200),
            ("invoke 5 MB echo (per call)", invoke(5 * 1024 * 1024), 8),
            ("stream, tokens() of 20,000 TGI records (per stream)", tokens, 2),
            ("chat_stream, generation() of 20,000 OpenAI chunks (per stream)", chunks, 2),
        ]
        rows: list[tuple[str, ...]] = []
        for label, make, calls in cases:
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
            for smr in clients.values():
                measure(make(smr), max(1, calls // 10))  # warm up
            for _ in range(rounds):
                for name, smr in clients.items():
                    results[name].append(measure(make(smr), calls))
                    spans.clear()
            base_wall = statistics.median(wall for wall, _ in results["off (instrument=False)"])
            base_cpu = statistics.median(cpu for _, cpu in results["off (instrument=False)"])
            for name, samples in results.items():
                wall = statistics.median(w for w, _ in samples)
                cpu = statistics.median(c for _, c in samples)
                rows.append(
                    (
                        label,
                        name,
                        f"{wall * 1000:.3f} ms",
                        f"{cpu * 1000:.3f} ms",
                        f"{(wall - base_wall) * 1e6:+.0f} us",
                        f"{(cpu - base_cpu) * 1e6:+.0f} us",
                    )
                )
        for smr in clients.values():
            smr.close()
    print(
        table(
            rows,
            ("measure", "instrumentation", "wall", "client CPU", "wall vs off", "CPU vs off"),
        )
    )
    tracer_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    main()

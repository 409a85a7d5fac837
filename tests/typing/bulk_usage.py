"""Realistic bulk-invocation code, checked by mypy --strict and pyright strict (never run).

Every ``assert_type`` pins what a user's type checker sees of ``invoke_many``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

from typing_extensions import assert_type

from typed_sagemaker_runtime import (
    AsyncInvokeMany,
    AsyncSageMakerRuntime,
    InvokeMany,
    InvokeManyStats,
    InvokeOutcome,
    InvokeResult,
    ModelError,
    SageMakerRuntime,
    SageMakerRuntimeError,
)


def rows() -> Iterator[dict[str, object]]:
    yield {"inputs": "hello"}


def score(smr: SageMakerRuntime) -> dict[int, bytes]:
    scored: dict[int, bytes] = {}
    with smr.invoke_many("ep", json=rows(), concurrency="auto", max_concurrency=32) as run:
        assert_type(run, InvokeMany)
        for outcome in run:
            assert_type(outcome, InvokeOutcome)
            assert_type(outcome.index, int)
            assert_type(outcome.result, "InvokeResult | None")
            assert_type(outcome.error, SageMakerRuntimeError | None)
            if outcome.result is not None:
                scored[outcome.index] = outcome.result["body"]
            elif isinstance(outcome.error, ModelError):
                assert_type(outcome.error.original_status_code, "int | None")
        stats = run.stats
        assert_type(stats, InvokeManyStats)
        assert_type(stats.records_per_second, float)
        assert_type(stats.concurrency, int)
        run.stop()
    return scored


def score_lines(smr: SageMakerRuntime, lines: list[str]) -> None:
    run = smr.invoke_many(
        "ep", lines, concurrency=8, ordered=False, content_type="text/csv", accept="text/csv"
    )
    try:
        for outcome in run:
            result: InvokeResult | None = outcome.result
            print(json.dumps({"index": outcome.index, "ok": result is not None}))
    finally:
        run.close()


async def arows() -> AsyncIterator[bytes]:
    yield b"{}"


async def score_async(smr: AsyncSageMakerRuntime) -> int:
    done = 0
    async with smr.invoke_many("ep", arows(), content_type="application/json") as run:
        assert_type(run, AsyncInvokeMany)
        async for outcome in run:
            assert_type(outcome, InvokeOutcome)
            done += outcome.error is None
        assert_type(run.stats, InvokeManyStats)
    other = smr.invoke_many("ep", json=[1, 2, None])
    await other.aclose()
    return done

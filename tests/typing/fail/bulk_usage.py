"""Misuse of bulk invocation a type checker must reject (one error per marked line).

Checked by tests/test_typing.py with mypy --strict and pyright strict.
"""

from __future__ import annotations

from typed_sagemaker_runtime import AsyncSageMakerRuntime, SageMakerRuntime


def misuse(smr: SageMakerRuntime) -> None:
    smr.invoke_many("ep", [b"x"], concurrency="max")  # expect-error
    smr.invoke_many("ep", [1, 2])  # expect-error
    smr.invoke_many("ep", [b"x"], max_concurency=4)  # expect-error
    smr.invoke_many("ep", [b"x"], 8)  # expect-error
    with smr.invoke_many("ep", [b"x"]) as run:
        for outcome in run:
            outcome.result["body"]  # expect-error
            outcome.body  # expect-error
        run.stats.throughput  # expect-error
        run.aclose()  # expect-error


async def misuse_async(smr: AsyncSageMakerRuntime) -> None:
    await smr.invoke_many("ep", [b"x"])  # expect-error
    async with smr.invoke_many("ep", [b"x"]) as run:
        for _outcome in run:  # expect-error
            pass
        run.close()  # expect-error

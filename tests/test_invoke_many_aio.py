"""What only ``AsyncSageMakerRuntime.invoke_many`` has: async iterable input, tasks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from typed_sagemaker_runtime import RetryPolicy
from typed_sagemaker_runtime.testing import InvocationRequest, LocalRuntime

pytest.importorskip("aiobotocore")

NO_WAIT = RetryPolicy(initial_backoff=0)


def _other_tasks() -> set[asyncio.Task[object]]:
    """Tasks but this one and the ``wait_for`` around it (its own task before 3.12)."""
    here = asyncio.current_task()
    return {
        task
        for task in asyncio.all_tasks()
        if task is not here and "wait_for" not in repr(task.get_coro())
    }


def test_an_async_iterable_is_read_lazily_and_yields_in_order(local: LocalRuntime) -> None:
    read = 0

    async def records() -> AsyncIterator[str]:
        nonlocal read
        for index in range(40):
            read += 1
            await asyncio.sleep(0)
            yield str(index)

    async def main() -> list[bytes]:
        bodies = []
        async with (
            local.async_client(retry=NO_WAIT) as smr,
            smr.invoke_many("echo", records(), concurrency=2) as run,
        ):
            assert read == 0
            async for outcome in run:
                assert outcome.result is not None
                assert read - outcome.index - 1 <= 4
                bodies.append(outcome.result["body"])
        assert _other_tasks() == set()
        return bodies

    assert asyncio.run(main()) == [str(i).encode() for i in range(40)]


def test_a_slow_producer_does_not_hold_up_answers_already_in(local: LocalRuntime) -> None:
    async def main() -> list[int]:
        release = asyncio.Event()

        async def records() -> AsyncIterator[bytes]:
            yield b"first"
            await release.wait()  # held until the first answer is out
            yield b"second"

        order = []
        async with (
            local.async_client(retry=NO_WAIT) as smr,
            smr.invoke_many("echo", records()) as run,
        ):
            async for outcome in run:
                order.append(outcome.index)
                release.set()
        return order

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [0, 1]


def test_the_async_inputs_error_comes_after_what_was_read(local: LocalRuntime) -> None:
    async def records() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"
        raise KeyError("input broke")

    async def main() -> list[int]:
        seen = []
        async with local.async_client(retry=NO_WAIT) as smr:
            run = smr.invoke_many("echo", records())
            with pytest.raises(KeyError, match="input broke"):
                async for outcome in run:
                    seen.append(outcome.index)
            assert _other_tasks() == set()
        return seen

    assert asyncio.run(main()) == [0, 1]


def test_aclose_cancels_what_is_in_flight_and_leaves_no_task(local: LocalRuntime) -> None:
    started = 0

    def slow(request: InvocationRequest) -> bytes:
        nonlocal started
        started += 1
        if request.body != b"0":
            import time

            time.sleep(0.5)
        return request.body

    local.add_endpoint("slow", slow)

    async def main() -> None:
        async with local.async_client(retry=NO_WAIT) as smr:
            run = smr.invoke_many("slow", [str(i).encode() for i in range(100)], concurrency=8)
            first = await run.__anext__()
            assert first.index == 0
            assert run.stats.in_flight > 0
            await run.aclose()
            assert _other_tasks() == set()
            assert run.stats.in_flight == 0
            with pytest.raises(StopAsyncIteration):
                await run.__anext__()
            await run.aclose()  # idempotent

    asyncio.run(asyncio.wait_for(main(), 20))
    assert started <= 16


def test_aclose_from_another_task_ends_an_iteration_waiting_for_answers(
    local: LocalRuntime,
) -> None:
    import threading

    gate = threading.Event()

    def held(request: InvocationRequest) -> bytes:
        gate.wait(10)
        return request.body

    local.add_endpoint("held", held)

    async def main() -> list[object]:
        async with local.async_client(retry=NO_WAIT) as smr:
            run = smr.invoke_many("held", [b"x"] * 50, concurrency=4)

            async def close_soon() -> None:
                await asyncio.sleep(0.3)
                await run.aclose()

            closer = asyncio.create_task(close_soon())
            seen = [outcome async for outcome in run]
            await closer
            assert _other_tasks() == set()
            gate.set()
            return seen

    assert asyncio.run(asyncio.wait_for(main(), 10)) == []

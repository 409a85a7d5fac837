"""``invoke_many`` under hostile input and interruption, on both clients, over real HTTP.

Each test states one promise of section 12 that a review once found broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
from collections.abc import AsyncIterator

import pytest

from _twins import Clients
from typed_sagemaker_runtime import ClientValidationError, RetryPolicy
from typed_sagemaker_runtime.testing import LocalRuntime, Stall

NO_WAIT = RetryPolicy(initial_backoff=0)


class UnreadableFile(io.RawIOBase):
    """A binary file whose every read fails."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        raise OSError("the disk is gone")


class FailsOnceSending(io.RawIOBase):
    """A binary, unseekable file that reads as empty once (when checked), then fails."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        self.reads += 1
        if self.reads > 1:
            raise OSError("the disk is gone")
        return 0


class UnsureSeekable(io.BytesIO):
    """A file that cannot say whether it is seekable."""

    def seekable(self) -> bool:
        raise OSError("no idea")


def _kinds(outcomes: list[object]) -> list[tuple[int, str]]:
    return [
        (o.index, "ok" if o.error is None else type(o.error).__name__)  # type: ignore[attr-defined]
        for o in outcomes
    ]


def test_a_file_that_cannot_be_read_is_its_records_error(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = [b"a", UnreadableFile(), b"c"]
    with smr.invoke_many("echo", records, concurrency=2) as run:
        outcomes = list(run)
    assert _kinds(outcomes) == [(0, "ok"), (1, "ClientValidationError"), (2, "ok")]
    error = outcomes[1].error
    assert isinstance(error, ClientValidationError)
    assert error.field == "bodies[1]"


def test_a_file_that_fails_while_sent_is_its_records_error(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = [b"a", FailsOnceSending(), b"c"]
    with smr.invoke_many("echo", records, concurrency=2) as run:
        outcomes = list(run)
    assert _kinds(outcomes) == [(0, "ok"), (1, "ClientValidationError"), (2, "ok")]
    assert outcomes[1].error is not None
    assert getattr(outcomes[1].error, "field", None) == "bodies[1]"


def test_a_file_that_cannot_say_if_it_is_seekable_is_sent_once(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    with smr.invoke_many("echo", [b"a", UnsureSeekable(b"b")], concurrency=2) as run:
        outcomes = list(run)
    assert _kinds(outcomes) == [(0, "ok"), (1, "ok")]
    assert outcomes[1].result is not None
    assert outcomes[1].result["body"] == b"b"


def test_a_dropped_async_run_leaves_no_task_behind(local: LocalRuntime) -> None:
    pytest.importorskip("aiobotocore")
    local.add_endpoint("stall", faults=[Stall(30)])

    async def drop_midway() -> int:
        async with local.async_client(retry=NO_WAIT) as smr:

            async def records() -> AsyncIterator[bytes]:
                while True:
                    yield b"x"

            run = smr.invoke_many("stall", records(), concurrency=4)
            waiting = asyncio.ensure_future(run.__anext__())
            await asyncio.sleep(0.3)
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            del run, waiting
            gc.collect()
            await asyncio.sleep(0.1)
            return len(asyncio.all_tasks()) - 1

    assert asyncio.run(drop_midway()) == 0

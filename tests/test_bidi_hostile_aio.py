"""The asyncio bidirectional client against servers that lie and stall (issue 21).

The twin of ``test_bidi_hostile.py``: an error status whose body never ends, a server that
stops reading while a send waits, the reading task cancelled, ``input=`` that blocks when
the stream is closed. Each raises one of the library's exceptions in bounded time and
leaves no task behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pathlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")
pytest.importorskip("aiobotocore")

from aiobotocore.session import AioSession
from botocore.config import Config

from _hostile_h2 import HostileServer, Peer, Script, hostile_server
from typed_sagemaker_runtime import (
    AsyncBidiStream,
    AsyncSageMakerRuntime,
    BidiPayloadPart,
    ModelError,
    StreamError,
    ThrottlingError,
)
from typed_sagemaker_runtime._core._bidi_events import encode_response_event
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

Serve = Callable[[Script], HostileServer]


@pytest.fixture
def serve(tmp_path: pathlib.Path) -> Iterator[Serve]:
    with contextlib.ExitStack() as servers:
        yield lambda script: servers.enter_context(hostile_server(script, str(tmp_path)))


@pytest.fixture
def listener() -> Iterator[BidiListener]:
    with BidiListener(credentials={KEY: SECRET}) as running:
        yield running


def _client(url: str, ca_bundle: str) -> AsyncSageMakerRuntime:
    session = AioSession()
    session.set_credentials(KEY, SECRET)
    session.set_config_variable("region", "us-east-1")
    session.set_config_variable("ca_bundle", ca_bundle)
    return AsyncSageMakerRuntime(
        session=session,
        bidi_endpoint_url=url,
        config=Config(read_timeout=20, connect_timeout=5),
    )


ERROR_HEADERS = (("x-amzn-errortype", "ThrottlingException:http://internal"),)


def test_an_error_status_whose_body_never_ends_raises_at_once(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 429, *ERROR_HEADERS)
        peer.data(stream_id, b'{"message": "slow down"')

    server = serve(script)

    async def main() -> float:
        async with _client(server.url, server.ca_bundle) as smr, smr.bidi_stream("ep") as s:
            started = time.monotonic()
            with pytest.raises(ThrottlingError):
                async for _ in s:
                    pass
            return time.monotonic() - started

    assert asyncio.run(main()) < 3


def test_an_error_status_that_never_ends_raises_from_send(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 429, *ERROR_HEADERS)

    server = serve(script)

    async def main() -> float:
        async with _client(server.url, server.ca_bundle) as smr, smr.bidi_stream("ep") as s:
            started = time.monotonic()
            with pytest.raises(ThrottlingError):
                while time.monotonic() - started < 10:
                    await s.send(b"\x00" * 1024)
                    await asyncio.sleep(0.01)
            return time.monotonic() - started

    assert asyncio.run(main()) < 3


def test_close_from_another_task_while_a_send_is_blocked_by_flow_control(serve: Serve) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.stop_reading = True

    server = serve(script)

    async def main() -> tuple[BaseException | None, float]:
        async with _client(server.url, server.ca_bundle) as smr, smr.bidi_stream("ep") as s:

            async def send_forever() -> None:
                while True:
                    await s.send(b"\x00" * 65536)

            sender = asyncio.create_task(send_forever())
            await asyncio.sleep(0.5)  # the windows fill; the send waits
            assert not sender.done()
            started = time.monotonic()
            s.close()
            await asyncio.wait({sender}, timeout=5)
            return sender.exception(), time.monotonic() - started

    failure, elapsed = asyncio.run(main())
    assert isinstance(failure, StreamError)
    assert elapsed < 0.5


def test_a_cancelled_reading_task_leaves_the_stream_usable(listener: BidiListener) -> None:
    async def main() -> list[object]:
        async with _client(listener.url, listener.ca_bundle) as smr, smr.bidi_stream("ep") as s:

            async def read_one() -> object:
                async for event in s:
                    return event
                return None

            reader = asyncio.create_task(read_one())
            await asyncio.sleep(0.05)  # the echo model is silent: the reader waits
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await s.send("after")
            got = await asyncio.wait_for(read_one(), 5)
            await s.end_input()
            return [got, *[event async for event in s]]

    assert asyncio.run(main()) == [BidiPayloadPart(b"after", "UTF8", None)]


def test_close_while_async_input_blocks_leaves_no_task(listener: BidiListener) -> None:
    async def main() -> tuple[BaseException | None, float, int]:
        forever = asyncio.Event()

        async def microphone() -> AsyncIterator[bytes]:
            yield b"\x00\x01"
            await forever.wait()
            yield b"never"

        async with _client(listener.url, listener.ca_bundle) as smr:
            stream = smr.bidi_stream("ep", input=microphone())
            async with stream:

                async def read() -> None:
                    async for _ in stream:
                        pass

                reader = asyncio.create_task(read())
                await asyncio.sleep(0.2)
                started = time.monotonic()
                stream.close()
                await asyncio.wait({reader}, timeout=5)
                elapsed = time.monotonic() - started
            await asyncio.sleep(0)
            others = len(asyncio.all_tasks()) - 1
            return reader.exception(), elapsed, others

    failure, elapsed, others = asyncio.run(main())
    assert isinstance(failure, StreamError)
    assert elapsed < 0.5
    assert others == 0


def test_a_stream_dropped_while_its_async_input_goes_on_is_closed_when_collected(
    listener: BidiListener,
) -> None:
    async def main() -> int:
        async def endless() -> AsyncIterator[bytes]:
            while True:
                await asyncio.sleep(0.005)
                yield b"\x00" * 320

        async with _client(listener.url, listener.ca_bundle) as smr:
            stream = await smr.bidi_stream("ep", input=endless())
            await asyncio.sleep(0.05)
            del stream  # dropped without closing: its input task must not keep it alive
            deadline = time.monotonic() + 5
            while len(asyncio.all_tasks()) > 1 and time.monotonic() < deadline:
                gc.collect()
                await asyncio.sleep(0.05)
            return len(asyncio.all_tasks()) - 1

    assert asyncio.run(main()) == 0


def test_a_send_blocked_by_a_server_that_stopped_reading_raises_its_error(serve: Serve) -> None:
    answered = threading.Event()

    def script(peer: Peer, stream_id: int) -> None:
        peer.stop_reading = True

        def answer_later() -> None:
            answered.wait(10)
            peer.headers(
                stream_id, 424, ("x-amzn-errortype", "ModelError"), ("content-length", "2")
            )
            peer.data(stream_id, b"{}")

        threading.Thread(target=answer_later, daemon=True).start()

    server = serve(script)

    async def main() -> float:
        async with _client(server.url, server.ca_bundle) as smr, smr.bidi_stream("ep") as s:
            sender = asyncio.create_task(_send_forever(s))
            await asyncio.sleep(0.5)  # the windows fill; the send waits
            assert not sender.done()
            answered.set()
            started = time.monotonic()
            await asyncio.wait({sender}, timeout=5)
            assert isinstance(sender.exception(), ModelError)
            return time.monotonic() - started

    assert asyncio.run(main()) < 2


async def _send_forever(stream: AsyncBidiStream) -> None:
    while True:
        await stream.send(b"\x00" * 65536)


def test_end_input_after_the_service_finished_and_reset_with_no_error_is_quiet(
    serve: Serve,
) -> None:
    def script(peer: Peer, stream_id: int) -> None:
        peer.headers(stream_id, 200)
        peer.data(stream_id, encode_response_event(BidiPayloadPart(b"done", "UTF8", None)))
        peer.conn.end_stream(stream_id)
        peer.conn.reset_stream(stream_id, error_code=0)
        peer.flush()

    server = serve(script)

    async def main() -> None:
        async with _client(server.url, server.ca_bundle) as smr, smr.bidi_stream("ep") as s:
            assert [event async for event in s] == [BidiPayloadPart(b"done", "UTF8", None)]
            await asyncio.sleep(0.2)  # the reset has arrived
            with pytest.raises(StreamError, match="the service has ended the stream"):
                await s.send("late")
            await s.end_input()

    asyncio.run(main())


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_many_streams_leave_no_socket_or_task_behind(listener: BidiListener) -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def main() -> tuple[int, int, int]:
        async with _client(listener.url, listener.ca_bundle) as smr:
            async with smr.bidi_stream("ep", input=["warm"]) as stream:
                [event async for event in stream]
            gc.collect()
            before = open_fds()
            for number in range(30):
                parts = ["x", b"y"] if number % 2 else None  # None: the echo model is silent
                async with smr.bidi_stream("ep", input=parts) as stream:
                    if number % 2:
                        [event async for event in stream]
                    else:
                        asyncio.get_running_loop().call_later(0.02, stream.close)
                        with pytest.raises(StreamError):
                            [event async for event in stream]
            deadline = time.monotonic() + 5
            while open_fds() > before + 2 and time.monotonic() < deadline:
                gc.collect()
                await asyncio.sleep(0.05)
            return before, open_fds(), len(asyncio.all_tasks()) - 1

    before, after, tasks = asyncio.run(main())
    assert after <= before + 2
    assert tasks == 0

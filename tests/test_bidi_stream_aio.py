"""``AsyncSageMakerRuntime.bidi_stream`` end to end against the local HTTP/2 listener (issue 21).

The twin of ``test_bidi_stream.py``: both ways of opening (``async with`` without ``await``,
and ``await``), full duplex, ``input=`` from an async iterable, errors from whichever call
the caller is in, and ``close()`` from another task or thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

pytest.importorskip("awscrt")
pytest.importorskip("h2")
pytest.importorskip("trustme")
pytest.importorskip("aiobotocore")

from aiobotocore.session import AioSession

from typed_sagemaker_runtime import (
    AccessDeniedError,
    AsyncSageMakerRuntime,
    BidiEvent,
    BidiPayloadPart,
    ClientValidationError,
    ModelStreamError,
    ModelStreamInterruptedError,
    StreamError,
)
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def listener() -> Iterator[BidiListener]:
    with BidiListener(credentials={KEY: SECRET}) as running:
        yield running


def _client(listener: BidiListener, secret: str = SECRET) -> AsyncSageMakerRuntime:
    session = AioSession()
    session.set_credentials(KEY, secret)
    session.set_config_variable("region", "us-east-1")
    session.set_config_variable("ca_bundle", listener.ca_bundle)
    return AsyncSageMakerRuntime(session=session, bidi_endpoint_url=listener.url)


def test_each_answer_is_read_before_the_next_part_is_sent(listener: BidiListener) -> None:
    async def main() -> list[BidiEvent]:
        async with _client(listener) as smr, smr.bidi_stream("ep") as stream:
            events = stream.__aiter__()
            received = []
            for data in ("one", b"\x00\x01"):
                await stream.send(data)
                received.append(await events.__anext__())  # half duplex hangs here
            await stream.end_input()
            assert [event async for event in events] == []
            return received

    assert asyncio.run(main()) == [
        BidiPayloadPart(b"one", "UTF8", None),
        BidiPayloadPart(b"\x00\x01", "BINARY", None),
    ]
    assert listener.wait_for_ends(1) == [True]
    assert listener.refusals == []


def test_await_opens_the_stream_and_nothing_is_sent_before(listener: BidiListener) -> None:
    async def main() -> list[bytes | str]:
        async with _client(listener) as smr:
            unopened = smr.bidi_stream("ep", input=["hello"])
            await asyncio.sleep(0)
            assert listener.requests == []
            with pytest.raises(StreamError, match="not open"):
                await unopened.send("too early")
            stream = await unopened
            try:
                return [message async for message in stream.messages()]
            finally:
                await stream.aclose()

    assert asyncio.run(main()) == ["hello"]


def test_input_from_an_async_iterable(listener: BidiListener) -> None:
    async def parts() -> AsyncIterator[str | bytes]:
        for index in range(3):
            yield f"part {index}"
        yield BidiPayloadPart(b"joined ", "UTF8", "PARTIAL").data  # bytes: BINARY

    async def main() -> list[bytes | str]:
        async with _client(listener) as smr, smr.bidi_stream("ep", input=parts()) as stream:
            return [message async for message in stream.messages()]

    assert asyncio.run(main()) == ["part 0", "part 1", "part 2", b"joined "]
    assert listener.wait_for_ends(1) == [True]


def test_an_error_response_raises_from_send_while_the_caller_is_still_sending(
    listener: BidiListener,
) -> None:
    async def main() -> tuple[AccessDeniedError, float]:
        async with _client(listener, secret="wrong") as smr:
            opened = time.monotonic()
            with pytest.raises(AccessDeniedError) as caught:
                async with smr.bidi_stream("ep") as stream:
                    while time.monotonic() - opened < 5:
                        await stream.send(b"\x00" * 320)
            return caught.value, time.monotonic() - opened

    error, elapsed = asyncio.run(main())
    assert error.http_status == 403
    assert error.request_id
    assert elapsed < 1.0  # 250 ms is the promise


def test_close_from_another_task_wakes_a_blocked_reader(listener: BidiListener) -> None:
    async def main() -> tuple[BaseException | None, float]:
        async with _client(listener) as smr, smr.bidi_stream("ep") as stream:

            async def read() -> None:
                async for _ in stream:
                    pass

            reader = asyncio.create_task(read())
            await asyncio.sleep(0.05)  # let the reader block; the echo model is silent
            started = time.monotonic()
            stream.close()
            await asyncio.wait({reader}, timeout=5)
            return reader.exception(), time.monotonic() - started

    failure, elapsed = asyncio.run(main())
    assert isinstance(failure, StreamError)
    assert "closed" in str(failure)
    assert elapsed < 0.1


def test_close_from_another_thread_wakes_a_blocked_reader(listener: BidiListener) -> None:
    async def main() -> BaseException | None:
        async with _client(listener) as smr, smr.bidi_stream("ep") as stream:
            timer = threading.Timer(0.05, stream.close)
            timer.start()
            try:
                async for _ in stream:
                    pass
            except StreamError as exc:
                return exc
            finally:
                timer.join()
            return None

    assert isinstance(asyncio.run(main()), StreamError)


def test_an_exception_from_input_reaches_the_reader(listener: BidiListener) -> None:
    class MicrophoneUnplugged(Exception):
        pass

    async def audio() -> AsyncIterator[bytes]:
        yield b"\x00\x01"
        raise MicrophoneUnplugged

    async def main() -> None:
        async with _client(listener) as smr, smr.bidi_stream("ep", input=audio()) as stream:
            async for _ in stream:
                pass

    with pytest.raises(MicrophoneUnplugged):
        asyncio.run(main())


def test_an_error_event_is_the_last_event_and_messages_raise_it(listener: BidiListener) -> None:
    def failing(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
        yield BidiPayloadPart(b"so far", "UTF8", None)
        yield ModelStreamError("gone", "StreamBroken")

    listener.backend = failing

    async def main() -> tuple[list[BidiEvent], list[bytes | str], ModelStreamInterruptedError]:
        async with _client(listener) as smr:
            async with smr.bidi_stream("ep") as stream:
                events = [event async for event in stream]
            messages: list[bytes | str] = []
            with pytest.raises(ModelStreamInterruptedError) as caught:
                async with smr.bidi_stream("ep") as stream:
                    async for message in stream.messages():
                        messages.append(message)
            return events, messages, caught.value

    events, messages, error = asyncio.run(main())
    assert events == [
        BidiPayloadPart(b"so far", "UTF8", None),
        ModelStreamError("gone", "StreamBroken"),
    ]
    assert messages == ["so far"]
    assert error.error_code == "StreamBroken"


def test_invalid_arguments_are_refused_when_called(listener: BidiListener) -> None:
    async def main() -> ClientValidationError:
        async with _client(listener) as smr:
            with pytest.raises(ClientValidationError) as caught:
                smr.bidi_stream("ep", model_invocation_path="/v1/listen")
            return caught.value

    assert asyncio.run(main()).field == "model_invocation_path"
    assert listener.requests == []

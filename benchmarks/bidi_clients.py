"""The clients ``bidi.py`` measures on our side: ours (sync, asyncio) and the awscrt floor.

Ours is the public API: ``smr.bidi_stream(...)`` on ``SageMakerRuntime`` and
``AsyncSageMakerRuntime``, with credentials, endpoint and trust from boto3 as a user has them.
The floor is raw awscrt writing frames encoded and signed before
the clock starts, counting response bytes without decoding them.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.credentials import ReadOnlyCredentials

from typed_sagemaker_runtime._base._bidi_crt import connect, crt_request
from typed_sagemaker_runtime._base._bidi_setup import BidiSettings
from typed_sagemaker_runtime._core._bidi_endpoint import parse_endpoint_url
from typed_sagemaker_runtime._core._bidi_events import (
    BidiEvent,
    BidiPayloadPart,
    encode_part,
    encode_response_event,
)
from typed_sagemaker_runtime._core._bidi_request import OpenedRequest, prepare_request

KEY = SECRET = "bench"  # bidi_server.py's
PART = 32 * 1024
MIB = 1024 * 1024
TIMEOUT = 60.0


@dataclass
class Figures:
    """One client's results: round trips (seconds), seconds up and down for ``mib`` MiB."""

    trips: list[float]
    up: float
    down: float


# --- ours: the one place to switch to the public API ---------------------------------------


def _opened(url: str) -> OpenedRequest:
    endpoint = parse_endpoint_url(url, "bidi_endpoint_url")
    credentials = ReadOnlyCredentials(KEY, SECRET, None)
    return prepare_request("bench", endpoint=endpoint, region="us-east-1", credentials=credentials)


@dataclass
class SyncSide:
    send: Callable[[bytes | str], None]
    events: Iterator[BidiEvent]
    end: Callable[[], None]
    close: Callable[[], None]


@dataclass
class AsyncSide:
    send: Callable[[bytes | str], Awaitable[None]]
    events: AsyncIterator[BidiEvent]
    end: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


def _session(ca_file: str) -> Any:
    import boto3

    session = boto3.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET)
    session._session.set_config_variable("ca_bundle", ca_file)  # as AWS_CA_BUNDLE would
    return session


def open_ours_sync(url: str, ca_file: str) -> SyncSide:
    """Our sync stream through the public API: ``smr.bidi_stream("bench")``."""
    from typed_sagemaker_runtime import SageMakerRuntime

    smr = SageMakerRuntime(
        session=_session(ca_file), region_name="us-east-1", bidi_endpoint_url=url
    )
    stream = smr.bidi_stream("bench")

    def close() -> None:
        stream.close()
        smr.close()

    return SyncSide(stream.send, iter(stream), stream.end_input, close)


async def open_ours_async(url: str, ca_file: str) -> AsyncSide:
    """Our asyncio stream through the public API: ``await smr.bidi_stream("bench")``."""
    from aiobotocore.session import AioSession

    from typed_sagemaker_runtime import AsyncSageMakerRuntime

    session = AioSession()
    session.set_credentials(KEY, SECRET)
    session.set_config_variable("ca_bundle", ca_file)
    smr = AsyncSageMakerRuntime(session=session, region_name="us-east-1", bidi_endpoint_url=url)
    stream = await smr.bidi_stream("bench")

    async def close() -> None:
        await stream.aclose()
        await smr.aclose()

    return AsyncSide(stream.send, aiter(stream), stream.end_input, close)


# --- ours, measured -------------------------------------------------------------------------


def data_of(event: BidiEvent) -> bytes:
    assert isinstance(event, BidiPayloadPart), event
    return event.data


def trip_text(index: int) -> str:
    return f"part {index:08d}"


def measure_sync(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> Figures:
    def opened(command: str) -> SyncSide:
        side = open_ours_sync(url, ca_file)
        side.send(command)
        assert data_of(next(side.events)) == command.encode()  # the stream is open
        return side

    def finish(side: SyncSide) -> None:
        side.end()
        assert list(side.events) == []
        side.close()

    side = opened("echo")
    trips: list[float] = []
    for index in range(warmup + parts):
        text = trip_text(index)
        start = time.perf_counter()
        side.send(text)
        echoed = data_of(next(side.events))
        trips.append(time.perf_counter() - start)
        assert echoed == text.encode()
    finish(side)

    count, payload = mib * MIB // PART, bytes(PART)
    side = opened("sink")
    start = time.perf_counter()
    for _ in range(count):
        side.send(payload)
    side.end()
    answer = data_of(next(side.events))
    up = time.perf_counter() - start
    assert int(answer) == count * PART
    finish(side)

    side = opened(f"source {count} {PART}")
    start = time.perf_counter()
    side.send("go")
    received = 0
    while received < count * PART:
        received += len(data_of(next(side.events)))
    down = time.perf_counter() - start
    finish(side)
    return Figures(trips[warmup:], up, down)


async def measure_async(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> Figures:
    async def opened(command: str) -> AsyncSide:
        side = await open_ours_async(url, ca_file)
        await side.send(command)
        assert data_of(await anext(side.events)) == command.encode()
        return side

    async def finish(side: AsyncSide) -> None:
        await side.end()
        assert [event async for event in side.events] == []
        await side.close()

    side = await opened("echo")
    trips: list[float] = []
    for index in range(warmup + parts):
        text = trip_text(index)
        start = time.perf_counter()
        await side.send(text)
        echoed = data_of(await anext(side.events))
        trips.append(time.perf_counter() - start)
        assert echoed == text.encode()
    await finish(side)

    count, payload = mib * MIB // PART, bytes(PART)
    side = await opened("sink")
    start = time.perf_counter()
    for _ in range(count):
        await side.send(payload)
    await side.end()
    answer = data_of(await anext(side.events))
    up = time.perf_counter() - start
    assert int(answer) == count * PART
    await finish(side)

    side = await opened(f"source {count} {PART}")
    start = time.perf_counter()
    await side.send("go")
    received = 0
    while received < count * PART:
        received += len(data_of(await anext(side.events)))
    down = time.perf_counter() - start
    await finish(side)
    return Figures(trips[warmup:], up, down)


# --- the floor: raw awscrt, frames signed before the clock starts ----------------------------


class Floor:
    """One stream on raw awscrt: pre-signed frames written as they are, response bytes counted."""

    def __init__(self, url: str, ca_file: str) -> None:
        opened = _opened(url)
        self._signer = opened.signer
        self._received = 0
        self._changed = threading.Condition()
        settings = BidiSettings(
            endpoint=opened.endpoint,
            region="us-east-1",
            ca_file=ca_file,
            verify=True,
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
            user_agent="bench",
        )
        self._connection = connect(opened, settings).result(TIMEOUT)
        self._stream = self._connection.request(
            crt_request(opened), on_body=self._on_body, manual_write=True
        )
        self._stream.activate()

    def _on_body(self, chunk: bytes, **_: object) -> None:
        self._stream.update_window(len(chunk))  # connect() manages the window by hand
        with self._changed:
            self._received += len(chunk)
            self._changed.notify_all()

    def sign(self, data: bytes, data_type: str) -> bytes:
        return self._signer.sign(encode_part(BidiPayloadPart(data, data_type, None)))

    def write(self, frame: bytes) -> Any:
        return self._stream.write_data(io.BytesIO(frame), end_stream=False)

    def wait_for(self, total: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._received >= total, TIMEOUT)

    def close(self) -> None:
        self._stream.write_data(io.BytesIO(self._signer.end_frame()), end_stream=True)
        self._stream.completion_future.result(TIMEOUT)
        self._connection.close().result(TIMEOUT)


def _response_bytes(data: bytes, data_type: str) -> int:
    return len(encode_response_event(BidiPayloadPart(data, data_type, None)))


def measure_floor(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> Figures:
    floor = Floor(url, ca_file)
    command = floor.sign(b"echo", "UTF8")
    frames = [floor.sign(trip_text(i).encode(), "UTF8") for i in range(warmup + parts)]
    acked = _response_bytes(b"echo", "UTF8")
    echo_bytes = _response_bytes(trip_text(0).encode(), "UTF8")
    floor.write(command)
    floor.wait_for(acked)
    trips: list[float] = []
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        floor.write(frame)
        floor.wait_for(acked + (index + 1) * echo_bytes)
        trips.append(time.perf_counter() - start)
    floor.close()

    count, payload = mib * MIB // PART, bytes(PART)
    floor = Floor(url, ca_file)
    command = floor.sign(b"sink", "UTF8")
    frames = [floor.sign(payload, "BINARY") for _ in range(count)]
    acked = _response_bytes(b"sink", "UTF8")
    answer = _response_bytes(str(count * PART).encode(), "UTF8")
    floor.write(command)
    floor.wait_for(acked)
    start = time.perf_counter()
    for frame in frames:
        floor.write(frame)
    floor.close()  # the end frame: the sink answers once the input has ended
    floor.wait_for(acked + answer)
    up = time.perf_counter() - start
    del frames

    floor = Floor(url, ca_file)
    source = f"source {count} {PART}".encode()
    command, go = floor.sign(source, "UTF8"), floor.sign(b"go", "UTF8")
    acked = _response_bytes(source, "UTF8")
    floor.write(command)
    floor.wait_for(acked)
    start = time.perf_counter()
    floor.write(go)
    floor.wait_for(acked + count * _response_bytes(payload, "BINARY"))
    down = time.perf_counter() - start
    floor.close()
    return Figures(trips[warmup:], up, down)

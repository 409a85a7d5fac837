"""Bidirectional streams: round trips, throughput and memory, against AWS's client, one run.

    python benchmarks/bidi.py            # 1000 round trips, 64 MiB each way, 1 GiB for memory
    python benchmarks/bidi.py --quick    # 300 round trips, 16 MiB each way, 256 MiB for memory
    BIDI_AWS_PYTHON=/path/to/python3.12 python benchmarks/bidi.py   # AWS's client's Python

Every client talks to the same local listener (``bidi_server.py``, in its own process, which
verifies every signature for every client alike), in the same run:

* the floor: raw awscrt (``Http2ClientConnection``, ``manual_write``) writing frames that were
  encoded and signed before the clock started, and counting response bytes without decoding
  them: the transport's cost with no per-part Python work (the listener is unchanged: it
  still checks the signatures, so its work per part is the same as for the others);
* ours, sync and asyncio: today the transport (``SyncBidiConnection`` /
  ``AsyncBidiConnection`` over ``prepare_request``), behind ``open_ours_sync`` /
  ``open_ours_async``; switch those two to ``smr.bidi_stream(...)`` when it lands;
* AWS's client (``aws-sdk-sagemaker-runtime-http2`` on its CRT transport) on Python 3.12+,
  in a subprocess (``bidi_aws.py``) run by ``BIDI_AWS_PYTHON`` (default: this Python, if it
  can import the package); left out, with a note, when there is none.

Round trip: send one small UTF8 part, wait for its echo (p50/p99 of 1000, or 300 with
``--quick``, after 50 warm-up).
Throughput: 32 KiB BINARY parts, up (to a sink that answers with the byte count at the end
of the input) and down (from a source), each clock started once the stream is open.
Memory: RSS of a fresh process echoing 1 GiB of 32 KiB parts through our sync transport,
sampled every 64 MiB received; flat means the last sample within 8 MiB of the first.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.credentials import ReadOnlyCredentials

from typed_sagemaker_runtime._aio._bidi_transport import AsyncBidiConnection
from typed_sagemaker_runtime._base._bidi_crt import connect, crt_request
from typed_sagemaker_runtime._core._bidi_endpoint import parse_endpoint_url
from typed_sagemaker_runtime._core._bidi_events import (
    BidiEvent,
    BidiPayloadPart,
    encode_part,
    encode_response_event,
    request_part,
)
from typed_sagemaker_runtime._core._bidi_request import OpenedRequest, prepare_request

HERE = Path(__file__).parent
KEY = SECRET = "bench"  # bidi_server.py's
PART = 32 * 1024
MIB = 1024 * 1024
TIMEOUT = 60.0
RSS_EVERY = 64 * MIB
FLAT_MIB = 8.0


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


def open_ours_sync(url: str, ca_file: str) -> SyncSide:
    """Our sync stream; with the public API: ``s = smr.bidi_stream("bench")``, then
    ``SyncSide(s.send, iter(s), s.end_input, s.close)``."""
    from typed_sagemaker_runtime._sync._bidi_transport import SyncBidiConnection

    connection = SyncBidiConnection.open(_opened(url), ca_file=ca_file, timeout=TIMEOUT)
    return SyncSide(
        lambda data: connection.send(request_part(data)),
        connection.events(),
        connection.end_input,
        connection.close,
    )


async def open_ours_async(url: str, ca_file: str) -> AsyncSide:
    """Our asyncio stream; with the public API: ``s = await smr.bidi_stream("bench")``, then
    ``AsyncSide(s.send, aiter(s), s.end_input, s.close)``."""
    connection = await AsyncBidiConnection.open(_opened(url), ca_file=ca_file, timeout=TIMEOUT)
    return AsyncSide(
        lambda data: connection.send(request_part(data)),
        connection.events(),
        connection.end_input,
        connection.close,
    )


# --- ours, measured -------------------------------------------------------------------------


def _data(event: BidiEvent) -> bytes:
    assert isinstance(event, BidiPayloadPart), event
    return event.data


def _trip_text(index: int) -> str:
    return f"part {index:08d}"


def measure_sync(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> Figures:
    def opened(command: str) -> SyncSide:
        side = open_ours_sync(url, ca_file)
        side.send(command)
        assert _data(next(side.events)) == command.encode()  # the stream is open
        return side

    def finish(side: SyncSide) -> None:
        side.end()
        assert list(side.events) == []
        side.close()

    side = opened("echo")
    trips: list[float] = []
    for index in range(warmup + parts):
        text = _trip_text(index)
        start = time.perf_counter()
        side.send(text)
        echoed = _data(next(side.events))
        trips.append(time.perf_counter() - start)
        assert echoed == text.encode()
    finish(side)

    count, payload = mib * MIB // PART, bytes(PART)
    side = opened("sink")
    start = time.perf_counter()
    for _ in range(count):
        side.send(payload)
    side.end()
    answer = _data(next(side.events))
    up = time.perf_counter() - start
    assert int(answer) == count * PART
    finish(side)

    side = opened(f"source {count} {PART}")
    start = time.perf_counter()
    side.send("go")
    received = 0
    while received < count * PART:
        received += len(_data(next(side.events)))
    down = time.perf_counter() - start
    finish(side)
    return Figures(trips[warmup:], up, down)


async def measure_async(url: str, ca_file: str, parts: int, warmup: int, mib: int) -> Figures:
    async def opened(command: str) -> AsyncSide:
        side = await open_ours_async(url, ca_file)
        await side.send(command)
        assert _data(await anext(side.events)) == command.encode()
        return side

    async def finish(side: AsyncSide) -> None:
        await side.end()
        assert [event async for event in side.events] == []
        await side.close()

    side = await opened("echo")
    trips: list[float] = []
    for index in range(warmup + parts):
        text = _trip_text(index)
        start = time.perf_counter()
        await side.send(text)
        echoed = _data(await anext(side.events))
        trips.append(time.perf_counter() - start)
        assert echoed == text.encode()
    await finish(side)

    count, payload = mib * MIB // PART, bytes(PART)
    side = await opened("sink")
    start = time.perf_counter()
    for _ in range(count):
        await side.send(payload)
    await side.end()
    answer = _data(await anext(side.events))
    up = time.perf_counter() - start
    assert int(answer) == count * PART
    await finish(side)

    side = await opened(f"source {count} {PART}")
    start = time.perf_counter()
    await side.send("go")
    received = 0
    while received < count * PART:
        received += len(_data(await anext(side.events)))
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
        self._connection = connect(opened, ca_file, True).result(TIMEOUT)
        self._stream = self._connection.request(
            crt_request(opened), on_body=self._on_body, manual_write=True
        )
        self._stream.activate()

    def _on_body(self, chunk: bytes, **_: object) -> None:
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
    frames = [floor.sign(_trip_text(i).encode(), "UTF8") for i in range(warmup + parts)]
    acked = _response_bytes(b"echo", "UTF8")
    echo_bytes = _response_bytes(_trip_text(0).encode(), "UTF8")
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


# --- AWS's client, in a Python 3.12+ subprocess ----------------------------------------------


def aws_python() -> tuple[str | None, str]:
    """The Python that runs AWS's client, or ``None`` and why there is none."""
    python = os.environ.get("BIDI_AWS_PYTHON") or sys.executable
    probe = subprocess.run(
        [python, "-c", "import aws_sdk_sagemaker_runtime_http2, smithy_http.aio.crt, awscrt"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None, (
            f"{python} cannot import aws_sdk_sagemaker_runtime_http2 with its CRT transport: "
            "set BIDI_AWS_PYTHON to a Python 3.12+ with aws-sdk-sagemaker-runtime-http2[awscrt]"
        )
    return python, ""


def measure_aws(
    python: str, url: str, ca_file: str, parts: int, warmup: int, mib: int
) -> tuple[Figures, dict[str, Any]]:
    out = subprocess.run(
        [python, str(HERE / "bidi_aws.py"), url, ca_file, str(parts), str(warmup), str(mib)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out)
    return Figures(result["trips"], result["up"], result["down"]), result


# --- memory ----------------------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory_child(url: str, ca_file: str, mib: int) -> None:
    """Echo ``mib`` MiB of 32 KiB parts through our sync transport; print RSS samples."""
    side = open_ours_sync(url, ca_file)
    side.send("echo")
    assert _data(next(side.events)) == b"echo"
    count, payload = mib * MIB // PART, os.urandom(PART)
    samples: list[tuple[int, float]] = []

    def read() -> None:
        received = 0
        for event in side.events:
            received += len(_data(event))
            if received % RSS_EVERY == 0:
                samples.append((received // MIB, _rss_mib()))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(count):
        side.send(payload)
    side.end()
    reader.join()
    side.close()
    print(json.dumps(samples))


def measure_memory(url: str, ca_file: str, mib: int) -> list[tuple[int, float]]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", url, ca_file, str(mib)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(int(at), float(rss)) for at, rss in json.loads(out)]


# --- the report --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _p(trips: list[float], fraction: float) -> float:
    ordered = sorted(trips)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _verdict(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'MISSED'}"


def report(quick: bool, parts: int | None = None, warmup: int = 50) -> str:
    """Run every measure against one listener; return the table (and notes) as text."""
    from _common import server_process, table

    parts = parts or (300 if quick else 1000)
    mib = 16 if quick else 64
    memory_mib = 256 if quick else 1024
    python, missing = aws_python()
    notes: list[str] = []
    with server_process("bidi_server.py") as (line, _pid):
        url, ca_file = line.split()
        print(
            f"bidi: floor (raw awscrt), {parts} round trips, {mib} MiB each way...", file=sys.stderr
        )
        floor = measure_floor(url, ca_file, parts, warmup, mib)
        print("bidi: ours, sync...", file=sys.stderr)
        ours = measure_sync(url, ca_file, parts, warmup, mib)
        print("bidi: ours, asyncio...", file=sys.stderr)
        ours_aio = asyncio.run(measure_async(url, ca_file, parts, warmup, mib))
        aws: Figures | None = None
        if python is None:
            notes.append(f"AWS's client left out: {missing}")
        else:
            print(f"bidi: AWS's client ({python})...", file=sys.stderr)
            aws, details = measure_aws(python, url, ca_file, parts, warmup, mib)
            versions = ", ".join(f"{k} {v}" for k, v in details["versions"].items())
            notes.append(f"AWS's client: Python {details['python']}, {versions}")
            if details["loop_errors"]:
                notes.append(f"AWS's client's event loop reported: {details['loop_errors']}")
        print(f"bidi: memory, {memory_mib} MiB echoed through ours (sync)...", file=sys.stderr)
        samples = measure_memory(url, ca_file, memory_mib)

    def cells(pick: Callable[[Figures], float], show: Callable[[float], str]) -> list[str]:
        return [show(pick(f)) if f is not None else "-" for f in (floor, aws, ours, ours_aio)]

    def ratio(pick: Callable[[Figures], float], lower_is_better: bool) -> tuple[str, bool]:
        if aws is None:
            return "-", True
        sync, asyncio_ = pick(ours) / pick(aws), pick(ours_aio) / pick(aws)
        met = (max(sync, asyncio_) <= 1.0) if lower_is_better else (min(sync, asyncio_) >= 1.0)
        return f"{sync:.2f}x / {asyncio_:.2f}x", met

    rows: list[tuple[str, ...]] = []
    for label, fraction in (("p50", 0.50), ("p99", 0.99)):
        shown, met = ratio(lambda f, q=fraction: _p(f.trips, q), True)
        rows.append(
            (
                f"round trip {label}, small UTF8 parts ({parts})",
                *cells(lambda f, q=fraction: _p(f.trips, q), _ms),
                shown,
                _verdict(met, "<= AWS's") if aws is not None else "",
            )
        )
    total = mib * MIB
    for label, pick in (("up", lambda f: total / f.up), ("down", lambda f: total / f.down)):
        shown, met = ratio(pick, False)
        rows.append(
            (
                f"throughput {label}, 32 KiB BINARY parts ({mib} MiB)",
                *cells(pick, lambda v: f"{v / 1e6:.1f} MB/s"),
                shown,
                _verdict(met, ">= AWS's") if aws is not None else "",
            )
        )
    first, last = samples[0][1], samples[-1][1]
    rows.append(
        (
            f"RSS, {memory_mib} MiB echoed in 32 KiB parts (at {samples[0][0]} -> "
            f"{samples[-1][0]} MiB)",
            "-",
            "-",
            f"{first:.0f} -> {last:.0f} MiB",
            "-",
            f"{last - first:+.1f} MiB",
            _verdict(last - first <= FLAT_MIB, f"flat: <= {FLAT_MIB:.0f} MiB"),
        )
    )
    notes.append(
        "RSS samples (MiB received, RSS MiB): " + ", ".join(f"{a}:{r:.0f}" for a, r in samples)
    )
    header = (
        "bidirectional stream",
        "floor: raw awscrt",
        "AWS's client",
        "ours sync",
        "ours asyncio",
        "ours / AWS's (sync / asyncio)",
        "target",
    )
    return "\n".join([table(rows, header), *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 MiB each way, 256 MiB for memory")
    parser.add_argument("--parts", type=int, help="round trips measured (1000; quick: 300)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(report(args.quick, args.parts))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()

"""A local endpoint in its own process, serving pre-encoded streams for the benchmarks.

Run by the benchmarks, not by hand: it prints its URL, then serves until stdin closes.
Frames are encoded once, up front, so the server's cost is writing bytes; the client
under test is what is measured. Its own process keeps the two off one interpreter lock.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator

from typed_sagemaker_runtime import PayloadPart
from typed_sagemaker_runtime._core._eventstream import encode_event
from typed_sagemaker_runtime.testing import (
    EndpointResponse,
    InvocationRequest,
    LocalRuntime,
    RawFrames,
)

TINY = encode_event(PayloadPart(b"x" * 20))
LARGE = encode_event(PayloadPart(b"y" * 65536))


def tgi_record(index: int, text: str) -> bytes:
    token = {"id": index, "text": text, "logprob": -0.25, "special": False}
    record = {"index": index, "token": token, "generated_text": None, "details": None}
    return b"data: " + json.dumps(record, separators=(",", ":")).encode() + b"\n\n"


def openai_record(text: str) -> bytes:
    """A vLLM chat chunk, as ``serving_chat.py`` writes it."""
    choice = {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
    record = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1761043872,
        "model": "bench",
        "choices": [choice],
    }
    return b"data: " + json.dumps(record, separators=(",", ":")).encode() + b"\n\n"


def openai_ending() -> bytes:
    """The finish chunk, the include_usage chunk and ``[DONE]``."""
    finish = {"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "stop"}
    usage = {"prompt_tokens": 21, "total_tokens": 20_021, "completion_tokens": 20_000}
    records = [
        {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "choices": [finish]},
        {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "choices": [], "usage": usage},
    ]
    lines = [b"data: " + json.dumps(r, separators=(",", ":")).encode() + b"\n\n" for r in records]
    return b"".join(lines) + b"data: [DONE]\n\n"


def packed(frame: bytes, count: int, chunk_bytes: int = 65536) -> list[RawFrames]:
    per_chunk = max(1, chunk_bytes // len(frame))
    full, rest = divmod(count, per_chunk)
    chunks = [RawFrames(frame * per_chunk)] * full
    return chunks + ([RawFrames(frame * rest)] if rest else [])


def split(frame: bytes, size: int = 1024) -> list[RawFrames]:
    """One frame cut into HTTP chunks of ``size`` bytes: a large part arriving in small reads."""
    return [RawFrames(frame[at : at + size]) for at in range(0, len(frame), size)]


LINE_COUNT = 20_000  # the lines in the "lines" stream; _peer_worker.py expects this many


def json_lines(count: int, text: bytes = b" tok") -> bytes:
    """``count`` JSON lines of the shape LMI/DJL servers stream, each ending in a newline."""
    return b"".join(b'{"outputs": ["%s%d"]}\n' % (text, index % 1000) for index in range(count))


def parts(data: bytes, size: int) -> list[RawFrames]:
    """``data`` cut into parts of ``size`` bytes, one HTTP chunk each: lines split across parts."""
    return [
        RawFrames(encode_event(PayloadPart(data[at : at + size])))
        for at in range(0, len(data), size)
    ]


def clock() -> float:
    """A clock shared by every process on the machine (CLOCK_MONOTONIC is system-wide)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def stamped() -> RawFrames:
    """A part whose payload is the shared clock's time, read just before it is sent."""
    return RawFrames(encode_event(PayloadPart(b"%.9f" % clock())))


def ttft(_request: InvocationRequest) -> EndpointResponse:
    """Two stamped parts: the first goes out with the response head, the second 3 ms later."""

    def frames() -> Iterator[RawFrames]:
        yield stamped()
        time.sleep(0.003)
        yield stamped()

    return EndpointResponse(frames(), content_type="application/octet-stream")


def main() -> None:
    mib = 1024 * 1024
    big_1mb = encode_event(PayloadPart(b"z" * mib))
    big_5mb = encode_event(PayloadPart(b"z" * (5 * mib)))
    tgi_frames = [
        RawFrames(encode_event(PayloadPart(tgi_record(i, f" tok{i % 97}"))))
        for i in range(1, 20_001)
    ]
    openai_frames = [
        RawFrames(encode_event(PayloadPart(openai_record(f" tok{i % 97}"))))
        for i in range(1, 20_001)
    ]
    openai_frames.append(RawFrames(encode_event(PayloadPart(openai_ending()))))
    one_tgi_frame = RawFrames(encode_event(PayloadPart(tgi_record(1, " token"))))
    streams = {
        "tiny-packed": packed(TINY, 100_000),
        "tiny-chunked": [RawFrames(TINY)] * 20_000,
        "large": [RawFrames(LARGE)] * 1_000,
        "tgi": tgi_frames,
        "openai-chat": openai_frames,
        # The same 5 MB of payload in 1 KB HTTP chunks: five 1 MB parts, or one 5 MB part.
        "parts-1mb-in-1kb": split(big_1mb) * 5,
        "parts-5mb-in-1kb": split(big_5mb),
        "lines": parts(json_lines(LINE_COUNT), 32),
        "concurrent": tgi_frames[:50],
    }
    # 64 lines of about 1 KB in 4 KB parts, repeated for a stream of any size.
    lines_payload = json_lines(64, b"x" * 1000)
    lines_block = b"".join(frame.data for frame in parts(lines_payload, 4096))

    def stream(request: InvocationRequest) -> EndpointResponse:
        body = streams[request.endpoint_name]
        return EndpointResponse(iter(body), content_type="text/event-stream")

    def tgi_bytes(request: InvocationRequest) -> EndpointResponse:
        megabytes = int(request.json()["megabytes"])
        count = megabytes * 1024 * 1024 // len(one_tgi_frame.data)

        def frames() -> Iterator[RawFrames]:
            for _ in range(count):
                yield one_tgi_frame

        return EndpointResponse(frames(), content_type="text/event-stream")

    def lines_sized(request: InvocationRequest) -> EndpointResponse:
        count = int(request.json()["megabytes"]) * 1024 * 1024 // len(lines_payload)
        return EndpointResponse(
            (RawFrames(lines_block) for _ in range(count)), content_type="application/jsonlines"
        )

    with LocalRuntime(stop_timeout=30) as local:
        for name in streams:
            local.add_endpoint(name, stream)
        local.add_endpoint("tgi-sized", tgi_bytes)
        local.add_endpoint("lines-sized", lines_sized)
        local.add_endpoint("ttft", ttft)
        local.add_endpoint("echo")
        print(local.endpoint_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

"""Realistic bidirectional-stream code, checked by mypy --strict and pyright strict (never run).

Every ``assert_type`` pins what a user's type checker sees of ``bidi_stream``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

from typing_extensions import assert_type

from typed_sagemaker_runtime import (
    AsyncBidiStream,
    AsyncSageMakerRuntime,
    BidiEvent,
    BidiInput,
    BidiPayloadPart,
    BidiStream,
    InternalStreamFailure,
    ModelError,
    ModelStreamError,
    SageMakerRuntime,
    StreamError,
)


def audio_chunks() -> Iterator[bytes]:
    yield b"\x00\x01"


def transcribe(smr: SageMakerRuntime) -> list[str]:
    lines: list[str] = []
    with smr.bidi_stream(
        "nova-3", model_invocation_path="v1/listen", model_query_string="model=nova-3"
    ) as stream:
        assert_type(stream, BidiStream)
        assert_type(stream.request_id, "str | None")
        assert_type(stream.invoked_production_variant, "str | None")
        stream.send(b"\x00\x01")
        stream.send("hello", data_type="UTF8", completion_state="PARTIAL")
        stream.send(bytearray(b"x"))
        stream.send(memoryview(b"x"))
        stream.send(BidiPayloadPart(b"x", "BINARY", None))
        for event in stream:
            assert_type(event, BidiEvent)
            if isinstance(event, BidiPayloadPart):
                assert_type(event.data, bytes)
                assert_type(event.data_type, "str | None")
                lines.append(event.data.decode())
            elif isinstance(event, ModelStreamError):
                assert_type(event.error_code, "str | None")
            else:
                assert_type(event, InternalStreamFailure)
            break
        stream.end_input()
        for message in stream.messages():
            assert_type(message, "bytes | str")
        threading.Timer(1.0, stream.close).start()
    return lines


def with_input(smr: SageMakerRuntime) -> None:
    parts: list[BidiInput] = ["a", b"b", BidiPayloadPart(b"c", None, None)]
    try:
        with smr.bidi_stream("ep", input=parts, target_variant="blue") as stream:
            for _ in stream:
                pass
    except ModelError as exc:
        assert_type(exc.original_status_code, "int | None")
    except StreamError:
        pass
    with smr.bidi_stream("ep", input=audio_chunks()) as streamed:
        list(streamed)


async def microphone() -> AsyncIterator[bytes]:
    yield b"\x00"


async def transcribe_async(smr: AsyncSageMakerRuntime) -> None:
    async with smr.bidi_stream("ep", input=microphone()) as stream:
        assert_type(stream, AsyncBidiStream)
        async for event in stream:
            assert_type(event, BidiEvent)
        async for message in stream.messages():
            assert_type(message, "bytes | str")
    opened = await smr.bidi_stream("ep", input=["a", b"b"])
    assert_type(opened, AsyncBidiStream)
    await opened.send("more")
    await opened.end_input()
    opened.close()
    await opened.aclose()

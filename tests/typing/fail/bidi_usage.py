"""Misuse of bidirectional streams a type checker must reject (one error per marked line).

Checked by tests/test_typing.py with mypy --strict and pyright strict.
"""

from __future__ import annotations

from typed_sagemaker_runtime import AsyncSageMakerRuntime, BidiPayloadPart, SageMakerRuntime


def misuse(smr: SageMakerRuntime) -> None:
    with smr.bidi_stream("ep", model_query="a=b") as bad:  # expect-error
        del bad
    with smr.bidi_stream("ep", input=3) as bad_input:  # expect-error
        del bad_input
    with smr.bidi_stream("ep") as stream:
        stream.send(3)  # expect-error
        stream.send(["a"])  # expect-error
        stream.send("a", datatype="UTF8")  # expect-error
        stream.send("a", "UTF8")  # expect-error
        for event in stream:
            event.data  # expect-error
        stream.end_input(b"")  # expect-error
        for message in stream.messages():
            message.decode()  # expect-error
    BidiPayloadPart(b"x")  # expect-error


async def misuse_async(smr: AsyncSageMakerRuntime) -> None:
    with smr.bidi_stream("ep") as wrong_with:  # expect-error
        del wrong_with
    async with smr.bidi_stream("ep") as stream:
        stream.send(b"x")  # expect-error
        await stream.send(1.5)  # expect-error
        for _event in stream:  # expect-error
            pass

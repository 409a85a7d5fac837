"""Misuse of the asyncio client a type checker must reject (one error per marked line).

Checked by tests/test_typing.py with mypy --strict and pyright strict.
"""

from __future__ import annotations

from typed_sagemaker_runtime import AsyncSageMakerRuntime


async def misuse(smr: AsyncSageMakerRuntime) -> None:
    smr.invoke("ep", b"{}")["body"]  # expect-error
    result = await smr.invoke("ep", b"{}")
    result["bdy"]  # expect-error
    await smr.invoke("ep", b"{}", acept="application/json")  # expect-error
    await smr.invoke_async("ep", b"{}")  # expect-error
    await smr.stream("ep", b"{}", target_model="m")  # expect-error
    with await smr.stream("ep", b"{}"):  # expect-error
        pass
    async with smr.stream("ep", b"{}") as entered:
        await entered.read()
    smr.stream("ep", b"{}").tokens()  # expect-error
    with smr.chat_stream("ep", [{"role": "user", "content": "hi"}]):  # expect-error
        pass
    async with await smr.stream("ep", b"{}") as stream:
        for _event in stream:  # expect-error
            pass
        async for event in stream:
            event.data  # expect-error
        stream.tokens("gpt")  # expect-error
        async for token in stream.tokens():
            token.decode()  # expect-error
        data: bytes = stream.read()  # expect-error
        del data
    await smr.close()  # expect-error
    AsyncSageMakerRuntime(region="eu-west-1")  # expect-error

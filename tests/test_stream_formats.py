"""Every recorded stream format through the real boto3 stack and the local endpoint.

The decoder tests cut each fixture at every split point without I/O; here the same
fixtures travel as real event-stream frames over HTTP, cut as recorded and one byte
per PayloadPart (every byte boundary a part boundary at once), and ``tokens()`` must
give the same tokens and the same error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from test_decoders import FIXTURE_LIST, Fixture, replay
from typed_sagemaker_runtime import GenerationError, SageMakerRuntime, StreamDecodeError
from typed_sagemaker_runtime.testing import EndpointResponse, LocalRuntime


def one_byte_parts(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


@pytest.mark.parametrize("fx", FIXTURE_LIST, ids=str)
@pytest.mark.parametrize("cutting", ["recorded", "one-byte"])
@pytest.mark.parametrize("auto", [True, False], ids=["auto", "named"])
def test_tokens_over_http(
    local: LocalRuntime, smr: SageMakerRuntime, fx: Fixture, cutting: str, auto: bool
) -> None:
    parts = replay(fx) if cutting == "recorded" else list(one_byte_parts(fx.data))
    local.add_endpoint(
        "llm", lambda request: EndpointResponse(iter(parts), content_type=fx.content_type)
    )
    out: list[str] = []
    caught: GenerationError | StreamDecodeError | None = None
    with smr.stream("llm", b"{}") as stream:
        try:
            out.extend(stream.tokens("auto" if auto else fx.format))
        except (GenerationError, StreamDecodeError) as exc:
            caught = exc
    fx.check((out, type(caught) if caught else None, caught.message if caught else None))
    if caught is not None:
        assert caught.request_id == local.requests[-1].request_id

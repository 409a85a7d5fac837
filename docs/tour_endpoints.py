"""The local endpoints the README's tour and the docs' examples run against.

Every example in the README and in ``docs/`` is run by the test suite (Sybil, from the
root ``conftest.py``) against this ``LocalRuntime``, and its output compared with what the
page shows. The environment points boto3 at it, so a plain ``SageMakerRuntime()`` in an
example talks to these endpoints, with dummy credentials and no AWS account:

- ``shout``: upper-cases the JSON request body.
- ``story``: streams three parts; ``flaky`` streams two, then a ``ModelStreamError``.
- ``tgi``: streams tokens in Hugging Face TGI's server-sent events format.
- ``summariser`` (async inference): counts the words of ``inputs``.
- ``broken`` (async inference): fails the way a model container answering 500 does.
- ``upper``: upper-cases any body (for the CLI examples).
- ``demo``: the built-in demo LLM.

For the guides in ``docs/guides/``, the same words in the other formats ``tokens()``
reads, and endpoints that fail:

- ``chat``: an OpenAI-compatible chat stream (vLLM, TGI's Messages API), usage and ``[DONE]``.
- ``lmi``: DJL/LMI JSON lines; ``document``: one JSON document; ``plain``: plain text.
- ``oops``: a TGI stream whose server writes an error record after the first token.
- ``busy``: throttled twice, then answers; ``slow``: answers after 2 seconds.
- ``slow-llm``: the demo LLM at 4 tokens a second.

Run ``python docs/tour_endpoints.py`` to serve them yourself and try the examples by hand
(it prints the ``export`` lines to paste into another shell).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping

from typed_sagemaker_runtime.testing import (
    BidiDemo,
    DemoLLM,
    EndpointResponse,
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
    Stall,
    StreamErrorEvent,
)

__all__ = ["ENVIRONMENT", "environment", "tour_runtime"]

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Dummy credentials and a region: all the local endpoint needs."""


def _shout(request: InvocationRequest) -> bytes:
    return request.body.upper()


def _tgi(request: InvocationRequest) -> EndpointResponse:
    def records() -> Iterator[bytes]:
        for index, (text, special) in enumerate([("Hello", False), (" wérld", False)]):
            token = {"id": index, "text": text, "logprob": -0.5, "special": special}
            yield b"data:" + json.dumps({"token": token}).encode() + b"\n\n"
        final = {
            "token": {"id": 2, "text": "</s>", "logprob": -0.1, "special": True},
            "generated_text": "Hello wérld",
            "details": {"finish_reason": "eos_token", "generated_tokens": 3, "seed": None},
        }
        yield b"data:" + json.dumps(final).encode() + b"\n\n"

    return EndpointResponse(records(), content_type="text/event-stream")


def _sse(records: list[object]) -> Iterator[bytes]:
    for record in records:
        data = record if isinstance(record, str) else json.dumps(record)
        yield f"data: {data}\n\n".encode()


def _chat(request: InvocationRequest) -> EndpointResponse:
    def chunk(delta: dict[str, str], finish_reason: str | None = None) -> dict[str, object]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return {"object": "chat.completion.chunk", "model": "tour", "choices": [choice]}

    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    records: list[object] = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello"}),
        chunk({"content": " wérld"}),
        chunk({}, "stop"),
        {"object": "chat.completion.chunk", "model": "tour", "choices": [], "usage": usage},
        "[DONE]",
    ]
    return EndpointResponse(_sse(records), content_type="text/event-stream")


def _lmi(request: InvocationRequest) -> EndpointResponse:
    lines = [
        {"token": {"id": 1, "text": "Hello", "log_prob": -0.5}},
        {"token": {"id": 2, "text": " wérld", "log_prob": -0.5}, "generated_text": "Hello wérld"},
    ]
    body = (json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
    return EndpointResponse(body, content_type="application/jsonlines")


def _document(request: InvocationRequest) -> EndpointResponse:
    body = json.dumps([{"generated_text": "Hello wérld"}], ensure_ascii=False).encode()
    # Sent in parts cut mid-word (and mid-character), as a real stream may be.
    return EndpointResponse(
        iter([body[:20], body[20:29], body[29:]]), content_type="application/json"
    )


def _plain(request: InvocationRequest) -> EndpointResponse:
    return EndpointResponse(iter(["Hello", " wérld"]), content_type="text/plain")


def _oops(request: InvocationRequest) -> EndpointResponse:
    token = {"token": {"id": 1, "text": "Hello", "logprob": -0.5, "special": False}}
    error = {
        "error": "Request failed during generation: CUDA out of memory",
        "error_type": "generation",
    }
    return EndpointResponse(_sse([token, error]), content_type="text/event-stream")


def _summariser(request: InvocationRequest) -> EndpointResponse:
    words = len(str(request.json()["inputs"]).split())
    summary = json.dumps({"summary": f"{words} words"}).encode()
    return EndpointResponse(summary, content_type="application/json")


def _broken(request: InvocationRequest) -> bytes:
    raise ModelFailure(500, "input too long for this model")


_POSITIVE = ("good", "great", "love", "fine")


def _sentiment(request: InvocationRequest) -> EndpointResponse:
    text = str(request.json()["text"])
    if not text.strip():
        raise ModelFailure(400, "text is empty")
    hits = sum(word in text.lower() for word in _POSITIVE)
    label = "positive" if hits else "negative"
    answer = {"label": label, "score": round(min(0.99, 0.6 + 0.2 * hits), 2)}
    return EndpointResponse(json.dumps(answer).encode(), content_type="application/json")


def tour_runtime() -> LocalRuntime:
    """A started ``LocalRuntime`` serving the tour's endpoints (stop it when done)."""
    local = LocalRuntime().start()
    local.add_endpoint("shout", _shout)
    local.add_endpoint("story", lambda request: iter([b"Once ", b"upon ", b"a time"]))
    local.add_endpoint(
        "flaky",
        lambda request: iter([b"Once ", b"upon "]),
        faults=[StreamErrorEvent(1, error_code="ModelInvocationTimeExceeded")],
    )
    local.add_endpoint("tgi", _tgi)
    local.add_endpoint("summariser", _summariser)
    local.add_endpoint("broken", _broken)
    local.add_endpoint("upper", _shout)
    local.add_endpoint("demo", DemoLLM())
    local.add_endpoint("chat", _chat)
    local.add_endpoint("lmi", _lmi)
    local.add_endpoint("document", _document)
    local.add_endpoint("plain", _plain)
    local.add_endpoint("oops", _oops)
    local.add_endpoint("busy", _shout, faults=[ErrorResponse("ThrottlingException", times=2)])
    local.add_endpoint("slow", _shout, faults=[Stall(2.0)])
    local.add_endpoint("slow-llm", DemoLLM(tokens_per_second=4))
    local.add_endpoint("sentiment", _sentiment)
    if local.serves_bidi:  # the local extra's h2 and trustme are installed
        local.add_endpoint("captions", bidi=BidiDemo())
    return local


def environment(local: LocalRuntime) -> Mapping[str, str]:
    """The variables that point boto3 (SageMaker Runtime and S3) at ``local``."""
    bidi = (
        {
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2": local.bidi_endpoint_url,
            "AWS_CA_BUNDLE": local.ca_bundle,
        }
        if local.serves_bidi
        else {}
    )
    return {
        **ENVIRONMENT,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": local.endpoint_url,
        "AWS_ENDPOINT_URL_S3": local.s3_endpoint_url,
        **bidi,
    }


if __name__ == "__main__":
    with tour_runtime() as runtime:
        print(f"export {' '.join(f'{k}={v}' for k, v in environment(runtime).items())}")
        print(f"endpoints: {', '.join(runtime.endpoint_names)}  (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

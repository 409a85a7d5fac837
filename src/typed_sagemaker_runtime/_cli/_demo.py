"""``smr demo``: a walkthrough of the library against the built-in local endpoint.

It starts a local SageMaker Runtime with the demo LLM (no AWS, no weights, no
network), shows an invoke, a token stream printed live, a chat stream with its finish
reason and usage, an in-stream error caught as
a typed exception and an async inference waited to completion, then stops everything.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, TextIO

from .._core._exceptions import ModelStreamInterruptedError
from .._core._llm_types import ChatMessage, Usage
from .._core._params import models_member

if TYPE_CHECKING:
    from .._core._types import InvokeAsyncResult
    from .._sync._client import SageMakerRuntime
    from ..testing import LocalRuntime

_PROMPT = "What is Amazon SageMaker?"


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smr demo``."""
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=40.0,
        help="how fast the demo LLM generates (default 40)",
    )


def _step(out: TextIO, title: str, code: str) -> None:
    out.write(f"\n== {title}\n")
    for line in code.splitlines():
        prompt = "..." if line[:1].isspace() else ">>>"  # an indented line continues a block
        out.write(f"{prompt} {line}\n")
    out.flush()


def _chat_step(smr: SageMakerRuntime, out: TextIO) -> None:
    """One ``chat_stream``: the answer as it arrives, then its finish reason and usage."""
    _step(
        out,
        "chat_stream: an OpenAI Messages API chat, with its finish reason and usage",
        "with smr.chat_stream('demo', [{'role': 'user', 'content': ...}], max_tokens=24) as s:\n"
        "    for chunk in s.chunks(): print(chunk.text, end='')",
    )
    messages: list[ChatMessage] = [{"role": "user", "content": _PROMPT}]
    finish: str | None = None
    usage: Usage | None = None
    with smr.chat_stream("demo", messages, max_tokens=24) as stream:
        for chunk in stream.chunks():
            out.write(chunk.text)
            out.flush()
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
    out.write(f"\nfinish_reason: {finish}\nusage:         {usage}\n")


def _queue_async_inference(
    local: LocalRuntime, smr: SageMakerRuntime, body: bytes, out: TextIO
) -> InvokeAsyncResult:
    """Queue an async request: inline if this botocore models it, else through S3."""
    waiting = "output = smr.wait_for_async_result(job, timeout=60)"
    operation = smr.client.meta.service_model.operation_model("InvokeEndpointAsync")
    if models_member(operation, "Body"):
        _step(
            out,
            "async inference: queue it, then wait for the output object in S3",
            f"job = smr.invoke_async('demo', body=..., content_type='application/json')\n{waiting}",
        )
        return smr.invoke_async("demo", body=body, content_type="application/json")
    # botocore before 1.43.29 cannot send an inline body: upload the input first.
    bucket = "demo-input"
    s3 = local.s3_client()
    try:
        s3.create_bucket(Bucket=bucket)
    finally:
        s3.close()
    _step(
        out,
        "async inference: upload the input to S3, queue it, then wait for the output object",
        f"job = smr.invoke_async_upload('demo', body=..., s3_prefix='s3://{bucket}/', "
        f"content_type='application/json')\n{waiting}",
    )
    return smr.invoke_async_upload(
        "demo", body, s3_prefix=f"s3://{bucket}/", content_type="application/json"
    )


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Run the walkthrough; return 0. Expected failures raise our exceptions."""
    from ..testing import DemoLLM, LocalRuntime, Rechunk

    started = time.monotonic()
    out.write("Starting a local SageMaker Runtime with the demo LLM (no AWS account needed)\n")
    with LocalRuntime() as local:
        # Records split and merged across PayloadParts, as SageMaker sends them.
        demo = DemoLLM(tokens_per_second=args.tokens_per_second)
        local.add_endpoint("demo", demo, rechunk=Rechunk.random(1, 64))
        out.write(f"endpoint 'demo' at {local.endpoint_url}\n")
        with local.client() as smr:
            request = {"inputs": _PROMPT, "parameters": {"max_new_tokens": 24}}
            _step(out, "invoke: the whole response at once", f"smr.invoke('demo', json={request})")
            result = smr.invoke("demo", json=request)
            generated = json.loads(result["body"])[0]["generated_text"]
            out.write(f"generated_text: {generated}\n")
            out.write(f"content_type:   {result['content_type']}\n")
            out.write(f"request_id:     {result['response_metadata']['request_id']}\n")

            streaming = {**request, "stream": True}
            _step(
                out,
                "stream: tokens printed as the model generates them",
                f"with smr.stream('demo', json={streaming}) as stream:\n"
                "    for token in stream.tokens(): print(token, end='')",
            )
            with smr.stream("demo", json=streaming) as stream:
                for token in stream.tokens():
                    out.write(token)
                    out.flush()
            out.write("\n")

            _chat_step(smr, out)

            failing = {
                "inputs": _PROMPT,
                "stream": True,
                "parameters": {"max_new_tokens": 24, "fail_after_tokens": 6},
            }
            _step(
                out,
                "an error in the middle of a stream becomes a typed exception",
                f"with smr.stream('demo', json={failing}) as stream: ...",
            )
            try:
                with smr.stream("demo", json=failing) as stream:
                    for token in stream.tokens():
                        out.write(token)
                        out.flush()
            except ModelStreamInterruptedError as exc:
                out.write(f"\ncaught {type(exc).__name__}: error_code={exc.error_code}\n")
                out.write(f"        request_id={exc.request_id}\n")

            job = _queue_async_inference(local, smr, json.dumps(request).encode(), out)
            out.write(f"output_location: {job['output_location']}\n")
            output = smr.wait_for_async_result(job, timeout=60)
            generated = json.loads(output["body"])[0]["generated_text"]
            out.write(f"generated_text:  {generated}\n")
    out.write(f"\nDone in {time.monotonic() - started:.1f} s; the local endpoint is stopped.\n")
    out.write("Next: `smr serve` runs it for your own code, `smr --help` lists the commands.\n")
    out.flush()
    return 0

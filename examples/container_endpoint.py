"""Put the local SageMaker endpoint in front of your own model container.

    python examples/container_endpoint.py http://127.0.0.1:8080

The container must follow the SageMaker container contract (``GET /ping``,
``POST /invocations``), as it will on a real endpoint. This starts a local SageMaker
Runtime with one endpoint, ``byoc``, that forwards to it, then invokes and streams
through the unmodified boto3 stack, before you pay for an endpoint.
"""

from __future__ import annotations

import json
import sys

from typed_sagemaker_runtime import ModelError, SageMakerRuntimeError
from typed_sagemaker_runtime.testing import Container, LocalRuntime


def main(container_url: str) -> int:
    with LocalRuntime() as local:
        # Waits for /ping to answer 200 (raises ContainerNotHealthyError otherwise).
        local.add_endpoint("byoc", Container(container_url, health_timeout=30))
        print(f"endpoint 'byoc' at {local.endpoint_url} -> {container_url}")
        with local.client() as smr:
            try:
                result = smr.invoke("byoc", json={"inputs": "hello"}, custom_attributes="a=1")
                print(f"invoke: {result['content_type']} {result['body'][:200]!r}")
                with smr.stream("byoc", json={"inputs": "hello", "stream": True}) as stream:
                    parts = [len(part) for part in stream.payloads()]
                print(f"stream: {len(parts)} parts, {sum(parts)} bytes")
            except ModelError as exc:
                print(
                    f"the container answered {exc.original_status_code}: "
                    f"{json.dumps(exc.original_message)}",
                    file=sys.stderr,
                )
                return 1
            except SageMakerRuntimeError as exc:
                print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"))

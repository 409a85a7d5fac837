"""Call a real-time endpoint with a JSON payload and handle its failures.

    python examples/invoke_json.py ENDPOINT_NAME

Runs against AWS with your usual boto3 configuration, or against the local endpoint
(`smr serve`) when AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points at it.
"""

from __future__ import annotations

import json
import sys

from typed_sagemaker_runtime import (
    EndpointNotFoundError,
    ModelError,
    SageMakerRuntime,
    SageMakerRuntimeError,
)


def main(endpoint_name: str) -> int:
    with SageMakerRuntime() as smr:
        try:
            result = smr.invoke(
                endpoint_name,
                json={"inputs": "What is Amazon SageMaker?"},
                accept="application/json",
            )
        except EndpointNotFoundError as exc:
            print(f"no such endpoint: {exc.message}", file=sys.stderr)
            return 2
        except ModelError as exc:
            print(
                f"the model failed with {exc.original_status_code}: {exc.original_message}",
                file=sys.stderr,
            )
            return 1
        except SageMakerRuntimeError as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(f"variant:    {result['invoked_production_variant']}")
    print(f"type:       {result['content_type']}")
    print(f"request id: {result['response_metadata']['request_id']}")
    body = json.loads(result["body"]) if result["content_type"] == "application/json" else None
    print(f"body:       {body if body is not None else result['body']!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "my-endpoint"))

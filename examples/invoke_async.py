"""Queue an asynchronous inference with an inline body or an S3 input.

    python examples/invoke_async.py ENDPOINT_NAME [s3://bucket/input.json]

Prints where SageMaker will write the output and, on failure, the error.
"""

from __future__ import annotations

import sys

from typed_sagemaker_runtime import SageMakerRuntime


def main(endpoint_name: str, input_location: str | None = None) -> int:
    with SageMakerRuntime() as smr:
        if input_location is not None:
            job = smr.invoke_async(endpoint_name, input_location=input_location)
        else:
            job = smr.invoke_async(
                endpoint_name,
                body=b'{"inputs": "Summarise this document"}',
                content_type="application/json",
                request_ttl_seconds=3600,
            )
    print(f"inference id:     {job['inference_id']}")
    print(f"output location:  {job['output_location']}")
    print(f"failure location: {job['failure_location']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]) if len(sys.argv) > 1 else main("my-endpoint"))

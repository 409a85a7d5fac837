"""Stream a response as typed events and print the payload as it arrives.

    python examples/stream_events.py ENDPOINT_NAME

An error event (ModelStreamError, InternalStreamFailure) is always the last one;
its ErrorCode is kept (botocore drops it).
"""

from __future__ import annotations

import sys

from typed_sagemaker_runtime import (
    InternalStreamFailure,
    ModelStreamError,
    PayloadPart,
    SageMakerRuntime,
)


def main(endpoint_name: str) -> int:
    with (
        SageMakerRuntime() as smr,
        smr.stream(endpoint_name, json={"inputs": "Tell me a story", "stream": True}) as stream,
    ):
        print(f"content type: {stream.metadata['content_type']}", file=sys.stderr)
        for event in stream:
            match event:
                case PayloadPart(data=data):
                    sys.stdout.buffer.write(data)
                    sys.stdout.flush()
                case ModelStreamError(message=message, error_code=code):
                    print(f"\nmodel stream failed: {code}: {message}", file=sys.stderr)
                    return 1
                case InternalStreamFailure(message=message):
                    print(f"\nSageMaker failed: {message}", file=sys.stderr)
                    return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "my-endpoint"))

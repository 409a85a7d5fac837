"""The bulk benchmark's endpoint, in its own process: a busy endpoint and an echo.

Run by ``bulk.py``, not by hand: it prints its URL, then serves until stdin closes.
``busy`` has a fixed capacity (requests beyond it are throttled at once), ``queued`` the
same capacity with a queue in front (latency rises before anything is throttled),
``echo`` none. ``stats`` answers the capacity counters of the endpoint its body names,
so the client reads what the server saw over the same HTTP path.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from typed_sagemaker_runtime.testing import Capacity, InvocationRequest, LocalRuntime

SLOTS = 16
LATENCY = 0.05
BUSY = Capacity(SLOTS, latency=LATENCY)
QUEUED = Capacity(SLOTS, latency=LATENCY, queue=48)


def main() -> None:
    with LocalRuntime(max_connections=512) as local:

        def stats(request: InvocationRequest) -> bytes:
            counters = local.capacity_stats(request.body.decode())
            return json.dumps(dataclasses.asdict(counters)).encode()

        local.add_endpoint("echo", lambda request: request.body)
        local.add_endpoint("busy", lambda request: request.body, capacity=BUSY)
        local.add_endpoint("queued", lambda request: request.body, capacity=QUEUED)
        local.add_endpoint("stats", stats)
        print(local.endpoint_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

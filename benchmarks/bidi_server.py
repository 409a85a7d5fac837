"""The local bidirectional listener in its own process, for ``bidi.py`` (issue 21, item 8).

Run by the benchmark, not by hand: it prints ``URL CA_FILE`` on one line, then serves until
stdin closes. Each stream's first part is a command, answered with itself (so a client knows
its stream is open before its clock starts); one backend serves every workload:

* ``echo``: every further part is answered with itself, at once;
* ``sink``: the parts are consumed; at the end of the input, one UTF8 part says how many
  bytes came (the upload's end);
* ``source COUNT SIZE``: at the next part (``go``), COUNT BINARY parts of SIZE bytes are
  sent at once (the download), then the input is drained.

The listener verifies the request's and every event's signature for every client alike, so
the server's work per part is the same whichever client is measured.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from typed_sagemaker_runtime._core._bidi_events import BidiEvent, BidiPayloadPart
from typed_sagemaker_runtime.testing._server._bidi_listener import BidiListener

KEY = SECRET = "bench"


def backend(parts: Iterator[BidiPayloadPart]) -> Iterator[BidiEvent]:
    first = next(parts, None)
    if first is None:
        return
    yield first
    command, *args = first.data.decode().split()
    if command == "echo":
        yield from parts
    elif command == "sink":
        received = sum(len(part.data) for part in parts)
        yield BidiPayloadPart(str(received).encode(), "UTF8", None)
    elif command == "source":
        count, size = int(args[0]), int(args[1])
        part = BidiPayloadPart(bytes(size), "BINARY", None)
        next(parts, None)  # "go": the client's clock starts once its stream is open
        for _ in range(count):
            yield part
        for _ in parts:
            pass


def main() -> None:
    with BidiListener(backend, credentials={KEY: SECRET}) as listener:
        print(listener.url, listener.ca_bundle, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

"""A tiny bidirectional-streaming model container, to try the local endpoint's Container backend.

    python examples/bidi_container.py --port 8080

It follows SageMaker's container contract for bidirectional streaming on one port:
``GET /ping`` answers 200, and WebSockets are accepted at

* ``/invocations-bidirectional-stream`` (where SageMaker connects by default): each message
  is sent back as it came, text as text, binary as binary;
* ``/uppercase`` (a request with ``model_invocation_path="uppercase"``): text comes back in
  capitals, binary as it came.

Any other path is refused with 404. The container answers pings (the library does) and
closes when its client does. Put the local endpoint in front of it::

    from typed_sagemaker_runtime.testing import Container, LocalRuntime

    with LocalRuntime() as local:
        local.add_endpoint("byoc", Container("http://127.0.0.1:8080"))
        with local.client().bidi_stream("byoc", input=["hello"]) as stream:
            print(list(stream.messages()))   # ['hello']

It needs the ``websockets`` package (``pip install 'typed-sagemaker-runtime[local]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from http import HTTPStatus

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

ROUTES = ("/invocations-bidirectional-stream", "/uppercase")


def route(connection: ServerConnection, request: Request) -> Response | None:
    """Answer ``GET /ping`` and unknown paths over plain HTTP; let WebSockets through."""
    path = request.path.split("?", 1)[0]
    if path == "/ping":
        return connection.respond(HTTPStatus.OK, "healthy\n")
    if path not in ROUTES:
        return connection.respond(HTTPStatus.NOT_FOUND, f"no WebSocket at {path}\n")
    return None


def answer(connection: ServerConnection) -> None:
    """Send every message back as it came, text in capitals on ``/uppercase``."""
    assert connection.request is not None
    uppercase = connection.request.path.split("?", 1)[0] == "/uppercase"
    try:
        for message in connection:
            if isinstance(message, str) and uppercase:
                message = message.upper()
            connection.send(message)
    except ConnectionClosed:
        pass


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; print the address once listening."""
    parser = argparse.ArgumentParser(description="A tiny bidirectional-streaming container.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    args = parser.parse_args(argv)
    server: Server = serve(answer, args.host, args.port, process_request=route, compression=None)
    with server:
        host, port = server.socket.getsockname()[:2]
        print(f"listening on http://{host}:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

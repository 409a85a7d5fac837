"""A model container written to the SageMaker container contract, for the tests.

Run as ``python echo_container.py [--unhealthy-pings N] [--ping-status CODE]``; it listens on
a free loopback port and prints ``PORT <n>`` when ready.

* ``GET /ping``: 200 (after ``--unhealthy-pings`` answers of 503; always ``--ping-status``
  when given). ``GET /stats`` returns ``{"pings": N}``.
* ``POST /release/<token>``: wakes whatever waits for ``token`` (below).
* ``POST /invocations`` with a JSON body that scripts the answer:

  - ``{"status": 503, "message": "busy"}``: that status, ``message`` as a text/plain body;
  - ``{"chunks": [...], "content_type": ..., "wait_for": TOKEN}``: a chunked response, each
    chunk flushed at once; with ``wait_for``, the chunks after the first are sent only once
    ``/release/TOKEN`` was called (after 10 s it sends ``RELEASE-TIMEOUT`` instead);
    ``"break_after": N`` closes the connection after N chunks without ending the body;
  - ``{"hang": TOKEN}``: sends nothing until ``/release/TOKEN``;
  - anything else: 200 ``application/x-echo`` with ``{"body": ..., "headers": {...}}``
    (header names lower-cased), echoing custom attributes back as ``echo=<value>`` and
    answering ``X-Amzn-SageMaker-Session-Id: NEW_SESSION`` with a new session id.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RELEASE_TIMEOUT = 10.0

_lock = threading.Lock()
_releases: dict[str, threading.Event] = {}
_state = {"pings": 0}


def _release_event(token: str) -> threading.Event:
    with _lock:
        return _releases.setdefault(token, threading.Event())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    unhealthy_pings = 0
    ping_status: int | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ping":
            with _lock:
                _state["pings"] += 1
                count = _state["pings"]
            status = self.ping_status or (503 if count <= self.unhealthy_pings else 200)
            self._send(status, b"{}", "application/json")
        elif self.path == "/stats":
            with _lock:
                body = json.dumps(_state).encode()
            self._send(200, body, "application/json")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path.startswith("/release/"):
            _release_event(self.path.removeprefix("/release/")).set()
            self._send(204, b"", "text/plain")
            return
        if self.path != "/invocations":
            self._send(404, b"not found", "text/plain")
            return
        try:
            script: Any = json.loads(body)
        except ValueError:
            script = None
        if not isinstance(script, dict):
            script = {}
        if "status" in script:
            message = str(script.get("message", "")).encode()
            self._send(int(script["status"]), message, "text/plain")
        elif "chunks" in script:
            self._stream(script)
        elif "hang" in script:
            _release_event(str(script["hang"])).wait(RELEASE_TIMEOUT)
            self._send(200, b"late", "text/plain")
        else:
            self._echo(body)

    def _echo(self, body: bytes) -> None:
        headers: dict[str, str] = {}
        answer = {
            "body": body.decode("utf-8", "replace"),
            "headers": {name.lower(): value for name, value in self.headers.items()},
        }
        custom = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if custom is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = f"echo={custom}"
        if self.headers.get("X-Amzn-SageMaker-Session-Id") == "NEW_SESSION":
            headers["X-Amzn-SageMaker-New-Session-Id"] = "sess-1; Expires=2030-01-01T00:00:00Z"
        self._send(200, json.dumps(answer).encode(), "application/x-echo", **headers)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, script: dict[str, Any]) -> None:
        chunks = [str(chunk).encode() for chunk in script["chunks"]]
        wait_for = script.get("wait_for")
        break_after = script.get("break_after")
        self.send_response(200)
        self.send_header("Content-Type", str(script.get("content_type", "text/event-stream")))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, chunk in enumerate(chunks):
            if break_after is not None and index >= break_after:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # no terminating chunk
                return
            if index == 1 and wait_for is not None:
                released = _release_event(str(wait_for)).wait(RELEASE_TIMEOUT)
                if not released:
                    self._chunk(b"RELEASE-TIMEOUT")
                    break
            self._chunk(chunk)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--unhealthy-pings", type=int, default=0)
    parser.add_argument("--ping-status", type=int, default=None)
    args = parser.parse_args()
    Handler.unhealthy_pings = args.unhealthy_pings
    Handler.ping_status = args.ping_status
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

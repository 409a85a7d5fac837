"""The Container backend's bidirectional streams: a WebSocket to a real container.

A scripted WebSocket server runs in the test process (websockets' threading server); the
example container (``examples/bidi_container.py``) runs as a subprocess. The backend is
driven as the listener drives it (``tests/_bidi_backend_harness.py``), without HTTP/2.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from _bidi_backend_harness import Caller
from typed_sagemaker_runtime._core._bidi_events import BidiPayloadPart
from typed_sagemaker_runtime.testing import Container, ModelStreamError
from typed_sagemaker_runtime.testing._backends._bidi_container import (
    WebSocketTarget,
    serve_over_websocket,
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "bidi_container.py"
DEFAULT = "/invocations-bidirectional-stream"


class Scripted:
    """A WebSocket container whose answers are scripted by the messages it receives.

    It echoes each message (text as text, binary as binary), except: ``bye`` answers
    ``goodbye`` and closes with 1000; ``slow`` is echoed after half a second; ``crash``
    closes with 1011; ``drop`` drops the TCP connection without a close frame. On any other
    path than the default it first says ``reached PATH``. ``/refuse`` is refused with 403,
    ``/ping`` answers 200.
    """

    def __init__(self) -> None:
        self.received: list[str | bytes] = []
        self.close_codes: queue.Queue[int | None] = queue.Queue()  # as each handler ends
        self._server: Server = serve(
            self._handle, "127.0.0.1", 0, process_request=self._route, compression=None
        )
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/ping":
            return connection.respond(HTTPStatus.OK, "ok")
        if request.path == "/refuse":
            return connection.respond(HTTPStatus.FORBIDDEN, "no such model")
        return None

    def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path != DEFAULT:
            ws.send(f"reached {ws.request.path}")
        try:
            for message in ws:
                self.received.append(message)
                if message == "bye":
                    ws.send("goodbye")
                    ws.close()
                elif message == "crash":
                    ws.close(1011, "model crashed")
                elif message == "slow":
                    time.sleep(0.5)
                    ws.send("slow")
                elif message == "drop":
                    ws.socket.shutdown(socket.SHUT_RDWR)
                    ws.socket.close()
                else:
                    ws.send(message)
        except ConnectionClosed:
            pass
        self.close_codes.put(ws.close_code)

    def target(self, **overrides: float) -> WebSocketTarget:
        """Where the backend finds this container (a short grace unless told otherwise)."""
        settings: dict[str, float] = {"input_end_grace": 0.2, **overrides}
        return WebSocketTarget("127.0.0.1", self.port, "", "primary", **settings)  # type: ignore[arg-type]

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture(name="scripted")
def _scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


def start(scripted: Scripted, headers: dict[str, str] | None = None, **target: float) -> Caller:
    caller = Caller(headers)
    return caller.start(serve_over_websocket(caller.invocation, scripted.target(**target)))


def utf8(text: str) -> BidiPayloadPart:
    return BidiPayloadPart(text.encode(), "UTF8", "COMPLETE")


def binary(data: bytes) -> BidiPayloadPart:
    return BidiPayloadPart(data, "BINARY", "COMPLETE")


def test_utf8_parts_are_text_frames_and_binary_parts_binary_frames(scripted: Scripted) -> None:
    caller = start(scripted)
    caller.send("héllo")
    caller.send(b"\x00\x01", "BINARY")
    caller.send(b"\x02")  # no DataType: the service reads BINARY
    caller.end()
    assert caller.rest() == [utf8("héllo"), binary(b"\x00\x01"), binary(b"\x02")]
    assert scripted.received == ["héllo", b"\x00\x01", b"\x02"]


def test_each_partial_part_is_a_message_of_its_own(scripted: Scripted) -> None:
    caller = start(scripted)
    caller.send("hel", state="PARTIAL")
    caller.send("lo", state="COMPLETE")
    caller.end()
    assert caller.rest() == [utf8("hel"), utf8("lo")]
    assert scripted.received == ["hel", "lo"]


def test_a_utf8_part_goes_out_unchanged_even_when_not_utf8(scripted: Scripted) -> None:
    """The container, not the sidecar, judges the text: websockets closes with 1007."""
    caller = start(scripted)
    caller.send(b"\xff\xfe", "UTF8")
    [event] = caller.rest()
    assert isinstance(event, ModelStreamError)
    assert event.error_code == "ModelClosedWithError"
    assert "1007" in (event.message or "")


def test_no_invocation_path_goes_to_the_default_path(scripted: Scripted) -> None:
    caller = start(scripted)
    caller.send("hi")
    caller.end()
    assert caller.rest() == [utf8("hi")]  # no "reached ..." greeting: the default path


@pytest.mark.parametrize(
    ("headers", "reached"),
    [
        (
            {
                "X-Amzn-SageMaker-Model-Invocation-Path": "v1/listen",
                "X-Amzn-SageMaker-Model-Query-String": "model=nova-3&language=en",
            },
            "/v1/listen?model=nova-3&language=en",
        ),
        ({"X-Amzn-SageMaker-Model-Invocation-Path": "v1/listen"}, "/v1/listen"),
        ({"X-Amzn-SageMaker-Model-Query-String": "model=nova-3"}, f"{DEFAULT}?model=nova-3"),
    ],
)
def test_invocation_path_and_query_string_route_the_websocket(
    scripted: Scripted, headers: dict[str, str], reached: str
) -> None:
    caller = start(scripted, headers)
    caller.end()
    assert caller.rest() == [utf8(f"reached {reached}")]


def test_full_duplex_the_answer_to_part_one_arrives_before_part_two_is_given(
    scripted: Scripted,
) -> None:
    caller = start(scripted)
    caller.send("one")
    assert caller.next() == utf8("one")  # would time out if answers waited for the input
    caller.send("two")
    assert caller.next() == utf8("two")
    caller.end()
    assert caller.rest() == []


def test_a_container_silent_for_longer_than_the_connect_timeout_is_fine(
    scripted: Scripted,
) -> None:
    caller = start(scripted, connect_timeout=0.1)
    caller.send("slow")
    assert caller.next() == utf8("slow")
    caller.end()
    assert caller.rest() == []


def test_answers_in_flight_when_the_input_ends_still_arrive(scripted: Scripted) -> None:
    caller = start(scripted)
    for word in ("a", "b", "c"):
        caller.send(word)
    caller.end()
    assert caller.rest() == [utf8("a"), utf8("b"), utf8("c")]
    assert scripted.close_codes.get(timeout=5) == 1000  # the input's end closed the WebSocket


def test_the_container_closing_early_ends_the_stream_quietly(scripted: Scripted) -> None:
    caller = start(scripted)
    caller.send("bye")
    assert caller.rest() == [utf8("goodbye")]  # ended while the input is still open
    caller.send("too late")
    caller.end()
    assert scripted.received == ["bye"]


def test_an_error_close_code_ends_the_stream_with_a_model_stream_error(
    scripted: Scripted,
) -> None:
    caller = start(scripted)
    caller.send("crash")
    [event] = caller.rest()
    assert event == ModelStreamError(
        "container primary closed the WebSocket with code 1011: model crashed",
        "ModelClosedWithError",
    )


def test_a_dropped_connection_is_stream_broken(scripted: Scripted) -> None:
    caller = start(scripted)
    caller.send("drop")
    [event] = caller.rest()
    assert isinstance(event, ModelStreamError)
    assert event.error_code == "StreamBroken"


def test_a_refused_handshake_is_model_connection_failed(scripted: Scripted) -> None:
    caller = start(scripted, {"X-Amzn-SageMaker-Model-Invocation-Path": "refuse"})
    [event] = caller.rest()
    assert isinstance(event, ModelStreamError)
    assert event.error_code == "ModelConnectionFailed"
    assert "HTTP 403: no such model" in (event.message or "")


def test_an_unreachable_container_is_model_connection_failed() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caller = Caller()
    caller.start(
        serve_over_websocket(caller.invocation, WebSocketTarget("127.0.0.1", port, "", "primary"))
    )
    [event] = caller.rest()
    assert isinstance(event, ModelStreamError)
    assert event.error_code == "ModelConnectionFailed"
    assert f"could not connect to container primary at ws://127.0.0.1:{port}{DEFAULT}" in (
        event.message or ""
    )


def _raw_websocket_server(ready: threading.Event, port: list[int], answer_close: bool) -> None:
    """Accept one WebSocket and say nothing, or answer the client's close as scripted.

    With ``answer_close`` it sends a text frame ``late`` after the client's close frame,
    then its own close (1000); without it, it never answers anything (no pong either).
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port.append(listener.getsockname()[1])
        ready.set()
        conn, _ = listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            if answer_close:
                assert conn.recv(4096)[0] == 0x88  # the client's close frame
                conn.sendall(b"\x81\x04late" + b"\x88\x02\x03\xe8")  # text "late", close 1000
                return
            while conn.recv(4096):
                pass


def _raw_target(answer_close: bool, **settings: float) -> WebSocketTarget:
    ready, port = threading.Event(), list[int]()
    threading.Thread(
        target=_raw_websocket_server, args=(ready, port, answer_close), daemon=True
    ).start()
    assert ready.wait(5)
    return WebSocketTarget("127.0.0.1", port[0], "", "primary", **settings)  # type: ignore[arg-type]


def test_frames_the_container_sends_after_the_close_still_arrive() -> None:
    caller = Caller()
    target = _raw_target(answer_close=True, input_end_grace=0.05)
    caller.start(serve_over_websocket(caller.invocation, target))
    caller.end()
    assert caller.rest() == [utf8("late")]


def test_a_container_that_stops_answering_pings_times_out() -> None:
    target = _raw_target(
        answer_close=False, ping_interval=0.05, pings_unanswered=2, close_timeout=0.2
    )
    caller = Caller()
    caller.start(serve_over_websocket(caller.invocation, target))
    [event] = caller.rest()
    assert event == ModelStreamError(
        "container primary answered no ping for 0.1 s", "ModelInvocationTimeExceeded"
    )


# --- through Container, against the example container --------------------------------------


@pytest.fixture(name="example", scope="module")
def _example() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("listening on http://"), line
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def test_container_serve_bidi_echoes_through_the_example_container(example: str) -> None:
    container = Container(example)  # its GET /ping answers 200 on the WebSocket's port
    caller = Caller()
    caller.start(container.serve_bidi(caller.invocation))
    caller.send("hello")
    assert caller.next() == utf8("hello")
    caller.send(b"\x00\xff", "BINARY")
    assert caller.next() == binary(b"\x00\xff")
    caller.end()
    assert caller.rest() == []


def test_container_serve_bidi_routes_by_invocation_path(example: str) -> None:
    container = Container(example)
    caller = Caller({"X-Amzn-SageMaker-Model-Invocation-Path": "uppercase"})
    caller.start(container.serve_bidi(caller.invocation))
    caller.send("live captions")
    assert caller.next() == utf8("LIVE CAPTIONS")
    caller.end()
    assert caller.rest() == []

    refused = Caller({"X-Amzn-SageMaker-Model-Invocation-Path": "v1/listen"})
    refused.start(container.serve_bidi(refused.invocation))
    [event] = refused.rest()
    assert isinstance(event, ModelStreamError)
    assert "refused the WebSocket with HTTP 404: no WebSocket at /v1/listen" in (
        event.message or ""
    )


def test_container_serve_bidi_on_an_unhealthy_container_fails_the_stream() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    container = Container(f"http://127.0.0.1:{port}", wait=False, health_timeout=0.1)
    caller = Caller()
    caller.start(container.serve_bidi(caller.invocation))
    [event] = caller.rest()
    assert isinstance(event, ModelStreamError)
    assert event.error_code == "ModelConnectionFailed"
    assert "did not answer GET /ping with 200" in (event.message or "")


def test_without_websockets_serve_bidi_names_the_extra(
    example: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "websockets", None)  # import websockets fails
    for name in [n for n in sys.modules if n.startswith("websockets.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "typed_sagemaker_runtime.testing._backends._bidi_container")
    container = Container(example)
    with pytest.raises(ModuleNotFoundError, match=r"typed-sagemaker-runtime\[local\]"):
        container.serve_bidi(Caller().invocation)

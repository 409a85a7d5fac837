"""A raw HTTP/2 server over TLS that lies on purpose, for the bidirectional client's tests.

One thread accepts connections and runs h2 (sans-I/O) over each; when a request arrives,
the test's ``script(peer, stream_id)`` decides what to answer: garbage after a 200, an
error status that never ends, a reset, a GOAWAY, or nothing at all (``peer.stop_reading``
stops reading the socket so that flow control blocks the client's writes).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import trustme


@dataclass
class Peer:
    """The server's side of one connection, handed to the script."""

    conn: h2.connection.H2Connection
    sock: ssl.SSLSocket
    stop_reading: bool = False
    received: bytearray = field(default_factory=bytearray)
    ended: threading.Event = field(default_factory=threading.Event)

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            with contextlib.suppress(OSError):
                self.sock.sendall(data)

    def headers(
        self, stream_id: int, status: int, *extra: tuple[str, str], end: bool = False
    ) -> None:
        self.conn.send_headers(stream_id, [(":status", str(status)), *extra], end_stream=end)
        self.flush()

    def data(self, stream_id: int, data: bytes, *, end: bool = False) -> None:
        self.conn.send_data(stream_id, data, end_stream=end)
        self.flush()

    def raw(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)


Script = Callable[[Peer, int], None]


class HostileServer:
    """Serves ``script`` on ``https://localhost:PORT``; ``ca_bundle`` is its CA's PEM file."""

    def __init__(self, script: Script, ca_path: str, ca: trustme.CA) -> None:
        self.script = script
        self.ca_bundle = ca_path
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(self._context)
        self._context.set_alpn_protocols(["h2"])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"https://localhost:{self.port}"
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.handshake_delay = 0.0
        """Seconds to hold a new connection before its TLS handshake (a stalled endpoint)."""
        self.closed_by_client = threading.Event()
        """Set when a client closes a connection the server still holds."""
        self._socks: list[socket.socket] = []
        self.peers: list[Peer] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stopped.is_set():
            try:
                raw, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._socks.append(raw)
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket) -> None:
        if self.handshake_delay:
            self._stopped.wait(self.handshake_delay)
        try:
            sock = self._context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            return
        self._socks.append(sock)
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        peer = Peer(conn, sock)
        self.peers.append(peer)
        conn.initiate_connection()
        peer.flush()
        while not self._stopped.is_set():
            if peer.stop_reading:
                self._stopped.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([sock], [], [], 0.05)
            except (OSError, ValueError):  # the script closed the socket
                return
            if not ready and not sock.pending():
                continue
            try:
                data = sock.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                self.closed_by_client.set()
                return
            try:
                events = conn.receive_data(data)
            except Exception:
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    self.script(peer, event.stream_id)
                elif isinstance(event, h2.events.DataReceived):
                    peer.received += event.data
                    with contextlib.suppress(Exception):
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                elif isinstance(event, h2.events.StreamEnded):
                    peer.ended.set()
            peer.flush()

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(2)


@contextlib.contextmanager
def hostile_server(script: Script, tmp_path: str) -> Iterator[HostileServer]:
    """A :class:`HostileServer` for the duration of the ``with``."""
    ca = trustme.CA()
    ca_path = f"{tmp_path}/hostile-ca.pem"
    ca.cert_pem.write_to_path(ca_path)
    server = HostileServer(script, ca_path, ca)
    try:
        yield server
    finally:
        server.close()

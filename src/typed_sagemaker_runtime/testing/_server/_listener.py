"""The loopback HTTP/1.1 server: an accept thread plus one thread per connection.

It does not trust its clients (``smr serve --host 0.0.0.0`` is reachable by anyone): a
connection idle between requests is closed after ``idle_timeout``, a request must arrive
whole within ``request_timeout`` (no slowloris), a body over the service's limit is
answered 413 without being read, and at most ``max_connections`` are served at once. A
full server closes one idle keep-alive connection to make room; when none is idle, new
connections wait in the listen backlog until one ends (a new connection that has
sent nothing for a second counts as idle then: silent connections cannot hold every slot).

``stop()`` wakes the accept loop through a socket pair (no polling interval), shuts every
open connection down (idle keep-alive ones, ones blocked writing to a slow reader, and
stalled ones, whose wait ends through the shared ``stopping`` event), then joins all
threads. Each connection thread closes its own socket, under the same lock that
``stop()`` holds while shutting sockets down, so a file descriptor is never touched
after it was closed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from ._http import (
    BadRequest,
    CloseConnection,
    PayloadTooLarge,
    ResetConnection,
    ResponseWriter,
    arm_reset,
    read_request,
)
from ._reader import ReadTimeout, SocketReader
from ._service import Service
from ._shaping import base_headers

logger = logging.getLogger("typed_sagemaker_runtime.testing")

MAX_BODY = 6291456  # InvokeEndpoint's Body in botocore's service model: SageMaker's 6 MB
_LINGER_SECONDS = 2.0  # how long unread bytes are drained before closing after a refusal
_SILENT_SECONDS = 1.0  # a full server may close a new connection silent for this long
_FULL_POLL_SECONDS = 0.25  # while full, how often a silent connection is looked for
_MAX_SECONDS = 10**9  # a timeout beyond this (or infinite) overflows socket.settimeout


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How much the server grants one client: see ``LocalRuntime``'s parameters."""

    idle_timeout: float | None = 60.0
    request_timeout: float | None = 30.0
    max_connections: int = 100
    max_body: int = MAX_BODY

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "request_timeout"):
            value = getattr(self, name)
            if value is not None and not 0 < value < _MAX_SECONDS:  # NaN, infinity too
                raise ValueError(
                    f"{name} must be None or from 0 to {_MAX_SECONDS:,} seconds, not {value!r}"
                )
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, not {self.max_connections!r}")


@dataclass(slots=True)
class _Connection:
    reader: SocketReader
    thread: threading.Thread | None = None
    served: bool = False  # answered a request: idle now means idle keep-alive
    evicted: bool = False


class Server:
    """Serves ``service`` on ``host:port`` (port 0: any free port) until ``stop()``."""

    def __init__(
        self,
        host: str,
        port: int,
        service: Service,
        stopping: threading.Event,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self._service = service
        self._stopping = stopping
        self._limits = limits or ConnectionLimits()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, _Connection] = {}
        self._stopped = False
        self.connections_opened = 0
        """TCP connections accepted so far."""
        self._listener = socket.create_server((host, port), backlog=128)
        try:
            self._listener.setblocking(False)
            self._wake_reader, self._wake_writer = socket.socketpair()
            self._wake_reader.setblocking(False)
        except BaseException:
            self._listener.close()
            raise
        self.port: int = self._listener.getsockname()[1]
        """The bound port."""
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"local-sagemaker-accept-{self.port}", daemon=True
        )
        self._accept_thread.start()

    # --- accepting --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_reader, selectors.EVENT_READ)
            selector.register(self._listener, selectors.EVENT_READ)
            listening = True
            while not self._stopping.is_set():
                events = selector.select(None if listening else _FULL_POLL_SECONDS)
                if not events and not listening:  # look again: a connection may be idle now
                    selector.register(self._listener, selectors.EVENT_READ)
                    listening = True
                for key, _ in events:
                    if self._stopping.is_set():
                        break
                    if key.fileobj is self._wake_reader:  # a connection ended
                        with contextlib.suppress(OSError):
                            self._wake_reader.recv(4096)
                        if not listening:
                            selector.register(self._listener, selectors.EVENT_READ)
                            listening = True
                    elif self._make_room():
                        self._accept()
                    else:  # wait for a connection to end before accepting again
                        selector.unregister(self._listener)
                        listening = False

    def _make_room(self) -> bool:
        """Whether a waiting connection can be served now; if not, close an idle one.

        Idle: a keep-alive connection between requests, or a new one that has sent nothing
        for ``_SILENT_SECONDS``. Its thread then ends and wakes the accept loop.
        """
        with self._lock:
            if len(self._connections) < self._limits.max_connections:
                return True
            silent_since = time.monotonic() - _SILENT_SECONDS
            for conn, connection in self._connections.items():
                reader = connection.reader
                idle = reader.waiting and (connection.served or reader.waiting_since < silent_since)
                if idle and not connection.evicted:
                    connection.evicted = True
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)
                    break
            return False

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. the peer gave up already, or out of file descriptors
            logger.debug("accept() failed: %s", exc)
            return
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._stopped:
                conn.close()
                return
            self.connections_opened += 1
            connection = _Connection(SocketReader(conn))
            connection.thread = threading.Thread(
                target=self._serve_connection,
                args=(conn, connection),
                name=f"local-sagemaker-conn-{self.port}-{self.connections_opened}",
                daemon=True,
            )
            self._connections[conn] = connection
            connection.thread.start()

    # --- serving one connection -------------------------------------------------------

    def _serve_connection(self, conn: socket.socket, connection: _Connection) -> None:
        limits = self._limits
        reader = connection.reader
        reset = False
        try:
            while not self._stopping.is_set():
                if not reader.wait_for_request(limits.idle_timeout):
                    break
                try:
                    http = read_request(
                        reader, conn, max_body=limits.max_body, timeout=limits.request_timeout
                    )
                except BadRequest as exc:
                    self._refuse(conn, reader, exc)
                    break
                except ReadTimeout:
                    self._answer_timeout(conn)
                    break
                if http is None:
                    break
                conn.settimeout(limits.idle_timeout)  # a client that stops reading is let go
                writer = ResponseWriter(conn, keep_alive=http.keep_alive)
                self._service.handle(http, writer)
                connection.served = True
                if not writer.keep_alive:
                    break
        except ResetConnection:
            reset = True
        except (CloseConnection, OSError):
            pass  # a fault closed it, the client went away, stop() shut it down, or a timeout
        except Exception:  # a bug here must not kill the thread silently, nor the server
            logger.exception("the local endpoint failed serving a connection; closing it")
        finally:
            with self._lock:
                del self._connections[conn]
                if reset:
                    with contextlib.suppress(OSError):
                        arm_reset(conn)
                conn.close()
                if not self._stopped:  # a slot is free: the accept loop may listen again
                    with contextlib.suppress(OSError):
                        self._wake_writer.send(b"\1")

    def _refuse(self, conn: socket.socket, reader: SocketReader, exc: BadRequest) -> None:
        """Answer a request that cannot be served, then close without reading the rest."""
        headers = base_headers(str(uuid.uuid4()))
        if isinstance(exc, PayloadTooLarge):
            headers.append(("Content-Type", "application/json"))
            body = json.dumps({"message": str(exc)}).encode()
        else:
            headers.append(("Content-Type", "text/plain"))
            body = str(exc).encode()
        conn.settimeout(self._limits.request_timeout)
        ResponseWriter(conn, keep_alive=False).send(exc.status, headers, body)
        conn.shutdown(socket.SHUT_WR)
        reader.discard(min(_LINGER_SECONDS, self._limits.request_timeout or _LINGER_SECONDS))

    def _answer_timeout(self, conn: socket.socket) -> None:
        """A 408 for a client that did not send its request in time (it may not read it)."""
        conn.settimeout(1.0)
        headers = [*base_headers(str(uuid.uuid4())), ("Content-Type", "text/plain")]
        with contextlib.suppress(OSError):
            body = b"request not received in time"
            ResponseWriter(conn, keep_alive=False).send(408, headers, body)

    # --- stopping ---------------------------------------------------------------------

    def stop(self, timeout: float) -> None:
        """Stop accepting, drop every connection, join every thread; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        self._wake_writer.send(b"\0")
        self._accept_thread.join()
        with self._lock:
            for sock in (self._listener, self._wake_reader, self._wake_writer):
                sock.close()
            for conn in self._connections:
                with contextlib.suppress(OSError):  # already reset, or closed by the peer
                    conn.shutdown(socket.SHUT_RDWR)
            threads = [c.thread for c in self._connections.values() if c.thread is not None]
        deadline = time.monotonic() + timeout
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in threads if thread.is_alive() and thread is not current]
        if alive:
            raise RuntimeError(
                f"{len(alive)} endpoint handler(s) did not return within {timeout} s of "
                f"LocalRuntime.stop(): {', '.join(alive)}"
            )

"""The loopback HTTP/1.1 server: an accept thread plus one thread per connection.

``stop()`` wakes the accept loop through a socket pair (no polling interval), shuts every
open connection down (idle keep-alive ones, ones blocked writing to a slow reader, and
stalled ones, whose wait ends through the shared ``stopping`` event), then joins all
threads. Each connection thread closes its own socket, under the same lock that
``stop()`` holds while shutting sockets down, so a file descriptor is never touched
after it was closed.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
import uuid

from ._http import (
    BadRequest,
    CloseConnection,
    ResetConnection,
    ResponseWriter,
    arm_reset,
    read_request,
)
from ._service import Service
from ._shaping import base_headers

logger = logging.getLogger("typed_sagemaker_runtime.testing")


class Server:
    """Serves ``service`` on ``host:port`` (port 0: any free port) until ``stop()``."""

    def __init__(self, host: str, port: int, service: Service, stopping: threading.Event) -> None:
        self._service = service
        self._stopping = stopping
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._stopped = False
        self.connections_opened = 0
        """TCP connections accepted so far."""
        self._listener = socket.create_server((host, port), backlog=128)
        try:
            self._listener.setblocking(False)
            self._wake_reader, self._wake_writer = socket.socketpair()
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
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._listener and not self._stopping.is_set():
                        self._accept()

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
            thread = threading.Thread(
                target=self._serve_connection,
                args=(conn,),
                name=f"local-sagemaker-conn-{self.port}-{self.connections_opened}",
                daemon=True,
            )
            self._connections[conn] = thread
            thread.start()

    # --- serving one connection -------------------------------------------------------

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        reset = False
        try:
            while not self._stopping.is_set():
                try:
                    http = read_request(reader, conn)
                except BadRequest as exc:
                    headers = [*base_headers(str(uuid.uuid4())), ("Content-Type", "text/plain")]
                    ResponseWriter(conn, keep_alive=False).send(400, headers, str(exc).encode())
                    break
                if http is None:
                    break
                writer = ResponseWriter(conn, keep_alive=http.keep_alive)
                self._service.handle(http, writer)
                if not writer.keep_alive:
                    break
        except ResetConnection:
            reset = True
        except (CloseConnection, OSError):
            pass  # a fault closed it, the client went away, or stop() shut it down
        finally:
            reader.close()
            with self._lock:
                del self._connections[conn]
                if reset:
                    with contextlib.suppress(OSError):
                        arm_reset(conn)
                conn.close()

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
        for sock in (self._listener, self._wake_reader, self._wake_writer):
            sock.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):  # already reset, or closed by the peer
                    conn.shutdown(socket.SHUT_RDWR)
            threads = list(self._connections.values())
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

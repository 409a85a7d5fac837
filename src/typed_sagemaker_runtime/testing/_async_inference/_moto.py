"""moto's S3 server in this process, on loopback, with a clean stop.

Imported only when async inference needs S3 (moto is the ``local`` extra). moto's own
``ThreadedMotoServer`` logs every request to stderr, never closes its listening socket
(a ``ResourceWarning``) and leaves keep-alive connection threads running after ``stop``;
this wrapper is quiet, tracks each connection, shuts them down on :meth:`stop` and joins
every thread it started. moto keeps its data in memory, per process: every server in one
process sees the same buckets.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

# moto_server has no __init__.py, so pyright does not see moto's py.typed for it.
from moto.moto_server.werkzeug_app import (  # pyright: ignore[reportMissingTypeStubs]
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

__all__ = ["MotoServer"]

logger = logging.getLogger("typed_sagemaker_runtime.testing.s3")

_SHUTDOWN_POLL = 0.05  # how often serve_forever() looks for shutdown()


class _QuietHandler(MotoRequestHandler):
    """moto's request handler, logging to our logger at debug level instead of stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug("moto s3 %s: %s", type, message % args if args else message)


class _Server(ThreadedWSGIServer):
    """A threaded WSGI server that knows its connections and names its threads."""

    def __init__(self, host: str, name: str) -> None:
        super().__init__(host, 0, DomainDispatcherApplication(create_backend_app), _QuietHandler)
        self._name = f"{name}-{self.server_port}"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._closing = False

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._closing:
                self._close(request)
                return
            self._open.add(request)
            self._workers = [thread for thread in self._workers if thread.is_alive()]
            thread = threading.Thread(
                target=self.process_request_thread,
                args=(request, client_address),
                name=f"{self._name}-conn",
                daemon=True,
            )
            self._workers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:  # never shut a socket down after it was closed (and its fd reused)
            self._open.discard(request)
            self._close(request)

    @staticmethod
    def _close(request: Any) -> None:
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_WR)
        request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002
        logger.debug("moto s3: error serving %s", client_address, exc_info=True)

    def drop_connections(self) -> list[threading.Thread]:
        """Shut every open connection down; return the connection threads to join."""
        with self._lock:
            self._closing = True
            for request in self._open:
                with contextlib.suppress(OSError):
                    request.shutdown(socket.SHUT_RDWR)
            return list(self._workers)


class MotoServer:
    """moto's S3 (and every other moto service) on ``host``, a free port, until :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = _Server(host, "local-sagemaker-s3")
        self.port: int = self._server.server_port
        """The bound port."""
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracketed}:{self.port}"
        """``http://HOST:PORT``, for boto3's ``endpoint_url``."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL},
            name=f"local-sagemaker-s3-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, drop every connection and join every thread; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._thread.join()
        threads = self._server.drop_connections()
        self._server.server_close()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

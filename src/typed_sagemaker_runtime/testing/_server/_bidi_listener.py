"""The local HTTP/2 + TLS listener for InvokeEndpointWithBidirectionalStream (issue 21).

One thread accepts; each connection runs on a thread of its own (:mod:`._bidi_connection`:
TLS handshake, then h2), and each request stream runs its backend on a thread of its own
(:mod:`._bidi_runner`): the backend receives the request's parts as they arrive and its
outputs are written as they come, while request data still arrives (full duplex).

Each request is checked before it is routed: the path (else ``404
UnknownOperationException``), the request's SigV4 (``403 InvalidSignatureException``, an
unknown key ``403 UnrecognizedClientException``), then the endpoint (``400
InputValidationError``, "Endpoint NAME of account ACCOUNT not found."). Every event's
chained ``:chunk-signature`` is checked as it arrives; a bad one gets an in-stream error
message, after which the stream ends. The certificate is made at start
(:mod:`._bidi_tls`); :attr:`BidiListener.ca_bundle` is its authority's PEM file.

:meth:`BidiListener.close` stops accepting, ends every connection (which ends every
stream's parts and waits), and joins the threads. A backend stuck in its own code (not
reading its parts, not yielding) cannot be stopped: ``close`` returns the names of the
stream threads still running after its timeout instead of waiting for them.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .._bidi_model import BidiBackend, BidiHandler, BidiInvocation
from .._faults import Fault
from .._headers import Headers
from ._bidi_connection import BidiConnection
from ._bidi_runner import StreamContext, StreamRunner, echo_bidi
from ._bidi_stream import Post, RequestRefused, RequestStream, json_error, verify_request
from ._bidi_tls import ListenerCertificate, client_host

__all__ = ["BidiListener", "BidiRoute", "echo_bidi"]

_PATH = re.compile(r"/endpoints/(?P<name>[A-Za-z0-9-]{1,63})/invocations-bidirectional-stream")


@dataclass(frozen=True, slots=True)
class BidiRoute:
    """Where a stream goes: its endpoint's backend and the fault chosen for it, if any."""

    backend: BidiHandler | BidiBackend
    fault: Fault | None = None


Router = Callable[[str], "BidiRoute | None"]
"""The route of an endpoint name, or ``None`` when no such endpoint is served."""
Recorder = Callable[[str, Headers, str], None]
"""Called with the endpoint name, the headers and the request id of each routed request."""


class BidiListener:
    """The local endpoint's HTTP/2 TLS listener for bidirectional streams.

    ``credentials`` maps access key ids to their secrets. ``router`` routes each request by
    endpoint name (by default every name is served by ``backend``); ``record`` is told of
    each request whose path names an endpoint. A connection answering no stream that
    sends nothing for ``idle_timeout`` seconds is closed (GOAWAY); beyond
    ``max_connections`` open at once, new ones are closed at once. Use as a context manager, or call
    :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        backend: BidiHandler | BidiBackend = echo_bidi,
        *,
        credentials: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        router: Router | None = None,
        record: Recorder | None = None,
        region_name: str = "us-east-1",
        account_id: str = "123456789012",
        idle_timeout: float | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.backend = backend
        self.credentials = dict(credentials)
        self.stopping = threading.Event()
        self.requests: list[dict[str, str]] = []
        """The headers of every request received, pseudo-headers included, when there is
        no ``record`` (for tests)."""
        self.refusals: list[str] = []
        """Why each refused event was refused."""
        self.ended: list[bool] = []
        """For each request that ended its side: whether its signed end frame came first."""
        self.ends_changed = threading.Condition()
        self._host = host
        self._port = port
        self._router = router
        self._record = record
        self._region_name = region_name
        self._account_id = account_id
        self._idle_timeout = idle_timeout
        self._max_connections = max_connections
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._connections: list[tuple[BidiConnection, threading.Thread]] = []
        self._certificate: ListenerCertificate | None = None

    # --- what clients need ---------------------------------------------------------------

    @property
    def ca_bundle(self) -> str:
        """The PEM file of the authority that signed the listener's certificate."""
        if self._certificate is None:
            raise RuntimeError("the bidirectional listener is not started")
        return self._certificate.ca_bundle

    @property
    def port(self) -> int:
        """The port the listener is bound to (the ``port`` argument until started)."""
        return self._port if self._sock is None else int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        """``https://localhost:PORT`` (or the host bound to): the URL clients connect to."""
        return f"https://{client_host(self._host)}:{self.port}"

    # --- for tests -----------------------------------------------------------------------

    def wait_for_ends(self, count: int, timeout: float = 5.0) -> list[bool]:
        """:attr:`ended` once ``count`` requests have ended their side (or ``timeout`` passed)."""
        with self.ends_changed:
            self.ends_changed.wait_for(lambda: len(self.ended) >= count, timeout)
            return list(self.ended)

    def input_ended(self, signed_end: bool) -> None:
        """A request ended its side (called by its connection)."""
        with self.ends_changed:
            self.ended.append(signed_end)
            self.ends_changed.notify_all()

    def event_refused(self, reason: str) -> None:
        """A request event failed its check (called by its connection)."""
        self.refusals.append(reason)

    # --- streams -------------------------------------------------------------------------

    def open_stream(
        self, stream_id: int, headers: Mapping[str, str], post: Post
    ) -> StreamRunner | None:
        """Check and route a request (on its connection's thread); its started runner.

        ``None`` when it was answered with an error instead.
        """
        if self._record is None:  # a LocalRuntime keeps its own record
            self.requests.append(dict(headers))
        request_id = str(uuid.uuid4())
        # AWS's Python client sends an empty query (``...-stream?``); the path is what precedes it.
        match = _PATH.fullmatch(headers.get(":path", "").partition("?")[0])
        try:
            if headers.get(":method") != "POST" or match is None:
                raise RequestRefused(404, "UnknownOperationException", "Not found")
            name = match["name"]
            received = Headers(headers)
            if self._record is not None:
                self._record(name, received, request_id)
            verifier = verify_request(headers, self.credentials.get)
            route = self._route(name)
            if route is None:
                raise RequestRefused(
                    400,
                    "InputValidationError",
                    f"Endpoint {name} of account {self._account_id} not found.",
                )
        except RequestRefused as refused:
            for action in json_error(refused.status, refused.code, refused.message, request_id):
                post(stream_id, action)
            return None
        request = RequestStream(stream_id, verifier)
        invocation = BidiInvocation(name, received, request_id, request.parts())
        variant = received.get("x-amzn-sagemaker-target-variant") or "AllTraffic"
        context = StreamContext(
            invocation=invocation,
            backend=route.backend,
            fault=route.fault,
            region_name=self._region_name,
            account_id=self._account_id,
            response_headers=(
                (":status", "200"),
                ("content-type", "application/vnd.amazon.eventstream"),
                ("x-amzn-requestid", request_id),
                ("x-amzn-invoked-production-variant", variant),
            ),
        )
        runner = StreamRunner(request, context, post)
        runner.thread.start()
        return runner

    def _route(self, name: str) -> BidiRoute | None:
        if self._router is None:
            return BidiRoute(self.backend)
        return self._router(name)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> BidiListener:
        """Make the certificate, bind and start accepting connections."""
        self._certificate = ListenerCertificate(self._host)
        try:
            self._sock = socket.create_server((self._host, self._port), backlog=128)
        except BaseException:
            self._certificate.remove()
            raise
        self._accept_thread = threading.Thread(
            target=self._accept, name="smr-bidi-accept", daemon=True
        )
        self._accept_thread.start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        assert self._certificate is not None
        while not self.stopping.is_set():
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._connections = [(c, t) for c, t in self._connections if t.is_alive()]
                full = bool(self._max_connections) and (
                    len(self._connections) >= (self._max_connections or 0)
                )
                if self.stopping.is_set() or full:
                    raw.close()
                    if self.stopping.is_set():
                        return
                    continue
                connection = BidiConnection(
                    self, raw, self._certificate.context, self._idle_timeout
                )
                thread = threading.Thread(
                    target=connection.run, name="smr-bidi-connection", daemon=True
                )
                self._connections.append((connection, thread))
                thread.start()

    def close(self, timeout: float = 10.0) -> list[str]:
        """Stop accepting, end every connection and stream, join the threads, remove the files.

        Returns the names of stream threads whose backend was still running ``timeout``
        seconds later (a backend stuck in its own code); they are daemon threads, left
        behind rather than waited for.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self.stopping.set()
            connections = list(self._connections)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._sock.close()
        for connection, _ in connections:
            connection.shutdown()
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck: list[str] = []
        for connection, _ in connections:
            for runner in connection.runners:
                runner.request.cancel()
                runner.thread.join(max(0.0, deadline - time.monotonic()))
                if runner.thread.is_alive():
                    stuck.append(runner.thread.name)
        if self._certificate is not None:
            self._certificate.remove()
        return stuck

    def __enter__(self) -> BidiListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

"""``LocalRuntime``: a local SageMaker Runtime endpoint for tests, demos and benchmarks."""

from __future__ import annotations

import importlib.util
import random
import threading
import weakref
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, cast

from typing_extensions import Self

from ._async_inference._jobs import AsyncInferenceRunner
from ._async_inference._s3 import LocalS3
from ._boto import DUMMY_KEY
from ._capacity import Capacity, CapacityGate, CapacityStats
from ._faults import BIDI_OPERATION, Fault
from ._headers import Headers
from ._model import Handler, InvocationRequest
from ._rechunk import Rechunk
from ._runtime_clients import RuntimeClients
from ._server._endpoint import Endpoint, echo
from ._server._listener import ConnectionLimits, Server
from ._server._service import Service

if TYPE_CHECKING:
    from ._bidi_model import BidiBackend, BidiHandler
    from ._server._bidi_listener import BidiListener, BidiRoute

__all__ = ["LocalRuntime"]


class LocalRuntime(RuntimeClients):
    """A loopback server that speaks the SageMaker Runtime REST protocol.

    The unmodified boto3 stack talks to it through ``endpoint_url``: InvokeEndpoint,
    InvokeEndpointAsync and InvokeEndpointWithResponseStream (real event-stream frames,
    one HTTP chunk per event, sent as the handler produces them), SageMaker's error
    responses, and faults on demand (see :mod:`typed_sagemaker_runtime.testing`)::

        with LocalRuntime() as local:
            local.add_endpoint("echo")                       # answers with the request body
            local.add_endpoint("llm", lambda request: (f"token {i} " for i in range(3)))
            smr = local.client()
            smr.invoke("echo", b"hello")["body"]             # b"hello"
            local.requests[-1].body                          # b"hello"

    Handlers run in the server's connection threads, one thread per connection.

    InvokeEndpointAsync runs the handler in the background, through a real S3 API: the
    input is read from ``InputLocation`` (or is the inline body), the output written to
    ``OutputLocation`` (``s3://<async_bucket>/<endpoint>/output/<inference id>.out``), a
    failure's text to ``FailureLocation`` (``.../failure/<inference id>-error.out``). S3 is
    moto's server, started in this process on first use (the ``local`` extra), or any S3
    endpoint given as ``s3_endpoint_url``::

        with LocalRuntime() as local, local.client() as smr:
            local.add_endpoint("echo")
            job = smr.invoke_async("echo", body=b"hello")
            smr.wait_for_async_result(job)["body"]           # b"hello"

    InvokeEndpointWithBidirectionalStream is served over HTTP/2 with TLS on a second port
    (``bidi_port``, same host), with a certificate made at start: :attr:`bidi_endpoint_url`
    and :attr:`ca_bundle` (the ``local`` extra: h2 and trustme). It checks the request's
    and every event's signature (the dummy credentials of :meth:`client` sign them), and
    each endpoint answers through its ``bidi=`` backend (see :meth:`add_endpoint`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region_name: str = "us-east-1",
        account_id: str = "123456789012",
        async_bucket: str = "local-sagemaker-async",
        stop_timeout: float = 10.0,
        seed: int | None = 0,
        s3_endpoint_url: str | None = None,
        async_workers: int = 4,
        async_time_scale: float = 1.0,
        idle_timeout: float | None = 60.0,
        request_timeout: float | None = 30.0,
        max_connections: int = 100,
        bidi_port: int = 0,
    ) -> None:
        """Configure the runtime; nothing is bound until :meth:`start` (or ``with``).

        ``host``/``port``: where to listen (port 0 picks a free port). ``region_name`` and
        ``account_id`` appear in clients, ARNs and error messages. ``async_bucket`` is the
        bucket of the async output and failure locations. ``stop_timeout`` bounds how long
        :meth:`stop` waits for handlers that are still running. ``seed`` seeds the random
        draws of faults with a ``rate`` (each endpoint draws from its own generator, seeded
        from ``seed`` and its name, so runs repeat); ``None`` draws differently every run.

        Async inference: ``s3_endpoint_url`` is the S3 to use instead of starting moto's
        server (clients sign with dummy credentials). ``async_workers`` requests run at
        once; later ones wait in a queue, where their ``RequestTTLSeconds`` (default 6 h)
        can expire. ``async_time_scale`` multiplies the TTL and ``InvocationTimeoutSeconds``
        (default 15 min) before they are enforced: with 0.001, the 60 s minimum TTL is 60 ms
        of real time, for tests of expiry and timeouts.

        Clients are not trusted (``smr serve --host 0.0.0.0`` is reachable by anyone): a
        keep-alive connection that sends nothing for ``idle_timeout`` seconds is closed (as
        is one that stops reading a response for that long); a request must arrive whole,
        head and body, within ``request_timeout`` seconds of its first byte, or it is
        answered 408 and the connection closed (``None`` disables either timeout). A body
        over SageMaker's 6 MB limit (6,291,456 bytes) is answered as SageMaker answers it,
        413 ``HTTP content length exceeded 6291456 bytes.``, without being read, and the
        connection is closed; malformed requests get a 4xx answer and a close. At most
        ``max_connections`` connections are served at once, one thread each: when all are
        taken, an idle keep-alive connection (or a new one silent for a second) is closed
        to make room, and if none is idle a new connection waits (in the listen backlog)
        until one ends.

        ``bidi_port``: the port of the HTTP/2 TLS listener of bidirectional streams (0: a
        free port), on ``host`` too. ``idle_timeout`` and ``max_connections`` apply to it
        as well: a connection with no stream being answered that sends nothing for
        ``idle_timeout`` is closed, and connections beyond ``max_connections`` are closed
        at once.
        """
        self._host = host
        self._port = port
        self._region_name = region_name
        self._account_id = account_id
        self._stop_timeout = stop_timeout
        self._seed = seed
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._gates: weakref.WeakSet[CapacityGate] = weakref.WeakSet()  # removed ones too
        self._requests: list[InvocationRequest] = []
        self._stopping = threading.Event()
        self._s3 = LocalS3(s3_endpoint_url, host=host, region_name=region_name)
        self._async_inference = AsyncInferenceRunner(
            self._s3,
            workers=async_workers,
            time_scale=async_time_scale,
            region_name=region_name,
            account_id=account_id,
            name=lambda: str(self.port),
        )
        self._service = Service(
            region_name=region_name,
            account_id=account_id,
            async_bucket=async_bucket,
            endpoints=self._endpoints.get,
            record=self._record,
            stopping=self._stopping,
            submit_async_inference=self._async_inference.submit,
        )
        self._limits = ConnectionLimits(
            idle_timeout=idle_timeout,
            request_timeout=request_timeout,
            max_connections=max_connections,
        )
        self._server: Server | None = None
        self._bidi_port = bidi_port
        self._bidi_backends: dict[str, BidiHandler | BidiBackend] = {}
        self._bidi: BidiListener | None = None

    # --- configuration ----------------------------------------------------------------

    @property
    def region_name(self) -> str:
        """The region that clients from :meth:`client` and :meth:`boto3_client` use."""
        return self._region_name

    @property
    def account_id(self) -> str:
        """The account id shown in error messages and ARNs."""
        return self._account_id

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT``, to pass as boto3's ``endpoint_url`` (needs a started runtime)."""
        if self._server is None:
            raise RuntimeError("the LocalRuntime is not started; call start() or use `with`")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.port}"

    @property
    def port(self) -> int:
        """The bound port (the ``port`` argument until started)."""
        return self._port if self._server is None else self._server.port

    @property
    def bidi_endpoint_url(self) -> str:
        """``https://localhost:PORT``: the HTTP/2 endpoint of bidirectional streams.

        The URL for ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME_HTTP2`` (the host bound to when it
        is neither loopback nor a wildcard address); its certificate covers that name.
        """
        return self._running_bidi().url

    @property
    def ca_bundle(self) -> str:
        """The PEM file of the authority that signed :attr:`bidi_endpoint_url`'s certificate.

        Made at start and deleted by :meth:`stop`. :meth:`client` and :meth:`async_client`
        trust it already (the profile setting ``ca_bundle`` of their session).
        """
        return self._running_bidi().ca_bundle

    @property
    def serves_bidi(self) -> bool:
        """Whether bidirectional streams are served: ``False`` until started, and without
        the ``local`` extra's h2 and trustme (the REST operations are served regardless)."""
        return self._bidi is not None

    def _running_bidi(self) -> BidiListener:
        if self._server is None:
            raise RuntimeError("the LocalRuntime is not started; call start() or use `with`")
        if self._bidi is None:
            raise RuntimeError(
                "bidirectional streams need h2 and trustme: install typed-sagemaker-runtime[local]"
            )
        return self._bidi

    def add_endpoint(
        self,
        name: str,
        handler: Handler | None = None,
        *,
        content_type: str | None = None,
        faults: Iterable[Fault] = (),
        max_chunk_bytes: int | None = None,
        rechunk: Rechunk | None = None,
        bidi: BidiHandler | BidiBackend | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        """Serve endpoint ``name`` (replacing one of that name) with ``handler``.

        ``handler`` is called with each :class:`InvocationRequest` of InvokeEndpoint and
        InvokeEndpointWithResponseStream, and in the background for InvokeEndpointAsync (see
        the class docstring); the default echoes the request body. ``content_type`` is the
        response content type when the handler does not set one. ``faults`` are applied in
        order, the first one that applies to a request being used (see ``times``).

        Stream events go out one HTTP chunk each, as the handler produces them. For
        benchmarks of tiny events, ``max_chunk_bytes=65536`` packs consecutive events into
        HTTP chunks of about that size instead (a chunk then waits until it is full).

        ``rechunk`` cuts the streamed payload into PayloadParts as SageMaker does, records
        split across parts and merged into one (``Rechunk.random()``, ``Rechunk.fixed(1)``;
        see :class:`Rechunk`); by default each bare chunk the handler yields is one part.
        Faults with ``after_parts`` count the parts as cut.

        ``bidi`` answers InvokeEndpointWithBidirectionalStream: a callable that receives the
        request's parts as they arrive and yields the response (:data:`BidiHandler`), or an
        object with a ``serve_bidi`` method (:class:`BidiBackend`). It yields ``bytes``
        (BINARY parts), ``str`` (UTF8 parts), ``BidiPayloadPart`` or a ``ModelStreamError``
        / ``InternalStreamFailure`` event, which ends the stream; an exception ends it with
        an ``InternalStreamFailure``. By default ``handler`` serves it when it has a
        ``serve_bidi`` method, else every part is echoed back. It runs on a thread of its
        own per stream. ``faults`` apply to it as each fault's documentation describes (a
        reset, a stall, an error response or event; faults of HTTP/1.1 alone skip it).

        ``capacity`` makes it a busy endpoint: requests served at once, their latency, a
        wait queue, throttling beyond them (see :class:`Capacity`, :meth:`set_capacity`).
        """
        rng = random.Random(None if self._seed is None else f"{self._seed}/{name}")
        endpoint = Endpoint(
            name, handler or echo, content_type, faults, max_chunk_bytes, rng, rechunk, capacity
        )
        if bidi is None and callable(getattr(handler, "serve_bidi", None)):
            bidi = cast("BidiBackend", handler)
        with self._lock:
            self._endpoints[name] = endpoint
            self._gates.add(endpoint.gate)
            if bidi is None:
                self._bidi_backends.pop(name, None)
            else:
                self._bidi_backends[name] = bidi

    def remove_endpoint(self, name: str) -> None:
        """Stop serving ``name``: later calls get SageMaker's "endpoint not found" error."""
        with self._lock:
            del self._endpoints[name]
            self._bidi_backends.pop(name, None)

    def set_capacity(self, name: str, capacity: Capacity | None) -> None:
        """Change endpoint ``name``'s :class:`Capacity` now (``None``: unlimited).

        Safe while requests are served: those holding a slot keep it, waiting ones that
        now fit are served at once, and the counters of :meth:`capacity_stats` go on.
        """
        self._endpoint(name).gate.set(capacity)

    def capacity_stats(self, name: str) -> CapacityStats:
        """What endpoint ``name``'s capacity did since it was added: requests served,
        throttled and queued, the peak served at once (see :class:`CapacityStats`)."""
        return self._endpoint(name).gate.stats()

    def _endpoint(self, name: str) -> Endpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise ValueError(f"no endpoint named {name!r}: add_endpoint() it first")
        return endpoint

    @property
    def endpoint_names(self) -> list[str]:
        """The names of the endpoints being served."""
        with self._lock:
            return list(self._endpoints)

    # --- observation ------------------------------------------------------------------

    def _record(self, request: InvocationRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_bidi(self, name: str, headers: Headers, request_id: str) -> None:
        self._record(InvocationRequest(name, BIDI_OPERATION, headers, b"", request_id))

    def _bidi_route(self, name: str) -> BidiRoute | None:
        from ._server._bidi_listener import BidiRoute
        from ._server._bidi_runner import echo_bidi

        with self._lock:
            endpoint = self._endpoints.get(name)
            backend = self._bidi_backends.get(name, echo_bidi)
        if endpoint is None:
            return None
        return BidiRoute(backend, endpoint.take_fault(BIDI_OPERATION))

    @property
    def requests(self) -> list[InvocationRequest]:
        """Every request routed to an endpoint (known or not), oldest first.

        A bidirectional stream is recorded once its path names an endpoint, with its headers
        as received (HTTP/2 pseudo-headers included) and an empty ``body``.

        This is the live list the server appends to; ``local.requests.clear()`` resets it.
        """
        return self._requests

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far (proves that clients reuse connections)."""
        return 0 if self._server is None else self._server.connections_opened

    def wait_for_async_jobs(self, timeout: float | None = 10.0) -> None:
        """Wait until every accepted InvokeEndpointAsync request has written its output or
        failure object (or was dropped at stop); ``TimeoutError`` after ``timeout`` seconds.

        For tests that look at S3 directly, instead of sleeping.
        """
        if not self._async_inference.wait_idle(timeout):
            raise TimeoutError(f"async requests still running after {timeout} s")

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and start serving; a no-op when running. A stopped runtime cannot restart."""
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("a stopped LocalRuntime cannot be started again")
            if self._server is not None:
                return self
            self._server = Server(
                self._host, self._port, self._service, self._stopping, self._limits
            )
            try:
                self._bidi = self._start_bidi()
            except BaseException:
                self._server.stop(self._stop_timeout)
                raise
        return self

    def _start_bidi(self) -> BidiListener | None:
        """The HTTP/2 listener, started; ``None`` without h2 and trustme (the local extra)."""
        if importlib.util.find_spec("h2") is None or importlib.util.find_spec("trustme") is None:
            return None
        from ._server._bidi_listener import BidiListener

        listener = BidiListener(
            credentials={DUMMY_KEY: DUMMY_KEY},
            host=self._host,
            port=self._bidi_port,
            router=self._bidi_route,
            record=self._record_bidi,
            region_name=self._region_name,
            account_id=self._account_id,
            idle_timeout=self._limits.idle_timeout,
            max_connections=self._limits.max_connections,
        )
        return listener.start()

    def stop(self) -> None:
        """Stop serving and close every connection at once; idempotent.

        Stalls end immediately and open streams are cut. Handlers that are still running
        are waited for (up to ``stop_timeout`` seconds, then ``RuntimeError``).

        Bidirectional streams too: every connection is closed, so each backend's parts
        iterator ends and its outputs are no longer read. A ``bidi`` backend stuck in its
        own code (neither reading its parts nor yielding) cannot be interrupted: after
        ``stop_timeout`` its thread (a daemon) is left running and ``RuntimeError`` names it.
        """
        self._stopping.set()
        with self._lock:
            gates = list(self._gates)
        for gate in gates:  # requests waiting for a slot give up
            gate.close()
        server = self._server
        stuck: list[str] = []
        try:
            if self._bidi is not None:
                stuck = self._bidi.close(self._stop_timeout)
            if server is not None:
                server.stop(self._stop_timeout)
        finally:
            alive = self._async_inference.stop(self._stop_timeout)
            self._s3.stop()
        if alive:
            raise RuntimeError(
                f"{len(alive)} async handler(s) did not return within {self._stop_timeout} s "
                f"of LocalRuntime.stop(): {', '.join(alive)}"
            )
        if stuck:
            raise RuntimeError(
                f"{len(stuck)} bidirectional backend(s) did not return within "
                f"{self._stop_timeout} s of LocalRuntime.stop(): {', '.join(stuck)}"
            )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopping.is_set() else "running" if self._server else "new"
        return f"<LocalRuntime {state} {self._host}:{self.port} endpoints={self.endpoint_names}>"

"""``LocalRuntime``: a local SageMaker Runtime endpoint for tests, demos and benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from ._boto import dummy_session
from ._endpoint import Endpoint, echo
from ._faults import Fault
from ._model import Handler, InvocationRequest
from ._server import Server
from ._service import Service

if TYPE_CHECKING:
    from botocore.config import Config
    from types_boto3_sagemaker_runtime.client import SageMakerRuntimeClient

    from .._client import SageMakerRuntime
    from .._retry import RetryPolicy

__all__ = ["LocalRuntime"]


class LocalRuntime:
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
    ) -> None:
        """Configure the runtime; nothing is bound until :meth:`start` (or ``with``).

        ``host``/``port``: where to listen (port 0 picks a free port). ``region_name`` and
        ``account_id`` appear in clients, ARNs and error messages. ``async_bucket`` is the
        bucket of the async output and failure locations. ``stop_timeout`` bounds how long
        :meth:`stop` waits for handlers that are still running.
        """
        self._host = host
        self._port = port
        self._region_name = region_name
        self._account_id = account_id
        self._stop_timeout = stop_timeout
        self._lock = threading.Lock()
        self._endpoints: dict[str, Endpoint] = {}
        self._requests: list[InvocationRequest] = []
        self._stopping = threading.Event()
        self._service = Service(
            region_name=region_name,
            account_id=account_id,
            async_bucket=async_bucket,
            endpoints=self._endpoints.get,
            record=self._record,
            stopping=self._stopping,
        )
        self._server: Server | None = None

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

    def add_endpoint(
        self,
        name: str,
        handler: Handler | None = None,
        *,
        content_type: str | None = None,
        faults: Iterable[Fault] = (),
        max_chunk_bytes: int | None = None,
    ) -> None:
        """Serve endpoint ``name`` (replacing one of that name) with ``handler``.

        ``handler`` is called with each :class:`InvocationRequest` of InvokeEndpoint and
        InvokeEndpointWithResponseStream; the default echoes the request body. Async calls
        are recorded and answered but do not run the handler. ``content_type`` is the
        response content type when the handler does not set one. ``faults`` are applied in
        order, the first one that applies to a request being used (see ``times``).

        Stream events go out one HTTP chunk each, as the handler produces them. For
        benchmarks of tiny events, ``max_chunk_bytes=65536`` packs consecutive events into
        HTTP chunks of about that size instead (a chunk then waits until it is full).
        """
        endpoint = Endpoint(name, handler or echo, content_type, faults, max_chunk_bytes)
        with self._lock:
            self._endpoints[name] = endpoint

    def remove_endpoint(self, name: str) -> None:
        """Stop serving ``name``: later calls get SageMaker's "endpoint not found" error."""
        with self._lock:
            del self._endpoints[name]

    @property
    def endpoint_names(self) -> list[str]:
        """The names of the endpoints being served."""
        with self._lock:
            return list(self._endpoints)

    # --- observation ------------------------------------------------------------------

    def _record(self, request: InvocationRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[InvocationRequest]:
        """Every request routed to an endpoint (known or not), oldest first.

        This is the live list the server appends to; ``local.requests.clear()`` resets it.
        """
        return self._requests

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far (proves that clients reuse connections)."""
        return 0 if self._server is None else self._server.connections_opened

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and start serving; a no-op when running. A stopped runtime cannot restart."""
        with self._lock:
            if self._stopping.is_set():
                raise RuntimeError("a stopped LocalRuntime cannot be started again")
            if self._server is not None:
                return self
            self._server = Server(self._host, self._port, self._service, self._stopping)
        return self

    def stop(self) -> None:
        """Stop serving and close every connection at once; idempotent.

        Stalls end immediately and open streams are cut. Handlers that are still running
        are waited for (up to ``stop_timeout`` seconds, then ``RuntimeError``).
        """
        self._stopping.set()
        server = self._server
        if server is not None:
            server.stop(self._stop_timeout)

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

    # --- clients ----------------------------------------------------------------------

    def boto3_client(self, config: Config | None = None) -> SageMakerRuntimeClient:
        """A plain boto3 ``sagemaker-runtime`` client for this runtime (dummy credentials)."""
        # Typed through Any: boto3-stubs' overloads for services whose stubs are not
        # installed are partially unknown.
        factory: Any = dummy_session(self._region_name)
        client: SageMakerRuntimeClient = factory.client(
            "sagemaker-runtime", endpoint_url=self.endpoint_url, config=config
        )
        return client

    def client(
        self, config: Config | None = None, retry: RetryPolicy | None = None
    ) -> SageMakerRuntime:
        """A :class:`~typed_sagemaker_runtime.SageMakerRuntime` facade wired to this runtime.

        Dummy credentials, this runtime's region and URL; ``config`` and ``retry`` are
        passed on when given. Close it (or use ``with``) when done.
        """
        from .._client import SageMakerRuntime

        session = dummy_session(self._region_name)
        url = self.endpoint_url
        if config is not None and retry is not None:
            return SageMakerRuntime(session=session, endpoint_url=url, config=config, retry=retry)
        if config is not None:
            return SageMakerRuntime(session=session, endpoint_url=url, config=config)
        if retry is not None:
            return SageMakerRuntime(session=session, endpoint_url=url, retry=retry)
        return SageMakerRuntime(session=session, endpoint_url=url)

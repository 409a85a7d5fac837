"""``Container``: an endpoint backed by a model container over the SageMaker container contract.

The contract (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html):
the container answers ``GET /ping`` with 200 when it is healthy and ``POST /invocations``
with the inference. SageMaker forwards the request body, ``Content-Type``, ``Accept`` and its
own ``X-Amzn-SageMaker-*`` headers that concern the model, and strips everything else.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..._core._events import ModelStreamError
from .._failure import ModelFailure
from .._model import EndpointResponse, InvocationRequest

if TYPE_CHECKING:
    from .._bidi_model import BidiInvocation, BidiOutput

__all__ = ["Container", "ContainerNotHealthyError"]

_STREAM = "InvokeEndpointWithResponseStream"
_READ_SIZE = 64 * 1024
_MAX_ERROR_BODY = 64 * 1024

# SageMaker headers a container receives as sent by the caller. Routing headers (target
# variant, container hostname, inference component) and signing headers stay behind.
_FORWARDED = (
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Target-Model",
    "X-Amzn-SageMaker-Inference-Id",
    "X-Amzn-SageMaker-Session-Id",
    "X-Amzn-SageMaker-Enable-Explanations",
)

_TIMED_OUT = (
    "Your invocation timed out while waiting for a response from container {container}. "
    "Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, "
    "and try again."
)


class ContainerNotHealthyError(RuntimeError):
    """The model container did not answer ``GET /ping`` with 200 in time."""


class Container:
    """Serve an endpoint from a model container: ``POST /invocations`` and ``GET /ping``.

    ::

        local.add_endpoint("byoc", Container("http://127.0.0.1:8080"))

    Construction waits until ``GET /ping`` answers 200 (up to ``health_timeout`` seconds,
    then :class:`ContainerNotHealthyError`), as SageMaker does before an endpoint serves.
    With ``wait=False`` that check runs before the first invocation instead.

    Each invocation is one ``POST /invocations`` with the request body, ``Content-Type``,
    ``Accept`` (also on the stream operation, where the caller sent
    ``X-Amzn-SageMaker-Accept``) and the headers ``X-Amzn-SageMaker-Custom-Attributes``,
    ``-Target-Model``, ``-Inference-Id``, ``-Session-Id`` and ``-Enable-Explanations`` when
    sent. The container's ``Content-Type``, ``X-Amzn-SageMaker-Custom-Attributes``,
    ``X-Amzn-SageMaker-New-Session-Id`` and ``-Closed-Session-Id`` come back to the caller.

    On InvokeEndpoint the whole body is read. On the stream operation the body is passed on
    as it arrives: each read from the container (one HTTP chunk, or less) becomes a
    ``PayloadPart`` at once.

    Failures, as SageMaker reports them: a 4xx/5xx answer is a ``ModelError`` (424) with
    ``OriginalStatusCode`` and ``OriginalMessage`` (the container's body); no answer within
    ``invocation_timeout`` seconds, or no connection at all, is a ``ModelError`` with
    ``OriginalStatusCode`` 0. Once a stream has started, a broken connection ends it with a
    ``ModelStreamError`` event (``StreamBroken``), silence longer than ``invocation_timeout``
    with one coded ``ModelInvocationTimeExceeded``.

    Bidirectional streams (:meth:`serve_bidi`) go over a WebSocket to
    ``/invocations-bidirectional-stream`` on the same host and port.
    """

    def __init__(
        self,
        url: str,
        *,
        health_timeout: float = 30.0,
        invocation_timeout: float = 60.0,
        connect_timeout: float = 5.0,
        wait: bool = True,
        name: str = "primary",
    ) -> None:
        """Point at the container at ``url`` (``http://host:port``, optionally a base path).

        ``health_timeout``: how long to wait for a healthy ``/ping``. ``invocation_timeout``:
        the longest silence accepted from the container (SageMaker allows 60 s).
        ``connect_timeout``: for each TCP connect. ``name`` is the container's name in error
        messages (SageMaker says ``primary`` for single-container endpoints).
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"a container URL looks like http://host:port, not {url!r}")
        for label, value in (
            ("health_timeout", health_timeout),
            ("invocation_timeout", invocation_timeout),
            ("connect_timeout", connect_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{label} must be > 0, not {value}")
        self._url = url
        self._host = parts.hostname
        self._port = parts.port or 80
        self._base = parts.path.rstrip("/")
        self._health_timeout = health_timeout
        self._invocation_timeout = invocation_timeout
        self._connect_timeout = connect_timeout
        self._name = name
        self._healthy = threading.Event()
        self._health_lock = threading.Lock()
        if wait:
            self.wait_until_healthy()

    @property
    def url(self) -> str:
        """The container's URL as given."""
        return self._url

    def __repr__(self) -> str:
        return f"Container({self._url!r})"

    # --- health -----------------------------------------------------------------------

    def ping(self) -> bool:
        """Whether ``GET /ping`` answers 200 right now."""
        return self._ping() == 200

    def _ping(self) -> int | str:
        """The status of ``GET /ping``, or why there is none."""
        conn = self._connection(min(self._connect_timeout, self._health_timeout))
        try:
            conn.request("GET", f"{self._base}/ping")
            response = conn.getresponse()
            response.read(_MAX_ERROR_BODY)
            return response.status
        except (OSError, http.client.HTTPException) as exc:
            return str(exc) or type(exc).__name__
        finally:
            conn.close()

    def wait_until_healthy(self, timeout: float | None = None) -> None:
        """Poll ``GET /ping`` until it answers 200; raise :class:`ContainerNotHealthyError`.

        ``timeout`` defaults to the ``health_timeout`` given at construction. Returns at once
        once the container was seen healthy.
        """
        if self._healthy.is_set():
            return
        limit = self._health_timeout if timeout is None else timeout
        with self._health_lock:
            deadline = time.monotonic() + limit
            delay = 0.01
            while not self._healthy.is_set():
                last = self._ping()
                if last == 200:
                    self._healthy.set()
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    what = f"HTTP {last}" if isinstance(last, int) else last
                    raise ContainerNotHealthyError(
                        f"the model container at {self._url} did not answer GET /ping with "
                        f"200 within {limit:g} s (last: {what})"
                    )
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.25)

    # --- invocations ------------------------------------------------------------------

    def __call__(self, request: InvocationRequest) -> EndpointResponse:
        """Forward one invocation; see the class docstring."""
        if not self._healthy.is_set():
            try:
                self.wait_until_healthy()
            except ContainerNotHealthyError as exc:
                raise ModelFailure(0, str(exc)) from exc
        conn = self._connection(self._connect_timeout)
        handed_over = False
        try:
            response = self._send(conn, request)
            if not 200 <= response.status < 300:
                body = response.read(_MAX_ERROR_BODY)
                raise ModelFailure(response.status, body.decode("utf-8", "replace"))
            answer = self._answer(response)
            if request.operation == _STREAM:
                live = _LiveBody(conn, response, self._name)
                handed_over = True
                return EndpointResponse(
                    live,
                    content_type=answer.content_type,
                    custom_attributes=answer.custom_attributes,
                )
            body = _read_all(response, self._name)
        finally:
            if not handed_over:
                conn.close()
        return EndpointResponse(
            body,
            content_type=answer.content_type,
            custom_attributes=answer.custom_attributes,
            new_session_id=answer.new_session_id,
            closed_session_id=answer.closed_session_id,
        )

    def serve_bidi(self, invocation: BidiInvocation) -> Iterator[BidiOutput]:
        """Carry a bidirectional stream over a WebSocket to the container, as SageMaker does.

        The WebSocket goes to ``/invocations-bidirectional-stream`` (or to the request's
        ``X-Amzn-SageMaker-Model-Invocation-Path`` and ``-Model-Query-String``, which the
        sidecar is inferred to honour); UTF8 parts are text frames, BINARY parts binary
        frames, and the container's frames come back as parts as they arrive. The input's
        end closes the WebSocket with 1000; the container's close ends the response. A
        container that cannot be reached, refuses the handshake, closes with an error code,
        drops the connection or stops answering pings ends the stream with a
        ``ModelStreamError`` (``ModelConnectionFailed``, ``ModelClosedWithError``,
        ``StreamBroken``, ``ModelInvocationTimeExceeded``). Needs the ``websockets``
        package (the ``local`` extra).
        """
        if not self._healthy.is_set():
            try:
                self.wait_until_healthy()
            except ContainerNotHealthyError as exc:
                return iter([ModelStreamError(str(exc), "ModelConnectionFailed")])
        try:
            from ._bidi_container import WebSocketTarget, serve_over_websocket
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "websockets":
                raise
            raise ModuleNotFoundError(
                "a Container's bidirectional streams need the websockets package: "
                "pip install 'typed-sagemaker-runtime[local]'",
                name="websockets",
            ) from exc

        target = WebSocketTarget(
            self._host, self._port, self._base, self._name, self._connect_timeout
        )
        return serve_over_websocket(invocation, target)

    def _connection(self, connect_timeout: float) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=connect_timeout)

    def _headers(self, request: InvocationRequest) -> dict[str, str]:
        headers: dict[str, str] = {}
        if request.content_type is not None:
            headers["Content-Type"] = request.content_type
        if request.accept is not None:
            headers["Accept"] = request.accept
        for name in _FORWARDED:
            value = request.headers.get(name)
            if value is not None:
                headers[name] = value
        return headers

    def _send(
        self, conn: http.client.HTTPConnection, request: InvocationRequest
    ) -> http.client.HTTPResponse:
        """Connect, send the request and read the response head, mapping failures."""
        try:
            conn.connect()
        except OSError as exc:
            raise ModelFailure(
                0, f"could not connect to container {self._name} at {self._url}: {exc}"
            ) from exc
        assert conn.sock is not None
        conn.sock.settimeout(self._invocation_timeout)
        try:
            conn.request("POST", f"{self._base}/invocations", request.body, self._headers(request))
            return conn.getresponse()
        except TimeoutError as exc:
            raise ModelFailure(0, _TIMED_OUT.format(container=self._name)) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ModelFailure(
                0, f"the connection to container {self._name} failed: {exc!r}"
            ) from exc

    @staticmethod
    def _answer(response: http.client.HTTPResponse) -> EndpointResponse:
        """The response headers SageMaker passes back, as an empty ``EndpointResponse``."""
        new_session = response.getheader("X-Amzn-SageMaker-New-Session-Id")
        return EndpointResponse(
            content_type=response.getheader("Content-Type"),
            custom_attributes=response.getheader("X-Amzn-SageMaker-Custom-Attributes"),
            new_session_id=new_session.split(";", 1)[0].strip() if new_session else None,
            closed_session_id=response.getheader("X-Amzn-SageMaker-Closed-Session-Id"),
        )


def _read_all(response: http.client.HTTPResponse, container: str) -> bytes:
    try:
        return response.read()
    except TimeoutError as exc:
        raise ModelFailure(0, _TIMED_OUT.format(container=container)) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ModelFailure(0, f"the connection to container {container} broke: {exc!r}") from exc


class _LiveBody(Iterator[bytes]):
    """A streamed container response, read as it arrives; ``close()`` closes the connection.

    Each read returns what has arrived (at most one HTTP chunk), so every chunk the container
    flushes becomes a ``PayloadPart`` without waiting for more.
    """

    __slots__ = ("_conn", "_container", "_response")

    def __init__(
        self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, container: str
    ) -> None:
        self._conn = conn
        self._response = response
        self._container = container

    def __next__(self) -> bytes:
        try:
            data = self._response.read1(_READ_SIZE)
        except TimeoutError as exc:
            self.close()
            raise ModelFailure(
                0,
                _TIMED_OUT.format(container=self._container),
                stream_error_code="ModelInvocationTimeExceeded",
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ModelFailure(
                0,
                f"the connection to container {self._container} broke mid-stream: {exc!r}",
                stream_error_code="StreamBroken",
            ) from exc
        if not data:
            self.close()
            raise StopIteration
        return data

    def close(self) -> None:
        """Close the connection to the container (idempotent)."""
        self._conn.close()

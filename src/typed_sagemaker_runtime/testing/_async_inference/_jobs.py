"""Running InvokeEndpointAsync requests in the background, the way SageMaker does.

Accepted requests wait in a FIFO queue for one of a fixed number of workers (the
endpoint's capacity). A worker first checks the request's age against its TTL
(``RequestTTLSeconds``, default 6 hours): a request still queued past it fails. It then
reads the input (the inline body, or the object at ``InputLocation``), calls the
endpoint's handler in a thread of its own and waits at most the invocation timeout
(``InvocationTimeoutSeconds``, default 15 minutes). The output goes to ``OutputLocation``
with the content type of the handler's response; a failure's text goes to
``FailureLocation``. A handler that times out keeps its worker until it returns (the
model is still busy), and its late result is dropped. An ``ErrorResponse("ModelError")``
fault fails the request the same way, with the fault's message, without calling the
handler: SageMaker reports an async model failure in S3, never as an HTTP error.

Naming (computed by the service when it answers): the output is
``s3://<async_bucket>/<endpoint>/output/<inference id>.out`` and the failure
``.../failure/<inference id>-error.out``, as for an endpoint whose ``S3OutputPath`` and
``S3FailurePath`` are those two folders. ``S3OutputPathExtension`` is inserted as a
sub-folder of both, and ``Filename`` replaces the output's name. AWS documents the
extension only for the output path and ``Filename`` only for the output object; applying
the extension to the failure path too is this emulator's guess.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..._core._async_inference import S3Uri, parse_s3_uri
from .._failure import ModelFailure
from .._model import InvocationRequest
from .._server._endpoint import Endpoint
from .._server._errors import model_error_members
from .._server._shaping import content_type_for, join_body, response_of
from ._s3 import LocalS3

__all__ = [
    "DEFAULT_INVOCATION_TIMEOUT",
    "DEFAULT_REQUEST_TTL",
    "AsyncInferenceJob",
    "AsyncInferenceRunner",
]

logger = logging.getLogger("typed_sagemaker_runtime.testing")

DEFAULT_REQUEST_TTL = 6 * 60 * 60
"""SageMaker's default ``RequestTTLSeconds``: 6 hours."""
DEFAULT_INVOCATION_TIMEOUT = 15 * 60
"""SageMaker's default ``InvocationTimeoutSeconds``: 15 minutes."""

_FAILURE_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class AsyncInferenceJob:
    """One accepted InvokeEndpointAsync request."""

    endpoint: Endpoint
    request: InvocationRequest
    inference_id: str
    output: S3Uri
    failure: S3Uri
    received: float
    """``time.monotonic()`` when the request was accepted."""
    model_failure: str | None = None
    """The failure text of an ``ErrorResponse("ModelError")`` fault: the model fails with it."""

    @property
    def ttl_seconds(self) -> int:
        """The request's TTL in SageMaker seconds (unscaled)."""
        return self.request.request_ttl_seconds or DEFAULT_REQUEST_TTL

    @property
    def timeout_seconds(self) -> int:
        """The request's invocation timeout in SageMaker seconds (unscaled)."""
        return self.request.invocation_timeout_seconds or DEFAULT_INVOCATION_TIMEOUT


class AsyncInferenceRunner:
    """A bounded pool of workers for one runtime's async requests; started on first use."""

    def __init__(
        self,
        s3: LocalS3,
        *,
        workers: int,
        time_scale: float,
        region_name: str,
        account_id: str,
        name: Callable[[], str],
    ) -> None:
        if workers < 1:
            raise ValueError(f"async_workers must be >= 1, not {workers}")
        if not time_scale > 0:
            raise ValueError(f"async_time_scale must be > 0, not {time_scale}")
        self._s3 = s3
        self._worker_count = workers
        self._time_scale = time_scale
        self._region_name = region_name
        self._account_id = account_id
        self._name = name
        self._queue: queue.Queue[AsyncInferenceJob | None] = queue.Queue()
        self._cond = threading.Condition()
        self._pending = 0
        self._workers: list[threading.Thread] = []
        self._handlers: set[threading.Thread] = set()
        self._stopped = False

    # --- the server side --------------------------------------------------------------

    def submit(self, job: AsyncInferenceJob) -> None:
        """Queue an accepted request. S3 is reached here: moto starts (a missing extra
        fails the request) and the output and failure buckets exist before the answer,
        as they do for a real endpoint."""
        self._s3.ensure_bucket(job.output.bucket)
        self._s3.ensure_bucket(job.failure.bucket)
        with self._cond:
            if self._stopped:
                raise RuntimeError("the LocalRuntime is stopping")
            self._pending += 1
            while len(self._workers) < self._worker_count:
                worker = threading.Thread(
                    target=self._work,
                    name=f"local-sagemaker-async-{self._name()}-{len(self._workers) + 1}",
                    daemon=True,
                )
                self._workers.append(worker)
                worker.start()
        self._queue.put(job)

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until every accepted request has finished; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, timeout: float) -> list[str]:
        """Drop queued requests, let running ones finish; the threads still alive after it."""
        with self._cond:
            self._stopped = True
            workers = list(self._workers)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                logger.debug("dropping queued async request %s at stop", job.inference_id)
                self._finished()
        for _ in workers:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            threads = [*workers, *self._handlers]
        return [thread.name for thread in threads if thread.is_alive()]

    # --- the workers ------------------------------------------------------------------

    def _finished(self) -> None:
        with self._cond:
            self._pending -= 1
            if self._pending == 0:
                self._cond.notify_all()

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._run(job)
            except Exception:
                logger.exception("async request %s: could not write its result", job.inference_id)
            finally:
                self._finished()

    def _run(self, job: AsyncInferenceJob) -> None:
        if time.monotonic() - job.received > job.ttl_seconds * self._time_scale:
            self._fail(
                job,
                f"Request expired: it was still in the queue after its RequestTTLSeconds "
                f"({job.ttl_seconds} s).",
            )
            return
        payload = self._input(job)
        if payload is None:
            return
        if job.model_failure is not None:
            self._fail(job, job.model_failure)
            return
        request = dataclasses.replace(job.request, body=payload)
        outcome: list[tuple[bytes, str] | Exception] = []

        def invoke() -> None:
            try:
                response = response_of(job.endpoint.handler(request))
                body = join_body(response.body)
                outcome.append((body, content_type_for(response, job.endpoint, request)))
            except Exception as exc:
                outcome.append(exc)

        handler = threading.Thread(
            target=invoke, name=f"local-sagemaker-async-{self._name()}-handler", daemon=True
        )
        with self._cond:
            self._handlers.add(handler)
        handler.start()
        handler.join(job.timeout_seconds * self._time_scale)
        timed_out = handler.is_alive()
        if timed_out:
            self._fail(
                job,
                f"Invocation timed out: the model did not respond within its "
                f"InvocationTimeoutSeconds ({job.timeout_seconds} s).",
            )
            handler.join()  # the model is still busy: this worker waits for it
        with self._cond:
            self._handlers.discard(handler)
        if timed_out or not outcome:
            return  # a late result is dropped
        result = outcome[0]
        if isinstance(result, Exception):
            self._fail(job, self._model_failure(job, result))
            return
        body, content_type = result
        self._put(job.output, body, content_type)

    def _input(self, job: AsyncInferenceJob) -> bytes | None:
        location = job.request.input_location
        if location is None:
            return job.request.body
        try:
            uri = parse_s3_uri(location, field="InputLocation")
            client = self._s3.shared()
            response = client.get_object(Bucket=uri.bucket, Key=uri.key)
            with response["Body"] as body:
                return body.read()
        except Exception as exc:
            reason = getattr(exc, "response", {}).get("Error", {}).get("Code") or str(exc)
            self._fail(job, f"Failed to download the input from {location}: {reason}")
            return None

    def _model_failure(self, job: AsyncInferenceJob, exc: Exception) -> str:
        failure = exc if isinstance(exc, ModelFailure) else None
        logger.log(
            logging.INFO if failure else logging.WARNING,
            "handler of endpoint %r failed on async request %s; writing the failure",
            job.request.endpoint_name,
            job.inference_id,
            exc_info=None if failure else exc,
        )
        members = model_error_members(
            failure.status_code if failure else 500,
            str(exc),
            endpoint=job.request.endpoint_name,
            region=self._region_name,
            account=self._account_id,
            container=job.request.target_container_hostname,
        )
        return str(members["Message"])

    def _fail(self, job: AsyncInferenceJob, message: str) -> None:
        logger.info("async request %s failed: %s", job.inference_id, message)
        self._put(job.failure, message.encode("utf-8"), _FAILURE_CONTENT_TYPE)

    def _put(self, location: S3Uri, body: bytes, content_type: str) -> None:
        self._s3.ensure_bucket(location.bucket)
        self._s3.shared().put_object(
            Bucket=location.bucket, Key=location.key, Body=body, ContentType=content_type
        )

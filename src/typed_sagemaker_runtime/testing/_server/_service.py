"""The SageMaker Runtime REST protocol: routing, validation, faults, InvokeEndpoint and async."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from ..._core._async_inference import S3Uri
from .._async_inference._jobs import AsyncInferenceJob
from .._capacity import OVERLOAD_ERRORS, Overload
from .._codes import ASYNC_MODEL_FAILURE
from .._failure import ModelFailure
from .._faults import ConnectionReset, ErrorResponse, Fault, RawResponse, ShortContentLength, Stall
from .._model import InvocationRequest, Operation
from ._endpoint import Endpoint
from ._errors import (
    error_body,
    error_headers,
    error_status,
    model_error_fault_members,
    model_error_members,
)
from ._http import CloseConnection, HttpRequest, ResetConnection, ResponseWriter, http_date
from ._shaping import base_headers, content_type_for, join_body, production_variant, response_of
from ._stream import stream_response
from ._validation import validation_problem

logger = logging.getLogger("typed_sagemaker_runtime.testing")

_OPERATIONS: dict[str, Operation] = {
    "invocations": "InvokeEndpoint",
    "async-invocations": "InvokeEndpointAsync",
    "invocations-response-stream": "InvokeEndpointWithResponseStream",
}
_SESSION_LIFETIME = timedelta(minutes=20)
_INTEGER_HEADERS = (
    "X-Amzn-SageMaker-RequestTTLSeconds",
    "X-Amzn-SageMaker-InvocationTimeoutSeconds",
)


class Service:
    """Answers SageMaker Runtime requests for the endpoints of one ``LocalRuntime``."""

    def __init__(
        self,
        *,
        region_name: str,
        account_id: str,
        async_bucket: str,
        endpoints: Callable[[str], Endpoint | None],
        record: Callable[[InvocationRequest], None],
        stopping: threading.Event,
        submit_async_inference: Callable[[AsyncInferenceJob], None] | None = None,
    ) -> None:
        self.region_name = region_name
        self.account_id = account_id
        self.async_bucket = async_bucket
        self._endpoints = endpoints
        self._record = record
        self.stopping = stopping
        self._submit_async_inference = submit_async_inference

    # --- entry point ------------------------------------------------------------------

    def handle(self, http: HttpRequest, writer: ResponseWriter) -> None:
        """Answer one HTTP request. May raise ``ResetConnection`` or ``CloseConnection``."""
        segments = http.segments
        operation = _OPERATIONS.get(segments[2]) if len(segments) == 3 else None
        if http.method != "POST" or operation is None or segments[0] != "endpoints":
            message = f"No operation matches {http.method} {http.path}"
            request_id = str(uuid.uuid4())
            self._send_plain_error(writer, request_id, 404, "UnknownOperationException", message)
            return
        request = InvocationRequest(
            endpoint_name=segments[1],
            operation=operation,
            headers=http.headers,
            body=http.body,
            request_id=str(uuid.uuid4()),
        )
        self._record(request)
        endpoint = self._endpoints(request.endpoint_name)
        if endpoint is None:
            message = f"Endpoint {request.endpoint_name} of account {self.account_id} not found."
            self._send_plain_error(writer, request.request_id, 400, "ValidationError", message)
            return
        problem = validation_problem(request)
        if problem is None and operation == "InvokeEndpointAsync":
            problem = self._async_problem(request)
        if problem is not None:
            self._send_plain_error(writer, request.request_id, 400, "ValidationError", problem)
            return
        if operation == "InvokeEndpointAsync":  # queued by the async runner, not the gate
            self._answer(endpoint, request, writer)
            return
        slot = endpoint.gate.admit()
        if isinstance(slot, str):
            self._send_overload(slot, request, writer)
            return
        writer.before_end = slot.release  # free as the answer ends: a client may call again
        try:
            if slot.latency:
                self.stall(slot.latency)
            self._answer(endpoint, request, writer)
        finally:
            slot.release()

    def _answer(
        self, endpoint: Endpoint, request: InvocationRequest, writer: ResponseWriter
    ) -> None:
        operation = request.operation
        fault = endpoint.take_fault(operation)
        if fault is not None and self._pre_response_fault(fault, request, writer):
            return
        if operation == "InvokeEndpoint":
            self._invoke(endpoint, request, writer, fault)
        elif operation == "InvokeEndpointAsync":
            self._invoke_async(endpoint, request, writer, fault)
        else:
            stream_response(self, endpoint, request, writer, fault)

    def _send_overload(
        self, overload: Overload, request: InvocationRequest, writer: ResponseWriter
    ) -> None:
        """Refuse a request beyond the endpoint's capacity, as an ``ErrorResponse`` would."""
        code = OVERLOAD_ERRORS[overload]
        body = error_body(
            code,
            None,
            None,
            endpoint=request.endpoint_name,
            region=self.region_name,
            account=self.account_id,
        )
        headers = base_headers(request.request_id) + error_headers(code)
        writer.send(error_status(code, None), headers, body)

    # --- faults -----------------------------------------------------------------------

    def stall(self, seconds: float) -> None:
        """Wait, unless the runtime stops first (then the connection is dropped)."""
        if self.stopping.wait(seconds):
            raise CloseConnection

    def _pre_response_fault(
        self, fault: Fault, request: InvocationRequest, writer: ResponseWriter
    ) -> bool:
        """Apply a fault that strikes before the response; ``True`` when it answered."""
        if isinstance(fault, ErrorResponse) and not _is_async_model_failure(fault, request):
            body = error_body(
                fault.code,
                fault.message,
                fault.fields,
                endpoint=request.endpoint_name,
                region=self.region_name,
                account=self.account_id,
                container=request.target_container_hostname,
            )
            headers = base_headers(request.request_id) + error_headers(fault.code)
            writer.send(error_status(fault.code, fault.status), headers, body)
            return True
        if isinstance(fault, RawResponse):
            headers = list((fault.headers or {}).items())
            if not any(name.lower() == "date" for name, _ in headers):
                headers.append(("Date", http_date()))
            writer.send(fault.status, headers, fault.body)
            return True
        if isinstance(fault, ConnectionReset) and fault.after_parts is None:
            raise ResetConnection
        if isinstance(fault, Stall) and fault.after_parts is None:
            self.stall(fault.seconds)
        return False

    def send_complete(
        self,
        writer: ResponseWriter,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        fault: Fault | None,
    ) -> None:
        """Send a whole response, cut in the middle of the body if a fault says so."""
        if isinstance(fault, ConnectionReset) and fault.after_parts is not None:
            writer.send_partial(status, headers, body)
            raise ResetConnection
        if isinstance(fault, ShortContentLength):
            writer.send_partial(status, headers, body)
            raise CloseConnection
        if isinstance(fault, Stall) and fault.after_parts is not None:
            writer.send_partial(status, headers, body)
            self.stall(fault.seconds)
            writer.send_rest(body)
            return
        writer.send(status, headers, body)

    # --- errors -----------------------------------------------------------------------

    def _send_plain_error(
        self, writer: ResponseWriter, request_id: str, status: int, code: str, message: str
    ) -> None:
        body = json.dumps({"message": message}).encode("utf-8")
        writer.send(status, base_headers(request_id) + error_headers(code), body)

    def model_error(
        self, request: InvocationRequest, exc: BaseException
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The 424 ``ModelError`` response for a handler that raised ``exc``."""
        failure = exc if isinstance(exc, ModelFailure) else None
        logger.log(
            logging.INFO if failure else logging.WARNING,  # a ModelFailure is an answer
            "handler of endpoint %r failed; answering ModelError",
            request.endpoint_name,
            exc_info=None if failure else exc,
        )
        members = model_error_members(
            failure.status_code if failure else 500,
            str(exc),
            endpoint=request.endpoint_name,
            region=self.region_name,
            account=self.account_id,
            container=request.target_container_hostname,
        )
        headers = base_headers(request.request_id) + error_headers("ModelError")
        return 424, headers, json.dumps(members).encode("utf-8")

    def _model_failure_text(self, fault: ErrorResponse, request: InvocationRequest) -> str:
        """What the failure object of an async ``ModelError`` fault says: its ``Message``."""
        members = model_error_fault_members(
            fault.message,
            fault.fields,
            endpoint=request.endpoint_name,
            region=self.region_name,
            account=self.account_id,
            container=request.target_container_hostname,
        )
        members.update(fault.fields or {})
        return str(members["Message"])

    # --- operations -------------------------------------------------------------------

    def _invoke(
        self,
        endpoint: Endpoint,
        request: InvocationRequest,
        writer: ResponseWriter,
        fault: Fault | None,
    ) -> None:
        try:
            response = response_of(endpoint.handler(request))
            body = join_body(response.body)
        except Exception as exc:
            self.send_complete(writer, *self.model_error(request, exc), fault)
            return
        headers = base_headers(request.request_id)
        headers.append(("Content-Type", content_type_for(response, endpoint, request)))
        headers.append(("x-Amzn-Invoked-Production-Variant", production_variant(response, request)))
        if response.custom_attributes is not None:
            headers.append(("X-Amzn-SageMaker-Custom-Attributes", response.custom_attributes))
        new_session = response.new_session_id
        if new_session is None and request.session_id == "NEW_SESSION":
            new_session = str(uuid.uuid4())
        if new_session is not None:
            expires = datetime.now(timezone.utc).replace(microsecond=0) + _SESSION_LIFETIME
            value = f"{new_session}; Expires={expires.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            headers.append(("X-Amzn-SageMaker-New-Session-Id", value))
        if response.closed_session_id is not None:
            headers.append(("X-Amzn-SageMaker-Closed-Session-Id", response.closed_session_id))
        self.send_complete(writer, 200, headers, body, fault)

    def _async_problem(self, request: InvocationRequest) -> str | None:
        has_location = request.input_location is not None
        if has_location == bool(request.body):
            return "Exactly one of InputLocation or Body must be provided."
        for name in _INTEGER_HEADERS:
            value = request.headers.get(name)
            if value is not None and not value.strip().isdigit():
                return f"Value {value!r} at '{name}' must be an integer."
        return None

    def _invoke_async(
        self,
        endpoint: Endpoint,
        request: InvocationRequest,
        writer: ResponseWriter,
        fault: Fault | None,
    ) -> None:
        inference_id = request.inference_id or str(uuid.uuid4())
        extension = request.s3_output_path_extension
        folder = f"{extension.strip('/')}/" if extension else ""
        prefix = request.endpoint_name
        output_key = f"{prefix}/output/{folder}{request.filename or inference_id + '.out'}"
        failure_key = f"{prefix}/failure/{folder}{inference_id}-error.out"
        output = f"s3://{self.async_bucket}/{output_key}"
        failure = f"s3://{self.async_bucket}/{failure_key}"
        model_failure = None
        if isinstance(fault, ErrorResponse) and _is_async_model_failure(fault, request):
            model_failure = self._model_failure_text(fault, request)
        if self._submit_async_inference is not None:
            job = AsyncInferenceJob(
                endpoint=endpoint,
                request=request,
                inference_id=inference_id,
                output=S3Uri(self.async_bucket, output_key),
                failure=S3Uri(self.async_bucket, failure_key),
                received=time.monotonic(),
                model_failure=model_failure,
            )
            try:
                self._submit_async_inference(job)  # queued before the answer: it was accepted
            except Exception as exc:  # no moto (S3Unavailable), S3 unreachable, stopping
                logger.error("cannot run async request %s: %s", inference_id, exc)
                code = "InternalFailure"  # what InvokeEndpointAsync's model lists for it
                body = error_body(
                    code,
                    str(exc),
                    None,
                    endpoint=request.endpoint_name,
                    region=self.region_name,
                    account=self.account_id,
                )
                headers = base_headers(request.request_id) + error_headers(code)
                writer.send(error_status(code, None), headers, body)
                return
        headers = base_headers(request.request_id)
        headers.append(("Content-Type", "application/json"))
        headers.append(("X-Amzn-SageMaker-OutputLocation", output))
        headers.append(("X-Amzn-SageMaker-FailureLocation", failure))
        body = json.dumps({"InferenceId": inference_id}).encode("utf-8")
        self.send_complete(writer, 202, headers, body, fault)


def _is_async_model_failure(fault: ErrorResponse, request: InvocationRequest) -> bool:
    """Whether ``fault`` is a model failure that InvokeEndpointAsync writes to S3."""
    return (
        request.operation == "InvokeEndpointAsync"
        and fault.code == ASYNC_MODEL_FAILURE
        and not fault.custom
    )

"""``AsyncInferenceMethods``: SageMaker asynchronous inference on ``SageMakerRuntime``.

InvokeEndpointAsync (with an S3 input, an inline body, or a body uploaded first) and the
wait for its result in S3. The S3 polling, uploads and downloads are in
``_async_inference``; this adds the methods and the S3 client they use.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import boto3

from .._core._params import build_params
from .._core._results import invoke_async_result
from .._core._types import AsyncOutput, Body, InvokeAsyncResult
from .._telemetry._call_record import INVOKE_ASYNC
from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._base._async_inference import Destination, Progress
    from .._core._async_inference import S3ClientLike

__all__ = ["AsyncInferenceMethods"]


class AsyncInferenceMethods(ClientCore):
    """``invoke_async``, ``invoke_async_upload`` and ``wait_for_async_result``."""

    def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str | None = None,
        body: Body | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
        request_ttl_seconds: int | None = None,
        invocation_timeout_seconds: int | None = None,
        s3_output_path_extension: str | None = None,
        filename: str | None = None,
    ) -> InvokeAsyncResult:
        """Call InvokeEndpointAsync with an S3 ``input_location`` or an inline ``body``.

        Pass exactly one of them; an inline body holds at most 128,000 bytes (larger ones:
        :meth:`invoke_async_upload`). SageMaker queues the request and answers at once;
        the output or the failure object appears in S3 later.

        Args:
            endpoint_name: The endpoint's name.
            input_location: The S3 URI of the input (``s3://bucket/key``). Not with
                ``body``.
            body: An inline payload of at most 128,000 bytes: ``bytes``, ``bytearray``,
                ``memoryview``, ``str`` (sent as UTF-8) or a binary file open for reading;
                needs botocore >= 1.43.29. Not with ``input_location``.
            content_type: The MIME type of the payload (``Content-Type``).
            accept: The MIME type wanted in the response (``Accept``).
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            inference_id: An identifier of the request, returned in the result;
                SageMaker generates one when it is not given.
            request_ttl_seconds: How long the request may wait in the queue, in
                seconds (SageMaker's default: 6 hours).
            invocation_timeout_seconds: How long the model may take once the
                request leaves the queue, in seconds (SageMaker's default: 15 minutes).
            s3_output_path_extension: A sub-path appended to the endpoint's S3
                output path; needs a botocore that models it.
            filename: The output object's name instead of ``<inference id>.out``; needs
                a botocore that models it.

        Returns:
            Where SageMaker will write the output (``output_location``) or the failure
            (``failure_location``), the inference id and the response metadata; pass it to
            :meth:`wait_for_async_result`.

        Raises:
            ClientValidationError: An argument was rejected; nothing was sent.
            CredentialsError: No usable AWS credentials were found; nothing was sent.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            ModelError: The model container answered with an error or not at all (424).
            ServiceError: Any other error SageMaker answered with, once the retry policy
                gives up: :class:`ValidationError` (400), :class:`ThrottlingError`,
                :class:`ModelNotReadyError`, :class:`InternalFailureError`, ...
            TransportError: The connection failed (refused, reset, DNS, TLS);
                :class:`TimeoutError` for a timeout. A read timeout is not retried unless the
                policy says so: the model may still be running.
        """
        params = build_params(
            self._operation_model("InvokeEndpointAsync"),
            {
                "endpoint_name": endpoint_name,
                "input_location": input_location,
                "body": body,
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "inference_id": inference_id,
                "request_ttl_seconds": request_ttl_seconds,
                "invocation_timeout_seconds": invocation_timeout_seconds,
                "s3_output_path_extension": s3_output_path_extension,
                "filename": filename,
            },
        )
        return self._invoke_async(endpoint_name, params)

    def invoke_async_upload(
        self,
        endpoint_name: str,
        body: Body,
        *,
        s3_prefix: str,
        s3_client: S3ClientLike | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
        request_ttl_seconds: int | None = None,
        invocation_timeout_seconds: int | None = None,
        s3_output_path_extension: str | None = None,
        filename: str | None = None,
    ) -> InvokeAsyncResult:
        """Upload ``body`` under ``s3_prefix``, then call InvokeEndpointAsync with its location.

        For bodies over the 128,000-byte inline limit. Every argument is validated before
        the upload.

        Args:
            endpoint_name: The endpoint's name.
            body: The payload, of any size up to S3's 5 GB for one PutObject: ``bytes``,
                ``bytearray``, ``memoryview``, ``str`` (sent as UTF-8) or a binary file open for
                reading.
            s3_prefix: Where to upload it: ``s3://bucket/`` or ``s3://bucket/folder/``; the
                object is ``<s3_prefix>/<random uuid>``, and is not deleted afterwards
                (SageMaker reads it when the request leaves the queue).
            s3_client: The boto3 S3 client of the upload, used as given (not
                closed). Default: one built like :meth:`wait_for_async_result`'s, for the
                call.
            content_type: The MIME type of the payload, set on the uploaded object and
                sent to the endpoint.
            accept: The MIME type wanted in the response (``Accept``).
            custom_attributes: Opaque information for the model container (the
                ``X-Amzn-SageMaker-Custom-Attributes`` header); never echoed in errors or logs.
            inference_id: An identifier of the request, returned in the result;
                SageMaker generates one when it is not given.
            request_ttl_seconds: How long the request may wait in the queue, in
                seconds (SageMaker's default: 6 hours).
            invocation_timeout_seconds: How long the model may take once the
                request leaves the queue, in seconds (SageMaker's default: 15 minutes).
            s3_output_path_extension: A sub-path appended to the endpoint's S3
                output path; needs a botocore that models it.
            filename: The output object's name instead of ``<inference id>.out``; needs
                a botocore that models it.

        Returns:
            Where SageMaker will write the output (``output_location``) or the failure
            (``failure_location``), the inference id and the response metadata; pass it to
            :meth:`wait_for_async_result`.

        Raises:
            ClientValidationError: An argument was rejected; nothing was sent.
            CredentialsError: No usable AWS credentials were found; nothing was sent.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            ModelError: The model container answered with an error or not at all (424).
            ServiceError: Any other error SageMaker answered with, once the retry policy
                gives up: :class:`ValidationError` (400), :class:`ThrottlingError`,
                :class:`ModelNotReadyError`, :class:`InternalFailureError`, ...
            TransportError: The connection failed (refused, reset, DNS, TLS);
                :class:`TimeoutError` for a timeout. A read timeout is not retried unless the
                policy says so: the model may still be running.
            AccessDeniedError: The upload was refused (``operation="PutObject"``); other S3
                errors raise :class:`ServiceError` with the S3 code (e.g. ``NoSuchBucket``).
        """
        from .._core._async_inference import upload_uri
        from ._async_inference import upload

        location = upload_uri(s3_prefix, str(uuid.uuid4()))
        params = build_params(
            self._operation_model("InvokeEndpointAsync"),
            {
                "endpoint_name": endpoint_name,
                "input_location": str(location),
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "inference_id": inference_id,
                "request_ttl_seconds": request_ttl_seconds,
                "invocation_timeout_seconds": invocation_timeout_seconds,
                "s3_output_path_extension": s3_output_path_extension,
                "filename": filename,
            },
        )
        with self._s3(s3_client, None) as s3:
            upload(s3, location, body, content_type=content_type)
        return self._invoke_async(endpoint_name, params)

    def wait_for_async_result(
        self,
        job: InvokeAsyncResult,
        *,
        timeout: float | None = 900.0,
        poll_interval: float = 5.0,
        s3_client: S3ClientLike | None = None,
        s3_endpoint_url: str | None = None,
        dest: Destination | None = None,
        progress: Progress | None = None,
    ) -> AsyncOutput:
        """Wait until the output or the failure object of an async inference exists.

        One loop in the calling thread polls ``job["output_location"]`` and
        ``job["failure_location"]`` (a HEAD each per round, a GET once an object exists),
        sleeping 0.1 s between rounds, doubling up to ``poll_interval`` seconds. The last
        sleep ends at the deadline, where one final round runs. After the first round each
        bucket is checked once (HeadBucket), so a missing bucket fails at once instead of
        at the deadline. Nothing keeps running after the call returns or raises, and
        Ctrl-C (``KeyboardInterrupt``) stops it at once.

        Args:
            job: The result of :meth:`invoke_async` or :meth:`invoke_async_upload`.
            timeout: Seconds to wait before giving up; ``None``: no deadline.
            poll_interval: The longest sleep between two rounds, in seconds.
            s3_client: The boto3 S3 client to poll with, used as given (not closed).
                Default: one built for the call, and closed, from this client's boto3 session
                (or boto3's default one), region and botocore config, with standard retries.
            s3_endpoint_url: Where the built S3 client connects, instead of the
                constructor's ``s3_endpoint_url``.
            dest: A path, or a binary file open for writing, that receives the output in
                1 MiB chunks instead of memory, for outputs of any size; the result's ``body``
                is then ``b""``. A path is written to a temporary file next to it and renamed
                on success.
            progress: Called with the seconds elapsed after every round and about twice
                a second while sleeping (e.g. to show a progress line).

        Returns:
            The output: its body (``b""`` with ``dest``), content type and S3 location.

        Raises:
            AsyncInferenceFailedError: The failure object appeared; the exception
                holds its text and location.
            AsyncInferenceTimeoutError: ``timeout`` seconds passed; the exception holds
                the output location, to wait again later.
            AccessDeniedError: S3 refused a request (403); ``operation`` names the S3
                operation.
            ServiceError: Any other S3 error (e.g. ``code="NoSuchBucket"``), with
                ``operation`` set to the S3 operation.
            TransportError: The connection to S3 failed; :class:`TimeoutError` for a
                timeout.
        """
        from ._async_inference import wait_for_result

        with self._s3(s3_client, s3_endpoint_url) as s3:
            return wait_for_result(
                s3,
                job,
                timeout=timeout,
                poll_interval=poll_interval,
                dest=dest,
                progress=progress,
            )

    def _invoke_async(self, endpoint_name: str, params: dict[str, Any]) -> InvokeAsyncResult:
        """Call InvokeEndpointAsync with validated ``params``."""
        with self._telemetry.start(INVOKE_ASYNC, endpoint_name, self._client) as call:
            response, retries = self._call("InvokeEndpointAsync", params, call)
            result = invoke_async_result(response, retries)
            call.responded(result["response_metadata"]["request_id"], None)
            return result

    @contextlib.contextmanager
    def _s3(
        self, s3_client: S3ClientLike | None, endpoint_url: str | None
    ) -> Generator[S3ClientLike, None, None]:
        """The caller's S3 client, or one built for the call and closed after it."""
        if s3_client is not None:
            yield s3_client
            return
        from ._async_inference import build_s3_client

        if endpoint_url is None:
            endpoint = self._s3_endpoint
            endpoint_url = endpoint() if callable(endpoint) else endpoint
        meta = self._client.meta
        built = build_s3_client(
            self._session if self._session is not None else boto3,
            region_name=meta.region_name,
            config=meta.config,
            endpoint_url=endpoint_url,
        )
        try:
            yield built
        finally:
            built.close()

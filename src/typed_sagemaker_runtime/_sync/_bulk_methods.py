"""``BulkMethods``: ``invoke_many`` on ``SageMakerRuntime``, many InvokeEndpoint calls at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from .._base._bulk_request import (
    WINDOW_PER_SLOT,
    RequestTemplate,
    check_bulk_arguments,
    new_limiter,
    warn_if_pool_is_smaller,
)
from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._core._types import Body
    from ._invoke_many import InvokeMany

__all__ = ["BulkMethods"]


class BulkMethods(ClientCore):
    """``invoke_many``."""

    def invoke_many(
        self,
        endpoint_name: str,
        bodies: Iterable[Body] | None = None,
        *,
        json: Iterable[object] | None = None,
        concurrency: int | Literal["auto"] = "auto",
        max_concurrency: int = 64,
        ordered: bool = True,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        enable_explanations: str | None = None,
        inference_component_name: str | None = None,
        session_id: str | None = None,
    ) -> InvokeMany:
        """Invoke the endpoint once per record, many at once, yielding each record's outcome.

        ::

            with smr.invoke_many("my-endpoint", json=records) as run:
                for outcome in run:
                    if outcome.error is not None:
                        print(outcome.index, outcome.error)

        The records are read lazily, only as they can be sent: at most
        ``WINDOW_PER_SLOT`` (2) times the in-flight limit are held beyond those yielded,
        so a generator of any length runs in constant memory, and breaking out of the
        loop stops reading it. Each record is yielded exactly once, as an
        :class:`InvokeOutcome` with its ``result`` or its ``error``. A retryable failure
        (throttling, ``ModelNotReadyError``, 500, 503, a connection that failed before
        sending) is retried under the client's :class:`RetryPolicy`, counted in
        ``stats.retried``; a record's own failure (e.g. :class:`ModelError`, or a body
        that cannot be sent) is yielded once the policy gives up, and the run goes on.

        Args:
            endpoint_name: The endpoint's name.
            bodies: The request bodies, one per record: ``bytes``, ``str`` (sent as
                UTF-8), ``bytearray``, ``memoryview`` or a binary file. Not with ``json``.
            json: The records as JSON values (``None`` is JSON ``null``), each sent as
                compact UTF-8 JSON with ``content_type`` ``application/json`` unless
                given. Not with ``bodies``.
            concurrency: ``"auto"`` finds the endpoint's capacity as it goes, between 1 and
                ``max_concurrency``: fewer requests in flight on throttling, 503,
                ``ModelNotReadyError`` or latency that rises while throughput does not,
                more while throughput grows. An int is a fixed number in flight.
            max_concurrency: The most requests in flight with ``concurrency="auto"``.
            ordered: Yield in input order (``True``) or as the records complete.
            content_type: The MIME type of every payload (``Content-Type``).
            accept: The MIME type wanted in the responses (``Accept``).
            custom_attributes: Opaque information for the model container; never echoed
                in errors or logs.
            target_model: On a multi-model endpoint, the model to invoke.
            target_variant: The production variant to invoke.
            target_container_hostname: On a multi-container endpoint with direct
                invocation, the container to invoke.
            inference_id: An identifier sent with every request, for model monitoring.
            enable_explanations: On an endpoint with SageMaker Clarify online
                explainability, the JMESPath expression of what to explain.
            inference_component_name: On an endpoint that hosts inference components,
                the component to invoke.
            session_id: A stateful session's id, sent with every request.

        Returns:
            The run: iterate it for the outcomes, read ``stats`` for a progress bar,
            and close it (or use it as a context manager).

        Raises:
            ClientValidationError: An argument was rejected (both or neither of
                ``bodies`` and ``json``, a bad endpoint name, ...); nothing was sent.

        The iteration raises, ending the run at once, on an error that would fail every
        record: :class:`EndpointNotFoundError`, :class:`AccessDeniedError`,
        :class:`CredentialsError`. An exception the input raises is raised after the
        records read before it have been yielded.
        """
        from ._invoke_many import InvokeMany

        use_json, cap, adaptive = check_bulk_arguments(
            bodies, json, concurrency, max_concurrency, ordered
        )
        template = RequestTemplate(
            self._operation_model("InvokeEndpoint"),
            {
                "endpoint_name": endpoint_name,
                "content_type": content_type,
                "accept": accept,
                "custom_attributes": custom_attributes,
                "target_model": target_model,
                "target_variant": target_variant,
                "target_container_hostname": target_container_hostname,
                "inference_id": inference_id,
                "enable_explanations": enable_explanations,
                "inference_component_name": inference_component_name,
                "session_id": session_id,
            },
            json=use_json,
        )
        warn_if_pool_is_smaller(self._client.meta.config, cap)
        records: Iterable[object] = json if use_json else bodies  # type: ignore[assignment]
        return InvokeMany(
            self._invoke_once,
            endpoint_name,
            template,
            records,
            limiter=new_limiter(cap, adaptive),
            policy=self._retry,
            read_timeout=self._read_timeout,
            ordered=ordered,
            window=WINDOW_PER_SLOT * cap,
            threads=cap,
            component=inference_component_name,
        )

"""``BulkMethods``: ``invoke_many`` on ``AsyncSageMakerRuntime``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from .._base._bulk_request import (
    WINDOW_PER_SLOT,
    RequestTemplate,
    check_bulk_arguments,
    new_limiter,
    warn_if_pool_is_smaller,
)
from .._telemetry._call_record import INVOKE
from ._client_core import ClientCore

if TYPE_CHECKING:
    from .._core._types import Body, InvokeResult
    from ._invoke_many import AsyncInvokeMany

__all__ = ["BulkMethods"]


@functools.cache
def _invoke_endpoint_model() -> Any:
    """InvokeEndpoint's model from botocore's data, to check arguments before a client exists."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    return model.operation_model("InvokeEndpoint")


class BulkMethods(ClientCore):
    """``invoke_many``."""

    def invoke_many(
        self,
        endpoint_name: str,
        bodies: Iterable[Body] | AsyncIterable[Body] | None = None,
        *,
        json: Iterable[object] | AsyncIterable[object] | None = None,
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
    ) -> AsyncInvokeMany:
        """Invoke the endpoint once per record, many at once, yielding each record's outcome.

        Not a coroutine: it returns the run at once, and nothing is sent before the
        first ``__anext__``::

            async with smr.invoke_many("my-endpoint", json=records) as run:
                async for outcome in run:
                    if outcome.error is not None:
                        print(outcome.index, outcome.error)

        The same contract as :meth:`SageMakerRuntime.invoke_many`: records read lazily
        (an iterable, or an async iterable read by a task of its own), at most
        ``WINDOW_PER_SLOT`` (2) times the in-flight limit held beyond those yielded,
        each yielded exactly once, retryable failures retried under the client's
        :class:`RetryPolicy`, a record's own failure yielded and the run going on.
        Leaving ``async with`` or :meth:`AsyncInvokeMany.aclose` cancels what is in
        flight; no task is left behind.

        Args:
            endpoint_name: The endpoint's name.
            bodies: The request bodies, one per record: ``bytes``, ``str`` (sent as
                UTF-8), ``bytearray``, ``memoryview`` or a binary file. Not with ``json``.
            json: The records as JSON values (``None`` is JSON ``null``), each sent as
                compact UTF-8 JSON with ``content_type`` ``application/json`` unless
                given. Not with ``bodies``.
            concurrency: ``"auto"`` finds the endpoint's capacity as it goes, between 1 and
                ``max_concurrency``; an int is a fixed number in flight.
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
            The run: iterate it with ``async for``, read ``stats`` for a progress bar,
            and close it (``async with``, or :meth:`AsyncInvokeMany.aclose`).

        Raises:
            ClientValidationError: An argument was rejected; nothing was sent.

        The iteration raises, ending the run at once, on an error that would fail every
        record: :class:`EndpointNotFoundError`, :class:`AccessDeniedError`,
        :class:`CredentialsError`. An exception the input raises is raised after the
        records read before it have been yielded.
        """
        from ._invoke_many import AsyncInvokeMany

        use_json, cap, adaptive = check_bulk_arguments(
            bodies, json, concurrency, max_concurrency, ordered
        )
        client = self._client
        model = (
            client.meta.service_model.operation_model("InvokeEndpoint")
            if client is not None
            else _invoke_endpoint_model()
        )
        template = RequestTemplate(
            model,
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
        records: Any = json if use_json else bodies
        return AsyncInvokeMany(
            partial(self._bulk_start, cap),
            self._bulk_send,
            endpoint_name,
            template,
            records,
            limiter=new_limiter(cap, adaptive),
            policy=self._retry,
            ordered=ordered,
            window=WINDOW_PER_SLOT * cap,
            component=inference_component_name,
        )

    async def _bulk_start(self, cap: int) -> float | None:
        client = await self._ensure_client()
        warn_if_pool_is_smaller(client.meta.config, cap)
        return self._read_timeout

    async def _bulk_send(
        self, params: dict[str, Any], retries: int, endpoint_name: str, component: str | None
    ) -> InvokeResult:
        client = await self._ensure_client()
        with self._telemetry.start(INVOKE, endpoint_name, client, component=component) as call:
            return await self._invoke_once(params, retries, call)

"""``InvokeBatches``: score a Ray dataset through an endpoint, each worker with its own limiter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from .._base._bulk_request import (
    WINDOW_PER_SLOT,
    RequestTemplate,
    check_bulk_arguments,
    new_limiter,
    warn_if_pool_is_smaller,
)
from .._base._limiter import Limiter
from .._core._exceptions import ClientValidationError
from .._core._public import public
from .._core._retry import RetryPolicy
from .._sync._client import SageMakerRuntime
from .._sync._invoke_many import InvokeMany
from ._columns import (
    Requests,
    batch_kind,
    error_record,
    null_body_error,
    read_requests,
    with_outcomes,
)

if TYPE_CHECKING:
    from botocore.config import Config

__all__ = ["InvokeBatches"]

_TBatch = TypeVar("_TBatch")


@public
class InvokeBatches:
    """A batch callable for Ray Data's ``Dataset.map_batches``: one request per row.

    Each row's request body is read from a column; the batch comes back with two
    columns added, the response body and the error, in the same row order::

        scored = ds.map_batches(
            InvokeBatches,
            fn_constructor_kwargs={"endpoint_name": "my-endpoint", "json_column": "features"},
            batch_format="pyarrow",
            batch_size=1024,
            compute=ray.data.ActorPoolStrategy(size=4),
        )

    Ray builds one instance per worker (an actor), so each worker has its own client
    and its own adaptive concurrency limit, kept across the batches it scores: a
    cluster of N workers keeps up to N x ``max_concurrency`` requests in flight, each
    worker backing off on its own when the endpoint throttles. Per record, the contract
    is ``SageMakerRuntime.invoke_many``'s: throttles are retried under ``retry``; a
    record's own failure (e.g. :class:`ModelError`) fills its error column and the batch
    goes on; an error that would fail every record (:class:`EndpointNotFoundError`,
    :class:`AccessDeniedError`, :class:`CredentialsError`, a wrong column) raises from
    the call, which fails the Ray job at once instead of writing a dataset of errors.

    The batch must be a pyarrow ``Table`` (``batch_format="pyarrow"``) or a pandas
    ``DataFrame`` (``batch_format="pandas"``); it comes back as the same type.

    - ``result_column`` (binary): the response body, null when the record failed.
    - ``error_column``: null when the record succeeded, else a struct of ``type`` (the
      exception's class name, e.g. ``"ModelError"``), ``code`` (the AWS error code) and
      ``http_status`` (null for errors no service answered, such as a timeout),
      ``message`` (never the request body) and ``request_id`` (to quote to AWS). A
      struct rather than a string: failures are counted and filtered by a field
      (``row["error"]["type"] == "ThrottlingError"``, to score those rows again), a
      throttled or timed-out record told from a model's answer without parsing text;
      rather than five columns, one name to pass, to drop, and to test for null. In a
      pandas batch its rows are dicts. Both columns keep their types when every row
      is null, so every batch has the same schema.

    A null body (in ``body_column``) is sent nowhere: its row gets a
    ``ClientValidationError`` in the error column. A null in ``json_column`` is JSON
    ``null``, and is sent.

    Args:
        endpoint_name: The endpoint's name.
        body_column: The column of request bodies (binary or string); the default
            when neither column is given: ``"body"``. Not with ``json_column``.
        json_column: The column of JSON values (numbers, strings, lists, structs),
            each sent as compact UTF-8 JSON with ``content_type`` ``application/json``
            unless given. Not with ``body_column``.
        result_column: The name of the column added for the response bodies.
        error_column: The name of the column added for the errors.
        concurrency: ``"auto"`` to find the endpoint's capacity as the worker goes (at
            most ``max_concurrency`` in flight), or a fixed number in flight per worker.
        max_concurrency: The most requests in flight per worker under ``"auto"``.
        region_name: The AWS region; default: the worker's boto3 configuration.
        endpoint_url: The SageMaker Runtime URL; default: boto3's.
        config: A botocore ``Config`` for each worker's client (timeouts, pool size).
        retry: The retry policy of every call; default: ``RetryPolicy()``.
        content_type: The MIME type of every request body (``Content-Type``).
        accept: The MIME type wanted in the responses (``Accept``).
        custom_attributes: Opaque information for the model container, on every call;
            never echoed in errors or logs.
        target_model: On a multi-model endpoint, the model to invoke.
        target_variant: The production variant to invoke.
        target_container_hostname: On a multi-container endpoint, the container to invoke.
        inference_id: An identifier sent with every request, for model monitoring.
        enable_explanations: On an endpoint with SageMaker Clarify online
            explainability, the JMESPath expression of what to explain.
        inference_component_name: On an endpoint that hosts inference components,
            the component to invoke.

    Raises:
        ClientValidationError: An argument was rejected (both columns given, the same
            name for both added columns, a concurrency out of range, a bad endpoint
            name); the worker fails as it starts.
        CredentialsError: The worker's AWS credentials cannot be loaded.
    """

    def __init__(
        self,
        endpoint_name: str,
        *,
        body_column: str | None = None,
        json_column: str | None = None,
        result_column: str = "result",
        error_column: str = "error",
        concurrency: int | Literal["auto"] = "auto",
        max_concurrency: int = 64,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        config: Config | None = None,
        retry: RetryPolicy | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        target_container_hostname: str | None = None,
        inference_id: str | None = None,
        enable_explanations: str | None = None,
        inference_component_name: str | None = None,
    ) -> None:
        if body_column is not None and json_column is not None:
            raise ClientValidationError(
                "pass body_column or json_column, not both", field="json_column"
            )
        if result_column == error_column:
            raise ClientValidationError(
                f"result_column and error_column are both {result_column!r}: name two columns",
                field="error_column",
            )
        self._endpoint_name = endpoint_name
        self._json = json_column is not None
        self._column = json_column if json_column is not None else (body_column or "body")
        self._field = "json_column" if self._json else "body_column"
        self._names = (result_column, error_column)
        _, self._limit, adaptive = check_bulk_arguments(
            (), None, concurrency, max_concurrency, False
        )
        self._limiter: Limiter = new_limiter(self._limit, adaptive)
        self._component = inference_component_name
        self._smr = SageMakerRuntime(
            region_name=region_name, endpoint_url=endpoint_url, config=config, retry=retry
        )
        self._read_timeout: float | None = getattr(
            self._smr.client.meta.config, "read_timeout", None
        )
        try:
            self._template = RequestTemplate(
                self._smr.client.meta.service_model.operation_model("InvokeEndpoint"),
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
                },
                json=self._json,
            )
        except BaseException:
            self._smr.close()
            raise
        warn_if_pool_is_smaller(self._smr.client.meta.config, self._limit)

    def __call__(self, batch: _TBatch) -> _TBatch:
        """Invoke the endpoint once per row of ``batch``; return it with the two columns added.

        Args:
            batch: A pyarrow ``Table`` or ``RecordBatch``, or a pandas ``DataFrame``.

        Returns:
            A batch of the same type: the same rows in the same order, with the result
            and error columns added.

        Raises:
            ClientValidationError: The batch is of another type, lacks the request
                column, already has a column of an added name, or a body is neither
                bytes nor text.
            EndpointNotFoundError: The endpoint does not exist in this account and region.
            AccessDeniedError: The credentials were refused.
            CredentialsError: No usable AWS credentials were found.
        """
        table: Any = batch
        kind = batch_kind(table)
        requests = read_requests(table, kind, self._column, json=self._json, field=self._field)
        results: list[bytes | None] = [None] * len(table)
        errors: list[dict[str, object] | None] = [null_body_error(self._field, self._column)] * len(
            table
        )
        for row, outcome in zip(requests.rows, self._run(requests), strict=True):
            results[row], errors[row] = outcome
        return cast("_TBatch", with_outcomes(table, kind, self._names, results, errors))

    def _run(self, requests: Requests) -> list[tuple[bytes | None, dict[str, object] | None]]:
        """Each request's (response body, error record), in the order of ``requests``.

        One ``InvokeMany`` per batch, all on this worker's limiter: the concurrency the
        endpoint allowed the last batch is where the next one starts.
        """
        outcomes: list[tuple[bytes | None, dict[str, object] | None]] = [(None, None)] * len(
            requests.values
        )
        smr = self._smr
        run = InvokeMany(
            smr._invoke_once,  # pyright: ignore[reportPrivateUsage]
            self._endpoint_name,
            self._template,
            requests.values,
            limiter=self._limiter,
            policy=smr.retry,
            read_timeout=self._read_timeout,
            ordered=False,
            window=WINDOW_PER_SLOT * self._limit,
            threads=self._limit,
            component=self._component,
        )
        with run:
            for outcome in run:
                if outcome.error is not None:
                    outcomes[outcome.index] = (None, error_record(outcome.error))
                elif outcome.result is not None:
                    outcomes[outcome.index] = (outcome.result["body"], None)
        return outcomes

    def close(self) -> None:
        """Close the worker's client (its connection pool). Ray ends the worker without it."""
        self._smr.close()

    def __repr__(self) -> str:
        return f"<InvokeBatches endpoint_name={self._endpoint_name!r} column={self._column!r}>"

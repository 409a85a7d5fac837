"""``InvokeBatches`` under Ray Data: a local Ray, its workers calling the local endpoint.

One local Ray for the module (starting it takes seconds); its workers are processes of
their own, so they reach the ``LocalRuntime`` of this process through its URL, with the
dummy credentials given to every worker in the runtime environment. Each test is one
dataset run of a few hundred rows. Skipped where Ray is not installed (the ``ray`` extra;
CI's Ray stage runs them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")
ray_data = pytest.importorskip("ray.data", reason="the 'ray' extra is not installed")

from typed_sagemaker_runtime import InvokeBatches, RetryPolicy  # noqa: E402
from typed_sagemaker_runtime.testing import (  # noqa: E402
    Capacity,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
)

ROWS = 300


def _score(request: InvocationRequest) -> bytes:
    """``{"x": n}`` -> ``{"y": 2n}``, other bodies upper-cased; ``fail`` or n < 0 fail (424)."""
    if request.content_type == "application/json":
        x = json.loads(request.body)["x"]
        if x < 0:
            raise ModelFailure(500, "the model refused this record")
        return json.dumps({"y": 2 * x}).encode()
    if request.body == b"fail":
        raise ModelFailure(500, "the model refused this record")
    return request.body.upper()


@pytest.fixture(scope="module")
def scoring() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_endpoint("score", _score)
        yield runtime


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A Ray of two CPUs in this machine; every worker gets dummy credentials and no AWS config."""
    nowhere = str(tmp_path_factory.getbasetemp() / "no-aws-config")
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
    }
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={"env_vars": environment},
    )
    context = ray_data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # rows come back in input order
    try:
        yield
    finally:
        ray.shutdown()


def _map(dataset: Any, scoring: LocalRuntime, batch_format: str, **kwargs: Any) -> Any:
    return dataset.map_batches(
        InvokeBatches,
        fn_constructor_kwargs={
            "endpoint_name": "score",
            "endpoint_url": scoring.endpoint_url,
            "region_name": "us-east-1",
            **kwargs,
        },
        batch_format=batch_format,
        batch_size=50,
        compute=ray_data.ActorPoolStrategy(size=2),
    )


def test_against_a_busy_endpoint_throttles_are_retried_and_every_row_is_scored_once(
    scoring: LocalRuntime,
) -> None:
    """Two workers, each with its own limiter of up to 8, against an endpoint that takes 4.

    The endpoint refuses what it cannot take; the workers back off and retry, and no
    row is lost or sent twice.
    """
    scoring.add_endpoint("busy", _score, capacity=Capacity(4, latency=0.005))
    dataset = ray_data.from_items([{"id": i, "body": f"row {i}".encode()} for i in range(ROWS)])
    patient = RetryPolicy(max_attempts=30, initial_backoff=0.005, max_backoff=0.05)
    scored = _map(
        dataset, scoring, "pyarrow", endpoint_name="busy", max_concurrency=8, retry=patient
    )
    rows = scored.take_all()
    assert [row["id"] for row in rows] == list(range(ROWS))
    assert [row["error"] for row in rows] == [None] * ROWS
    assert [row["result"] for row in rows] == [f"ROW {i}".encode() for i in range(ROWS)]
    stats = scoring.capacity_stats("busy")
    assert stats.served == ROWS  # a throttled attempt is not served: no row twice
    assert stats.peak_concurrency <= 4


def _failing(row: int) -> bool:
    return row % 100 == 7  # batches of 50: every other one has no failure


def test_a_dataset_of_bodies_is_scored_in_order_with_model_errors_in_their_rows(
    scoring: LocalRuntime,
) -> None:
    dataset = ray_data.from_items(
        [{"id": i, "body": b"fail" if _failing(i) else f"row {i}".encode()} for i in range(ROWS)]
    )
    rows = _map(dataset, scoring, "pyarrow").take_all()
    assert [row["id"] for row in rows] == list(range(ROWS))
    for row in rows:
        if _failing(row["id"]):
            assert row["result"] is None
            assert row["error"]["type"] == "ModelError"
            assert row["error"]["http_status"] == 424
        else:
            assert row["result"] == f"ROW {row['id']}".encode()
            assert row["error"] is None


def test_a_pandas_dataset_of_json_values_is_scored_in_order(scoring: LocalRuntime) -> None:
    dataset = ray_data.from_items(
        [{"id": i, "features": {"x": -1 if _failing(i) else i}} for i in range(ROWS)]
    )
    scored = _map(dataset, scoring, "pandas", json_column="features")
    table = scored.to_arrow_refs()
    rows = [row for ref in table for row in ray.get(ref).to_pylist()]
    assert [row["id"] for row in rows] == list(range(ROWS))
    for row in rows:
        if _failing(row["id"]):
            assert row["error"]["type"] == "ModelError"
            assert row["result"] is None
        else:
            assert json.loads(row["result"]) == {"y": 2 * row["id"]}
            assert row["error"] is None


def test_an_endpoint_that_does_not_exist_fails_the_job_at_once(scoring: LocalRuntime) -> None:
    dataset = ray_data.from_items([{"body": b"x"} for _ in range(ROWS)])
    scored = _map(dataset, scoring, "pyarrow", endpoint_name="missing")
    started = time.monotonic()
    with pytest.raises(ray.exceptions.RayTaskError) as raised:
        scored.materialize()
    assert "EndpointNotFoundError" in str(raised.value)
    assert time.monotonic() - started < 60  # not a retry per row, not a hang


def test_the_class_crosses_to_the_workers_by_reference() -> None:
    """Ray pickles the class by its public name; the workers import it from the package."""
    from ray import cloudpickle

    pickled = cloudpickle.dumps(InvokeBatches)
    assert b"typed_sagemaker_runtime" in pickled
    assert b"_invoke_batches" not in pickled
    assert len(pickled) < 200

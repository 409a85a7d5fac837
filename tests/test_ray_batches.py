"""``InvokeBatches`` called on batches directly, as a Ray worker calls it, without Ray.

pyarrow and pandas batches against the local endpoint: bodies from binary, string and
JSON columns, nulls, the added columns' types, row order, a record's own failure in
its row, and the errors that fail every record raised at once. Ray's own runs are in
``test_ray.py``. Skipped where pyarrow or pandas is missing (the ``ray`` extra brings both).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

pa = pytest.importorskip("pyarrow", reason="the 'ray' extra is not installed")
pd = pytest.importorskip("pandas", reason="the 'ray' extra is not installed")

from typed_sagemaker_runtime import (  # noqa: E402
    ClientValidationError,
    CredentialsError,
    EndpointNotFoundError,
    InvokeBatches,
)
from typed_sagemaker_runtime.testing import (  # noqa: E402
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
)


def _score(request: InvocationRequest) -> bytes:
    """``{"x": n}`` -> ``{"y": 2n}``; a body ``fail`` fails as the model would (424)."""
    if request.body == b"fail":
        raise ModelFailure(500, "the model refused this record")
    if request.content_type == "application/json":
        return json.dumps({"y": 2 * json.loads(request.body)["x"]}).encode()
    return request.body.upper()


@pytest.fixture(scope="module")
def scoring() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        runtime.add_endpoint("score", _score)
        yield runtime


def _invoker(scoring: LocalRuntime, **kwargs: Any) -> InvokeBatches:
    return InvokeBatches(
        "score", endpoint_url=scoring.endpoint_url, region_name="us-east-1", **kwargs
    )


def test_a_pyarrow_batch_gains_a_binary_result_and_a_null_error_per_row(
    scoring: LocalRuntime,
) -> None:
    batch = pa.table({"id": list(range(50)), "body": [f"row {i}".encode() for i in range(50)]})
    invoker = _invoker(scoring)
    try:
        out = invoker(batch)
    finally:
        invoker.close()
    assert isinstance(out, pa.Table)
    assert out.column_names == ["id", "body", "result", "error"]
    assert out.schema.field("result").type == pa.binary()
    assert pa.types.is_struct(out.schema.field("error").type)
    assert out.column("id").to_pylist() == list(range(50))
    assert out.column("result").to_pylist() == [f"ROW {i}".encode() for i in range(50)]
    assert out.column("error").null_count == 50


def test_a_record_s_own_failure_fills_its_error_and_the_batch_goes_on(
    scoring: LocalRuntime,
) -> None:
    batch = pa.table({"body": ["a", "fail", None, "b"]})
    invoker = _invoker(scoring)
    try:
        out = invoker(batch).to_pylist()
    finally:
        invoker.close()
    assert [row["result"] for row in out] == [b"A", None, None, b"B"]
    assert out[0]["error"] is None
    assert out[3]["error"] is None
    model_error = out[1]["error"]
    assert model_error["type"] == "ModelError"
    assert model_error["code"] == "ModelError"
    assert model_error["http_status"] == 424
    assert model_error["request_id"]
    null_body = out[2]["error"]
    assert null_body["type"] == "ClientValidationError"
    assert "body_column='body'" in null_body["message"]
    assert null_body["http_status"] is None


def test_a_pandas_batch_comes_back_as_a_dataframe_on_its_own_index(scoring: LocalRuntime) -> None:
    batch = pd.DataFrame({"text": ["x", "fail", "y"]}, index=[10, 11, 12])
    invoker = _invoker(scoring, body_column="text", result_column="out", error_column="why")
    try:
        out = invoker(batch)
    finally:
        invoker.close()
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["text", "out", "why"]
    assert list(out.index) == [10, 11, 12]
    assert list(out["out"]) == [b"X", None, b"Y"]
    assert out["why"][10] is None
    assert out["why"][11]["type"] == "ModelError"
    assert "out" not in batch.columns  # the caller's batch is left as it was


@pytest.mark.parametrize("kind", ["pyarrow", "pandas"])
def test_a_json_column_sends_each_value_as_json(scoring: LocalRuntime, kind: str) -> None:
    rows = {"features": [{"x": i} for i in range(20)]}
    batch = pa.table(rows) if kind == "pyarrow" else pd.DataFrame(rows)
    invoker = _invoker(scoring, json_column="features")
    try:
        out = invoker(batch)
    finally:
        invoker.close()
    results = out["result"].to_pylist() if kind == "pyarrow" else list(out["result"])
    assert [json.loads(body) for body in results] == [{"y": 2 * i} for i in range(20)]


def test_json_values_from_pandas_numpy_types_are_sent_as_plain_json(scoring: LocalRuntime) -> None:
    """A pyarrow struct column read by pandas holds NumPy scalars; they are sent as numbers."""
    table = pa.table({"features": pa.array([{"x": 3}, {"x": 4}])})
    batch = table.to_pandas()
    invoker = _invoker(scoring, json_column="features")
    try:
        out = invoker(batch)
    finally:
        invoker.close()
    assert [json.loads(body) for body in out["result"]] == [{"y": 6}, {"y": 8}]


def test_an_all_null_error_column_keeps_its_struct_type(scoring: LocalRuntime) -> None:
    invoker = _invoker(scoring)
    try:
        ok = invoker(pa.table({"body": ["a"]}))
        failed = invoker(pa.table({"body": ["fail"]}))
    finally:
        invoker.close()
    assert ok.schema == failed.schema


def test_an_endpoint_that_does_not_exist_raises_at_once(scoring: LocalRuntime) -> None:
    invoker = InvokeBatches("missing", endpoint_url=scoring.endpoint_url, region_name="us-east-1")
    try:
        with pytest.raises(EndpointNotFoundError):
            invoker(pa.table({"body": ["a"] * 10}))
    finally:
        invoker.close()


def test_no_credentials_raise_at_once(
    scoring: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # no credentials cached by earlier tests
    invoker = _invoker(scoring)
    try:
        with pytest.raises(CredentialsError):
            invoker(pa.table({"body": ["a", "b"]}))
    finally:
        invoker.close()


@pytest.mark.parametrize(
    ("batch", "kwargs", "field"),
    [
        ({"other": ["a"]}, {}, "body_column"),
        ({"body": [1]}, {}, "body_column"),
        ({"body": ["a"], "result": [b"x"]}, {}, "result_column"),
        ({"body": ["a"], "why": [b"x"]}, {"error_column": "why"}, "error_column"),
        ({"body": ["a"]}, {"json_column": "nope"}, "json_column"),
    ],
)
def test_a_batch_that_does_not_fit_the_arguments_names_the_argument(
    scoring: LocalRuntime, batch: dict[str, list[Any]], kwargs: dict[str, Any], field: str
) -> None:
    invoker = _invoker(scoring, **kwargs)
    try:
        with pytest.raises(ClientValidationError) as raised:
            invoker(pa.table(batch))
    finally:
        invoker.close()
    assert raised.value.field == field


def test_a_batch_of_another_type_says_which_batch_formats_fit(scoring: LocalRuntime) -> None:
    invoker = _invoker(scoring)
    try:
        with pytest.raises(ClientValidationError, match="batch_format='pyarrow'"):
            invoker({"body": ["a"]})
    finally:
        invoker.close()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"body_column": "a", "json_column": "b"}, "json_column"),
        ({"result_column": "x", "error_column": "x"}, "error_column"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_concurrency": "many"}, "max_concurrency"),
        ({"endpoint_name": "no spaces"}, "endpoint_name"),
        ({"content_type": 3}, "content_type"),
    ],
)
def test_arguments_are_checked_as_the_worker_starts(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ClientValidationError) as raised:
        InvokeBatches(**{"endpoint_name": "score", "region_name": "us-east-1", **kwargs})
    assert raised.value.field == field


def test_a_fixed_concurrency_bounds_the_requests_in_flight_across_batches() -> None:
    """``concurrency=3``: never more than 3 requests at the endpoint, batch after batch."""
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def counting(request: InvocationRequest) -> bytes:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            time.sleep(0.002)  # let the requests overlap
            return request.body
        finally:
            with lock:
                in_flight -= 1

    with LocalRuntime() as runtime:
        runtime.add_endpoint("count", counting)
        invoker = InvokeBatches(
            "count", endpoint_url=runtime.endpoint_url, region_name="us-east-1", concurrency=3
        )
        try:
            outs = [invoker(pa.table({"body": [b"x"] * 40})) for _ in range(3)]
        finally:
            invoker.close()
    assert [out.column("result").to_pylist() for out in outs] == [[b"x"] * 40] * 3
    assert 1 <= peak <= 3


def test_the_class_imports_none_of_ray_pyarrow_and_pandas() -> None:
    """The package imports without them: a batch's type is checked when it arrives."""
    code = (
        "import sys\n"
        "from typed_sagemaker_runtime import InvokeBatches\n"
        "InvokeBatches('score', region_name='us-east-1').close()\n"
        "print(sorted(m for m in ('ray', 'pyarrow', 'pandas', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param(lambda: pa.table({"body": pa.array([], pa.binary())}), id="empty table"),
        pytest.param(lambda: pd.DataFrame({"body": pd.Series([], dtype=object)}), id="empty frame"),
        pytest.param(lambda: pa.record_batch({"body": ["a", "b"]}), id="record batch"),
        pytest.param(
            lambda: pa.table({"body": pa.array(["a", "b"], pa.large_string())}), id="large"
        ),
    ],
)
def test_empty_batches_record_batches_and_large_columns_keep_their_shape(
    scoring: LocalRuntime, batch: Any
) -> None:
    given = batch()
    invoker = _invoker(scoring)
    try:
        out = invoker(given)
    finally:
        invoker.close()
    assert type(out) is type(given)
    assert _column(out, "result") == [body.upper().encode() for body in _column(given, "body")]


def _column(batch: Any, name: str) -> list[Any]:
    return list(batch[name]) if isinstance(batch, pd.DataFrame) else batch[name].to_pylist()


def test_a_pool_smaller_than_the_concurrency_is_warned_of(caplog: pytest.LogCaptureFixture) -> None:
    """As ``invoke_many`` warns: each worker's client keeps fewer connections than in flight."""
    invoker = InvokeBatches(
        "score",
        region_name="us-east-1",
        config=Config(max_pool_connections=4),
        max_concurrency=16,
    )
    invoker.close()
    assert "max_pool_connections=16" in caplog.text

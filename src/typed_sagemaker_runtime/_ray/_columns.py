"""Batches in and out: the request of each row read from a column, two columns added.

Sans-I/O and free of Ray: a pyarrow ``Table`` or ``RecordBatch``, or a pandas
``DataFrame``, is what ``Dataset.map_batches`` hands over with ``batch_format="pyarrow"``
or ``"pandas"``. Neither library is imported here: a batch of one of them means its
library is already loaded, so the type is checked against ``sys.modules`` at call time,
and the package imports without either.

The error column is a struct of :data:`ERROR_FIELDS` (see ``InvokeBatches`` for why).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from .._core._exceptions import ClientValidationError, SageMakerRuntimeError, ServiceError

__all__ = [
    "ERROR_FIELDS",
    "BatchKind",
    "Requests",
    "batch_kind",
    "error_record",
    "null_body_error",
    "read_requests",
    "with_outcomes",
]

BatchKind = Literal["pyarrow", "pandas"]

ERROR_FIELDS = ("type", "code", "http_status", "message", "request_id")
"""The error column's fields: the exception's class name, the AWS error code, the HTTP
status, the message (never the request body) and the request id to quote to AWS."""


@dataclass(frozen=True)
class Requests:
    """What to send for each row of a batch: ``values[i]`` for row ``rows[i]``.

    ``json`` says whether the values are JSON values or bodies. Rows missing from
    ``rows`` have a null body: nothing is sent for them.
    """

    values: list[object]
    rows: list[int]
    json: bool


def batch_kind(batch: object) -> BatchKind:
    """``"pyarrow"`` or ``"pandas"``: which library's batch this is.

    Raises:
        ClientValidationError: Neither (Ray's default batch format is NumPy arrays).
    """
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and isinstance(batch, (pyarrow.Table, pyarrow.RecordBatch)):
        return "pyarrow"
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(batch, pandas.DataFrame):
        return "pandas"
    raise ClientValidationError(
        f"InvokeBatches takes a pyarrow Table or a pandas DataFrame, not "
        f"{type(batch).__module__}.{type(batch).__qualname__}: pass "
        "batch_format='pyarrow' or batch_format='pandas' to map_batches",
        field="batch",
    )


def column_names(batch: Any, kind: BatchKind) -> list[str]:
    """The batch's column names, in order."""
    if kind == "pyarrow":
        return list(batch.schema.names)
    return [str(name) for name in batch.columns]


def read_requests(batch: Any, kind: BatchKind, column: str, *, json: bool, field: str) -> Requests:
    """The request of every row: the column's values, bodies or JSON values.

    ``field`` is the argument that named the column (``body_column`` or ``json_column``).

    Raises:
        ClientValidationError: The batch has no such column, or a body is neither bytes
            nor text (such a column fails every row: its values are JSON, or the wrong
            column was named).
    """
    if column not in column_names(batch, kind):
        raise ClientValidationError(
            f"{field}={column!r}: the batch has no such column "
            f"(its columns: {', '.join(column_names(batch, kind))})",
            field=field,
        )
    values: list[object] = (
        batch.column(column).to_pylist() if kind == "pyarrow" else batch[column].tolist()
    )
    if json:
        return Requests([_plain(value) for value in values], list(range(len(values))), json=True)
    rows = [row for row, value in enumerate(values) if not _is_null(value)]
    bodies = [values[row] for row in rows]
    for body in bodies:
        if not isinstance(body, (bytes, bytearray, memoryview, str)):
            raise ClientValidationError(
                f"{field}={column!r}: the column holds {type(body).__name__} values, not "
                "bytes or text; pass json_column= to send each value as JSON",
                field=field,
            )
    return Requests(bodies, rows, json=False)


def _is_null(value: object) -> bool:
    """Whether a body is missing: ``None``, or pandas' ``NaN`` / ``NA`` / ``NaT``."""
    if value is None:
        return True
    pandas = sys.modules.get("pandas")
    return pandas is not None and not isinstance(value, (bytes, str)) and pandas.isna(value) is True


def _plain(value: object) -> object:
    """A JSON value of plain Python types: NumPy scalars and arrays (pandas batches) as lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in cast("dict[object, object]", value).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in cast("Sequence[object]", value)]
    tolist = getattr(value, "tolist", None)  # numpy.ndarray, numpy.int64, ...
    if tolist is not None and type(value).__module__ == "numpy":
        return _plain(tolist())
    return value


def error_record(error: SageMakerRuntimeError) -> dict[str, object]:
    """One row of the error column: the fields of :data:`ERROR_FIELDS`."""
    service = error if isinstance(error, ServiceError) else None
    return {
        "type": type(error).__name__,
        "code": None if service is None else service.code,
        "http_status": None if service is None else service.http_status,
        "message": error.message,
        "request_id": error.request_id,
    }


def null_body_error(field: str, column: str) -> dict[str, object]:
    """The error of a row whose body is null: nothing was sent for it."""
    return error_record(
        ClientValidationError(f"{field}={column!r}: the row's body is null", field=field)
    )


def with_outcomes(
    batch: Any,
    kind: BatchKind,
    names: tuple[str, str],
    results: Sequence[bytes | None],
    errors: Sequence[dict[str, object] | None],
) -> Any:
    """The batch with two columns added, ``names`` = (result column, error column).

    The result column is binary, the error column a struct of :data:`ERROR_FIELDS`;
    both have their type even when every row is null, so every batch of a dataset has
    the same schema.

    Raises:
        ClientValidationError: The batch already has a column of one of those names.
    """
    for name, field in zip(names, ("result_column", "error_column"), strict=True):
        if name in column_names(batch, kind):
            raise ClientValidationError(
                f"{field}={name!r}: the batch already has that column; name another one",
                field=field,
            )
    if kind == "pandas":
        copy = batch.copy(deep=False)
        copy[names[0]] = _object_series(results, batch.index)
        copy[names[1]] = _object_series(errors, batch.index)
        return copy
    pyarrow: Any = sys.modules["pyarrow"]
    error_type = pyarrow.struct(
        [
            ("type", pyarrow.string()),
            ("code", pyarrow.string()),
            ("http_status", pyarrow.int32()),
            ("message", pyarrow.string()),
            ("request_id", pyarrow.string()),
        ]
    )
    schema = batch.schema.append(pyarrow.field(names[0], pyarrow.binary()))
    schema = schema.append(pyarrow.field(names[1], error_type))
    columns = [
        *batch.columns,
        pyarrow.array(results, type=pyarrow.binary()),
        pyarrow.array(errors, type=error_type),
    ]
    return batch.from_arrays(columns, schema=schema)  # a classmethod: Table or RecordBatch


def _object_series(values: Sequence[object], index: Any) -> Any:
    """A pandas column of Python objects (bytes, dicts, ``None``), on the batch's index."""
    pandas: Any = sys.modules["pandas"]
    return pandas.Series(list(values), index=index, dtype=object)

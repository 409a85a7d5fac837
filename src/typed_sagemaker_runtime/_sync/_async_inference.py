"""The synchronous I/O of asynchronous inference: the S3 poll loop, downloads, uploads.

The decisions (schedule, what an answer means, error texts) live in the sans-I/O
``_core._async_inference`` module; this one only talks to S3 through a boto3 client. It starts
no thread: everything runs in the caller's thread, so nothing is left polling once a
call returns, and ``KeyboardInterrupt`` stops it at once (``time.sleep`` is interruptible).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from botocore import exceptions as bce
from botocore.config import Config

from .._base._async_inference import S3_RETRIES, Destination, Progress, check_dest
from .._core._async_inference import (
    PollSchedule,
    S3ClientLike,
    S3Uri,
    denied_error,
    failed_error,
    is_missing,
    missing_bucket_error,
    timeout_error,
    wait_locations,
)
from .._core._errors import map_exception
from .._core._exceptions import (
    AccessDeniedError,
    ServiceError,
    TimeoutError,
    TransportError,
)
from .._core._params import encode_body
from .._core._types import AsyncOutput, Body, InvokeAsyncResult

__all__ = ["build_s3_client", "upload", "wait_for_result"]

_T = TypeVar("_T")
_CHUNK = 1024 * 1024
_PROGRESS_TICK = 0.5  # with a progress callback, sleeps are cut into slices this long


def build_s3_client(
    factory: Any, *, region_name: str | None, config: Config | None, endpoint_url: str | None
) -> Any:
    """An S3 client from the SageMaker client's session, region and botocore config."""
    s3_config = (config or Config()).merge(S3_RETRIES)
    return factory.client(
        "s3", region_name=region_name, endpoint_url=endpoint_url, config=s3_config
    )


def _call(operation: str, call: Callable[[], _T]) -> _T:
    """Run one S3 call; botocore's and urllib3's exceptions become ours."""
    try:
        return call()
    except bce.ReadTimeoutError as exc:
        raise TimeoutError(
            f"{operation}: S3 sent no answer within the read timeout", operation=operation
        ) from exc
    except Exception as exc:
        mapped = map_exception(exc, operation=operation)
        if mapped is None:
            raise
        raise mapped from exc


def _head(s3: S3ClientLike, location: S3Uri) -> bool:
    """Whether the object exists; errors other than "not found" raise."""
    try:
        _call("HeadObject", lambda: s3.head_object(Bucket=location.bucket, Key=location.key))
    except AccessDeniedError as exc:
        raise denied_error(exc, location) from exc.__cause__
    except ServiceError as exc:
        if is_missing(exc):
            return False
        raise
    return True


def _get(s3: S3ClientLike, location: S3Uri) -> Any | None:
    """GetObject; ``None`` when the object vanished since its HEAD."""
    try:
        return _call("GetObject", lambda: s3.get_object(Bucket=location.bucket, Key=location.key))
    except ServiceError as exc:
        if is_missing(exc):
            return None
        raise


def _chunks(body: Any, location: S3Uri) -> Iterator[bytes]:
    """The object's bytes in chunks of at most 1 MiB; a short body raises."""
    while True:
        try:
            chunk: bytes = body.read(_CHUNK)
        except bce.IncompleteReadError as exc:
            raise TransportError(
                f"GetObject: the connection closed before all of {location} arrived",
                operation="GetObject",
            ) from exc
        except Exception as exc:
            mapped = map_exception(exc, operation="GetObject")
            if mapped is None:
                raise
            raise mapped from exc
        if not chunk:
            return
        yield chunk


def _save(body: Any, location: S3Uri, dest: Destination) -> None:
    """Stream the object into ``dest``: a path (written atomically) or a binary file."""
    if not isinstance(dest, (str, os.PathLike)):
        for chunk in _chunks(body, location):
            dest.write(chunk)
        return
    path = Path(dest)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed or removed below)
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            for chunk in _chunks(body, location):
                handle.write(chunk)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


def _fetch_output(
    s3: S3ClientLike, location: S3Uri, dest: Destination | None
) -> AsyncOutput | None:
    response = _get(s3, location)
    if response is None:
        return None
    body = response["Body"]
    try:
        if dest is None:
            data = b"".join(_chunks(body, location))
        else:
            _save(body, location, dest)
            data = b""
    finally:
        body.close()
    content_type: str | None = response.get("ContentType")
    return AsyncOutput(body=data, content_type=content_type, output_location=str(location))


def _fetch_text(s3: S3ClientLike, location: S3Uri) -> str | None:
    response = _get(s3, location)
    if response is None:
        return None
    body = response["Body"]
    try:
        data = b"".join(_chunks(body, location))
    finally:
        body.close()
    return data.decode("utf-8", "replace")


def _check_bucket(s3: S3ClientLike, location: S3Uri, what: str) -> None:
    """Raise when the bucket does not exist; a 403 (no s3:ListBucket) tells nothing."""
    try:
        _call("HeadBucket", lambda: s3.head_bucket(Bucket=location.bucket))
    except AccessDeniedError:
        return
    except ServiceError as exc:
        if exc.http_status == 404 or exc.code in ("404", "NoSuchBucket"):
            raise missing_bucket_error(exc, location, what) from exc.__cause__
        raise


def _sleep(delay: float, start: float, progress: Progress | None) -> None:
    if progress is None:
        time.sleep(delay)
        return
    end = time.monotonic() + delay
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, _PROGRESS_TICK))
        progress(time.monotonic() - start)


def wait_for_result(
    s3: S3ClientLike,
    job: InvokeAsyncResult,
    *,
    timeout: float | None,
    poll_interval: float,
    dest: Destination | None,
    progress: Progress | None,
) -> AsyncOutput:
    """Poll the output and failure locations of ``job`` until one exists or time is up."""
    schedule = PollSchedule(timeout, poll_interval)
    if dest is not None:
        check_dest(dest)
    output, failure = wait_locations(job)
    start = time.monotonic()
    buckets_checked = False
    while True:
        if _head(s3, output):
            result = _fetch_output(s3, output, dest)
            if result is not None:
                return result
        if failure is not None and _head(s3, failure):
            text = _fetch_text(s3, failure)
            if text is not None:
                raise failed_error(failure, text)
        if not buckets_checked:
            buckets_checked = True
            _check_bucket(s3, output, "output")
            if failure is not None and failure.bucket != output.bucket:
                _check_bucket(s3, failure, "failure")
        elapsed = time.monotonic() - start
        if progress is not None:
            progress(elapsed)
        delay = schedule.next_delay(elapsed)
        if delay is None:
            raise timeout_error(output, timeout)
        _sleep(delay, start, progress)


def upload(s3: S3ClientLike, location: S3Uri, body: Body, *, content_type: str | None) -> None:
    """PutObject ``body`` at ``location`` (one request, up to S3's 5 GB limit)."""
    data = encode_body("body", body, "InvokeEndpointAsync")
    extra = {} if content_type is None else {"ContentType": content_type}
    _call(
        "PutObject",
        lambda: s3.put_object(Bucket=location.bucket, Key=location.key, Body=data, **extra),
    )

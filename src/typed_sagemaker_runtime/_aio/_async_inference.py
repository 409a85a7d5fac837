"""The asyncio I/O of asynchronous inference: the S3 poll loop, downloads, uploads.

The twin of ``_sync._async_inference`` for aiobotocore. The decisions (poll schedule,
what an S3 answer means, error texts) are the sans-I/O ones of ``_core._async_inference``;
only the calls are awaited and the sleeps are ``asyncio.sleep``, so cancelling the
waiting task stops it at once. No task or thread is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .._base._async_inference import Destination, Progress, check_dest
from .._core._async_inference import (
    PollSchedule,
    S3Uri,
    denied_error,
    failed_error,
    is_missing,
    missing_bucket_error,
    timeout_error,
    wait_locations,
)
from .._core._exceptions import (
    AccessDeniedError,
    ServiceError,
    TransportError,
)
from .._core._params import encode_body
from .._core._types import AsyncOutput, Body, InvokeAsyncResult
from ._errors import map_aio_exception
from ._httpx_body import aclose_body

__all__ = ["AioS3ClientLike", "upload", "wait_for_result"]

_T = TypeVar("_T")
_CHUNK = 1024 * 1024
_PROGRESS_TICK = 0.5


class AioS3ClientLike(Protocol):
    """The part of an aiobotocore S3 client the async-inference helpers use.

    Any entered ``session.create_client("s3")`` of aiobotocore satisfies it.
    """

    async def head_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]:
        """S3 HeadObject."""
        ...

    async def get_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]:
        """S3 GetObject; ``["Body"]`` is aiobotocore's ``StreamingBody``."""
        ...

    async def head_bucket(self, *, Bucket: str) -> Mapping[str, Any]:
        """S3 HeadBucket."""
        ...

    async def put_object(
        self, *, Bucket: str, Key: str, Body: Any, ContentType: str = ...
    ) -> Mapping[str, Any]:
        """S3 PutObject."""
        ...


async def _call(operation: str, call: Callable[[], Awaitable[_T]]) -> _T:
    """Await one S3 call; botocore's and aiohttp's exceptions become ours."""
    try:
        return await call()
    except Exception as exc:
        mapped = map_aio_exception(exc, operation=operation)
        if mapped is None:
            raise
        raise mapped from exc


async def _head(s3: AioS3ClientLike, location: S3Uri) -> bool:
    try:
        await _call("HeadObject", lambda: s3.head_object(Bucket=location.bucket, Key=location.key))
    except AccessDeniedError as exc:
        raise denied_error(exc, location) from exc.__cause__
    except ServiceError as exc:
        if is_missing(exc):
            return False
        raise
    return True


async def _get(s3: AioS3ClientLike, location: S3Uri) -> Any | None:
    try:
        return await _call(
            "GetObject", lambda: s3.get_object(Bucket=location.bucket, Key=location.key)
        )
    except ServiceError as exc:
        if is_missing(exc):
            return None
        raise


async def _chunks(body: Any, location: S3Uri) -> AsyncIterator[bytes]:
    from botocore import exceptions as bce

    while True:
        try:
            chunk: bytes = await body.read(_CHUNK)
        except bce.IncompleteReadError as exc:
            raise TransportError(
                f"GetObject: the connection closed before all of {location} arrived",
                operation="GetObject",
            ) from exc
        except Exception as exc:
            mapped = map_aio_exception(exc, operation="GetObject")
            if mapped is None:
                raise
            raise mapped from exc
        if not chunk:
            return
        yield chunk


async def _read_all(body: Any, location: S3Uri) -> bytes:
    try:
        return b"".join([chunk async for chunk in _chunks(body, location)])
    finally:
        await aclose_body(body)


async def _save(body: Any, location: S3Uri, dest: Destination) -> None:
    """Stream the object into ``dest``: a path (written atomically) or a binary file."""
    if not isinstance(dest, (str, os.PathLike)):
        async for chunk in _chunks(body, location):
            dest.write(chunk)
        return
    path = Path(dest)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed or removed below)
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            async for chunk in _chunks(body, location):
                handle.write(chunk)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


async def _fetch_output(
    s3: AioS3ClientLike, location: S3Uri, dest: Destination | None
) -> AsyncOutput | None:
    response = await _get(s3, location)
    if response is None:
        return None
    body = response["Body"]
    if dest is None:
        data = await _read_all(body, location)
    else:
        try:
            await _save(body, location, dest)
        finally:
            await aclose_body(body)
        data = b""
    content_type: str | None = response.get("ContentType")
    return AsyncOutput(body=data, content_type=content_type, output_location=str(location))


async def _fetch_text(s3: AioS3ClientLike, location: S3Uri) -> str | None:
    response = await _get(s3, location)
    if response is None:
        return None
    return (await _read_all(response["Body"], location)).decode("utf-8", "replace")


async def _check_bucket(s3: AioS3ClientLike, location: S3Uri, what: str) -> None:
    try:
        await _call("HeadBucket", lambda: s3.head_bucket(Bucket=location.bucket))
    except AccessDeniedError:
        return
    except ServiceError as exc:
        if exc.http_status == 404 or exc.code in ("404", "NoSuchBucket"):
            raise missing_bucket_error(exc, location, what) from exc.__cause__
        raise


async def _sleep(delay: float, start: float, progress: Progress | None) -> None:
    if progress is None:
        await asyncio.sleep(delay)
        return
    end = time.monotonic() + delay
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(left, _PROGRESS_TICK))
        progress(time.monotonic() - start)


async def wait_for_result(
    s3: AioS3ClientLike,
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
        if await _head(s3, output):
            result = await _fetch_output(s3, output, dest)
            if result is not None:
                return result
        if failure is not None and await _head(s3, failure):
            text = await _fetch_text(s3, failure)
            if text is not None:
                raise failed_error(failure, text)
        if not buckets_checked:
            buckets_checked = True
            await _check_bucket(s3, output, "output")
            if failure is not None and failure.bucket != output.bucket:
                await _check_bucket(s3, failure, "failure")
        elapsed = time.monotonic() - start
        if progress is not None:
            progress(elapsed)
        delay = schedule.next_delay(elapsed)
        if delay is None:
            raise timeout_error(output, timeout)
        await _sleep(delay, start, progress)


async def upload(
    s3: AioS3ClientLike, location: S3Uri, body: Body, *, content_type: str | None
) -> None:
    """PutObject ``body`` at ``location`` (one request, up to S3's 5 GB limit)."""
    data = encode_body("body", body, "InvokeEndpointAsync")
    extra = {} if content_type is None else {"ContentType": content_type}
    await _call(
        "PutObject",
        lambda: s3.put_object(Bucket=location.bucket, Key=location.key, Body=data, **extra),
    )

"""Waiting for asynchronous inference results, sans-I/O.

SageMaker has no status API for InvokeEndpointAsync: the result is an object that
appears at ``OutputLocation``, or a failure object at ``FailureLocation``. The waiter
polls both in one loop. This module holds what the sync and the asyncio waiters
share: the poll schedule, S3 URI parsing, what a HEAD answer means, and the
messages of the errors raised. It imports neither boto3 nor botocore.

The schedule: a round probes the output location, then the failure location (one HEAD
each; a GET once an object exists). Between rounds the waiter sleeps 0.1 s, doubling up
to ``poll_interval`` (default 5 s). The last sleep is cut short at the deadline, so one
final round always runs at the deadline itself. After the first round in which an object
was missing, each bucket is checked once with HeadBucket (S3 answers a HEAD of a key in
a missing bucket with the same bare 404 as a missing key).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._exceptions import (
    AccessDeniedError,
    AsyncInferenceFailedError,
    AsyncInferenceTimeoutError,
    ClientValidationError,
    ServiceError,
)
from ._public import public

__all__ = [
    "wait_locations",
    "DEFAULT_WAIT_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "FIRST_POLL_DELAY",
    "S3ClientLike",
    "S3Uri",
    "PollSchedule",
    "parse_s3_uri",
    "upload_uri",
    "is_missing",
    "denied_error",
    "missing_bucket_error",
    "failed_error",
    "timeout_error",
]

DEFAULT_WAIT_TIMEOUT = 900.0
"""Seconds :meth:`SageMakerRuntime.wait_for_async_result` waits by default (15 minutes)."""
DEFAULT_POLL_INTERVAL = 5.0
"""The longest sleep between two poll rounds, in seconds, by default."""
FIRST_POLL_DELAY = 0.1
"""The first sleep between poll rounds, in seconds; each later one doubles, up to the cap."""

# Below this many seconds left, the deadline counts as reached (clock granularity).
_DEADLINE_SLACK = 1e-3
_FAILURE_EXCERPT = 500
_S3_URI = re.compile(r"s3://([^/]+)/(.+)", re.DOTALL)


@public
class S3ClientLike(Protocol):
    """The part of a boto3 S3 client the async-inference helpers use.

    Any ``boto3.client("s3")`` satisfies it, typed (``types-boto3-s3``) or not.
    """

    def head_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]:
        """S3 HeadObject."""
        ...

    def get_object(self, *, Bucket: str, Key: str) -> Mapping[str, Any]:
        """S3 GetObject; ``["Body"]`` is a botocore ``StreamingBody``."""
        ...

    def head_bucket(self, *, Bucket: str) -> Mapping[str, Any]:
        """S3 HeadBucket."""
        ...

    def put_object(
        self, *, Bucket: str, Key: str, Body: Any, ContentType: str = ...
    ) -> Mapping[str, Any]:
        """S3 PutObject."""
        ...


@dataclass(frozen=True, slots=True)
class S3Uri:
    """An ``s3://bucket/key`` URI, split."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def wait_locations(job: Mapping[str, object]) -> tuple[S3Uri, S3Uri | None]:
    """The output and failure locations of an InvokeEndpointAsync result, to wait on."""
    if job.get("output_location") is None:
        raise ClientValidationError(
            "job: the InvokeEndpointAsync result has no output_location to wait on", field="job"
        )
    output = parse_s3_uri(job.get("output_location"), field="job")
    failure_location = job.get("failure_location")
    failure = None if failure_location is None else parse_s3_uri(failure_location, field="job")
    return output, failure


def parse_s3_uri(uri: object, *, field: str) -> S3Uri:
    """Split ``s3://bucket/key``; anything else is a :class:`ClientValidationError`."""
    match = _S3_URI.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        raise ClientValidationError(
            f"{field}: expected an S3 URI s3://bucket/key, got {uri!r}", field=field
        )
    return S3Uri(match.group(1), match.group(2))


def upload_uri(prefix: object, name: str) -> S3Uri:
    """The object ``name`` under the S3 "folder" ``prefix`` (``s3://bucket`` or ``s3://bucket/dir/``).

    A prefix without a trailing slash is a folder too: ``s3://b/in`` gives ``s3://b/in/NAME``.
    """
    if not isinstance(prefix, str) or not prefix.startswith("s3://"):
        raise ClientValidationError(
            f"s3_prefix: expected s3://bucket/ or s3://bucket/prefix/, got {prefix!r}",
            field="s3_prefix",
        )
    bucket, _, folder = prefix.removeprefix("s3://").partition("/")
    if not bucket:
        raise ClientValidationError(
            f"s3_prefix: no bucket in {prefix!r}; expected s3://bucket/prefix/", field="s3_prefix"
        )
    folder = folder.strip("/")
    return S3Uri(bucket, f"{folder}/{name}" if folder else name)


class PollSchedule:
    """Capped exponential backoff between poll rounds, cut at a deadline.

    ``next_delay(elapsed)`` returns how long to sleep before the next round, or ``None``
    when the deadline has passed and no round is left. Sleeps are ``first_delay``,
    doubling, capped at ``poll_interval``; the one that would cross the deadline is
    shortened to end on it. ``timeout=None`` never ends.
    """

    __slots__ = ("_next", "first_delay", "poll_interval", "timeout")

    def __init__(
        self,
        timeout: float | None,
        poll_interval: float,
        *,
        first_delay: float = FIRST_POLL_DELAY,
    ) -> None:
        if timeout is not None and (
            isinstance(timeout, bool) or not math.isfinite(timeout) or timeout < 0
        ):
            raise ClientValidationError(
                f"timeout: must be a number of seconds >= 0 or None, got {timeout!r}",
                field="timeout",
            )
        if isinstance(poll_interval, bool) or not (
            math.isfinite(poll_interval) and poll_interval > 0
        ):
            raise ClientValidationError(
                f"poll_interval: must be a number of seconds > 0, got {poll_interval!r}",
                field="poll_interval",
            )
        self.timeout = timeout
        """Seconds from the first round to the last, or ``None`` for no deadline."""
        self.poll_interval = float(poll_interval)
        """The longest sleep between two rounds."""
        self.first_delay = min(first_delay, self.poll_interval)
        """The first sleep."""
        self._next = self.first_delay

    def remaining(self, elapsed: float) -> float | None:
        """Seconds left before the deadline (never negative), ``None`` without one."""
        if self.timeout is None:
            return None
        return max(0.0, self.timeout - elapsed)

    def next_delay(self, elapsed: float) -> float | None:
        """The sleep before the next round, ``elapsed`` seconds after the first one started."""
        delay = self._next
        remaining = self.remaining(elapsed)
        if remaining is not None:
            if remaining <= _DEADLINE_SLACK:
                return None
            delay = min(delay, remaining)
        self._next = min(self._next * 2, self.poll_interval)
        return delay

    @classmethod
    def round_starts(
        cls, timeout: float, poll_interval: float, *, first_delay: float = FIRST_POLL_DELAY
    ) -> list[float]:
        """When each round starts if requests took no time: the most rounds a wait can make.

        Real requests take time, which only delays later rounds, so a real wait makes at
        most ``len(round_starts(...))`` rounds.
        """
        schedule = cls(timeout, poll_interval, first_delay=first_delay)
        starts = [0.0]
        while (delay := schedule.next_delay(starts[-1])) is not None:
            starts.append(starts[-1] + delay)
        return starts


# --- what an S3 answer means ----------------------------------------------------------


def is_missing(error: ServiceError) -> bool:
    """Whether a HeadObject/GetObject error says the object does not exist (yet)."""
    return error.http_status == 404 or error.code in ("404", "NoSuchKey", "NotFound")


def denied_error(error: AccessDeniedError, location: S3Uri) -> AccessDeniedError:
    """A 403 from HeadObject, with what the caller needs to do about it."""
    message = (
        f"{error.operation or 'S3'} on {location} was denied (HTTP 403). Waiting needs "
        "s3:GetObject on the output and failure locations, and s3:ListBucket on their "
        "buckets: without ListBucket, S3 answers 403 instead of 404 while the object "
        "does not exist yet"
    )
    return AccessDeniedError(
        message,
        code=error.code,
        http_status=error.http_status,
        response=error.response,
        request_id=error.request_id,
        operation=error.operation,
    )


def missing_bucket_error(error: ServiceError, location: S3Uri, what: str) -> ServiceError:
    """HeadBucket said 404: the bucket of a location does not exist."""
    return ServiceError(
        f"the bucket {location.bucket!r} of the {what} location {location} does not exist",
        code="NoSuchBucket",
        http_status=error.http_status,
        response=error.response,
        request_id=error.request_id,
        operation="HeadBucket",
    )


def failed_error(location: S3Uri, failure: str) -> AsyncInferenceFailedError:
    """The error for a failure object: its text on ``.failure``, an excerpt in the message."""
    excerpt = " ".join(failure.split())
    if len(excerpt) > _FAILURE_EXCERPT:
        excerpt = excerpt[: _FAILURE_EXCERPT - 3] + "..."
    return AsyncInferenceFailedError(
        f"the asynchronous inference failed: {excerpt or '(empty failure object)'} "
        f"(failure object {location})",
        failure_location=str(location),
        failure=failure,
        operation="GetObject",
    )


def timeout_error(output: S3Uri, timeout: float | None) -> AsyncInferenceTimeoutError:
    """The error for a deadline reached with neither object present."""
    return AsyncInferenceTimeoutError(
        f"no output or failure object after {timeout or 0:g} s; the inference may still "
        f"be running, and its output will appear at {output}",
        output_location=str(output),
    )

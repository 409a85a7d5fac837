"""Async inference end to end: the local endpoint runs the model through real S3 (moto's
server), and the facade waits for the result over the unmodified boto3 stack.

No test sleeps to wait for a result: they wait with ``wait_for_async_result`` itself or
with ``LocalRuntime.wait_for_async_jobs``. Expiry and timeouts use ``async_time_scale``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

import typed_sagemaker_runtime as smr_pkg
from _models import INLINE_ASYNC_BODY, OUTPUT_NAMING
from _twins import Client, Clients
from typed_sagemaker_runtime import (
    AccessDeniedError,
    AsyncInferenceFailedError,
    AsyncInferenceTimeoutError,
    ClientValidationError,
    RetryPolicy,
    SageMakerRuntime,
    ServiceError,
    TransportError,
)
from typed_sagemaker_runtime._cli._invoke_async import add_invoke_async_arguments, run_invoke_async
from typed_sagemaker_runtime._core._async_inference import PollSchedule, parse_s3_uri, upload_uri
from typed_sagemaker_runtime.testing import EndpointResponse, InvocationRequest, LocalRuntime

if TYPE_CHECKING:  # the stubs are in the test extra; these tests run with only [local]
    from types_boto3_s3.client import S3Client

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(name="local")
def _local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        yield runtime


@pytest.fixture(name="fast")
def _fast() -> Iterator[LocalRuntime]:
    """SageMaker's seconds are milliseconds here: TTL 60 s -> 60 ms, timeout 1 s -> 1 ms."""
    with LocalRuntime(async_time_scale=0.001, async_workers=1) as runtime:
        yield runtime


@pytest.fixture(name="smr")
def _smr(clients: Clients) -> Client:
    """Each client in turn (sync, then async through aiobotocore; see ``_twins``)."""
    return clients.local()


@pytest.fixture(name="sync_smr")
def _sync_smr(local: LocalRuntime) -> Iterator[SageMakerRuntime]:
    """The sync client only: for tests that hand it a boto3 S3 client or botocore hooks."""
    with local.client() as client:
        yield client


@pytest.fixture(name="s3")
def _s3(local: LocalRuntime) -> Iterator[S3Client]:
    client = local.s3_client()
    yield client
    client.close()


@pytest.fixture(name="bucket")
def _bucket(s3: S3Client) -> str:
    """A new, empty bucket (moto's data is shared by every server in the process)."""
    name = f"inputs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


class Gate:
    """A handler that blocks until released; ``release()`` is idempotent."""

    def __init__(self, body: bytes = b"late") -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.calls = 0
        self._body = body

    def __call__(self, request: InvocationRequest) -> bytes:
        self.calls += 1
        self.entered.set()
        self.released.wait(30)
        return self._body

    def release(self) -> None:
        self.released.set()


@pytest.fixture(name="gate")
def _gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release()  # before the runtime stops (fixtures tear down in reverse order)


class RequestLog:
    """Records each S3 operation a client sends (botocore's ``before-send`` event)."""

    def __init__(self, client: Any, *, interrupt_at: int | None = None) -> None:
        self.operations: list[str] = []
        self._interrupt_at = interrupt_at
        client.meta.events.register("before-send.s3", self._before_send)

    def _before_send(self, event_name: str, **kwargs: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])
        if len(self.operations) == self._interrupt_at:
            raise KeyboardInterrupt

    def count(self, operation: str) -> int:
        return self.operations.count(operation)


def _missing(s3: S3Client, uri: str) -> bool:
    location = parse_s3_uri(uri, field="uri")
    try:
        s3.head_object(Bucket=location.bucket, Key=location.key)
    except s3.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] == "404"
    return False


def _location(uri: str | None) -> tuple[str, str]:
    parsed = parse_s3_uri(uri, field="uri")
    return parsed.bucket, parsed.key


# --- the round trip -----------------------------------------------------------------------


@INLINE_ASYNC_BODY
def test_inline_body_round_trip(local: LocalRuntime, smr: SageMakerRuntime, s3: S3Client) -> None:
    """Inline body in, the handler's body and content type out, through S3."""
    seen: list[InvocationRequest] = []

    def handler(request: InvocationRequest) -> EndpointResponse:
        seen.append(request)
        return EndpointResponse(
            json.dumps({"echo": request.json()}).encode(), content_type="application/json"
        )

    local.add_endpoint("model", handler)
    job = smr.invoke_async(
        "model", body=b'{"inputs": "hi"}', content_type="application/json", accept="*/*"
    )
    result = smr.wait_for_async_result(job, timeout=30)
    assert result == {
        "body": b'{"echo": {"inputs": "hi"}}',
        "content_type": "application/json",
        "output_location": job["output_location"],
    }
    assert job["output_location"] == (
        f"s3://local-sagemaker-async/model/output/{job['inference_id']}.out"
    )
    assert job["failure_location"] == (
        f"s3://local-sagemaker-async/model/failure/{job['inference_id']}-error.out"
    )
    (request,) = seen
    assert request.operation == "InvokeEndpointAsync"
    assert request.content_type == "application/json"
    assert request.input_location is None
    bucket, key = _location(job["output_location"])
    assert s3.head_object(Bucket=bucket, Key=key)["ContentType"] == "application/json"
    assert _missing(s3, str(job["failure_location"]))


def test_s3_input_round_trip(
    local: LocalRuntime, smr: SageMakerRuntime, s3: S3Client, bucket: str
) -> None:
    """The handler gets the bytes of the object at InputLocation."""
    local.add_endpoint("upper", lambda request: request.body.upper())
    s3.put_object(Bucket=bucket, Key="requests/1.txt", Body=b"from s3")
    job = smr.invoke_async("upper", input_location=f"s3://{bucket}/requests/1.txt")
    result = smr.wait_for_async_result(job, timeout=30)
    assert result["body"] == b"FROM S3"
    assert result["content_type"] == "application/octet-stream"  # no Accept, no handler type
    assert local.requests[-1].input_location == f"s3://{bucket}/requests/1.txt"
    assert local.requests[-1].body == b""  # the request itself carried no body


@OUTPUT_NAMING
def test_output_path_extension_and_filename(local: LocalRuntime, smr: SageMakerRuntime) -> None:
    """S3OutputPathExtension and Filename shape the output location; the object is there."""
    local.add_endpoint("echo")
    job = smr.invoke_async(
        "echo",
        body=b"named",
        inference_id="run-1",
        s3_output_path_extension="batch/7",
        filename="result.json",
    )
    assert job["output_location"] == "s3://local-sagemaker-async/echo/output/batch/7/result.json"
    assert job["failure_location"] == (
        "s3://local-sagemaker-async/echo/failure/batch/7/run-1-error.out"
    )
    assert smr.wait_for_async_result(job, timeout=30)["body"] == b"named"


@INLINE_ASYNC_BODY
def test_model_failure_is_written_to_the_failure_location(
    local: LocalRuntime, smr: SageMakerRuntime, s3: S3Client
) -> None:
    """A handler exception becomes the failure object; the waiter raises with its text."""

    def broken(request: InvocationRequest) -> bytes:
        raise ValueError("prompt too long for this model")

    local.add_endpoint("broken", broken)
    job = smr.invoke_async("broken", body=b"{}")
    with pytest.raises(AsyncInferenceFailedError) as caught:
        smr.wait_for_async_result(job, timeout=30)
    error = caught.value
    assert error.failure_location == job["failure_location"]
    assert error.failure is not None
    assert "prompt too long for this model" in error.failure
    assert "Received server error (500)" in error.failure
    assert "prompt too long" in str(error)
    assert error.operation == "GetObject"
    assert _missing(s3, str(job["output_location"]))


def test_missing_input_object_fails_the_inference(
    local: LocalRuntime, smr: SageMakerRuntime
) -> None:
    """An InputLocation that does not exist is a failure, and the handler never runs."""
    gate = Gate()
    local.add_endpoint("ep", gate)
    job = smr.invoke_async("ep", input_location="s3://nowhere-bucket/missing.json")
    with pytest.raises(AsyncInferenceFailedError, match="Failed to download the input") as caught:
        smr.wait_for_async_result(job, timeout=30)
    assert "s3://nowhere-bucket/missing.json" in str(caught.value.failure)
    assert gate.calls == 0


# --- deadlines: the waiter's, the request's TTL, the invocation timeout -------------------


@INLINE_ASYNC_BODY
def test_wait_timeout_carries_the_output_location(
    local: LocalRuntime, smr: SageMakerRuntime, gate: Gate
) -> None:
    """No object before the deadline: AsyncInferenceTimeoutError; waiting again later works."""
    local.add_endpoint("slow", gate)
    job = smr.invoke_async("slow", body=b"x")
    with pytest.raises(AsyncInferenceTimeoutError) as caught:
        smr.wait_for_async_result(job, timeout=0.3, poll_interval=0.1)
    assert caught.value.output_location == job["output_location"]
    assert str(job["output_location"]) in str(caught.value)
    assert isinstance(caught.value, TimeoutError)  # the builtin, too
    gate.release()
    assert smr.wait_for_async_result(job, timeout=30)["body"] == b"late"


@INLINE_ASYNC_BODY
def test_request_expires_in_the_queue(fast: LocalRuntime) -> None:
    """A request still queued after its TTL fails with "expired"; its handler never runs."""
    received = threading.Event()
    calls: list[bytes] = []

    def busy(request: InvocationRequest) -> bytes:
        received.wait(30)  # until the second request is queued...
        time.sleep(0.1)  # ...then longer than its TTL (60 s at scale 0.001 = 60 ms)
        return b"first"

    def model(request: InvocationRequest) -> bytes:
        calls.append(request.body)
        return b"second"

    fast.add_endpoint("busy", busy)
    fast.add_endpoint("model", model)
    with fast.client() as smr:
        first = smr.invoke_async("busy", body=b"1", invocation_timeout_seconds=3600)
        second = smr.invoke_async("model", body=b"2", request_ttl_seconds=60)
        received.set()
        assert smr.wait_for_async_result(first, timeout=30)["body"] == b"first"
        with pytest.raises(AsyncInferenceFailedError, match="expired") as caught:
            smr.wait_for_async_result(second, timeout=30)
    assert "RequestTTLSeconds (60 s)" in str(caught.value.failure)
    assert calls == []


@INLINE_ASYNC_BODY
def test_invocation_timeout_fails_and_drops_the_late_result(fast: LocalRuntime) -> None:
    """A handler running longer than InvocationTimeoutSeconds fails; its late output is dropped."""
    gate = Gate()
    fast.add_endpoint("hangs", gate)
    try:
        with fast.client() as smr:
            job = smr.invoke_async("hangs", body=b"x", invocation_timeout_seconds=1)
            with pytest.raises(AsyncInferenceFailedError, match="timed out") as caught:
                smr.wait_for_async_result(job, timeout=30)
            assert "InvocationTimeoutSeconds (1 s)" in str(caught.value.failure)
            assert gate.calls == 1
            gate.release()
            fast.wait_for_async_jobs()
            with contextlib.closing(fast.s3_client()) as s3:
                assert _missing(s3, str(job["output_location"]))
    finally:
        gate.release()


# --- what the waiter sends ----------------------------------------------------------------


@INLINE_ASYNC_BODY
def test_no_more_requests_than_the_schedule_allows(
    local: LocalRuntime, sync_smr: SageMakerRuntime, s3: S3Client, gate: Gate
) -> None:
    """Until the deadline: at most two HEADs per scheduled round, one HeadBucket, no GET."""
    local.add_endpoint("slow", gate)
    job = sync_smr.invoke_async("slow", body=b"x")
    log = RequestLog(s3)
    with pytest.raises(AsyncInferenceTimeoutError):
        sync_smr.wait_for_async_result(job, timeout=0.8, poll_interval=0.2, s3_client=s3)
    rounds = len(PollSchedule.round_starts(0.8, 0.2))
    assert rounds == 6  # 0, .1, .3, .5, .7 and the deadline .8
    assert 2 <= log.count("HeadObject") <= 2 * rounds
    assert log.count("HeadObject") % 2 == 0  # every round probes both locations
    assert log.count("HeadBucket") == 1  # one bucket, checked once
    assert len(log.operations) == log.count("HeadObject") + 1
    sent = len(log.operations)
    gate.release()
    local.wait_for_async_jobs()  # the result appears now; nothing is polling for it
    assert len(log.operations) == sent


@INLINE_ASYNC_BODY
def test_an_existing_output_costs_one_head_and_one_get(
    local: LocalRuntime, sync_smr: SageMakerRuntime, s3: S3Client
) -> None:
    local.add_endpoint("echo")
    job = sync_smr.invoke_async("echo", body=b"ready")
    local.wait_for_async_jobs()
    log = RequestLog(s3)
    assert sync_smr.wait_for_async_result(job, s3_client=s3)["body"] == b"ready"
    assert log.operations == ["HeadObject", "GetObject"]


@INLINE_ASYNC_BODY
def test_an_existing_failure_costs_two_heads_and_one_get(
    local: LocalRuntime, sync_smr: SageMakerRuntime, s3: S3Client
) -> None:
    def broken(request: InvocationRequest) -> bytes:
        raise RuntimeError("boom")

    local.add_endpoint("broken", broken)
    job = sync_smr.invoke_async("broken", body=b"x")
    local.wait_for_async_jobs()
    log = RequestLog(s3)
    with pytest.raises(AsyncInferenceFailedError):
        sync_smr.wait_for_async_result(job, s3_client=s3)
    assert log.operations == ["HeadObject", "HeadObject", "GetObject"]


def test_schedule_is_capped_exponential_and_ends_on_the_deadline() -> None:
    schedule = PollSchedule(10.0, 1.0)
    delays = []
    elapsed = 0.0
    while (delay := schedule.next_delay(elapsed)) is not None:
        delays.append(delay)
        elapsed += delay
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(delays) == 1.0
    assert elapsed == pytest.approx(10.0)
    assert PollSchedule.round_starts(0.0, 5.0) == [0.0]  # timeout 0: exactly one round
    assert PollSchedule(None, 5.0).next_delay(1e9) == 0.1  # no deadline
    with pytest.raises(ClientValidationError, match="poll_interval"):
        PollSchedule(1.0, 0.0)
    with pytest.raises(ClientValidationError, match="timeout"):
        PollSchedule(-1.0, 1.0)


def _client_threads() -> set[threading.Thread]:
    """Threads other than the local endpoint's and its S3 server's (the server side)."""
    return {t for t in threading.enumerate() if not t.name.startswith("local-sagemaker-")}


@INLINE_ASYNC_BODY
def test_ctrl_c_during_a_request_stops_at_once(
    local: LocalRuntime, sync_smr: SageMakerRuntime, s3: S3Client, gate: Gate
) -> None:
    local.add_endpoint("slow", gate)
    job = sync_smr.invoke_async("slow", body=b"x")
    baseline = _client_threads()
    log = RequestLog(s3, interrupt_at=4)  # round 1 (2 HEADs, HeadBucket), then round 2
    with pytest.raises(KeyboardInterrupt):
        sync_smr.wait_for_async_result(job, timeout=None, poll_interval=60, s3_client=s3)
    assert len(log.operations) == 4
    gate.release()
    local.wait_for_async_jobs()
    assert len(log.operations) == 4  # nothing kept polling
    assert _client_threads() == baseline


@INLINE_ASYNC_BODY
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_ctrl_c_during_the_sleep_stops_at_once(
    local: LocalRuntime, sync_smr: SageMakerRuntime, s3: S3Client, gate: Gate
) -> None:
    """A SIGINT-like interrupt in the pause between rounds ends the wait at once."""
    local.add_endpoint("slow", gate)
    job = sync_smr.invoke_async("slow", body=b"x")
    baseline = _client_threads()
    log = RequestLog(s3)
    # After round 3 the waiter sleeps 0.4 s, doubling to a 60 s cap: an alarm 50 ms after
    # the last HEAD of round 3 fires while it sleeps (or, on a slow machine, mid-request).
    armed = False

    def arm(**kwargs: Any) -> None:
        nonlocal armed
        if len(log.operations) == 7 and not armed:
            armed = True
            signal.setitimer(signal.ITIMER_REAL, 0.05)

    s3.meta.events.register("before-send.s3", arm)
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            sync_smr.wait_for_async_result(job, timeout=None, poll_interval=60, s3_client=s3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert armed
    assert time.monotonic() - started < 30  # not the 60 s cap, nor the minutes to come
    sent = len(log.operations)
    gate.release()
    local.wait_for_async_jobs()
    assert len(log.operations) == sent
    assert _client_threads() == baseline


# --- large outputs ------------------------------------------------------------------------


@pytest.fixture(name="external_s3", scope="module")
def _external_s3() -> Iterator[str]:
    """moto's S3 server in a subprocess: its memory is not this process's (for tracemalloc)."""
    code = (
        "import sys\n"
        "from typed_sagemaker_runtime.testing._async_inference._moto import MotoServer\n"
        "server = MotoServer()\n"
        "print(server.url, flush=True)\n"
        "sys.stdin.read()\n"
        "server.stop()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.stdout.close()
        process.wait(30)


@INLINE_ASYNC_BODY
def test_large_output_streams_to_disk(external_s3: str, tmp_path: Path) -> None:
    """A 100 MB output goes to ``dest`` in chunks: peak memory stays a few MB."""
    size = 100 * 1024 * 1024
    digest: list[str] = []

    def big(request: InvocationRequest) -> EndpointResponse:
        data = random.Random(7).randbytes(size)
        digest.append(hashlib.sha256(data).hexdigest())
        return EndpointResponse(data, content_type="application/octet-stream")

    target = tmp_path / "output.bin"
    with LocalRuntime(s3_endpoint_url=external_s3) as local, local.client() as smr:
        local.add_endpoint("big", big)
        job = smr.invoke_async("big", body=b"{}")
        local.wait_for_async_jobs(timeout=120)  # the upload is done before measuring
        gc.collect()
        tracemalloc.start()
        try:
            result = smr.wait_for_async_result(job, timeout=60, dest=target)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result["body"] == b""
    assert result["content_type"] == "application/octet-stream"
    assert target.stat().st_size == size
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    sha = hashlib.sha256()
    with target.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    assert sha.hexdigest() == digest[0]
    assert [p.name for p in tmp_path.iterdir()] == ["output.bin"]  # no temporary file left


@INLINE_ASYNC_BODY
def test_dest_can_be_a_binary_file(local: LocalRuntime, smr: SageMakerRuntime) -> None:
    local.add_endpoint("echo")
    job = smr.invoke_async("echo", body=b"to a file object")
    sink = io.BytesIO()
    result = smr.wait_for_async_result(job, timeout=30, dest=sink)
    assert result["body"] == b""
    assert sink.getvalue() == b"to a file object"


@INLINE_ASYNC_BODY
def test_unusable_dest_fails_before_waiting(
    local: LocalRuntime, smr: SageMakerRuntime, s3: S3Client, tmp_path: Path
) -> None:
    local.add_endpoint("echo")
    job = smr.invoke_async("echo", body=b"x")
    log = RequestLog(s3)
    with pytest.raises(ClientValidationError, match="does not exist") as caught:
        smr.wait_for_async_result(job, dest=tmp_path / "no" / "such" / "dir.out", s3_client=s3)
    assert caught.value.field == "dest"
    with pytest.raises(ClientValidationError, match="binary file"):
        smr.wait_for_async_result(job, dest=42, s3_client=s3)  # type: ignore[arg-type]
    assert log.operations == []


# --- S3 errors are ours -------------------------------------------------------------------


def _job(output: str, failure: str | None) -> smr_pkg.InvokeAsyncResult:
    return {
        "inference_id": "x",
        "output_location": output,
        "failure_location": failure,
        "response_metadata": {
            "request_id": None,
            "http_status_code": 202,
            "http_headers": {},
            "retry_attempts": 0,
        },
    }


def test_missing_bucket_fails_at_once(smr: SageMakerRuntime) -> None:
    job = _job("s3://no-such-bucket-here/out.out", "s3://no-such-bucket-here/err.out")
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        smr.wait_for_async_result(job, timeout=60)
    assert time.monotonic() - started < 30
    assert caught.value.code == "NoSuchBucket"
    assert caught.value.operation == "HeadBucket"
    assert "no-such-bucket-here" in str(caught.value)


class _Forbidden(threading.Thread):
    """An HTTP server that answers every request 403 AccessDenied, as S3 does without rights."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def run(self) -> None:
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                method = reader.readline().split(b" ", 1)[0]
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                conn.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), b"" if method == b"HEAD" else body)
                )


def test_access_denied_is_typed_and_explained(smr: SageMakerRuntime) -> None:
    server = _Forbidden()
    server.start()
    try:
        with pytest.raises(AccessDeniedError) as caught:
            smr.wait_for_async_result(
                _job("s3://bucket/out.out", "s3://bucket/err.out"),
                timeout=60,
                s3_endpoint_url=server.url,
            )
    finally:
        server.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        server.sock.close()
        server.join(10)
    assert caught.value.operation == "HeadObject"
    assert caught.value.http_status == 403
    assert "s3:ListBucket" in str(caught.value)
    assert "s3://bucket/out.out" in str(caught.value)


def test_connection_refused_is_a_transport_error(smr: SageMakerRuntime) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", config=NO_RETRIES
    )
    try:
        with pytest.raises(TransportError) as caught:
            smr.wait_for_async_result(_job("s3://b/o", "s3://b/f"), timeout=60, s3_client=s3)
    finally:
        s3.close()
    assert caught.value.operation == "HeadObject"
    assert isinstance(caught.value.__cause__, Exception)


def test_job_without_output_location_is_rejected(smr: SageMakerRuntime) -> None:
    job = _job("s3://b/o", None)
    job["output_location"] = None
    with pytest.raises(ClientValidationError, match="output_location"):
        smr.wait_for_async_result(job)


# --- where the S3 client comes from -------------------------------------------------------


@INLINE_ASYNC_BODY
def test_s3_client_follows_the_session_and_aws_endpoint_url_s3(
    local: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain facade builds its S3 client from boto3's configuration: AWS_ENDPOINT_URL_S3."""
    local.add_endpoint("echo")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", local.s3_endpoint_url)
    with SageMakerRuntime(endpoint_url=local.endpoint_url) as smr:
        job = smr.invoke_async("echo", body=b"env")
        assert smr.wait_for_async_result(job, timeout=30)["body"] == b"env"


@INLINE_ASYNC_BODY
def test_s3_endpoint_url_argument_wins(local: LocalRuntime) -> None:
    local.add_endpoint("echo")
    with SageMakerRuntime(
        endpoint_url=local.endpoint_url, s3_endpoint_url="http://127.0.0.1:9"
    ) as smr:
        job = smr.invoke_async("echo", body=b"arg")
        result = smr.wait_for_async_result(job, timeout=30, s3_endpoint_url=local.s3_endpoint_url)
    assert result["body"] == b"arg"


# --- inputs: inline limits, botocore support, uploads -------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"body": b"x", "input_location": "s3://b/k"}, "exactly one"),
        ({}, "exactly one"),
        pytest.param({"body": b"x" * 128_001}, "128,000-byte limit", marks=INLINE_ASYNC_BODY),
    ],
    ids=["both", "neither", "too-large"],
)
def test_invoke_async_input_validation(
    local: LocalRuntime, smr: SageMakerRuntime, kwargs: dict[str, Any], message: str
) -> None:
    local.add_endpoint("echo")
    with pytest.raises(ClientValidationError, match=message) as caught:
        smr.invoke_async("echo", **kwargs)
    if "body" in kwargs and "input_location" not in kwargs:
        assert caught.value.field == "body"
        assert "invoke_async_upload" in str(caught.value)
    assert local.requests == []


def test_inline_body_needs_a_botocore_that_models_it(local: LocalRuntime, tmp_path: Path) -> None:
    """A real client built from a model without ``Body``: the error names the botocore needed."""
    core = botocore.session.Session()
    loader = core.get_component("data_loader")
    model = loader.load_service_model("sagemaker-runtime", "service-2")
    version = loader.determine_latest_version("sagemaker-runtime", "service-2")
    shape = model["shapes"]["InvokeEndpointAsyncInput"]
    shape["members"].pop("Body", None)  # a botocore before 1.43.29 has neither
    shape.pop("payload", None)
    folder = tmp_path / "sagemaker-runtime" / version
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    loader.search_paths.insert(0, str(tmp_path))
    local.add_endpoint("echo")
    client: Any = boto3.session.Session(botocore_session=core).client(
        "sagemaker-runtime", endpoint_url=local.endpoint_url
    )
    with SageMakerRuntime(client=client) as smr:
        with pytest.raises(ClientValidationError, match=r"botocore >= 1\.43\.29") as caught:
            smr.invoke_async("echo", body=b"inline")
        assert caught.value.field == "body"
        job = smr.invoke_async("echo", input_location="s3://b/k")  # S3 input still works
    client.close()
    assert job["output_location"] is not None
    assert [request.input_location for request in local.requests] == ["s3://b/k"]


def test_invoke_async_upload_round_trip(
    local: LocalRuntime, smr: SageMakerRuntime, s3: S3Client, bucket: str
) -> None:
    """A body over the inline limit is uploaded under the prefix and invoked by location."""
    local.add_endpoint("size", lambda request: str(len(request.body)).encode())
    body = b"y" * 300_000
    job = smr.invoke_async_upload(
        "size", body, s3_prefix=f"s3://{bucket}/async/", content_type="text/plain"
    )
    location = local.requests[-1].input_location
    assert location is not None
    assert location.startswith(f"s3://{bucket}/async/")
    bucket, key = _location(location)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == 300_000
    assert head["ContentType"] == "text/plain"
    assert smr.wait_for_async_result(job, timeout=30)["body"] == b"300000"


def test_invoke_async_upload_validates_before_uploading(
    local: LocalRuntime, smr: SageMakerRuntime, s3: S3Client, bucket: str
) -> None:
    with pytest.raises(ClientValidationError) as caught:
        smr.invoke_async_upload("bad_name!", b"x", s3_prefix=f"s3://{bucket}/v/")
    assert caught.value.field == "endpoint_name"
    with pytest.raises(ClientValidationError) as caught:
        smr.invoke_async_upload("ep", b"x", s3_prefix=f"https://{bucket}/v/")
    assert caught.value.field == "s3_prefix"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert local.requests == []


def test_upload_uri_treats_the_prefix_as_a_folder() -> None:
    assert str(upload_uri("s3://b", "n")) == "s3://b/n"
    assert str(upload_uri("s3://b/", "n")) == "s3://b/n"
    assert str(upload_uri("s3://b/in", "n")) == "s3://b/in/n"
    assert str(upload_uri("s3://b/in/deeper/", "n")) == "s3://b/in/deeper/n"
    with pytest.raises(ClientValidationError):
        upload_uri("s3:///in/", "n")


# --- without moto -------------------------------------------------------------------------


def test_without_moto_only_async_fails_and_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto missing: invoke and stream work; async answers an error naming the extra.

    InternalFailure (500): InvokeEndpointAsync's model lists no InternalDependencyException.
    """
    monkeypatch.setitem(sys.modules, "moto", None)  # ``import moto`` raises ImportError
    monkeypatch.setitem(sys.modules, "typed_sagemaker_runtime.testing._async_inference._moto", None)
    with LocalRuntime() as local, local.client(retry=RetryPolicy(initial_backoff=0)) as smr:
        local.add_endpoint("echo")
        assert smr.invoke("echo", b"still works")["body"] == b"still works"
        with smr.stream("echo", b"streams too") as stream:
            assert stream.read() == b"streams too"
        with pytest.raises(smr_pkg.InternalFailureError, match=r"\[local\]"):
            smr.invoke_async("echo", input_location="s3://b/k")
        with pytest.raises(
            RuntimeError,
            match=r"pip install -e '\.\[local\]'.*pip install 'moto\[s3\]' flask flask-cors",
        ):
            _ = local.s3_endpoint_url


# --- the CLI ------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _cli(local: LocalRuntime, *argv: str) -> tuple[int, bytes, str]:
    parser = argparse.ArgumentParser(prog="smr invoke-async")
    add_invoke_async_arguments(parser)
    args = parser.parse_args(
        [
            *argv,
            "--endpoint-url",
            local.endpoint_url,
            "--s3-endpoint-url",
            local.s3_endpoint_url,
            "--region",
            local.region_name,
        ]
    )
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    err = _Terminal()
    status = run_invoke_async(args, out, err)
    out.flush()
    return status, raw.getvalue(), err.getvalue()


@INLINE_ASYNC_BODY
def test_cli_without_wait_prints_the_locations(local: LocalRuntime) -> None:
    local.add_endpoint("echo")
    status, out, _ = _cli(local, "echo", '{"a": 1}', "--inference-id", "cli-1")
    assert status == 0
    shown = json.loads(out)
    assert shown["inference_id"] == "cli-1"
    assert shown["output_location"].endswith("/cli-1.out")
    assert shown["failure_location"].endswith("/cli-1-error.out")
    assert local.requests[-1].content_type == "application/json"


@INLINE_ASYNC_BODY
def test_cli_wait_prints_the_result_and_a_live_progress_line(local: LocalRuntime) -> None:
    local.add_endpoint("upper", lambda request: request.body.upper())
    status, out, err = _cli(local, "upper", "hello", "--wait", "--timeout", "30")
    assert status == 0
    assert out == b"HELLO"
    assert err.startswith("\rwaiting for ")
    assert "\rdone after " in err
    assert err.endswith("\n")


def test_cli_wait_with_s3_input_and_output_file(
    local: LocalRuntime, s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    local.add_endpoint("upper", lambda request: request.body.upper())
    s3.put_object(Bucket=bucket, Key="req.txt", Body=b"from s3")
    target = tmp_path / "result.txt"
    status, out, _ = _cli(
        local, "upper", "--input", f"s3://{bucket}/req.txt", "--wait", "--output", str(target)
    )
    assert status == 0
    assert out == b""
    assert target.read_bytes() == b"FROM S3"


def test_cli_upload_to_for_a_large_file(local: LocalRuntime, bucket: str, tmp_path: Path) -> None:
    local.add_endpoint("size", lambda request: str(len(request.body)).encode())
    request = tmp_path / "big.json"
    request.write_bytes(b"z" * 200_000)
    status, out, _ = _cli(
        local, "size", "--file", str(request), "--upload-to", f"s3://{bucket}/cli/", "--wait"
    )
    assert status == 0
    assert out == b"200000"


@INLINE_ASYNC_BODY
def test_console_script_round_trip_and_one_line_errors(local: LocalRuntime) -> None:
    """``smr invoke-async`` as a user runs it: the result on stdout, failures as one line."""
    smr_script = Path(sys.executable).parent / "smr"
    if not smr_script.exists():
        pytest.skip("the smr console script is not installed")

    def broken(request: InvocationRequest) -> bytes:
        raise ValueError("bad input")

    local.add_endpoint("upper", lambda request: request.body.upper())
    local.add_endpoint("broken", broken)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        urls = ["--endpoint-url", local.endpoint_url, "--s3-endpoint-url", local.s3_endpoint_url]
        return subprocess.run(
            [str(smr_script), "invoke-async", *argv, *urls],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = run("upper", "hello", "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "HELLO"
    assert "done after" in done.stderr
    failed = run("broken", "x", "--wait")
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith("smr: error: AsyncInferenceFailedError: ")
    assert "bad input" in failed.stderr
    assert "Traceback" not in failed.stderr


@INLINE_ASYNC_BODY
def test_cli_failure_and_timeout_raise_our_exceptions(local: LocalRuntime, gate: Gate) -> None:
    def broken(request: InvocationRequest) -> bytes:
        raise ValueError("bad input")

    local.add_endpoint("broken", broken)
    local.add_endpoint("slow", gate)
    with pytest.raises(AsyncInferenceFailedError, match="bad input"):
        _cli(local, "broken", "x", "--wait")
    with pytest.raises(AsyncInferenceTimeoutError):
        _cli(local, "slow", "x", "--wait", "--timeout", "0.2", "--poll-interval", "0.1")
    with pytest.raises(ClientValidationError, match="not both"):
        _cli(local, "broken", "x", "--file", "y")


# --- how it looks in user code ------------------------------------------------------------


@INLINE_ASYNC_BODY
def test_progress_is_called_while_waiting(
    local: LocalRuntime, smr: SageMakerRuntime, gate: Gate
) -> None:
    local.add_endpoint("slow", gate)
    job = smr.invoke_async("slow", body=b"x")
    seen: list[float] = []
    progress: Callable[[float], None] = seen.append
    with pytest.raises(AsyncInferenceTimeoutError):
        smr.wait_for_async_result(job, timeout=0.3, poll_interval=0.1, progress=progress)
    assert len(seen) >= 2
    assert seen == sorted(seen)

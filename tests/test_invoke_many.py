"""``invoke_many`` on both clients, against the local endpoint over real HTTP.

Each test runs on ``SageMakerRuntime`` and on ``AsyncSageMakerRuntime`` (through the
``clients`` bridge of ``_twins.py``); what only one twin has is at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from _twins import Clients
from typed_sagemaker_runtime import (
    ClientValidationError,
    EndpointNotFoundError,
    InvokeOutcome,
    ModelError,
    RetryPolicy,
    ThrottlingError,
)
from typed_sagemaker_runtime.testing import (
    ErrorResponse,
    InvocationRequest,
    LocalRuntime,
    ModelFailure,
)

NO_WAIT = RetryPolicy(initial_backoff=0)


def _bodies(outcomes: list[InvokeOutcome]) -> list[bytes]:
    bodies = []
    for outcome in outcomes:
        assert outcome.error is None, outcome
        assert outcome.result is not None
        bodies.append(outcome.result["body"])
    return bodies


class Counted:
    """A generator of ``count`` bodies that counts how many were read."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.read = 0
        self._count = count
        self._fail_at = fail_at

    def __iter__(self) -> Iterator[bytes]:
        for index in range(self._count):
            if index == self._fail_at:
                raise ValueError("the input failed")
            self.read += 1
            yield f"r{index}".encode()


def test_outcomes_come_in_input_order_with_each_records_result(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = [b"bytes", "text", bytearray(b"array"), memoryview(b"view")] * 25
    with smr.invoke_many("echo", records, concurrency=8) as run:
        outcomes = list(run)
    assert [o.index for o in outcomes] == list(range(100))
    assert _bodies(outcomes) == [b"bytes", b"text", b"array", b"view"] * 25
    stats = run.stats
    assert (stats.completed, stats.failed, stats.in_flight) == (100, 0, 0)


def test_json_records_are_sent_as_json_with_its_content_type(
    clients: Clients, local: LocalRuntime
) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = [{"inputs": "héllo"}, None, "text", [1, 2.5]]
    with smr.invoke_many("echo", json=records, concurrency=1) as run:
        bodies = _bodies(list(run))
    assert bodies == [b'{"inputs":"h\xc3\xa9llo"}', b"null", b'"text"', b"[1,2.5]"]
    assert {r.content_type for r in local.requests} == {"application/json"}


def test_every_call_carries_the_shared_arguments(clients: Clients, local: LocalRuntime) -> None:
    smr = clients.local(retry=NO_WAIT)
    run = smr.invoke_many(
        "echo",
        ["a", "b", "c"],
        content_type="text/csv",
        accept="application/json",
        custom_attributes="trace=1",
        target_variant="blue",
    )
    with run:
        assert len(list(run)) == 3
    assert len(local.requests) == 3
    for request in local.requests:
        assert request.content_type == "text/csv"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=1"
        assert request.headers["X-Amzn-SageMaker-Target-Variant"] == "blue"


def test_unordered_yields_every_record_once(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    with smr.invoke_many("echo", [str(i) for i in range(200)], ordered=False) as run:
        outcomes = list(run)
    assert sorted(o.index for o in outcomes) == list(range(200))
    assert all(o.result is not None and o.result["body"] == str(o.index).encode() for o in outcomes)


def test_a_records_own_failure_is_yielded_and_the_run_goes_on(
    clients: Clients, local: LocalRuntime
) -> None:
    def model(request: InvocationRequest) -> bytes:
        if request.body == b"bad":
            raise ModelFailure(422, "cannot score this")
        return request.body

    local.add_endpoint("model", model)
    smr = clients.local(retry=NO_WAIT)
    with smr.invoke_many("model", [b"ok", b"bad", b"ok", b"bad", b"ok"], concurrency=2) as run:
        outcomes = list(run)
    assert [o.error is None for o in outcomes] == [True, False, True, False, True]
    error = outcomes[1].error
    assert isinstance(error, ModelError)
    assert error.original_status_code == 422
    assert outcomes[1].result is None
    assert (run.stats.completed, run.stats.failed) == (3, 2)
    assert len(local.requests) == 5  # a model error is not retried


def test_throttled_calls_are_retried_and_counted(clients: Clients, local: LocalRuntime) -> None:
    local.add_endpoint("busy", faults=[ErrorResponse("ThrottlingException", times=6)])
    smr = clients.local(retry=RetryPolicy(initial_backoff=0, max_attempts=10))
    with smr.invoke_many("busy", [str(i) for i in range(20)], concurrency=3) as run:
        outcomes = list(run)
    assert _bodies(outcomes) == [str(i).encode() for i in range(20)]
    assert (run.stats.throttled, run.stats.retried) == (6, 6)
    assert len(local.requests) == 26


def test_throttled_past_the_policy_the_records_error_is_the_throttling_error(
    clients: Clients, local: LocalRuntime
) -> None:
    local.add_endpoint("busy", faults=[ErrorResponse("ThrottlingException")])
    smr = clients.local(retry=RetryPolicy(initial_backoff=0, max_attempts=2))
    with smr.invoke_many("busy", ["a", "b", "c"], concurrency=2) as run:
        outcomes = list(run)
    assert [type(o.error) for o in outcomes] == [ThrottlingError] * 3
    assert (run.stats.failed, run.stats.throttled, run.stats.retried) == (3, 6, 3)


def test_when_most_requests_are_throttled_every_record_still_comes_once(
    clients: Clients, local: LocalRuntime
) -> None:
    local.add_endpoint("busy", faults=[ErrorResponse("ThrottlingException", rate=0.7)])
    smr = clients.local(retry=RetryPolicy(initial_backoff=0, max_attempts=40))
    with smr.invoke_many("busy", [str(i) for i in range(60)], ordered=False) as run:
        outcomes = list(run)
    assert sorted(o.index for o in outcomes) == list(range(60))
    assert all(o.result is not None and o.result["body"] == str(o.index).encode() for o in outcomes)
    assert run.stats.throttled == run.stats.retried > 60


def test_an_endpoint_that_does_not_exist_raises_at_once(
    clients: Clients, local: LocalRuntime
) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = Counted(1000)
    with smr.invoke_many("missing", records, concurrency=4) as run:
        with pytest.raises(EndpointNotFoundError) as caught:
            next(iter(run))
        assert next(iter(run), None) is None  # the run is over
    assert caught.value.__cause__ is not None
    assert records.read <= 8
    assert len(local.requests) <= 4


def test_the_inputs_error_is_raised_after_what_was_read_is_yielded(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = Counted(100, fail_at=5)
    outcomes: list[InvokeOutcome] = []
    run = smr.invoke_many("echo", records, concurrency=3)
    with run, pytest.raises(ValueError, match="the input failed"):
        for outcome in run:
            outcomes.append(outcome)
    assert _bodies(outcomes) == [f"r{i}".encode() for i in range(5)]


def test_nothing_is_read_or_sent_before_the_first_next(
    clients: Clients, local: LocalRuntime
) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = Counted(10)
    run = smr.invoke_many("echo", records)
    assert records.read == 0
    assert local.requests == []
    run.close()
    assert records.read == 0
    assert local.requests == []


def test_input_is_read_lazily_and_breaking_out_stops_reading(
    clients: Clients, local: LocalRuntime
) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = Counted(10_000)
    with smr.invoke_many("echo", records, concurrency=2) as run:
        for outcome in run:
            assert records.read - outcome.index - 1 <= 4  # held: twice the limit at most
            if outcome.index == 9:
                break
    read = records.read
    assert read <= 14
    assert len(local.requests) <= read


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "bodies"),
        ({"bodies": [b"x"], "json": [1]}, "bodies"),
        ({"bodies": b"one body"}, "bodies"),
        ({"json": {"inputs": "one record"}}, "json"),
        ({"bodies": 42}, "bodies"),
        ({"bodies": [b"x"], "concurrency": 0}, "concurrency"),
        ({"bodies": [b"x"], "concurrency": "fast"}, "concurrency"),
        ({"bodies": [b"x"], "max_concurrency": 0}, "max_concurrency"),
        ({"bodies": [b"x"], "ordered": "yes"}, "ordered"),
        ({"bodies": [b"x"], "content_type": "a\nb"}, "content_type"),
    ],
)
def test_arguments_are_checked_at_the_call(
    clients: Clients, local: LocalRuntime, arguments: dict[str, object], field: str
) -> None:
    smr = clients.local(retry=NO_WAIT)
    with pytest.raises(ClientValidationError) as caught:
        smr.invoke_many("echo", **arguments)
    assert caught.value.field == field
    assert local.requests == []


def test_a_bad_endpoint_name_is_refused_at_the_call(clients: Clients) -> None:
    smr = clients.local(retry=NO_WAIT)
    with pytest.raises(ClientValidationError) as caught:
        smr.invoke_many("not a name", [b"x"])
    assert caught.value.field == "endpoint_name"


def test_a_record_that_cannot_be_sent_is_its_own_error(
    clients: Clients, local: LocalRuntime
) -> None:
    smr = clients.local(retry=NO_WAIT)
    secret = "s3cr3t-" + "x" * 10
    records = [{"a": 1}, {"v": float("nan"), "k": secret}, {"a": 3}]
    with smr.invoke_many("echo", json=records) as run:
        outcomes = list(run)
    error = outcomes[1].error
    assert isinstance(error, ClientValidationError)
    assert error.field == "json[1]"
    assert secret not in str(error)
    assert [o.error is None for o in outcomes] == [True, False, True]
    assert len(local.requests) == 2


def test_stop_ends_with_an_in_order_prefix_and_a_second_run_completes_it(
    clients: Clients, local: LocalRuntime
) -> None:
    smr = clients.local(retry=NO_WAIT)
    records = [str(i) for i in range(50)]
    first: list[InvokeOutcome] = []
    with smr.invoke_many("echo", records, concurrency=4) as run:
        for outcome in run:
            first.append(outcome)
            if outcome.index == 10:
                run.stop()
    assert [o.index for o in first] == list(range(len(first)))
    assert 11 <= len(first) <= 11 + 8
    done = len(first)
    with smr.invoke_many("echo", records[done:], concurrency=4) as run:
        second = [done + o.index for o in run]
    assert [o.index for o in first] + second == list(range(50))


def test_close_leaves_no_thread_behind(local: LocalRuntime) -> None:
    gate = threading.Event()

    def slow(request: InvocationRequest) -> bytes:
        gate.wait(5)
        return request.body

    local.add_endpoint("slow", slow)
    smr = local.client(retry=NO_WAIT)
    before = {t for t in threading.enumerate() if t.name.startswith("smr-invoke-many")}
    run = smr.invoke_many("slow", [b"x"] * 100, concurrency=8)
    iterator = iter(run)
    opener = threading.Timer(0.2, gate.set)
    opener.start()
    next(iterator)
    run.close()
    opener.join()
    after = {t for t in threading.enumerate() if t.name.startswith("smr-invoke-many")}
    assert before == set()
    assert after == set()
    assert next(iterator, None) is None
    run.close()  # idempotent
    smr.close()


def test_a_pool_smaller_than_the_concurrency_is_warned_of(
    clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    from botocore.config import Config

    small = clients.local(config=Config(max_pool_connections=4), retry=NO_WAIT)
    with small.invoke_many("echo", [b"x"] * 3, max_concurrency=8) as run:
        assert len(list(run)) == 3
    warnings = [r for r in caplog.records if r.name == "typed_sagemaker_runtime"]
    assert len(warnings) == 1
    assert "max_pool_connections=8" in warnings[0].getMessage()
    caplog.clear()
    default = clients.local(retry=NO_WAIT)  # the facade keeps 64
    with default.invoke_many("echo", [b"x"] * 3) as run:
        assert len(list(run)) == 3
    assert [r for r in caplog.records if r.name == "typed_sagemaker_runtime"] == []


def test_close_from_another_thread_ends_an_iteration_waiting_for_answers(
    local: LocalRuntime,
) -> None:
    gate = threading.Event()

    def held(request: InvocationRequest) -> bytes:
        gate.wait(10)
        return request.body

    local.add_endpoint("held", held)
    smr = local.client(retry=NO_WAIT)
    run = smr.invoke_many("held", [b"x"] * 50, concurrency=4)
    closer = threading.Timer(0.3, run.close)
    releaser = threading.Timer(0.6, gate.set)  # close() waits for what is in flight
    closer.start()
    releaser.start()
    assert list(run) == []
    closer.join()
    releaser.join()
    assert not [t for t in threading.enumerate() if t.name.startswith("smr-invoke-many")]
    assert len(local.requests) == 4
    smr.close()


def test_no_credentials_ends_the_run_at_once(
    clients: Clients, local: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typed_sagemaker_runtime import CredentialsError

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # A session of its own: boto3's default session keeps the credentials it first found.
    smr = clients.build(session=clients.session("us-east-1"), endpoint_url=local.endpoint_url)
    records = Counted(100)
    with smr.invoke_many("echo", records) as run, pytest.raises(CredentialsError):
        next(iter(run))
    assert local.requests == []
    assert records.read <= 8


def test_a_run_dropped_mid_way_sends_nothing_more_and_its_threads_end(
    local: LocalRuntime,
) -> None:
    import gc

    smr = local.client(retry=NO_WAIT)
    records = Counted(10_000)
    run = smr.invoke_many("echo", records, concurrency=4)
    for outcome in run:
        if outcome.index == 20:
            break
    del run, outcome
    gc.collect()
    for thread in [t for t in threading.enumerate() if t.name.startswith("smr-invoke-many")]:
        thread.join(5)
        assert not thread.is_alive()
    read, sent = records.read, len(local.requests)
    assert read <= 21 + 8
    assert sent <= read
    smr.close()

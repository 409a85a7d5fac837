"""The sans-I/O scheduler of ``invoke_many`` (``_base/_bulk.py``), driven without any I/O.

Attempts are "sent" and "answered" by the test, in any order, with botocore's own
exceptions (``ClientError`` shaped as SageMaker answers), on a clock the test moves.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings, strategies as st

import typed_sagemaker_runtime as smr
from typed_sagemaker_runtime._base._bulk import Attempt, BulkRun
from typed_sagemaker_runtime._base._limiter import FixedLimiter
from typed_sagemaker_runtime._core._types import InvokeResult


def _error(code: str, status: int, message: str = "no") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        },
        "InvokeEndpoint",
    )


THROTTLED = ("ThrottlingException", 400)
MODEL_ERROR = ("ModelError", 424)


def _result(index: int) -> InvokeResult:
    return {
        "body": str(index).encode(),
        "content_type": None,
        "invoked_production_variant": None,
        "custom_attributes": None,
        "new_session_id": None,
        "closed_session_id": None,
        "response_metadata": {
            "request_id": None,
            "http_status_code": 200,
            "http_headers": {},
            "retry_attempts": 0,
        },
    }


def _build(index: int, record: object) -> dict[str, Any]:
    if record == "bad":
        raise smr.ClientValidationError(f"bodies[{index}]: bad", field=f"bodies[{index}]")
    return {"EndpointName": "ep", "Body": str(record).encode()}


def _run(limit: int = 2, *, ordered: bool = True, window: int = 4, attempts: int = 3) -> BulkRun:
    policy = smr.RetryPolicy(max_attempts=attempts, initial_backoff=1.0, max_backoff=1.0)
    return BulkRun(
        FixedLimiter(limit), ordered=ordered, window=window, policy=policy, read_timeout=None
    )


def _feed(run: BulkRun, records: list[object]) -> None:
    while records and run.wants_input():
        run.add(records.pop(0), _build)
    if not records and run.reading:
        run.end_input()


def _drain(run: BulkRun, now: float = 0.0) -> list[smr.InvokeOutcome]:
    outcomes = []
    while (outcome := run.pop(now)) is not None:
        outcomes.append(outcome)
    return outcomes


def test_input_is_read_only_as_places_in_flight_open() -> None:
    run = _run(limit=2, window=10)
    records: list[object] = list(range(10))
    _feed(run, records)
    assert len(records) == 8  # two read: as many as may be sent now
    sent = run.to_send(0.0)
    assert [a.index for a in sent] == [0, 1]
    _feed(run, records)
    assert len(records) == 8  # nothing more until a place frees
    run.succeeded(sent[0], _result(0), 1.0)
    _feed(run, records)
    assert len(records) == 7


def test_ordered_outcomes_wait_for_their_predecessors() -> None:
    run = _run(limit=3, window=6)
    _feed(run, [0, 1, 2])
    a0, a1, a2 = run.to_send(0.0)
    run.succeeded(a2, _result(2), 1.0)
    run.succeeded(a1, _result(1), 1.0)
    assert _drain(run) == []
    run.succeeded(a0, _result(0), 1.0)
    assert [o.index for o in _drain(run)] == [0, 1, 2]
    assert run.finished()


def test_unordered_outcomes_come_as_they_complete() -> None:
    run = _run(limit=3, ordered=False, window=6)
    _feed(run, [0, 1, 2])
    a0, _, a2 = run.to_send(0.0)
    run.succeeded(a2, _result(2), 1.0)
    assert [o.index for o in _drain(run)] == [2]
    run.failed(a0, _error(*MODEL_ERROR), 1.0)
    (outcome,) = _drain(run)
    assert outcome.index == 0
    assert isinstance(outcome.error, smr.ModelError)


def test_the_window_bounds_what_is_held_behind_a_slow_record() -> None:
    run = _run(limit=2, window=4)
    records: list[object] = list(range(100))
    _feed(run, records)
    first, second = run.to_send(0.0)
    for _ in range(10):  # record 0 never answers; its successors complete at once
        run.succeeded(second, _result(second.index), 1.0)
        _feed(run, records)
        sent = run.to_send(1.0)
        if not sent:
            break
        (second,) = sent
    assert 100 - len(records) == 4  # read: 0 in flight + 3 done and held = the window
    assert _drain(run) == []
    run.succeeded(first, _result(0), 2.0)
    assert [o.index for o in _drain(run)] == [0, 1, 2, 3]


def test_a_throttled_attempt_waits_its_backoff_without_a_place_then_goes_first() -> None:
    run = _run(limit=1, window=4)
    records: list[object] = [0, 1]
    _feed(run, records)
    (attempt,) = run.to_send(0.0)
    run.failed(attempt, _error(*THROTTLED), 10.0)
    due = run.next_due()
    assert due is not None
    assert 10.0 <= due <= 11.0
    _feed(run, records)  # the place is free: record 1 is read and sent meanwhile
    (other,) = run.to_send(10.0)
    assert other.index == 1
    run.succeeded(other, _result(1), 10.0)
    assert run.to_send(due - 1e-6) == []
    (again,) = run.to_send(due)
    assert (again.index, again.number) == (0, 2)
    run.succeeded(again, _result(0), due + 1)
    assert [o.index for o in _drain(run)] == [0, 1]
    stats = run.stats(due + 1)
    assert (stats.throttled, stats.retried, stats.completed, stats.failed) == (1, 1, 2, 0)


def test_when_the_policy_gives_up_the_throttling_error_is_the_records_outcome() -> None:
    run = _run(limit=1, attempts=2)
    _feed(run, [0])
    (attempt,) = run.to_send(0.0)
    run.failed(attempt, _error(*THROTTLED), 0.0)
    (attempt,) = run.to_send(5.0)
    run.failed(attempt, _error(*THROTTLED), 5.0)
    (outcome,) = _drain(run)
    assert isinstance(outcome.error, smr.ThrottlingError)
    assert isinstance(outcome.error.__cause__, ClientError)
    assert run.stats(5.0).throttled == 2
    assert run.finished()


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ValidationError", 400, smr.EndpointNotFoundError),
        ("AccessDeniedException", 403, smr.AccessDeniedError),
    ],
)
def test_errors_that_fail_every_record_end_the_run(
    code: str, status: int, expected: type[Exception]
) -> None:
    run = _run(limit=2)
    _feed(run, [0, 1, 2])
    first, _ = run.to_send(0.0)
    message = "Endpoint ep of account 123456789012 not found."
    run.failed(first, _error(code, status, message), 0.0)
    assert run.fatal is not None
    assert isinstance(run.fatal.error, expected)
    assert not run.wants_input()
    assert run.to_send(0.0) == []


def test_a_record_that_cannot_be_sent_is_its_own_outcome_and_takes_no_place() -> None:
    run = _run(limit=2)
    _feed(run, [0, "bad", 2])
    sent = run.to_send(0.0)
    assert [a.index for a in sent] == [0, 2]
    for attempt in sent:
        run.succeeded(attempt, _result(attempt.index), 0.0)
    outcomes = _drain(run)
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert isinstance(outcomes[1].error, smr.ClientValidationError)
    assert outcomes[1].error.field == "bodies[1]"


def test_stop_sends_nothing_more_and_ends_at_the_in_order_prefix() -> None:
    run = _run(limit=3, window=6)
    _feed(run, [0, 1, 2, 3])
    a0, a1, a2 = run.to_send(0.0)
    run.failed(a1, _error(*THROTTLED), 0.0)  # waiting for a retry
    run.stop()
    assert run.to_send(100.0) == []
    assert not run.wants_input()
    assert not run.finished()  # 0 and 2 are still in flight
    run.succeeded(a2, _result(2), 1.0)
    run.succeeded(a0, _result(0), 1.0)
    assert [o.index for o in _drain(run)] == [0]  # 1 will never come: 2 is not yielded
    assert run.finished()


def test_the_input_error_waits_until_what_was_read_is_yielded() -> None:
    run = _run(limit=2)
    _feed(run, [0, 1])
    sent = run.to_send(0.0)
    boom = RuntimeError("generator failed")
    run.end_input(boom)
    assert not run.finished()
    for attempt in sent:
        run.succeeded(attempt, _result(attempt.index), 1.0)
    assert [o.index for o in _drain(run)] == [0, 1]
    assert run.finished()
    assert run.take_input_error() is boom
    assert run.take_input_error() is None


def test_records_per_second_is_the_recent_rate() -> None:
    run = _run(limit=1, window=2)
    records: list[object] = list(range(100))
    now = 0.0
    for _ in range(40):
        _feed(run, records)
        (attempt,) = run.to_send(now)
        now += 0.5
        run.succeeded(attempt, _result(attempt.index), now)
        assert run.pop(now) is not None
    assert run.stats(now).records_per_second == pytest.approx(2.0, rel=0.15)
    assert run.stats(now + 100).records_per_second < 0.2


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    ordered=st.booleans(),
    limit=st.integers(1, 4),
    count=st.integers(0, 25),
)
def test_every_record_is_yielded_exactly_once_whatever_the_order_and_failures(
    data: st.DataObject, ordered: bool, limit: int, count: int
) -> None:
    run = _run(limit=limit, ordered=ordered, window=2 * limit, attempts=3)
    records: list[object] = list(range(count))
    in_flight: list[Attempt] = []
    yielded: list[int] = []
    now = 0.0
    for _ in range(2000):
        _feed(run, records)
        in_flight += run.to_send(now)
        drained = [o.index for o in _drain(run, now)]
        yielded += drained
        if run.finished():
            break
        if drained:  # as the runners do: the next ``next()`` reads and sends first
            continue
        if not in_flight:
            due = run.next_due()
            assert due is not None  # otherwise the run is stuck
            now = max(now, due)
            continue
        attempt = in_flight.pop(data.draw(st.integers(0, len(in_flight) - 1)))
        answer = data.draw(st.sampled_from(["ok", "throttled", "model"]))
        now += data.draw(st.floats(0, 2))
        if answer == "ok":
            run.succeeded(attempt, _result(attempt.index), now)
        else:
            run.failed(attempt, _error(*(THROTTLED if answer == "throttled" else MODEL_ERROR)), now)
    assert run.finished()
    assert sorted(yielded) == list(range(count))
    if ordered:
        assert yielded == list(range(count))
    stats = run.stats(now)
    assert stats.completed + stats.failed == count
    assert stats.in_flight == 0


def test_a_typed_body_sets_its_own_content_type_on_that_record_only() -> None:
    import botocore.session

    from typed_sagemaker_runtime._base._bulk_request import RequestTemplate, TypedBody

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    template = RequestTemplate(
        model.operation_model("InvokeEndpoint"),
        {"endpoint_name": "ep", "content_type": "text/plain"},
        json=False,
    )
    typed = template.params(0, TypedBody(b'{"a":1}', "application/json"))
    plain = template.params(1, b"hello")
    assert (typed["Body"], typed["ContentType"]) == (b'{"a":1}', "application/json")
    assert (plain["Body"], plain["ContentType"]) == (b"hello", "text/plain")

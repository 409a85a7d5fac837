"""``RetryPolicy``: no attempt count or setting makes it raise anything but our exceptions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

import typed_sagemaker_runtime as smr

_THROTTLED = smr.ThrottlingError("slow down", code="ThrottlingException", retryable=True)

_seconds = st.floats(min_value=0, max_value=86_400, allow_nan=False, allow_infinity=False)
_attempts = st.integers(min_value=1, max_value=10**30)


def _throttled(retry_after: str) -> smr.ThrottlingError:
    headers = {"retry-after": retry_after}
    response = {"ResponseMetadata": {"HTTPHeaders": headers}}
    return smr.ThrottlingError(
        "slow down", code="ThrottlingException", response=response, retryable=True
    )


def _expected_ceiling(initial: float, ceiling: float, attempt: int) -> float:
    """``min(ceiling, initial * 2**(attempt - 1))`` in exact arithmetic."""
    if attempt > 5000:  # 2**-1074 * 2**5000 exceeds any float
        return ceiling if initial else 0.0
    exact = Fraction(initial) * 2 ** (attempt - 1)
    return ceiling if exact >= Fraction(ceiling) else float(exact)


def test_backoff_after_attempt_1025_does_not_overflow() -> None:
    """``0.5 * 2**1024`` does not fit a float: the exponent stops growing long before."""
    policy = smr.RetryPolicy(max_attempts=2000)
    assert policy.should_retry(_THROTTLED, 1025)
    for attempt in (1025, 2000, 10**6):
        delay = policy.backoff(_THROTTLED, attempt)
        assert 0 <= delay <= policy.max_backoff


@given(attempt=_attempts, initial=_seconds, ceiling=_seconds, max_attempts=_attempts)
def test_backoff_is_finite_and_bounded_for_any_attempt(
    attempt: int, initial: float, ceiling: float, max_attempts: int
) -> None:
    policy = smr.RetryPolicy(
        max_attempts=max_attempts, initial_backoff=initial, max_backoff=ceiling
    )
    policy.should_retry(_THROTTLED, attempt)
    delay = policy.backoff(_THROTTLED, attempt)
    assert math.isfinite(delay)
    assert 0 <= delay <= _expected_ceiling(initial, ceiling, attempt)


@given(attempt=_attempts, initial=_seconds, ceiling=_seconds)
def test_the_upper_bound_doubles_until_the_cap(
    attempt: int, initial: float, ceiling: float
) -> None:
    """Full jitter below ``min(max_backoff, initial_backoff * 2**(attempt-1))``, exactly."""
    policy = smr.RetryPolicy(initial_backoff=initial, max_backoff=ceiling)
    assert policy.backoff_ceiling(attempt) == _expected_ceiling(initial, ceiling, attempt)
    assert policy.backoff_ceiling(attempt + 1) >= policy.backoff_ceiling(attempt)


@given(retry_after=st.text(max_size=40), attempt=_attempts, ceiling=_seconds)
def test_any_retry_after_header_keeps_the_delay_bounded(
    retry_after: str, attempt: int, ceiling: float
) -> None:
    policy = smr.RetryPolicy(max_backoff=ceiling)
    delay = policy.backoff(_throttled(retry_after), attempt)
    assert math.isfinite(delay)
    assert 0 <= delay <= ceiling


@pytest.mark.parametrize("retry_after", ["nan", "inf", "-5", "1e400", "NaN"])
def test_non_finite_or_negative_retry_after_is_ignored(retry_after: str) -> None:
    policy = smr.RetryPolicy(initial_backoff=0, max_backoff=20)
    assert policy.backoff(_throttled(retry_after), 1) == 0


def test_retry_after_is_honoured_up_to_max_backoff() -> None:
    policy = smr.RetryPolicy(initial_backoff=0, max_backoff=20)
    assert policy.backoff(_throttled("3"), 1) == 3
    assert policy.backoff(_throttled("300"), 1) == 20


@given(
    max_attempts=st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.text()),
    initial=st.one_of(st.floats(), st.integers(), st.none()),
    ceiling=st.one_of(st.floats(), st.integers(), st.none()),
)
def test_any_settings_are_accepted_or_rejected_with_ours(
    max_attempts: object, initial: object, ceiling: object
) -> None:
    """Nonsense settings raise ``ClientValidationError``; whatever is accepted works."""
    try:
        policy = smr.RetryPolicy(
            max_attempts=max_attempts,  # type: ignore[arg-type]
            initial_backoff=initial,  # type: ignore[arg-type]
            max_backoff=ceiling,  # type: ignore[arg-type]
        )
    except smr.ClientValidationError as exc:
        rejected: str | None = exc.field
    else:
        rejected = None
    if rejected is not None:
        assert rejected in {"max_attempts", "initial_backoff", "max_backoff"}
        return
    for attempt in (1, 2, 1025, 10**9):
        policy.should_retry(_THROTTLED, attempt)
        delay = policy.backoff(_THROTTLED, attempt)
        assert math.isfinite(delay)
        assert 0 <= delay <= policy.max_backoff


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"initial_backoff": -1}, "initial_backoff"),
        ({"initial_backoff": math.nan}, "initial_backoff"),
        ({"max_backoff": math.inf}, "max_backoff"),
        ({"max_backoff": 1e300}, "max_backoff"),
    ],
)
def test_invalid_settings_name_the_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(smr.ClientValidationError) as caught:
        smr.RetryPolicy(**settings)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)  # what RetryPolicy raised before


@pytest.mark.parametrize(
    "retries",
    [
        {"total_max_attempts": "many"},
        {"max_attempts": math.inf},
        {"max_attempts": None},
        {"total_max_attempts": -3},
        {"total_max_attempts": 10**400},  # math.isfinite raised OverflowError
        {"max_attempts": -(10**400)},
        {"max_attempts": 2.5},
    ],
)
def test_odd_botocore_retry_settings_do_not_raise_foreign_errors(
    retries: dict[str, object],
) -> None:
    try:
        policy = smr.RetryPolicy.from_botocore_retries(retries)
    except smr.ClientValidationError as exc:
        assert_field = exc.field
    else:
        assert policy.max_attempts >= 1
        return
    assert assert_field == "config"


@pytest.mark.parametrize(("value", "attempts"), [(10**400, 10**400), (3.0, 3), (1, 1)])
def test_a_whole_attempt_count_is_honoured_however_large(value: object, attempts: int) -> None:
    policy = smr.RetryPolicy.from_botocore_retries({"total_max_attempts": value})
    assert policy.max_attempts == attempts


def test_a_fractional_attempt_count_is_refused() -> None:
    with pytest.raises(smr.ClientValidationError, match="whole number"):
        smr.RetryPolicy.from_botocore_retries({"max_attempts": 2.5})


def test_the_client_retry_loop_survives_attempt_1025() -> None:
    """The shared sync/async decision step, fed botocore's own throttling error."""
    from botocore.exceptions import ClientError

    from typed_sagemaker_runtime._base._calls import after_failure

    throttled = ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        },
        "InvokeEndpoint",
    )
    policy = smr.RetryPolicy(max_attempts=10**9, initial_backoff=0)
    failure = after_failure(
        throttled,
        operation="InvokeEndpoint",
        policy=policy,
        attempt=1025,
        read_timeout=None,
        body=b"",
        start=None,
    )
    assert isinstance(failure.error, smr.ThrottlingError)
    assert failure.delay == 0

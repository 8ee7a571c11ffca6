"""Retries and pacing, with a fake clock: no real time passes in these tests."""

from __future__ import annotations

import pytest

from connectors.backoff import (MAX_RETRY_AFTER, Retryable, TokenBucket, WaitTooLong, delay_for, parse_retry_after,
                               with_backoff)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def classify(exc):
    if isinstance(exc, Retryable):
        return exc.retry_after if exc.retry_after is not None else True
    return False


def test_temporary_errors_are_retried_until_success():
    clock, calls = FakeClock(), []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Retryable("503")
        return "ok"

    assert with_backoff(flaky, classify=classify, sleep=clock.sleep, rng=lambda: 1.0) == "ok"
    assert clock.sleeps == [1.0, 2.0]


def test_retry_after_is_honoured():
    clock, calls = FakeClock(), []

    def throttled():
        calls.append(1)
        if len(calls) == 1:
            raise Retryable("429", retry_after=30)
        return "ok"

    with_backoff(throttled, classify=classify, sleep=clock.sleep, rng=lambda: 0.5)
    assert clock.sleeps == [30.0]


def test_a_retry_after_beyond_the_cap_gives_up_at_once_without_sleeping():
    clock, calls = FakeClock(), []

    def throttled(wait):
        calls.append(wait)
        if len(calls) == 1:
            raise Retryable("429", retry_after=wait)
        return "ok"

    with pytest.raises(WaitTooLong) as caught:
        with_backoff(lambda: throttled(3600), classify=classify, sleep=clock.sleep)
    assert clock.sleeps == [] and calls == [3600] and caught.value.seconds == 3600
    assert str(caught.value) == "asked to wait 60 min" and isinstance(caught.value.__cause__, Retryable)
    calls.clear()
    assert with_backoff(lambda: throttled(MAX_RETRY_AFTER), classify=classify, sleep=clock.sleep) == "ok"
    assert clock.sleeps == [MAX_RETRY_AFTER], "a wait up to the cap is still honoured"
    assert delay_for(0, retry_after=3600) == MAX_RETRY_AFTER, "no caller of delay_for sleeps longer"


def test_permanent_errors_are_not_retried():
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("400")

    with pytest.raises(ValueError):
        with_backoff(broken, classify=classify, sleep=lambda s: None)
    assert len(calls) == 1


def test_gives_up_after_the_last_attempt():
    with pytest.raises(Retryable):
        with_backoff(lambda: (_ for _ in ()).throw(Retryable("500")), classify=classify, attempts=3,
                     sleep=lambda s: None)


def test_delay_grows_and_is_capped():
    assert [delay_for(n, rng=lambda: 1.0) for n in (0, 1, 2, 10)] == [1.0, 2.0, 4.0, 64.0]
    assert delay_for(0, rng=lambda: 0.0, retry_after=5) == 5


def test_parse_retry_after():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None and parse_retry_after("Wed, 21 Oct") is None


def test_token_bucket_paces_to_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=250, capacity=250, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        bucket.take(25)  # 2,500 units at 250/s after a 250 burst: 9 seconds
    assert clock.now == pytest.approx(9.0)

"""The token bucket, on a fake clock (no timing in tests)."""

from __future__ import annotations

import pytest

from runtime.notion.throttle import Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_burst_then_the_average_rate():
    clock = FakeClock()
    bucket = Throttle(rate_per_second=3, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0.0
    for _ in range(6):
        bucket.acquire()
    # 9 requests at 3/s with a burst of 3 take 2 s: never faster than Notion's average.
    assert clock.now == pytest.approx(2.0)


def test_pause_holds_every_caller_for_retry_after():
    clock = FakeClock()
    bucket = Throttle(rate_per_second=100, burst=10, clock=clock, sleep=clock.sleep)
    bucket.pause(2.0)
    bucket.acquire()
    assert clock.now >= 2.0


def test_shared_bucket_is_one_per_key():
    assert Throttle.shared("a") is Throttle.shared("a")
    assert Throttle.shared("a") is not Throttle.shared("b")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Throttle(rate_per_second=0)
    with pytest.raises(ValueError):
        Throttle(burst=0)

"""A token bucket for Notion's request rate (3 requests/s on average per integration).

Hand-written because it is a dozen lines and needs to be shared by every thread of a process (one bucket per
integration): the rate-limit libraries on PyPI are either async-only or per-decorated-function.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

NOTION_RATE_PER_SECOND = 3.0


class Throttle:
    """Thread-safe token bucket: `acquire()` blocks until a request may go out."""

    _shared: dict[str, Throttle] = {}
    _shared_lock = threading.Lock()

    def __init__(
        self,
        rate_per_second: float = NOTION_RATE_PER_SECOND,
        burst: int = 3,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_second = float(rate_per_second)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.waited_seconds = 0.0  # all callers' pacing so far (bench/bench_local_stack.py reports its share)

    @classmethod
    def shared(cls, key: str = "notion") -> Throttle:
        """The process-wide bucket for `key` (one per integration), created at Notion's rate on first use."""
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls()
            return cls._shared[key]

    @classmethod
    def unlimited(cls) -> Throttle:
        """A bucket that never waits (benchmarks' baseline; tests against an unlimited emulator)."""
        return cls(rate_per_second=1e9, burst=1_000_000)

    def _wait_time(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate_per_second)
        self._updated = now
        if now < self._paused_until:
            return self._paused_until - now
        if self._tokens >= 1 - 1e-9:  # tolerance: refill arithmetic in floats lands a hair under 1
            self._tokens = max(0.0, self._tokens - 1)
            return 0.0
        return (1 - self._tokens) / self.rate_per_second

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._wait_time()
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay
            with self._lock:
                self.waited_seconds += delay

    def pause(self, seconds: float) -> None:
        """The server said 429 / Retry-After: hold every caller of this bucket, not only the one that was refused."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))
            self._tokens = 0.0

"""Waiting for the local stack to reach a state (the demo, `aidlc dev`'s callers, the tests that drive it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 120.0, interval: float = 0.25,
               what: str = "the pipeline") -> T:
    """`predicate()`'s first truthy value, asked every `interval` seconds; a TimeoutError naming `what` after
    `timeout` seconds. A plain loop: tenacity's polling (retry_if_result, stop_after_delay) would take longer to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

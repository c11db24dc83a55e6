"""For tests anywhere that record AWS calls (runtime/observe/calls.py): every call must be allowed by the role the
Pulumi program gives its principal (components/iam_coverage.py), on the dev stack run under mocks."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from components.mockrun import Recording


@lru_cache(maxsize=1)
def dev_stack() -> Recording:
    from tests.infra.conftest import run_dev

    return run_dev()


def assert_calls_allowed(calls: Iterable[Any]) -> None:
    from components.iam_coverage import iam_coverage

    calls = list(calls)
    assert calls, "no recorded calls: nothing was checked"
    violations = iam_coverage(dev_stack(), calls)
    assert not violations, "calls the deployed roles would refuse:\n" + "\n".join(map(str, violations))

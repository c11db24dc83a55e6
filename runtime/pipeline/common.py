"""Small pieces every pipeline service shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from runtime.lazy import given_or_built
from runtime.pipeline.state.invocations import InvocationRepository
from runtime.pipeline.state.ledger import RunLedger
from runtime.pipeline.state.projects import ProjectRepository


class UsesRegistry:
    """A service that asks the agent registry; given one in its constructor (`self._registry`) it uses that, else it
    loads the process-wide registry on first use, so importing a handler does not load the plugins."""

    _registry: Any = None

    @given_or_built
    def registry(self) -> Any:
        from runtime.registry import get_registry

        return get_registry()


class RunService(UsesRegistry):
    """A pipeline service over the run records (the orchestrator, the completion, the sweepers, the API, the
    feedback): the invocations, the projects, and the ledger that changes both in one transaction (budget, slots)."""

    def __init__(self, *, invocations: InvocationRepository, projects: ProjectRepository,
                 registry: Any | None = None) -> None:
        self.invocations = invocations
        self.projects = projects
        self.ledger = RunLedger(invocations, projects)
        self._registry = registry


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time as Notion and our records write it ('Z' included); None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def retrying_after(delays: Sequence[float], *, retry: Any, sleep: Callable[[float], None]) -> Any:
    """A tenacity `Retrying` that tries once, then once more after each of `delays` seconds (the last delay repeats
    if tenacity asks for more), for the errors `retry` accepts; the last error is re-raised. The one retry-wait policy
    of the pipeline's steps (the agent invoke, the Notion write-back); `sleep` is injectable so tests do not wait."""
    from tenacity import Retrying, stop_after_attempt

    delays = tuple(delays)

    def wait(retry_state: Any) -> float:
        return float(delays[min(retry_state.attempt_number - 1, len(delays) - 1)]) if delays else 0.0

    return Retrying(stop=stop_after_attempt(len(delays) + 1), wait=wait, retry=retry, sleep=sleep, reraise=True)

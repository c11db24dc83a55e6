"""The dashboard's view model says why a run is not moving (issue 17 item 5): waiting for a slot or for budget,
stuck without a heartbeat; and what to do about an error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from runtime.local.dashboard import DashboardViews


class FakeInvocations:
    def __init__(self, raw: dict[str, dict]) -> None:
        self.raw = raw

    def get(self, invocation_id: str):
        return SimpleNamespace(raw=self.raw[invocation_id]) if invocation_id in self.raw else None


def views(concurrency_limit: int = 3, heartbeats: dict[str, dict] | None = None) -> DashboardViews:
    services = SimpleNamespace(invocations=FakeInvocations(heartbeats or {}))
    return DashboardViews(SimpleNamespace(project=SimpleNamespace(concurrency_limit=concurrency_limit),
                                          functions={"api": SimpleNamespace(services=services)}))


def ago(seconds: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat()


def test_a_queued_run_over_the_cap_waits_for_a_slot():
    condition = views(concurrency_limit=3).condition({"status": "queued"}, {"running": 3, "reserved_usd": "15"})
    assert condition == {"state": "waiting", "why": "waiting for a concurrency slot: 3 of 3 running"}


def test_a_queued_run_under_the_cap_with_the_budget_held_waits_for_budget():
    condition = views(concurrency_limit=3).condition(
        {"status": "queued"}, {"running": 1, "reserved_usd": "5", "remaining_usd": "4"})
    assert condition["state"] == "waiting" and condition["why"].startswith("waiting for budget: $5.00 is reserved")


@pytest.mark.parametrize("beat_ago, stuck", [(10, False), (90, True)])
def test_a_running_run_is_stuck_only_when_its_agent_went_silent(beat_ago, stuck):
    inv = {"status": "running", "invocation_id": "run-1", "started_at": ago(600)}
    condition = views(heartbeats={"run-1": {"heartbeat_at": ago(beat_ago)}}).condition(inv, {})
    if stuck:
        assert condition["state"] == "stuck" and "no heartbeat from the agent for 9" in condition["why"]
    else:
        assert condition is None


def test_a_running_run_that_never_beat_is_judged_from_its_start():
    inv = {"status": "running", "invocation_id": "run-2", "started_at": ago(75)}
    assert views(heartbeats={"run-2": {}}).condition(inv, {})["state"] == "stuck"


def test_finished_runs_have_no_condition_and_errors_carry_their_remediation():
    assert views().condition({"status": "completed"}, {}) is None
    assert "Split the story" in DashboardViews._remediation("AGENT_TIMEOUT")
    assert DashboardViews._remediation("NOT_A_CODE") == "" and DashboardViews._remediation(None) == ""

"""The scheduled sweepers against moto and the Notion emulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from runtime.errors import ErrorCode
from runtime.models import CompletionEvent, InvocationStatus, TokenUsage
from tests.pipeline.conftest import new_story


def sweep(p, name: str) -> dict:
    from runtime.handlers import sweepers
    from runtime.local.lambda_shim import LocalLambdaContext

    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    return getattr(sweepers, name)(scheduled, LocalLambdaContext(function_name=name))


def _later(p, minutes: int = 10) -> None:
    """The sweepers' clock, `minutes` on: past the grace a webhook in flight is given."""
    from runtime.pipeline.services import get_services

    get_services().sweepers.clock = lambda: datetime.now(timezone.utc) + timedelta(minutes=minutes)


def test_reconcile_leaves_a_story_edited_just_now_to_its_webhook(notion_pipeline):
    p = notion_pipeline
    story = new_story(p.notion_env, "Webhook on its way")
    assert story["id"] not in {r.notion_page_id for r in p.invocations()}
    sweep(p, "reconcile_handler")
    p.drain()
    assert [r for r in p.invocations() if r.notion_page_id == story["id"]] == []


def test_reconcile_finds_a_story_whose_webhook_never_came_and_only_once(notion_pipeline):
    p = notion_pipeline
    missed = new_story(p.notion_env, "Webhook lost")  # a person moved it to the trigger; no delivery reached us
    new_story(p.notion_env, "Not a trigger", status="Ready")
    _later(p)
    sweep(p, "reconcile_handler")
    p.drain()
    runs = [r for r in p.invocations() if r.notion_page_id == missed["id"]]
    # Queued is found too: stories earlier tests left in the shared emulator may hold the project's slots.
    assert len(runs) == 1 and runs[0].agent_type == "mock"
    assert runs[0].status in (InvocationStatus.RUNNING, InvocationStatus.QUEUED)
    assert runs[0].input_context["story"]["title"] == "Webhook lost"
    # The next sweep sees the run and starts nothing more for it.
    again = sweep(p, "reconcile_handler")
    p.drain()
    assert runs[0].invocation_id not in again["enqueued"]
    assert len([r for r in p.invocations() if r.notion_page_id == missed["id"]]) == 1


def test_reconcile_skips_stories_last_edited_by_our_integration(notion_pipeline):
    p = notion_pipeline
    story = new_story(p.notion_env, "Bot moved it", status="Ready")
    p.notion_env.bot.set_status(story["id"], "Status", "Generate Prototype")
    _later(p)
    sweep(p, "reconcile_handler")
    p.drain()
    assert [r for r in p.invocations() if r.notion_page_id == story["id"]] == []


def test_timeouts_fail_a_run_past_its_limit_and_release_its_reservation(notion_pipeline):
    from runtime.pipeline.sweepers import Sweepers

    p = notion_pipeline
    story = new_story(p.notion_env, "Stuck run", status="Ready")
    from tests.pipeline.completion_fixtures import queued_run

    invocation_id = queued_run(p, story["id"])
    p.drain()
    assert sweep(p, "timeouts_handler")["timed_out"] == []  # not yet
    later = datetime.now(timezone.utc) + timedelta(hours=2)  # mock's limit is 1 h
    services = p.services
    sweepers = Sweepers(invocations=services.invocations, projects=services.projects, queue=lambda: services.queue,
                        notion=services.notion, writeback=services.writeback, invoker=services.invoker,
                        clock=lambda: later)
    assert sweepers.timeouts()["timed_out"] == [invocation_id]
    record = p.record(invocation_id)
    assert record.status == InvocationStatus.FAILED and record.error_code == ErrorCode.AGENT_TIMEOUT
    assert p.invoker.stopped == [("mock", record.session_id)]
    assert services.projects.budget("acme").reserved == 0 and services.projects.running("acme") == 0
    from runtime.notion.adapter import plain_properties

    assert plain_properties(p.notion_env.bot.retrieve_page(story["id"]))["Status"] == "Agent Failed"
    assert sweepers.timeouts()["timed_out"] == []  # once


def test_budget_alerts_at_80_and_100_percent_once_each_then_new_runs_are_refused(notion_pipeline):
    from tests.pipeline.completion_fixtures import queued_run

    p = notion_pipeline
    projects = p.services.projects
    project = p.project.model_copy(update={"cost_limit_per_month": Decimal("10"),
                                           "owner_user_id": p.notion_env.emulator.person_user["id"]})
    projects.save(project)
    first = queued_run(p, "page-budget-1")
    p.drain()
    # $8.10 spent: 81 %.
    usage = TokenUsage(input_tokens=2_000_000, output_tokens=140_000)
    p.run_completion([CompletionEvent(invocation_id=first, agent_type="mock", status="completed",
                                      token_usage=usage, model_id="aidlc-offline")])
    assert sweep(p, "budget_alerts_handler")["sent"] == [{"project_id": "acme", "level": "alert_80"}]
    assert sweep(p, "budget_alerts_handler")["sent"] == []
    rows = p.notion_env.bot.query_data_source(p.notion_env.seed.dashboard_data_source_id)
    alert = next(r for r in rows if "Budget alert: 81 %" in str(r["properties"]))
    [comment] = p.notion_env.bot.list_comments(alert["id"])
    assert any(t.get("type") == "mention" for t in comment["rich_text"])
    # Over the limit: the next run is refused with BUDGET_EXCEEDED (the reservation can't fit)...
    second = queued_run(p, "page-budget-2")
    p.drain()
    assert p.record(second).error_code == ErrorCode.BUDGET_EXCEEDED
    # ...and at 100 % the owner hears once more.
    projects.save(project.model_copy(update={"cost_limit_per_month": Decimal("8")}))
    assert sweep(p, "budget_alerts_handler")["sent"] == [{"project_id": "acme", "level": "alert_100"}]

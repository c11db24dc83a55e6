"""Cancel by status change (issue 15 item 5): a person moving a story out of its run's trigger status, or into the
project's cancel status, cancels the run: it ends cancelled, its budget reservation and concurrency slot are
released, its agent session is stopped, and the write-back leaves the status as the person set it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.errors import ErrorCode
from runtime.models import CompletionEvent, InvocationRecord, InvocationStatus
from runtime.notion.adapter import plain_properties
from runtime.pipeline.cancellation import cancel_reason
from tests.pipeline.conftest import TOKEN, event_body, make_notion_pipeline, make_project, new_story, signed


def deliver(p, story: dict, **kwargs) -> dict:
    body = event_body(p.notion_env.user.retrieve_page(story["id"]), env=p.notion_env, **kwargs)
    status, reply = p.webhook(body, signed(body))
    assert status == 200, reply
    return reply


def running_story(p, title: str) -> tuple[dict, InvocationRecord]:
    p.put_secret("webhook-verification-token", TOKEN)
    story = new_story(p.notion_env, title)
    assert deliver(p, story)["status"] == "enqueued"
    p.drain()
    [run] = [r for r in p.invocations() if r.notion_page_id == story["id"]]
    assert run.status == InvocationStatus.RUNNING
    assert p.services.projects.budget(p.project.project_id).reserved > 0
    assert p.services.projects.running(p.project.project_id) == 1
    return story, run


def move(p, story: dict, status: str) -> dict:
    p.notion_env.user.set_status(story["id"], "Status", status)
    return deliver(p, story)


@pytest.fixture
def cancel_pipeline(aws_names, notion_env):
    from runtime.pipeline.services import set_services

    yield lambda **overrides: make_notion_pipeline(aws_names, notion_env, **overrides)
    set_services(None)


def test_moving_the_story_out_of_its_trigger_status_cancels_the_run_and_releases_its_budget(cancel_pipeline):
    p = cancel_pipeline()
    story, run = running_story(p, "Cancelled by a move")

    reply = move(p, story, "Backlog")

    assert reply["status"] == "ignored"  # Backlog starts nothing; the run it left is cancelled all the same
    cancelled = p.record(run.invocation_id)
    assert cancelled.status == InvocationStatus.CANCELLED and cancelled.error_code == ErrorCode.CANCELLED
    assert "moved from 'Generate Prototype' to 'Backlog'" in cancelled.error_detail
    budget = p.services.projects.budget(p.project.project_id)
    assert budget.reserved == 0 and budget.month_to_date == 0
    assert p.services.projects.running(p.project.project_id) == 0
    assert p.invoker.stopped == [(run.agent_type, run.session_id)]

    # The stopped agent sends its one cancelled event: the comment is posted, the person's status is kept.
    p.run_completion([CompletionEvent(invocation_id=run.invocation_id, agent_type=run.agent_type,
                                      session_id=run.session_id, status="cancelled",
                                      error_code=ErrorCode.CANCELLED, error_detail="the run was stopped on request")])
    page = p.notion_env.user.retrieve_page(story["id"])
    assert plain_properties(page)["Status"] == "Backlog"
    texts = ["".join(t["plain_text"] for t in c["rich_text"]) for c in p.notion_env.user.list_comments(story["id"])]
    [comment] = [text for text in texts if run.invocation_id in text]
    assert f"{run.agent_type} cancelled" in comment and "moved from 'Generate Prototype' to 'Backlog'" in comment


def test_moving_it_to_another_trigger_cancels_the_first_run_and_starts_the_second(cancel_pipeline):
    p = cancel_pipeline()
    story, run = running_story(p, "Changed my mind")
    reply = move(p, story, "Generate Code")
    assert reply["status"] == "enqueued" and reply["agent_type"] == "code"
    assert p.record(run.invocation_id).status == InvocationStatus.CANCELLED


def test_other_edits_and_our_own_status_writes_cancel_nothing(cancel_pipeline):
    p = cancel_pipeline()
    story, run = running_story(p, "Left alone")
    page = p.notion_env.user.retrieve_page(story["id"])
    assert deliver(p, story, updated_properties=[page["properties"]["Priority"]["id"]])["status"] == "ignored"
    # the integration's own status write (a write-back) comes as an event authored by its bot
    p.notion_env.bot.set_status(story["id"], "Status", "Backlog")
    bot = {"id": p.notion_env.bot.me()["id"], "type": "bot"}
    assert deliver(p, story, author=bot)["reason"] == "caused by this integration"
    assert p.record(run.invocation_id).status == InvocationStatus.RUNNING
    assert p.invoker.stopped == []


def test_with_leaving_off_only_the_cancel_status_cancels(cancel_pipeline):
    p = cancel_pipeline(cancel_on_status_change=False, cancel_status="Ready")
    story, run = running_story(p, "Only by the cancel status")
    move(p, story, "Backlog")
    assert p.record(run.invocation_id).status == InvocationStatus.RUNNING
    move(p, story, "Ready")
    cancelled = p.record(run.invocation_id)
    assert cancelled.status == InvocationStatus.CANCELLED and "cancel status 'Ready'" in cancelled.error_detail
    assert p.services.projects.budget(p.project.project_id).reserved == Decimal("0")


def record(status: InvocationStatus, trigger: str = "Generate Prototype") -> InvocationRecord:
    return InvocationRecord(invocation_id="01JD0000000000000000000001", notion_page_id="p", workspace_id="w",
                            project_id="acme", agent_type="mock", status=status, trigger_value=trigger)


@pytest.mark.parametrize("status, new, project, cancels", [
    (InvocationStatus.RUNNING, "Backlog", {}, True),
    (InvocationStatus.QUEUED, None, {}, True),  # the status emptied
    (InvocationStatus.RUNNING, "Generate Prototype", {}, False),  # still in its trigger
    (InvocationStatus.COMPLETED, "Backlog", {}, False),  # nothing left to cancel
    (InvocationStatus.RUNNING, "Backlog", {"cancel_on_status_change": False}, False),
    (InvocationStatus.RUNNING, "Stop", {"cancel_on_status_change": False, "cancel_status": "Stop"}, True),
])
def test_cancel_reason(status, new, project, cancels):
    assert (cancel_reason(record(status), new, make_project(**project)) is not None) is cancels

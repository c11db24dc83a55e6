"""Two projects side by side on one deployment (issue 14 item 1): the stack's default project ("acme") and one
configured from a Notion Projects row ("team-b"), each with its own stories data source, repository, triggers and
budget. A story is routed to its project by its data source; neither project sees the other's invocations, costs or
stories, also through the internal API (403 for another project's caller)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from runtime.models import CompletionEvent
from tests.pipeline.conftest import new_story
from tests.pipeline.projects_fixtures import TEAM_B_TRIGGER, two_teams

ACME_CALLER = "arn:aws:iam::123456789012:role/acme-team"
TEAM_B_CALLER = "arn:aws:iam::123456789012:role/team-b"
UNPRICED = "test.unpriced-model"  # the completion step then keeps the cost the agent reported


@pytest.fixture
def teams(aws_names, notion_env):
    from runtime.pipeline.services import set_services

    t = two_teams(aws_names, notion_env)
    row = t.add_row(t.team_b_row())
    assert t.deliver(row, "page.created")[1]["status"] == "project_synced"
    yield t
    set_services(None)


def _start(teams, page: dict) -> dict:
    status, reply = teams.deliver(page)
    assert status == 200
    return reply


def _finish(teams, request, cost: str) -> None:
    teams.pipeline.run_completion([CompletionEvent(
        invocation_id=request.invocation_id, agent_type=request.agent_type, status="completed", summary="done",
        cost_usd=Decimal(cost), model_id=UNPRICED)])


def _as(caller: str, p, method: str, path: str) -> tuple[int, dict]:
    from runtime.handlers import api
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    event = http_api_event(method, path, headers={"content-type": "application/json"}, body=b"")
    event["requestContext"]["authorizer"] = {"iam": {"userArn": caller}}
    result = api.handler(event, LocalLambdaContext(function_name="api"))
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}


def test_two_projects_run_side_by_side_with_their_own_repository_triggers_and_budget(teams):
    p = teams.pipeline
    acme_story = new_story(teams.env, "Acme backlog item", status="Backlog")  # acme's own trigger: spec
    b_story = teams.team_b_story("Team B checkout")
    b_backlog = teams.team_b_story("Team B idea", status="Backlog")  # a trigger in acme only
    acme_reply, b_reply = _start(teams, acme_story), _start(teams, b_story)
    assert (acme_reply["status"], acme_reply["agent_type"]) == ("enqueued", "spec")
    assert (b_reply["status"], b_reply["agent_type"]) == ("enqueued", "code")
    assert _start(teams, b_backlog)["status"] == "ignored"
    p.drain()

    requests = {r.project_id: r for r in p.invoker.requests}
    assert set(requests) == {"acme", "team-b"}
    acme, b = requests["acme"], requests["team-b"]
    assert (acme.project.github_repo, b.project.github_repo) == ("acme/web", "team-b/shop")
    assert (b.project.coding_standards, b.project.github_branch_strategy.value) == ("Type hints everywhere.",
                                                                                  "direct-to-main")
    assert b.project.stories_data_source_id == teams.team_b_data_source_id
    assert (acme.budget.cost_limit_usd, b.budget.cost_limit_usd) == (Decimal("5"), Decimal("2"))
    assert (acme.notion_page_id, b.notion_page_id) == (acme_story["id"], b_story["id"])

    _finish(teams, acme, "1.5")
    _finish(teams, b, "1.25")
    invocations = p.services.invocations
    assert [r.notion_page_id for r in invocations.all_for_project("acme")] == [acme_story["id"]]
    assert [r.notion_page_id for r in invocations.all_for_project("team-b")] == [b_story["id"]]
    assert p.services.projects.budget("acme").month_to_date == Decimal("1.5")
    assert p.services.projects.budget("team-b").month_to_date == Decimal("1.25")

    # team-b's month ($3) has no room for another $2 run; acme's has: one project's spend never holds the other.
    b_again = teams.team_b_story("Team B second")
    acme_again = new_story(teams.env, "Acme second", status="Backlog")
    _start(teams, b_again), _start(teams, acme_again)
    p.drain()
    latest = {r.notion_page_id: r for r in invocations.all_for_project("team-b")}
    assert latest[b_again["id"]].error_code.value == "BUDGET_EXCEEDED"
    assert any(r.notion_page_id == acme_again["id"] and r.project_id == "acme" for r in p.invoker.requests)

    # The internal API, as one deployment with two tenants.
    p.services.api.access = {ACME_CALLER: frozenset({"acme"}), TEAM_B_CALLER: frozenset({"team-b"})}
    status, listing = _as(TEAM_B_CALLER, p, "GET", "/project/team-b/invocations")
    assert status == 200 and {i["notion_page_id"] for i in listing["invocations"]} == {b_story["id"], b_again["id"]}
    status, cost = _as(TEAM_B_CALLER, p, "GET", "/project/team-b/cost-summary")
    assert status == 200 and cost["month_to_date_usd"] == "1.25" and cost["limit_usd"] == "3"
    for path in ("/project/acme/invocations", "/project/acme/cost-summary", f"/invocation/{acme.invocation_id}"):
        status, reply = _as(TEAM_B_CALLER, p, "GET", path)
        assert status == 403, path
        assert reply["error"]["code"] == "FORBIDDEN"
        assert "project 'acme'" in reply["error"]["message"] and "its projects: team-b" in reply["error"]["message"]
    assert _as(ACME_CALLER, p, "GET", f"/invocation/{b.invocation_id}")[0] == 403
    assert _as(ACME_CALLER, p, "GET", f"/invocation/{acme.invocation_id}")[0] == 200


def test_a_project_whose_row_names_new_stories_stops_taking_the_old_ones(teams):
    """A row's edit that moves the project to another stories data source re-routes it: the old data source's
    stories belong to no project any more (a save that left the old mapping would still route them here)."""
    from tests.pipeline.test_project_sync import _new_source

    [row] = teams.env.bot.query_data_source(teams.projects_data_source_id,
                                            filter={"property": "Project", "title": {"equals": "team-b"}})
    moved_to = _new_source(teams)
    teams.edit_row(row["id"], {"Stories data source": moved_to})
    assert teams.deliver(row)[1]["status"] == "project_synced"
    projects = teams.pipeline.services.projects
    assert projects.resolve(moved_to).project_id == "team-b"
    assert projects.resolve(teams.team_b_data_source_id) is None
    assert _start(teams, teams.team_b_story("Left behind"))["status"] == "ignored"

"""Projects configured from Notion rows (issue 14 item 1, seed 2.2): a row's edit arrives by webhook (or the
reconcile sweeper finds it), is validated by the project model and synced to the projects table; a bad edit is
refused with one comment on the row and the previous configuration stays; the month-to-date cost goes back to the
row. Notion is the emulator on loopback, checked against the vendored contract; AWS is moto."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.pipeline.project_sync import COST_PROPERTY, row_values
from tests.pipeline.projects_fixtures import TEAM_B_TRIGGER, two_teams


@pytest.fixture
def teams(aws_names, notion_env):
    from runtime.pipeline.services import set_services

    yield two_teams(aws_names, notion_env)
    set_services(None)


def test_a_new_row_is_synced_by_its_webhook_with_every_field(teams):
    row = teams.add_row(teams.team_b_row())
    status, reply = teams.deliver(row, "page.created")
    assert (status, reply["status"], reply["project_id"]) == (200, "project_synced", "team-b")
    config = teams.pipeline.services.projects.get("team-b")
    assert config is not None
    assert (config.github_repo, config.github_branch_strategy.value, config.agent_chain_template.value) == (
        "team-b/shop", "direct-to-main", "story-to-code")
    assert config.trigger_map == {TEAM_B_TRIGGER: "code"}
    assert (config.cost_limit_per_invocation, config.cost_limit_per_month) == (Decimal("2"), Decimal("3"))
    assert (config.prototype_expiry_days, config.concurrency_limit) == (3, 2)
    assert config.framework_preferences == ["fastapi", "htmx"] and config.approvers == ["U0TEAMB1", "U0TEAMB2"]
    assert config.protected_paths == ["infra/**", ".github/**"]
    assert config.coding_standards == "Type hints everywhere."
    assert config.notion_config_page_id == row["id"]
    # Its stories data source now routes to it; the default project keeps its own.
    projects = teams.pipeline.services.projects
    assert projects.resolve(teams.team_b_data_source_id).project_id == "team-b"
    assert projects.resolve(teams.env.seed.stories_data_source_id).project_id == "acme"
    assert teams.comments(row["id"]) == []  # a good row gets no comment


def test_an_invalid_edit_is_refused_with_one_comment_and_the_previous_configuration_stays(teams):
    row = teams.add_row(teams.team_b_row())
    assert teams.deliver(row, "page.created")[1]["status"] == "project_synced"

    teams.edit_row(row["id"], {"GitHub repo": "not a repo", "Cost limit per month (USD)": 1,
                               "Trigger map": f"{TEAM_B_TRIGGER}: cod"})
    status, reply = teams.deliver(row)
    assert (status, reply["status"]) == (200, "project_refused")
    problems = "\n".join(reply["problems"])
    assert "GitHub repo" in problems and "owner/name" in problems
    # The previous configuration is in force, untouched.
    config = teams.pipeline.services.projects.get("team-b")
    assert config.github_repo == "team-b/shop" and config.cost_limit_per_month == Decimal("3")
    [comment] = teams.comments(row["id"])
    assert "previous configuration stays in force" in comment and "GitHub repo" in comment
    assert "e.g. 'acme/web-app'" in comment  # how to fix it

    # The same bad row seen again (a redelivery, the sweeper) is not commented twice.
    assert teams.deliver(row)[1]["status"] == "project_refused"
    teams.pipeline.services.sweepers.reconcile()
    assert len(teams.comments(row["id"])) == 1

    # The rules across fields (pydantic checks them once every field is valid) and the trigger map's agents
    # (checked against the plugin registry) refuse it too, each with a comment of its own.
    teams.edit_row(row["id"], {"GitHub repo": "team-b/shop"})
    reply = teams.deliver(row)[1]
    assert reply["status"] == "project_refused"
    assert "Cost limit per month (USD)" in reply["problems"][0] and "Cost limit per run (USD)" in reply["problems"][0]
    teams.edit_row(row["id"], {"Cost limit per month (USD)": 3})
    reply = teams.deliver(row)[1]
    assert reply["status"] == "project_refused" and "'cod', which no plugin provides" in reply["problems"][0]
    assert len(teams.comments(row["id"])) == 3
    assert teams.pipeline.services.projects.get("team-b").trigger_map == {TEAM_B_TRIGGER: "code"}

    # Fixed: applied.
    teams.edit_row(row["id"], {"Trigger map": f"{TEAM_B_TRIGGER}: mock"})
    assert teams.deliver(row)[1]["status"] == "project_synced"
    assert teams.pipeline.services.projects.get("team-b").trigger_map == {TEAM_B_TRIGGER: "mock"}


def test_rows_may_not_take_another_projects_id_or_stories(teams):
    first = teams.add_row(teams.team_b_row())
    teams.deliver(first, "page.created")
    # Another row with team-b's stories data source, another with the default project's id, one with team-b's id.
    steal_stories = teams.add_row(teams.team_b_row(Project="team-c"))
    as_default = teams.add_row(teams.team_b_row(Project="acme", **{"Stories data source": _new_source(teams)}))
    same_id = teams.add_row(teams.team_b_row(**{"Stories data source": _new_source(teams)}))
    replies = {name: teams.deliver(page, "page.created")[1] for name, page in
               [("stories", steal_stories), ("default", as_default), ("id", same_id)]}
    assert all(reply["status"] == "project_refused" for reply in replies.values())
    assert "already holds the stories of project 'team-b'" in replies["stories"]["problems"][0]
    assert "default project" in replies["default"]["problems"][0]
    assert "already configured by another row" in replies["id"]["problems"][0]
    assert teams.pipeline.services.projects.get("team-c") is None
    assert teams.pipeline.services.projects.get("acme").notion_config_page_id is None  # the stack's, untouched
    # A synced row cannot rename its project (its runs and costs are kept under the id).
    teams.edit_row(first["id"], {"Project": "team-z"})
    reply = teams.deliver(first)[1]
    assert reply["status"] == "project_refused" and "cannot change" in " ".join(reply["problems"])
    assert teams.pipeline.services.projects.get("team-z") is None


def _new_source(teams) -> str:
    from runtime.notion.schema import story_properties

    db = teams.env.user.create_database(parent_page_id=teams.env.seed.root_page_id, title="More stories",
                                        properties=story_properties(["Ready"]))
    return db["data_sources"][0]["id"]


def test_the_reconcile_sweeper_applies_an_edit_whose_webhook_never_came(teams):
    row = teams.add_row(teams.team_b_row())
    result = teams.pipeline.services.sweepers.reconcile()  # no webhook at all for the new row
    assert "team-b" in result["projects"]["synced"]
    teams.edit_row(row["id"], {"GitHub repo": "team-b/new-shop", "Expiry days": 9})
    assert teams.pipeline.services.projects.get("team-b").github_repo == "team-b/shop"  # not yet: no event
    result = teams.pipeline.services.sweepers.reconcile()
    assert result["projects"]["synced"] == ["team-b"]
    config = teams.pipeline.services.projects.get("team-b")
    assert (config.github_repo, config.prototype_expiry_days) == ("team-b/new-shop", 9)
    assert teams.pipeline.services.sweepers.reconcile()["projects"]["unchanged"] == ["team-b"]  # nothing new


def test_month_to_date_cost_is_written_back_to_the_row_by_the_sweeper_once_per_change(teams):
    from runtime.pipeline.state.dynamo import transact
    from runtime.pipeline.state.projects import budget_month

    row = teams.add_row(teams.team_b_row())
    teams.deliver(row, "page.created")
    services = teams.pipeline.services
    first = services.sweepers.reconcile()["projects"]
    assert first["costs_written"] == ["team-b"]  # $0.00 where the row showed nothing
    assert teams.env.bot.retrieve_page(row["id"])["properties"][COST_PROPERTY]["number"] == 0
    transact(services.projects.client, [{"Update": u} for u in services.projects.settle_items(
        "team-b", budget_month(), reserved=Decimal("0"), cost=Decimal("1.234567"), agent_type="code",
        release_slot=False)])
    assert services.sweepers.reconcile()["projects"]["costs_written"] == ["team-b"]
    assert teams.env.bot.retrieve_page(row["id"])["properties"][COST_PROPERTY]["number"] == 1.23
    assert services.sweepers.reconcile()["projects"]["costs_written"] == []  # unchanged: no Notion write
    # The write-back is our own edit: its webhook event changes nothing and comments nothing.
    assert teams.deliver(row)[1]["status"] == "project_unchanged" and teams.comments(row["id"]) == []


def test_row_values_name_each_bad_property():
    """Pure: a row's cells to ProjectConfig fields. A reader that dropped a bad cell silently (instead of naming
    it) would let the model's default replace what the person wrote, and fail here."""
    page = {"id": "r", "properties": {
        "Project": {"type": "title", "title": [{"plain_text": "Team B"}]},
        "Stories data source": {"type": "rich_text", "rich_text": [{"plain_text": "not-an-id"}]},
        "Expiry days": {"type": "number", "number": 2.5},
        "Trigger map": {"type": "rich_text", "rich_text": [{"plain_text": "Build It: code\njust words"}]},
        "GitHub repo": {"type": "number", "number": 3},
    }}
    values, problems = row_values(page)
    assert [p.split(":")[0] for p in problems] == ["Project", "Stories data source", "GitHub repo", "Trigger map",
                                                  "Expiry days"]
    assert values == {"trigger_map": {"Build It": "code"}}
    ok = {"id": "r", "properties": {
        "Project": {"type": "title", "title": [{"plain_text": "team-b"}]},
        "Stories data source": {"type": "rich_text", "rich_text": [
            {"plain_text": "https://www.notion.so/x?v=1&ds=0123456789abcdef0123456789ABCDEF"}]},
        COST_PROPERTY: {"type": "number", "number": 12.5},
    }}
    values, problems = row_values(ok)
    assert problems == [] and values == {"project_id": "team-b",
                                         "notion_data_source_id": "01234567-89ab-cdef-0123-456789abcdef"}


def test_a_row_in_the_trash_changes_nothing(teams):
    row = teams.add_row(teams.team_b_row())
    teams.deliver(row, "page.created")
    outcome = _sync(teams).sync_row({**teams.env.bot.retrieve_page(row["id"]), "in_trash": True,
                                     "last_edited_time": datetime.now(timezone.utc).isoformat()})
    assert outcome.status == "unchanged" and teams.pipeline.services.projects.get("team-b") is not None


def _sync(teams):
    from runtime.pipeline.project_sync import ProjectSync

    return ProjectSync(notion=teams.env.bot, projects=teams.pipeline.services.projects)


_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_REPO = _LOWER + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-"
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=1,
                max_size=20).map(str.strip).filter(bool)


@settings(max_examples=100, deadline=None)
@given(
    project_id=st.builds(str.__add__, st.text(_LOWER, min_size=1, max_size=1), st.text(_LOWER + "-", max_size=30)),
    repo=st.builds("{}/{}".format, st.text(_REPO, min_size=1, max_size=12), st.text(_REPO, min_size=1, max_size=12)),
    triggers=st.dictionaries(_word, st.sampled_from(["code", "mock", "spec"]), max_size=4),
    approvers=st.lists(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=10).map("U".__add__),
                       max_size=4),
    paths=st.lists(_word.map(lambda w: w.replace(" ", "/") + "/**"), max_size=4),
    expiry=st.integers(1, 365),
    cents_per_run=st.integers(1, 100_00),
)
def test_a_row_written_from_settings_reads_back_as_those_settings(project_id, repo, triggers, approvers, paths,
                                                                  expiry, cents_per_run):
    """Property (Hypothesis): a Projects row written from settings (`row_properties`, as the set-up and a person
    write it) reads back (`row_values`, on Notion's property shape) as the same settings, and the model accepts
    them. A reader that lost a cell, split approvers or paths differently, took the trigger map's line apart at the
    wrong colon or turned a USD figure into a float would fail it."""
    from runtime.models import ProjectConfig
    from runtime.pipeline.project_sync import row_properties

    per_run = Decimal(cents_per_run) / 100
    written = row_properties({
        "Stories data source": "0123456789abcdef0123456789abcdef", "GitHub repo": repo,
        "Trigger map": "\n".join(f"{value}: {agent}" for value, agent in triggers.items()),
        "Approvers": ", ".join(approvers), "Protected paths": "\n".join(paths), "Expiry days": expiry,
        "Cost limit per run (USD)": float(per_run), "Cost limit per month (USD)": float(per_run * 3),
    })
    written["Project"] = {"title": [{"type": "text", "text": {"content": project_id}}]}
    page = {"id": "row", "properties": {name: {"type": next(iter(v)), **v} for name, v in written.items()}}
    values, problems = row_values(page)
    assert problems == []
    config = ProjectConfig.model_validate(values)
    assert (config.project_id, config.github_repo, config.prototype_expiry_days) == (project_id, repo, expiry)
    assert config.notion_data_source_id == "01234567-89ab-cdef-0123-456789abcdef"
    assert config.trigger_map == triggers and config.approvers == approvers and config.protected_paths == paths
    assert (config.cost_limit_per_invocation, config.cost_limit_per_month) == (per_run, per_run * 3)

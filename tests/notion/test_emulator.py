"""The emulator speaks Notion's wire format and refuses what Notion refuses (raw HTTP, no adapter in between)."""

from __future__ import annotations

import json

import httpx
import pytest

from runtime.local.notion_emulator import NotionEmulator
from runtime.local.server import serve
from runtime.notion.schema import workspace_schema

from .conftest import FIXTURES


@pytest.fixture
def http(emulator, notion_server, seed):
    with httpx.Client(
        base_url=f"{notion_server.base_url}/v1",
        headers={"Authorization": f"Bearer {emulator.integration_token}", "Notion-Version": "2025-09-03"},
    ) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["object"] == "error" and body["status"] == status and body["code"] == code
    return body["message"]


def test_page_has_notions_shape(http, seed):
    sample = json.loads((FIXTURES / "page_story.json").read_text())
    page = http.get(f"/pages/{seed.story_page_ids[0]}").json()
    assert set(sample) <= set(page)
    assert page["parent"]["type"] == "data_source_id"
    for name, prop in sample["properties"].items():
        assert page["properties"][name]["type"] == prop["type"]
        assert set(prop) == set(page["properties"][name]) - {"has_more"}
    assert set(sample["properties"]["Name"]["title"][0]) == set(page["properties"]["Name"]["title"][0])
    # ids may come without dashes, as Notion allows
    assert http.get(f"/pages/{seed.story_page_ids[0].replace('-', '')}").json()["id"] == page["id"]


def test_bad_json_is_invalid_json(http, seed):
    response = http.patch(f"/pages/{seed.story_page_ids[0]}", content=b"{not json",
                          headers={"Content-Type": "application/json"})
    _error(response, 400, "invalid_json")


def test_unknown_page_is_404(http):
    message = _error(http.get("/pages/00000000-0000-4000-8000-000000000000"), 404, "object_not_found")
    assert "Could not find page with ID" in message
    _error(http.get("/pages/not-an-id"), 400, "validation_error")


def test_bad_or_missing_token_is_401(notion_server):
    url = f"{notion_server.base_url}/v1/users/me"
    for headers in ({"Authorization": "Bearer ntn_wrong"}, {}):
        response = httpx.get(url, headers={"Notion-Version": "2025-09-03", **headers})
        assert _error(response, 401, "unauthorized") == "API token is invalid."


def test_missing_notion_version_is_refused(emulator, notion_server):
    response = httpx.get(f"{notion_server.base_url}/v1/users/me",
                         headers={"Authorization": f"Bearer {emulator.integration_token}"})
    _error(response, 400, "missing_version")


def test_unknown_property_is_400_naming_it(http, seed):
    response = http.patch(f"/pages/{seed.story_page_ids[0]}",
                          json={"properties": {"Colour": {"select": {"name": "Red"}}}})
    assert _error(response, 400, "validation_error") == "Colour is not a property that exists."
    response = http.patch(f"/pages/{seed.story_page_ids[0]}", json={"properties": {"Status": {"select": {"name": "Ready"}}}})
    assert "Status is expected to be status" in _error(response, 400, "validation_error")


def test_rich_text_over_2000_characters_is_400(http, seed):
    response = http.patch(f"/blocks/{seed.story_page_ids[0]}/children", json={"children": [
        {"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "x" * 2001}}]}}]})
    assert "should be ≤ `2000`, instead was `2001`" in _error(response, 400, "validation_error")
    # Notion counts like JavaScript: an emoji is two characters.
    response = http.patch(f"/pages/{seed.story_page_ids[0]}", json={"properties": {
        "Acceptance Criteria": {"rich_text": [{"text": {"content": "🙂" * 1001}}]}}})
    _error(response, 400, "validation_error")


def test_more_than_100_children_is_400_and_nothing_is_written(http, seed):
    page_id = seed.story_page_ids[0]
    before = http.get(f"/blocks/{page_id}/children").json()["results"]
    paragraph = {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": "x"}}]}}
    response = http.patch(f"/blocks/{page_id}/children", json={"children": [paragraph] * 101})
    assert "should be ≤ `100`, instead was `101`" in _error(response, 400, "validation_error")
    assert http.get(f"/blocks/{page_id}/children").json()["results"] == before
    assert http.patch(f"/blocks/{page_id}/children", json={"children": [paragraph] * 100}).status_code == 200


def test_status_must_be_an_existing_option_while_select_grows(http, seed):
    page = seed.story_page_ids[0]
    response = http.patch(f"/pages/{page}", json={"properties": {"Status": {"status": {"name": "Nope"}}}})
    assert "Nope" in _error(response, 400, "validation_error")
    updated = http.patch(f"/pages/{page}", json={"properties": {"Priority": {"select": {"name": "Urgent"}}}})
    assert updated.json()["properties"]["Priority"]["select"]["name"] == "Urgent"
    options = http.get(f"/data_sources/{seed.stories_data_source_id}").json()["properties"]["Priority"]["select"]["options"]
    assert "Urgent" in [o["name"] for o in options]


def test_seeded_status_options_cover_every_agent(http, seed, agent_registry):
    options = http.get(f"/data_sources/{seed.stories_data_source_id}").json()["properties"]["Status"]["status"]["options"]
    names = {o["name"] for o in options}
    for spec in agent_registry.agents.values():
        assert {*spec.triggers, spec.completion_status, spec.failure_status} <= names


def test_query_filters_sorts_and_cursor(http, seed):
    source = seed.stories_data_source_id
    http.patch(f"/pages/{seed.story_page_ids[2]}", json={"properties": {"Status": {"status": {"name": "Generate Code"}}}})

    def titles(body):
        response = http.post(f"/data_sources/{source}/query", json=body)
        assert response.status_code == 200, response.text
        return [p["properties"]["Name"]["title"][0]["plain_text"] for p in response.json()["results"]]

    either = {"or": [{"property": "Priority", "select": {"equals": "High"}},
                     {"property": "Status", "status": {"equals": "Generate Code"}}]}
    assert titles({"filter": either}) == ["User can preview dashboard layout", "Onboarding checklist for new workspace members"]
    assert titles({"filter": {"property": "Acceptance Criteria", "rich_text": {"contains": "SPREADSHEET"}}}) == [
        "Customer can export invoices as CSV"]
    assert titles({"sorts": [{"property": "Name", "direction": "ascending"}]}) == sorted(titles({}))
    assert titles({"sorts": [{"timestamp": "created_time", "direction": "descending"}]}) == list(reversed(titles({})))

    first = http.post(f"/data_sources/{source}/query", json={"page_size": 2}).json()
    assert first["has_more"] is True and len(first["results"]) == 2
    rest = http.post(f"/data_sources/{source}/query", json={"page_size": 2, "start_cursor": first["next_cursor"]}).json()
    assert rest["has_more"] is False and rest["next_cursor"] is None and len(rest["results"]) == 1

    response = http.post(f"/data_sources/{source}/query", json={"filter": {"property": "Nope", "select": {"equals": "x"}}})
    assert "Nope" in _error(response, 400, "validation_error")
    response = http.post(f"/data_sources/{source}/query", json={"filter": {"property": "Status", "number": {"equals": 1}}})
    _error(response, 400, "validation_error")


def test_trashed_pages_leave_queries_and_refuse_edits(http, seed):
    page = seed.story_page_ids[0]
    assert http.patch(f"/pages/{page}", json={"in_trash": True}).json()["in_trash"] is True
    ids = [p["id"] for p in http.post(f"/data_sources/{seed.stories_data_source_id}/query", json={}).json()["results"]]
    assert page not in ids
    response = http.patch(f"/pages/{page}", json={"properties": {"Priority": {"select": {"name": "Low"}}}})
    _error(response, 400, "validation_error")


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    emulator = NotionEmulator(tmp_path / "n", requests_per_second=0.01, burst=2)  # no refill during the test, however slow
    headers = {"Authorization": f"Bearer {emulator.integration_token}", "Notion-Version": "2025-09-03"}
    with serve(emulator.app) as server:
        statuses = [httpx.get(f"{server.base_url}/v1/users/me", headers=headers) for _ in range(3)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    _error(statuses[2], 429, "rate_limited")
    assert int(statuses[2].headers["Retry-After"]) >= 1


def test_state_persists_and_seeding_is_idempotent(tmp_path, agent_registry):
    first = NotionEmulator(tmp_path / "n")
    seed = first.seed_workspace(workspace_schema(agent_registry))
    second = NotionEmulator(tmp_path / "n")
    assert second.integration_token == first.integration_token
    assert second.bot_user == first.bot_user
    assert second.seed_workspace(workspace_schema(agent_registry)) == seed
    assert second.store.get("page", seed.story_page_ids[0])["id"] == seed.story_page_ids[0]
    assert len(second.store.all("data_source")) == 2


def test_unknown_route_is_invalid_request_url(http):
    _error(http.get("/nothing/here"), 400, "invalid_request_url")


def test_table_rows_only_inside_tables(http, seed):
    row = {"type": "table_row", "table_row": {"cells": [[{"text": {"content": "a"}}]]}}
    response = http.patch(f"/blocks/{seed.story_page_ids[0]}/children", json={"children": [row]})
    _error(response, 400, "validation_error")
    empty_table = {"type": "table", "table": {"table_width": 1}}
    _error(http.patch(f"/blocks/{seed.story_page_ids[0]}/children", json={"children": [empty_table]}), 400,
           "validation_error")
    table = {"type": "table", "table": {"table_width": 1, "has_column_header": True, "children": [row]}}
    made = http.patch(f"/blocks/{seed.story_page_ids[0]}/children", json={"children": [table]}).json()["results"][0]
    assert made["has_children"] is True
    assert http.patch(f"/blocks/{made['id']}/children", json={"children": [row]}).status_code == 200


def test_a_refused_request_writes_nothing(http, seed):
    source = f"/data_sources/{seed.stories_data_source_id}"
    before = http.get(source).json()["properties"]["Priority"]["select"]["options"]
    pages_before = len(http.post(f"{source}/query", json={}).json()["results"])
    response = http.post("/pages", json={
        "parent": {"data_source_id": seed.stories_data_source_id},
        "properties": {"Name": {"title": [{"text": {"content": "Half"}}]}, "Priority": {"select": {"name": "Someday"}},
                       "Acceptance Criteria": {"rich_text": [{"text": {"content": "x" * 2001}}]}},
    })
    _error(response, 400, "validation_error")
    response = http.patch(f"/pages/{seed.story_page_ids[0]}", json={"properties": {
        "Priority": {"select": {"name": "Someday"}}, "Nope": {"rich_text": []}}})
    _error(response, 400, "validation_error")
    assert http.get(source).json()["properties"]["Priority"]["select"]["options"] == before
    assert len(http.post(f"{source}/query", json={}).json()["results"]) == pages_before
    assert http.get(f"/pages/{seed.story_page_ids[0]}").json()["properties"]["Priority"]["select"]["name"] == "High"


def test_the_emulator_knows_notion_not_the_plugin_registry(tmp_path):
    import subprocess
    import sys

    from runtime.notion.schema import WorkspaceSchema

    probe = "import sys, runtime.local.notion_emulator; print('runtime.registry' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
    emulator = NotionEmulator(tmp_path / "notion")
    seed = emulator.seed_workspace(WorkspaceSchema(("Backlog", "Ready", "Go"), ("only_agent",)))
    stories = emulator._data_source(seed.stories_data_source_id)["properties"]
    assert [o["name"] for o in stories["Status"]["status"]["options"]] == ["Backlog", "Ready", "Go"]
    dashboard = emulator._data_source(seed.dashboard_data_source_id)["properties"]
    assert [o["name"] for o in dashboard["Agent"]["select"]["options"]] == ["only_agent"]
    assert dashboard["Story"]["relation"]["data_source_id"] == seed.stories_data_source_id

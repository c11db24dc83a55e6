"""The Notion tools against the local workspace emulator, over MCP: create a story, read it as markdown, move it
through statuses, comment; plus search, queries and the feedback statistics over a real feedback database."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.local.notion_emulator import NotionEmulator
from runtime.local.server import serve
from runtime.models import FEEDBACK_DATABASE_PROPERTIES
from runtime.notion.adapter import NotionAdapter
from runtime.notion.throttle import Throttle
from runtime.plugins import AgentSpec, hookimpl
from runtime.registry import load_registry
from runtime.tools.mcp_client import MCPToolClient, MCPToolError
from runtime.tools.mcp_server import serve_mcp
from runtime.tools.registry import ToolRegistry, ToolServices

STORY_KEEPER_TOOLS = ["notion_search", "notion_read_page", "notion_query_data_source", "notion_create_page",
                      "notion_update_page", "notion_create_database", "notion_create_comment", "feedback_statistics"]


class _StoryKeeper:
    """A test agent that declares every Notion tool, so the calls below pass through the real policy."""

    prompt: Path

    @staticmethod
    @hookimpl
    def register_agents():
        return [AgentSpec(name="story_keeper", description="keeps stories", triggers=["Keep Story"],
                          prompt_file=_StoryKeeper.prompt, tools=STORY_KEEPER_TOOLS, outputs=["notion_page"],
                          completion_status="Kept")]


@pytest.fixture
def workspace(tmp_path):
    emulator = NotionEmulator(tmp_path / "notion")
    from runtime.notion.schema import workspace_schema

    seed = emulator.seed_workspace(workspace_schema())
    server = serve(emulator.app)
    adapter = NotionAdapter(emulator.integration_token, base_url=server.base_url, throttle=Throttle.unlimited())
    yield emulator, seed, adapter
    adapter.close()
    server.stop()


@pytest.fixture
def client(workspace, tmp_path, policy, audit_log):
    _emulator, _seed, adapter = workspace
    _StoryKeeper.prompt = tmp_path / "keeper.md"
    _StoryKeeper.prompt.write_text("Keep the stories tidy.")
    tools = ToolRegistry.default(load_registry(extra_plugins=[_StoryKeeper], entry_points=False))
    handle = serve_mcp(tools, ToolServices(notion=adapter, policy=policy, audit=audit_log))
    token = handle.tokens.issue("story_keeper", "01JD00000000000000000000K1")
    with MCPToolClient(handle.url, token=token, agent="story_keeper", invocation_id="01JD00000000000000000000K1") as mcp:
        yield mcp
    handle.stop()


def test_a_story_is_created_read_moved_and_commented_over_mcp(workspace, client):
    emulator, seed, adapter = workspace
    body = "## Context\n\nShoppers abandon carts.\n\n- Show the total\n- Keep the cart for 7 days\n"
    created = client.call("notion_create_page", {
        "parent_data_source_id": seed.stories_data_source_id, "title": "Save my cart",
        "properties": {"Status": {"status": {"name": "Backlog"}}}, "markdown": body,
    })
    page_id = created["page_id"]
    assert created["url"] and created["parent_data_source_id"] == seed.stories_data_source_id

    read = client.call("notion_read_page", {"page_id": page_id})
    assert read["title"] == "Save my cart" and read["properties"]["Status"] == "Backlog"
    assert "## Context" in read["markdown"] and "- Keep the cart for 7 days" in read["markdown"]

    for status in ("Generate Prototype", "Prototype Ready"):
        client.call("notion_update_page", {"page_id": page_id, "status": status})
        assert adapter.page_snapshot(page_id).properties["Status"] == status
    client.call("notion_update_page", {"page_id": page_id, "append_markdown": "Prototype reviewed."})
    assert adapter.read_markdown(page_id).rstrip().endswith("Prototype reviewed.")

    found = client.call("notion_query_data_source", {
        "data_source_id": seed.stories_data_source_id,
        "filter": {"property": "Status", "status": {"equals": "Prototype Ready"}},
    })
    assert [row["page_id"] for row in found["results"]] == [page_id]

    comment = client.call("notion_create_comment", {"page_id": page_id, "text": "Prototype is live",
                                                    "mention_user_ids": [emulator.person_user["id"]]})
    comments = adapter.list_comments(page_id)
    assert [c["id"] for c in comments] == [comment["comment_id"]]
    assert "Prototype is live" in "".join(part.get("plain_text", "") for part in comments[0]["rich_text"])

    hits = client.call("notion_search", {"query": "Save my cart", "object_type": "page"})
    assert page_id in [hit["id"] for hit in hits["results"]]


def test_trashing_a_page_is_refused_and_the_page_survives(workspace, client, audit_log):
    _emulator, seed, adapter = workspace
    story = seed.story_page_ids[0]
    with pytest.raises(MCPToolError) as refused:
        client.call("notion_update_page", {"page_id": story, "in_trash": True})
    assert refused.value.payload["denied"] and "no-notion-deletes" in str(refused.value)
    assert not adapter.retrieve_page(story).get("in_trash")
    assert audit_log.records[-1].outcome == "denied"


def test_a_notion_error_reaches_the_model_as_text(client):
    with pytest.raises(MCPToolError) as failure:
        client.call("notion_read_page", {"page_id": "00000000-0000-0000-0000-000000000000"})
    assert "notion_read_page failed" in str(failure.value)


def test_feedback_statistics_over_a_feedback_database(workspace, client):
    _emulator, seed, _adapter = workspace
    database = client.call("notion_create_database", {
        "parent_page_id": seed.root_page_id, "title": "Feedback: Save my cart",
        "properties": {k: v for k, v in FEEDBACK_DATABASE_PROPERTIES.items() if "relation" not in v},
    })
    assert database["data_source_id"] and database["record_count"] == 0
    for name, overall, would_use in (("Ana", 5, "Yes"), ("Ben", 3, "No"), ("Cy", 4, "Yes")):
        client.call("notion_create_page", {
            "parent_data_source_id": database["data_source_id"], "title": name, "title_property": "Title",
            "properties": {"Overall Rating": {"number": overall}, "Would Use": {"select": {"name": would_use}}},
        })
    stats = client.call("feedback_statistics", {"data_source_id": database["data_source_id"]})
    assert stats["count"] == 3
    assert stats["ratings"]["Overall"]["mean"] == 4.0 and stats["ratings"]["Overall"]["median"] == 4
    assert stats["ratings"]["Overall"]["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert stats["would_use"] == {"Yes": 0.667, "Maybe": 0.0, "No": 0.333}
    found = client.call("notion_search", {"query": "Feedback: Save my cart", "object_type": "data_source"})
    assert database["data_source_id"] in [hit["id"] for hit in found["results"]]

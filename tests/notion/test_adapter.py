"""The production Notion adapter against the local workspace emulator, over loopback HTTP."""

from __future__ import annotations

import pytest

import runtime.notion.adapter as adapter_module
from runtime.local.notion_emulator import NotionEmulator
from runtime.local.server import serve
from runtime.notion.adapter import NotionAdapter, page_title, plain_properties, property_value
from runtime.notion.errors import NotionNotFound, NotionUnauthorized, NotionUnavailable, NotionValidation
from runtime.notion.schema import workspace_schema
from runtime.notion.throttle import Throttle

from .conftest import make_adapter


def _story(notion, seed, title="Checkout shows delivery estimate", **extra):
    return notion.create_page(
        parent_data_source_id=seed.stories_data_source_id,
        title=title,
        properties={
            "Status": {"status": {"name": "Ready"}},
            "Acceptance Criteria": property_value("rich_text", "- Estimate shown before payment\n- Updates with address"),
            "Priority": {"select": {"name": "High"}},
            **extra,
        },
        markdown="## Why\n\nCustomers abandon carts when delivery dates are unclear.\n\n- one\n- two",
    )


def test_create_a_story_and_read_it_back(notion, seed, emulator):
    page = _story(notion, seed)

    again = notion.retrieve_page(page["id"])
    assert page_title(again) == "Checkout shows delivery estimate"
    assert again["parent"] == {
        "type": "data_source_id",
        "data_source_id": seed.stories_data_source_id,
        "database_id": seed.stories_database_id,
    }
    props = plain_properties(again)
    assert props["Status"] == "Ready"
    assert props["Priority"] == "High"
    assert props["Acceptance Criteria"].startswith("- Estimate shown")
    # Made with the integration token: the bot made it.
    assert again["created_by"]["id"] == emulator.bot_user["id"] == notion.me()["id"]

    snapshot = notion.page_snapshot(page["id"])
    assert snapshot.title == "Checkout shows delivery estimate"
    assert snapshot.acceptance_criteria == ["Estimate shown before payment", "Updates with address"]
    assert snapshot.content_markdown == (
        "## Why\n\nCustomers abandon carts when delivery dates are unclear.\n\n- one\n- two"
    )
    assert snapshot.url.endswith(page["id"].replace("-", ""))


def test_query_by_status_follows_pagination(notion, seed, monkeypatch):
    for index in range(5):
        page = _story(notion, seed, title=f"Story {index}")
        if index % 2 == 0:
            notion.set_status(page["id"], "Status", "Generate Prototype")
    monkeypatch.setattr(adapter_module, "PAGE_SIZE", 2)  # force several pages of results

    ready = notion.query_data_source(
        seed.stories_data_source_id, filter={"property": "Status", "status": {"equals": "Generate Prototype"}}
    )
    assert [page_title(p) for p in ready] == ["Story 0", "Story 2", "Story 4"]

    everything = notion.query_data_source(seed.stories_data_source_id)
    assert len(everything) == 3 + 5  # the seeded stories and ours, across three result pages
    assert len(notion.query_data_source(seed.stories_data_source_id, limit=3)) == 3

    newest_first = notion.query_data_source(
        seed.stories_data_source_id,
        filter={"and": [{"property": "Name", "title": {"contains": "story "}},
                        {"property": "Status", "status": {"does_not_equal": "Generate Prototype"}}]},
        sorts=[{"timestamp": "created_time", "direction": "descending"}],
    )
    assert [page_title(p) for p in newest_first] == ["Story 3", "Story 1"]


def test_set_status_works_for_status_and_select_properties(notion, seed):
    page = _story(notion, seed)
    updated = notion.set_status(page["id"], "Status", "Prototype Ready")
    assert plain_properties(updated)["Status"] == "Prototype Ready"
    assert plain_properties(notion.retrieve_page(page["id"]))["Status"] == "Prototype Ready"

    # A workspace whose Status is a select property.
    database = notion.create_database(
        parent_page_id=seed.root_page_id,
        title="Select-status stories",
        properties={"Name": {"title": {}}, "Status": {"select": {"options": [{"name": "Ready"}]}}},
    )
    source_id = database["data_sources"][0]["id"]
    assert notion.retrieve_data_source(source_id)["properties"]["Status"]["type"] == "select"
    other = notion.create_page(parent_data_source_id=source_id, title="Select story")
    notion.set_status(other["id"], "Status", "Generate Code")
    assert plain_properties(notion.retrieve_page(other["id"]))["Status"] == "Generate Code"

    with pytest.raises(NotionValidation, match="Stage"):
        notion.set_status(page["id"], "Stage", "Done")
    with pytest.raises(NotionValidation, match="Status option"):
        notion.set_status(page["id"], "Status", "Not an option")


def test_append_250_blocks_in_order(notion, seed, emulator):
    page = _story(notion, seed)
    before = emulator.request_count
    notion.append_markdown(page["id"], "\n\n".join(f"Paragraph {i}" for i in range(250)))
    assert emulator.request_count - before == 3  # 100 + 100 + 50: batched, never one oversized request

    blocks = notion.read_blocks(page["id"])
    texts = [b["paragraph"]["rich_text"][0]["plain_text"] for b in blocks if b["type"] == "paragraph"]
    assert texts[-250:] == [f"Paragraph {i}" for i in range(250)]


def test_page_created_with_a_long_body_keeps_every_block(notion, seed):
    markdown = "\n".join(f"- item {i}" for i in range(230))
    page = notion.create_page(parent_page_id=seed.root_page_id, title="Long page", markdown=markdown)
    assert notion.read_markdown(page["id"]) == markdown
    # The new page shows in its parent as a child page.
    assert any(b["type"] == "child_page" and b["id"] == page["id"] for b in notion.list_children(seed.root_page_id))


def test_nested_lists_deeper_than_notion_accepts_in_one_request(notion, seed):
    markdown = "- top\n  - middle\n    - bottom\n      - deepest"
    page = notion.create_page(parent_page_id=seed.root_page_id, title="Nested", markdown=markdown)
    assert notion.read_markdown(page["id"]) == markdown


def test_write_a_5000_character_text_and_read_it_whole(notion, seed):
    text = "".join(f"{i:05d} " for i in range(834))[:5000]
    assert len(text) == 5000
    page = _story(notion, seed)

    notion.append_markdown(page["id"], text)
    body = notion.read_markdown(page["id"])
    assert body.endswith(text)
    last = notion.read_blocks(page["id"])[-1]
    assert [len(item["plain_text"]) for item in last["paragraph"]["rich_text"]] == [2000, 2000, 1000]

    notion.update_properties(page["id"], {"Acceptance Criteria": property_value("rich_text", text)})
    assert plain_properties(notion.retrieve_page(page["id"]))["Acceptance Criteria"] == text

    comment = notion.create_comment(page["id"], text)
    assert "".join(item["plain_text"] for item in comment["rich_text"]) == text


def test_survives_a_429_burst_honouring_retry_after(tmp_path, agent_registry):
    emulator = NotionEmulator(tmp_path / "limited", requests_per_second=2, burst=2)
    seed = emulator.seed_workspace(workspace_schema(agent_registry))
    with serve(emulator.app) as server:
        # No client-side throttle: every request goes straight out, so the server has to push back.
        notion = make_adapter(emulator, server, throttle=Throttle(rate_per_second=1000, burst=1000))
        page = notion.create_page(parent_page_id=seed.root_page_id, title="Burst")
        for index in range(6):
            notion.append_markdown(page["id"], f"Line {index}")
        lines = notion.read_markdown(page["id"]).split("\n\n")

    assert lines == [f"Line {index}" for index in range(6)]  # nothing lost, order kept
    assert notion.stats.rate_limited > 0
    assert notion.stats.rate_limited == emulator.limiter.refused  # every refusal was seen and retried
    assert notion.stats.requests == emulator.request_count


def test_throttled_adapter_stays_under_the_servers_limit(tmp_path, agent_registry):
    emulator = NotionEmulator(tmp_path / "limited", requests_per_second=20, burst=2)
    seed = emulator.seed_workspace(workspace_schema(agent_registry))
    with serve(emulator.app) as server:
        # Half the server's rate: the bucket paces the requests so the server never refuses one.
        notion = make_adapter(emulator, server, throttle=Throttle(rate_per_second=10, burst=1))
        for _ in range(5):
            notion.retrieve_page(seed.story_page_ids[0])
    assert emulator.limiter.refused == 0
    assert notion.stats.rate_limited == 0


def test_server_errors_are_retried_only_when_safe(notion, seed, emulator):
    emulator.inject_failures(503, count=2)
    assert page_title(notion.retrieve_page(seed.story_page_ids[0])) == "User can preview dashboard layout"
    assert notion.stats.server_errors == 2 and notion.stats.retries == 2

    # A 500 on a create may have created the page: not repeated, surfaced.
    emulator.inject_failures(500, count=1)
    with pytest.raises(NotionUnavailable) as caught:
        notion.create_page(parent_page_id=seed.root_page_id, title="Maybe made")
    assert caught.value.status == 500
    # ... but a 500 on a read is.
    emulator.inject_failures(500, count=1)
    assert notion.retrieve_page(seed.root_page_id)["id"] == seed.root_page_id
    # A 409 (conflict while saving) was not applied: even a create is retried, and made once.
    emulator.inject_failures(409, count=1)
    made = notion.create_page(parent_page_id=seed.root_page_id, title="Made once")
    children = [b["id"] for b in notion.list_children(seed.root_page_id) if b["type"] == "child_page"]
    assert children.count(made["id"]) == 1
    assert [b["child_page"]["title"] for b in notion.list_children(seed.root_page_id)
            if b["type"] == "child_page"].count("Made once") == 1


def test_a_503_on_a_create_is_not_repeated_but_529_is_and_the_timeout_outlasts_notions_60_s(notion, seed, emulator):
    # Notion may answer 503 after applying a write that took over 60 s: repeating a create could make it twice.
    emulator.inject_failures(503, count=1)
    before = emulator.request_count
    with pytest.raises(NotionUnavailable) as caught:
        notion.create_comment(seed.story_page_ids[0], "maybe posted")
    assert caught.value.status == 503 and emulator.request_count == before + 1
    # 529 (service overloaded) says nothing was applied: any request is retried, a create included.
    emulator.inject_failures(529, count=2)
    comment = notion.create_comment(seed.story_page_ids[0], "posted once")
    assert [c["id"] for c in notion.list_comments(seed.story_page_ids[0])].count(comment["id"]) == 1
    assert notion.stats.server_errors >= 2
    assert notion._client.options.timeout_ms >= 60_000  # notion-client's own default (60 s) is no longer cut to 30


def test_errors_surface_as_notion_errors(notion, seed, emulator, notion_server):
    with pytest.raises(NotionNotFound) as missing:
        notion.retrieve_page("0" * 32)
    assert missing.value.status == 404 and missing.value.code == "object_not_found"

    with pytest.raises(NotionValidation, match="Colour is not a property that exists"):
        notion.update_properties(seed.story_page_ids[0], {"Colour": {"select": {"name": "Red"}}})

    stranger = NotionAdapter("ntn_wrong", base_url=notion_server.base_url, throttle=Throttle.unlimited())
    with pytest.raises(NotionUnauthorized) as refused:
        stranger.me()
    assert refused.value.status == 401 and refused.value.code == "unauthorized"
    assert stranger.stats.retries == 0  # a bad token is not worth retrying


def test_user_token_acts_as_a_person(user_notion, notion, seed, emulator):
    assert user_notion.me()["type"] == "person"
    user_notion.set_status(seed.story_page_ids[1], "Status", "Generate Code")
    page = notion.retrieve_page(seed.story_page_ids[1])
    assert page["last_edited_by"]["id"] == emulator.person_user["id"]
    notion.set_status(seed.story_page_ids[1], "Status", "Code Generated")
    assert notion.retrieve_page(seed.story_page_ids[1])["last_edited_by"]["id"] == emulator.bot_user["id"]


def test_comments_search_users_and_databases(notion, seed, emulator):
    comment = notion.create_comment(seed.story_page_ids[0], "Prototype ready", mention_user_ids=[emulator.person_user["id"]])
    assert comment["rich_text"][0]["mention"]["user"]["id"] == emulator.person_user["id"]
    assert [c["id"] for c in notion.list_comments(seed.story_page_ids[0])] == [comment["id"]]

    assert {p["id"] for p in notion.search("invoices", object_type="page")} == {seed.story_page_ids[1]}
    sources = notion.search("", object_type="data_source")
    assert {s["id"] for s in sources} == {seed.stories_data_source_id, seed.dashboard_data_source_id}

    assert {u["type"] for u in notion.list_users()} == {"bot", "person"}

    database = notion.create_database(
        parent_page_id=seed.root_page_id, title="Feedback",
        properties={"Title": {"title": {}}, "Overall Rating": {"number": {"format": "number"}}},
    )
    source_id = database["data_sources"][0]["id"]
    assert notion.retrieve_database(database["id"])["data_sources"] == [{"id": source_id, "name": "Feedback"}]
    notion.create_page(parent_data_source_id=source_id, title="Ana", title_property="Title",
                       properties={"Overall Rating": property_value("number", 4)})
    rows = notion.query_data_source(source_id)
    assert plain_properties(rows[0]) == {"Title": "Ana", "Overall Rating": 4}


def test_seeded_dashboard_accepts_an_execution_row(notion, seed):
    row = notion.create_page(
        parent_data_source_id=seed.dashboard_data_source_id,
        title="mock · User can preview dashboard layout",
        properties={
            "Invocation": property_value("rich_text", "01JD0000000000000000000000"),
            "Agent": property_value("select", "mock"),
            "Status": property_value("select", "completed"),
            "Cost": property_value("number", 0.42),
            "Story": property_value("relation", [seed.story_page_ids[0]]),
        },
    )
    values = plain_properties(row)
    assert values["Agent"] == "mock" and values["Cost"] == 0.42 and values["Story"] == [seed.story_page_ids[0]]


def test_tables_round_trip_through_the_emulator_even_past_100_rows(notion, seed):
    rows = "\n".join(f"| Rating {i} | {i % 5 + 1} |" for i in range(130))
    markdown = f"## Ratings\n\n| Name | Score |\n|---|---|\n{rows}\n\nDone."
    page = notion.create_page(parent_page_id=seed.root_page_id, title="Table", markdown=markdown)
    assert notion.read_markdown(page["id"]) == markdown
    [table] = [b for b in notion.read_blocks(page["id"]) if b["type"] == "table"]
    assert table["table"]["has_column_header"] is True and len(table["children"]) == 131


def test_threads_sharing_one_adapter_all_get_through_a_429_burst(tmp_path, agent_registry):
    from concurrent.futures import ThreadPoolExecutor

    emulator = NotionEmulator(tmp_path / "limited", requests_per_second=6, burst=5)
    seed = emulator.seed_workspace(workspace_schema(agent_registry))
    with serve(emulator.app) as server:
        notion = make_adapter(emulator, server, throttle=Throttle(rate_per_second=1000, burst=1000), max_retries=10)
        pages = [notion.create_page(parent_page_id=seed.root_page_id, title=f"Thread {n}")["id"] for n in range(3)]

        def write(page_id: str) -> None:
            for index in range(3):
                notion.append_markdown(page_id, f"{page_id[:8]} line {index}")

        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(write, pages))
        bodies = {page_id: notion.read_markdown(page_id) for page_id in pages}

    for page_id, body in bodies.items():
        assert body.split("\n\n") == [f"{page_id[:8]} line {index}" for index in range(3)]
    assert notion.stats.rate_limited == emulator.limiter.refused > 0


def test_a_huge_comment_with_mentions_and_a_long_property_are_capped_as_notion_requires(notion, seed, emulator):
    from runtime.notion.markdown import TRUNCATED_MARKER, rich_text_plain

    text = "word " * 60_000  # 300,000 characters: more than 100 items of 2,000
    comment = notion.create_comment(seed.story_page_ids[0], text, mention_user_ids=[emulator.person_user["id"]])
    items = comment["rich_text"]
    assert len(items) == 100 and items[0]["type"] == "mention"
    assert rich_text_plain(items).endswith(TRUNCATED_MARKER.strip())
    page = notion.update_properties(seed.story_page_ids[0], {"Acceptance Criteria": property_value("rich_text", text)})
    assert len(page["properties"]["Acceptance Criteria"]["rich_text"]) == 100


def test_a_page_of_long_paragraphs_is_sent_in_requests_under_500_kb(notion, seed, notion_contract):
    from runtime.notion.markdown import rich_text_plain

    paragraph = "é" * 5900  # three 2,000-character items, ~12 KB of UTF-8 each
    markdown = "\n\n".join(f"{index} {paragraph}" for index in range(120))  # ~1.4 MB in all, 120 blocks
    page = notion.create_page(parent_page_id=seed.root_page_id, title="Long read")
    before = notion_contract.checked
    notion.append_markdown(page["id"], markdown)
    assert notion_contract.checked - before >= 4  # 120 blocks would fit in two requests by count; bytes need more
    blocks = notion.read_blocks(page["id"])
    assert [rich_text_plain(b["paragraph"]["rich_text"]).split(" ")[0] for b in blocks] == [str(i) for i in range(120)]

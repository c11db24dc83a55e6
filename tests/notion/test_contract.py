"""Notion's contract (the official SDK's types, vendored, plus the documented limits) against both sides: the
emulator refuses what Notion refuses and answers in the shapes the SDK declares; the adapter's requests are held to
it by the autouse `notion_contract` fixture (tests/conftest.py)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from runtime.notion.contract import RequestChecker, contract
from runtime.notion.markdown import split_rich_text

ROOT_ID = "0f3b7c1e-5d2a-4e8b-9a61-2c7d4e9f1a35"


def test_the_vendored_contract_names_its_sdk_and_notion_version():
    manifest = contract().manifest
    assert manifest["sdk"] == "@notionhq/client" and re.fullmatch(r"\d+\.\d+\.\d+", manifest["sdk_version"])
    assert manifest["notion_version"] == "2025-09-03"
    assert manifest["regenerate"] == "node runtime/notion/contract/generate.mjs"
    found = contract().endpoint("PATCH", f"blocks/{ROOT_ID}/children")
    assert found is not None and found[0].name == "appendBlockChildren" and found[1] == {"block_id": ROOT_ID}
    assert contract().endpoint("GET", "users/me")[0].name == "getSelf"  # not getUser("me")


@pytest.fixture
def api(emulator, notion_server, seed):
    client = httpx.Client(base_url=f"{notion_server.base_url}/v1/", headers={
        "Authorization": f"Bearer {emulator.integration_token}", "Notion-Version": "2025-09-03"})
    yield client
    client.close()


def _full(name: str, body: dict) -> list[str]:
    """Problems with an answer, held to the complete object types (the SDK also allows `{object, id}` partials)."""
    problems = contract().check_response(name, body)
    item_types = {"page": "PageObjectResponse", "block": "BlockObjectResponse", "user": "UserObjectResponse",
                  "comment": "CommentObjectResponse", "data_source": "DataSourceObjectResponse"}
    for index, item in enumerate(body.get("results", [])):
        problems += contract().check_type("responses", item_types[item["object"]], item, f"{name}[{index}]")
    return problems


def test_every_answer_the_emulator_gives_has_the_shape_the_sdk_declares(api, emulator, seed):
    def call(name: str, method: str, path: str, **kwargs) -> dict:
        response = api.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        assert _full(name, response.json()) == [], name
        return response.json()

    call("getSelf", "GET", "users/me")
    call("listUsers", "GET", "users")
    call("getUser", "GET", f"users/{emulator.person_user['id']}")
    page = call("createPage", "POST", "pages", json={
        "parent": {"data_source_id": seed.stories_data_source_id},
        "properties": {"Name": {"title": [{"text": {"content": "Contract"}}]}},
        "children": [{"paragraph": {"rich_text": [{"text": {"content": "hello"}}]}}]})
    call("getPage", "GET", f"pages/{page['id']}")
    call("updatePage", "PATCH", f"pages/{page['id']}", json={"properties": {"Priority": {"select": {"name": "Low"}}}})
    appended = call("appendBlockChildren", "PATCH", f"blocks/{page['id']}/children", json={"children": [
        {"heading_2": {"rich_text": [{"text": {"content": "H"}}]}},
        {"code": {"language": "python", "rich_text": [{"text": {"content": "x = 1"}}]}},
        {"to_do": {"rich_text": [{"text": {"content": "t"}}]}},
        {"bulleted_list_item": {"rich_text": [{"text": {"content": "a"}}], "children": [
            {"bulleted_list_item": {"rich_text": [{"text": {"content": "b"}}], "children": [
                {"paragraph": {"rich_text": [{"text": {"content": "two levels down"}}]}}]}}]}},
        {"table": {"table_width": 1, "children": [{"table_row": {"cells": [[{"text": {"content": "c"}}]]}}]}},
        {"divider": {}}]})
    call("listBlockChildren", "GET", f"blocks/{page['id']}/children")
    block_id = appended["results"][0]["id"]
    call("getBlock", "GET", f"blocks/{block_id}")
    call("deleteBlock", "DELETE", f"blocks/{block_id}")
    database = call("createDatabase", "POST", "databases", json={
        "parent": {"type": "page_id", "page_id": seed.root_page_id}, "title": [{"text": {"content": "Feedback"}}],
        "initial_data_source": {"properties": {
            "Title": {"title": {}}, "Would Use": {"select": {"options": [{"name": "Yes"}]}},
            "Rating": {"number": {"format": "number"}},
            "Story": {"relation": {"data_source_id": seed.stories_data_source_id, "single_property": {}}}}}})
    call("getDatabase", "GET", f"databases/{database['id']}")
    call("getDataSource", "GET", f"data_sources/{database['data_sources'][0]['id']}")
    call("getDataSource", "GET", f"data_sources/{seed.dashboard_data_source_id}")
    call("queryDataSource", "POST", f"data_sources/{seed.stories_data_source_id}/query", json={"page_size": 10})
    call("createComment", "POST", "comments", json={"parent": {"page_id": page["id"]},
                                                    "rich_text": [{"text": {"content": "hi"}}]})
    call("listComments", "GET", "comments", params={"block_id": page["id"]})
    call("search", "POST", "search", json={"query": ""})


def test_every_webhook_event_has_the_shape_the_sdk_declares(emulator, notion, user_notion, seed, receiver):
    emulator.subscribe(receiver.url, event_types=["page.created", "page.properties_updated",
                                                  "page.content_updated", "page.deleted", "comment.created"])
    page = notion.create_page(parent_data_source_id=seed.stories_data_source_id, title="Events")
    user_notion.set_status(page["id"], "Status", "Generate Prototype")
    notion.append_markdown(page["id"], "More text.")
    notion.create_comment(page["id"], "A comment")
    notion.trash_page(page["id"])
    emulator.flush_webhooks()
    events = receiver.events()
    assert {e["type"] for e in events} == {"page.created", "page.properties_updated", "page.content_updated",
                                           "page.deleted", "comment.created"}
    for event in events:
        assert contract().check_event(event) == [], event["type"]
        assert event["api_version"] == "2025-09-03"


def test_object_times_are_rounded_to_the_minute_as_in_notion(notion, seed):
    page = notion.create_page(parent_data_source_id=seed.stories_data_source_id, title="Minute")
    updated = notion.update_properties(page["id"], {"Priority": {"select": {"name": "High"}}})
    for stamp in (page["created_time"], page["last_edited_time"], updated["last_edited_time"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z", stamp), stamp


def _paragraph(*items: dict) -> dict:
    return {"type": "paragraph", "paragraph": {"rich_text": list(items)}}


def _text(content: str, url: str | None = None) -> dict:
    return {"type": "text", "text": {"content": content, "link": {"url": url} if url else None}}


def _nested(depth: int) -> dict:
    block = _paragraph(_text("leaf"))
    for _ in range(depth):
        block = {"type": "toggle", "toggle": {"rich_text": [_text("t")], "children": [block]}}
    return block


REFUSED_APPENDS = {
    "101 rich text items": ([_paragraph(*[_text("x")] * 101)], "rich_text.length should be ≤ `100`"),
    "2,001 characters of text": ([_paragraph(_text("x" * 2001))], "text.content.length should be ≤ `2000`"),
    "a 2,001-character link": ([_paragraph(_text("x", "https://e.com/" + "a" * 1990))], "link.url.length"),
    "a relative link": ([_paragraph(_text("spec", "docs/spec.md"))], "Invalid URL for link"),
    "101 blocks": ([_paragraph(_text("x"))] * 101, "body.children.length should be ≤ `100`"),
    "three levels of children": ([_nested(3)], "children should be not present"),
    "an unknown block field": ([{"type": "paragraph", "paragraph": {"rich_text": [], "colour": "red"}}],
                               "paragraph.colour should be not present"),
    "an unknown block type": ([{"type": "banner", "banner": {}}], "body.children[0] should have one of"),
}


@pytest.mark.parametrize("case", list(REFUSED_APPENDS))
def test_the_emulator_refuses_appends_notion_refuses(case, api, seed):
    children, expected = REFUSED_APPENDS[case]
    response = api.patch(f"blocks/{seed.root_page_id}/children", json={"children": children})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert expected in response.json()["message"]


def test_the_emulator_refuses_1001_blocks_and_500_kb_in_one_request(api, seed):
    many = [{"type": "toggle", "toggle": {"rich_text": [_text("t")], "children": [_paragraph(_text("x"))] * 100}}] * 10
    response = api.patch(f"blocks/{seed.root_page_id}/children", json={"children": [*many, _paragraph(_text("y"))]})
    assert response.status_code == 400 and "1011 blocks; at most 1000" in response.json()["message"]
    heavy = [_paragraph(*[_text("é" * 2000)] * 100)] * 2  # ~800 KB of UTF-8, every item within its own limits
    response = api.patch(f"blocks/{seed.root_page_id}/children", json={"children": heavy})
    assert response.status_code == 400 and "at most 500000" in response.json()["message"]


def test_the_emulator_refuses_property_values_and_schemas_notion_refuses(api, seed, emulator):
    story = seed.story_page_ids[0]
    many_people = [{"id": emulator.person_user["id"]}] * 101
    for properties, expected in [
        ({"Owner": {"people": many_people}}, "Owner.people.length should be ≤ `100`"),
        ({"Name": {"title": split_rich_text("x" * 250_000, max_items=200)}}, "title.length should be ≤ `100`"),
        ({"Pull Request": {"url": "https://e.com/" + "a" * 2000}}, "url.length should be ≤ `2000`"),
        ({"Status": {"status": {"colour": "x"}}}, "body.properties.Status.status"),
    ]:
        response = api.patch(f"pages/{story}", json={"properties": properties})
        assert response.status_code == 400 and expected in response.json()["message"], response.text
    response = api.post("databases", json={
        "parent": {"type": "page_id", "page_id": seed.root_page_id}, "title": [_text("F")],
        "initial_data_source": {"properties": {"Title": {"title": {}}, "Deck": {"relation": {}}}}})
    assert response.status_code == 400
    assert "Deck.relation should have one of `single_property`, `dual_property`" in response.json()["message"]


def test_dates_must_be_iso_8601(api, seed):
    dashboard_row = {"parent": {"data_source_id": seed.dashboard_data_source_id},
                     "properties": {"Name": {"title": [_text("run")]}, "Started": {"date": {"start": "yesterday"}}}}
    response = api.post("pages", json=dashboard_row)
    assert response.status_code == 400 and "Started.date.start should be a valid ISO 8601" in response.json()["message"]
    dashboard_row["properties"]["Started"] = {"date": {"start": "2026-12-01T10:00:00+00:00"}}
    assert api.post("pages", json=dashboard_row).status_code == 200


def test_the_request_hook_sees_every_adapter_request_and_keeps_what_notion_would_refuse(notion, seed, notion_contract):
    before = notion_contract.checked
    notion.retrieve_page(seed.story_page_ids[0])
    assert notion_contract.checked == before + 1 and notion_contract.problems == []

    own = RequestChecker()
    request = httpx.Request("PATCH", f"http://x/v1/blocks/{ROOT_ID}/children",
                            content=json.dumps({"children": [_paragraph(_text("a", "/relative"))]}).encode())
    own(request)
    assert own.checked == 1 and len(own.problems) == 1 and "Invalid URL for link" in own.problems[0]
    own(httpx.Request("GET", f"http://x/v1/blocks/{ROOT_ID}/children?page_size=100"))
    own(httpx.Request("GET", f"http://x/v1/blocks/{ROOT_ID}/children?page_sise=100"))
    assert len(own.problems) == 2 and "query.page_sise should be not present" in own.problems[1]

"""The emulator's integration webhooks: the verification POST, then events signed as Notion signs them."""

from __future__ import annotations

import hashlib
import hmac
import json

from runtime.local.notion_emulator import sign_body
from runtime.notion.adapter import property_value
from runtime.notion.contract import contract

from .conftest import FIXTURES


def _vector() -> dict[str, str]:
    fields = {}
    for line in (FIXTURES / "signature_vector.txt").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return {"key": fields["key"].split()[0], "header": fields["header"].split(": ", 1)[1]}


def verify(body: bytes, header: str, token: str) -> bool:
    """The sample vector's method: HMAC-SHA256 of the raw body keyed with the verification token."""
    expected = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_signing_matches_the_sample_vector():
    vector = _vector()
    body = (FIXTURES / "page_properties_updated.json").read_bytes()
    assert verify(body, vector["header"], vector["key"])  # the method itself is right
    assert sign_body(body, vector["key"]) == vector["header"]  # and the emulator signs the same way
    assert sign_body(body + b" ", vector["key"]) != vector["header"]


def test_verification_then_signed_events_with_the_right_authors(emulator, notion, user_notion, seed, receiver):
    token = emulator.subscribe(receiver.url)
    assert receiver.bodies() == [{"verification_token": token}]
    assert set(json.loads((FIXTURES / "verification_request.json").read_text())) == {"verification_token"}

    story = seed.story_page_ids[0]
    user_notion.set_status(story, "Status", "Generate Prototype")  # a person moves the story
    notion.set_status(story, "Status", "Prototype Ready")  # the integration writes back
    emulator.flush_webhooks()

    events = receiver.events("page.properties_updated")
    assert len(events) == 2
    sample = json.loads((FIXTURES / "page_properties_updated.json").read_text())
    status_id = notion.retrieve_data_source(seed.stories_data_source_id)["properties"]["Status"]["id"]
    for event in events:
        # The SDK's payload type is the contract (the shared sample predates `api_version`, which it requires).
        assert contract().check_event(event) == []
        assert set(sample) <= set(event) and event["api_version"] == contract().notion_version == "2025-09-03"
        assert event["entity"] == {"id": story, "type": "page"}
        assert event["data"]["updated_properties"] == [status_id]  # property ids, never values
        assert event["data"]["parent"] == {"id": seed.stories_database_id, "type": "database",
                                           "data_source_id": seed.stories_data_source_id}
    by_person, by_bot = events
    assert by_person["authors"] == [{"id": emulator.person_user["id"], "type": "person"}]
    assert by_bot["authors"] == [{"id": emulator.bot_user["id"], "type": "bot"}]
    assert by_bot["authors"][0]["id"] == notion.me()["id"]

    signed = [r for r in receiver.requests if "type" in json.loads(r["body"])]
    for request in signed:
        assert verify(request["body"], request["headers"]["x-notion-signature"], token)
        assert not verify(request["body"], request["headers"]["x-notion-signature"], "secret_other")


def test_no_event_when_nothing_changed_and_one_per_changed_property(emulator, notion, seed, receiver):
    emulator.subscribe(receiver.url)
    story = seed.story_page_ids[1]
    notion.update_properties(story, {"Priority": {"select": {"name": "Medium"}}})  # already Medium
    notion.update_properties(story, {"Priority": property_value("select", "Low"),
                                     "Pull Request": property_value("url", "https://example.com/pr/1")})
    emulator.flush_webhooks()
    events = receiver.events("page.properties_updated")
    assert len(events) == 1
    schema = notion.retrieve_data_source(seed.stories_data_source_id)["properties"]
    assert sorted(events[0]["data"]["updated_properties"]) == sorted([schema["Priority"]["id"], schema["Pull Request"]["id"]])


def test_page_created_and_comment_created_events(emulator, notion, seed, receiver):
    emulator.subscribe(receiver.url)
    page = notion.create_page(parent_data_source_id=seed.stories_data_source_id, title="Fresh story")
    comment = emulator.update_page_as_person(page["id"], {"Priority": {"select": {"name": "High"}}})
    created_comment = notion.create_comment(page["id"], "Looks good")
    emulator.flush_webhooks()

    assert [e["entity"]["id"] for e in receiver.events("page.created")] == [page["id"]]
    [comment_event] = receiver.events("comment.created")
    assert comment_event["entity"] == {"id": created_comment["id"], "type": "comment"}
    assert comment_event["data"]["page_id"] == page["id"]
    assert comment_event["authors"][0]["type"] == "bot"
    [edit] = receiver.events("page.properties_updated")
    assert edit["authors"][0] == {"id": emulator.person_user["id"], "type": "person"}
    assert comment["last_edited_by"]["id"] == emulator.person_user["id"]


def test_only_subscribed_event_types_are_sent(emulator, notion, seed, receiver):
    emulator.subscribe(receiver.url, event_types=("comment.created",))
    notion.set_status(seed.story_page_ids[0], "Status", "Generate Code")
    notion.create_comment(seed.story_page_ids[0], "hi")
    emulator.flush_webhooks()
    assert [e["type"] for e in receiver.events()] == ["comment.created"]


def test_database_automation_sends_the_page_unsigned_with_its_secret_header(emulator, user_notion, seed, receiver):
    emulator.add_automation(receiver.url, data_source_id=seed.stories_data_source_id,
                            values=["Generate Prototype"], headers={"X-Aidlc-Automation-Secret": "s3cret"})
    story = seed.story_page_ids[0]
    user_notion.update_properties(story, {"Priority": {"select": {"name": "Low"}}})  # not the watched property
    user_notion.set_status(story, "Status", "Generate Code")  # watched property, another value
    user_notion.set_status(story, "Status", "Generate Prototype")
    emulator.flush_webhooks()

    [request] = receiver.requests
    body = json.loads(request["body"])
    assert body["source"]["type"] == "automation" and body["source"]["attempt"] == 1
    assert body["data"]["id"] == story
    assert body["data"]["properties"]["Status"]["status"]["name"] == "Generate Prototype"
    assert request["headers"]["user-agent"] == "NotionAutomation"
    assert request["headers"]["x-aidlc-automation-secret"] == "s3cret"
    assert "x-notion-signature" not in request["headers"]

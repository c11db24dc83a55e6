"""Fuzz: 1,000+ malformed or hostile deliveries to `POST /webhook/notion` (integration events with a valid
signature, automation events with the right secret, bad headers): never a 5xx, always the error shape for a
refusal, and nothing enqueued by any of them.

Notion is a small fake here (the entry point is under test, not the adapter): one story sitting in "Backlog", so
no well-formed mutation of the delivery has a reason to start a run either."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from runtime.models import PageSnapshot
from runtime.notion.errors import NotionError
from tests.pipeline.conftest import TOKEN, build_pipeline, make_project, signed
from tests.pipeline.fuzzing import assert_refusal, fuzz_settings, header_values, hostile_bodies, mutations, serving

BOT = "9a9a9a9a-0000-4000-8000-000000000001"
PERSON = "5e5e5e5e-0000-4000-8000-000000000002"
STORY = "1f1f1f1f-0000-4000-8000-000000000003"
DATA_SOURCE = "2d2d2d2d-0000-4000-8000-000000000004"
AUTOMATION_SECRET = "auto-shared-secret"
EXAMPLES = 1000

STORY_PAGE = {
    "object": "page", "id": STORY, "url": "https://notion.so/story",
    "parent": {"type": "data_source_id", "data_source_id": DATA_SOURCE, "database_id": DATA_SOURCE},
    "last_edited_time": "2026-12-01T10:00:00.000Z", "last_edited_by": {"object": "user", "id": PERSON},
    "properties": {
        "Name": {"id": "title", "type": "title", "title": [{"type": "text", "plain_text": "A story",
                                                              "text": {"content": "A story"}}]},
        "Status": {"id": "s", "type": "status", "status": {"name": "Backlog"}},
        "Owner": {"id": "o", "type": "people", "people": [{"id": PERSON}]},
    },
}
INTEGRATION_EVENT = {
    "id": "evt", "timestamp": "2026-12-01T10:00:00.000Z", "workspace_id": "ws", "subscription_id": "sub",
    "integration_id": "int", "type": "page.properties_updated", "attempt_number": 1,
    "authors": [{"id": PERSON, "type": "person"}],
    "entity": {"id": STORY, "type": "page"},
    "data": {"parent": {"id": DATA_SOURCE, "type": "database", "data_source_id": DATA_SOURCE},
             "updated_properties": ["s"]},
}
AUTOMATION_EVENT = {"source": {"type": "automation", "automation_id": "a", "action_id": "b", "event_id": "e",
                               "attempt": 1}, "data": STORY_PAGE}


class FakeNotion:
    def me(self) -> dict:
        return {"id": BOT, "type": "bot"}

    def retrieve_page(self, page_id: str) -> dict:
        if page_id.replace("-", "") != STORY.replace("-", ""):
            raise NotionError("Could not find page", status=404, code="object_not_found")
        return json.loads(json.dumps(STORY_PAGE))

    def page_snapshot(self, page) -> PageSnapshot:
        return PageSnapshot(page_id=page["id"], title="A story")


@pytest.fixture
def fuzzed(aws_names):
    p = build_pipeline(aws_names, make_project(notion_data_source_id=DATA_SOURCE, notion_database_id=DATA_SOURCE),
                       notion=FakeNotion())
    p.put_secret("webhook-verification-token", TOKEN)
    p.put_secret("automation-secret", AUTOMATION_SECRET)
    with serving(p):
        yield p


def _with_fresh_id(body: bytes) -> bytes:
    """A new event id for a well-formed mutation, so the idempotency layer does not answer from an earlier one."""
    try:
        event = json.loads(body)
    except ValueError:
        return body
    if isinstance(event, dict) and event.get("id") == "evt":
        event["id"] = str(uuid.uuid4())
        return json.dumps(event).encode()
    return body


def _signed_headers(body: bytes) -> dict:
    return signed(body)


deliveries = st.one_of(
    # An integration event, validly signed, with one value of the wrong type (or missing) at any path.
    st.builds(lambda b: (b, _signed_headers(b)), mutations(INTEGRATION_EVENT).map(_with_fresh_id)),
    # Hostile bodies, validly signed: the signature is no reason to trust the body.
    st.builds(lambda b: (b, _signed_headers(b)), hostile_bodies),
    # An automation event with the right secret and a bad body.
    st.builds(lambda b: (b, {"x-aidlc-automation-secret": AUTOMATION_SECRET, "user-agent": "NotionAutomation"}),
              mutations(AUTOMATION_EVENT) | hostile_bodies),
    # Bad headers: forged signatures and secrets, no headers, a verification body of any shape.
    st.builds(lambda b, v: (b, {"x-notion-signature": v}), mutations(INTEGRATION_EVENT), header_values),
    st.builds(lambda b, v: (b, {"x-aidlc-automation-secret": v}), mutations(AUTOMATION_EVENT), header_values),
    st.builds(lambda b: (b, {}), hostile_bodies | mutations({"verification_token": "tok"})),
)


@fuzz_settings(EXAMPLES)
@given(delivery=deliveries)
def test_no_malformed_delivery_gets_a_5xx_or_enqueues_anything(fuzzed, delivery):
    body, headers = delivery
    before = len(fuzzed.published)
    status, reply = fuzzed.webhook(body, headers)
    event(f"HTTP {status}")  # the spread of answers: pytest --hypothesis-show-statistics
    assert status in (200, 400, 401, 413, 422), (status, reply)
    if status != 200:
        assert_refusal(reply)
    else:
        assert reply["status"] in ("ignored", "in_progress"), reply
    assert len(fuzzed.published) == before


def test_the_fuzzed_base_delivery_is_accepted_and_would_start_a_run_in_a_trigger_status(fuzzed, monkeypatch):
    """The fuzz is not vacuous: the unmutated event passes every check and, were the story in a trigger status,
    it would be enqueued."""
    body = json.dumps({**INTEGRATION_EVENT, "id": str(uuid.uuid4())}).encode()
    status, reply = fuzzed.webhook(body, signed(body))
    assert status == 200 and "not a trigger value" in reply["reason"]
    triggered = json.loads(json.dumps(STORY_PAGE))
    triggered["properties"]["Status"]["status"]["name"] = "Generate Prototype"
    monkeypatch.setattr(FakeNotion, "retrieve_page", lambda self, page_id: triggered)
    body = json.dumps({**INTEGRATION_EVENT, "id": str(uuid.uuid4())}).encode()
    status, reply = fuzzed.webhook(body, signed(body))
    assert status == 200 and reply["status"] == "enqueued" and len(fuzzed.published) == 1


@pytest.mark.parametrize("body, status, words", [
    (b"[" * 100_000 + b"]" * 100_000, 400, "nests 100000 levels"),
    (b'{"id": 1' + b"0" * 5000 + b"}", 400, "digits"),
    (b'{"id": "\\ud800", "type": "page.created"}', 400, "surrogate"),
    (json.dumps({**INTEGRATION_EVENT, "type": 7}).encode(), 422, "type"),
    (json.dumps({**INTEGRATION_EVENT, "authors": "me"}).encode(), 422, "authors"),
    (json.dumps({**INTEGRATION_EVENT, "authors": [3]}).encode(), 422, "authors.0"),
    (json.dumps({**INTEGRATION_EVENT, "entity": []}).encode(), 422, "entity"),
    (json.dumps({**INTEGRATION_EVENT, "entity": {"id": {"x": 1}, "type": "page"}}).encode(), 422, "entity.id"),
    (json.dumps({**INTEGRATION_EVENT, "entity": {"id": "not-an-id", "type": "page"}}).encode(), 422, "entity.id"),
])
def test_each_reported_500_is_now_a_4xx_saying_what_is_wrong(fuzzed, body, status, words):
    got, reply = fuzzed.webhook(body, signed(body))
    assert got == status and words in reply["error"]["message"], reply
    assert fuzzed.published == []


def test_an_automation_event_with_the_right_secret_and_a_bad_page_is_422(fuzzed):
    page = json.loads(json.dumps(STORY_PAGE))
    page["properties"]["Status"]["status"] = ["Generate Prototype"]
    body = json.dumps({**AUTOMATION_EVENT, "data": page}).encode()
    got, reply = fuzzed.webhook(body, {"x-aidlc-automation-secret": AUTOMATION_SECRET})
    assert got == 422 and "data.properties.Status.status" in reply["error"]["message"]
    assert fuzzed.published == []

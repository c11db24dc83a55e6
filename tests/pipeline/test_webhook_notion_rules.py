"""The webhook against Notion's own rules (issue 11, section 2): which events start a run, whose edits are dropped,
the signature's hex case, what is fetched, and a person's re-trigger within the minute Notion rounds edit times to.
Each test failed before its fix."""

from __future__ import annotations

import json

from runtime.notion.errors import NotionUnavailable, NotionValidation
from runtime.pipeline.webhook import notion_signature
from runtime.pipeline.writeback import NotionWriteBack
from tests.pipeline.conftest import TOKEN, event_body, new_story, signed
from tests.pipeline.webhook_fixtures import deliver, story_with_a_run, subscribed  # noqa: F401  (a fixture)


def test_only_a_change_of_the_trigger_property_starts_a_run(subscribed):
    p = subscribed
    story = new_story(p.notion_env, "Edited while waiting")
    priority_id = story["properties"]["Priority"]["id"]
    # The story sits in "Generate Prototype"; someone changes its Priority: no second run.
    reply = deliver(p, story, updated_properties=[priority_id])
    assert reply == {"status": "ignored", "reason": "the trigger property did not change"}
    assert p.queue_depth() == 0
    reply = deliver(p, story, updated_properties=[priority_id, story["properties"]["Status"]["id"]])
    assert reply["status"] == "enqueued" and p.queue_depth() == 1


def test_an_aggregated_event_is_dropped_only_when_every_author_is_our_integration(subscribed):
    p = subscribed
    env = p.notion_env
    bot = {"id": env.emulator.bot_user["id"], "type": "bot"}
    person = {"id": env.emulator.person_user["id"], "type": "person"}
    story = new_story(env, "Two authors")

    def deliver(authors: list[dict]) -> dict:
        event = json.loads(event_body(story, env=env))
        event["authors"] = authors
        body = json.dumps(event).encode()
        return p.webhook(body, signed(body))[1]

    assert deliver([bot, bot])["reason"] == "caused by this integration"
    assert deliver([bot, person])["status"] == "enqueued"  # the person's trigger is not lost
    assert p.queue_depth() == 1


def test_the_signature_hex_digest_is_compared_without_regard_to_case(subscribed):
    p = subscribed
    body = event_body(new_story(p.notion_env, "Upper-case signature"), env=p.notion_env)
    upper = "sha256=" + notion_signature(body, TOKEN).removeprefix("sha256=").upper()
    status, reply = p.webhook(body, {"x-notion-signature": upper})
    assert status == 200 and reply["status"] == "enqueued"
    status, _ = p.webhook(body, {"x-notion-signature": upper[:-1] + ("0" if upper[-1] != "0" else "1")})
    assert status == 401


def test_an_event_for_a_data_source_of_no_project_fetches_nothing(subscribed, notion_contract):
    p = subscribed
    story = new_story(p.notion_env, "Not ours")
    deliver(p, story, event_id="warm-up")  # the bot user is fetched once and kept
    elsewhere = {**story, "parent": {"type": "data_source_id", "data_source_id": "00000000-0000-4000-8000-000000000000",
                                     "database_id": "00000000-0000-4000-8000-000000000001"}}
    sent = notion_contract.checked
    reply = deliver(p, elsewhere)
    assert reply == {"status": "ignored", "reason": "no project for this data source"}
    assert notion_contract.checked == sent  # not one request to Notion


def test_a_persons_retrigger_within_the_same_minute_is_a_new_run(subscribed):
    from datetime import datetime, timezone

    p = subscribed
    env = p.notion_env
    story, first = story_with_a_run(p, "Again, please")
    # The run finishes and writes back; the person sets the trigger again, within the same minute of edit time.
    p.services.invocations.update(first["invocation_id"], {
        "status": "completed", "completed_at": datetime.now(timezone.utc).isoformat()})
    env.bot.set_status(story["id"], "Status", "Prototype Ready")
    env.user.set_status(story["id"], "Status", "Generate Prototype")
    again = env.user.retrieve_page(story["id"])
    same_minute = again["last_edited_time"] == story["last_edited_time"]
    second = deliver(p, again, event_id="evt-again")
    assert second["status"] == "enqueued"
    if same_minute:  # the edit looks like the first one: same name, told apart by the orchestrator
        assert second["invocation_id"] == first["invocation_id"]
    p.drain()
    # Notion delivering the re-trigger's event again is no third run.
    body = event_body(again, env=env, event_id="evt-again")
    p.webhook(body, signed(body))
    p.drain()
    runs = [r for r in p.invocations() if r.notion_page_id == story["id"]]
    assert len(runs) == 2 and len({r.invocation_id for r in runs}) == 2


def test_two_events_for_one_edit_are_one_run(subscribed):
    # page.created is fetched when it is handled, so it can see the Status a person set a moment later: the same
    # edit then arrives as two events (and a database automation can report it a third time).
    p = subscribed
    story = new_story(p.notion_env, "Reported twice")
    deliver(p, story, event_type="page.created")
    deliver(p, story)
    p.drain()
    assert len([r for r in p.invocations() if r.notion_page_id == story["id"]]) == 1


class _FailingNotion:
    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def create_comment(self, *args, **kwargs):
        self.calls += 1
        raise self.error


def test_write_back_does_not_retry_what_cannot_succeed():
    refused = _FailingNotion(NotionValidation("body failed validation", status=400, code="validation_error"))
    outcome = NotionWriteBack(refused, retry_delays=(0, 0, 0), sleep=lambda _: None).notify("page", "text")
    assert refused.calls == 1 and not outcome.delivered
    down = _FailingNotion(NotionUnavailable("no response", status=503, code="service_unavailable"))
    NotionWriteBack(down, retry_delays=(0, 0, 0), sleep=lambda _: None).notify("page", "text")
    assert down.calls == 4  # an outage is worth the retries

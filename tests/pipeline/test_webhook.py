"""The webhook handler, with API Gateway HTTP API v2 events, moto, and the Notion emulator on loopback."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.models import QueueMessage
from runtime.pipeline.webhook import invocation_id_for, notion_signature, signature_matches
from tests.pipeline.conftest import TOKEN, event_body, new_story, signed
from tests.pipeline.webhook_fixtures import deliver, subscribed  # noqa: F401  (a fixture)

FIXTURES = Path("/work/shared/fixtures/notion")
if not FIXTURES.exists():  # the shared folder sits beside the repository
    FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "notion"


def test_signature_vector_from_the_fixtures():
    body = (FIXTURES / "page_properties_updated.json").read_bytes()
    vector = (FIXTURES / "signature_vector.txt").read_text()
    key = vector.split("key:")[1].split()[0]
    header = vector.split("X-Notion-Signature:")[1].split()[0]
    assert notion_signature(body, key) == header
    assert signature_matches(body, header, key)
    assert not signature_matches(body + b" ", header, key)
    assert not signature_matches(body, header, key + "x")
    assert not signature_matches(body, None, key)


def test_verification_request_stores_the_token_once(pipeline):
    body = (FIXTURES / "verification_request.json").read_bytes()
    status, reply = pipeline.webhook(body)
    assert (status, reply) == (200, {"status": "verified"})
    assert pipeline.services.secrets.get(pipeline.names["secrets"]["webhook-verification-token"]) == TOKEN
    # A second "verification" (anyone can POST one) must not replace the stored token.
    status, reply = pipeline.webhook(json.dumps({"verification_token": "secret_attacker"}).encode())
    assert status == 401 and reply["error"]["code"] == "INVALID_WEBHOOK"
    pipeline.services.secrets._cache.clear()
    assert pipeline.services.secrets.get(pipeline.names["secrets"]["webhook-verification-token"]) == TOKEN


def test_verification_through_the_emulator_subscription(pipeline, tmp_path):
    """The emulator POSTs the token to a real loopback URL that feeds the handler an API Gateway event."""
    from starlette.applications import Starlette

    from runtime.local.notion_emulator import NotionEmulator

    emulator = NotionEmulator(tmp_path)  # its own: the subscription must not outlive this test
    from starlette.responses import Response
    from starlette.routing import Route

    from runtime.local.server import serve

    async def endpoint(request):
        status, reply = pipeline.webhook(await request.body(), dict(request.headers))
        return Response(json.dumps(reply), status_code=status, media_type="application/json")

    with serve(Starlette(routes=[Route("/webhook/notion", endpoint, methods=["POST"])])) as server:
        token = emulator.subscribe(f"{server.base_url}/webhook/notion", event_types=["page.created"])
    assert pipeline.services.secrets.get(pipeline.names["secrets"]["webhook-verification-token"]) == token


def test_a_signed_event_for_a_story_in_a_trigger_status_enqueues_its_snapshot(subscribed):
    p = subscribed
    story = new_story(p.notion_env, "Drag widgets between columns")
    reply = deliver(p, story)
    assert reply["status"] == "enqueued" and reply["agent_type"] == "mock"
    [sent] = p.receive()
    message = QueueMessage.model_validate_json(sent["Body"])
    assert message.invocation_id == reply["invocation_id"]
    assert message.notion_page_id == story["id"] and message.trigger_value == "Generate Prototype"
    assert message.page_snapshot.title == "Drag widgets between columns"
    assert "As a user I want drag widgets" in message.page_snapshot.content_markdown
    assert message.page_snapshot.acceptance_criteria == ["it works", "it is fast"]
    assert sent["Attributes"]["MessageGroupId"] == story["id"]


def test_a_base64_encoded_body_is_verified_over_its_raw_bytes(subscribed):
    from runtime.handlers import webhook
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    p = subscribed
    body = event_body(new_story(p.notion_env, "Base64 story"), env=p.notion_env)
    event = http_api_event("POST", "/webhook/notion", headers=signed(body), body=body)
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    result = webhook.handler(event, LocalLambdaContext(function_name="webhook"))
    assert result["statusCode"] == 200 and json.loads(result["body"])["status"] == "enqueued"


@pytest.mark.parametrize(
    "headers, expected",
    [({}, 401), ({"x-notion-signature": "sha256=" + "0" * 64}, 401), ({"x-notion-signature": ""}, 401)],
)
def test_missing_or_bad_signature_is_refused_with_nothing_enqueued(subscribed, headers, expected):
    p = subscribed
    body = event_body(new_story(p.notion_env, "Unsigned"), env=p.notion_env)
    status, reply = p.webhook(body, headers)
    assert status == expected and reply["error"]["code"] == "INVALID_WEBHOOK"
    assert reply["error"]["remediation"]
    assert p.queue_depth() == 0 and p.invocations() == []


@pytest.mark.parametrize("body, status, code", [
    pytest.param(b'{"type": "page.properties_updated", ', 400, "INVALID_REQUEST", id="malformed-json-is-400"),
    pytest.param(json.dumps({"type": "page.created", "padding": "x" * (256 * 1024)}).encode(), 413,
                 "PAYLOAD_TOO_LARGE", id="over-256-kib-is-413"),
])
def test_a_validly_signed_body_that_is_no_event_is_refused_with_nothing_enqueued(subscribed, body, status, code):
    p = subscribed
    answer, reply = p.webhook(body, signed(body))
    assert answer == status and reply["error"]["code"] == code
    assert p.queue_depth() == 0


def assert_ignored(p, story: dict, because: str = "", **event) -> None:
    """The signed event for `story` (`event_body`'s options) is a 200 no-op whose reason names `because`."""
    reply = deliver(p, story, **event)
    assert reply["status"] == "ignored" and because in reply["reason"]
    assert p.queue_depth() == 0


def test_an_unknown_event_type_is_a_200_no_op(subscribed):
    assert_ignored(subscribed, new_story(subscribed.notion_env, "Commented"), event_type="comment.created")


def test_a_status_that_is_not_a_trigger_is_a_200_no_op(subscribed):
    assert_ignored(subscribed, new_story(subscribed.notion_env, "Just ready", status="Ready"), "'Ready'")


def test_an_event_authored_by_our_own_bot_is_ignored(subscribed):
    bot = subscribed.notion_env.emulator.bot_user
    assert_ignored(subscribed, new_story(subscribed.notion_env, "Bot wrote"), "integration",
                   author={"id": bot["id"], "type": "bot"})


def test_a_page_last_edited_by_our_bot_is_ignored_even_when_a_person_is_named(subscribed):
    """Our write-back set the status: the page's last_edited_by is the bot, whatever the event's authors say."""
    story = new_story(subscribed.notion_env, "Written back", status="Ready")
    subscribed.notion_env.bot.set_status(story["id"], "Status", "Generate Prototype")
    assert_ignored(subscribed, story)


def test_automation_webhook_uses_the_page_in_the_body(notion_pipeline):
    p = notion_pipeline
    p.put_secret("automation-secret", "auto-shared-secret")
    story = new_story(p.notion_env, "From an automation")
    body = json.dumps({"source": {"type": "automation", "automation_id": "a", "action_id": "b",
                                  "event_id": "e-1", "attempt": 1}, "data": story}).encode()
    headers = {"x-aidlc-automation-secret": "auto-shared-secret", "user-agent": "NotionAutomation"}
    status, reply = p.webhook(body, headers)
    assert status == 200 and reply["status"] == "enqueued"
    assert p.queue_depth() == 1
    status, reply = p.webhook(body, {"x-aidlc-automation-secret": "wrong"})
    assert status == 401 and reply["error"]["code"] == "INVALID_WEBHOOK"
    assert p.queue_depth() == 1


def test_the_same_event_delivered_8_times_gives_one_invocation(subscribed):
    p = subscribed
    body = event_body(new_story(p.notion_env, "Retried by Notion"), env=p.notion_env, event_id="evt-retried")
    replies = [p.webhook(body, signed(body)) for _ in range(8)]
    assert {status for status, _ in replies} == {200}
    assert len({reply["invocation_id"] for _, reply in replies}) == 1
    p.drain()
    assert len(p.invocations()) == 1 and len(p.invoker.requests) == 1


def test_a_delivery_that_fails_before_its_send_is_enqueued_once_when_notion_delivers_it_again(subscribed):
    # The event's idempotency record is the only one on this path: a send that fails must leave no record behind
    # that would answer the redelivery without sending (a story lost), and the redeliveries after the send must
    # send nothing (a story run twice).
    p = subscribed
    queue = p.services.webhook.queue
    publish, failures = queue.publish, []

    def flaky_publish(message):
        if not failures:
            failures.append(message.invocation_id)
            raise ConnectionError("SQS unreachable")  # at the boundary: the send itself
        return publish(message)

    queue.publish = flaky_publish
    body = event_body(new_story(p.notion_env, "Sent on the second try"), env=p.notion_env, event_id="evt-flaky")
    status, _ = p.webhook(body, signed(body))
    assert status == 500 and p.queue_depth() == 0  # Notion delivers a 5xx'd event again
    replies = [p.webhook(body, signed(body)) for _ in range(3)]
    assert [status for status, _ in replies] == [200] * 3
    assert {reply["invocation_id"] for _, reply in replies} == set(failures)
    assert p.queue_depth() == 1


def test_each_notion_event_that_changes_the_trigger_reaches_the_queue_even_within_one_minute(subscribed):
    # Notion rounds last_edited_time to the minute, so a Status set again within a minute looks like the same edit;
    # each is its own event, so both are queued, and the orchestrator tells a re-trigger (the named run had
    # finished) from a duplicate (tests/pipeline/test_webhook_notion_rules.py). The same event delivered again is
    # queued once (test_the_same_event_delivered_8_times_gives_one_invocation).
    p = subscribed
    env = p.notion_env
    story = new_story(env, "Moved twice")
    body = event_body(story, env=env)
    p.webhook(body, signed(body))
    assert p.queue_depth() == 1
    env.user.set_status(story["id"], "Status", "Ready")
    env.user.set_status(story["id"], "Status", "Generate Prototype")
    body = event_body(env.user.retrieve_page(story["id"]), env=env)
    status, reply = p.webhook(body, signed(body))
    assert reply["status"] == "enqueued"
    assert p.queue_depth() == 2


edit_times = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda t: t.replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:00.000Z"))  # Notion's minute rounding


@settings(deadline=None)  # examples: the Hypothesis profile (tests/conftest.py)
@given(edits=st.lists(st.tuples(st.uuids().map(str), st.sampled_from(["Generate Prototype", "Generate Variants"]),
                                edit_times), min_size=1, max_size=6, unique=True),
       data=st.data())
def test_property_duplicated_and_reordered_deliveries_of_n_edits_name_n_runs(edits, data):
    # The dedup decision itself: every delivery of an edit (again, in any order, from the webhook or the sweeper)
    # names the same run, and distinct edits name distinct runs; the orchestrator's put-if-absent then creates each
    # named run once (the integration example below).
    extra = data.draw(st.lists(st.sampled_from(edits), max_size=3 * len(edits)), label="extra")
    deliveries = data.draw(st.permutations(edits + extra), label="order")
    named = {(page, trigger, edited): invocation_id_for(page, trigger, edited) for page, trigger, edited in deliveries}
    assert len(named) == len(edits) and len(set(named.values())) == len(edits)
    assert all(invocation_id_for(*edit) == run for edit, run in named.items())


def test_duplicated_and_reordered_deliveries_of_3_events_give_3_invocations(subscribed):
    p = subscribed
    stories = [new_story(p.notion_env, f"Delivered again {i}") for i in range(3)]
    bodies = [event_body(story, env=p.notion_env) for story in stories]
    for index in [2, 0, 2, 1, 0, 2]:
        status, reply = p.webhook(bodies[index], signed(bodies[index]))
        assert status == 200 and reply["status"] in ("enqueued", "in_progress"), reply
    p.drain()
    created = p.invocations()
    assert len(created) == 3
    assert {r.notion_page_id for r in created} == {s["id"] for s in stories}


def test_a_page_created_event_in_a_data_source_of_no_project_is_a_200_no_op(subscribed):
    p = subscribed
    story = new_story(p.notion_env, "Elsewhere")
    story = {**story, "parent": {"type": "data_source_id", "data_source_id": "00000000-0000-0000-0000-000000000000"}}
    from runtime.pipeline.services import get_services

    reply = get_services().webhook.from_page(story)
    assert reply.status == 200 and reply.body["status"] == "ignored" and "no project" in reply.body["reason"]
    assert p.queue_depth() == 0


def test_page_created_events_are_accepted_too(subscribed):
    reply = deliver(subscribed, new_story(subscribed.notion_env, "Created in trigger"), event_type="page.created")
    assert reply["status"] == "enqueued"


def test_a_body_that_is_not_base64_is_400(pipeline):
    from runtime.handlers import webhook
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    event = http_api_event("POST", "/webhook/notion", headers={}, body=b"x")
    event["body"], event["isBase64Encoded"] = "***not base64***", True
    result = webhook.handler(event, LocalLambdaContext(function_name="webhook"))
    assert result["statusCode"] == 400 and pipeline.queue_depth() == 0

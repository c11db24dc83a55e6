"""Threads and notifications (seed 003 properties 2 and 4), rate limits, no duplicates: the real notifier and
slack_sdk against the local Slack emulator."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError

from runtime.models import SlackOrigin
from runtime.slack.messages import Link, Notice, State
from runtime.slack.notifier import SlackNotifier, web_client

STATES = list(State)


@pytest.fixture(scope="module")
def notifier(slack):
    return SlackNotifier(web_client(slack.bot_token, slack.api_base))


def _keys(messages: list[dict]) -> list[str]:
    return [m["metadata"]["event_payload"]["key"] for m in messages if "metadata" in m]


@settings(max_examples=100, deadline=None)  # fewer than the profile's 200: each example posts up to 42 messages
@given(plans=st.lists(st.lists(st.sampled_from(STATES), min_size=1, max_size=6), min_size=2, max_size=6))
def test_concurrent_workflows_each_keep_their_own_thread(slack, notifier, plans):
    """Feature: agent-onboarding-provisioning, Property 2: Thread Isolation — for any set of concurrent workflows,
    each keeps its own Slack thread with no message cross-contamination; and Property 4: Notification Delivery
    Completeness — every state change is posted. (Shown to fail: a notifier that posts each notice into the
    thread it last posted to, instead of the origin's, mixes the workflows' keys.)"""
    workflows = [(f"wf-{uuid.uuid4().hex[:12]}", plan) for plan in plans]

    def run(workflow_id: str, plan: list[State]) -> SlackOrigin:
        ts = notifier.open_thread(slack.channel_id, f"workflow {workflow_id}", key=f"{workflow_id}:-:requested")
        origin = SlackOrigin(channel=slack.channel_id, thread_ts=ts, user=slack.person.id)
        for index, state in enumerate(plan):
            notifier.notify(origin, Notice(workflow_id, state, f"{state.value} {index}", step=str(index)))
        return origin

    with ThreadPoolExecutor(max_workers=len(workflows)) as pool:
        origins = list(pool.map(lambda w: run(*w), workflows))
    for (workflow_id, plan), origin in zip(workflows, origins):
        thread = slack.thread(origin.thread_ts)
        keys = _keys(thread)
        assert all(key.startswith(workflow_id + ":") for key in keys), keys
        expected = [f"{workflow_id}:-:requested"] + [f"{workflow_id}:{i}:{s.value}" for i, s in enumerate(plan)]
        assert sorted(keys) == sorted(expected)


def test_a_retried_notice_posts_once_and_stakeholders_are_mentioned(slack, notifier):
    ts = notifier.open_thread(slack.channel_id, "root")
    origin = SlackOrigin(channel=slack.channel_id, thread_ts=ts, user=slack.person.id,
                         stakeholders=[slack.approver.id])
    notice = Notice("wf-dup", State.COMPLETED, "prototype ready", step="r1",
                    links=(Link("Prototype", "http://127.0.0.1/p/index.html"),))
    _, first = notifier.notify(origin, notice)
    _, again = notifier.notify(origin, notice)
    assert first is not None and again is None
    [posted] = [m for m in slack.thread(ts) if m["ts"] != ts]
    assert f"<@{slack.approver.id}>" in posted["text"]
    assert "<http://127.0.0.1/p/index.html|Prototype>" in posted["text"]


def test_failure_notice_carries_error_and_remediation(slack, notifier):
    ts = notifier.open_thread(slack.channel_id, "root")
    origin = SlackOrigin(channel=slack.channel_id, thread_ts=ts)
    notifier.notify(origin, Notice("wf-f", State.FAILED, "mock failed", error="AGENT_TIMEOUT: took too long",
                                   remediation="Split the story"))
    [posted] = [m for m in slack.thread(ts) if m["ts"] != ts]
    assert "AGENT_TIMEOUT: took too long" in posted["text"] and "Split the story" in posted["text"]


def test_no_thread_yet_opens_one(slack, notifier):
    origin, ts = notifier.notify(SlackOrigin(channel=slack.channel_id), Notice("wf-new", State.STARTED, "go"))
    assert origin.thread_ts == ts and slack.thread(ts)[0]["text"].startswith("*:arrow_forward: Started*")


def test_429_is_waited_out_with_retry_after(slack, notifier):
    ts = notifier.open_thread(slack.channel_id, "root")
    slack.rate_limit("chat.postMessage", count=2, retry_after=0)
    before = len([c for c in slack.calls if c[0] == "chat.postMessage"])
    notifier.say(slack.channel_id, ts, "after the limit")
    assert len([c for c in slack.calls if c[0] == "chat.postMessage"]) == before + 1  # posted once
    assert [m["text"] for m in slack.thread(ts)][-1] == "after the limit"


def test_429_past_the_retries_is_an_error_not_a_duplicate(slack):
    client = web_client(slack.bot_token, slack.api_base, rate_limit_retries=1)
    slack.rate_limit("chat.postMessage", count=2, retry_after=0)
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=slack.channel_id, text="never")
    assert caught.value.response.status_code == 429 and caught.value.response["error"] == "ratelimited"
    retry_after = {k.lower(): v for k, v in caught.value.response.headers.items()}["retry-after"]
    assert retry_after in ("0", ["0"])  # slack_sdk keeps header values as lists


# --- the emulator, through slack_sdk as shipped --------------------------------------------------------------


def test_emulator_speaks_slack_through_slack_sdk(slack):
    bot = web_client(slack.bot_token, slack.api_base)
    person = web_client(slack.user_token, slack.api_base)
    assert bot.auth_test()["user_id"] == slack.bot.id and bot.auth_test()["bot_id"] == slack.bot.id.replace("U", "B", 1)
    assert person.auth_test()["user_id"] == slack.person.id and "bot_id" not in person.auth_test().data
    ts = bot.chat_postMessage(channel=slack.channel_id, text="v1")["ts"]
    assert bot.chat_update(channel=slack.channel_id, ts=ts, text="v2")["text"] == "v2"
    for i in range(3):
        person.chat_postMessage(channel=slack.channel_id, thread_ts=ts, text=f"reply {i}")
    first = bot.conversations_replies(channel=slack.channel_id, ts=ts, limit=2)
    assert [m["text"] for m in first["messages"]] == ["v2", "reply 0"] and first["has_more"]
    rest = bot.conversations_replies(channel=slack.channel_id, ts=ts, limit=2,
                                     cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["reply 1", "reply 2"] and not rest["has_more"]
    assert rest["messages"][0]["parent_user_id"] == slack.bot.id
    assert bot.users_info(user=slack.approver.id)["user"]["real_name"] == "Sam Lead"
    bot.reactions_add(channel=slack.channel_id, name="eyes", timestamp=ts)
    errors = {
        "channel_not_found": lambda: bot.chat_postMessage(channel="C0NOPE", text="x"),
        "thread_not_found": lambda: bot.chat_postMessage(channel=slack.channel_id, thread_ts="1.2", text="x"),
        "message_not_found": lambda: bot.chat_update(channel=slack.channel_id, ts="1.2", text="x"),
        "cant_update_message": lambda: person.chat_update(channel=slack.channel_id, ts=ts, text="x"),
        "user_not_found": lambda: bot.users_info(user="U0NOBODY"),
        "already_reacted": lambda: bot.reactions_add(channel=slack.channel_id, name="eyes", timestamp=ts),
        "invalid_auth": lambda: web_client("xoxb-wrong", slack.api_base).auth_test(),
        "no_text": lambda: bot.chat_postMessage(channel=slack.channel_id, text=""),
    }
    for error, call in errors.items():
        with pytest.raises(SlackApiError) as caught:
            call()
        assert caught.value.response["ok"] is False and caught.value.response["error"] == error


def test_emulator_signs_events_and_retries_with_retry_num(slack):
    """A receiver that checks signatures with slack_sdk's verifier and fails the first delivery."""
    from slack_sdk.signature import SignatureVerifier
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from runtime.local.server import serve

    seen: list[tuple[bool, str | None, dict]] = []

    async def events(request):
        body = await request.body()
        import json

        valid = SignatureVerifier(slack.signing_secret).is_valid_request(body, dict(request.headers))
        seen.append((valid, request.headers.get("x-slack-retry-num"), json.loads(body)))
        return JSONResponse({}, status_code=500 if len(seen) == 1 else 200)

    with serve(Starlette(routes=[Route("/events", events, methods=["POST"])])) as receiver:
        saved = slack.app
        slack.connect(events_url=receiver.base_url + "/events", commands_url="", interactivity_url="")
        try:
            web_client(slack.user_token, slack.api_base).chat_postMessage(
                channel=slack.channel_id, text=f"<@{slack.bot.id}> help")
            slack.flush_events()
        finally:
            slack.app = saved
    assert all(valid for valid, _, _ in seen)
    message_deliveries = [s for s in seen if s[2]["event"]["type"] == "message"]
    assert [retry for _, retry, _ in message_deliveries] == [None, "1"]  # failed once, retried with the number
    assert message_deliveries[0][2]["event_id"] == message_deliveries[1][2]["event_id"]
    assert [s[2]["event"]["type"] for s in seen].count("app_mention") == 1

"""The Slack endpoints: signatures, the challenge, retries and duplicates, our own messages, routing, approvals."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from urllib.parse import urlencode

from runtime.slack.messages import APPROVE_ACTION, REJECT_ACTION, Notice, State, render
from tests.slack.conftest import SECRET, notion_url


def mention_event(door, text: str, *, event_id: str | None = None, user: str | None = None, **extra) -> bytes:
    event = {"type": "app_mention", "user": user or door.slack.person.id, "text": text,
             "ts": "1700000000.000100", "channel": door.slack.channel_id, "event_ts": "1700000000.000100", **extra}
    return json.dumps({"type": "event_callback", "team_id": "T0AIDLC01", "event": event,
                       "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": 1700000000}).encode()


# --- signatures --------------------------------------------------------------------------------------------


def test_good_signature_starts_one_run_with_its_thread(door):
    page_id = door.notion.add_page()
    reply = door.command(f"run mock {notion_url(page_id)} <@{door.slack.approver.id}>")
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "enqueued" and reply.body["response_type"] == "ephemeral"
    [message] = door.queue.messages
    assert message.agent_type == "mock" and message.notion_page_id == page_id
    assert message.trigger_value == "Generate Prototype"  # the same task the Notion door enqueues
    assert message.slack.channel == door.slack.channel_id and message.slack.user == door.slack.person.id
    assert message.slack.stakeholders == [door.slack.approver.id]
    root = door.slack.thread(message.slack.thread_ts)
    assert message.invocation_id in root[0]["text"]  # the thread's first message names the workflow


def test_bad_signature_is_401_and_enqueues_nothing(door):
    page_id = door.notion.add_page()
    body = urlencode({"command": "/aidlc", "text": f"run mock {notion_url(page_id)}", "user_id": "U1",
                      "channel_id": door.slack.channel_id, "trigger_id": "t1"}).encode()
    reply = door.signed("commands", body, secret="not-the-secret")
    assert reply.status == 401
    tampered = door.ingress.handle("commands", body + b"&x=1", _headers_for(door, body))
    assert tampered.status == 401
    missing = door.ingress.handle("commands", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert missing.status == 401
    assert door.queue.messages == []


def _headers_for(door, body: bytes) -> dict:
    from runtime.local.slack_emulator import sign

    return sign(SECRET, body, int(door.clock[0]))


def test_stale_timestamp_is_401_inside_the_window_is_not(door):
    body = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    assert door.signed("events", body, at=door.clock[0] - 301).status == 401
    assert door.signed("events", body, at=door.clock[0] + 301).status == 401
    assert door.signed("events", body, at=door.clock[0] - 290).status == 200


def test_a_replayed_signed_request_starts_nothing_more(door):
    page_id = door.notion.add_page()
    body = urlencode({"command": "/aidlc", "text": f"run mock {notion_url(page_id)}", "user_id": "U0PRIYA001",
                      "channel_id": door.slack.channel_id, "trigger_id": "1.2.replayed"}).encode()
    first = door.signed("commands", body)
    again = door.signed("commands", body)
    assert first.status == again.status == 200
    assert again.body == first.body  # the first answer, replayed
    assert len(door.queue.messages) == 1


def test_url_verification_challenge(door):
    body = json.dumps({"token": "x", "type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).encode()
    reply = door.signed("events", body)
    assert reply.status == 200 and reply.body == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert door.ingress.handle("events", body, {}).status == 401  # unsigned: no challenge answered


# --- retries, duplicates, our own messages -------------------------------------------------------------------


def test_slack_retries_and_duplicate_event_ids_give_one_run(door):
    page_id = door.notion.add_page()
    body = mention_event(door, f"<@{door.slack.bot.id}> run mock {notion_url(page_id)}", event_id="EvRETRY0001")
    answers = [door.signed("events", body)]
    for attempt in (1, 2, 3):
        answers.append(door.signed("events", body, headers={"X-Slack-Retry-Num": str(attempt),
                                                            "X-Slack-Retry-Reason": "http_timeout"}))
    assert {a.status for a in answers} == {200}
    assert len(door.queue.messages) == 1
    # A different event id is a different request: the dedup is per id, not per text.
    door.signed("events", mention_event(door, f"<@{door.slack.bot.id}> run mock {notion_url(page_id)}"))
    assert len(door.queue.messages) == 2


def test_our_own_and_other_bots_messages_are_ignored(door):
    page_id = door.notion.add_page()
    text = f"<@{door.slack.bot.id}> run mock {notion_url(page_id)}"
    posted_before = len(door.slack.calls)
    ours = door.signed("events", mention_event(door, text, user=door.slack.bot.id))
    a_bot = door.signed("events", mention_event(door, text, bot_id="B0OTHER", subtype="bot_message"))
    edited = door.signed("events", mention_event(door, text, subtype="message_changed"))
    assert [r.body["status"] for r in (ours, a_bot, edited)] == ["ignored"] * 3
    assert door.queue.messages == []
    assert not [c for c in door.slack.calls[posted_before:] if c[0] == "chat.postMessage"]


def test_a_mention_in_a_thread_answers_in_that_thread(door):
    body = mention_event(door, f"<@{door.slack.bot.id}> what's up", thread_ts=None)
    ts = door.slack.call("chat.postMessage", {"channel": door.slack.channel_id, "text": "hi"}, door.slack.user_token)["ts"]
    body = mention_event(door, f"<@{door.slack.bot.id}> make me a sandwich", ts=ts)
    reply = door.signed("events", body)
    assert reply.body["status"] == "not_understood"
    [answer] = [m for m in door.slack.thread(ts) if m["ts"] != ts]
    assert "I did not understand; try /aidlc help" in answer["text"]


# --- routing -------------------------------------------------------------------------------------------------


def test_help_status_cancel_and_free_text(door):
    assert "/aidlc run <agent>" in door.command("help").body["text"]
    workflow = "01JBCDEFGHJKMNPQRSTVWXYZ00"
    assert door.command(f"status {workflow}").body["text"] == f"status of {workflow}"
    assert door.command(f"cancel {workflow}").body["text"] == f"cancelled {workflow}"
    assert door.control.calls == [("status", workflow), ("cancel", workflow, door.slack.person.id)]
    free = door.command("please build me a website")
    assert free.status == 200 and free.body["text"].startswith("I did not understand; try /aidlc help")
    unknown_story = door.command(f"run mock {notion_url(str(uuid.uuid4()))}")
    assert "cannot read that Notion story" in unknown_story.body["text"]
    assert door.queue.messages == []


def test_a_story_outside_every_project_is_refused(door):
    page_id = door.notion.add_page(data_source="ds-of-no-project")
    reply = door.command(f"run mock {notion_url(page_id)}")
    assert reply.status == 200 and "not in a project" in reply.body["text"]
    assert door.queue.messages == []


# --- buttons -------------------------------------------------------------------------------------------------


def _approval_message(door) -> str:
    notice = Notice("01JBCDEFGHJKMNPQRSTVWXYZ01", State.WAITING_FOR_APPROVAL, "deploy to prod?", step="deploy",
                    project_id="acme")
    return door.slack.call("chat.postMessage", {"channel": door.slack.channel_id, **render(notice)},
                           door.slack.bot_token)["ts"]


def _click(door, ts: str, action: str, user: str, message: dict | None = None):
    message = message or next(m for m in door.slack.thread(ts) if m["ts"] == ts)
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == action)
    payload = {"type": "block_actions", "user": {"id": user}, "trigger_id": uuid.uuid4().hex,
               "container": {"type": "message", "message_ts": ts, "channel_id": door.slack.channel_id},
               "channel": {"id": door.slack.channel_id}, "message": message,
               "actions": [{"action_id": action, "value": button["value"], "type": "button"}]}
    return door.signed("interactivity", urlencode({"payload": json.dumps(payload)}).encode())


def test_approval_buttons_only_from_approvers(door):
    ts = _approval_message(door)
    shown = next(m for m in door.slack.thread(ts) if m["ts"] == ts)  # as a second person still sees it
    refused = _click(door, ts, APPROVE_ACTION, door.slack.person.id)
    assert refused.body["status"] == "refused"
    assert door.approvals.decision("01JBCDEFGHJKMNPQRSTVWXYZ01", "deploy") is None
    approved = _click(door, ts, APPROVE_ACTION, door.slack.approver.id)
    assert approved.body["status"] == "approved"
    assert door.approvals.decision("01JBCDEFGHJKMNPQRSTVWXYZ01", "deploy") == {"approved": True,
                                                                              "user": door.slack.approver.id}
    late = _click(door, ts, REJECT_ACTION, door.slack.approver.id, message=shown)
    assert late.body["status"] == "already_decided"  # first decision wins
    updated = next(m for m in door.slack.thread(ts) if m["ts"] == ts)
    assert f"Approved by <@{door.slack.approver.id}>" in updated["text"]
    assert not any(b["type"] == "actions" for b in updated["blocks"])  # the buttons are gone


def test_oversized_and_malformed_bodies(door):
    big = b"x" * (256 * 1024 + 1)
    assert door.signed("events", big).status == 413
    assert door.signed("events", b"{not json").status == 400
    assert door.signed("events", json.dumps({"type": "event_callback"}).encode()).status == 400
    assert door.signed("commands", b"text=hi").status == 400
    assert door.signed("interactivity", b"payload=%7Bnope").status == 400
    ts = str(int(door.clock[0]))
    raw = b"\xff\xfe"
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    not_utf8 = door.ingress.handle("events", raw, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
    assert not_utf8.status == 400
    assert door.queue.messages == []

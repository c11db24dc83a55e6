"""Done when: in the local stack, `/aidlc run mock <story url>` typed in the Slack emulator yields the prototype link
in the workflow's thread and the Notion story written back, as from the Notion door. Over HTTP only: the emulator
signs and posts the slash command to the stack's /slack/commands, and the scripts act as a person with slack_sdk."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from slack_sdk import WebClient

from tests.conftest import needs_chromium


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from runtime.local.stack import LocalStack, StackOptions

    local = LocalStack(StackOptions(port=0, state_dir=tmp_path_factory.mktemp("slack-stack"), sweep_interval_seconds=30))
    local.start()
    yield local
    local.stop()


def _story(stack, title: str) -> dict:
    with httpx.Client(base_url=stack.info.notion_api_base, timeout=30, headers={
            "Authorization": f"Bearer {stack.info.notion_user_token}", "Notion-Version": "2025-09-03"}) as notion:
        created = notion.post("/v1/pages", json={
            "parent": {"type": "data_source_id", "data_source_id": stack.info.stories_data_source_id},
            "properties": {"Name": {"title": [{"type": "text", "text": {"content": title}}]},
                           "Acceptance Criteria": {"rich_text": [{"type": "text", "text": {
                               "content": "- Totals update as filters change"}}]}}})
        assert created.status_code == 200, created.text
        return created.json()


def _thread(client: WebClient, channel: str, ts: str) -> list[dict]:
    return client.conversations_replies(channel=channel, ts=ts, limit=200)["messages"]


def test_dev_info_has_the_slack_fields(stack):
    info = httpx.get(f"{stack.info.api_base}/dev/info", timeout=10).json()
    for key in ("slack_api_base", "slack_bot_token", "slack_user_token", "slack_signing_secret", "slack_channel_id",
                "slack_events_url", "slack_commands_url", "slack_interactivity_url"):
        assert info[key], key
    assert WebClient(token=info["slack_user_token"], base_url=info["slack_api_base"]).auth_test()["ok"]


def test_slash_command_runs_mock_and_posts_the_prototype_in_its_thread(stack):
    info = httpx.get(f"{stack.info.api_base}/dev/info", timeout=10).json()
    story = _story(stack, "Team lead filters the revenue report")
    status, answer = stack.slack.command(f"run mock {story['url']} <@{stack.slack.approver.id}>")
    assert status == 200 and "workflow" in answer["text"], answer
    workflow_id = answer["invocation_id"]
    thread_ts = answer["thread_ts"]
    person = WebClient(token=info["slack_user_token"], base_url=info["slack_api_base"])

    def prototype_posted():
        return [m for m in _thread(person, info["slack_channel_id"], thread_ts) if "/prototypes/" in m["text"]]

    deadline = time.monotonic() + 180
    while not prototype_posted() and time.monotonic() < deadline:
        time.sleep(0.5)
    [posted] = prototype_posted()
    assert f"<@{stack.slack.approver.id}>" in posted["text"]  # the stakeholder named in the request
    [prototype_url] = re.findall(r"<(https?://[^|>]+/prototypes/[^|>]+)\|", posted["text"])
    page = httpx.get(prototype_url, timeout=30)
    assert page.status_code == 200 and "Totals update as filters change" in page.text

    record = httpx.get(f"{stack.info.api_base}/invocation/{workflow_id}", timeout=30).json()
    assert record["status"] == "completed" and record["input_context"]["slack"]["thread_ts"] == thread_ts

    # Written back to Notion as from the Notion door: the status, and the comment with the prototype link.
    def written_back():
        with httpx.Client(base_url=stack.info.notion_api_base, timeout=30, headers={
                "Authorization": f"Bearer {stack.info.notion_user_token}", "Notion-Version": "2025-09-03"}) as notion:
            page_now = notion.get(f"/v1/pages/{story['id']}").json()
            comments = notion.get("/v1/comments", params={"block_id": story["id"]}).json()["results"]
        text = " ".join(rt["plain_text"] for c in comments for rt in c["rich_text"])
        # The status is the chain's latest (the chained demo deck's after it); the comment is mock's own.
        return page_now["properties"]["Status"]["status"]["name"] != "Not started" and prototype_url in text
    stack.wait_for(written_back, timeout=60, what="the Notion write-back")
    delivered = httpx.get(f"{stack.info.api_base}/invocation/{workflow_id}", timeout=30).json()
    assert delivered["delivery_status"] == "delivered"

    # Every message of this thread is this workflow's (thread isolation across the chain, mock then demo_deck).
    keys = [m.get("metadata", {}).get("event_payload", {}).get("key", "")
            for m in stack.slack.thread(thread_ts)]
    assert all(key.startswith(workflow_id) for key in keys if key), keys
    assert any(key.endswith(":started") for key in keys) and any(key.endswith(":completed") for key in keys)


def test_status_help_and_bad_requests_over_http(stack):
    status, answer = stack.slack.command("help")
    assert status == 200 and "/aidlc run" in answer["text"]
    status, answer = stack.slack.command("make it pop")
    assert status == 200 and answer["text"].startswith("I did not understand; try /aidlc help")
    unsigned = httpx.post(stack.info.slack_commands_url, content=b"command=%2Faidlc&text=help",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert unsigned.status_code == 401
    forged = httpx.post(stack.info.slack_events_url, content=json.dumps({"type": "url_verification",
                                                                         "challenge": "x"}).encode(),
                        headers={"X-Slack-Request-Timestamp": str(int(time.time())),
                                 "X-Slack-Signature": "v0=" + "0" * 64}, timeout=10)
    assert forged.status_code == 401


@needs_chromium
def test_channel_view_in_headless_chromium(stack, browser):
    """A person types `/aidlc run mock <story>` in the channel view, sees the thread fill in, and presses a button
    (here: an approval notice's Approve, as a non-approver first, then as the approver)."""
    from runtime.slack.messages import Notice, State, render

    story = _story(stack, "Support agent merges duplicate tickets")
    page = browser.new_page()
    page.goto(stack.info.slack_channel_url)
    page.fill("#text", f"/aidlc run mock {story['url']}")
    page.click("#send")
    page.wait_for_function("document.getElementById('answer').textContent.includes('workflow')", timeout=30_000)
    page.wait_for_function("[...document.querySelectorAll('.thread pre')].some(p => p.textContent.includes("
                           "'/prototypes/'))", timeout=180_000)

    notice = Notice("01JBCDEFGHJKMNPQRSTVWXYZ02", State.WAITING_FOR_APPROVAL, "deploy the package?",
                    step="deploy", project_id=stack.project.project_id)
    ts = WebClient(token=stack.info.slack_bot_token, base_url=stack.info.slack_api_base).chat_postMessage(
        channel=stack.info.slack_channel_id, **render(notice))["ts"]
    approve = page.locator(f"[data-ts='{ts}'] button[data-action='aidlc_approve']")
    approve.wait_for(timeout=10_000)
    page.select_option("#as", stack.slack.person.id)
    approve.click()
    page.wait_for_function("document.getElementById('answer').textContent.includes('refused')", timeout=10_000)
    page.select_option("#as", stack.slack.approver.id)
    page.locator(f"[data-ts='{ts}'] button[data-action='aidlc_approve']").click()
    page.wait_for_function(f"document.querySelector(\"[data-ts='{ts}'] pre\").textContent.includes('Approved by')",
                           timeout=10_000)
    assert page.locator(f"[data-ts='{ts}'] button").count() == 0  # the buttons went with the decision
    page.close()

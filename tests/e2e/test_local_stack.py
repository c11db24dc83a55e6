"""The local stack end to end, over HTTP only: the Notion API (emulated), the webhook, the internal API, CloudFront."""

import time

import httpx
import pytest

TERMINAL = {"completed", "failed", "cancelled"}


def notion(stack, token=None):
    info = stack.info
    return httpx.Client(
        base_url=info.notion_api_base,
        headers={"Authorization": f"Bearer {token or info.notion_user_token}", "Notion-Version": "2025-09-03"},
        timeout=30,
    )


def create_story(stack, title, criteria):
    with notion(stack) as client:
        response = client.post(
            "/v1/pages",
            json={
                "parent": {"type": "data_source_id", "data_source_id": stack.info.stories_data_source_id},
                "properties": {
                    "Name": {"title": [{"type": "text", "text": {"content": title}}]},
                    "Acceptance Criteria": {
                        "rich_text": [{"type": "text", "text": {"content": "\n".join(f"- {c}" for c in criteria)}}]
                    },
                },
            },
        )
        assert response.status_code == 200, response.text
        return response.json()["id"]


def set_status(stack, page_id, status):
    with notion(stack) as client:
        response = client.patch(f"/v1/pages/{page_id}", json={"properties": {"Status": {"status": {"name": status}}}})
        assert response.status_code == 200, response.text


def invocations(stack, page_id):
    with httpx.Client(base_url=stack.info.api_base, timeout=30) as api:
        response = api.get(f"/project/{stack.info.project_id}/invocations", params={"limit": 100})
        assert response.status_code == 200, response.text
        body = response.json()
        items = body.get("invocations", body.get("items")) if isinstance(body, dict) else body
        return [inv for inv in items if inv["notion_page_id"] == page_id]


def wait_for_agents(stack, page_id, agents, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = invocations(stack, page_id)
        failed = [r for r in runs if r["status"] in ("failed", "cancelled")]
        assert not failed, failed
        # A record is saved before its Notion write-back (so an outage can't lose it): wait for both.
        done = sorted(r["agent_type"] for r in runs
                      if r["status"] == "completed" and r.get("delivery_status") != "pending")
        if done == sorted(agents):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"timed out; runs: {invocations(stack, page_id)}")


def test_dev_info_has_every_documented_field(stack):
    info = httpx.get(f"{stack.info.api_base}/dev/info", timeout=10).json()
    for key in ("notion_api_base", "notion_token", "notion_user_token", "stories_data_source_id",
                "dashboard_data_source_id", "project_id", "webhook_url", "webhook_verification_token",
                "automation_secret", "api_base", "dashboard_url"):
        assert info[key], key
    assert info["webhook_url"].endswith("/webhook/notion")


def test_prototype_chain_runs_and_writes_back(stack):
    criteria = ["Invoices can be filtered by status", "Overdue invoices are highlighted in red"]
    page_id = create_story(stack, "Accountant reviews overdue invoices", criteria)
    set_status(stack, page_id, "Generate Prototype")

    runs = wait_for_agents(stack, page_id, ["mock", "demo_deck"])
    mock = next(r for r in runs if r["agent_type"] == "mock")
    deck = next(r for r in runs if r["agent_type"] == "demo_deck")
    assert deck["parent_invocation_id"] == mock["invocation_id"]

    with httpx.Client(base_url=stack.info.api_base, timeout=30) as api:
        record = api.get(f"/invocation/{mock['invocation_id']}").json()
    assert record["status"] == "completed" and float(record["cost_usd"]) > 0
    prototype = next(a for a in record["output_artifacts"] if a["type"] == "prototype")
    page = httpx.get(prototype["url"], timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for criterion in criteria:
        assert criterion in page.text
    assert {a["type"] for a in deck["output_artifacts"]} == {"notion_page", "notion_database"}

    # Written back to Notion: the last agent's completion status, and a comment with the artifact links.
    with notion(stack) as client:
        story = client.get(f"/v1/pages/{page_id}").json()
        assert story["properties"]["Status"]["status"]["name"] == "Demo Deck Ready"
        comments = client.get("/v1/comments", params={"block_id": page_id}).json()["results"]
    text = " ".join(rt["plain_text"] for c in comments for rt in c["rich_text"])
    assert prototype["url"] in text


def test_a_dropped_in_plugin_works_in_the_local_stack(stack):
    page_id = create_story(stack, "Release notes for the invoice filter", ["Mention the new filter"])
    set_status(stack, page_id, "Write Changelog")
    runs = wait_for_agents(stack, page_id, ["changelog"])
    # Exactly one run: a late second report of the same edit once started a second run beside it under load
    # (tests/pipeline/test_duplicate_run.py reproduces that; the orchestrator now tells it from a re-trigger).
    [done] = runs
    assert done["output_artifacts"][0]["type"] == "notion_page"


def test_bad_webhook_input_is_refused_and_nothing_runs(stack):
    before = invocations(stack, "nonexistent")
    response = httpx.post(stack.info.webhook_url, content=b'{"type": "page.properties_updated"}',
                          headers={"X-Notion-Signature": "sha256=" + "0" * 64}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_WEBHOOK"
    response = httpx.post(stack.info.webhook_url, content=b"{not json", timeout=10)
    assert response.status_code in (400, 401)
    assert invocations(stack, "nonexistent") == before

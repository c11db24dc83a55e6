"""The internal API handler: every route with good and bad input, as API Gateway HTTP API v2 delivers it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from runtime.cost import OFFLINE_MODEL_ID, cost_usd
from runtime.models import CompletionEvent, TokenUsage, new_ulid
from tests.pipeline.conftest import build_pipeline, make_project


def invoke(p, **overrides) -> tuple[int, dict]:
    body = {"project_id": "acme", "notion_page_id": "page-api", "agent_type": "code",
            "story": {"title": "Add a login page", "properties": {"Acceptance Criteria": "- works"}}}
    body.update(overrides)
    return p.api("POST", "/invoke", body=json.dumps(body).encode())


def test_post_invoke_queues_a_run_that_the_orchestrator_starts(pipeline):
    status, reply = invoke(pipeline)
    assert status == 202 and reply["status"] == "queued"
    invocation_id = reply["invocation_id"]
    status, record = pipeline.api("GET", f"/invocation/{invocation_id}")
    assert status == 200 and record["status"] == "queued" and record["agent_type"] == "code"
    assert set(record) >= {"invocation_id", "notion_page_id", "workspace_id", "agent_type", "status",
                           "input_context", "output_artifacts", "parent_invocation_id", "cost_usd", "token_usage",
                           "created_at", "completed_at", "error_code"}
    pipeline.drain()
    assert pipeline.api("GET", f"/invocation/{invocation_id}")[1]["status"] == "running"
    assert [r.invocation_id for r in pipeline.invoker.requests] == [invocation_id]


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b'{"project_id": "acme",', 400, "INVALID_REQUEST"),
        (b"[1, 2]", 422, "INVALID_REQUEST"),
        (json.dumps({"project_id": "acme", "notion_page_id": "p"}).encode(), 422, "INVALID_REQUEST"),
        (json.dumps({"project_id": "acme", "notion_page_id": "p", "agent_type": "Not A Name"}).encode(), 422,
         "INVALID_REQUEST"),
        (json.dumps({"project_id": "acme", "notion_page_id": "p", "agent_type": "nobody"}).encode(), 422,
         "INVALID_REQUEST"),
        (json.dumps({"project_id": "acme", "notion_page_id": "p", "agent_type": "code", "extra": 1}).encode(), 422,
         "INVALID_REQUEST"),
        (json.dumps({"project_id": "ghost", "notion_page_id": "p", "agent_type": "code"}).encode(), 404, "NOT_FOUND"),
        (json.dumps({"project_id": "acme", "notion_page_id": "p", "agent_type": "code",
                     "story": {"title": "x" * (257 * 1024)}}).encode(), 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_post_invoke_refuses_bad_input_with_nothing_enqueued(pipeline, body, status, code):
    got, reply = pipeline.api("POST", "/invoke", body=body)
    assert got == status, reply
    assert reply["error"]["code"] == code and reply["error"]["message"] and reply["error"]["remediation"]
    assert pipeline.queue_depth() == 0 and pipeline.invocations() == []


# A fixed ULID, not new_ulid(): the test ids must be the same in every pytest-xdist worker.
@pytest.mark.parametrize("invocation_id", ["not-a-ulid", "01JDZ7Q3N4W8X9Y2Z5A6B7C8D9"])
def test_get_and_cancel_of_an_unknown_invocation_are_404(pipeline, invocation_id):
    for method, path in (("GET", f"/invocation/{invocation_id}"), ("POST", f"/invocation/{invocation_id}/cancel")):
        status, reply = pipeline.api(method, path)
        assert status == 404 and reply["error"]["code"] == "NOT_FOUND"


def test_cancel_stops_the_session_releases_the_reservation_and_is_409_the_second_time(pipeline):
    invocation_id = invoke(pipeline)[1]["invocation_id"]
    pipeline.drain()
    assert pipeline.services.projects.budget("acme").reserved == Decimal("5")
    status, record = pipeline.api("POST", f"/invocation/{invocation_id}/cancel")
    assert status == 200 and record["status"] == "cancelled" and record["error_code"] == "CANCELLED"
    assert pipeline.invoker.stopped == [("code", record["session_id"])]
    assert pipeline.services.projects.budget("acme").reserved == Decimal("0")
    assert pipeline.services.projects.running("acme") == 0
    status, reply = pipeline.api("POST", f"/invocation/{invocation_id}/cancel")
    assert status == 409 and reply["error"]["invocation_id"] == invocation_id
    # The agent's late completion changes nothing on a cancelled run.
    pipeline.run_completion([CompletionEvent(invocation_id=invocation_id, agent_type="code", status="completed")])
    assert pipeline.api("GET", f"/invocation/{invocation_id}")[1]["status"] == "cancelled"


def test_list_invocations_newest_first_paginated_and_filtered(pipeline):
    ids = [invoke(pipeline, notion_page_id=f"p{i}", agent_type=agent)[1]["invocation_id"]
           for i, agent in enumerate(["code", "mock", "code", "insight", "code"])]
    status, page = pipeline.api("GET", "/project/acme/invocations", query="limit=2")
    assert status == 200 and [r["invocation_id"] for r in page["invocations"]] == ids[::-1][:2]
    seen = [r["invocation_id"] for r in page["invocations"]]
    while page["next_token"]:
        status, page = pipeline.api("GET", "/project/acme/invocations", query=f"limit=2&next_token={page['next_token']}")
        seen += [r["invocation_id"] for r in page["invocations"]]
    assert seen == ids[::-1]
    status, page = pipeline.api("GET", "/project/acme/invocations", query="agent_type=code&status=queued")
    assert status == 200 and [r["invocation_id"] for r in page["invocations"]] == [ids[4], ids[2], ids[0]]


@pytest.mark.parametrize(
    "path, query, status",
    [
        ("/project/acme/invocations", "limit=0", 422),
        ("/project/acme/invocations", "limit=lots", 422),
        ("/project/acme/invocations", "status=exploded", 422),
        ("/project/acme/invocations", "next_token=%21%21", 422),
        ("/project/ghost/invocations", "", 404),
        ("/project/ghost/cost-summary", "", 404),
        ("/no/such/route", "", 404),
    ],
)
def test_list_and_cost_summary_refuse_bad_input(pipeline, path, query, status):
    got, reply = pipeline.api("GET", path, query=query)
    assert got == status, reply
    assert reply["error"]["code"] in ("INVALID_REQUEST", "NOT_FOUND")


def test_cost_summary_adds_up_by_agent(pipeline):
    usage = TokenUsage(input_tokens=100_000, output_tokens=10_000)
    ids = [invoke(pipeline, notion_page_id=f"p{i}", agent_type=a)[1]["invocation_id"] for i, a in
           enumerate(["code", "code", "insight"])]
    pipeline.drain()
    pipeline.run_completion([CompletionEvent(invocation_id=i, agent_type=a, status="completed", token_usage=usage,
                                             model_id=OFFLINE_MODEL_ID) for i, a in zip(ids, ["code", "code", "insight"])])
    status, summary = pipeline.api("GET", "/project/acme/cost-summary")
    one = cost_usd(usage, OFFLINE_MODEL_ID)
    assert status == 200
    assert Decimal(summary["month_to_date_usd"]) == 3 * one
    assert {k: Decimal(v) for k, v in summary["by_agent_usd"].items()} == {"code": 2 * one, "insight": one}
    assert Decimal(summary["remaining_usd"]) == Decimal("200") - 3 * one
    assert summary["share_used"] == pytest.approx(float(3 * one / 200))
    assert Decimal(summary["reserved_usd"]) == 0 and summary["running"] == 0


def test_api_requires_an_iam_identity_when_configured(aws_names):
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project(), require_iam_auth=True)
    set_services(p.services)
    try:
        status, reply = p.api("GET", "/project/acme/cost-summary")
        assert status == 401 and reply["error"]["message"].startswith("the internal API needs")
        status, reply = invoke(p)
        assert status == 401 and p.queue_depth() == 0
    finally:
        set_services(None)

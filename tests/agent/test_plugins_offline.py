"""Every built-in plugin, end to end, with the offline model: POST /invocations on the agent app (the AgentCore
HTTP contract), tools over the real MCP server, against the local stand-ins (the Notion emulator, moto S3, a local
bare git remote). Each run must leave its real artifact in the stand-in, one completion event on the queue, an
audit trail in DynamoDB, and a cost that matches its token usage."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from runtime.agent.app import create_app
from runtime.tools.audit import DynamoDbAuditSink
from runtime.agent.completion import SqsCompletionSink
from runtime.agent.settings import AgentSettings
from runtime.cost import cost_usd
from runtime.models import (
    FEEDBACK_DATABASE_PROPERTIES,
    AgentRequest,
    CompletionEvent,
    ParentContext,
    new_ulid,
)
from runtime.plugins import OFFLINE_LABEL

from tests.agent.conftest import receive_all, wait_for
from tests.agent.wire import s3_text, story_request, tool_gateway  # noqa: F401  (tool_gateway is a fixture)


@pytest.fixture
def stand_ins(tool_gateway):
    """The tool gateway (tests/agent/wire.py) with the agent app in front of it, as the local stack runs it."""
    env = tool_gateway
    settings = AgentSettings(model_provider="offline", gateway_url=env.url, completion_queue_url=env.aws.queue_url,
                             audit_table=env.aws.audit_table, region="us-east-1")
    app = create_app(settings=settings, sink=SqsCompletionSink(env.aws.queue_url))  # serves any agent (local stack)
    with TestClient(app) as client:
        env.client = client
        yield env


def run_over_http(env, request: AgentRequest) -> CompletionEvent:
    response = env.client.post("/invocations", content=request.model_dump_json(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["status"] == "accepted", response.text
    [body] = wait_for(lambda: receive_all(env.aws.sqs, env.aws.queue_url), timeout=60)
    event = CompletionEvent.model_validate(body)
    assert event.invocation_id == request.invocation_id
    assert event.status == "completed", f"{event.error_code}: {event.error_detail}"
    assert event.cost_usd == cost_usd(event.token_usage, "aidlc-offline") > Decimal("0")
    audit = DynamoDbAuditSink(env.aws.audit_table).records_for(request.invocation_id)
    assert audit and all(record.outcome == "ok" for record in audit), audit
    assert audit[0].tool == "notion_read_page" and {r.agent_type for r in audit} == {request.agent_type}
    return event


def test_mock_hosts_a_page_that_renders_the_criteria(stand_ins):
    request = story_request(stand_ins, "mock")
    event = run_over_http(stand_ins, request)
    [artifact] = event.artifacts
    assert artifact.type == "prototype"
    page = s3_text(artifact.metadata.s3_key)
    assert artifact.metadata.s3_key.startswith(request.invocation_id)
    assert html.escape(request.story.title) in page, page[:1500]
    assert html.escape(OFFLINE_LABEL) in page
    assert request.story.acceptance_criteria
    for criterion in request.story.acceptance_criteria:
        assert html.escape(criterion) in page
    assert page.count('class="check"') == len(request.story.acceptance_criteria)


def test_a_b_test_hosts_one_prototype_per_variant(stand_ins):
    event = run_over_http(stand_ins, story_request(stand_ins, "a_b_test"))
    assert [a.metadata.variant for a in event.artifacts] == ["A", "B"]
    pages = [s3_text(a.metadata.s3_key) for a in event.artifacts]
    assert "Variant A" in pages[0] and "Variant B" in pages[1] and pages[0] != pages[1]


def test_demo_deck_makes_pages_and_the_feedback_database(stand_ins):
    request = story_request(stand_ins, "demo_deck", parent=ParentContext(
        invocation_id=new_ulid(), agent_type="mock", context={"prototype_url": "http://127.0.0.1:9/p/index.html"}))
    event = run_over_http(stand_ins, request)
    deck, database = event.artifacts
    assert (deck.type, database.type) == ("notion_page", "notion_database")
    markdown = stand_ins.notion.read_markdown(deck.metadata.page_id)
    assert "http://127.0.0.1:9/p/index.html" in markdown and request.story.title in markdown
    source = stand_ins.notion.retrieve_data_source(database.metadata.data_source_id)
    assert set(source["properties"]) == set(FEEDBACK_DATABASE_PROPERTIES) | {"User Story"}
    # A relation can only point at a data source (API 2025-09-03): the story's.
    assert source["properties"]["User Story"]["relation"]["data_source_id"] == request.project.stories_data_source_id
    assert source["properties"]["Would Use"]["type"] == "select"


def test_insight_statistics_equal_feedback_statistics(stand_ins):
    from runtime.tools.base import ToolContext

    deck_event = run_over_http(stand_ins, story_request(stand_ins, "demo_deck"))
    data_source_id = deck_event.artifacts[1].metadata.data_source_id
    rows = [(5, 4, 5, "Yes", "Finally, no more copy and paste."), (3, 2, 4, "Maybe", "The date picker confused me."),
            (4, 5, 3, "No", "We already export from the ERP.")]
    for n, (overall, clarity, desirability, would_use, text) in enumerate(rows):
        stand_ins.notion.create_page(
            parent_data_source_id=data_source_id, title=f"Response {n}", title_property="Title",
            properties={
                "Overall Rating": {"number": overall}, "Clarity Rating": {"number": clarity},
                "Desirability Rating": {"number": desirability}, "Would Use": {"select": {"name": would_use}},
                "Open Feedback": {"rich_text": [{"text": {"content": text}}]},
            })
    expected = stand_ins.tools.call("feedback_statistics", {"data_source_id": data_source_id},
                                    ToolContext(services=stand_ins.services))
    assert expected.ok and expected.content["count"] == 3

    event = run_over_http(stand_ins, story_request(stand_ins, "insight", parent=ParentContext(
        invocation_id=new_ulid(), agent_type="demo_deck", context={"feedback_data_source_id": data_source_id})))
    [report] = event.artifacts
    assert report.type == "insight_report" and report.metadata.feedback_count == 3
    assert report.metadata.source_data_source_ids == [data_source_id]
    markdown = stand_ins.notion.read_markdown(report.metadata.page_id)
    for name, values in expected.content["ratings"].items():
        assert re.search(rf"{re.escape(name)}\W+{re.escape(str(values['mean']))}\W+{re.escape(str(values['median']))}",
                         markdown), (name, values, markdown)
    assert "The date picker confused me." in markdown


def test_code_pushes_a_branch_and_opens_a_pr_then_review_checks_it(stand_ins):
    request = story_request(stand_ins, "code")
    event = run_over_http(stand_ins, request)
    [pr] = event.artifacts
    assert pr.type == "pull_request" and pr.metadata.files_changed == 3
    assert pr.metadata.branch in stand_ins.git.branches()
    record = stand_ins.git.read_pull_request(pr.metadata.pr_number)
    assert record["branch"] == pr.metadata.branch and record["title"] == request.story.title
    assert "ACCEPTANCE_CRITERIA" in record["diff"]
    assert stand_ins.git.log(pr.metadata.branch)[0]["message"].startswith("Implement:")

    review = run_over_http(stand_ins, story_request(stand_ins, "review", extra_properties={"Pull Request": pr.url}))
    [page] = review.artifacts
    assert page.type == "notion_page" and page.metadata.page_type == "review"
    markdown = stand_ins.notion.read_markdown(page.metadata.page_id)
    assert f"PR #{pr.metadata.pr_number}" in markdown
    comments = stand_ins.git.pull_request_record(pr.metadata.pr_number).get("comments", [])
    assert len(comments) == 1


def test_spec_writes_a_specification_page(stand_ins):
    request = story_request(stand_ins, "spec")
    event = run_over_http(stand_ins, request)
    [page] = event.artifacts
    assert page.type == "notion_page" and page.metadata.parent_page_id == request.notion_page_id
    markdown = stand_ins.notion.read_markdown(page.metadata.page_id)
    assert "Requirements" in markdown and OFFLINE_LABEL in markdown
    for criterion in request.story.acceptance_criteria:
        assert criterion in markdown

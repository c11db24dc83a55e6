"""Versioned agent endpoints (issue 14 item 4): the orchestrator's choice of endpoint, the record saying which
endpoint and version ran, the cost summary split by version, and a bad endpoint map refused by name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.cost import OFFLINE_MODEL_ID, cost_usd
from runtime.models import CompletionEvent, PageSnapshot, QueueMessage, TokenUsage, new_ulid
from runtime.pipeline.endpoints import BETA, beta_fraction, choose_endpoint, parse_endpoint_map
from runtime.pipeline.services import set_services
from runtime.pipeline.settings import PipelineSettings, SettingsError
from tests.pipeline.conftest import build_pipeline, make_project
from tests.pipeline.test_orchestrator import task

VERSIONS = {"mock": {"dev": "5", "staging": "4", "prod": "3", "beta": "6"}}


@settings(max_examples=100)
@given(ids=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=20),
       share=st.floats(min_value=0, max_value=1), more=st.floats(min_value=0, max_value=1))
def test_the_choice_is_fixed_by_the_invocation_id_and_grows_with_the_share(ids, share, more) -> None:
    """Property: the same id always gets the same endpoint (a redelivery goes where the first delivery went), and
    an id sent to beta at one share is sent there at any larger share. A choice drawn at random per call, or from
    anything but the id, fails the first assertion; a share compared the wrong way round fails the second."""
    for invocation_id in ids:
        first = choose_endpoint(VERSIONS, "mock", invocation_id, endpoint="staging", beta_share=share)
        assert first == choose_endpoint(VERSIONS, "mock", invocation_id, endpoint="staging", beta_share=share)
        assert first.endpoint in (BETA, "staging")
        assert first.version == VERSIONS["mock"][first.endpoint]
        if first.endpoint == BETA:
            assert choose_endpoint(VERSIONS, "mock", invocation_id, endpoint="staging",
                                   beta_share=max(share, more)).endpoint == BETA
        assert (first.endpoint == BETA) == (beta_fraction(invocation_id) < share)


def test_no_beta_version_or_no_share_means_the_projects_endpoint() -> None:
    no_beta = {"mock": {"prod": "3"}}
    assert choose_endpoint(no_beta, "mock", "x", beta_share=1.0) == ("prod", "3")
    assert choose_endpoint(VERSIONS, "mock", "x", endpoint="dev", beta_share=0.0) == ("dev", "5")
    assert choose_endpoint({}, "mock", "x") == ("prod", None)  # no map (the local stack): unversioned
    # A share of 1 sends every run of the agent with a beta version to beta.
    assert all(choose_endpoint(VERSIONS, "mock", str(i), beta_share=1.0).endpoint == BETA for i in range(50))


def _pipeline(aws_names, **project):
    p = build_pipeline(aws_names, make_project(agent_chain_template="custom", **project),
                       agent_endpoints=VERSIONS)
    set_services(p.services)
    return p


def _task(p, invocation_id: str, page_id: str) -> QueueMessage:
    message = QueueMessage(
        invocation_id=invocation_id, workspace_id="ws", notion_page_id=page_id, agent_type="mock",
        trigger_value="Generate Prototype", project_id=p.project.project_id,
        page_snapshot=PageSnapshot(page_id=page_id, title=f"Story {page_id}", properties={}))
    p.services.queue.publish(message)
    return message


def _complete(p, invocation_id: str, usage: TokenUsage) -> None:
    p.run_completion([CompletionEvent(invocation_id=invocation_id, agent_type="mock", status="completed",
                                      summary="done", token_usage=usage, model_id=OFFLINE_MODEL_ID)])


def test_the_orchestrator_invokes_the_projects_endpoint_and_records_endpoint_and_version(aws_names):
    p = _pipeline(aws_names, agent_endpoint="staging")
    try:
        message = task(p)
        p.drain()
        [request] = p.invoker.requests
        assert request.endpoint == "staging"  # the AgentCore invoker sends it as the qualifier
        record = p.record(message.invocation_id)
        assert (record.agent_endpoint, record.agent_version) == ("staging", "4")
    finally:
        set_services(None)


def test_beta_takes_its_share_and_the_cost_summary_splits_by_version(aws_names):
    p = _pipeline(aws_names, beta_share=0.5, concurrency_limit=50, cost_limit_per_month=Decimal("1000"))
    try:
        # Ids picked so that 6 fall on each side of one half (random ids could all land on one side).
        ids = {True: [], False: []}
        while min(len(v) for v in ids.values()) < 6:
            candidate = new_ulid()
            side = ids[beta_fraction(candidate) < 0.5]
            if len(side) < 6:
                side.append(candidate)
        messages = [_task(p, invocation_id, f"page-{n}") for n, invocation_id in enumerate(ids[True] + ids[False])]
        p.drain()
        expected = {m.invocation_id: (BETA if beta_fraction(m.invocation_id) < 0.5 else "prod") for m in messages}
        assert {r.invocation_id: r.endpoint for r in p.invoker.requests} == expected
        usage = TokenUsage(input_tokens=10_000, output_tokens=1_000)
        for m in messages:
            _complete(p, m.invocation_id, usage)
        one = cost_usd(usage, OFFLINE_MODEL_ID)
        n_beta = sum(1 for e in expected.values() if e == BETA)
        status, summary = p.api("GET", "/project/acme/cost-summary")
        assert status == 200
        assert summary["by_version_usd"] == {"mock": {"beta:6": str(one * n_beta), "prod:3": str(one * (12 - n_beta))}}
        assert Decimal(summary["by_agent_usd"]["mock"]) == one * 12
        beta_record = p.record(next(i for i, e in expected.items() if e == BETA))
        assert (beta_record.agent_endpoint, beta_record.agent_version) == (BETA, "6")
    finally:
        set_services(None)


def test_a_redelivered_message_goes_to_the_same_endpoint(aws_names):
    p = _pipeline(aws_names, beta_share=0.5)
    try:
        message = task(p)
        [delivered] = p.receive()
        p.run_orchestrator([delivered])
        p.run_orchestrator([dict(delivered, MessageId="again")])
        [request] = p.invoker.requests  # started once, on the endpoint fixed by its id
        assert request.endpoint == choose_endpoint(VERSIONS, "mock", message.invocation_id, beta_share=0.5).endpoint
    finally:
        set_services(None)


@pytest.mark.parametrize("raw, named", [
    ('{"mock": {"prod": "v3"}}', "mock.prod"),
    ('{"mock": {"qa": "3"}}', "mock.qa"),
    ("not json", "not JSON"),
])
def test_a_bad_endpoint_map_is_refused_naming_the_env_var_and_entry(raw, named) -> None:
    with pytest.raises(SettingsError) as caught:
        PipelineSettings.from_env({"AIDLC_AGENT_ENDPOINTS": raw})
    assert "AIDLC_AGENT_ENDPOINTS" in str(caught.value) and named in str(caught.value)
    assert parse_endpoint_map("", "x") == {}


def test_new_invocation_ids_are_spread_over_both_sides() -> None:
    fractions = [beta_fraction(new_ulid()) for _ in range(200)]
    assert all(0 <= f < 1 for f in fractions)
    assert min(fractions) < 0.5 < max(fractions)


def test_agentcore_invoker_sends_the_chosen_endpoint_as_qualifier_and_stops_the_session_there() -> None:
    """Against bedrock-agentcore's service model (Stubber checks the params too)."""
    import boto3
    from botocore.stub import Stubber

    from runtime.pipeline.adapters.invoker import AgentCoreInvoker
    from tests.pipeline.test_invoker import ARN, Payload, accepted, request

    client = boto3.client("bedrock-agentcore", region_name="us-east-1")
    req = request().model_copy(update={"endpoint": BETA})
    with Stubber(client) as stubber:
        stubber.add_response("invoke_agent_runtime", accepted(req.session_id), {
            "agentRuntimeArn": ARN, "qualifier": BETA, "runtimeSessionId": req.session_id,
            "contentType": "application/json", "accept": "application/json", "payload": Payload(req)})
        stubber.add_response("stop_runtime_session", {"runtimeSessionId": req.session_id, "statusCode": 200},
                             {"agentRuntimeArn": ARN, "qualifier": BETA, "runtimeSessionId": req.session_id})
        invoker = AgentCoreInvoker({"mock": ARN}, client=client)
        invoker.invoke(req)
        invoker.stop("mock", req.session_id, endpoint=BETA)
        stubber.assert_no_pending_responses()


def test_a_cancel_stops_the_session_on_the_endpoint_the_run_started_on(aws_names):
    p = _pipeline(aws_names, agent_endpoint="dev")
    try:
        message = task(p)
        p.drain()
        status, _ = p.api("POST", f"/invocation/{message.invocation_id}/cancel")
        assert status == 200
        assert p.invoker.stopped_endpoints == ["dev"]
    finally:
        set_services(None)


def test_a_notion_projects_row_chooses_its_endpoint_and_beta_share() -> None:
    """A row of the Projects data source sets agent_endpoint and beta_share; a bad endpoint is named by its
    property (as the comment on the row would say)."""
    from pydantic import ValidationError

    from runtime.models import ProjectConfig
    from runtime.pipeline.project_sync import describe_errors, row_values

    def row(endpoint: str, share: float) -> dict:  # a page as Notion returns it
        return {"id": "r", "properties": {
            "Project": {"type": "title", "title": [{"plain_text": "team-b"}]},
            "Stories data source": {"type": "rich_text",
                                    "rich_text": [{"plain_text": "0123456789abcdef0123456789abcdef"}]},
            "Agent endpoint": {"type": "select", "select": {"name": endpoint}},
            "Beta share": {"type": "number", "number": share},
        }}

    values, problems = row_values(row("staging", 0.25))
    assert problems == []
    config = ProjectConfig(**values)
    assert (config.agent_endpoint, config.beta_share) == ("staging", 0.25)
    values, _ = row_values(row("qa", 2))
    with pytest.raises(ValidationError) as caught:
        ProjectConfig(**values)
    named = [p.split(":")[0] for p in describe_errors(caught.value)]
    assert named == ["Agent endpoint", "Beta share"]

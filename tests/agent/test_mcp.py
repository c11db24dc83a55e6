"""A run whose tools come over the real MCP surface (runtime.tools.mcp_server on loopback), through the strands
MCP client the agent runtime builds, with the caller's identity in headers."""

from __future__ import annotations

import json

import boto3
import pytest

from runtime.tools.audit import MemoryAuditSink
from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.models import ArtifactType

from tests.agent.conftest import ScriptedModel, last_tool_result, make_request


@pytest.fixture
def mcp_gateway(aws):
    from runtime.policy import ToolPolicy
    from runtime.prototypes import PrototypeStore
    from runtime.tools.base import ToolServices
    from runtime.tools.mcp_server import serve_mcp
    from runtime.tools.registry import ToolRegistry

    boto3.client("s3").create_bucket(Bucket="aidlc-test-prototypes")
    server_audit = MemoryAuditSink()
    services = ToolServices(
        prototypes=PrototypeStore("aidlc-test-prototypes", "http://127.0.0.1:9/prototypes"),
        policy=ToolPolicy.load(),
        audit=server_audit,
    )
    handle = serve_mcp(ToolRegistry.default(), services)
    try:
        # `token(request)`: the request's tool token, from the endpoint's key, as the orchestrator signs it in AWS
        yield type("Gateway", (), {"url": handle.url, "server_audit": server_audit,
                                   "token": lambda request: handle.tokens.issue(request.agent_type,
                                                                                request.invocation_id)})
    finally:
        handle.stop()


def test_scripted_model_calls_a_tool_over_mcp(mcp_gateway, settings):
    request = make_request("mock")
    page = "<!doctype html><h1>Export invoices</h1>"
    model = ScriptedModel([
        ("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {"index.html": page}}),
        ("text", "Uploaded."),
    ])
    mcp_settings = AgentSettings(model_provider="offline", gateway_url=mcp_gateway.url)
    audit = MemoryAuditSink()
    # No tools passed in: the runner builds the MCP client from the settings, as in AWS.
    event = run_agent(request, settings=mcp_settings, sink=MemoryCompletionSink(),
                      options=RunOptions(model=model, audit=audit,
                                         tool_token=mcp_gateway.token(request)))

    assert event.status == "completed", event.error_detail
    # The model was offered the plugin's declared tools only (the built-in mock agent's, by name).
    from runtime.registry import get_registry

    declared = get_registry().get("mock").tools
    assert {"prototype_upload", "prototype_check"} <= set(declared)
    assert sorted(model.tool_names_seen[0]) == sorted(declared)
    result = json.loads(last_tool_result(model)["content"][0]["text"])
    key = result["s3_key"]
    body = boto3.client("s3").get_object(Bucket="aidlc-test-prototypes", Key=key)["Body"].read().decode()
    assert body == page
    assert [a.type for a in event.artifacts] == [ArtifactType.PROTOTYPE]
    assert event.artifacts[0].metadata.s3_key == key
    # The server knew who called: the run's tool token proved the agent and the invocation.
    assert [(r.tool, r.agent_type, r.invocation_id, r.outcome) for r in mcp_gateway.server_audit.records] == [
        ("prototype_upload", "mock", request.invocation_id, "ok")]
    assert [(r.tool, r.outcome) for r in audit.records] == [("prototype_upload", "ok")]


def test_an_undeclared_tool_is_not_offered_so_a_call_to_it_never_leaves_the_agent(mcp_gateway):
    request = make_request("mock")
    model = ScriptedModel([("tool", "github_create_branch", {"branch": "evil"}), ("text", "stopped")])
    audit = MemoryAuditSink()
    event = run_agent(request, settings=AgentSettings(model_provider="offline", gateway_url=mcp_gateway.url),
                      sink=MemoryCompletionSink(), options=RunOptions(model=model, audit=audit,
                                         tool_token=mcp_gateway.token(request)))
    result = last_tool_result(model)
    assert result["status"] == "error" and "github_create_branch" in result["content"][0]["text"]
    assert [(r.source, r.tool, r.outcome) for r in audit.records] == [("agent", "github_create_branch", "unknown_tool")]
    assert mcp_gateway.server_audit.records == []  # never reached the gateway
    assert event.status == "completed"


def test_a_denial_over_mcp_is_recorded_denied_on_both_sides(mcp_gateway):
    """The tool side's policy refuses a declared tool used out of bounds; the agent's record says denied too."""
    request = make_request("mock")
    someone_else = make_request("mock").invocation_id
    args = {"invocation_id": someone_else, "files": {"index.html": "x"}}
    model = ScriptedModel([("tool", "prototype_upload", args), ("text", "stopped")])
    audit = MemoryAuditSink()
    run_agent(request, settings=AgentSettings(model_provider="offline", gateway_url=mcp_gateway.url),
              sink=MemoryCompletionSink(), options=RunOptions(model=model, audit=audit,
                                         tool_token=mcp_gateway.token(request)))
    (agent_side,) = audit.records
    (tool_side,) = mcp_gateway.server_audit.records
    assert (agent_side.source, agent_side.outcome) == ("agent", "denied")
    assert (tool_side.source, tool_side.outcome) == ("tool", "denied")
    assert agent_side.args_sha256 == tool_side.args_sha256 and agent_side.invocation_id == tool_side.invocation_id
    assert "own invocation prefix" in agent_side.detail

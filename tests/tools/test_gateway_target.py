"""Surface (b): the AgentCore Gateway Lambda target, called the way the gateway calls it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from runtime.tools import gateway_target
from runtime.tools.gateway_target import dispatch as _dispatch
from runtime.tools.gateway_target import tool_name_from_context
from runtime.tools.identity import ToolTokens
from tests.tools.conftest import INVOCATION

KEY = "k" * 32
TOKENS = ToolTokens(KEY)  # what the gateway verifies with and the orchestrator signs with


def dispatch(event, context, tools, services):
    return _dispatch(event, context, tools, services, TOKENS)


@dataclass
class ClientContext:
    custom: dict
    env: dict = field(default_factory=dict)
    client: object = None


@dataclass
class LambdaContext:
    client_context: ClientContext | None
    function_name: str = "aidlc-dev-tool_gateway"
    aws_request_id: str = "req-1"


def gateway_context(tool: str, *, agent: str | None = "code", invocation: str | None = INVOCATION,
                    token: str | None = "issue") -> LambdaContext:
    """The context the gateway gives the Lambda for a call by `agent` in `invocation`, with its tool token (one
    issued for that agent and invocation unless `token` says otherwise; None: no token)."""
    custom = {
        "bedrockAgentCoreGatewayId": "gw-123",
        "bedrockAgentCoreTargetId": "TGT1",
        "bedrockAgentCoreMessageVersion": "1.0",
        "bedrockAgentCoreMcpMessageId": "7",
        "bedrockAgentCoreToolName": f"aidlc-tools___{tool}",
    }
    # Where the gateway puts the allow-listed request headers it forwards to a Lambda target (AgentCore Gateway
    # header propagation), names as the client sent them.
    headers = {}
    if agent:
        headers["X-Aidlc-Agent"] = agent
    if invocation:
        headers["X-Aidlc-Invocation-Id"] = invocation
    if token == "issue" and agent and invocation:
        token = TOKENS.issue(agent, invocation)
    if token and token != "issue":
        headers["X-Aidlc-Tool-Token"] = token
    if headers:
        custom["bedrockAgentCorePropagatedHeaders"] = headers
    return LambdaContext(ClientContext(custom))


def test_the_target_prefix_is_removed():
    assert tool_name_from_context(gateway_context("github_read_file")) == "github_read_file"
    assert tool_name_from_context(LambdaContext(ClientContext({"bedrockAgentCoreToolName": "plain"}))) == "plain"
    assert tool_name_from_context(LambdaContext(None)) is None


def test_a_gateway_event_runs_the_tool_with_the_callers_identity(tools, services, git, audit_log):
    git.create_branch("aidlc/gw")
    event = {"branch": "aidlc/gw", "message": "via gateway", "files": {"gw.txt": "hello\n"}}
    result = dispatch(event, gateway_context("github_commit_files"), tools, services)
    assert result["files_changed"] == 1 and git.log("aidlc/gw")[0]["sha"] == result["sha"]
    last = audit_log.records[-1]
    assert (last.agent_type, last.invocation_id, last.outcome) == ("code", INVOCATION, "ok")

    denied = dispatch({**event, "branch": "main"}, gateway_context("github_commit_files"), tools, services)
    assert denied["denied"] is True and "default branch" in denied["error"]
    bad = dispatch({"branch": "aidlc/gw"}, gateway_context("github_commit_files"), tools, services)
    assert bad["denied"] is False and "'message': Field required" in bad["error"]
    unknown = dispatch({}, gateway_context("no_such_tool"), tools, services)
    assert "unknown tool 'no_such_tool'" in unknown["error"]


def test_a_call_without_identity_is_refused(tools, services, git):
    result = dispatch({"path": "README.md"}, gateway_context("github_read_file", agent=None), tools, services)
    assert result["denied"] is True and "no tool token" in result["error"]


def test_propagated_header_names_are_case_insensitive(tools, services):
    context = LambdaContext(ClientContext({"bedrockAgentCoreToolName": "t___github_read_file",
                                           "bedrockAgentCorePropagatedHeaders": {
                                               "x-aidlc-agent": "review", "x-aidlc-invocation-id": "I9",
                                               "x-aidlc-tool-token": TOKENS.issue("review", "I9")}}))
    assert "Local remote" in dispatch({"path": "README.md"}, context, tools, services)["content"]


def test_identity_only_from_the_propagated_headers(tools, services):
    """Not from the event (the model's arguments) nor from other client-context keys: the gateway puts forwarded
    headers in one place, and anything else could be forged by whoever shapes the tool arguments."""
    context = LambdaContext(ClientContext({"bedrockAgentCoreToolName": "t___github_read_file",
                                           "X-Aidlc-Agent": "review", "headers": {"x-aidlc-agent": "review"}}))
    forged = dispatch({"path": "README.md", "X-Aidlc-Agent": "review",
                       "X-Aidlc-Tool-Token": TOKENS.issue("review", INVOCATION)}, context, tools, services)
    assert forged["denied"] is True and "no tool token" in forged["error"]


def test_not_a_gateway_invocation_is_a_deployment_error(tools, services):
    with pytest.raises(ValueError, match="bedrockAgentCoreToolName"):
        dispatch({}, LambdaContext(ClientContext({})), tools, services)


def test_the_lambda_handler_builds_its_services_from_the_environment(monkeypatch, tmp_path):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AIDLC_LOCAL_GIT_REMOTE", str(tmp_path / "env-remote.git"))
    for name in ("NOTION_TOKEN_SECRET", "PROTOTYPE_BUCKET", "AUDIT_TABLE", "AIDLC_GITHUB_REPO", "NOTION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    gateway_target._default_runtime.cache_clear()
    try:
        with mock_aws():
            # the signing key as the deployment keeps it: a Secrets Manager secret named by TOOL_TOKEN_KEY_SECRET
            boto3.client("secretsmanager").create_secret(Name="aidlc-tool-token-key", SecretString=KEY)
            monkeypatch.setenv("TOOL_TOKEN_KEY_SECRET", "aidlc-tool-token-key")
            result = gateway_target.handler({"path": "README.md"}, gateway_context("github_read_file", agent="review"))
            assert result["path"] == "README.md" and "Local remote" in result["content"]
            missing = gateway_target.handler({"invocation_id": INVOCATION},
                                             gateway_context("prototype_url", agent="mock"))
            assert "needs prototypes" in missing["error"]
            other_key = ToolTokens("z" * 32).issue("review", INVOCATION)
            forged = gateway_target.handler({"path": "README.md"},
                                            gateway_context("github_read_file", agent="review", token=other_key))
            assert forged["denied"] is True and "does not verify" in forged["error"]
    finally:
        gateway_target._default_runtime.cache_clear()


def test_without_a_signing_key_the_handler_refuses_every_call(monkeypatch, tmp_path):
    monkeypatch.setenv("AIDLC_LOCAL_GIT_REMOTE", str(tmp_path / "env-remote.git"))
    monkeypatch.delenv("TOOL_TOKEN_KEY_SECRET", raising=False)
    gateway_target._default_runtime.cache_clear()
    try:
        result = gateway_target.handler({"path": "README.md"}, gateway_context("github_read_file", agent="review"))
        assert result["denied"] is True and "tool-token-key" in result["error"]
    finally:
        gateway_target._default_runtime.cache_clear()

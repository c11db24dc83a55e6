"""Identity at the tool gateway is proven, not claimed: over the local MCP endpoint (HTTP) and through the gateway's
Lambda handler, a call is served only as the agent and invocation its tool token was issued for; everything else is
refused and written to the audit trail as denied."""

from __future__ import annotations

import base64
import json
import time

import pytest

from runtime.tools.identity import IdentityRefused, ToolTokens
from runtime.tools.mcp_client import MCPToolClient, MCPToolError
from runtime.tools.mcp_server import serve_mcp
from tests.tools.conftest import INVOCATION
from tests.tools.test_gateway_target import TOKENS, gateway_context

OTHER_INVOCATION = "01JD0000000000000000000002"
BRANCH = "aidlc/identity"
COMMIT = {"branch": BRANCH, "message": "m", "files": {"x.py": "1\n"}}


def tampered(token: str, **claims: str) -> str:
    """The token with its claims changed and its signature kept (what a caller without the key can do)."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**decoded, **claims}).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def expired(tokens: ToolTokens, agent: str, invocation: str) -> str:
    return tokens.issue(agent, invocation, issued_at=time.time() - tokens.ttl_seconds - 60)


# (what the caller sends: token, X-Aidlc-Agent, X-Aidlc-Invocation-Id) -> the reason it is refused
REFUSED = {
    "no identity": (lambda t: (None, None, None), "no tool token"),
    "headers only": (lambda t: (None, "code", INVOCATION), "no tool token"),
    "spoofed agent name": (lambda t: (t.issue("review", INVOCATION), "code", INVOCATION), "the tool token is 'review'"),
    "another invocation's id": (lambda t: (t.issue("code", INVOCATION), "code", OTHER_INVOCATION),
                                "for invocation '01JD0000000000000000000001'"),
    "expired token": (lambda t: (expired(t, "code", INVOCATION), "code", INVOCATION), "expired"),
    "tampered token": (lambda t: (tampered(t.issue("review", INVOCATION), sub="code"), "code", INVOCATION),
                       "does not verify"),
    "another key's token": (lambda t: (ToolTokens.generate().issue("code", INVOCATION), "code", INVOCATION),
                            "does not verify"),
}


@pytest.fixture
def mcp(services, tools, git):
    git.create_branch(BRANCH)
    handle = serve_mcp(tools, services)
    yield handle
    handle.stop()


@pytest.mark.parametrize("case", list(REFUSED))
def test_over_the_mcp_endpoint_an_unproven_caller_is_refused_and_audited(case, mcp, git, audit_log):
    make, reason = REFUSED[case]
    token, agent, invocation = make(mcp.tokens)
    with MCPToolClient(mcp.url, token=token, agent=agent, invocation_id=invocation) as client:
        with pytest.raises(MCPToolError) as refused:
            client.call("github_commit_files", COMMIT)
    assert refused.value.payload["denied"] is True and reason in str(refused.value)
    assert len(git.log(BRANCH)) == 1  # nothing was committed
    (record,) = audit_log.records
    assert (record.tool, record.outcome) == ("github_commit_files", "denied") and reason in record.detail


def test_over_the_mcp_endpoint_a_valid_token_is_served_as_its_agent(mcp, git, audit_log):
    with MCPToolClient(mcp.url, token=mcp.tokens.issue("code", INVOCATION), agent="code",
                       invocation_id=INVOCATION) as client:
        commit = client.call("github_commit_files", COMMIT)
    assert git.log(BRANCH)[0]["sha"] == commit["sha"]
    (record,) = audit_log.records
    assert (record.agent_type, record.invocation_id, record.outcome) == ("code", INVOCATION, "ok")


def test_a_token_alone_is_enough_and_names_the_caller(mcp, audit_log):
    """The identity headers are optional: the token says who calls."""
    with MCPToolClient(mcp.url, token=mcp.tokens.issue("review", INVOCATION)) as client:
        client.call("github_read_file", {"path": "README.md"})
    assert [(r.agent_type, r.invocation_id) for r in audit_log.records] == [("review", INVOCATION)]


@pytest.mark.parametrize("case", list(REFUSED))
def test_through_the_gateway_handler_an_unproven_caller_is_refused_and_audited(case, tools, services, git, audit_log):
    from runtime.tools.gateway_target import dispatch

    git.create_branch(BRANCH)
    make, reason = REFUSED[case]
    token, agent, invocation = make(TOKENS)
    context = gateway_context("github_commit_files", agent=agent, invocation=invocation, token=token)
    result = dispatch(COMMIT, context, tools, services, TOKENS)
    assert result["denied"] is True and reason in result["error"]
    assert len(git.log(BRANCH)) == 1
    (record,) = audit_log.records
    assert record.outcome == "denied" and reason in record.detail


def test_through_the_gateway_handler_a_valid_token_passes(tools, services, git, audit_log):
    from runtime.tools.gateway_target import dispatch

    git.create_branch(BRANCH)
    result = dispatch(COMMIT, gateway_context("github_commit_files"), tools, services, TOKENS)
    assert git.log(BRANCH)[0]["sha"] == result["sha"]
    assert [(r.agent_type, r.outcome) for r in audit_log.records] == [("code", "ok")]


def test_a_short_key_is_refused_and_verify_says_why():
    with pytest.raises(ValueError, match="32 bytes"):
        ToolTokens("unset")
    tokens = ToolTokens.generate()
    assert tokens.verify(tokens.issue("code", INVOCATION)).agent_type == "code"
    with pytest.raises(IdentityRefused, match="does not verify"):
        tokens.verify("not-a-jwt")

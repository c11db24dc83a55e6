"""Surface (a): a real MCP client lists and calls the registry's tools over loopback streamable HTTP."""

from __future__ import annotations


import pytest

from runtime.tools.mcp_client import MCPToolClient, MCPToolError
from runtime.tools.mcp_server import serve_mcp
from tests.tools.conftest import INVOCATION


@pytest.fixture
def mcp(services, tools):
    handle = serve_mcp(tools, services)
    yield handle
    handle.stop()


def test_mcp_client_lists_every_tool_with_its_schema(mcp, tools):
    with MCPToolClient(mcp.url) as client:
        listed = {tool.name: tool for tool in client.list_tools()}
    assert sorted(listed) == sorted(tools.names())
    commit = listed["github_commit_files"]
    assert commit.input_schema["required"] == ["branch", "message", "files"]
    assert "single commit" in commit.description


def test_the_code_agent_branches_commits_and_opens_a_pr_over_mcp_and_is_refused_on_main(mcp, git, audit_log):
    token = mcp.tokens.issue("code", INVOCATION)
    with MCPToolClient(mcp.url, token=token, agent="code", invocation_id=INVOCATION) as client:
        client.call("github_create_branch", {"branch": "aidlc/mcp"})
        commit = client.call("github_commit_files", {"branch": "aidlc/mcp", "message": "m", "files": {"x.py": "1\n"}})
        pr = client.call("github_create_pull_request", {"branch": "aidlc/mcp", "title": "T", "body": "B"})
        with pytest.raises(MCPToolError) as refused:
            client.call("github_commit_files", {"branch": "main", "message": "m", "files": {"x.py": "2\n"}})
        with pytest.raises(MCPToolError) as not_declared:
            client.call("prototype_url", {"invocation_id": INVOCATION})
        with pytest.raises(MCPToolError) as bad_args:
            client.call("github_read_file", {"ref": "main"})
    assert git.log("aidlc/mcp")[0]["sha"] == commit["sha"] and pr["number"] == 1
    assert git.pull_request_record(1)["files"] == ["x.py"]
    assert refused.value.payload["denied"] is True and "default branch" in str(refused.value)
    assert "may not call 'prototype_url'" in str(not_declared.value)
    assert "'path': Field required" in str(bad_args.value) and not bad_args.value.payload["denied"]
    assert [c["message"] for c in git.log("main")] == ["Initial commit\n"]  # main never moved
    # the identity came from the token: the audit trail names the agent and its invocation
    assert {(r.agent_type, r.invocation_id) for r in audit_log.records} == {("code", INVOCATION)}
    assert [r.outcome for r in audit_log.records] == ["ok", "ok", "ok", "denied", "denied", "invalid"]


def test_mcp_error_results_are_flagged_for_the_model(mcp):
    with MCPToolClient(mcp.url, token=mcp.tokens.issue("code", INVOCATION)) as client:
        raw = client.call_raw("github_read_file", {"path": "missing.txt"})
    assert raw.is_error and "no file 'missing.txt'" in raw.content[0].text


def test_strands_mcp_client_can_use_the_server(mcp):
    from strands.tools.mcp import MCPClient

    client = MCPClient(url=mcp.url, headers={"X-Aidlc-Agent": "code", "X-Aidlc-Invocation-Id": INVOCATION,
                                             "X-Aidlc-Tool-Token": mcp.tokens.issue("code", INVOCATION)})
    with client:
        names = {tool.tool_name for tool in client.list_tools_sync()}
        result = client.call_tool_sync("t1", "github_read_file", {"path": "README.md"})
    assert "github_commit_files" in names
    assert result["status"] == "success" and "Local remote" in str(result["content"])


def test_a_foreign_host_header_is_refused_on_loopback(mcp):
    import httpx

    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json",
               "host": "attacker.example"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    answer = httpx.post(mcp.url, json=body, headers=headers)
    assert answer.status_code in (400, 403, 421)
    ok = httpx.post(mcp.url, json=body, headers={**headers, "host": f"127.0.0.1:{mcp.port}",
                                                 "mcp-protocol-version": "2025-06-18"})
    assert ok.status_code == 200 and "github_commit_files" in ok.text

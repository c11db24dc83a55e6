"""Protected path globs (issue 15 item 5): ProjectConfig.protected_paths are files no agent may change. The tool
side refuses a commit touching one, by the Cedar policy (no-protected-path-changes) over the paths the commit
tool declares it changes; the globs travel in the run's signed tool token, so no agent can drop them. A refusal is
`denied` in the audit trail, with a message that names the files."""

from __future__ import annotations

import pytest

from runtime.tools.mcp_client import MCPToolClient, MCPToolError
from runtime.tools.mcp_server import serve_mcp
from runtime.tools.registry import ToolContext
from tests.tools.conftest import INVOCATION
from tests.tools.test_identity import tampered

BRANCH = "aidlc/protected"
GLOBS = ["infra/**", ".github/**", "*.lock", "!infra/README.md"]


def commit(*paths: str) -> dict:
    return {"branch": BRANCH, "message": "m", "files": {p: "x\n" for p in paths}}


def context(services, tools, protected=GLOBS) -> ToolContext:
    return ToolContext(agent_type="code", invocation_id=INVOCATION, allowed_tools=tools.agents.get("code").tools,
                       services=services, protected_paths=protected)


@pytest.mark.parametrize("path", ["infra/main.tf", "./infra/main.tf", "/infra/deep/x.tf", "infra//main.tf",
                                  "src/../infra/main.tf", ".github/workflows/ci.yml", "app/poetry.lock"])
def test_a_commit_touching_a_protected_path_is_refused_by_cedar(services, tools, git, audit_log, path):
    git.create_branch(BRANCH)
    result = tools.call("github_commit_files", commit("src/app.py", path), context(services, tools))
    assert not result.ok and result.denied
    assert result.content == {"policy": ["no-protected-path-changes"]}
    assert "protected paths" in result.error and "protected files in this call: " in result.error
    assert "src/app.py" not in result.error.split("protected files in this call: ")[1]  # only the protected one
    assert len(git.log(BRANCH)) == 1  # nothing committed: not even the allowed file of the same call
    (record,) = audit_log.records
    assert (record.tool, record.outcome) == ("github_commit_files", "denied")
    assert "no-protected-path-changes" in record.detail


def test_other_paths_and_the_globs_exceptions_are_committed(services, tools, git):
    git.create_branch(BRANCH)
    result = tools.call("github_commit_files", commit("src/app.py", "infra/README.md", "docs/infra/notes.md"),
                        context(services, tools))
    assert result.ok, result.error
    assert git.log(BRANCH)[0]["sha"] == result.content["sha"]


def test_without_protected_paths_nothing_is_refused(services, tools, git):
    git.create_branch(BRANCH)
    assert tools.call("github_commit_files", commit("infra/main.tf"), context(services, tools, protected=())).ok


def test_the_globs_come_from_the_signed_tool_token(services, tools, git, audit_log):
    """Over the MCP endpoint the context is the token's: its globs are enforced, and a token whose globs were
    removed no longer verifies."""
    git.create_branch(BRANCH)
    handle = serve_mcp(tools, services)
    try:
        token = handle.tokens.issue("code", INVOCATION, protected_paths=GLOBS)
        with MCPToolClient(handle.url, token=token) as client:
            with pytest.raises(MCPToolError) as refused:
                client.call("github_commit_files", commit("infra/main.tf"))
            assert refused.value.payload["denied"] is True and "infra/main.tf" in str(refused.value)
            assert client.call("github_commit_files", commit("src/app.py"))["sha"]
        with MCPToolClient(handle.url, token=tampered(token, pp=[])) as client:
            with pytest.raises(MCPToolError, match="does not verify"):
                client.call("github_commit_files", commit("infra/main.tf"))
    finally:
        handle.stop()
    assert len(git.log(BRANCH)) == 2  # the branch's first commit and src/app.py only
    assert [r.outcome for r in audit_log.records] == ["denied", "ok", "denied"]


def test_the_agent_is_told_why_and_its_own_audit_record_says_denied(services, tools, git):
    from runtime.agent.completion import MemoryCompletionSink
    from runtime.agent.runner import RunOptions, run_agent
    from runtime.agent.settings import AgentSettings
    from runtime.agent.tools import registry_tools
    from runtime.tools.audit import MemoryAuditSink
    from tests.agent.conftest import ScriptedModel, last_tool_result, make_request

    git.create_branch(BRANCH)
    request = make_request("code")
    spec = tools.agents.get("code")
    agent_audit = MemoryAuditSink()
    model = ScriptedModel([("tool", "github_commit_files", commit("infra/main.tf")), ("text", "left infra alone")])
    event = run_agent(request, settings=AgentSettings(model_provider="offline"), sink=MemoryCompletionSink(),
                      spec=spec, options=RunOptions(model=model, audit=agent_audit, tools=registry_tools(
                          tools, context(services, tools), spec.tools)))
    assert event.status == "completed"
    told = " ".join(block["text"] for block in last_tool_result(model)["content"])
    assert "never change the project's protected paths" in told and "infra/main.tf" in told
    (record,) = agent_audit.records
    assert (record.source, record.tool, record.outcome) == ("agent", "github_commit_files", "denied")
    assert len(git.log(BRANCH)) == 1

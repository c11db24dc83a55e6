"""`Limits.max_turns` and `Limits.max_tool_calls`: past either cap the run stops cleanly (failed, BUDGET_EXCEEDED,
one completion event) and keeps its work: the commits it made are on its branch, and its summary says where."""

from __future__ import annotations

import pytest

from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.agent.tools import registry_tools
from runtime.errors import ErrorCode
from runtime.github.local import LocalGitBackend
from runtime.plugins import Limits
from runtime.registry import get_registry
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.base import ToolContext, ToolServices
from runtime.tools.registry import ToolRegistry

from tests.agent.conftest import ScriptedModel, make_request

BRANCH = "aidlc/caps"


def commit(n: int) -> tuple:
    return ("tool", "github_commit_files", {"branch": BRANCH, "message": f"step {n}", "files": {f"f{n}.py": f"{n}\n"}})


@pytest.fixture
def settings() -> AgentSettings:
    """No moto needed: the completion event and the audit records stay in memory here."""
    return AgentSettings(model_provider="offline")


@pytest.fixture
def git(tmp_path) -> LocalGitBackend:
    return LocalGitBackend(tmp_path / "remote.git")


def run_code_agent(settings, git, steps, limits: Limits):
    spec = get_registry().get("code").model_copy(update={"limits": limits})
    request = make_request("code")
    context = ToolContext(agent_type="code", invocation_id=request.invocation_id, allowed_tools=spec.tools,
                          services=ToolServices(github=git))
    model = ScriptedModel(steps)
    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(), spec=spec,
                      options=RunOptions(model=model, audit=MemoryAuditSink(),
                                         tools=registry_tools(ToolRegistry.default(), context, spec.tools)))
    return event, model


def test_the_turn_cap_stops_the_run_and_keeps_its_commits(settings, git):
    steps = [("tool", "github_create_branch", {"branch": BRANCH}), commit(1), commit(2), commit(3), ("text", "done")]
    event, model = run_code_agent(settings, git, steps, Limits(max_turns=3))
    assert event.status == "failed" and event.error_code == ErrorCode.BUDGET_EXCEEDED
    assert "cap of 3 model turns" in event.error_detail
    assert len(model.seen) == 3  # the fourth model call never happened
    assert [c["message"] for c in git.log(BRANCH)][:2] == ["step 2\n", "step 1\n"]  # the work is on the branch
    assert f"Work so far is kept: 2 commit(s) on {BRANCH}" in event.summary


def test_the_tool_call_cap_refuses_the_next_call_and_stops(settings, git):
    steps = [("tool", "github_create_branch", {"branch": BRANCH}), commit(1), commit(2), ("text", "done")]
    event, model = run_code_agent(settings, git, steps, Limits(max_tool_calls=2))
    assert event.status == "failed" and event.error_code == ErrorCode.BUDGET_EXCEEDED
    assert "cap of 2 tool calls" in event.error_detail
    assert [c["message"] for c in git.log(BRANCH)][0] == "step 1\n"  # the third call (step 2) never ran
    assert len(model.seen) == 3  # no model turn after the refused call
    assert "1 commit(s)" in event.summary


def test_under_the_caps_nothing_changes(settings, git):
    steps = [("tool", "github_create_branch", {"branch": BRANCH}), commit(1), ("text", "done")]
    event, _model = run_code_agent(settings, git, steps, Limits(max_turns=3, max_tool_calls=2))
    assert event.status == "completed" and event.summary == "done"


def test_the_caps_are_validated():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_turns"):
        Limits(max_turns=0)
    assert Limits().max_turns == 100 and Limits().max_tool_calls == 300

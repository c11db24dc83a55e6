"""A run stopped on request (a cancel: the API's, or a person moving the story out of its trigger status) stops
before its next model call and keeps what it made, as the turn and tool-call caps do (tests/agent/test_run_caps.py):
its commits are on the branch, its summary says where, and the event is `cancelled`."""

from __future__ import annotations

from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.hooks import RunControl
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.agent.tools import registry_tools
from runtime.errors import ErrorCode
from runtime.github.local import LocalGitBackend
from runtime.registry import get_registry
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.base import ToolContext, ToolServices
from runtime.tools.registry import ToolRegistry

from tests.agent.conftest import ScriptedModel, make_request
from tests.agent.test_run_caps import BRANCH, commit


def test_a_stop_request_ends_the_run_cancelled_with_its_commits_kept(tmp_path):
    git = LocalGitBackend(tmp_path / "remote.git")
    spec = get_registry().get("code")
    request = make_request("code")
    control = RunControl()
    context = ToolContext(agent_type="code", invocation_id=request.invocation_id, allowed_tools=spec.tools,
                          services=ToolServices(github=git))
    # the stop arrives while the model works on its third turn (as the app's stop action sets it)
    model = ScriptedModel([("tool", "github_create_branch", {"branch": BRANCH}), commit(1),
                           ("call", control.stop_requested.set), commit(2), commit(3), ("text", "done")])
    event = run_agent(request, settings=AgentSettings(model_provider="offline"), sink=MemoryCompletionSink(),
                      spec=spec, options=RunOptions(model=model, audit=MemoryAuditSink(), control=control,
                                                    tools=registry_tools(ToolRegistry.default(), context, spec.tools)))
    assert event.status == "cancelled" and event.error_code == ErrorCode.CANCELLED
    # the turn under way finished (its commit went in); no model call came after it
    assert len(model.seen) == 3
    assert [c["message"] for c in git.log(BRANCH)][:2] == ["step 2\n", "step 1\n"]
    assert f"Work so far is kept: 2 commit(s) on {BRANCH}" in event.summary
    assert control.progress.snapshot().tool_calls == 3

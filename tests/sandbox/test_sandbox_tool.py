"""`sandbox_run` through the tool registry (a fresh checkout of the branch from the local remote, bubblewrap), its
refusal when isolation is missing, and the code agent's offline run: it runs the project's tests in the sandbox
before it opens the PR, and the PR body carries the real results (a failing test shows as failing)."""

from __future__ import annotations

import os

import pytest

from runtime.sandbox.local import LocalSandbox
from runtime.tools import sandbox_tools
from runtime.tools.registry import ToolContext, ToolServices

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/bwrap"), reason="bubblewrap is installed by .ci/setup")

QUICK_PYTEST = "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest -q -p no:cacheprovider"


def agent_context(services: ToolServices) -> ToolContext:
    """An agent that declares sandbox_run (the policy's declared-tools floor lets it through)."""
    return ToolContext(agent_type="runner", invocation_id="inv-1", allowed_tools=["sandbox_run"], services=services)


@pytest.fixture(scope="module")
def local_sandbox() -> LocalSandbox:
    return LocalSandbox()


def test_sandbox_run_checks_out_the_branch_and_runs_its_tests(tools, git, policy, local_sandbox, monkeypatch):
    git.create_branch("aidlc/feature")
    git.commit_files("aidlc/feature", "add a failing test", {
        "tests/test_feature.py": "def test_feature():\n    assert 'feature' == 'done'\n",
        "notes.txt": "x" * 50_000})
    monkeypatch.setattr(sandbox_tools, "STDOUT_TAIL", 200)
    services = ToolServices(github=git, policy=policy, sandbox=local_sandbox)
    result = tools.call("sandbox_run", {"branch": "aidlc/feature", "commands": [
        f"{QUICK_PYTEST} tests/test_repository.py", f"{QUICK_PYTEST} tests/test_feature.py", "cat notes.txt"]},
        agent_context(services))
    assert result.ok, result.error
    seeded, feature, flood = result.content["runs"]
    assert result.content["sandbox"] == "bubblewrap" and result.content["passed"] is False
    assert result.content["sha"] == git.log("aidlc/feature")[0]["sha"]
    assert seeded["passed"] and "1 passed" in seeded["stdout"]  # the seeded repository's own test
    assert not feature["passed"] and feature["exit_code"] == 1 and "1 failed" in feature["stdout"]
    # what the model is shown is cut at the front, with the marker, never silently
    assert flood["truncated"] and flood["stdout"].startswith("[aidlc: TRUNCATED, the first 49800 characters")


def test_sandbox_run_refuses_when_isolation_is_missing(tools, git, policy, tmp_path):
    services = ToolServices(github=git, policy=policy, sandbox=LocalSandbox(bwrap=str(tmp_path / "missing")))
    result = tools.call("sandbox_run", {"branch": "main", "commands": [f"touch {tmp_path}/ran"]},
                        agent_context(services))
    assert not result.ok and "refused, nothing was run" in result.error and "not installed" in result.error
    assert not (tmp_path / "ran").exists()


def test_the_code_agent_puts_real_test_results_in_its_pr(tmp_path, monkeypatch):
    """The offline code agent, in process against the local stand-ins (the Notion emulator, the local remote, the
    real sandbox). A broken test on main must show as FAILED in the PR body, with pytest's own output, and the PR
    opens as a draft; an agent that wrote a fixed "tests pass" line, or never ran them, fails this."""
    import agent_plugins.code
    from runtime.agent.sandbox import Sandbox

    # the same pytest without the venv's plugins: each start with them costs seconds on a loaded machine
    monkeypatch.setattr(agent_plugins.code, "TEST_COMMAND", QUICK_PYTEST)

    with Sandbox(state_dir=tmp_path) as box:
        box.git.create_branch("broken")
        box.git.commit_files("broken", "a broken test", {
            "tests/test_legacy.py": "def test_legacy_rounding():\n    assert round(2.675, 2) == 2.68\n"})
        from dulwich.repo import Repo

        repo = Repo(str(box.git.path))
        repo.refs[b"refs/heads/main"] = repo.refs[b"refs/heads/broken"]
        repo.close()
        event = box.run("code")
        assert event.status == "completed", event.error_detail
        number = event.artifacts[0].metadata.pr_number
        record = box.git.pull_request_record(number)
    body = record["body"]
    assert "### Tests run in the sandbox (bubblewrap)" in body
    assert f"- `{QUICK_PYTEST}`: **FAILED** (exit 1" in body
    assert "FAILED tests/test_legacy.py::test_legacy_rounding" in body and "1 failed" in body
    own = [line for line in body.splitlines() if line.startswith(f"- `{QUICK_PYTEST} tests/test_")]
    assert own and "**PASSED**" in own[0]  # the agent's own tests, run alone, pass
    assert record["draft"] is True and "tests FAIL" in event.summary

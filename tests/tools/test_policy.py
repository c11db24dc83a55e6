"""Each default Cedar policy, allowing and denying; a project's own .cedar folder; a broken file named."""

from __future__ import annotations

import pytest

from runtime.policy import PolicyError, ToolPolicy

INV = "01JD0000000000000000000001"


def decide(policy, agent, tool, args, *, allowed, invocation=INV, group=None, default_branch="main"):
    return policy.authorize(agent, tool, args, invocation_id=invocation, allowed_tools=allowed, tool_group=group,
                            default_branch=default_branch)


def test_declared_tools_only(policy):
    allowed = decide(policy, "mock", "notion_read_page", {"page_id": "p"}, allowed=["notion_read_page"])
    assert allowed.allowed and allowed.policy_ids == ("declared-tools-only",)
    denied = decide(policy, "mock", "github_commit_files", {"branch": "x"}, allowed=["notion_read_page"])
    assert not denied.allowed and "may not call 'github_commit_files'" in denied.reason
    assert not decide(policy, "ghost", "notion_read_page", {"page_id": "p"}, allowed=None).allowed


@pytest.mark.parametrize("flag", ["archived", "in_trash"])
def test_no_notion_deletes(policy, flag):
    tools = ["notion_update_page"]
    assert decide(policy, "spec", "notion_update_page", {"page_id": "p", "status": "Done"}, allowed=tools).allowed
    assert decide(policy, "spec", "notion_update_page", {"page_id": "p", flag: False}, allowed=tools).allowed
    denied = decide(policy, "spec", "notion_update_page", {"page_id": "p", flag: True}, allowed=tools)
    assert not denied.allowed and denied.policy_ids == ("no-notion-deletes",)
    assert "trash" in denied.reason


@pytest.mark.parametrize("tool", ["github_commit_files", "github_create_branch"])
def test_no_default_branch_writes(policy, tool):
    tools = [tool]
    assert decide(policy, "code", tool, {"branch": "aidlc/feature"}, allowed=tools).allowed
    assert not decide(policy, "code", tool, {"branch": "main"}, allowed=tools).allowed
    # the configured default branch is protected too, and main stays protected
    assert not decide(policy, "code", tool, {"branch": "trunk"}, allowed=tools, default_branch="trunk").allowed
    assert not decide(policy, "code", tool, {"branch": "main"}, allowed=tools, default_branch="trunk").allowed
    # a pull request *into* main is how changes get there: allowed
    assert decide(policy, "code", "github_create_pull_request", {"branch": "aidlc/x", "base": "main"},
                  allowed=["github_create_pull_request"]).allowed


def test_merge_into_default_branch_is_refused_even_when_a_plugin_adds_a_merge_tool(policy):
    tools = ["github_merge_pull_request"]
    assert not decide(policy, "code", "github_merge_pull_request", {"number": 1, "base": "main"}, allowed=tools).allowed
    assert decide(policy, "code", "github_merge_pull_request", {"number": 1, "base": "release"}, allowed=tools).allowed


def test_prototype_uploads_only_under_own_invocation(policy):
    tools = ["prototype_upload"]
    assert decide(policy, "mock", "prototype_upload", {"invocation_id": INV, "files": {"index.html": "x"}}, allowed=tools).allowed
    other = decide(policy, "mock", "prototype_upload", {"invocation_id": "01JDOTHER", "files": {}}, allowed=tools)
    assert not other.allowed and other.policy_ids == ("own-prototype-prefix",)
    assert not decide(policy, "mock", "prototype_upload", {"invocation_id": INV}, allowed=tools, invocation=None).allowed


def test_arguments_with_nulls_floats_and_long_text_still_evaluate(policy):
    args = {"branch": "aidlc/x", "from_branch": None, "weight": 1.5, "files": {"a.py": "x" * 100_000}}
    decision = decide(policy, "code", "github_commit_files", args, allowed=["github_commit_files"])
    assert decision.allowed and decision.errors == ()


def test_a_project_adds_a_policy_without_code(tmp_path, policy):
    (tmp_path / "no_spec_pages.cedar").write_text(
        '@id("mock-never-touches-github")\n@reason("the mock agent stays out of GitHub")\n'
        'forbid (principal == Agent::"mock", action in Action::"group:github", resource);\n'
    )
    project = ToolPolicy.load([tmp_path])
    assert len(project.sources) == len(policy.sources) + 1
    args = {"path": "README.md"}
    assert decide(policy, "mock", "github_read_file", args, allowed=["github_read_file"], group="github").allowed
    denied = decide(project, "mock", "github_read_file", args, allowed=["github_read_file"], group="github")
    assert not denied.allowed and "stays out of GitHub" in denied.reason
    assert decide(project, "code", "github_read_file", args, allowed=["github_read_file"], group="github").allowed


def test_a_broken_policy_file_is_named(tmp_path):
    (tmp_path / "broken.cedar").write_text("permit (principal, action resource);")
    with pytest.raises(PolicyError, match="broken.cedar"):
        ToolPolicy.load([tmp_path])
    with pytest.raises(PolicyError, match="does not exist"):
        ToolPolicy.load([tmp_path / "missing"])


def test_project_policy_folders_come_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "p.cedar").write_text('forbid (principal, action == Action::"notion_search", resource);')
    monkeypatch.setenv("AIDLC_POLICY_DIRS", str(tmp_path))
    from_env = ToolPolicy.load()
    assert tmp_path / "p.cedar" in from_env.sources
    assert not decide(from_env, "mock", "notion_search", {"query": "x"}, allowed=["notion_search"]).allowed
    monkeypatch.delenv("AIDLC_POLICY_DIRS")
    assert decide(ToolPolicy.load(), "mock", "notion_search", {"query": "x"}, allowed=["notion_search"]).allowed

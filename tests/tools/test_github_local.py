"""The local git remote: branches, one commit for several files, PR records with a diff, and the policy on main."""

from __future__ import annotations

import json

import pytest

from runtime.github import GitHubConflict, GitHubError, GitHubNotFound, LocalGitBackend
from tests.tools.conftest import agent_context


def test_branch_commit_and_pull_request_record(git: LocalGitBackend):
    branch = git.create_branch("aidlc/checkout")
    assert branch["branch"] == "aidlc/checkout"
    assert branch["sha"] == git.log("main")[0]["sha"]

    commit = git.commit_files("aidlc/checkout", "Add checkout", {"src/checkout.py": "def pay():\n    return 1\n",
                                                                "tests/test_checkout.py": "def test_pay():\n    pass\n"})
    assert commit["files_changed"] == 2
    history = git.log("aidlc/checkout")
    assert history[0]["sha"] == commit["sha"] and history[0]["message"] == "Add checkout\n"
    assert history[0]["parents"] == [branch["sha"]]  # both files in ONE commit on top of main
    assert git.log("main")[0]["sha"] == branch["sha"]  # main did not move

    pr = git.create_pull_request("aidlc/checkout", "Checkout", "Implements the story", draft=True)
    assert pr == {"number": 1, "url": "http://127.0.0.1:9/dev/git/pr/1", "branch": "aidlc/checkout", "base": "main",
                  "repo": "app", "draft": True, "files_changed": 2}
    record = json.loads((git.pulls_dir / "1.json").read_text())
    assert record["title"] == "Checkout" and record["state"] == "open" and record["draft"] is True
    assert record["files"] == ["src/checkout.py", "tests/test_checkout.py"]

    read = git.read_pull_request(1)
    assert "+def pay():" in read["diff"] and "b/tests/test_checkout.py" in read["diff"]
    assert read["files"] == record["files"]
    assert git.read_file("src/checkout.py", ref="aidlc/checkout")["content"].startswith("def pay")
    with pytest.raises(GitHubNotFound):
        git.read_file("src/checkout.py")  # not on main

    comment = git.comment_pull_request(1, "Looks good")
    assert comment["comment_id"] == 1 and comment["url"].endswith("#comment-1")
    assert git.pull_request_record(1)["comments"][0]["body"] == "Looks good"


def test_numbers_grow_and_duplicates_are_refused(git: LocalGitBackend):
    for index, name in enumerate(["a/one", "a/two"], start=1):
        git.create_branch(name)
        git.commit_files(name, "change", {f"{name}.txt": name})
        assert git.create_pull_request(name, name, "")["number"] == index
    with pytest.raises(GitHubConflict, match="already open"):
        git.create_pull_request("a/one", "again", "")
    with pytest.raises(GitHubConflict, match="already exists"):
        git.create_branch("a/one")
    with pytest.raises(GitHubConflict, match="nothing to commit"):
        git.commit_files("a/one", "same again", {"a/one.txt": "a/one"})


def test_bad_input_is_refused_and_nothing_is_written(git: LocalGitBackend):
    git.create_branch("feature")
    before = git.log("feature")
    for files in ({"../escape.py": "x"}, {"/abs.py": "x"}, {}):
        with pytest.raises(GitHubError):
            git.commit_files("feature", "bad", files)
    with pytest.raises(GitHubError, match="invalid branch name"):
        git.create_branch("bad branch")
    with pytest.raises(GitHubNotFound, match="no branch 'nope'"):
        git.commit_files("nope", "msg", {"a.py": "x"})
    with pytest.raises(GitHubConflict, match="no changes"):
        git.create_pull_request("feature", "empty", "")
    assert git.log("feature") == before
    assert git.list_pull_requests() == []


def test_reopening_an_existing_remote_keeps_its_state(tmp_path):
    first = LocalGitBackend(tmp_path / "r.git")
    first.create_branch("keep")
    again = LocalGitBackend(tmp_path / "r.git")
    assert "keep" in again.branches() and "main" in again.branches()


def test_code_agent_tools_work_on_a_branch_and_are_refused_on_main(tools, services, git, audit_log):
    context = agent_context(services, "code", tools)
    assert tools.call("github_create_branch", {"branch": "aidlc/story-1"}, context).ok
    ok = tools.call("github_commit_files", {"branch": "aidlc/story-1", "message": "impl",
                                            "files": {"app.py": "print(1)\n"}}, context)
    assert ok.ok and ok.content["files_changed"] == 1
    pr = tools.call("github_create_pull_request", {"branch": "aidlc/story-1", "title": "Story 1", "body": "b"}, context)
    assert pr.ok and pr.content["number"] == 1

    main_before = git.log("main")
    denied = tools.call("github_commit_files", {"branch": "main", "message": "sneaky",
                                                "files": {"app.py": "print(2)\n"}}, context)
    assert not denied.ok and denied.denied
    assert "default branch" in denied.error and "no-default-branch-writes" in denied.error
    assert git.log("main") == main_before  # nothing written
    assert [r.outcome for r in audit_log.records] == ["ok", "ok", "ok", "denied"]
    assert audit_log.records[-1].agent_type == "code" and audit_log.records[-1].tool == "github_commit_files"


def test_concurrent_agents_get_distinct_pull_request_numbers(git: LocalGitBackend):
    from concurrent.futures import ThreadPoolExecutor

    def open_pr(index: int) -> int:
        branch = f"aidlc/par-{index}"
        git.create_branch(branch)
        git.commit_files(branch, f"change {index}", {f"f{index}.txt": str(index)})
        return git.create_pull_request(branch, f"PR {index}", "")["number"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = sorted(pool.map(open_pr, range(6)))
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert sorted(r["branch"] for r in git.list_pull_requests()) == [f"aidlc/par-{i}" for i in range(6)]

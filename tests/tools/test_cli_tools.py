"""`aidlc tools`: list, schemas and a policy check with a project's own .cedar folder."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runtime.cli import app

runner = CliRunner()


def test_list_and_schemas():
    listed = runner.invoke(app, ["tools", "list"])
    assert listed.exit_code == 0 and "github_commit_files" in listed.output and "prototype" in listed.output
    schemas = json.loads(runner.invoke(app, ["tools", "schemas"]).output)
    assert {s["name"] for s in schemas} >= {"notion_search", "feedback_statistics"}


def test_check_allows_denies_and_reads_a_project_folder(tmp_path):
    allowed = runner.invoke(app, ["tools", "check", "code", "github_commit_files", '{"branch": "aidlc/x"}'])
    assert allowed.exit_code == 0 and allowed.output.startswith("ALLOW")
    denied = runner.invoke(app, ["tools", "check", "code", "github_commit_files", '{"branch": "main"}'])
    assert denied.exit_code == 1 and "no-default-branch-writes" in denied.output
    (tmp_path / "x.cedar").write_text('@id("no-reading")\nforbid (principal, action == Action::"github_read_file", resource);')
    project = runner.invoke(app, ["tools", "check", "code", "github_read_file", '{"path": "a"}',
                                  "--policy-dir", str(tmp_path)])
    assert project.exit_code == 1 and "no-reading" in project.output
    bad = runner.invoke(app, ["tools", "check", "code", "github_read_file", "not json"])
    assert bad.exit_code == 2 and "JSON object" in bad.output

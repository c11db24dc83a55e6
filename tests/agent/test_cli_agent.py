"""`aidlc agent run`: one synchronous offline run against throw-away local stand-ins."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runtime.cli import app


def test_agent_run_writes_a_spec_for_a_new_story():
    result = CliRunner().invoke(app, ["agent", "run", "spec", "--title", "Warehouse manager sees low stock",
                                      "-c", "Items under the reorder level are listed first",
                                      "-c", "Each item shows its supplier", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    event = out["event"]
    assert event["status"] == "completed" and event["agent_type"] == "spec"
    [artifact] = event["artifacts"]
    assert artifact["type"] == "notion_page"
    assert artifact["title"] == "Technical specification: Warehouse manager sees low stock"
    # it reads the story, explores the repository (its layout, code that mentions the story's terms), then writes
    assert [(r["tool"], r["outcome"]) for r in out["audit"]] == [("notion_read_page", "ok"), ("repo_list_files", "ok"),
                                                                ("repo_search_code", "ok"),
                                                                ("notion_create_page", "ok")]


def test_agent_run_unknown_agent():
    result = CliRunner().invoke(app, ["agent", "run", "nosuch"])
    assert result.exit_code == 2 and "no agent plugin named 'nosuch'" in result.output

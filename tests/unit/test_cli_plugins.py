"""`aidlc plugins`: the table, the JSON, a dropped-in plugin appearing, a broken one failing cleanly."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from runtime.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_json_lists_the_seven_builtins_with_the_documented_keys():
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    agents = json.loads(result.output)
    assert [a["name"] for a in agents] == ["code", "mock", "demo_deck", "insight", "spec", "review", "a_b_test"]
    for agent in agents:
        assert {"name", "triggers", "chains_to", "tools", "outputs", "source"} <= set(agent)
    by_name = {a["name"]: a for a in agents}
    assert by_name["mock"]["chains_to"] == ["demo_deck"]
    assert by_name["spec"]["chains_to"] == ["code"]


def test_table_names_every_agent():
    result = CliRunner().invoke(app, ["plugins"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("code", "mock", "demo_deck", "insight", "spec", "review", "a_b_test"):
        assert name in result.output


def _copy_project(tmp_path: Path) -> Path:
    """A throwaway copy of the project, so a plugin can be dropped into *its* agent_plugins/."""
    copy = tmp_path / "project"
    for part in ("runtime", "agent_plugins"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _run_plugins(project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [sys.executable, "-c", "from runtime.cli import main; main()", "plugins", "--json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )


def test_dropping_a_module_into_agent_plugins_makes_it_appear(tmp_path):
    project = _copy_project(tmp_path)
    (project / "agent_plugins" / "prompts" / "changelog.md").write_text("You write release notes.")
    (project / "agent_plugins" / "changelog.py").write_text(
        "from pathlib import Path\n"
        "from runtime.plugins import AgentSpec, hookimpl\n\n"
        "@hookimpl\n"
        "def register_agents():\n"
        "    return [AgentSpec(name='changelog', description='Release notes', triggers=['Write Changelog'],\n"
        "                      prompt_file=Path(__file__).parent / 'prompts' / 'changelog.md',\n"
        "                      tools=['notion_read_page', 'notion_create_page'], outputs=['notion_page'],\n"
        "                      completion_status='Changelog Ready')]\n"
    )
    result = _run_plugins(project)
    assert result.returncode == 0, result.stderr
    agents = {a["name"]: a for a in json.loads(result.stdout)}
    assert agents["changelog"]["triggers"] == ["Write Changelog"]
    assert agents["changelog"]["source"] == "agent_plugins/changelog.py"


def test_a_plugin_repeating_a_trigger_fails_with_both_names_and_no_traceback(tmp_path):
    project = _copy_project(tmp_path)
    (project / "agent_plugins" / "copycat.py").write_text(
        "from pathlib import Path\n"
        "from runtime.plugins import AgentSpec, hookimpl\n\n"
        "@hookimpl\n"
        "def register_agents():\n"
        "    return [AgentSpec(name='copycat', description='Copies', triggers=['Generate Prototype'],\n"
        "                      prompt_file=Path(__file__).parent / 'prompts' / 'mock.md',\n"
        "                      tools=['notion_read_page'], outputs=['prototype'], completion_status='Copied')]\n"
    )
    result = _run_plugins(project)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "'Generate Prototype'" in result.stderr
    assert "agent 'copycat'" in result.stderr and "agent 'mock'" in result.stderr

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


BUILTIN_AGENTS = ["code", "mock", "demo_deck", "insight", "spec", "review", "a_b_test"]


def test_json_shows_plugins_their_hooks_and_what_they_declared():
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.output)
    plugins = {p["name"]: p for p in described["plugins"]}
    for name in BUILTIN_AGENTS:  # by name: another installed plugin adds rows, never changes these
        assert plugins[f"agent_plugins.{name}"] == {"name": f"agent_plugins.{name}", "source": "builtin",
                                                   "hooks": {"register_agents": [name]}}
    assert "github_commit_files" in plugins["runtime.tools.builtin"]["hooks"]["register_tools"]
    agents = {a["name"]: a for a in described["agents"]}
    for agent in agents.values():
        assert {"name", "triggers", "chains_to", "tools", "outputs", "source"} <= set(agent)
    assert agents["mock"]["chains_to"] == ["demo_deck"]
    assert agents["spec"]["chains_to"] == ["code"]
    tools = {t["name"]: t for t in described["tools"]}
    assert tools["notion_read_page"]["plugin"] == "runtime.tools.builtin"


def test_table_names_every_plugin_hook_and_agent():
    result = CliRunner().invoke(app, ["plugins"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for name in BUILTIN_AGENTS:
        assert f"agent_plugins.{name}" in result.output
    assert "runtime.tools.builtin" in result.output and "register_tools" in result.output


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


def _drop_agent_plugin(project: Path, name: str, *, prompt: str, **spec) -> None:
    """agent_plugins/<name>.py: a module whose register_agents hook returns AgentSpec(name=name, **spec), its
    prompt_file agent_plugins/prompts/<prompt>."""
    fields = "".join(f", {key}={value!r}" for key, value in spec.items())
    (project / "agent_plugins" / f"{name}.py").write_text(
        "from pathlib import Path\n"
        "from runtime.plugins import AgentSpec, hookimpl\n\n"
        "@hookimpl\n"
        "def register_agents():\n"
        f"    return [AgentSpec(name={name!r}, prompt_file=Path(__file__).parent / 'prompts' / {prompt!r}{fields})]\n"
    )


def test_dropping_a_module_into_agent_plugins_makes_it_appear(tmp_path):
    project = _copy_project(tmp_path)
    (project / "agent_plugins" / "prompts" / "changelog.md").write_text("You write release notes.")
    _drop_agent_plugin(project, "changelog", prompt="changelog.md", description="Release notes",
                       triggers=["Write Changelog"], tools=["notion_read_page", "notion_create_page"],
                       outputs=["notion_page"], completion_status="Changelog Ready")
    result = _run_plugins(project)
    assert result.returncode == 0, result.stderr
    agents = {a["name"]: a for a in json.loads(result.stdout)["agents"]}
    assert agents["changelog"]["triggers"] == ["Write Changelog"]
    assert agents["changelog"]["source"] == "agent_plugins/changelog.py"


def test_a_tools_only_plugin_appears_with_its_hook(tmp_path):
    project = _copy_project(tmp_path)
    (project / "agent_plugins" / "wordcount.py").write_text(
        "from pydantic import BaseModel\n"
        "from runtime.plugins import hookimpl\n"
        "from runtime.tools.spec import ToolSpec\n\n"
        "class Args(BaseModel):\n"
        "    text: str\n\n"
        "@hookimpl\n"
        "def register_tools():\n"
        "    return [ToolSpec(name='word_count', description='Count words', target='analysis', args_model=Args,\n"
        "                     func=lambda context, args: {'words': len(args.text.split())})]\n"
    )
    result = _run_plugins(project)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["agent_plugins.wordcount"] == {"name": "agent_plugins.wordcount",
                                                  "source": "agent_plugins/wordcount.py",
                                                  "hooks": {"register_tools": ["word_count"]}}


def test_a_plugin_repeating_a_trigger_fails_with_both_names_and_no_traceback(tmp_path):
    project = _copy_project(tmp_path)
    _drop_agent_plugin(project, "copycat", prompt="mock.md", description="Copies", triggers=["Generate Prototype"],
                       tools=["notion_read_page"], outputs=["prototype"], completion_status="Copied")
    result = _run_plugins(project)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "'Generate Prototype'" in result.stderr
    assert "agent 'copycat'" in result.stderr and "agent 'mock'" in result.stderr

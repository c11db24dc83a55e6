"""The README's plugin guide works as written: its examples are cut out of README.md and run here."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from runtime.plugins import Limits, hookimpl
from runtime.registry import load_registry

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of the README section under `heading` (up to the next heading of any level)."""
    text = README.read_text()
    section = text.split(f"\n{heading}\n", 1)[1]
    section = re.split(r"\n#{2,4} ", section, maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def load_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"readme_{path.stem}_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def changelog_project(tmp_path):
    """A plugin author's project: the README's example plugin in agent_plugins/, its test in tests/."""
    (tmp_path / "agent_plugins" / "prompts").mkdir(parents=True)
    (tmp_path / "agent_plugins" / "changelog.py").write_text(python_blocks("### A complete small example")[0])
    (tmp_path / "agent_plugins" / "prompts" / "changelog.md").write_text("You write release notes.")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_changelog.py").write_text(python_blocks("### Test a plugin")[0])
    return tmp_path


def test_the_readme_test_a_plugin_example_passes_as_written(changelog_project):
    module = load_file(changelog_project / "tests" / "test_changelog.py")
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert tests, "the README's example has no test function"
    for test in tests:
        test()


def test_the_readme_example_plugin_loads_with_the_builtins_by_its_own_name(changelog_project):
    registry = load_registry(plugin_dirs=[changelog_project / "agent_plugins"], entry_points=False)
    assert registry.get("changelog").offline is not None
    assert {"code", "mock", "changelog"} <= set(registry.agents)


def test_loading_agent_plugins_again_by_folder_does_not_load_the_builtins_twice():
    """`plugin_dirs=[Path("agent_plugins")]` in the repository: the built-ins are already loaded as modules."""
    registry = load_registry(plugin_dirs=[README.parent / "agent_plugins"], entry_points=False)
    assert registry.get("mock").source == "builtin"


def test_the_readme_wrapper_example_caps_every_agents_tokens():
    namespace = {"hookimpl": hookimpl, "Limits": Limits}
    wrapper_block = next(b for b in python_blocks("#### `register_agents`") if "wrapper=True" in b)
    exec(wrapper_block, namespace)
    plugin = type("site_policy", (), {"register_agents": staticmethod(namespace["register_agents"])})()
    registry = load_registry(entry_points=False, extra_plugins=[plugin])
    assert "mock" in registry.agents
    assert {s.limits.max_tokens for s in registry.agents.values()} == {50_000}


def test_the_readme_register_tools_example_registers_a_checked_tool():
    namespace: dict = {}
    exec(python_blocks("#### `register_tools`")[0], namespace)
    plugin = type("word_count_plugin", (), {"register_tools": staticmethod(namespace["register_tools"])})()
    registry = load_registry(entry_points=False, extra_plugins=[plugin])
    tool = registry.tools["word_count"]
    assert tool.func(None, tool.args_model(text="three little words")) == {"words": 3}
    assert tool.result_model is not None


def test_the_readme_example_plugin_runs_offline_with_one_command(changelog_project):
    """`aidlc agent run changelog`, as the README says (Notion emulator, moto, offline model: a few seconds)."""
    from typer.testing import CliRunner

    from runtime.cli import app

    result = CliRunner().invoke(app, ["agent", "run", "changelog", "--json"],
                                env={"AIDLC_PLUGIN_DIRS": str(changelog_project / "agent_plugins")})
    assert result.exit_code == 0, result.output
    event = json.loads(result.output[result.output.index("{"):])["event"]
    assert event["status"] == "completed" and event["summary"].startswith("Changelog written at ")

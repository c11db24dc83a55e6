"""`aidlc tools ...` with a broken plugin or policy folder: a clean message naming the plugin and field, exit 1."""

import textwrap

import pytest
from typer.testing import CliRunner

from runtime.cli import app

BROKEN = textwrap.dedent(
    """
    from pathlib import Path
    from runtime.plugins import hookimpl

    @hookimpl
    def register_agents():
        return [{"name": "greedy", "description": "x", "triggers": ["Be Greedy"],
                 "prompt_file": str(Path(__file__)), "tools": ["notion_read_page"], "outputs": ["notion_page"],
                 "completion_status": "Done", "limits": {"max_tokens": 5}}]
    """
)


@pytest.mark.parametrize("command", [["tools", "list"], ["tools", "schemas"],
                                     ["tools", "check", "code", "github_read_file", "{}"]])
def test_a_broken_plugin_is_reported_without_a_traceback(tmp_path, command):
    (tmp_path / "greedy.py").write_text(BROKEN)
    result = CliRunner().invoke(app, command, env={"AIDLC_PLUGIN_DIRS": str(tmp_path)})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no uncaught exception
    assert "Traceback" not in result.output
    assert f"plugin 'file:{tmp_path / 'greedy.py'}': field 'limits.max_tokens'" in result.output


def test_a_plugin_that_fails_to_import_shows_the_file_and_line(tmp_path):
    (tmp_path / "typo.py").write_text("x = 1\nraise LookupError('no such table')\n")
    result = CliRunner().invoke(app, ["tools", "list"], env={"AIDLC_PLUGIN_DIRS": str(tmp_path)})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"import failed: LookupError: no such table ({tmp_path / 'typo.py'}:2)" in result.output


def test_a_missing_policy_folder_is_reported_cleanly(tmp_path):
    result = CliRunner().invoke(app, ["tools", "check", "code", "github_read_file", "{}",
                                      "--policy-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "does not exist" in result.output


def test_args_that_are_json_but_not_an_object_are_a_usage_error():
    result = CliRunner().invoke(app, ["tools", "check", "code", "github_read_file", "[1, 2]"])
    assert result.exit_code == 2 and "JSON object" in result.output

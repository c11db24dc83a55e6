"""`aidlc plugin new NAME`: a pip-installable agent plugin package that works as generated.

    aidlc-NAME/
      pyproject.toml              the `aidlc.agents` entry point, and the prompt as package data
      README.md
      src/aidlc_NAME/__init__.py  the plugin: `register_agents` with an offline script
      src/aidlc_NAME/prompts/NAME.md
      tests/test_NAME.py          loads the registry with the installed package; runs the agent offline

The files are plain text written from the templates below (no template engine: a handful of names are
substituted, and `string.Template`'s `$name` keeps the Python and TOML braces readable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from pydantic import TypeAdapter, ValidationError

from runtime.models import AgentName


class ScaffoldError(ValueError):
    """The package cannot be generated (bad name, folder not empty)."""


@dataclass(frozen=True)
class PluginNames:
    agent: str  # the agent_type and entry-point name: lower_snake_case
    trigger: str  # the Notion Status value that starts it

    @property
    def package(self) -> str:
        return f"aidlc_{self.agent}"

    @property
    def distribution(self) -> str:
        return f"aidlc-{self.agent.replace('_', '-')}"

    @property
    def title(self) -> str:
        return self.agent.replace("_", " ").title()


PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "An aidlc agent plugin: $title"
requires-python = ">=3.11"
# No dependency on the host: the package is installed into an aidlc deployment, which provides runtime.plugins
# (and a package called "aidlc" on PyPI would not be this project).
dependencies = []

[project.entry-points."aidlc.agents"]
$agent = "$package"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
# the system prompt ships inside the package, beside the module that reads it
$package = ["prompts/*.md"]
''')

MODULE = Template('''\
"""$title: an aidlc agent plugin, started by the Notion Status "$trigger"."""

from pathlib import Path

from runtime.plugins import AgentSpec, Limits, ToolCall, hookimpl

PROMPTS = Path(__file__).parent / "prompts"


def offline(request):
    """What the agent does under the offline model: yield tool calls, get each result back, return a summary."""
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    criteria = "\\n".join(f"- {criterion}" for criterion in request.story.acceptance_criteria) or "- (none yet)"
    page = yield ToolCall("notion_create_page", {
        "parent_page_id": request.notion_page_id,
        "title": f"$title: {request.story.title}",
        "markdown": f"Made offline by the $agent agent.\\n\\n## Acceptance criteria\\n\\n{criteria}\\n",
    })
    return f"$title page written at {page['url']}"


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="$agent",
            description="$title: writes a Notion page under the story.",
            triggers=["$trigger"],
            prompt_file=PROMPTS / "$agent.md",
            tools=["notion_read_page", "notion_create_page"],
            outputs=["notion_page"],
            completion_status="$title Ready",
            limits=Limits(max_tokens=50_000, timeout_seconds=900),
            offline=offline,
        )
    ]
''')

PROMPT = Template('''\
You are the $title agent of aidlc. Read the user story with `notion_read_page`, then write one Notion page under
it with `notion_create_page` that serves the story's acceptance criteria. Be concise and concrete.
''')

TEST = Template('''\
"""Tests for the $agent plugin. Run them with the package installed beside aidlc: `pip install -e .` then pytest."""

import json
import subprocess
import sys

from runtime.registry import load_registry


def test_the_installed_entry_point_registers_the_agent():
    registry = load_registry()  # every plugin, as a deployment loads them; yours comes in through its entry point
    spec = registry.get("$agent")
    assert registry.agent_for_trigger("$trigger").name == "$agent"
    assert spec.source.startswith("entry point: $distribution")
    assert spec.system_prompt.strip()  # the prompt was installed as package data


def test_the_agent_runs_offline():
    """One command, no cloud: `aidlc agent run $agent` (Notion emulator, moto, offline model)."""
    result = subprocess.run([sys.executable, "-m", "runtime.cli", "agent", "run", "$agent", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    event = json.loads(result.stdout)["event"]
    assert event["status"] == "completed"
    assert "$title page written at" in event["summary"]
''')

README = Template('''\
# $distribution

An aidlc agent plugin: the `$agent` agent, started when a story's Status becomes
"$trigger".

    pip install -e .             # beside aidlc; the `aidlc.agents` entry point registers the plugin
    aidlc plugins                # lists $package and the $agent agent
    aidlc agent run $agent       # one offline run
    python -m pytest tests
''')


def new_plugin(agent: str, parent: Path, trigger: str | None = None) -> Path:
    """Write the package `aidlc-<agent>/` into `parent` and return its folder."""
    try:
        TypeAdapter(AgentName).validate_python(agent)
    except ValidationError as exc:
        raise ScaffoldError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    names = PluginNames(agent=agent, trigger=trigger or f"Generate {agent.replace('_', ' ').title()}")
    root = Path(parent) / names.distribution
    if root.exists() and any(root.iterdir()):
        raise ScaffoldError(f"{root} already exists and is not empty")
    fields = {"agent": names.agent, "trigger": names.trigger, "package": names.package,
              "distribution": names.distribution, "title": names.title}
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{names.package}/__init__.py": MODULE,
        f"src/{names.package}/prompts/{names.agent}.md": PROMPT,
        f"tests/test_{names.agent}.py": TEST,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(fields), encoding="utf-8")
    return root

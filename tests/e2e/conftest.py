"""One local stack for the end-to-end tests, started by the tests, driven over HTTP as Notion and a user would."""

import os
import textwrap
from pathlib import Path

import pytest

CHANGELOG_PLUGIN = '''
from pathlib import Path
from runtime.plugins import AgentSpec, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    page = yield ToolCall("notion_create_page", {
        "parent_page_id": request.notion_page_id,
        "title": f"Changelog: {request.story.title}",
        "markdown": "\\n".join(f"- {c}" for c in request.story.acceptance_criteria),
    })
    return f"Changelog written at {page['url']}"


@hookimpl
def register_agents():
    return [AgentSpec(name="changelog", description="Drafts release notes from a story.",
                      triggers=["Write Changelog"], prompt_file=Path(__file__).parent / "changelog.md",
                      tools=["notion_read_page", "notion_create_page"], outputs=["notion_page"],
                      completion_status="Changelog Ready", offline=offline)]
'''


# A run that stays in flight until its test drops the file RELEASE beside it (at most two minutes): the dashboard's
# cancel button and live steps need one (tests/e2e/test_dashboard_truth.py).
SLOWPOKE_PLUGIN = '''
import time
from pathlib import Path
from runtime.plugins import AgentSpec, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    release, deadline = Path(__file__).parent / "RELEASE", time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return "released"


@hookimpl
def register_agents():
    return [AgentSpec(name="slowpoke", description="Reads the story, then waits to be released.",
                      triggers=["Hold For Test"], prompt_file=Path(__file__).parent / "changelog.md",
                      tools=["notion_read_page"], outputs=["notion_page"], completion_status="Held",
                      offline=offline)]
'''


@pytest.fixture(scope="package")
def plugin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dropped-plugins")
    (folder / "changelog.py").write_text(textwrap.dedent(CHANGELOG_PLUGIN))
    (folder / "changelog.md").write_text("You write concise release notes for a user story.")
    (folder / "slowpoke.py").write_text(textwrap.dedent(SLOWPOKE_PLUGIN))
    return folder


# Package scope: the stack is stopped when the e2e tests are done, before other folders' tests use moto in-process.
@pytest.fixture(scope="package")
def stack(tmp_path_factory, plugin_dir):
    from runtime.local.stack import LocalStack, StackOptions
    from runtime.registry import reset_registry

    previous = os.environ.get("AIDLC_PLUGIN_DIRS")
    os.environ["AIDLC_PLUGIN_DIRS"] = str(plugin_dir)
    reset_registry()
    local = LocalStack(StackOptions(port=0, state_dir=tmp_path_factory.mktemp("stack-state"), sweep_interval_seconds=5))
    local.start()
    yield local
    local.stop()
    if previous is None:
        os.environ.pop("AIDLC_PLUGIN_DIRS", None)
    else:
        os.environ["AIDLC_PLUGIN_DIRS"] = previous


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Override the unit tests' per-test registry reset: the stack keeps its plugin folder for the session."""
    yield


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory):
    """Where the browser tests put their screenshots: a temporary folder (tests write nothing into the repository),
    or the folder named by AIDLC_TEST_ARTIFACTS, for a developer who wants to look at them."""
    chosen = os.environ.get("AIDLC_TEST_ARTIFACTS")
    if not chosen:
        return tmp_path_factory.mktemp("screenshots")
    folder = Path(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    return folder

"""A third-party plugin as a user would drop it into agent_plugins/: an agent, a tool of its own, a chain.

Used by .ci/plugin-check, which copies it into a throwaway copy of the project and runs the suite there: the
project's own tests must not depend on which other plugins are installed.
"""

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from runtime.plugins import AgentSpec, ChainRule, ToolCall, hookimpl
from runtime.tools.spec import ToolSpec


class CountWordsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


def count_words(context, args: CountWordsArgs) -> dict:
    return {"words": len(args.text.split())}


def offline(request):
    story = yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    counted = yield ToolCall("count_words", {"text": story.get("markdown") or request.story.title})
    page = yield ToolCall("notion_create_page", {
        "parent_page_id": request.notion_page_id,
        "title": f"Release notes: {request.story.title}",
        "markdown": f"Made offline. The story has {counted['words']} words.",
    })
    return f"Release notes at {page['url']}"


@hookimpl
def register_tools():
    return [ToolSpec(name="count_words", description="Count the words in a text", target="analysis",
                     args_model=CountWordsArgs, func=count_words)]


@hookimpl
def register_agents():
    return [AgentSpec(name="release_notes", description="Drafts release notes from a story",
                      triggers=["Write Release Notes"],
                      prompt_file=Path(__file__).parent / "prompts" / "release_notes.md",
                      tools=["notion_read_page", "notion_create_page", "count_words"], outputs=["notion_page"],
                      completion_status="Release Notes Ready",
                      chains=[ChainRule(to="review", template="custom")], offline=offline)]

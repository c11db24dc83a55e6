"""The mock agent: a story becomes an interactive HTML prototype at a shareable URL."""

from pathlib import Path

from runtime import offline_content as content
from runtime.plugins import AgentSpec, ChainRule, Limits, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    upload = yield ToolCall(
        "prototype_upload",
        {"invocation_id": request.invocation_id, "files": {"index.html": content.prototype_html(request)}},
    )
    return f"Prototype for '{request.story.title}' is live at {upload['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="mock",
            description="Builds a self-contained HTML/CSS/JS prototype of the story and hosts it.",
            triggers=["Generate Prototype"],
            prompt_file=Path(__file__).parent / "prompts" / "mock.md",
            tools=["notion_read_page", "notion_search", "prototype_upload", "prototype_url"],
            outputs=["prototype"],
            completion_status="Prototype Ready",
            chains=[ChainRule(to="demo_deck", template="story-to-mock-to-deck")],
            limits=Limits(max_tokens=200_000, timeout_seconds=3600),
            offline=offline,
        )
    ]

"""The spec agent: a story becomes a technical specification page; then the code agent runs."""

from pathlib import Path

from runtime import offline_content as content
from runtime.plugins import AgentSpec, ChainRule, Limits, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    page = yield ToolCall(
        "notion_create_page",
        {
            "parent_page_id": request.notion_page_id,
            "title": f"Technical specification: {request.story.title}",
            "markdown": content.spec_markdown(request),
        },
    )
    return f"Specification for '{request.story.title}' written at {page['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="spec",
            description="Turns a user story into a technical specification: requirements, design notes, tasks.",
            triggers=["Generate Spec"],
            prompt_file=Path(__file__).parent / "prompts" / "spec.md",
            tools=["notion_read_page", "notion_search", "notion_query_data_source", "notion_create_page"],
            outputs=["notion_page"],
            completion_status="Spec Ready",
            chains=[ChainRule(to="code", template="story-to-code")],
            limits=Limits(max_tokens=150_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

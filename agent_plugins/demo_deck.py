"""The demo deck agent: a Notion page sequence for customer demos, and a feedback database (seed 2.3)."""

from pathlib import Path

from runtime import offline_content as content
from runtime.models import FEEDBACK_DATABASE_PROPERTIES
from runtime.plugins import AgentSpec, Limits, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    parent = request.parent.context if request.parent else {}
    prototype_url = parent.get("prototype_url") or request.story.properties.get("Prototype URL")
    deck = yield ToolCall(
        "notion_create_page",
        {
            "parent_page_id": request.notion_page_id,
            "title": f"Demo deck: {request.story.title}",
            "markdown": content.deck_markdown(request, prototype_url),
        },
    )
    feedback = yield ToolCall(
        "notion_create_database",
        {
            "parent_page_id": deck["page_id"],
            "title": f"Feedback: {request.story.title}",
            "properties": FEEDBACK_DATABASE_PROPERTIES,
        },
    )
    return (
        f"Demo deck for '{request.story.title}' at {deck['url']}, with a feedback database at {feedback['url']}."
    )


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="demo_deck",
            description="Writes a Notion demo deck (problem, solution, prototype, call to action) and a feedback database.",
            triggers=["Generate Demo Deck"],
            prompt_file=Path(__file__).parent / "prompts" / "demo_deck.md",
            tools=["notion_read_page", "notion_search", "notion_create_page", "notion_create_database"],
            outputs=["notion_page", "notion_database"],
            completion_status="Demo Deck Ready",
            limits=Limits(max_tokens=150_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

"""The demo deck agent: a Notion page sequence for customer demos, and a feedback database (seed 2.3)."""

from runtime.plugins import (
    OFFLINE_LABEL,
    AgentSpec,
    Limits,
    ToolCall,
    chained_url,
    criteria,
    feedback_database_properties,
    hookimpl,
)


def deck_markdown(request, prototype_url: str | None) -> str:
    items = criteria(request)
    link = f"[Open the prototype]({prototype_url})" if prototype_url else "_No prototype yet: run Generate Prototype._"
    return "\n".join(
        [
            f"# {request.story.title}",
            "",
            "## 1. The problem",
            "",
            request.story.content_markdown.strip() or f"Today it is hard to {request.story.title.lower()}.",
            "",
            "## 2. The solution",
            "",
            *[f"- {item}" for item in items],
            "",
            "## 3. See it working",
            "",
            link,
            "",
            "## 4. Tell us what you think",
            "",
            "1. How clear is the problem and the proposed solution? (1-5)",
            "2. How much would you want this? (1-5)",
            "3. Would you use it? (Yes / No / Maybe)",
            "4. What is your biggest concern?",
            "",
            "Add your answers as a row in the feedback database below.",
            "",
            f"_{OFFLINE_LABEL}_",
        ]
    )


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    prototype_url = chained_url(request, "prototype") or request.story.properties.get("Prototype URL")
    deck = yield ToolCall(
        "notion_create_page",
        {
            "parent_page_id": request.notion_page_id,
            "title": f"Demo deck: {request.story.title}",
            "markdown": deck_markdown(request, prototype_url),
        },
    )
    feedback = yield ToolCall(
        "notion_create_database",
        {
            "parent_page_id": deck["page_id"],
            "title": f"Feedback: {request.story.title}",
            "properties": feedback_database_properties(request.project.stories_data_source_id),
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
            tools=["notion_read_page", "notion_search", "notion_create_page", "notion_create_database"],
            outputs=["notion_page", "notion_database"],
            completion_status="Demo Deck Ready",
            limits=Limits(max_tokens=150_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

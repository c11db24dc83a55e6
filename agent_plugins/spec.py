"""The spec agent: a story becomes a technical specification page; then the code agent runs."""

from runtime.plugins import OFFLINE_LABEL, AgentSpec, ChainRule, Limits, ToolCall, criteria, hookimpl


def spec_markdown(request) -> str:
    items = criteria(request)
    return "\n".join(
        [
            f"# Technical specification: {request.story.title}",
            "",
            "## Requirements",
            *[f"{i}. {item}" for i, item in enumerate(items, 1)],
            "",
            "## Design notes",
            "",
            f"- Frameworks: {', '.join(request.project.framework_preferences) or 'project defaults'}",
            f"- Coding standards: {request.project.coding_standards or 'project defaults'}",
            "",
            "## Tasks",
            *[f"- [ ] Implement and test: {item}" for item in items],
            "",
            f"_{OFFLINE_LABEL}_",
        ]
    )


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    page = yield ToolCall(
        "notion_create_page",
        {
            "parent_page_id": request.notion_page_id,
            "title": f"Technical specification: {request.story.title}",
            "markdown": spec_markdown(request),
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
            tools=["notion_read_page", "notion_search", "notion_query_data_source", "notion_create_page"],
            outputs=["notion_page"],
            completion_status="Spec Ready",
            chains=[ChainRule(to="code", template="story-to-code")],
            limits=Limits(max_tokens=150_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

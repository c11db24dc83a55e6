"""The insight agent: a synthesis of the collected feedback, with statistics computed by a tool, not the model."""

from pathlib import Path

from runtime import offline_content as content
from runtime.plugins import AgentSpec, Limits, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    parent = request.parent.context if request.parent else {}
    data_source_id = parent.get("feedback_data_source_id") or request.story.properties.get("Feedback Data Source")
    if not data_source_id:
        found = yield ToolCall(
            "notion_search", {"query": f"Feedback: {request.story.title}", "object_type": "data_source"}
        )
        if not found["results"]:
            raise LookupError(
                f"no feedback database found for '{request.story.title}': run Generate Demo Deck first"
            )
        data_source_id = found["results"][0]["id"]
    stats = yield ToolCall("feedback_statistics", {"data_source_id": data_source_id})
    rows = yield ToolCall("notion_query_data_source", {"data_source_id": data_source_id})
    quotes = [
        str(row["properties"].get("Open Feedback"))
        for row in rows["results"]
        if row["properties"].get("Open Feedback")
    ]
    report = yield ToolCall(
        "notion_create_page",
        {
            "parent_page_id": request.notion_page_id,
            "title": f"Feedback synthesis: {request.story.title}",
            "markdown": content.insight_markdown(request, stats, quotes),
        },
    )
    return f"Synthesised {stats['count']} feedback entries for '{request.story.title}': {report['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="insight",
            description="Synthesises feedback into ratings statistics, themes, quotes and recommendations.",
            triggers=["Synthesize Feedback"],
            prompt_file=Path(__file__).parent / "prompts" / "insight.md",
            tools=[
                "notion_read_page",
                "notion_search",
                "notion_query_data_source",
                "feedback_statistics",
                "notion_create_page",
            ],
            outputs=["insight_report"],
            completion_status="Insights Ready",
            limits=Limits(max_tokens=150_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

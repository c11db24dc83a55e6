"""The insight agent: a synthesis of the collected feedback, with statistics computed by a tool, not the model."""

from runtime.plugins import (OFFLINE_LABEL, AgentSpec, Limits, MemoryStrategy, ToolCall, hookimpl, parent_context,
                             story_page)


def insight_markdown(request, stats: dict, quotes: list[str]) -> str:
    lines = [f"# Feedback synthesis: {request.story.title}", "", f"Responses: **{stats.get('count', 0)}**", ""]
    lines += ["## Ratings", "", "| Rating | Mean | Median |", "|---|---|---|"]
    for name, values in (stats.get("ratings") or {}).items():
        lines.append(f"| {name} | {values.get('mean')} | {values.get('median')} |")
    lines += ["", "## Would use", ""]
    for answer, share in (stats.get("would_use") or {}).items():
        lines.append(f"- {answer}: {share}")
    lines += ["", "## Quotes", ""] + [f"> {q}" for q in quotes[:5]] + ["", f"_{OFFLINE_LABEL}_"]
    return "\n".join(lines)


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    data_source_id = (parent_context(request).get("feedback_data_source_id")
                      or request.story.properties.get("Feedback Data Source"))
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
    report = yield from story_page(request, f"Feedback synthesis: {request.story.title}",
                                   insight_markdown(request, stats, quotes))
    return f"Synthesised {stats['count']} feedback entries for '{request.story.title}': {report['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="insight",
            description="Synthesises feedback into ratings statistics, themes, quotes and recommendations.",
            triggers=["Synthesize Feedback"],
            tools=[
                "kb_retrieve", "notion_read_page",
                "notion_search",
                "notion_query_data_source",
                "feedback_statistics",
                "notion_create_page",
            ],
            outputs=["insight_report"],
            completion_status="Insights Ready",
            limits=Limits(max_tokens=150_000, timeout_seconds=1800, uses_memory=True),
            memory_strategies=[MemoryStrategy(
                name="findings", type="SEMANTIC", from_run_summary=True,
                description="What earlier syntheses of this project's feedback found (each run's summary).")],
            offline=offline,
        )
    ]

"""The demo deck agent: a Notion page sequence for customer demos, and a feedback database (seed 2.3, 4.5.3)."""

from agent_plugins.mock import problem_sentences, read_story, solution_sentence, story_criteria
from runtime.plugins import (
    ARTIFACTS_KEY,
    OFFLINE_LABEL,
    AgentSpec,
    Limits,
    MemoryStrategy,
    ToolCall,
    chained_url,
    feedback_database_properties,
    hookimpl,
    parent_context,
    story_page,
)

# The seed's page sequence: problem -> solution -> prototype (with its screenshot) -> call to action.
PAGE_TITLES = ("1. The problem", "2. The solution", "3. See it working", "4. Tell us what you think")


def chained_screenshot(request) -> str | None:
    """The screenshot of the prototype the chain passed on (`metadata.screenshot_url`), if it has one."""
    for artifact in parent_context(request).get(ARTIFACTS_KEY) or []:
        metadata = artifact.get("metadata") or {}
        if artifact.get("type") == "prototype" and metadata.get("screenshot_url"):
            return metadata["screenshot_url"]
    return None


def _finish(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[0].upper() + text[1:] + "." if text else ""


def deck_pages(request, prototype_url: str | None, screenshot_url: str | None = None) -> list[tuple[str, str]]:
    """(title, markdown) of each page of the deck, in the order they are shown."""
    story = read_story(request)
    items = story_criteria(request)
    label = f"_{OFFLINE_LABEL}_"
    body = (request.story.content_markdown or "").strip()
    quote = [f"> {line}" if line else ">" for line in body.splitlines()[:8]] if body else []
    problem = [*problem_sentences(story), "", *(["In the story's own words:", "", *quote, ""] if quote else []), label]
    solution = [solution_sentence(story), "", "What changes for them:", "",
                *[f"- {_finish(item)}" for item in items], "", label]
    if prototype_url:
        working = [f"**[Open the prototype]({prototype_url})**", "",
                   "It is a clickable prototype with made-up sample data, not the finished product.", ""]
        if screenshot_url:
            working += [f"![The prototype as it looked when it was made]({screenshot_url})", ""]
        working += ["Try this:", "", *[f"{n}. Press the button beside \u201c{_finish(item)}\u201d and watch the page "
                                       "change." for n, item in enumerate(items[:3], 1)], ""]
    else:
        working = ["The prototype is still to come: move the story to Generate Prototype to make one.", ""]
    working.append(label)
    action = ["We would like your honest view. Add one row to the feedback database "
              "(on the deck's cover page, after these pages), "
              "filling in:", "",
              "1. Overall Rating (1-5): how good is this overall?",
              "2. Clarity Rating (1-5): how clear are the problem and the solution?",
              "3. Desirability Rating (1-5): how much would you want this?",
              "4. Would Use (Yes / No / Maybe)",
              "5. Top Concern: your biggest concern or objection",
              "6. Open Feedback: anything else",
              "7. Respondent: your name", "", label]
    return list(zip(PAGE_TITLES, ["\n".join(problem), "\n".join(solution), "\n".join(working), "\n".join(action)]))


def deck_cover(request, prototype_url: str | None = None) -> str:
    story = read_story(request)
    link = [f"[Open the prototype]({prototype_url})", ""] if prototype_url else []
    return "\n".join([
        solution_sentence(story), "", *link,
        "This deck is a short sequence of pages: the problem, the solution, the prototype and what we ask of you. "
        "Open them in order below; the feedback database is at the end.", "", f"_{OFFLINE_LABEL}_"])


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    prototype_url = chained_url(request, "prototype") or request.story.properties.get("Prototype URL")
    variant = parent_context(request).get("variant")
    suffix = f" (Variant {variant})" if variant else ""
    deck = yield from story_page(request, f"Demo deck: {request.story.title}{suffix}",
                                 deck_cover(request, prototype_url))
    for title, markdown in deck_pages(request, prototype_url, chained_screenshot(request)):
        yield ToolCall("notion_create_page", {"parent_page_id": deck["page_id"], "title": title, "markdown": markdown})
    feedback = yield ToolCall(
        "notion_create_database",
        {
            "parent_page_id": deck["page_id"],
            "title": f"Feedback: {request.story.title}{suffix}",
            "properties": feedback_database_properties(request.project.stories_data_source_id),
        },
    )
    return (
        f"Demo deck for '{request.story.title}' at {deck['url']} ({len(PAGE_TITLES)} pages: problem, solution, "
        f"prototype, call to action), with a feedback database at {feedback['url']}."
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
            limits=Limits(max_tokens=150_000, timeout_seconds=1800, uses_memory=True),
            memory_strategies=[MemoryStrategy(
                name="audience_tone", type="USER_PREFERENCE",
                description="The project's demo audiences and the tone they respond to (from feedback on decks).")],
            offline=offline,
        )
    ]

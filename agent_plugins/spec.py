"""The spec agent: a story becomes a technical specification page; then the code agent runs."""

import re

from runtime.plugins import OFFLINE_LABEL, AgentSpec, ChainRule, Limits, ToolCall, criteria, hookimpl, story_page

_STOPWORDS = {"should", "their", "there", "these", "which", "about", "after", "before", "would", "could", "within"}


def keywords(request, limit: int = 3) -> list[str]:
    """The story's most frequent longer words (criteria and title): what to look for in the repository."""
    words = re.findall(r"[a-z]{5,}", " ".join([request.story.title, *criteria(request)]).lower())
    counts: dict[str, int] = {}
    for word in words:
        if word not in _STOPWORDS:
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], words.index(w)))[:limit]


def repository_section(tree: dict | None, found: dict | None) -> list[str]:
    """Where the change fits: the repository's top level and the lines that mention the story's words."""
    if tree is None:
        return []
    lines = ["## Where it fits in the repository", "",
             "Top level: " + ", ".join(f"`{e['path']}`" + ("/" if e["type"] == "dir" else "")
                                       for e in tree["entries"]) + ".", ""]
    matches = (found or {}).get("matches") or []
    if matches:
        lines += ["Code that mentions the story's terms:", "",
                  *[f"- `{m['path']}:{m['line']}`: `{m['text'].strip()[:100]}`" for m in matches[:10]]]
    else:
        lines.append("No existing code mentions the story's terms: this is new code.")
    return [*lines, ""]


def spec_markdown(request, tree: dict | None = None, found: dict | None = None) -> str:
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
            *repository_section(tree, found),
            "## Tasks",
            *[f"- [ ] Implement and test: {item}" for item in items],
            "",
            f"_{OFFLINE_LABEL}_",
        ]
    )


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    # explore the repository before specifying: its layout, and code that already touches the story's terms
    tree = yield ToolCall("repo_list_files", {"depth": 1})
    terms = keywords(request)
    found = None
    if terms:
        found = yield ToolCall("repo_search_code", {"pattern": "(?i)(" + "|".join(terms) + ")", "max_results": 20})
    page = yield from story_page(request, f"Technical specification: {request.story.title}",
                                 spec_markdown(request, tree, found))
    return f"Specification for '{request.story.title}' written at {page['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="spec",
            description="Turns a user story into a technical specification: requirements, design notes, tasks.",
            triggers=["Generate Spec"],
            tools=["kb_retrieve", "notion_read_page", "notion_search", "notion_query_data_source",
                   "repo_list_files",
                   "repo_search_code", "repo_read_files", "notion_create_page"],
            outputs=["notion_page"],
            completion_status="Spec Ready",
            chains=[ChainRule(to="code", template="story-to-code")],
            limits=Limits(max_tokens=150_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

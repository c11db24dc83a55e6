"""The code agent: a story becomes a GitHub pull request with an implementation draft and tests."""

import json

from runtime.plugins import OFFLINE_LABEL, AgentSpec, Limits, ToolCall, criteria, hookimpl, slug

# --- offline: an implementation draft and its tests, rendered from the story ---------------------------------


def code_files(request) -> dict[str, str]:
    name = slug(request.story.title, 30).replace("-", "_")
    items = criteria(request)
    checks = "\n".join(f"    {json.dumps(item)}," for item in items)
    module = f'''"""{request.story.title}

Implementation draft generated from Notion story {request.notion_page_id}.
{OFFLINE_LABEL}
"""

ACCEPTANCE_CRITERIA = [
{checks}
]


def criteria_status(done: set[int]) -> list[dict]:
    """Which acceptance criteria are met, given the indexes already done."""
    return [{{"criterion": text, "met": index in done}} for index, text in enumerate(ACCEPTANCE_CRITERIA)]
'''
    test = f'''from features.{name} import ACCEPTANCE_CRITERIA, criteria_status


def test_every_criterion_is_listed():
    assert len(ACCEPTANCE_CRITERIA) == {len(items)}


def test_status_marks_done_criteria():
    status = criteria_status({{0}})
    assert status[0]["met"] is True
    assert all(not row["met"] for row in status[1:])
'''
    return {f"features/{name}.py": module, f"tests/test_{name}.py": test, "features/__init__.py": ""}


def pr_body(request, files: dict) -> str:
    return "\n".join(
        [
            f"Implements Notion story **{request.story.title}** (page `{request.notion_page_id}`).",
            "",
            "### Acceptance criteria",
            *[f"- [ ] {item}" for item in criteria(request)],
            "",
            "### Files",
            *[f"- `{path}`" for path in files],
            "",
            f"_{OFFLINE_LABEL}_",
        ]
    )


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    branch = f"aidlc/{slug(request.story.title)}-{request.invocation_id[-6:].lower()}"
    yield ToolCall("github_create_branch", {"branch": branch})
    files = code_files(request)
    yield ToolCall(
        "github_commit_files",
        {"branch": branch, "message": f"Implement: {request.story.title}", "files": files},
    )
    pr = yield ToolCall(
        "github_create_pull_request",
        {"branch": branch, "title": request.story.title, "body": pr_body(request, files)},
    )
    return f"Opened pull request #{pr['number']} ({pr['url']}) with {len(files)} files for '{request.story.title}'."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="code",
            description="Generates an implementation draft with tests and opens a GitHub pull request.",
            triggers=["Generate Code"],
            tools=[
                "notion_read_page",
                "notion_search",
                "github_read_file",
                "github_create_branch",
                "github_commit_files",
                "github_create_pull_request",
            ],
            outputs=["pull_request"],
            completion_status="Code Generated",
            limits=Limits(max_tokens=400_000, timeout_seconds=2 * 3600, memory_mb=4096),
            offline=offline,
        )
    ]

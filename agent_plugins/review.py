"""The review agent: checks a pull request against the story's acceptance criteria."""

import re

from runtime.plugins import OFFLINE_LABEL, AgentSpec, Limits, ToolCall, chained_url, criteria, hookimpl, story_page


def review_markdown(request, pull_request: dict, sources: dict | None = None) -> str:
    diff = pull_request.get("diff", "")
    # the changed files read whole (not only their hunks): a criterion met by unchanged code still counts
    diff += "\n".join(f["content"] for f in (sources or {}).get("files") or [])
    results = []
    for item in criteria(request):
        words = [w for w in re.findall(r"[a-z]{4,}", item.lower())]
        hit = any(w in diff.lower() for w in words)
        results.append(f"- {'PASS' if hit else 'CHECK'}: {item}")
    verdict = "pass" if all(r.startswith("- PASS") for r in results) else "needs changes"
    return "\n".join(
        [
            f"# Review of PR #{pull_request.get('number')}: {pull_request.get('title', '')}",
            "",
            f"**Assessment:** {verdict}",
            "",
            "## Acceptance criteria",
            *results,
            "",
            f"_{OFFLINE_LABEL}_",
        ]
    )


def _pull_request_number(request) -> int:
    candidates = [
        chained_url(request, "pull_request"),
        request.story.properties.get("Pull Request"),
    ]
    for value in candidates:
        match = re.search(r"(\d+)\s*$", str(value or ""))
        if match:
            return int(match.group(1))
    raise LookupError(
        f"story '{request.story.title}' names no pull request: set its 'Pull Request' property or run Generate Code first"
    )


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    pull_request = yield ToolCall("github_read_pull_request", {"number": _pull_request_number(request)})
    # the branch against its base, and the changed files read whole
    changes = yield ToolCall("repo_branch_diff", {"branch": pull_request["branch"], "base": pull_request["base"]})
    changed = [f["path"] for f in changes["files"] if f["status"] != "removed"][:20]
    sources = None
    if changed:
        sources = yield ToolCall("repo_read_files", {"paths": changed, "ref": pull_request["branch"]})
    review = review_markdown(request, pull_request, sources)
    yield ToolCall("github_comment_pull_request", {"number": pull_request["number"], "body": review})
    page = yield from story_page(request, f"Code review: {request.story.title}", review)
    return f"Reviewed pull request #{pull_request['number']} against the acceptance criteria: {page['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="review",
            description="Reviews a pull request against the story's acceptance criteria and posts the review.",
            triggers=["Review Code"],
            tools=[
                "kb_retrieve", "notion_read_page",
                "github_read_pull_request",
                "github_read_file",
                "repo_list_files",
                "repo_search_code",
                "repo_read_files",
                "repo_branch_diff",
                "sandbox_run",
                "github_comment_pull_request",
                "notion_create_page",
            ],
            outputs=["notion_page"],
            completion_status="Review Ready",
            limits=Limits(max_tokens=200_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

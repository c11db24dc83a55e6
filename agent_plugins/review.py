"""The review agent: checks a pull request against the story's acceptance criteria."""

import re
from pathlib import Path

from runtime import offline_content as content
from runtime.plugins import AgentSpec, Limits, ToolCall, hookimpl


def _pull_request_number(request) -> int:
    candidates = [
        (request.parent.context.get("pull_request_url") if request.parent else None),
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
    review = content.review_markdown(request, pull_request)
    yield ToolCall("github_comment_pull_request", {"number": pull_request["number"], "body": review})
    page = yield ToolCall(
        "notion_create_page",
        {"parent_page_id": request.notion_page_id, "title": f"Code review: {request.story.title}", "markdown": review},
    )
    return f"Reviewed pull request #{pull_request['number']} against the acceptance criteria: {page['url']}."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="review",
            description="Reviews a pull request against the story's acceptance criteria and posts the review.",
            triggers=["Review Code"],
            prompt_file=Path(__file__).parent / "prompts" / "review.md",
            tools=[
                "notion_read_page",
                "github_read_pull_request",
                "github_read_file",
                "github_comment_pull_request",
                "notion_create_page",
            ],
            outputs=["notion_page"],
            completion_status="Review Ready",
            limits=Limits(max_tokens=200_000, timeout_seconds=1800),
            offline=offline,
        )
    ]

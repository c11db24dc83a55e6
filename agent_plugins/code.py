"""The code agent: a story becomes a GitHub pull request with an implementation draft and tests."""

from pathlib import Path

from runtime import offline_content as content
from runtime.plugins import AgentSpec, Limits, ToolCall, hookimpl


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    branch = f"aidlc/{content.slug(request.story.title)}-{request.invocation_id[-6:].lower()}"
    yield ToolCall("github_create_branch", {"branch": branch})
    files = content.code_files(request)
    yield ToolCall(
        "github_commit_files",
        {"branch": branch, "message": f"Implement: {request.story.title}", "files": files},
    )
    pr = yield ToolCall(
        "github_create_pull_request",
        {"branch": branch, "title": request.story.title, "body": content.pr_body(request, files)},
    )
    return f"Opened pull request #{pr['number']} ({pr['url']}) with {len(files)} files for '{request.story.title}'."


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="code",
            description="Generates an implementation draft with tests and opens a GitHub pull request.",
            triggers=["Generate Code"],
            prompt_file=Path(__file__).parent / "prompts" / "code.md",
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

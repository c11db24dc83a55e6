"""GitHub tools: branch, commit several files at once, open and read pull requests, read a file, comment."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.models import ArtifactType, OutputArtifact, PullRequestMetadata
from runtime.tools.base import ToolContext
from runtime.tools.spec import ArtifactContext, ToolResultModel, ToolSpec


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateBranchArgs(_Args):
    branch: str = Field(min_length=1, description="New branch name, e.g. 'aidlc/checkout-flow'")
    from_branch: str | None = Field(default=None, description="Branch to start from (default: the default branch)")


class CommitFilesArgs(_Args):
    branch: str = Field(min_length=1, description="Branch to commit to (never the default branch)")
    message: str = Field(min_length=1, description="Commit message")
    files: dict[str, str] = Field(min_length=1, description="File path -> full new file content; all in one commit")


class CreatePullRequestArgs(_Args):
    branch: str = Field(min_length=1, description="Head branch with the changes")
    title: str = Field(min_length=1, description="Pull request title")
    body: str = Field(default="", description="Pull request description (markdown)")
    base: str | None = Field(default=None, description="Branch to merge into (default: the default branch)")
    draft: bool = Field(default=False, description="Open as a draft")


class ReadFileArgs(_Args):
    path: str = Field(min_length=1, description="Repository-relative file path")
    ref: str | None = Field(default=None, description="Branch or commit (default: the default branch)")


class ReadPullRequestArgs(_Args):
    number: int = Field(ge=1, description="Pull request number")


class CommentPullRequestArgs(_Args):
    number: int = Field(ge=1, description="Pull request number")
    body: str = Field(min_length=1, description="Comment text (markdown)")
    in_reply_to: int | None = Field(default=None, ge=1, description="A review comment's id: reply in its thread on "
                                                                    "the diff instead of commenting on the PR")


# --- results (both backends, runtime/github/local.py and rest.py, answer in these shapes) ---------------------


class CreateBranchResult(ToolResultModel):
    branch: str
    sha: str
    from_branch: str | None = None


class CommitFilesResult(ToolResultModel):
    branch: str
    sha: str
    files_changed: int = Field(ge=0)


class CreatePullRequestResult(ToolResultModel):
    number: int = Field(ge=1)
    url: str
    branch: str
    base: str | None = None
    repo: str
    draft: bool = False
    files_changed: int = Field(default=0, ge=0)


class ReadFileResult(ToolResultModel):
    path: str
    ref: str | None = None
    content: str


class ReadPullRequestResult(ToolResultModel):
    number: int = Field(ge=1)
    title: str
    body: str
    branch: str
    base: str
    url: str
    repo: str
    draft: bool = False
    state: str = "open"
    diff: str = Field(description="The unified diff")
    files: list[str] = Field(description="Changed file paths")


class CommentPullRequestResult(ToolResultModel):
    comment_id: int | str
    url: str


# --- tools -------------------------------------------------------------------------------------------------


def create_branch(context: ToolContext, args: CreateBranchArgs) -> dict[str, Any]:
    return context.services.require("github", "github_create_branch").create_branch(args.branch, args.from_branch)


def commit_files(context: ToolContext, args: CommitFilesArgs) -> dict[str, Any]:
    github = context.services.require("github", "github_commit_files")
    return github.commit_files(args.branch, args.message, args.files)


def create_pull_request(context: ToolContext, args: CreatePullRequestArgs) -> dict[str, Any]:
    from runtime.github.backend import pr_marker

    github = context.services.require("github", "github_create_pull_request")
    # which run opened it, so a review on it re-runs that run (runtime/pipeline/feedback.py)
    body = f"{args.body}\n\n{pr_marker(context.invocation_id)}" if context.invocation_id else args.body
    return github.create_pull_request(args.branch, args.title, body, args.base, args.draft)


def read_file(context: ToolContext, args: ReadFileArgs) -> dict[str, Any]:
    return context.services.require("github", "github_read_file").read_file(args.path, args.ref)


def read_pull_request(context: ToolContext, args: ReadPullRequestArgs) -> dict[str, Any]:
    return context.services.require("github", "github_read_pull_request").read_pull_request(args.number)


def comment_pull_request(context: ToolContext, args: CommentPullRequestArgs) -> dict[str, Any]:
    github = context.services.require("github", "github_comment_pull_request")
    if args.in_reply_to is not None:
        return github.reply_to_review_comment(args.number, args.in_reply_to, args.body)
    return github.comment_pull_request(args.number, args.body)


def pull_request_artifact(args: CreatePullRequestArgs, result: CreatePullRequestResult,
                          run: ArtifactContext) -> OutputArtifact:
    # GitHub may not have counted the changed files yet: fall back to what the run committed
    committed = sum(int(c.result.get("files_changed") or len(c.args.get("files") or {}))
                    for c in run.earlier_calls("github_commit_files"))
    return OutputArtifact(
        type=ArtifactType.PULL_REQUEST, url=result.url, title=f"PR #{result.number}: {args.title}",
        metadata=PullRequestMetadata(repo=result.repo or run.request.project.github_repo,
                                     branch=result.branch or args.branch, pr_number=result.number,
                                     files_changed=result.files_changed or committed),
    )


TOOLS = [
    ToolSpec("github_create_branch", "Create a branch in the project's repository from the default branch "
             "(or from_branch).", "github", CreateBranchArgs, create_branch, result_model=CreateBranchResult),
    ToolSpec("github_commit_files", "Commit one or more files (path -> full content) to a branch in a single commit.",
             "github", CommitFilesArgs, commit_files, result_model=CommitFilesResult,
             changed_paths=lambda args: list(args.files)),
    ToolSpec("github_create_pull_request", "Open a pull request from a branch into the default branch (or base).",
             "github", CreatePullRequestArgs, create_pull_request, result_model=CreatePullRequestResult,
             artifact=pull_request_artifact),
    ToolSpec("github_read_file", "Read a text file from the repository at a branch or commit.", "github",
             ReadFileArgs, read_file, result_model=ReadFileResult),
    ToolSpec("github_read_pull_request", "Read a pull request: title, body, branches, changed files and the "
             "unified diff.", "github", ReadPullRequestArgs, read_pull_request, result_model=ReadPullRequestResult),
    ToolSpec("github_comment_pull_request", "Post a comment on a pull request.", "github", CommentPullRequestArgs,
             comment_pull_request, result_model=CommentPullRequestResult),
]

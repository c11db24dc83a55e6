"""GitHub tools: branch, commit several files at once, open and read pull requests, read a file, comment."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.tools.base import ToolContext
from runtime.tools.spec import ToolSpec


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


def create_branch(context: ToolContext, args: CreateBranchArgs) -> dict[str, Any]:
    return context.services.require("github", "github_create_branch").create_branch(args.branch, args.from_branch)


def commit_files(context: ToolContext, args: CommitFilesArgs) -> dict[str, Any]:
    github = context.services.require("github", "github_commit_files")
    return github.commit_files(args.branch, args.message, args.files)


def create_pull_request(context: ToolContext, args: CreatePullRequestArgs) -> dict[str, Any]:
    github = context.services.require("github", "github_create_pull_request")
    return github.create_pull_request(args.branch, args.title, args.body, args.base, args.draft)


def read_file(context: ToolContext, args: ReadFileArgs) -> dict[str, Any]:
    return context.services.require("github", "github_read_file").read_file(args.path, args.ref)


def read_pull_request(context: ToolContext, args: ReadPullRequestArgs) -> dict[str, Any]:
    return context.services.require("github", "github_read_pull_request").read_pull_request(args.number)


def comment_pull_request(context: ToolContext, args: CommentPullRequestArgs) -> dict[str, Any]:
    github = context.services.require("github", "github_comment_pull_request")
    return github.comment_pull_request(args.number, args.body)


TOOLS = [
    ToolSpec("github_create_branch", "Create a branch in the project's repository from the default branch "
             "(or from_branch).", "github", CreateBranchArgs, create_branch),
    ToolSpec("github_commit_files", "Commit one or more files (path -> full content) to a branch in a single commit.",
             "github", CommitFilesArgs, commit_files),
    ToolSpec("github_create_pull_request", "Open a pull request from a branch into the default branch (or base).",
             "github", CreatePullRequestArgs, create_pull_request),
    ToolSpec("github_read_file", "Read a text file from the repository at a branch or commit.", "github",
             ReadFileArgs, read_file),
    ToolSpec("github_read_pull_request", "Read a pull request: title, body, branches, changed files and the "
             "unified diff.", "github", ReadPullRequestArgs, read_pull_request),
    ToolSpec("github_comment_pull_request", "Post a comment on a pull request.", "github", CommentPullRequestArgs,
             comment_pull_request),
]

"""The GitHub operations the code and review agents need, as a Protocol both backends implement.

Every method returns a plain dict shaped like the matching tool's result model in `runtime/tools/github_tools.py`
(checked on every call), so the tool functions stay one line each. Failures raise `GitHubError` (or a subclass) with a message a model can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


class GitHubError(Exception):
    """A GitHub operation failed; `status` is the HTTP status (or the closest equivalent offline)."""

    status: int = 502

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class GitHubNotFound(GitHubError):
    status = 404


class GitHubConflict(GitHubError):
    """The branch already exists, the PR already exists, nothing to commit..."""

    status = 422


@runtime_checkable
class GitHubBackend(Protocol):
    repo: str  # "owner/name" (REST) or a label for the local remote
    default_branch: str

    def create_branch(self, branch: str, from_branch: str | None = None) -> dict[str, Any]:
        """-> {branch, sha}. `from_branch` defaults to the default branch."""

    def commit_files(self, branch: str, message: str, files: Mapping[str, str]) -> dict[str, Any]:
        """Every file in ONE commit on `branch` -> {branch, sha, files_changed}."""

    def create_pull_request(
        self, branch: str, title: str, body: str, base: str | None = None, draft: bool = False
    ) -> dict[str, Any]:
        """-> {number, url, branch, base, repo, draft, files_changed}."""

    def read_file(self, path: str, ref: str | None = None) -> dict[str, Any]:
        """-> {path, ref, content} (text)."""

    def read_pull_request(self, number: int) -> dict[str, Any]:
        """-> {number, title, body, branch, base, url, diff (unified), files: [paths], draft, repo}."""

    def comment_pull_request(self, number: int, body: str) -> dict[str, Any]:
        """-> {comment_id, url}."""


def check_repo_path(path: str) -> str:
    """A repository-relative file path: no absolute paths, no `..`, no empty segments."""
    cleaned = path.strip()
    parts = cleaned.split("/")
    if not cleaned or cleaned.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise GitHubError(f"invalid file path {path!r}: use a relative path like 'src/app.py'", status=400)
    return cleaned


def check_branch_name(branch: str) -> str:
    """The subset of git's ref-name rules that matter for names a model makes up."""
    bad = (
        not branch
        or branch.startswith(("/", "-", "refs/"))
        or branch.endswith(("/", ".", ".lock"))
        or ".." in branch
        or "//" in branch
        or "@{" in branch
        or any(ch in branch for ch in " ~^:?*[\\\t\n")
    )
    if bad:
        raise GitHubError(f"invalid branch name {branch!r}: use something like 'aidlc/my-feature'", status=400)
    return branch

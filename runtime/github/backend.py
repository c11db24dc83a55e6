"""The GitHub operations the code and review agents need, as a Protocol both backends implement.

Every method returns a plain dict shaped like the matching tool's result model in `runtime/tools/github_tools.py`
(checked on every call), so the tool functions stay one line each. Failures raise `GitHubError` (or a subclass) with a message a model can act on.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
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

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> dict[str, Any]:
        """A reply in the thread of review comment `comment_id` on PR `number` -> {comment_id, url}."""

    # --- exploring the repository (runtime/tools/repo_tools.py; the tools truncate, the backends do not) -----

    def list_files(self, ref: str | None = None) -> dict[str, Any]:
        """Every file at `ref` -> {ref, sha, files: [{path, size}]} (`listing` makes the tree view from it)."""

    def search_code(self, pattern: str, path_glob: str | None = None, ref: str | None = None,
                    max_matches: int = 200) -> dict[str, Any]:
        """Lines matching the regular expression `pattern` (Python `re` syntax; PCRE for `git grep`) in the files
        at `ref` whose path matches `path_glob` -> {ref, matches: [{path, line, text}], truncated, searched}."""

    def read_files(self, paths: list[str], ref: str | None = None) -> dict[str, Any]:
        """-> {ref, files: [{path, content}], missing: [{path, error}]}: one missing file does not fail the rest."""

    def branch_diff(self, branch: str, base: str | None = None) -> dict[str, Any]:
        """The branch against the merge base with `base` (GitHub's `base...branch`) -> {branch, base, diff,
        files: [{path, status}]}."""

    def export_tree(self, ref: str, max_bytes: int) -> dict[str, Any]:
        """The files at `ref` for a sandbox checkout -> {ref, sha, files: [(path, mode, bytes)]}; more than
        `max_bytes` in all raises GitHubError (413) rather than give a partial checkout."""


# Which run opened a pull request: the PR tool appends it to the body (an HTML comment, invisible on GitHub), so a
# review on the PR re-runs that run (runtime/pipeline/feedback.py) with no index from pull requests to runs.
_PR_MARKER = re.compile(r"<!--\s*aidlc-invocation:\s*([0-9A-HJKMNP-TV-Z]{26})\s*-->")


def pr_marker(invocation_id: str) -> str:
    return f"<!-- aidlc-invocation: {invocation_id} -->"


def invocation_of_pr_body(body: str | None) -> str | None:
    found = _PR_MARKER.search(body or "")
    return found.group(1) if found else None


def hub_signature(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` GitHub sends with a webhook delivery: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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


# --- shared by both backends' exploring methods -------------------------------------------------------------

EXECUTABLE_MODE = 0o100755
SYMLINK_MODE = 0o120000
SUBMODULE_MODE = 0o160000


def glob_matches(path: str, path_glob: str | None) -> bool:
    """`path_glob` as a shell glob over the whole path (`*` crosses folders, as in fnmatch); a glob without a `/`
    also matches the file name alone, so `*.py` finds Python files in every folder, as a user expects."""
    if not path_glob:
        return True
    if fnmatch.fnmatchcase(path, path_glob):
        return True
    return "/" not in path_glob and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], path_glob)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    if not pattern:
        raise GitHubError("the search pattern is empty", status=400)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise GitHubError(f"invalid regular expression {pattern!r}: {exc}", status=400) from None


def grep_text(path: str, data: bytes, regex: re.Pattern[str]) -> list[dict[str, Any]]:
    """Matching lines of one file; binary files (a NUL byte in the first 8 KiB, git's own test) are skipped."""
    if b"\0" in data[:8192]:
        return []
    text = data.decode("utf-8", errors="replace")
    return [{"path": path, "line": number, "text": line}
            for number, line in enumerate(text.splitlines(), 1) if regex.search(line)]


def grep_files(files: Iterable[tuple[str, Callable[[], bytes]]], regex: re.Pattern[str], path_glob: str | None,
               limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Matching lines of the files whose path matches `path_glob`, each read (the callable) only when it does; at
    most `limit` of them, and whether more were found. Both backends' blob-by-blob search."""
    matches: list[dict[str, Any]] = []
    for path, read in files:
        if glob_matches(path, path_glob):
            matches += grep_text(path, read(), regex)
            if len(matches) > limit:
                return matches[:limit], True
    return matches, False


def listing(files: list[dict[str, Any]], prefix: str = "", depth: int | None = None) -> list[dict[str, Any]]:
    """The tree view under the folder `prefix`, `depth` levels deep (None: all): files as {path, type: "file",
    size}, and each folder cut off by the depth as {path, type: "dir", files: <how many files under it>}."""
    prefix = prefix.strip().strip("/")
    if prefix:
        check_repo_path(prefix)
    base = f"{prefix}/" if prefix else ""
    entries: list[dict[str, Any]] = []
    folders: dict[str, int] = {}
    for item in sorted(files, key=lambda f: f["path"]):
        path = item["path"]
        if not path.startswith(base):
            continue
        parts = path[len(base):].split("/")
        if depth is None or len(parts) <= depth:
            entries.append({"path": path, "type": "file", "size": item.get("size")})
        else:
            folder = base + "/".join(parts[:depth])
            folders[folder] = folders.get(folder, 0) + 1
    entries += [{"path": folder, "type": "dir", "files": count} for folder, count in folders.items()]
    return sorted(entries, key=lambda e: e["path"])

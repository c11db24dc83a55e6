"""GitHub through its REST API, over httpx.

httpx rather than a full client library: the agents need eight endpoints, and the Git Data API calls (tree +
commit + ref update) are what make "several files in one commit" possible, which the contents API cannot do.
Transient 5xx answers are retried with backoff and rate limits (429, 403 + Retry-After) after the time GitHub
asks for (tenacity); other 4xx answers become `GitHubError`s with GitHub's message.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from runtime.github.backend import (
    GitHubConflict,
    GitHubError,
    GitHubNotFound,
    check_branch_name,
    check_repo_path,
    compile_pattern,
    glob_matches,
    grep_files,
)

DEFAULT_API_BASE = "https://api.github.com"
_RETRY_STATUSES = {500, 502, 503, 504}
_MAX_RETRY_AFTER = 60.0  # seconds; a longer limit surfaces as an error instead of stalling the agent


class _Transient(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"GitHub answered {response.status_code}")
        self.response = response
        try:
            self.retry_after: float | None = float(response.headers["retry-after"])
        except (KeyError, ValueError):
            self.retry_after = None


class GitHubRestBackend:
    """`GitHubBackend` for `repo` ("owner/name") with a token (PAT or installation token)."""

    def __init__(
        self,
        token: str,
        repo: str,
        *,
        base_url: str | None = None,
        default_branch: str | None = None,
        http_client: httpx.Client | None = None,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
    ) -> None:
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ValueError(f"GitHub repo must look like 'owner/name', got {repo!r}")
        self.repo = repo
        self._client = http_client or httpx.Client(timeout=httpx.Timeout(30.0))
        self._base = (base_url or DEFAULT_API_BASE).rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "aidlc",
        }
        self._default_branch = default_branch
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._blobs: OrderedDict[str, bytes] = OrderedDict()  # blob sha -> content, least recently used first
        self._blob_bytes = 0

    blob_cache_bytes = 64 * 1024 * 1024
    max_search_files = 2_000  # blobs one search may fetch; past it the result says `truncated`
    max_search_file_bytes = 1024 * 1024

    @property
    def default_branch(self) -> str:
        if self._default_branch is None:
            self._default_branch = self._request("GET", f"/repos/{self.repo}").json()["default_branch"]
        return self._default_branch

    # --- GitHubBackend -------------------------------------------------------------------------------------

    def create_branch(self, branch: str, from_branch: str | None = None) -> dict[str, Any]:
        check_branch_name(branch)
        source = from_branch or self.default_branch
        sha = self._branch_sha(source)
        self._request(
            "POST", f"/repos/{self.repo}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": sha},
            conflict=f"branch {branch!r} already exists; pick another name or commit to it",
        )
        return {"branch": branch, "sha": sha, "from_branch": source}

    def commit_files(self, branch: str, message: str, files: Mapping[str, str]) -> dict[str, Any]:
        check_branch_name(branch)
        if not files:
            raise GitHubError("no files to commit: pass at least one {path: content}", status=400)
        entries = [
            {"path": check_repo_path(path), "mode": "100644", "type": "blob", "content": content}
            for path, content in files.items()
        ]
        parent_sha = self._branch_sha(branch)
        base_tree = self._request("GET", f"/repos/{self.repo}/git/commits/{parent_sha}").json()["tree"]["sha"]
        tree_sha = self._request(
            "POST", f"/repos/{self.repo}/git/trees", json={"base_tree": base_tree, "tree": entries}
        ).json()["sha"]
        commit_sha = self._request(
            "POST", f"/repos/{self.repo}/git/commits",
            json={"message": message, "tree": tree_sha, "parents": [parent_sha]},
        ).json()["sha"]
        # force=False: GitHub refuses if the branch moved meanwhile, instead of dropping someone's commit
        self._request(
            "PATCH", f"/repos/{self.repo}/git/refs/heads/{quote(branch, safe='/')}",
            json={"sha": commit_sha, "force": False},
            conflict=f"branch {branch!r} moved while committing; retry",
        )
        return {"branch": branch, "sha": commit_sha, "files_changed": len(entries)}

    def create_pull_request(
        self, branch: str, title: str, body: str, base: str | None = None, draft: bool = False
    ) -> dict[str, Any]:
        base = base or self.default_branch
        pr = self._request(
            "POST", f"/repos/{self.repo}/pulls",
            json={"title": title, "head": branch, "base": base, "body": body, "draft": draft},
        ).json()
        return {
            "number": pr["number"],
            "url": pr["html_url"],
            "branch": branch,
            "base": base,
            "repo": self.repo,
            "draft": bool(pr.get("draft", draft)),
            "files_changed": int(pr.get("changed_files") or 0),
        }

    def read_file(self, path: str, ref: str | None = None) -> dict[str, Any]:
        path = check_repo_path(path)
        ref = ref or self.default_branch
        data = self._request(
            "GET", f"/repos/{self.repo}/contents/{quote(path)}", params={"ref": ref},
            not_found=f"no file {path!r} at {ref!r}",
        ).json()
        if isinstance(data, list) or data.get("type") != "file":
            raise GitHubError(f"{path!r} is a folder at {ref!r}, not a file", status=400)
        content = base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")
        return {"path": path, "ref": ref, "content": content}

    def read_pull_request(self, number: int) -> dict[str, Any]:
        pr = self._request("GET", f"/repos/{self.repo}/pulls/{int(number)}", not_found=f"no pull request #{number}").json()
        diff = self._request(
            "GET", f"/repos/{self.repo}/pulls/{int(number)}", headers={"Accept": "application/vnd.github.diff"}
        ).text
        files = [item["filename"] for item in self._paginate(f"/repos/{self.repo}/pulls/{int(number)}/files")]
        return {
            "number": pr["number"],
            "title": pr["title"],
            "body": pr.get("body") or "",
            "branch": pr["head"]["ref"],
            "base": pr["base"]["ref"],
            "url": pr["html_url"],
            "repo": self.repo,
            "draft": bool(pr.get("draft")),
            "state": pr.get("state", "open"),
            "diff": diff,
            "files": sorted(files),
        }

    def comment_pull_request(self, number: int, body: str) -> dict[str, Any]:
        return self._post_comment(f"/repos/{self.repo}/issues/{int(number)}/comments", body,
                                  what="comment", not_found=f"no pull request #{number}")

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> dict[str, Any]:
        # GitHub's "create a reply for a review comment": the reply joins the comment's thread on the diff
        return self._post_comment(f"/repos/{self.repo}/pulls/{int(number)}/comments/{int(comment_id)}/replies", body,
                                  what="reply", not_found=f"no review comment {comment_id} on pull request #{number}")

    def _post_comment(self, path: str, body: str, *, what: str, not_found: str) -> dict[str, Any]:
        if not body.strip():
            raise GitHubError(f"the {what} is empty", status=400)
        comment = self._request("POST", path, json={"body": body}, not_found=not_found).json()
        return {"comment_id": comment["id"], "url": comment["html_url"]}

    # --- exploring (runtime/tools/repo_tools.py) ------------------------------------------------------------
    # Search goes through the git trees API and the blobs, not GitHub's code search: code search indexes only the
    # default branch (an agent works on its own branch), ignores files over 384 KB and has no regular expressions.
    # Blobs are content-addressed, so the cache below never goes stale; it is bounded in bytes.

    def list_files(self, ref: str | None = None) -> dict[str, Any]:
        ref = ref or self.default_branch
        sha, blobs = self._tree(ref)
        return {"ref": ref, "sha": sha, "files": [{"path": b["path"], "size": b.get("size")} for b in blobs]}

    def search_code(self, pattern: str, path_glob: str | None = None, ref: str | None = None,
                    max_matches: int = 200) -> dict[str, Any]:
        regex = compile_pattern(pattern)
        ref = ref or self.default_branch
        sha, blobs = self._tree(ref)
        candidates = [b for b in blobs if glob_matches(b["path"], path_glob)]
        skipped = [b["path"] for b in candidates if (b.get("size") or 0) > self.max_search_file_bytes]
        searchable = [b for b in candidates if (b.get("size") or 0) <= self.max_search_file_bytes]
        files = ((b["path"], partial(self._blob, b["sha"])) for b in searchable[: self.max_search_files])
        matches, cut = grep_files(files, regex, None, max_matches)
        return {"ref": ref, "sha": sha, "matches": matches, "skipped": skipped,
                "truncated": cut or len(searchable) > self.max_search_files}

    def read_files(self, paths: list[str], ref: str | None = None) -> dict[str, Any]:
        ref = ref or self.default_branch
        _sha, blobs = self._tree(ref)
        by_path = {b["path"]: b for b in blobs}
        folders = {path.rsplit("/", 1)[0] for path in by_path if "/" in path}
        files, missing = [], []
        for path in paths:
            try:
                blob = by_path.get(check_repo_path(path))
                if blob is None:
                    kind = "a folder" if path in folders else "not found"
                    raise GitHubNotFound(f"no file {path!r} at {ref!r} ({kind})")
                files.append({"path": path, "content": self._blob(blob["sha"]).decode("utf-8", errors="replace")})
            except GitHubError as exc:
                missing.append({"path": path, "error": str(exc)})
        return {"ref": ref, "files": files, "missing": missing}

    def branch_diff(self, branch: str, base: str | None = None) -> dict[str, Any]:
        base = base or self.default_branch
        compare = f"/repos/{self.repo}/compare/{quote(base, safe='')}...{quote(branch, safe='')}"
        data = self._request("GET", compare, not_found=f"no branch {branch!r} or {base!r}").json()
        diff = self._request("GET", compare, headers={"Accept": "application/vnd.github.diff"}).text
        files = [{"path": f["filename"], "status": f.get("status", "modified")} for f in data.get("files") or []]
        return {"branch": branch, "base": base, "diff": diff, "files": sorted(files, key=lambda f: f["path"])}

    def export_tree(self, ref: str, max_bytes: int) -> dict[str, Any]:
        sha, blobs = self._tree(ref)
        if sum(b.get("size") or 0 for b in blobs) > max_bytes:
            raise GitHubError(f"{ref!r} holds more than {max_bytes} bytes of files: too large to check out in the "
                              "sandbox", status=413)
        return {"ref": ref, "sha": sha,
                "files": [(b["path"], int(b["mode"], 8), self._blob(b["sha"])) for b in blobs]}

    def _tree(self, ref: str) -> tuple[str, list[dict[str, Any]]]:
        """The commit `ref` names and its files (blobs), through the git trees API, recursively."""
        commit = self._request("GET", f"/repos/{self.repo}/commits/{quote(ref, safe='')}",
                               not_found=f"no branch or commit {ref!r}").json()
        tree_sha = commit["commit"]["tree"]["sha"]
        tree = self._request("GET", f"/repos/{self.repo}/git/trees/{tree_sha}", params={"recursive": "1"}).json()
        if tree.get("truncated"):
            # GitHub stops a recursive listing at 100,000 entries / 7 MB; say so rather than search part of it
            raise GitHubError(f"the tree at {ref!r} is too large for GitHub's recursive listing", status=413)
        blobs = [e for e in tree.get("tree") or [] if e.get("type") == "blob"]
        return commit["sha"], blobs

    def _blob(self, sha: str) -> bytes:
        cached = self._blobs.get(sha)
        if cached is not None:
            self._blobs.move_to_end(sha)
            return cached
        data = self._request("GET", f"/repos/{self.repo}/git/blobs/{sha}").json()
        content = data.get("content") or ""
        raw = base64.b64decode(content) if data.get("encoding", "base64") == "base64" else content.encode("utf-8")
        self._blobs[sha] = raw
        self._blob_bytes += len(raw)
        while self._blob_bytes > self.blob_cache_bytes and len(self._blobs) > 1:
            _old, dropped = self._blobs.popitem(last=False)
            self._blob_bytes -= len(dropped)
        return raw

    # --- HTTP ----------------------------------------------------------------------------------------------

    def _branch_sha(self, branch: str) -> str:
        ref = self._request(
            "GET", f"/repos/{self.repo}/git/ref/heads/{quote(branch, safe='/')}", not_found=f"no branch {branch!r}"
        ).json()
        return ref["object"]["sha"]

    def _paginate(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._request("GET", path, params={"per_page": 100, "page": page}).json()
            items.extend(batch)
            if len(batch) < 100 or page >= 30:  # GitHub lists at most 3000 files per PR
                return items
            page += 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        headers: dict | None = None,
        not_found: str | None = None,
        conflict: str | None = None,
    ) -> httpx.Response:
        backoff = wait_exponential_jitter(initial=self._backoff_initial, max=8, jitter=self._backoff_initial)

        def wait(state: RetryCallState) -> float:
            # rate limits (429, or 403 with Retry-After: GitHub's secondary limits) say how long to wait
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, _Transient) and error.retry_after is not None:
                return min(error.retry_after, _MAX_RETRY_AFTER)
            return backoff(state)

        @retry(
            retry=retry_if_exception(lambda exc: isinstance(exc, (_Transient, httpx.TransportError))),
            stop=stop_after_attempt(self._max_attempts),
            wait=wait,
            reraise=True,
        )
        def send() -> httpx.Response:
            response = self._client.request(
                method, self._base + path, json=json, params=params, headers={**self._headers, **(headers or {})}
            )
            rate_limited = response.status_code == 429 or (
                response.status_code == 403 and "retry-after" in response.headers
            )
            if response.status_code in _RETRY_STATUSES or rate_limited:
                raise _Transient(response)
            return response

        try:
            response = send()
        except _Transient as exc:
            response = exc.response
        except httpx.TransportError as exc:
            raise GitHubError(f"cannot reach GitHub at {self._base}: {exc}") from exc
        if response.is_success:
            return response
        message = _github_message(response)
        if response.status_code == 404:
            raise GitHubNotFound(not_found or f"GitHub: not found: {method} {path}: {message}")
        if response.status_code in (409, 422) and (conflict or "already exists" in message or "No commits" in message):
            raise GitHubConflict(f"{conflict + ': ' if conflict else ''}{message}", status=response.status_code)
        raise GitHubError(f"GitHub {method} {path} answered {response.status_code}: {message}", status=response.status_code)


def _github_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500]
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    details = [str(e.get("message") or e.get("code") or e) for e in (data.get("errors") or [])] if isinstance(data, dict) else []
    return "; ".join([m for m in [message, *details] if m]) or response.text[:500]

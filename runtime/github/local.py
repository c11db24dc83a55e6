"""The offline GitHub: a bare git repository on disk, driven with dulwich, with pull requests as JSON records.

Pull-request records live beside the bare repository in `<repo>.pulls/<number>.json`; the local stack's
`/dev/git/pr/<number>` page shows them. Writes take a file lock so concurrent agents (threads or processes) cannot
allocate the same PR number or lose a ref update.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import subprocess
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.graph import find_merge_base
from dulwich.index import commit_tree
from dulwich.object_store import commit_tree_changes, iter_tree_contents, tree_lookup_path
from dulwich.objects import Blob, Commit
from dulwich.patch import write_tree_diff
from dulwich.repo import Repo

from runtime.github.backend import (
    SUBMODULE_MODE,
    GitHubConflict,
    GitHubError,
    GitHubNotFound,
    check_branch_name,
    check_repo_path,
    compile_pattern,
    glob_matches,
    grep_files,
)

_FILE_MODE = 0o100644
# What a new local remote starts with: a small Python project with a passing test, so an agent's
# `sandbox_run("python -m pytest -q")` in `aidlc dev` runs a real suite (the project's and the agent's own tests).
SEED_FILES = {
    "README.md": "# Local remote\n\nCreated by aidlc as the offline stand-in for GitHub.\n",
    "pyproject.toml": '[project]\nname = "local-demo"\nversion = "0.1.0"\n\n'
                      '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
    "tests/test_repository.py": 'from pathlib import Path\n\n\n'
                                'def test_readme_has_a_title():\n'
                                '    assert Path("README.md").read_text().startswith("# ")\n',
}
_AUTHOR = b"aidlc agent <agents@aidlc.local>"


class LocalGitBackend:
    """`GitHubBackend` over a bare repository at `path` (created, with an initial commit, when missing)."""

    def __init__(self, path: str | Path, *, default_branch: str = "main", web_base_url: str | None = None) -> None:
        self.path = Path(path)
        self.default_branch = default_branch
        self.repo = self.path.name.removesuffix(".git") or "local"
        self.web_base_url = web_base_url.rstrip("/") if web_base_url else None
        self.pulls_dir = self.path.parent / f"{self.path.name}.pulls"
        self._ensure_repository()

    # --- GitHubBackend -------------------------------------------------------------------------------------

    def create_branch(self, branch: str, from_branch: str | None = None) -> dict[str, Any]:
        check_branch_name(branch)
        source = from_branch or self.default_branch
        with self._locked() as repo:
            ref = _head_ref(branch)
            if ref in repo.refs:
                raise GitHubConflict(f"branch {branch!r} already exists; pick another name or commit to it")
            sha = self._branch_sha(repo, source)
            repo.refs[ref] = sha
        return {"branch": branch, "sha": sha.decode(), "from_branch": source}

    def commit_files(self, branch: str, message: str, files: Mapping[str, str]) -> dict[str, Any]:
        check_branch_name(branch)
        if not files:
            raise GitHubError("no files to commit: pass at least one {path: content}", status=400)
        paths = {check_repo_path(p): content for p, content in files.items()}
        if not message.strip():
            raise GitHubError("the commit message is empty", status=400)
        with self._locked() as repo:
            parent_sha = self._branch_sha(repo, branch)
            parent = repo[parent_sha]
            changes = []
            for path, content in paths.items():
                blob = Blob.from_string(content.encode("utf-8"))
                repo.object_store.add_object(blob)
                changes.append((path.encode("utf-8"), _FILE_MODE, blob.id))
            tree_id = commit_tree_changes(repo.object_store, parent.tree, changes)
            if tree_id == parent.tree:
                raise GitHubConflict(f"nothing to commit: the files on {branch!r} already have this content")
            commit = _new_commit(tree_id, [parent_sha], message)
            repo.object_store.add_object(commit)
            # compare-and-swap, so a concurrent writer outside this lock cannot be overwritten silently
            if not repo.refs.set_if_equals(_head_ref(branch), parent_sha, commit.id):
                raise GitHubConflict(f"branch {branch!r} moved while committing; retry")
        return {"branch": branch, "sha": commit.id.decode(), "files_changed": len(paths)}

    def create_pull_request(
        self, branch: str, title: str, body: str, base: str | None = None, draft: bool = False
    ) -> dict[str, Any]:
        base = base or self.default_branch
        if branch == base:
            raise GitHubError(f"a pull request needs a head branch other than its base {base!r}", status=422)
        with self._locked() as repo:
            head_sha = self._branch_sha(repo, branch)
            base_sha = self._branch_sha(repo, base)
            for record in self._records():
                if record["branch"] == branch and record["base"] == base and record["state"] == "open":
                    raise GitHubConflict(f"pull request #{record['number']} is already open for {branch!r}")
            changed = _changed_paths(repo, repo[base_sha].tree, repo[head_sha].tree)
            if not changed:
                raise GitHubConflict(f"no changes between {base!r} and {branch!r}: commit files first")
            number = max((r["number"] for r in self._records()), default=0) + 1
            record = {
                "number": number,
                "title": title,
                "body": body,
                "branch": branch,
                "base": base,
                "base_sha": base_sha.decode(),
                "head_sha": head_sha.decode(),
                "draft": draft,
                "state": "open",
                "repo": self.repo,
                "url": self._pr_url(number),
                "files": changed,
                "comments": [],
                "created_at": time.time(),
            }
            self._write_record(record)
        return {
            "number": number,
            "url": record["url"],
            "branch": branch,
            "base": base,
            "repo": self.repo,
            "draft": draft,
            "files_changed": len(changed),
        }

    def read_file(self, path: str, ref: str | None = None) -> dict[str, Any]:
        path = check_repo_path(path)
        ref = ref or self.default_branch
        repo = Repo(str(self.path))
        try:
            tree = repo[self._resolve(repo, ref)].tree
            try:
                _mode, sha = tree_lookup_path(repo.__getitem__, tree, path.encode("utf-8"))
            except KeyError:
                raise GitHubNotFound(f"no file {path!r} at {ref!r}") from None
            obj = repo[sha]
            if not isinstance(obj, Blob):
                raise GitHubError(f"{path!r} is a folder at {ref!r}, not a file", status=400)
            return {"path": path, "ref": ref, "content": obj.data.decode("utf-8", errors="replace")}
        finally:
            repo.close()

    def read_pull_request(self, number: int) -> dict[str, Any]:
        record = self._record(number)
        repo = Repo(str(self.path))
        try:
            # the diff against the base as it was when the PR was opened, to the branch's current head
            head_sha = self._branch_sha(repo, record["branch"])
            old_tree = repo[record["base_sha"].encode()].tree
            new_tree = repo[head_sha].tree
            out = io.BytesIO()
            write_tree_diff(out, repo.object_store, old_tree, new_tree)
            files = _changed_paths(repo, old_tree, new_tree)
        finally:
            repo.close()
        return {
            "number": record["number"],
            "title": record["title"],
            "body": record["body"],
            "branch": record["branch"],
            "base": record["base"],
            "url": record["url"],
            "repo": self.repo,
            "draft": record["draft"],
            "state": record["state"],
            "diff": out.getvalue().decode("utf-8", errors="replace"),
            "files": files,
        }

    def comment_pull_request(self, number: int, body: str) -> dict[str, Any]:
        if not body.strip():
            raise GitHubError("the comment is empty", status=400)
        with self._locked():
            record = self._record(number)
            comment_id = len(record["comments"]) + 1
            record["comments"].append({"id": comment_id, "body": body, "created_at": time.time()})
            self._write_record(record)
        return {"comment_id": comment_id, "url": f"{record['url']}#comment-{comment_id}"}

    # --- review comments: a person's review on a PR, sent to the GitHub webhook as GitHub would ---------------

    def add_review_comment(self, number: int, body: str, *, path: str | None = None, line: int | None = None,
                           user: str = "reviewer", webhook: tuple[str, str] | None = None) -> dict[str, Any]:
        """Record a review comment on PR `number` (on `path` at `line`, or on its first changed file) and, with
        `webhook` = (url, secret), deliver GitHub's `pull_request_review_comment` event for it, signed with
        `X-Hub-Signature-256` -> {comment, delivery, status}: the comment, the delivery id, the webhook's answer."""
        if not body.strip():
            raise GitHubError("the review comment is empty", status=400)
        with self._locked() as repo:
            record = self._record(number)
            head_sha = self._branch_sha(repo, record["branch"]).decode()
            review_comments = record.setdefault("review_comments", [])
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            comment_id = 1000 * int(number) + len(review_comments) + 1  # unique in this remote, like GitHub's ids
            comment = {
                "id": comment_id, "pull_request_review_id": comment_id, "body": body,
                "path": path or (record["files"][0] if record["files"] else "README.md"), "line": line,
                "side": "RIGHT", "commit_id": head_sha, "original_commit_id": head_sha, "diff_hunk": "",
                "user": _user(user), "author_association": "OWNER", "created_at": now, "updated_at": now,
                "html_url": f"{record['url']}#discussion_r{comment_id}",
            }
            review_comments.append(comment)
            self._write_record(record)
        if webhook is None:
            return {"comment": comment, "delivery": None, "status": None}
        payload = {"action": "created", "comment": comment, "pull_request": self._pr_payload(record, head_sha),
                   "repository": self._repository_payload(), "sender": _user(user)}
        delivery, status = deliver_webhook(webhook[0], webhook[1], "pull_request_review_comment", payload)
        return {"comment": comment, "delivery": delivery, "status": status}

    def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> dict[str, Any]:
        if not body.strip():
            raise GitHubError("the reply is empty", status=400)
        with self._locked():
            record = self._record(number)
            thread = record.setdefault("review_comments", [])
            original = next((c for c in thread if c["id"] == int(comment_id)), None)
            if original is None:
                raise GitHubNotFound(f"no review comment {comment_id} on pull request #{number}")
            reply_id = 1000 * int(number) + len(thread) + 1
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            thread.append({"id": reply_id, "in_reply_to_id": original["id"], "body": body, "path": original["path"],
                           "line": original.get("line"), "user": _user("aidlc-agent"), "created_at": now,
                           "updated_at": now, "html_url": f"{record['url']}#discussion_r{reply_id}"})
            self._write_record(record)
        return {"comment_id": reply_id, "url": f"{record['url']}#discussion_r{reply_id}"}

    def _pr_payload(self, record: dict[str, Any], head_sha: str) -> dict[str, Any]:
        """The `pull_request` object of a webhook payload: the fields GitHub sends that a receiver reads."""
        return {
            "number": record["number"], "title": record["title"], "body": record["body"], "state": record["state"],
            "draft": record["draft"], "html_url": record["url"], "user": _user("aidlc-agent"),
            "head": {"ref": record["branch"], "sha": head_sha, "label": f"local:{record['branch']}"},
            "base": {"ref": record["base"], "sha": record["base_sha"], "label": f"local:{record['base']}"},
        }

    def _repository_payload(self) -> dict[str, Any]:
        return {"name": self.repo, "full_name": self.repo, "default_branch": self.default_branch,
                "owner": _user("local"), "private": True}

    # --- exploring (runtime/tools/repo_tools.py) ------------------------------------------------------------

    def list_files(self, ref: str | None = None) -> dict[str, Any]:
        ref = ref or self.default_branch
        with self._reading() as repo:
            sha = self._resolve(repo, ref)
            files = [{"path": path, "size": len(repo.object_store[blob_id].as_raw_string())}
                     for path, mode, blob_id in _tree_files(repo, sha)]
        return {"ref": ref, "sha": sha.decode(), "files": files}

    def search_code(self, pattern: str, path_glob: str | None = None, ref: str | None = None,
                    max_matches: int = 200) -> dict[str, Any]:
        """`git grep -P` on the bare repository: git greps a commit's tree without a work tree, and in C, so a
        large repository is searched at git's speed rather than blob by blob in Python. PCRE and Python's `re`
        agree on the syntax a model writes (the pattern is checked with `re` first, so an error reads the same on
        both backends). Without a `git` binary, the same search runs over the blobs through dulwich."""
        regex = compile_pattern(pattern)
        ref = ref or self.default_branch
        with self._reading() as repo:
            sha = self._resolve(repo, ref).decode()
        git = shutil.which("git")
        if git is None:
            return self._search_blobs(regex, path_glob, ref, sha, max_matches)
        proc = subprocess.run(
            [git, f"--git-dir={self.path}", "grep", "-P", "-n", "-I", "-z", "-e", pattern, sha, "--"],
            capture_output=True, timeout=60, check=False,
        )
        if proc.returncode == 1:  # git grep's "no match"
            return {"ref": ref, "sha": sha, "matches": [], "truncated": False}
        if proc.returncode != 0:
            error = proc.stderr.decode("utf-8", errors="replace").strip()
            if "-P" in error or "perl" in error.lower():  # a git built without PCRE
                return self._search_blobs(regex, path_glob, ref, sha, max_matches)
            raise GitHubError(f"search failed: {error}", status=400)
        matches: list[dict[str, Any]] = []
        truncated = False
        for raw in proc.stdout.split(b"\n"):
            if not raw:
                continue
            name, line, text = raw.split(b"\0", 2)
            path = name.decode("utf-8", errors="replace").removeprefix(f"{sha}:")
            if not glob_matches(path, path_glob):
                continue
            if len(matches) >= max_matches:
                truncated = True
                break
            matches.append({"path": path, "line": int(line), "text": text.decode("utf-8", errors="replace")})
        return {"ref": ref, "sha": sha, "matches": matches, "truncated": truncated}

    def read_files(self, paths: list[str], ref: str | None = None) -> dict[str, Any]:
        ref = ref or self.default_branch
        files, missing = [], []
        for path in paths:
            try:
                files.append({"path": path, "content": self.read_file(path, ref)["content"]})
            except GitHubError as exc:
                if isinstance(exc, GitHubNotFound) and "branch or commit" in str(exc):
                    raise
                missing.append({"path": path, "error": str(exc)})
        return {"ref": ref, "files": files, "missing": missing}

    def branch_diff(self, branch: str, base: str | None = None) -> dict[str, Any]:
        base = base or self.default_branch
        with self._reading() as repo:
            head = self._branch_sha(repo, branch)
            base_sha = self._branch_sha(repo, base)
            merge_bases = find_merge_base(repo, [head, base_sha])
            old_tree = repo[merge_bases[0]].tree if merge_bases else None  # unrelated histories: all is new
            out = io.BytesIO()
            write_tree_diff(out, repo.object_store, old_tree, repo[head].tree)
            files = []
            for change in tree_changes(repo.object_store, old_tree, repo[head].tree):
                status = {"add": "added", "delete": "removed"}.get(change.type, "modified")
                entry = change.new if change.new and change.new.path else change.old
                files.append({"path": entry.path.decode("utf-8"), "status": status})
        return {"branch": branch, "base": base, "diff": out.getvalue().decode("utf-8", errors="replace"),
                "files": sorted(files, key=lambda f: f["path"])}

    def export_tree(self, ref: str, max_bytes: int) -> dict[str, Any]:
        with self._reading() as repo:
            sha = self._resolve(repo, ref)
            files, total = [], 0
            for path, mode, blob_id in _tree_files(repo, sha):
                data = repo.object_store[blob_id].as_raw_string()
                total += len(data)
                if total > max_bytes:
                    raise GitHubError(f"{ref!r} holds more than {max_bytes} bytes of files: too large to check out "
                                      "in the sandbox", status=413)
                files.append((path, mode, data))
        return {"ref": ref, "sha": sha.decode(), "files": files}

    def _search_blobs(self, regex: Any, path_glob: str | None, ref: str, sha: str, limit: int) -> dict[str, Any]:
        with self._reading() as repo:
            files = ((path, partial(_blob_bytes, repo, blob_id)) for path, _mode, blob_id in _tree_files(repo, sha.encode()))
            matches, truncated = grep_files(files, regex, path_glob, limit)
        return {"ref": ref, "sha": sha, "matches": matches, "truncated": truncated}

    @contextmanager
    def _reading(self) -> Iterator[Repo]:
        repo = Repo(str(self.path))
        try:
            yield repo
        finally:
            repo.close()

    # --- for the local stack's PR view and tests ----------------------------------------------------------

    def pull_request_record(self, number: int) -> dict[str, Any] | None:
        """The stored record plus the current diff, or None."""
        try:
            record = self._record(number)
        except GitHubNotFound:
            return None
        return {**record, **self.read_pull_request(number)}

    def list_pull_requests(self) -> list[dict[str, Any]]:
        return sorted(self._records(), key=lambda r: r["number"])

    def branches(self) -> list[str]:
        repo = Repo(str(self.path))
        try:
            return sorted(ref.decode().removeprefix("refs/heads/") for ref in repo.refs.keys(base=None) if ref.startswith(b"refs/heads/"))
        finally:
            repo.close()

    def log(self, branch: str) -> list[dict[str, Any]]:
        """Commits on `branch`, newest first: {sha, message, parents}."""
        repo = Repo(str(self.path))
        try:
            entries = []
            for entry in repo.get_walker(include=[self._branch_sha(repo, branch)]):
                commit = entry.commit
                entries.append(
                    {"sha": commit.id.decode(), "message": commit.message.decode(), "parents": [p.decode() for p in commit.parents]}
                )
            return entries
        finally:
            repo.close()

    # --- internals -----------------------------------------------------------------------------------------

    def _ensure_repository(self) -> None:
        if (self.path / "HEAD").exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_file():
            if (self.path / "HEAD").exists():
                return
            repo = Repo.init_bare(str(self.path), mkdir=True)
            try:
                blobs = []
                for path, content in SEED_FILES.items():
                    blob = Blob.from_string(content.encode("utf-8"))
                    repo.object_store.add_object(blob)
                    blobs.append((path.encode("utf-8"), blob.id, _FILE_MODE))
                commit = _new_commit(commit_tree(repo.object_store, blobs), [], "Initial commit")
                repo.object_store.add_object(commit)
                repo.refs[_head_ref(self.default_branch)] = commit.id
                repo.refs.set_symbolic_ref(b"HEAD", _head_ref(self.default_branch))
            finally:
                repo.close()

    @contextmanager
    def _lock_file(self) -> Iterator[None]:
        lock_path = self.path.parent / f"{self.path.name}.lock"
        with open(lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _locked(self) -> Iterator[Repo]:
        with self._lock_file():
            repo = Repo(str(self.path))
            try:
                yield repo
            finally:
                repo.close()

    def _branch_sha(self, repo: Repo, branch: str) -> bytes:
        try:
            return repo.refs[_head_ref(branch)]
        except KeyError:
            raise GitHubNotFound(f"no branch {branch!r} (branches: {', '.join(self.branches())})") from None

    def _resolve(self, repo: Repo, ref: str) -> bytes:
        if _head_ref(ref) in repo.refs:
            return repo.refs[_head_ref(ref)]
        try:
            obj = repo[ref.encode()]
        except (KeyError, ValueError):
            raise GitHubNotFound(f"no branch or commit {ref!r}") from None
        if not isinstance(obj, Commit):
            raise GitHubNotFound(f"{ref!r} is not a commit")
        return obj.id

    def _pr_url(self, number: int) -> str:
        if self.web_base_url:
            return f"{self.web_base_url}/dev/git/pr/{number}"
        return f"{self.path.resolve().as_uri()}#pull-{number}"

    def _records(self) -> list[dict[str, Any]]:
        if not self.pulls_dir.is_dir():
            return []
        return [json.loads(p.read_text(encoding="utf-8")) for p in self.pulls_dir.glob("*.json")]

    def _record(self, number: int) -> dict[str, Any]:
        path = self.pulls_dir / f"{int(number)}.json"
        if not path.is_file():
            raise GitHubNotFound(f"no pull request #{number} in {self.repo!r}")
        return json.loads(path.read_text(encoding="utf-8"))

    def _write_record(self, record: dict[str, Any]) -> None:
        self.pulls_dir.mkdir(parents=True, exist_ok=True)
        path = self.pulls_dir / f"{record['number']}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a reader never sees half a record


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": zlib.crc32(login.encode()) % 10**8, "type": "User"}


def deliver_webhook(url: str, secret: str, event: str, payload: dict[str, Any]) -> tuple[str, int]:
    """POST `payload` to `url` as GitHub delivers a webhook (JSON, `X-GitHub-Event`, a fresh `X-GitHub-Delivery`,
    `X-Hub-Signature-256` over the exact bytes) -> (delivery id, HTTP status)."""
    import uuid

    import httpx

    from runtime.github.backend import hub_signature
    from runtime.resources import Header

    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    response = httpx.post(url, content=body, timeout=10.0, headers={
        "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/aidlc-local",
        Header.GITHUB_EVENT: event, Header.GITHUB_DELIVERY: delivery,
        Header.GITHUB_SIGNATURE: hub_signature(body, secret)})
    return delivery, response.status_code


def _head_ref(branch: str) -> bytes:
    return b"refs/heads/" + branch.encode("utf-8")


def _new_commit(tree_id: bytes, parents: list[bytes], message: str) -> Commit:
    commit = Commit()
    commit.tree = tree_id
    commit.parents = parents
    commit.author = commit.committer = _AUTHOR
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode("utf-8") + (b"" if message.endswith("\n") else b"\n")
    return commit


def _blob_bytes(repo: Repo, blob_id: bytes) -> bytes:
    return repo.object_store[blob_id].as_raw_string()


def _tree_files(repo: Repo, commit_sha: bytes) -> Iterator[tuple[str, int, bytes]]:
    """(path, mode, blob id) of every file in a commit's tree; submodules (a commit id, not a blob) are skipped."""
    for entry in iter_tree_contents(repo.object_store, repo[commit_sha].tree):
        if entry.mode != SUBMODULE_MODE:
            yield entry.path.decode("utf-8", errors="replace"), entry.mode, entry.sha


def _changed_paths(repo: Repo, old_tree: bytes, new_tree: bytes) -> list[str]:
    paths = []
    for change in tree_changes(repo.object_store, old_tree, new_tree):
        entry = change.new if change.new and change.new.path else change.old
        paths.append(entry.path.decode("utf-8"))
    return sorted(paths)

"""The repository tools (runtime/tools/repo_tools.py) through the tool registry, over both GitHub backends: the local
bare remote (dulwich, `git grep`) and the REST backend against a recorded-response stub of GitHub's documented
shapes (httpx.MockTransport): `GET /repos/{o}/{r}/commits/{ref}`, `GET .../git/trees/{sha}?recursive=1`,
`GET .../git/blobs/{sha}` and `GET .../compare/{base}...{head}` (JSON, and the `application/vnd.github.diff`
media type). The same assertions run on both, so the backends cannot drift apart."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import unquote

import httpx
import pytest

from runtime.github import GitHubRestBackend
from runtime.github.backend import listing
from runtime.tools import repo_tools
from runtime.tools.registry import ToolContext, ToolServices


REPO = "acme/shop"
API = "https://api.github.test"
BASE_FILES = {
    "README.md": "# Shop\n",
    "src/shop/cart.py": "def add_item(cart, item):\n    cart.append(item)\n    return cart\n",
    "src/shop/deep/prices.py": "TAX = 0.2\n\ndef add_tax(price):\n    return price * (1 + TAX)\n",
    "tests/test_cart.py": "from shop.cart import add_item\n\n\ndef test_add_item():\n    assert add_item([], 1) == [1]\n",
    "logo.png": "\x89PNG\x00\x00binary add_item",
}
BRANCH_FILES = {"src/shop/cart.py": "def add_item(cart, item, qty=1):\n    cart.extend([item] * qty)\n    return cart\n",
                "src/shop/coupons.py": "def apply_coupon(total, code):\n    return total\n"}


class RecordedGitHub:
    """Answers as GitHub documents, from two commits: `main` (BASE_FILES) and `feature` (main + BRANCH_FILES)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.commits = {"main": self._commit(BASE_FILES), "feature": self._commit({**BASE_FILES, **BRANCH_FILES})}
        self.requests: list[str] = []

    def _commit(self, files: dict[str, str]) -> dict:
        tree = []
        for path, text in sorted(files.items()):
            data = text.encode("latin-1") if path.endswith(".png") else text.encode()
            sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self.blobs[sha] = data
            tree.append({"path": path, "mode": "100644", "type": "blob", "sha": sha, "size": len(data),
                         "url": f"{API}/repos/{REPO}/git/blobs/{sha}"})
        folders = sorted({p.rsplit("/", 1)[0] for p in files if "/" in p})
        tree += [{"path": f, "mode": "040000", "type": "tree", "sha": "t" * 40, "url": "..."} for f in folders]
        tree_sha = hashlib.sha1(json.dumps(tree).encode()).hexdigest()
        return {"sha": hashlib.sha1(tree_sha.encode()).hexdigest(), "tree_sha": tree_sha, "tree": tree,
                "files": files}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.path).removeprefix(f"/repos/{REPO}")
        self.requests.append(path)
        if match := re.fullmatch(r"/commits/(.+)", path):
            commit = self.commits.get(match[1])
            if commit is None:
                return httpx.Response(422, json={"message": f"No commit found for SHA: {match[1]}"})
            return httpx.Response(200, json={"sha": commit["sha"], "commit": {"tree": {"sha": commit["tree_sha"]}}})
        if match := re.fullmatch(r"/git/trees/(\w+)", path):
            assert request.url.params.get("recursive") == "1"
            commit = next(c for c in self.commits.values() if c["tree_sha"] == match[1])
            return httpx.Response(200, json={"sha": match[1], "url": "...", "tree": commit["tree"],
                                             "truncated": False})
        if match := re.fullmatch(r"/git/blobs/(\w+)", path):
            data = self.blobs[match[1]]
            return httpx.Response(200, json={"sha": match[1], "size": len(data), "encoding": "base64",
                                             "content": base64.encodebytes(data).decode(), "node_id": "B_x"})
        if match := re.fullmatch(r"/compare/([^.]+)\.\.\.(.+)", path):
            base, head = self.commits[match[1]]["files"], self.commits[match[2]]["files"]
            changed = sorted(p for p in head if base.get(p) != head[p])
            if request.headers["accept"] == "application/vnd.github.diff":
                return httpx.Response(200, text="".join(f"diff --git a/{p} b/{p}\n+{head[p]}" for p in changed))
            files = [{"filename": p, "status": "modified" if p in base else "added", "sha": "x"} for p in changed]
            return httpx.Response(200, json={"status": "ahead", "ahead_by": 1, "behind_by": 0, "files": files,
                                             "merge_base_commit": {"sha": self.commits["main"]["sha"]}})
        return httpx.Response(404, json={"message": "Not Found"})


@pytest.fixture
def recorded() -> RecordedGitHub:
    return RecordedGitHub()


@pytest.fixture(params=["local", "rest"])
def backend(request, git, recorded):
    if request.param == "local":
        git.create_branch("seed")  # main: the seeded repository plus the shop's files; then a feature branch
        git.commit_files("seed", "shop", BASE_FILES)
        _fast_forward(git, "main", "seed")
        git.create_branch("feature")
        git.commit_files("feature", "feature", BRANCH_FILES)
        return git
    client = httpx.Client(transport=httpx.MockTransport(recorded.handler))
    return GitHubRestBackend("t0ken", REPO, base_url=API, default_branch="main", http_client=client,
                             backoff_initial=0)


def _fast_forward(git, branch: str, to: str) -> None:
    from dulwich.repo import Repo

    repo = Repo(str(git.path))
    try:
        repo.refs[b"refs/heads/" + branch.encode()] = repo.refs[b"refs/heads/" + to.encode()]
    finally:
        repo.close()


def context(services: ToolServices) -> ToolContext:
    """An agent that declares the repository tools (the policy's declared-tools floor lets them through)."""
    return ToolContext(agent_type="explorer", invocation_id="inv-1",
                       allowed_tools=[tool.name for tool in repo_tools.TOOLS], services=services)


def call(tools, backend, name: str, **args) -> dict:
    services = ToolServices(github=backend)
    result = tools.call(name, args, context(services))
    assert result.ok, result.error
    return result.content


def test_list_files_shows_a_tree_to_a_depth(tools, backend):
    top = call(tools, backend, "repo_list_files", depth=1)
    entries = {e["path"]: e for e in top["entries"]}
    assert entries["README.md"]["type"] == "file" and entries["README.md"]["size"] == len("# Shop\n")
    assert entries["src"] == {"path": "src", "type": "dir", "files": 2, "size": None}
    assert top["total_files"] == len(backend.list_files()["files"]) >= len(BASE_FILES)
    deep = call(tools, backend, "repo_list_files", path="src/shop", depth=1, ref="feature")
    assert [e["path"] for e in deep["entries"]] == ["src/shop/cart.py", "src/shop/coupons.py", "src/shop/deep"]
    assert deep["ref"] == "feature" and deep["total_files"] == 3 and not deep["truncated"]


def test_search_code_finds_lines_with_a_glob_and_skips_binaries(tools, backend):
    found = call(tools, backend, "repo_search_code", pattern=r"def add_\w+", path_glob="*.py")
    assert {(m["path"], m["line"]) for m in found["matches"]} == {("src/shop/cart.py", 1),
                                                                  ("src/shop/deep/prices.py", 3)}
    assert not found["truncated"]
    # the png mentions add_item but is binary; the test file matches only without the glob's folder
    anywhere = call(tools, backend, "repo_search_code", pattern="add_item")
    assert "logo.png" not in {m["path"] for m in anywhere["matches"]}
    in_tests = call(tools, backend, "repo_search_code", pattern="add_item", path_glob="tests/*")
    assert {m["path"] for m in in_tests["matches"]} == {"tests/test_cart.py"}
    on_branch = call(tools, backend, "repo_search_code", pattern="qty", ref="feature")
    assert [m["text"] for m in on_branch["matches"]][0].startswith("def add_item(cart, item, qty=1)")


def test_search_code_says_when_it_stops_at_the_limit(tools, backend):
    found = call(tools, backend, "repo_search_code", pattern="a", max_results=2)
    assert len(found["matches"]) == 2 and found["truncated"] and "TRUNCATED" in found["note"]


def test_a_bad_regular_expression_is_the_callers_error(tools, backend):
    services = ToolServices(github=backend)
    result = tools.call("repo_search_code", {"pattern": "def ("}, context(services))
    assert not result.ok and "invalid regular expression" in result.error


def test_read_files_reads_several_and_reports_the_missing(tools, backend):
    read = call(tools, backend, "repo_read_files", paths=["README.md", "src/shop/cart.py", "nope.py"],
                ref="feature")
    assert [f["path"] for f in read["files"]] == ["README.md", "src/shop/cart.py"]
    assert "qty=1" in read["files"][1]["content"]
    assert [m["path"] for m in read["missing"]] == ["nope.py"] and "nope.py" in read["missing"][0]["error"]


def test_branch_diff_against_the_base(tools, backend):
    diff = call(tools, backend, "repo_branch_diff", branch="feature")
    assert diff["files"] == [{"path": "src/shop/cart.py", "status": "modified"},
                             {"path": "src/shop/coupons.py", "status": "added"}]
    assert "apply_coupon" in diff["diff"] and "qty" in diff["diff"] and not diff["truncated"]


def test_large_outputs_are_cut_with_a_marker_never_silently(tools, git, monkeypatch):
    big = "".join(f"line {i}: add_item\n" for i in range(5000))
    git.create_branch("big")
    git.commit_files("big", "big", {"big.txt": big, **{f"many/f{i}.txt": "x" for i in range(30)}})
    monkeypatch.setattr(repo_tools, "MAX_FILE_CHARS", 1000)
    monkeypatch.setattr(repo_tools, "MAX_DIFF_CHARS", 500)
    monkeypatch.setattr(repo_tools, "MAX_ENTRIES", 10)
    read = call(tools, git, "repo_read_files", paths=["big.txt"], ref="big")
    content = read["files"][0]["content"]
    assert read["truncated"] and read["files"][0]["truncated"] and "big.txt" in read["note"]
    assert content.startswith("line 0: add_item") and content.endswith(
        f"[aidlc: TRUNCATED, {len(big) - 1000} more characters not shown]")
    diff = call(tools, git, "repo_branch_diff", branch="big")
    assert diff["truncated"] and "TRUNCATED" in diff["diff"] and "TRUNCATED" in diff["note"]
    tree = call(tools, git, "repo_list_files", path="many", ref="big")
    assert len(tree["entries"]) == 10 and tree["truncated"] and "showing 10 of 30" in tree["note"]


def test_rest_blobs_are_fetched_once(tools, recorded):
    client = httpx.Client(transport=httpx.MockTransport(recorded.handler))
    rest = GitHubRestBackend("t0ken", REPO, base_url=API, default_branch="main", http_client=client)
    call(tools, rest, "repo_search_code", pattern="TAX")
    call(tools, rest, "repo_search_code", pattern="cart")
    blob_reads = [p for p in recorded.requests if p.startswith("/git/blobs/")]
    assert len(blob_reads) == len(set(blob_reads)) == len(BASE_FILES)  # the second search hit the cache


def test_listing_summarises_folders_past_the_depth():
    """Pure: a broken depth count (off by one) shows `a/b/c.py` at depth 1 or hides `a/x.py` at depth 2."""
    files = [{"path": p, "size": 1} for p in ["a/x.py", "a/b/c.py", "a/b/d/e.py", "r.md"]]
    assert [(e["path"], e["type"]) for e in listing(files, "", 1)] == [("a", "dir"), ("r.md", "file")]
    assert [(e["path"], e.get("files")) for e in listing(files, "a", 1)] == [("a/b", 2), ("a/x.py", None)]
    assert [e["path"] for e in listing(files, "", None)] == ["a/b/c.py", "a/b/d/e.py", "a/x.py", "r.md"]

"""GitHubRestBackend against a small in-memory fake of the GitHub REST endpoints (httpx.MockTransport: the boundary).

The fake keeps real git-like state (refs, trees, commits, pulls) so the test checks what the backend *did*, not
only which URLs it hit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest

from runtime.github import GitHubConflict, GitHubError, GitHubNotFound, GitHubRestBackend

REPO = "acme/shop"


class FakeGitHub:
    def __init__(self) -> None:
        self.commits = {"c0": {"tree": {"README.md": "hello"}, "parents": [], "message": "init"}}
        self.trees: dict[str, dict[str, str]] = {}
        self.refs = {"main": "c0"}
        self.pulls: dict[int, dict] = {}
        self.comments: list[dict] = []
        self.review_comments: set[tuple[int, int]] = set()  # (pull number, review comment id) people wrote
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[int] = []  # statuses to answer before handling

    def _sha(self, data) -> str:
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        assert request.headers["authorization"] == "Bearer t0ken"
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers = {"retry-after": "0"} if status in (403, 429) else {}
            return httpx.Response(status, json={"message": "Server Error"}, headers=headers)
        path = request.url.path.removeprefix(f"/api/v3/repos/{REPO}")
        body = json.loads(request.content) if request.content else {}
        m = request.method
        if m == "GET" and path == "":
            return httpx.Response(200, json={"default_branch": "main", "full_name": REPO})
        if m == "GET" and (match := re.fullmatch(r"/git/ref/heads/(.+)", path)):
            sha = self.refs.get(match[1])
            return httpx.Response(200, json={"object": {"sha": sha}}) if sha else httpx.Response(404, json={"message": "Not Found"})
        if m == "POST" and path == "/git/refs":
            name = body["ref"].removeprefix("refs/heads/")
            if name in self.refs:
                return httpx.Response(422, json={"message": "Reference already exists"})
            self.refs[name] = body["sha"]
            return httpx.Response(201, json={"ref": body["ref"], "object": {"sha": body["sha"]}})
        if m == "GET" and (match := re.fullmatch(r"/git/commits/(\w+)", path)):
            tree = dict(self.commits[match[1]]["tree"])
            tree_sha = self._sha(tree)
            self.trees[tree_sha] = tree
            return httpx.Response(200, json={"sha": match[1], "tree": {"sha": tree_sha}})
        if m == "POST" and path == "/git/trees":
            tree = dict(self.trees[body["base_tree"]])
            for entry in body["tree"]:
                tree[entry["path"]] = entry["content"]
            sha = self._sha(tree)
            self.trees[sha] = tree
            return httpx.Response(201, json={"sha": sha})
        if m == "POST" and path == "/git/commits":
            sha = self._sha(body)
            self.commits[sha] = {"tree": self.trees[body["tree"]], "parents": body["parents"], "message": body["message"]}
            return httpx.Response(201, json={"sha": sha})
        if m == "PATCH" and (match := re.fullmatch(r"/git/refs/heads/(.+)", path)):
            if self.commits[body["sha"]]["parents"] != [self.refs[match[1]]] and not body.get("force"):
                return httpx.Response(422, json={"message": "Update is not a fast forward"})
            self.refs[match[1]] = body["sha"]
            return httpx.Response(200, json={"object": {"sha": body["sha"]}})
        if m == "POST" and path == "/pulls":
            if body["head"] not in self.refs:
                return httpx.Response(422, json={"message": "Validation Failed", "errors": [{"message": "head invalid"}]})
            number = len(self.pulls) + 1
            head, base = self.commits[self.refs[body["head"]]]["tree"], self.commits[self.refs[body["base"]]]["tree"]
            changed = sorted(p for p in head if head.get(p) != base.get(p))
            self.pulls[number] = {**body, "number": number, "changed": changed}
            return httpx.Response(201, json={"number": number, "html_url": f"https://github.com/{REPO}/pull/{number}",
                                             "draft": body["draft"], "changed_files": len(changed)})
        if m == "GET" and (match := re.fullmatch(r"/pulls/(\d+)", path)):
            pr = self.pulls.get(int(match[1]))
            if pr is None:
                return httpx.Response(404, json={"message": "Not Found"})
            if request.headers["accept"] == "application/vnd.github.diff":
                return httpx.Response(200, text="".join(f"diff --git a/{p} b/{p}\n" for p in pr["changed"]))
            return httpx.Response(200, json={"number": pr["number"], "title": pr["title"], "body": pr["body"],
                                             "head": {"ref": pr["head"]}, "base": {"ref": pr["base"]}, "state": "open",
                                             "html_url": f"https://github.com/{REPO}/pull/{pr['number']}", "draft": pr["draft"]})
        if m == "GET" and (match := re.fullmatch(r"/pulls/(\d+)/files", path)):
            return httpx.Response(200, json=[{"filename": p} for p in self.pulls[int(match[1])]["changed"]])
        if m == "GET" and (match := re.fullmatch(r"/contents/(.+)", path)):
            ref = request.url.params["ref"]
            tree = self.commits[self.refs[ref]]["tree"]
            if match[1] not in tree:
                return httpx.Response(404, json={"message": "Not Found"})
            return httpx.Response(200, json={"type": "file", "content": base64.b64encode(tree[match[1]].encode()).decode()})
        if m == "POST" and (match := re.fullmatch(r"/pulls/(\d+)/comments/(\d+)/replies", path)):
            # GitHub answers 404 for a review comment it does not have on that pull request
            if (int(match[1]), int(match[2])) not in self.review_comments:
                return httpx.Response(404, json={"message": "Not Found"})
            self.comments.append({"number": int(match[1]), "in_reply_to": int(match[2]), "body": body["body"]})
            return httpx.Response(201, json={"id": 700 + len(self.comments), "in_reply_to_id": int(match[2]),
                                             "html_url": f"https://github.com/r/{len(self.comments)}"})
        if m == "POST" and (match := re.fullmatch(r"/issues/(\d+)/comments", path)):
            self.comments.append({"number": int(match[1]), "body": body["body"]})
            return httpx.Response(201, json={"id": 900 + len(self.comments), "html_url": f"https://github.com/c/{len(self.comments)}"})
        return httpx.Response(404, json={"message": f"fake: no route {m} {path}"})


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
def backend(fake) -> GitHubRestBackend:
    client = httpx.Client(transport=httpx.MockTransport(fake.handler))
    return GitHubRestBackend("t0ken", REPO, base_url="https://ghe.example/api/v3/", http_client=client, max_attempts=3,
                             backoff_initial=0.001)


def test_branch_commit_pull_request_read_and_comment(backend, fake):
    assert backend.default_branch == "main"
    assert backend.create_branch("aidlc/cart") == {"branch": "aidlc/cart", "sha": "c0", "from_branch": "main"}
    commit = backend.commit_files("aidlc/cart", "Cart", {"src/cart.py": "x = 1\n", "tests/test_cart.py": "def test(): pass\n"})
    assert commit["files_changed"] == 2
    stored = fake.commits[fake.refs["aidlc/cart"]]
    assert stored["parents"] == ["c0"] and stored["message"] == "Cart"  # one commit with both files
    assert stored["tree"] == {"README.md": "hello", "src/cart.py": "x = 1\n", "tests/test_cart.py": "def test(): pass\n"}
    assert fake.refs["main"] == "c0"

    pr = backend.create_pull_request("aidlc/cart", "Cart", "Adds a cart", draft=True)
    assert pr == {"number": 1, "url": f"https://github.com/{REPO}/pull/1", "branch": "aidlc/cart", "base": "main",
                  "repo": REPO, "draft": True, "files_changed": 2}
    read = backend.read_pull_request(1)
    assert read["files"] == ["src/cart.py", "tests/test_cart.py"] and "diff --git a/src/cart.py" in read["diff"]
    assert read["branch"] == "aidlc/cart" and read["base"] == "main" and read["draft"] is True
    assert backend.read_file("src/cart.py", ref="aidlc/cart")["content"] == "x = 1\n"
    assert backend.comment_pull_request(1, "LGTM") == {"comment_id": 901, "url": "https://github.com/c/1"}
    assert fake.comments == [{"number": 1, "body": "LGTM"}]
    # a reply in a review comment's thread (POST /pulls/{n}/comments/{id}/replies); an unknown comment is a 404
    fake.review_comments.add((1, 55))
    assert backend.reply_to_review_comment(1, 55, "Done in abc1234") == {"comment_id": 702,
                                                                          "url": "https://github.com/r/2"}
    assert fake.comments[-1] == {"number": 1, "in_reply_to": 55, "body": "Done in abc1234"}
    with pytest.raises(GitHubNotFound):
        backend.reply_to_review_comment(1, 56, "no such thread")


def test_errors_are_typed_and_readable(backend, fake):
    with pytest.raises(GitHubConflict, match="already exists"):
        backend.create_branch("main", from_branch="main")
    with pytest.raises(GitHubNotFound, match="no branch 'ghost'"):
        backend.commit_files("ghost", "m", {"a": "b"})
    with pytest.raises(GitHubNotFound, match="no file 'missing.txt'"):
        backend.read_file("missing.txt")
    with pytest.raises(GitHubError, match="head invalid"):
        backend.create_pull_request("nope", "t", "b")
    with pytest.raises(GitHubError, match="invalid file path"):
        backend.commit_files("main", "m", {"../x": "y"})
    assert not any(m == "POST" and p.endswith("/git/trees") for m, p in fake.requests)


def test_transient_5xx_is_retried_then_surfaces(backend, fake):
    fake.fail_next = [502, 503]
    assert backend.read_file("README.md", ref="main")["content"] == "hello"
    fake.fail_next = [500, 500, 500]
    with pytest.raises(GitHubError) as failure:
        backend.read_file("README.md", ref="main")
    assert failure.value.status == 500


def test_repo_must_be_owner_slash_name():
    with pytest.raises(ValueError, match="owner/name"):
        GitHubRestBackend("t", "just-a-name")


def test_rate_limits_are_waited_out(backend, fake):
    fake.fail_next = [429, 403]
    assert backend.read_file("README.md", ref="main")["content"] == "hello"
    assert len(fake.requests) == 3  # two rate-limited answers, then the read that succeeded


def test_a_plain_403_is_a_permission_error_not_retried(backend, fake):
    def forbidden(request):
        fake.requests.append((request.method, request.url.path))
        return httpx.Response(403, json={"message": "Resource not accessible by integration"})

    backend._client = httpx.Client(transport=httpx.MockTransport(forbidden))
    with pytest.raises(GitHubError, match="Resource not accessible") as failure:
        backend.read_file("README.md", ref="main")
    assert failure.value.status == 403 and len(fake.requests) == 1

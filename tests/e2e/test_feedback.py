"""Feedback in `aidlc dev` (issue 15 item 4, "done when"): a story moved to "Generate Code" opens a PR on the local
remote; a Notion comment on the story that mentions the integration, then a review comment on the PR (delivered by
the local remote as GitHub's signed webhook), each yield a follow-up commit on the SAME branch and PR and a reply.
Over HTTP only, as a person and Notion would. Slow (the stack starts once per package; each run is a few seconds of
offline model and sandbox): about a minute under load, which is why it is one test."""

import time

import httpx

from runtime.github import LocalGitBackend
from tests.e2e.test_local_stack import create_story, invocations, notion, set_status


def wait_for_runs(stack, page_id, count, timeout=180):
    """`count` completed code runs of the story, written back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = invocations(stack, page_id)
        assert not [r for r in runs if r["status"] in ("failed", "cancelled")], runs
        done = [r for r in runs if r["agent_type"] == "code" and r["status"] == "completed"
                and r.get("delivery_status") != "pending"]
        if len(done) >= count:
            return sorted(done, key=lambda r: r["created_at"])
        time.sleep(0.5)
    raise AssertionError(f"timed out; runs: {invocations(stack, page_id)}")


def comments(stack, page_id):
    with notion(stack) as client:
        return client.get("/v1/comments", params={"block_id": page_id}).json()["results"]


def text(comment):
    return "".join(rt["plain_text"] for rt in comment["rich_text"])


def test_a_story_comment_and_a_pr_review_each_yield_a_follow_up_commit_on_the_same_pr(stack):
    page_id = create_story(stack, "Dispatcher sees free ambulances", ["Free ambulances are listed first"])
    set_status(stack, page_id, "Generate Code")
    [first] = wait_for_runs(stack, page_id, 1)
    [pr] = [a for a in first["output_artifacts"] if a["type"] == "pull_request"]
    number, branch = pr["metadata"]["pr_number"], pr["metadata"]["branch"]
    git = LocalGitBackend(stack.info.git_remote)
    pulls_before = len(git.list_pull_requests())
    commits = len(git.log(branch))

    # 1. A comment on the story mentioning the integration
    with notion(stack, stack.info.notion_token) as bot:
        bot_id = bot.get("/v1/users/me").json()["id"]
    with notion(stack) as client:
        response = client.post("/v1/comments", json={"parent": {"page_id": page_id}, "rich_text": [
            {"type": "mention", "mention": {"type": "user", "user": {"id": bot_id}}},
            {"type": "text", "text": {"content": " list the closest ambulance first, please"}}]})
        assert response.status_code == 200, response.text
        discussion_id = response.json()["discussion_id"]
    second = wait_for_runs(stack, page_id, 2)[-1]
    assert second["parent_invocation_id"] == first["invocation_id"]
    log = git.log(branch)
    assert len(log) == commits + 1 and log[0]["message"].startswith("Address feedback: list the closest ambulance")
    replies = [text(c) for c in comments(stack, page_id)
               if c["discussion_id"] == discussion_id and c["created_by"]["id"] == bot_id]
    assert any("Re-running the code agent" in r for r in replies), replies
    assert any(f"#{number}" in r for r in replies), replies  # the re-run's result, in the same discussion

    # 2. A review comment on the PR, through the local remote's signed GitHub webhook
    response = httpx.post(f"{stack.info.api_base}/dev/git/pr/{number}/review",
                          json={"body": "Sort by distance, not by id", "line": 3}, timeout=30)
    assert response.status_code == 200 and response.json()["status"] == 200, response.text
    wait_for_runs(stack, page_id, 3)
    log = git.log(branch)
    assert len(log) == commits + 2 and log[0]["message"].strip() == "Address feedback: Sort by distance, not by id"
    assert len(git.list_pull_requests()) == pulls_before  # the same PR, never a second one
    record = git.pull_request_record(number)
    # the Notion comment's follow-up answered on the PR; the review comment's, in the review comment's thread
    assert record["comments"][-1]["body"].startswith("Addressed in")
    review, reply = record["review_comments"]
    assert reply["in_reply_to_id"] == review["id"] and reply["body"].startswith("Addressed in")

    # the PR page shows the thread and the form a person reviews with; bad review requests say what is wrong
    page = httpx.get(f"{stack.info.api_base}/dev/git/pr/{number}", timeout=30).text
    assert "Sort by distance, not by id" in page and "Add review comment" in page
    assert httpx.post(f"{stack.info.api_base}/dev/git/pr/{number}/review", json={}, timeout=30).status_code == 400
    assert httpx.post(f"{stack.info.api_base}/dev/git/pr/9999/review", json={"body": "x"},
                      timeout=30).status_code == 404

    # a forged delivery is refused at the door
    forged = httpx.post(f"{stack.info.api_base}/webhook/github", content=b"{}", timeout=30, headers={
        "X-GitHub-Event": "pull_request_review_comment", "X-GitHub-Delivery": "x", "X-Hub-Signature-256": "sha256=0"})
    assert forged.status_code == 401

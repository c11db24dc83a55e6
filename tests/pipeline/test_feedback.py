"""Feedback re-runs an agent (issue 15 item 4): a Notion comment that mentions the integration, and a review comment
on a pull request aidlc opened (the GitHub webhook), through the handlers against moto and the Notion emulator.
The agents are behind the recording invoker; what the re-run is told is what its AgentRequest carries."""

from __future__ import annotations

import json
import uuid

import pytest

from runtime.github.backend import hub_signature, pr_marker
from runtime.models import CompletionEvent, OutputArtifact, PullRequestMetadata
from tests.pipeline.conftest import TOKEN, event_body, make_notion_pipeline, new_story, signed

GITHUB_SECRET = "gh-webhook-secret-for-tests"
REPO = "acme/app"


def code_run(p, story: dict, *, pr_number: int = 7, branch: str = "aidlc/export-csv-abc123") -> str:
    """The story's code run, started through the webhook and finished with a pull request."""
    env = p.notion_env
    p.put_secret("webhook-verification-token", TOKEN)
    body = event_body(story, env=env)
    assert p.webhook(body, signed(body))[1]["status"] == "enqueued"
    p.drain()
    request = p.invoker.requests[-1]
    assert request.agent_type == "code"
    pr = OutputArtifact(type="pull_request", url=f"https://github.com/{REPO}/pull/{pr_number}",
                        title=f"PR #{pr_number}: {story['id']}",
                        metadata=PullRequestMetadata(repo=REPO, branch=branch, pr_number=pr_number, files_changed=3))
    p.run_completion([CompletionEvent(invocation_id=request.invocation_id, agent_type="code",
                                      session_id=request.session_id, status="completed", summary="Opened PR",
                                      artifacts=[pr])])
    assert p.record(request.invocation_id).status.value == "completed"
    return request.invocation_id


def comment_event(env, comment: dict, *, event_id: str | None = None, author_id: str | None = None) -> bytes:
    """`comment.created` as Notion sends it: the comment's id and page, never its text (the receiver reads it)."""
    page_id = comment["parent"]["page_id"]
    return json.dumps({
        "id": event_id or str(uuid.uuid4()), "timestamp": comment["created_time"], "workspace_id": "ws",
        "workspace_name": "Acme", "subscription_id": "sub", "integration_id": "int", "type": "comment.created",
        "authors": [{"id": author_id or env.emulator.person_user["id"], "type": "person"}], "attempt_number": 1,
        "entity": {"id": comment["id"], "type": "comment"},
        "data": {"page_id": page_id, "parent": {"id": page_id, "type": "page"}},
    }).encode()


@pytest.fixture
def code_pipeline(aws_names, notion_env):
    from runtime.pipeline.services import set_services

    p = make_notion_pipeline(aws_names, notion_env, agent_chain_template="story-to-code")
    yield p
    set_services(None)


def test_a_comment_mentioning_the_integration_re_runs_the_last_agent_into_the_same_pr(code_pipeline):
    p = code_pipeline
    env = p.notion_env
    story = new_story(env, "Export invoices as CSV", status="Generate Code")
    first = code_run(p, story)
    bot_id = env.bot.me()["id"]

    comment = env.user.create_comment(story["id"], "Please quote fields that contain commas.",
                                      mention_user_ids=[bot_id])
    body = comment_event(env, comment)
    status, reply = p.webhook(body, signed(body))
    assert status == 200 and reply["status"] == "enqueued" and reply["agent_type"] == "code", reply
    # Notion redelivers an event it got no 200 for: the same event enqueues nothing more
    assert p.webhook(body, signed(body))[0] == 200
    assert p.queue_depth("tasks") == 1

    p.drain()
    rerun = p.invoker.requests[-1]
    assert len(p.invoker.requests) == 2 and rerun.invocation_id == reply["invocation_id"]
    assert rerun.agent_type == "code" and rerun.parent.invocation_id == first
    feedback = rerun.parent.context["feedback"]
    assert feedback["text"] == "Please quote fields that contain commas."
    assert feedback["source"] == "notion_comment" and feedback["discussion_id"] == comment["discussion_id"]
    # the same branch and pull request, so the code agent commits there instead of opening another
    assert feedback["pull_request"] == {"repo": REPO, "number": 7, "branch": "aidlc/export-csv-abc123",
                                        "url": f"https://github.com/{REPO}/pull/7"}
    assert rerun.parent.context["pull_request_url"] == f"https://github.com/{REPO}/pull/7"

    # answered in the comment's discussion: at once, and with the re-run's result
    p.run_completion([CompletionEvent(invocation_id=rerun.invocation_id, agent_type="code",
                                      session_id=rerun.session_id, status="completed",
                                      summary="Pushed follow-up commit abc1234 to pull request #7")])
    replies = [c for c in env.bot.list_comments(story["id"])
               if c["discussion_id"] == comment["discussion_id"] and c["created_by"]["id"] == bot_id]
    texts = ["".join(t["plain_text"] for t in c["rich_text"]) for c in replies]
    assert any("Re-running the code agent" in t for t in texts), texts
    assert any("abc1234" in t for t in texts), texts


def test_comments_that_start_nothing(code_pipeline):
    p = code_pipeline
    env = p.notion_env
    story = new_story(env, "Filter invoices by month", status="Generate Code")
    code_run(p, story)
    bot_id = env.bot.me()["id"]

    plain = env.user.create_comment(story["id"], "Looks good to me")  # no mention of the integration
    body = comment_event(env, plain)
    assert p.webhook(body, signed(body))[1] == {"status": "ignored",
                                                 "reason": "the comment does not mention the integration"}
    ours = env.bot.create_comment(story["id"], "a note", mention_user_ids=[bot_id])
    body = comment_event(env, ours, author_id=bot_id)
    assert p.webhook(body, signed(body))[1]["status"] == "ignored"
    unsigned = comment_event(env, plain)
    assert p.webhook(unsigned, signed(unsigned, token="secret_wrong"))[0] == 401
    assert p.queue_depth("tasks") == 0

    fresh = new_story(env, "Nothing ran here yet", status="Backlog")
    asked = env.user.create_comment(fresh["id"], "please start", mention_user_ids=[bot_id])
    body = comment_event(env, asked)
    assert p.webhook(body, signed(body))[1]["reason"] == "no agent has run on this story"
    assert p.queue_depth("tasks") == 0


# --- GitHub --------------------------------------------------------------------------------------------------


@pytest.fixture
def github_pipeline(aws_names, notion_env):
    from runtime.pipeline.services import set_services

    p = make_notion_pipeline(aws_names, notion_env,
                             settings={"github_webhook_secret": aws_names["secrets"]["github-webhook-secret"]},
                             agent_chain_template="story-to-code", github_repo=REPO)
    p.put_secret("github-webhook-secret", GITHUB_SECRET)
    yield p
    set_services(None)


def review_comment_payload(opener_id: str, *, number: int = 7, branch: str = "aidlc/export-csv-abc123",
                           comment_id: int = 1_234_567, body: str = "Use csv.writer instead of joining strings",
                           repo: str = REPO) -> dict:
    """`pull_request_review_comment` / created, with the fields GitHub sends that the receiver reads (shape as in
    GitHub's webhook docs and octokit's webhooks schema)."""
    login = {"login": "octocat", "id": 1, "type": "User"}
    return {
        "action": "created",
        "comment": {"id": comment_id, "pull_request_review_id": 42, "path": "features/export_invoices.py",
                    "line": 12, "side": "RIGHT", "diff_hunk": "@@ -0,0 +1,12 @@\n+def export():", "body": body,
                    "user": login, "created_at": "2026-12-02T07:00:00Z", "updated_at": "2026-12-02T07:00:00Z",
                    "commit_id": "a" * 40, "html_url": f"https://github.com/{repo}/pull/{number}#discussion_r1"},
        "pull_request": {"number": number, "state": "open", "title": "Export invoices as CSV",
                         "body": f"Implements the story.\n\n{pr_marker(opener_id)}",
                         "head": {"ref": branch, "sha": "a" * 40}, "base": {"ref": "main", "sha": "b" * 40}},
        "repository": {"full_name": repo, "name": repo.split("/")[1]},
        "sender": login,
    }


def deliver(p, payload: dict, *, event: str = "pull_request_review_comment", delivery: str | None = None,
            secret: str = GITHUB_SECRET, signature: str | None = None) -> tuple[int, dict]:
    from runtime.handlers import github_webhook

    body = json.dumps(payload).encode()
    headers = {"x-github-event": event, "x-github-delivery": delivery or str(uuid.uuid4()),
               "user-agent": "GitHub-Hookshot/1"}
    if signature is not False:
        headers["x-hub-signature-256"] = signature or hub_signature(body, secret)
    return p.http(github_webhook.handler, "POST", "/webhook/github", body=body, headers=headers)


def test_a_review_comment_re_runs_the_code_agent_on_its_branch_once_per_delivery(github_pipeline):
    p = github_pipeline
    story = new_story(p.notion_env, "Export invoices as CSV", status="Generate Code")
    opener = code_run(p, story)

    payload = review_comment_payload(opener)
    delivery = str(uuid.uuid4())
    status, reply = deliver(p, payload, delivery=delivery)
    assert status == 200 and reply["status"] == "enqueued" and reply["agent_type"] == "code", reply
    assert deliver(p, payload, delivery=delivery)[0] == 200  # a redelivery (same X-GitHub-Delivery)
    assert p.queue_depth("tasks") == 1

    p.drain()
    rerun = p.invoker.requests[-1]
    assert rerun.invocation_id == reply["invocation_id"] and rerun.parent.invocation_id == opener
    feedback = rerun.parent.context["feedback"]
    assert feedback["source"] == "github_review_comment" and feedback["author"] == "octocat"
    assert feedback["text"] == "Use csv.writer instead of joining strings"
    assert (feedback["path"], feedback["line"]) == ("features/export_invoices.py", 12)
    assert feedback["pull_request"]["branch"] == "aidlc/export-csv-abc123"
    assert feedback["pull_request"]["number"] == 7
    assert rerun.story.page_id == story["id"] and rerun.story.title == "Export invoices as CSV"


def test_bad_or_missing_signature_is_401_and_starts_nothing(github_pipeline):
    p = github_pipeline
    story = new_story(p.notion_env, "Export invoices as CSV", status="Generate Code")
    payload = review_comment_payload(code_run(p, story))
    assert deliver(p, payload, secret="not-the-secret")[0] == 401
    assert deliver(p, payload, signature=False)[0] == 401
    assert deliver(p, payload, signature="sha256=" + "0" * 64)[0] == 401
    assert p.queue_depth("tasks") == 0
    # a signed delivery without its headers is the sender's mistake, not ours
    from runtime.handlers import github_webhook

    body = json.dumps(payload).encode()
    status, _ = p.http(github_webhook.handler, "POST", "/webhook/github", body=body,
                       headers={"x-hub-signature-256": hub_signature(body, GITHUB_SECRET)})
    assert status == 400


def test_reviews_that_carry_no_feedback_start_nothing(github_pipeline):
    p = github_pipeline
    story = new_story(p.notion_env, "Export invoices as CSV", status="Generate Code")
    opener = code_run(p, story)
    assert deliver(p, {"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")[1]["status"] == "pong"
    review = review_comment_payload(opener)
    approved = {"action": "submitted", "pull_request": review["pull_request"], "repository": review["repository"],
                "sender": review["sender"],
                "review": {"id": 99, "state": "approved", "body": "LGTM", "user": review["sender"],
                           "submitted_at": "2026-12-02T07:00:00Z"}}
    assert deliver(p, approved, event="pull_request_review")[1]["status"] == "ignored"
    # someone else's pull request (no marker), or the marker copied into another repository's
    stranger = review_comment_payload(opener)
    stranger["pull_request"]["body"] = "A person's PR"
    assert deliver(p, stranger)[1]["reason"] == "not a pull request aidlc opened"
    assert deliver(p, review_comment_payload(opener, repo="evil/fork"))[1]["reason"] == \
        "not a pull request aidlc opened"
    assert p.queue_depth("tasks") == 0

    # a review asking for changes is feedback
    changes = {**approved, "review": {**approved["review"], "state": "changes_requested", "body": "Add a header row"}}
    assert deliver(p, changes, event="pull_request_review")[1]["status"] == "enqueued"
    p.drain()
    assert p.invoker.requests[-1].parent.context["feedback"]["source"] == "github_review"

"""The code agent re-run with feedback (runtime/pipeline/feedback.py): with the offline model, over the real MCP
tools and a local bare git remote, its follow-up goes to the SAME branch and pull request (one more commit, no new
PR) and answers on it; and the local remote delivers a person's review comment as GitHub's signed webhook."""

from __future__ import annotations

import json
import threading

import pytest
from starlette.testclient import TestClient

from runtime.agent.app import create_app
from runtime.agent.completion import SqsCompletionSink
from runtime.agent.settings import AgentSettings
from runtime.github.backend import hub_signature, invocation_of_pr_body
from runtime.models import CompletionEvent, ParentContext
from runtime.pipeline.feedback import Feedback, PullRequestRef
from runtime.plugins import chain_context
from tests.agent.conftest import receive_all, wait_for
from tests.agent.wire import story_request, tool_gateway  # noqa: F401  (tool_gateway is a fixture)


@pytest.fixture
def agent(tool_gateway):
    env = tool_gateway
    settings = AgentSettings(model_provider="offline", gateway_url=env.url, completion_queue_url=env.aws.queue_url,
                             audit_table=env.aws.audit_table, region="us-east-1")
    with TestClient(create_app(settings=settings, sink=SqsCompletionSink(env.aws.queue_url))) as client:
        env.client = client
        yield env


def run(env, request) -> CompletionEvent:
    response = env.client.post("/invocations", content=request.model_dump_json(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    [body] = wait_for(lambda: receive_all(env.aws.sqs, env.aws.queue_url), timeout=60)
    event = CompletionEvent.model_validate(body)
    assert event.status == "completed", f"{event.error_code}: {event.error_detail}"
    return event


def test_feedback_on_a_pr_becomes_a_follow_up_commit_on_the_same_pr(agent):
    first_request = story_request(agent, "code")
    first = run(agent, first_request)
    [pr] = first.artifacts
    branch, number = pr.metadata.branch, pr.metadata.pr_number
    opened = agent.git.read_pull_request(number)
    # the PR says which run opened it, so a review on it finds that run
    assert invocation_of_pr_body(opened["body"]) == first_request.invocation_id
    commits_before = len(agent.git.log(branch))

    review = agent.git.add_review_comment(number, "Name the module after the story, not 'features'.", line=3)
    comment_id = review["comment"]["id"]
    feedback = Feedback(source="github_review_comment", text="Name the module after the story, not 'features'.",
                        author="reviewer", comment_id=str(comment_id), path=opened["files"][0], line=3,
                        pull_request=PullRequestRef(repo=pr.metadata.repo, number=number, branch=branch, url=pr.url))
    parent = ParentContext(invocation_id=first_request.invocation_id, agent_type="code", artifacts=first.artifacts,
                           context={**chain_context(first.artifacts), "feedback": feedback.model_dump(mode="json")})
    follow_up = run(agent, story_request(agent, "code", parent=parent))

    assert len(agent.git.list_pull_requests()) == 1  # no second pull request
    log = agent.git.log(branch)
    assert len(log) == commits_before + 1 and log[0]["message"].startswith("Address feedback: Name the module")
    record = agent.git.pull_request_record(number)
    assert any(str(comment_id) in path for path in record["files"])  # the follow-up is in the same PR's diff
    # the answer is in the review comment's thread on the diff (GitHub's replies endpoint), not a PR comment
    assert record["comments"] == []
    [_, reply] = record["review_comments"]
    assert reply["in_reply_to_id"] == comment_id
    assert reply["body"].startswith(f"Addressed in {log[0]['sha'][:7]}") and "Tests run in the sandbox" in reply["body"]
    assert f"#{number}" in follow_up.summary and follow_up.artifacts == []


class _Receiver:
    """A loopback stand-in for the GitHub webhook's ingress: records what arrives, answers 200."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        self.seen: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()

        async def hook(request):
            body = await request.body()
            with self.lock:
                self.seen.append((dict(request.headers), body))
            return JSONResponse({"status": "ok"})

        self.app = Starlette(routes=[Route("/webhook/github", hook, methods=["POST"])])


def test_the_local_remote_records_a_review_comment_and_delivers_it_signed(agent):
    from runtime.local.server import serve

    first_request = story_request(agent, "code")
    [pr] = run(agent, first_request).artifacts
    receiver = _Receiver()
    with serve(receiver.app) as server:
        result = agent.git.add_review_comment(pr.metadata.pr_number, "Please add a docstring", line=2,
                                              webhook=(f"{server.base_url}/webhook/github", "s3cret"))
    assert result["status"] == 200
    [(headers, body)] = receiver.seen
    assert headers["x-github-event"] == "pull_request_review_comment"
    assert headers["x-github-delivery"] == result["delivery"]
    assert headers["x-hub-signature-256"] == hub_signature(body, "s3cret")
    payload = json.loads(body)
    assert payload["action"] == "created" and payload["comment"]["body"] == "Please add a docstring"
    assert payload["comment"]["line"] == 2 and payload["comment"]["path"] in agent.git.read_pull_request(
        pr.metadata.pr_number)["files"]
    assert payload["pull_request"]["number"] == pr.metadata.pr_number
    assert payload["pull_request"]["head"]["ref"] == pr.metadata.branch
    assert invocation_of_pr_body(payload["pull_request"]["body"]) == first_request.invocation_id
    assert payload["repository"]["full_name"] == pr.metadata.repo and payload["sender"]["type"] == "User"
    stored = agent.git.pull_request_record(pr.metadata.pr_number)["review_comments"]
    assert [c["body"] for c in stored] == ["Please add a docstring"]

"""Feedback on an agent's work re-runs the agent with it (issue 15 item 4).

    a Notion comment on the story that @-mentions the integration (`comment.created`, through the Notion webhook)
        -> the story's LAST run again, the comment as feedback; answered in the comment's discussion
    a review comment, or a review with a body, on a pull request aidlc opened (the GitHub webhook)
        -> the run that opened it again, on the same branch and pull request

The feedback reaches the agent as `request.parent.context["feedback"]` (`FEEDBACK_KEY`, shaped by `Feedback`): the
re-run's parent is the run it follows, so its artifacts (the pull request) come along too; the prompt shows both
(runtime/agent/runner.py task_prompt). The re-run's id is derived from the comment, so a redelivered event or a
second webhook path names the same run and the orchestrator's put-if-absent starts it once.

A pull request aidlc opened says which run opened it in a marker the PR tool writes into its body
(`runtime.github.backend.pr_marker`, written by runtime/tools/github_tools.py); the webhook needs no index from
pull requests to runs.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from runtime.errors import ErrorCode
from runtime.github.backend import hub_signature, invocation_of_pr_body
from runtime.models import InvocationRecord, InvocationStatus, PageSnapshot
from runtime.pipeline.common import RunService
from runtime.pipeline.input_limits import InputRejected, OpenModel, ShortText, load_json, validated
from runtime.pipeline.ports import NotionPort, SecretStore, TaskPublisher, same_id
from runtime.pipeline.state.invocations import InvocationRepository
from runtime.pipeline.state.projects import ProjectRepository
from runtime.pipeline.webhook import HttpReply, error_reply
from runtime.resources import Header

log = logging.getLogger(__name__)

FEEDBACK_KEY = "feedback"
# The GitHub events that carry feedback on a pull request, and the action of each that does.
GITHUB_FEEDBACK_ACTIONS = {"pull_request_review_comment": "created", "pull_request_review": "submitted"}
# An approval says "done", not "change this"; its body (often "LGTM") re-runs nothing.
_REVIEW_STATES = frozenset({"commented", "changes_requested"})
_BUSY = (InvocationStatus.QUEUED, InvocationStatus.RUNNING)
MAX_FEEDBACK_CHARS = 8000  # a review comment can be long; the prompt need not be


def github_signature_matches(body: bytes, header: str | None, secret: str) -> bool:
    return bool(header) and bool(secret) and hmac.compare_digest(
        hub_signature(body, secret).encode(), header.strip().lower().encode("utf-8", "surrogatepass"))


class PullRequestRef(BaseModel):
    repo: str
    number: int
    branch: str
    url: str = ""


class Feedback(BaseModel):
    """What the re-run is told (its `parent.context["feedback"]`)."""

    source: Literal["notion_comment", "github_review_comment", "github_review"]
    text: str
    author: str = ""
    comment_id: str  # the Notion comment, the GitHub review comment or review
    discussion_id: str | None = None  # Notion: the thread the answer goes to
    path: str | None = None  # GitHub: the file and line a review comment is on
    line: int | None = None
    diff_hunk: str | None = None
    pull_request: PullRequestRef | None = None  # the code agent commits to its branch, never opens another
    instructions: str = Field(default="Address this feedback on your previous run's work. If there is a pull "
                                      "request, commit to its branch (do not open another) and reply on it.")


def feedback_of(record: InvocationRecord) -> dict[str, Any] | None:
    """The feedback a run was started with, if it was a re-run."""
    value = (record.input_context.get("chain_context") or {}).get(FEEDBACK_KEY)
    return value if isinstance(value, dict) else None


def discussion_of(record: InvocationRecord) -> str | None:
    """The Notion discussion a re-run answers in (its write-back comment), if a Notion comment started it."""
    return (feedback_of(record) or {}).get("discussion_id") or None


def pull_request_of(record: InvocationRecord) -> PullRequestRef | None:
    """The pull request a run opened, or, for a re-run that worked on one, the one it worked on."""
    for artifact in record.output_artifacts:
        meta = artifact.metadata
        if getattr(meta, "kind", None) == "pull_request":
            return PullRequestRef(repo=meta.repo, number=meta.pr_number, branch=meta.branch, url=artifact.url)
    earlier = (feedback_of(record) or {}).get("pull_request")
    return PullRequestRef.model_validate(earlier) if isinstance(earlier, dict) else None


def _plain(rich_text: list[dict]) -> str:
    return "".join(item.get("plain_text") or (item.get("text") or {}).get("content") or ""
                   for item in rich_text if item.get("type") != "mention").strip()


def mentions_user(rich_text: list[dict], user_id: str | None) -> bool:
    return any(item.get("type") == "mention" and (item.get("mention") or {}).get("type") == "user"
               and same_id(((item.get("mention") or {}).get("user") or {}).get("id"), user_id) for item in rich_text)


def _reply(status: str, reason: str = "", status_code: int = 200, **extra: Any) -> dict[str, Any]:
    body = {"status": status, **({"reason": reason} if reason else {}), **extra}
    return {"status_code": status_code, "body": body}


# --- the GitHub payload fields read (GitHub's webhook docs, octokit's webhooks schema); others are kept -------


class _GhUser(OpenModel):
    login: ShortText | None = None
    type: ShortText | None = None


class _GhPost(OpenModel):
    """What a review comment and a review both are: a text by a user (the feedback reads these)."""

    id: StrictInt
    body: str | None = None
    user: _GhUser | None = None


class _GhComment(_GhPost):
    path: str | None = Field(default=None, max_length=4096)
    line: StrictInt | None = None
    original_line: StrictInt | None = None
    diff_hunk: str | None = None
    created_at: datetime | None = None


class _GhReview(_GhPost):
    state: ShortText | None = None
    submitted_at: datetime | None = None


class _GhRef(OpenModel):
    ref: str | None = Field(default=None, max_length=1000)


class _GhPull(OpenModel):
    number: StrictInt
    body: str | None = None
    head: _GhRef | None = None


class _GhRepo(OpenModel):
    full_name: ShortText | None = None


class GitHubReviewEvent(OpenModel):
    action: ShortText
    comment: _GhComment | None = None
    review: _GhReview | None = None
    pull_request: _GhPull | None = None
    repository: _GhRepo | None = None
    sender: _GhUser | None = None


class FeedbackService(RunService):
    """From a comment to the re-run's task message (both webhooks call it after their signature and dedup)."""

    def __init__(self, *, invocations: InvocationRepository, projects: ProjectRepository, queue: TaskPublisher,
                 registry: Any, notion: Callable[[], NotionPort] | None = None) -> None:
        super().__init__(invocations=invocations, projects=projects, registry=registry)
        self.queue = queue
        self._notion = notion

    # --- Notion ----------------------------------------------------------------------------------------------

    def notion_comment(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """`event`: {event_id, comment_id, page_id} of a `comment.created` not caused by this integration."""
        assert self._notion is not None, "a Notion comment needs the Notion adapter"
        notion = self._notion()
        bot_id = notion.me().get("id")
        page_id = str(event["page_id"])
        # The event names the comment, not its text: read the page's comments (Notion's list endpoint).
        comment = next((c for c in notion.list_comments(page_id) if same_id(c.get("id"), event["comment_id"])), None)
        if comment is None:
            return _reply("ignored", "the comment is not readable (deleted, or the page is not shared)")
        if same_id((comment.get("created_by") or {}).get("id"), bot_id):
            return _reply("ignored", "written by this integration")
        rich_text = comment.get("rich_text") or []
        if not mentions_user(rich_text, bot_id):
            return _reply("ignored", "the comment does not mention the integration")
        text = _plain(rich_text)
        discussion_id = comment.get("discussion_id")

        def answer(message: str) -> None:
            kwargs = {"discussion_id": discussion_id} if discussion_id else {}
            notion.create_comment(page_id, message, **kwargs)

        if not text:
            answer("Mention me with what to change, e.g. \"@aidlc use a table instead of a list\".")
            return _reply("ignored", "the comment has no text besides the mention")
        last = self.invocations.latest_for_page(page_id)
        if last is None:
            answer("No agent has run on this story yet: move it to a trigger status first.")
            return _reply("ignored", "no agent has run on this story")
        if last.status in _BUSY:
            answer(f"The {last.agent_type} agent is still working on this story; comment again when it is done.")
            return _reply("ignored", "the story's last run is still going")
        feedback = Feedback(source="notion_comment", text=text[:MAX_FEEDBACK_CHARS], comment_id=str(comment["id"]),
                            author=str((comment.get("created_by") or {}).get("id") or ""),
                            discussion_id=discussion_id, pull_request=pull_request_of(last))
        snapshot = notion.page_snapshot(page_id)
        result = self._enqueue(last, feedback, snapshot, when=str(comment.get("created_time") or ""))
        if result["body"].get("status") == "enqueued":
            answer(f"Re-running the {last.agent_type} agent with your feedback "
                   f"(run {result['body']['invocation_id']}).")
        return result

    # --- GitHub ----------------------------------------------------------------------------------------------

    def github_event(self, event_name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A verified, first-time GitHub delivery: feedback when it is a review (comment) on a PR aidlc opened."""
        if event_name == "ping":
            return _reply("pong")
        wanted = GITHUB_FEEDBACK_ACTIONS.get(event_name)
        if wanted is None or payload.get("action") != wanted:
            return _reply("ignored", f"{event_name} {str(payload.get('action'))[:50]!r} carries no feedback")
        event = validated(GitHubReviewEvent, dict(payload), f"the {event_name} event")
        if event.sender is not None and event.sender.type == "Bot":
            return _reply("ignored", "written by a bot")
        if event_name == "pull_request_review_comment":
            item: _GhPost | None = event.comment
            source = "github_review_comment"
            extra = {"path": event.comment.path, "line": event.comment.line or event.comment.original_line,
                     "diff_hunk": (event.comment.diff_hunk or "")[-2000:] or None} if event.comment else {}
            when = event.comment.created_at if event.comment else None
        else:
            item = event.review
            if item is None or (item.state or "").lower() not in _REVIEW_STATES:
                return _reply("ignored", f"a review that is {(item.state if item else None)!r} asks for no change")
            source, extra, when = "github_review", {}, item.submitted_at
        text = (item.body or "").strip() if item is not None else ""
        if not text or event.pull_request is None:
            return _reply("ignored", "no comment text")
        pr = event.pull_request
        opener_id = invocation_of_pr_body(pr.body)
        stored = self.invocations.get(opener_id) if opener_id else None
        opener = stored.record if stored is not None else None
        ref = pull_request_of(opener) if opener is not None else None
        repo = (event.repository.full_name if event.repository else None) or ""
        if opener is None or ref is None or ref.number != pr.number or ref.repo.lower() != repo.lower():
            # Someone's marker copied into another PR, or another repository's: not a PR this run opened.
            return _reply("ignored", "not a pull request aidlc opened")
        last = self.invocations.latest_for_page(opener.notion_page_id) or opener
        if last.status in _BUSY:
            return _reply("ignored", "the story's last run is still going")
        ref = ref.model_copy(update={"branch": (pr.head.ref if pr.head else None) or ref.branch})
        feedback = Feedback(source=source, text=text[:MAX_FEEDBACK_CHARS], comment_id=str(item.id),
                            author=(item.user.login if item.user else None) or "", pull_request=ref, **extra)
        story = (last.input_context.get("story") or opener.input_context.get("story") or {})
        snapshot = (PageSnapshot.model_validate(story) if story
                    else PageSnapshot(page_id=opener.notion_page_id, title="(story)"))
        # The PR's own agent (the code agent) again, whatever ran on the story since (a review, a deck).
        return self._enqueue(opener, feedback, snapshot, when=when.isoformat() if when else "")

    # --- both ------------------------------------------------------------------------------------------------

    def _enqueue(self, previous: InvocationRecord, feedback: Feedback, snapshot: PageSnapshot,
                 *, when: str) -> dict[str, Any]:
        from runtime.pipeline.webhook import build_message, invocation_id_for
        from runtime.plugins import chain_context

        project = self.projects.get(previous.project_id)
        if project is None:
            return _reply("ignored", f"project {previous.project_id!r} is not configured")
        try:
            spec = self.registry.get(previous.agent_type)
        except KeyError:
            return _reply("ignored", f"agent {previous.agent_type!r} is not installed")
        trigger = previous.trigger_value or (spec.triggers[0] if spec.triggers else previous.agent_type)
        # the comment's time, never "now": a redelivery must name the same run
        when = when or (previous.completed_at or previous.created_at).isoformat()
        invocation_id = invocation_id_for(previous.notion_page_id, trigger, when,
                                          salt=f"feedback {feedback.source} {feedback.comment_id}")
        context = {**chain_context(previous.output_artifacts), FEEDBACK_KEY: feedback.model_dump(mode="json")}
        message = build_message(project, agent_type=previous.agent_type, trigger=trigger, snapshot=snapshot,
                                invocation_id=invocation_id, page_id=previous.notion_page_id,
                                parent_invocation_id=previous.invocation_id, chain_context=context)
        self.queue.publish(message)
        log.info("feedback (%s) re-runs %s on page %s", feedback.source, message.agent_type, message.notion_page_id,
                 extra={"invocation_id": invocation_id})
        return _reply("enqueued", invocation_id=invocation_id, agent_type=message.agent_type)


# --- the GitHub webhook ingress (runtime/handlers/github_webhook.py) ---------------------------------------------

SIGNATURE_HEADER = Header.GITHUB_SIGNATURE.lower()  # API Gateway (payload 2.0) lower-cases header names
EVENT_HEADER = Header.GITHUB_EVENT.lower()
DELIVERY_HEADER = Header.GITHUB_DELIVERY.lower()
# GitHub redelivers a failed delivery (by hand, or an app's retry) with the same delivery id; a day covers it.
DELIVERY_SECONDS = 26 * 3600
# A review comment's payload carries the whole pull request (its body up to 65,536 characters) and repository.
MAX_GITHUB_BODY_BYTES = 1024 * 1024


class GitHubWebhookService:
    """One delivery: signature (401), headers (400), once per `X-GitHub-Delivery`, then `FeedbackService`."""

    def __init__(self, *, feedback: FeedbackService, secrets: SecretStore, secret_id: str, idempotency_table: str,
                 dynamodb_client: Any | None = None) -> None:
        from runtime.pipeline.adapters.idempotency import Idempotency

        self.feedback = feedback
        self.secrets = secrets
        self.secret_id = secret_id
        self._idempotency = Idempotency(idempotency_table, dynamodb_client)
        self._once_per_delivery = self._idempotency.once(
            self._deliver, argument="delivery", key="id", seconds=DELIVERY_SECONDS, key_prefix="aidlc-github-delivery")

    def register_lambda_context(self, context: Any) -> None:
        self._idempotency.register_lambda_context(context)

    def handle(self, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        headers = {k.lower(): v for k, v in headers.items()}
        if len(body) > MAX_GITHUB_BODY_BYTES:
            return error_reply(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body is {len(body)} bytes; the limit is 1 MiB")
        secret = self.secrets.get(self.secret_id) if self.secret_id else None
        if not secret or not github_signature_matches(body, headers.get(SIGNATURE_HEADER), secret):
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, f"missing or bad {Header.GITHUB_SIGNATURE}")
        delivery, event_name = headers.get(DELIVERY_HEADER, "").strip(), headers.get(EVENT_HEADER, "").strip()
        if not delivery or not event_name or len(delivery) > 100 or len(event_name) > 100:
            return error_reply(400, ErrorCode.INVALID_REQUEST,
                               f"{Header.GITHUB_DELIVERY} and {Header.GITHUB_EVENT} are required")
        try:
            payload = load_json(body)
            result = self._once_per_delivery(delivery={"id": delivery, "event": event_name, "payload": payload})
        except InputRejected as exc:
            return error_reply(exc.status, exc.code, exc.message)
        except IdempotencyAlreadyInProgressError:
            return HttpReply(200, {"status": "in_progress"})
        return HttpReply(result["status_code"], result["body"])

    def _deliver(self, delivery: dict) -> dict:
        payload = delivery["payload"]
        if not isinstance(payload, dict):
            raise InputRejected(400, "the body is not a JSON object")
        return self.feedback.github_event(delivery["event"], payload)

"""The three Slack endpoints, from one signed HTTP request to at most one run on the task queue.

    POST /slack/events         JSON: url_verification -> the challenge; event_callback -> a mention or a DM, routed
    POST /slack/commands       form: `/aidlc ...`, routed; the reply is the ephemeral answer Slack shows
    POST /slack/interactivity  form `payload=`: Approve / Reject, honoured only from the project's approvers

    every request: size (413) -> signature over `v0:{ts}:{body}`, 5-minute window (401) -> shape (400)
    -> once per Slack id (event_id, trigger_id; a retry with X-Slack-Retry-Num gets the first answer) -> route

Refusals happen before anything is stored or sent. What takes longer than Slack's 3 s (the agent) happens after
the task queue; here only the Notion page read, one thread message and one queue send.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from runtime.errors import AidlcError, ErrorCode
from runtime.models import ProjectConfig, SlackOrigin
from runtime.pipeline.common import UsesRegistry
from runtime.pipeline.ports import NotionPort, parent_ids
from runtime.pipeline.settings import MAX_WEBHOOK_BODY_BYTES
from runtime.pipeline.ports import TaskPublisher
from runtime.pipeline.webhook import HttpReply, build_message, error_reply, invocation_id_for
from runtime.slack import commands
from runtime.slack.messages import APPROVE_ACTION, REJECT_ACTION, decided
from runtime.slack.notifier import SlackNotifier, safe

log = logging.getLogger(__name__)

Kind = Literal["events", "commands", "interactivity"]
SLASH_COMMAND = "/aidlc"
# Slack retries an event 3 times over about an hour; a trigger_id lives 3 s. Remember both for a day.
IDEMPOTENCY_SECONDS = 24 * 3600
HANDLED_EVENTS = frozenset({"app_mention", "message"})


class ProjectLookup(Protocol):
    def resolve(self, *notion_ids: str | None) -> ProjectConfig | None: ...
    def get(self, project_id: str) -> ProjectConfig | None: ...


class WorkflowControl(Protocol):
    """`/aidlc status` and `/aidlc cancel` (the internal API's operations behind them)."""

    def status_text(self, workflow_id: str) -> str: ...
    def cancel(self, workflow_id: str, user: str) -> str: ...


class ApprovalSink(Protocol):
    """Where an approval decision goes (a workflow's callback). Returns False when the step was already decided."""

    def decide(self, *, workflow_id: str, step: str, approved: bool, user: str) -> bool: ...


@dataclass(frozen=True)
class Refusal:
    text: str


def ephemeral(text: str) -> HttpReply:
    return HttpReply(200, {"response_type": "ephemeral", "text": text})


class SlackIngress(UsesRegistry):
    def __init__(
        self,
        *,
        signing_secret: Callable[[], str | None],
        notion: Callable[[], NotionPort],
        projects: ProjectLookup,
        queue: TaskPublisher,
        notifier: Callable[[], SlackNotifier | None],
        control: WorkflowControl,
        approvals: ApprovalSink,
        idempotency_table: str,
        dynamodb_client: Any | None = None,
        registry: Any | None = None,
        clock: Callable[[], float] = time.time,
        workflows: Any | None = None,
    ) -> None:
        self._signing_secret = signing_secret
        self.workflows = workflows  # the onboarding workflows (runtime/slack/workflows.py SlackWorkflows), if any
        self._notion = notion
        self.projects = projects
        self.queue = queue
        self._notifier = notifier
        self.control = control
        self.approvals = approvals
        self._registry = registry
        self.clock = clock
        self._build_idempotency(idempotency_table, dynamodb_client)

    def _build_idempotency(self, table: str, client: Any | None) -> None:
        # The same idempotency as the Notion webhook: a duplicate id gets the first answer back.
        from runtime.pipeline.adapters.idempotency import Idempotency

        self._idempotency = Idempotency(table, client)
        self._once: dict[str, Callable[..., dict]] = {
            kind: self._idempotency.once(handler, argument="request", key="id", seconds=IDEMPOTENCY_SECONDS,
                                         key_prefix=f"aidlc-slack-{kind}")
            for kind, handler in (("events", self._event), ("commands", self._command),
                                  ("interactivity", self._interaction))
        }

    def register_lambda_context(self, context: Any) -> None:
        self._idempotency.register_lambda_context(context)

    @property
    def notifier(self) -> SlackNotifier | None:
        return self._notifier()

    # --- the request ------------------------------------------------------------------------------------------

    def handle(self, kind: Kind, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        if len(body) > MAX_WEBHOOK_BODY_BYTES:
            return error_reply(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body is {len(body)} bytes; the limit is 256 KiB")
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        refused = self._verify(body, headers)
        if refused is not None:
            return refused
        text = body.decode("utf-8")  # _verify made sure it decodes
        parsed = {"events": _events_request, "commands": _command_request,
                  "interactivity": _interaction_request}[kind](text)
        if isinstance(parsed, HttpReply):
            return parsed
        if parsed.get("challenge") is not None:
            return HttpReply(200, {"challenge": parsed["challenge"]})
        if parsed.get("ignored"):
            return HttpReply(200, {"status": "ignored", "reason": parsed["ignored"]})
        if headers.get("x-slack-retry-num"):
            log.info("Slack retry %s (%s)", headers["x-slack-retry-num"], headers.get("x-slack-retry-reason", ""))
        try:
            result = self._once[kind](request=parsed)
        except IdempotencyAlreadyInProgressError:
            # The first delivery is being handled now; it will answer in the thread, this one must not.
            return HttpReply(200, {"status": "in_progress"})
        return HttpReply(result.get("status_code", 200), result["body"])

    def _verify(self, body: bytes, headers: Mapping[str, str]) -> HttpReply | None:
        timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        if not timestamp or not signature:
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "missing X-Slack-Request-Timestamp or X-Slack-Signature")
        if not timestamp.isdigit() or len(timestamp) > 12:
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "X-Slack-Request-Timestamp is not a Unix time")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return error_reply(400, ErrorCode.INVALID_REQUEST, "body is not UTF-8")
        secret = self._signing_secret()
        if not secret or not secret.strip():
            log.error("no Slack signing secret is stored; every Slack request is refused")
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "no Slack signing secret is configured")
        verifier = SignatureVerifier(secret, clock=_Clock(self.clock))  # HMAC-SHA256, constant-time compare, 5-minute window
        if abs(self.clock() - int(timestamp)) > 60 * 5:
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "stale X-Slack-Request-Timestamp (over 5 minutes)")
        if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "bad X-Slack-Signature")
        return None

    # --- events -----------------------------------------------------------------------------------------------

    def _event(self, request: dict) -> dict:
        event = request["event"]
        notifier = self.notifier
        if notifier is None:
            return {"body": {"status": "ignored", "reason": "no Slack bot token is configured"}}
        me = notifier.identity()
        if event.get("user") == me.get("user_id"):
            return {"body": {"status": "ignored", "reason": "our own message"}}
        channel, user = event.get("channel"), event.get("user")
        if not isinstance(channel, str) or not channel or not isinstance(user, str) or not user:
            return {"body": {"status": "ignored", "reason": "no channel or user"}}
        thread = event.get("thread_ts") or event.get("ts")
        text = str(event.get("text") or "")
        route = commands.route(text, self.registry)
        answer = self._act(route, channel=channel, user=user, thread_ts=thread, request_id=request["id"])
        if answer.opened_thread is None:
            safe(notifier.say, channel, thread, answer.text)
        return {"body": {"status": answer.status, **answer.fields}}

    # --- slash commands ---------------------------------------------------------------------------------------

    def _command(self, request: dict) -> dict:
        if request["command"] != SLASH_COMMAND:
            return {"body": ephemeral(f"aidlc answers {SLASH_COMMAND} only, not {request['command'][:40]}").body}
        route = commands.route(request["text"], self.registry)
        answer = self._act(route, channel=request["channel_id"], user=request["user_id"], thread_ts=None,
                           request_id=request["id"])
        return {"body": {**ephemeral(answer.text).body, "status": answer.status, **answer.fields}}

    def _act(self, route: commands.Route, *, channel: str, user: str, thread_ts: str | None,
             request_id: str) -> "Answer":
        if isinstance(route, commands.Help):
            return Answer("help", route.text)
        if isinstance(route, commands.NotUnderstood):
            return Answer("not_understood", f"{route.text} ({route.reason})")
        if isinstance(route, (commands.Onboard, commands.Provision, commands.Resume)) or (
                isinstance(route, (commands.Status, commands.Cancel)) and self.workflows is not None
                and self.workflows.owns(route.workflow_id)):
            if self.workflows is None:
                return Answer("refused", "the onboarding workflows are not configured here")
            status, text, fields = self.workflows.act(route, channel=channel, user=user)
            return Answer(status, text, fields)
        if isinstance(route, commands.Status):
            return Answer("status", self.control.status_text(route.workflow_id))
        if isinstance(route, commands.Cancel):
            return Answer("cancel", self.control.cancel(route.workflow_id, user))
        assert isinstance(route, commands.RunAgent)
        origin = SlackOrigin(channel=channel, thread_ts=thread_ts, user=user, stakeholders=list(route.stakeholders))
        started = self.start_run(route, origin, request_id)
        if isinstance(started, Refusal):
            return Answer("refused", started.text)
        return started

    def start_run(self, route: commands.RunAgent, origin: SlackOrigin, request_id: str) -> "Answer | Refusal":
        """Read the story, find its project, open the workflow's thread, enqueue the same task as the Notion door."""
        from runtime.notion.errors import NotionError

        try:
            page = self._notion().retrieve_page(route.page_id)
        except NotionError as exc:
            return Refusal(f"I cannot read that Notion story ({type(exc).__name__}); is it shared with the integration?")
        project = self.projects.resolve(*parent_ids(page))
        if project is None:
            return Refusal("That story is not in a project's stories database.")
        spec = self.registry.get(route.agent_type)
        invocation_id = invocation_id_for(route.page_id, f"slack:{request_id}:{spec.name}", None)
        snapshot = self._notion().page_snapshot(page)
        origin = origin.model_copy(update={"workflow_id": invocation_id})
        text = (f"<@{origin.user}> started `{spec.name}` on <{route.story_url}|{_plain(snapshot.title)}> — "
                f"workflow `{invocation_id}`")
        opened = None
        notifier = self.notifier
        if notifier is not None:
            if origin.thread_ts is None:
                opened = safe(notifier.open_thread, origin.channel, text, key=f"{invocation_id}:-:requested")
                origin = origin.model_copy(update={"thread_ts": opened})
            else:
                opened = safe(notifier.say, origin.channel, origin.thread_ts, text)
        message = build_message(project, agent_type=spec.name, trigger=spec.triggers[0], snapshot=snapshot,
                                invocation_id=invocation_id, page_id=route.page_id)
        self.queue.publish(message.model_copy(update={"slack": origin}))
        log.info("Slack started %s on page %s", spec.name, route.page_id, extra={"invocation_id": invocation_id})
        return Answer("enqueued", f"Started `{spec.name}` — workflow `{invocation_id}`; follow it in the thread.",
                      {"invocation_id": invocation_id, "agent_type": spec.name, "thread_ts": origin.thread_ts},
                      opened_thread=opened)

    # --- buttons ----------------------------------------------------------------------------------------------

    def _interaction(self, request: dict) -> dict:
        action, user, value = request["action_id"], request["user"], request["value"]
        if value.get("kind") == "provisioning" and self.workflows is not None:  # a change set's approval
            answer = self.workflows.button(workflow_id=value["workflow_id"], approved=action == APPROVE_ACTION,
                                           user=user)
            notifier = self.notifier
            if answer["status"] != "refused" and notifier is not None and request["channel"] and request["message_ts"]:
                safe(notifier.update, request["channel"], request["message_ts"],
                     decided(request.get("message_text", ""), action == APPROVE_ACTION, user))
            return {"body": answer}
        project = self.projects.get(value["project_id"]) if value.get("project_id") else None
        approvers = project.approvers if project else []
        notifier = self.notifier
        channel, ts = request["channel"], request["message_ts"]
        if user not in approvers:
            text = f"<@{user}> is not an approver for this workflow; nothing was decided."
            if notifier is not None and channel:
                safe(notifier.say, channel, request.get("thread_ts") or ts, text)
            return {"body": {"status": "refused", "reason": "not an approver"}}
        approved = action == APPROVE_ACTION
        first = self.approvals.decide(workflow_id=value["workflow_id"], step=value.get("step", ""),
                                      approved=approved, user=user)
        if not first:
            return {"body": {"status": "already_decided"}}
        if notifier is not None and channel and ts:
            safe(notifier.update, channel, ts, decided(request.get("message_text", ""), approved, user))
        return {"body": {"status": "approved" if approved else "rejected", "workflow_id": value["workflow_id"]}}


class _Clock(Clock):
    """slack_sdk's clock, from our injectable time source (tests move time; Lambda uses time.time)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


@dataclass
class Answer:
    status: str
    text: str
    fields: dict[str, Any] | None = None
    opened_thread: str | None = None

    def __post_init__(self) -> None:
        self.fields = self.fields or {}


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "/")[:200]


# --- request shapes (pure) ------------------------------------------------------------------------------------


def _bad(message: str) -> HttpReply:
    return error_reply(400, ErrorCode.INVALID_REQUEST, message)


def _events_request(text: str) -> dict | HttpReply:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return _bad(f"body is not valid JSON: {exc.msg}")
    if not isinstance(payload, dict):
        return _bad("body must be a JSON object")
    kind = payload.get("type")
    if kind == "url_verification":
        if not isinstance(payload.get("challenge"), str) or not payload["challenge"]:
            return _bad("url_verification needs a challenge string")
        return {"challenge": payload["challenge"]}
    if kind != "event_callback":
        return {"ignored": f"request type {str(kind)[:40]!r} starts nothing"}
    event, event_id = payload.get("event"), payload.get("event_id")
    if not isinstance(event, dict) or not isinstance(event_id, str) or not event_id:
        return _bad("an event_callback needs an event object and an event_id")
    if event.get("type") not in HANDLED_EVENTS:
        return {"ignored": f"event type {str(event.get('type'))[:40]!r} starts nothing"}
    # Cheap refusals before the idempotency write: any bot's message (ours included: no loops), edits, and channel
    # chatter that does not mention us (that arrives as app_mention).
    if event.get("bot_id") or event.get("subtype"):
        return {"ignored": "a bot's message, or an edit"}
    if event.get("type") == "message" and event.get("channel_type") != "im":
        return {"ignored": "a channel message that does not mention aidlc"}
    return {"id": event_id, "event": event}


def _form(text: str) -> dict[str, str] | HttpReply:
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=200)
    except ValueError as exc:
        return _bad(f"body is not form-encoded: {exc}")
    return {key: values[0] for key, values in fields.items()}


def _command_request(text: str) -> dict | HttpReply:
    form = _form(text)
    if isinstance(form, HttpReply):
        return form
    missing = [name for name in ("command", "user_id", "channel_id", "trigger_id") if not form.get(name)]
    if missing:
        return _bad(f"a slash command needs {', '.join(missing)}")
    return {"id": form["trigger_id"], "command": form["command"], "text": form.get("text", ""),
            "user_id": form["user_id"], "channel_id": form["channel_id"]}


def _interaction_request(text: str) -> dict | HttpReply:
    form = _form(text)
    if isinstance(form, HttpReply):
        return form
    try:
        payload = json.loads(form.get("payload") or "")
    except json.JSONDecodeError:
        return _bad("an interaction needs a JSON `payload` form field")
    if not isinstance(payload, dict):
        return _bad("payload must be a JSON object")
    if payload.get("type") != "block_actions":
        return {"ignored": f"interaction type {str(payload.get('type'))[:40]!r} starts nothing"}
    actions, user = payload.get("actions"), payload.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict) \
            or not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return _bad("block_actions needs actions and a user")
    action = actions[0]
    if action.get("action_id") not in (APPROVE_ACTION, REJECT_ACTION):
        return {"ignored": "not an aidlc button"}
    try:
        value = json.loads(action.get("value") or "")
    except (json.JSONDecodeError, TypeError):
        return _bad("the button's value is not ours")
    if not isinstance(value, dict) or not isinstance(value.get("workflow_id"), str) \
            or not isinstance(value.get("project_id", ""), str) or not isinstance(value.get("step", ""), str):
        return _bad("the button's value is not ours")
    trigger_id = payload.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        return _bad("block_actions needs a trigger_id")
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    return {
        "id": trigger_id,
        "action_id": action["action_id"],
        "value": value,
        "user": user["id"],
        "channel": str(container.get("channel_id") or channel.get("id") or ""),
        "message_ts": str(container.get("message_ts") or message.get("ts") or ""),
        "thread_ts": str(message.get("thread_ts") or ""),
        "message_text": str(message.get("text") or ""),
    }


# --- the default ports ---------------------------------------------------------------------------------------


class PipelineControl:
    """Status and cancel over the invocation records and the internal API's cancel (who may cancel: the person
    who asked, or one of the project's approvers)."""

    def __init__(self, invocations: Any, api: Callable[[], Any], projects: ProjectLookup) -> None:
        self.invocations = invocations
        self._api = api
        self.projects = projects

    def status_text(self, workflow_id: str) -> str:
        stored = self.invocations.get(workflow_id)
        if stored is None:
            return f"No workflow `{workflow_id}`."
        record = stored.record
        lines = [f"Workflow `{workflow_id}`: `{record.agent_type}` is *{record.status.value}*"]
        lines += [f"• <{a.url}|{_plain(a.title)}>" for a in record.output_artifacts]
        if record.error_code:
            lines.append(f"Error: {record.error_code.value}: {_plain(record.error_detail or '')}")
        return "\n".join(lines)

    def cancel(self, workflow_id: str, user: str) -> str:
        stored = self.invocations.get(workflow_id)
        if stored is None:
            return f"No workflow `{workflow_id}`."
        record = stored.record
        origin = (record.input_context or {}).get("slack") or {}
        project = self.projects.get(record.project_id)
        if user != origin.get("user") and user not in (project.approvers if project else []):
            return "Only the person who started a workflow, or a project approver, can cancel it."
        try:
            self._api().cancel(workflow_id)
        except AidlcError as exc:
            return f"Not cancelled: {exc.message}"
        return f"Workflow `{workflow_id}` cancelled."


class ClaimedApprovals:
    """First decision wins: a conditional put in the idempotency table. The workflow that asked reads it (or a
    workflow engine's callback replaces this port)."""

    def __init__(self, table: str, client: Any, clock: Callable[[], float] = time.time) -> None:
        self.table, self.client, self.clock = table, client, clock

    def decide(self, *, workflow_id: str, step: str, approved: bool, user: str) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"id": {"S": f"aidlc-slack-approval#{workflow_id}#{step}"},
                      "expiration": {"N": str(int(self.clock()) + 90 * 24 * 3600)},
                      "approved": {"BOOL": approved}, "user": {"S": user}},
                ConditionExpression="attribute_not_exists(id)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def decision(self, workflow_id: str, step: str) -> dict | None:
        item = self.client.get_item(TableName=self.table,
                                    Key={"id": {"S": f"aidlc-slack-approval#{workflow_id}#{step}"}}).get("Item")
        return {"approved": item["approved"]["BOOL"], "user": item["user"]["S"]} if item else None

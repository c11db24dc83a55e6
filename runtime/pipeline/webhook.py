"""The Notion webhook: from one HTTP delivery to at most one task on the queue.

    verification POST   -> store Notion's verification_token (only while none is stored), 200
    automation event    -> shared secret header, the page is in the body
    integration event   -> HMAC signature, fetch the page (events carry property ids, not values)
    then: drop our own edits -> project by data source -> agent by trigger value -> enqueue once -> 200
    a row of the Projects data source -> validated and synced to the projects table (runtime/pipeline/project_sync.py)

Everything that is refused is refused before anything is stored or sent. Only fetch and enqueue happen here, so
Notion (and API Gateway's 30 s) get their answer quickly; the agent starts in the orchestrator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from ulid import ULID

from runtime.errors import ErrorCode, ErrorResponse
from runtime.lazy import given_or_built
from runtime.models import ProjectConfig, QueueMessage
from runtime.observe.trace import bind_invocation
from runtime.pipeline.common import UsesRegistry, parse_time
from runtime.pipeline.input_limits import (
    AutomationEvent,
    InputRejected,
    IntegrationEvent,
    NotionIdCheck,
    VerificationRequest,
    load_json,
    validated,
)
from runtime.pipeline.ports import (
    NotionPort,
    SecretStore,
    TaskPublisher,
    choice_value,
    last_editor_id,
    parent_ids,
    same_id,
)
from runtime.pipeline.settings import MAX_WEBHOOK_BODY_BYTES
from runtime.pipeline.state.projects import ProjectRepository, projects_read_once
from runtime.resources import Header

log = logging.getLogger(__name__)

ACCEPTED_EVENT_TYPES = frozenset({"page.properties_updated", "page.created"})
NOTION_COMMENT_EVENT = "comment.created"  # feedback on a story (runtime/pipeline/feedback.py)
# Page events the content sync hears about (a deleted page leaves the knowledge base when its sync finds it gone).
KB_SYNC_EVENT_TYPES = frozenset({"page.created", "page.properties_updated", "page.content_updated", "page.moved",
                                 "page.deleted", "page.undeleted"})
# API Gateway (payload 2.0) hands the handler lower-cased header names.
SIGNATURE_HEADER = Header.NOTION_SIGNATURE.lower()
AUTOMATION_HEADER = Header.AUTOMATION_SECRET.lower()
# Notion retries a delivery up to 8 times over about 24 h; remember what we saw a little longer than that.
IDEMPOTENCY_SECONDS = 26 * 3600


@dataclass
class HttpReply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def error_reply(status: int, code: ErrorCode, message: str) -> HttpReply:
    return HttpReply(status, ErrorResponse.of(code, message).model_dump(mode="json"))


def notion_signature(body: bytes, verification_token: str) -> str:
    """The `X-Notion-Signature` value Notion sends for `body`."""
    return "sha256=" + hmac.new(verification_token.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, verification_token: str) -> bool:
    # As bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, once a 500). Lower case: a hex
    # digest is the same number in either case, and the comparison stays constant-time.
    return bool(header) and hmac.compare_digest(notion_signature(body, verification_token).encode(),
                                                header.strip().lower().encode("utf-8", "surrogatepass"))


def decode_body(event_body: str | None, is_base64: bool) -> bytes:
    """API Gateway sends binary (and sometimes JSON) bodies base64-encoded; the signature is over the raw bytes."""
    if event_body is None:
        return b""
    return base64.b64decode(event_body) if is_base64 else event_body.encode("utf-8")


def invocation_id_for(page_id: str, trigger: str, last_edited_time: str | None, salt: str = "") -> str:
    """A ULID derived from the story, its trigger value and the edit that set it: the webhook (whichever event or
    channel reported the edit) and the reconcile sweeper name the same run the same, so it is created once (the
    orchestrator's put-if-absent), long after SQS's 5-minute deduplication window.

    Notion rounds `last_edited_time` to the minute, so a person who sets the trigger again within the minute of
    the last run's write-back makes an edit that looks the same. The webhook lets that event through (its story key
    includes the Notion event id), and the orchestrator, finding the named run already finished before the message
    was sent, gives the re-trigger its own id with a `salt` (see `orchestrator.is_retrigger`)."""
    key = f"{page_id.replace('-', '')}|{trigger}|{last_edited_time or ''}" + (f"|{salt}" if salt else "")
    digest = hashlib.sha256(key.encode()).digest()
    when = parse_time(last_edited_time) or datetime.now(timezone.utc)
    millis = int(when.timestamp() * 1000)
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + digest[:10]))


class WebhookService(UsesRegistry):
    def __init__(
        self,
        *,
        notion: Callable[[], NotionPort],
        projects: ProjectRepository,
        queue: TaskPublisher,
        secrets: SecretStore,
        webhook_secret_id: str,
        automation_secret_id: str,
        idempotency_table: str,
        dynamodb_client: Any | None = None,
        registry: Any | None = None,
        kb_sync: Callable[[str], None] | None = None,
        invocations: Any | None = None,
        invoker: Callable[[], Any] | None = None,
    ) -> None:
        self._notion_factory = notion
        self.invocations = invocations  # a comment re-runs the story's last run; None: comments start nothing
        self._invoker = invoker  # stops a run a status change cancels (runtime/pipeline/cancellation.py)
        self.kb_sync = kb_sync  # asks the content sync for a page (runtime/kb/sync.py); None: no knowledge base
        self.projects = projects
        self.queue = queue
        self.secrets = secrets
        self.webhook_secret_id = webhook_secret_id
        self.automation_secret_id = automation_secret_id
        self._registry = registry
        self._build_idempotency(idempotency_table, dynamodb_client)

    @given_or_built
    def notion(self) -> NotionPort:
        return self._notion_factory()

    @property
    def project_sync(self):
        from runtime.pipeline.project_sync import ProjectSync

        return ProjectSync(notion=self.notion, projects=self.projects, registry=self.registry)  # type: ignore[arg-type]

    def _build_idempotency(self, table: str, client: Any | None) -> None:
        from runtime.pipeline.adapters.idempotency import Idempotency

        self._idempotency = Idempotency(table, client)
        self._once_per_event = self._idempotency.once(
            self._handle_integration_event, argument="event", key="event_id", seconds=IDEMPOTENCY_SECONDS,
            key_prefix="aidlc-webhook-event")
        # The story record: for the pages that come without an event record (automations, the reconcile sweeper).
        self._enqueue_once = self._idempotency.once(
            self._enqueue, argument="story", key="[page_id, trigger, last_edited_time, event_id]",
            seconds=IDEMPOTENCY_SECONDS, key_prefix="aidlc-webhook-story")

    def register_lambda_context(self, context: Any) -> None:
        self._idempotency.register_lambda_context(context)

    # --- the delivery ----------------------------------------------------------------------------------------

    def handle(self, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        with projects_read_once():  # one delivery reads its project once, however many steps ask
            return self._handle(body, headers)

    def _handle(self, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        headers = {k.lower(): v for k, v in headers.items()}
        if len(body) > MAX_WEBHOOK_BODY_BYTES:
            return error_reply(413, ErrorCode.PAYLOAD_TOO_LARGE, f"body is {len(body)} bytes; the limit is 256 KiB")
        try:
            if AUTOMATION_HEADER in headers:
                return self._automation(body, headers[AUTOMATION_HEADER])
            if SIGNATURE_HEADER in headers:
                return self._integration(body, headers[SIGNATURE_HEADER])
            payload = load_json(body)
            if "verification_token" in payload:
                return self._verification(validated(VerificationRequest, payload, "the verification request"))
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "missing X-Notion-Signature header")
        except InputRejected as exc:
            # Bad input is answered before anything is stored or sent, with what to fix.
            return error_reply(exc.status, exc.code, exc.message)
        except IdempotencyAlreadyInProgressError:
            # Another delivery of the same event is being handled right now; it will enqueue, this one must not.
            return HttpReply(200, {"status": "in_progress"})

    def _verification(self, request: VerificationRequest) -> HttpReply:
        token = request.verification_token
        # Accept the token only while none is stored: otherwise anyone could post a token of their own and sign
        # events with it. Re-subscribing means resetting the secret first (see the README).
        if self.secrets.get(self.webhook_secret_id):
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "a verification token is already stored")
        self.secrets.put(self.webhook_secret_id, token)
        log.info("Notion webhook verification token received and stored")
        return HttpReply(200, {"status": "verified"})

    def _automation(self, body: bytes, presented: str) -> HttpReply:
        expected = self.secrets.get(self.automation_secret_id)
        if not expected or not hmac.compare_digest(expected.encode(), (presented or "").encode("utf-8", "surrogatepass")):
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "bad automation secret")
        payload = load_json(body)
        # The page object in `data` must have the types the pipeline reads (source.type "automation", data.id a
        # Notion id, each property value shaped as Notion sends it).
        validated(AutomationEvent, payload, "the automation event")
        from runtime.notion.errors import NotionError

        try:  # Notion read the page before it sent it; its arrival is the latest that read can have been
            return self.from_page(payload["data"], event_id=str((payload.get("source") or {}).get("event_id") or ""),
                                  read_at=datetime.now(timezone.utc))
        except NotionError as exc:
            if exc.status not in (400, 403, 404):
                raise
            raise InputRejected(422, "the page in 'data' is not one the integration can read; share the stories "
                                     "database with the integration") from None

    def _integration(self, body: bytes, signature: str) -> HttpReply:
        token = self.secrets.get(self.webhook_secret_id)
        if not token or not signature_matches(body, signature, token):
            return error_reply(401, ErrorCode.INVALID_WEBHOOK, "bad X-Notion-Signature")
        payload = validated(IntegrationEvent, load_json(body), "the Notion event")
        event_type = payload.type
        bot_id = self.notion.me().get("id")
        # Our own edits (write-backs, agents' pages) ask for no content sync: they would double the Notion traffic
        # (3 requests a second for everything) to re-read what we wrote; POST /sync/* syncs such a page on request.
        ours = bool(payload.authors) and all(same_id(author.id, bot_id) for author in payload.authors)
        if self.kb_sync is not None and not ours and event_type in KB_SYNC_EVENT_TYPES and payload.entity is not None \
                and payload.entity.type == "page" and payload.page_id():
            self._ask_kb_sync(str(payload.page_id()))
        if event_type == NOTION_COMMENT_EVENT and self.invocations is not None:
            return self._comment(payload, ours)
        if event_type not in ACCEPTED_EVENT_TYPES or payload.entity is None or payload.entity.type != "page":
            log.debug("ignoring Notion event of type %s", event_type)
            return HttpReply(200, {"status": "ignored", "reason": f"event type {event_type!r} starts nothing"})
        page_id = payload.page_id()
        if page_id is None:
            raise InputRejected(422, "entity.id is not a Notion page id (32 hexadecimal digits)")
        # Notion aggregates edits made close together into one event with several authors: drop it only when every
        # author is this integration, or a person's trigger inside the same event would be lost.
        if ours:
            log.info("ignoring an event our own integration caused")
            return HttpReply(200, {"status": "ignored", "reason": "caused by this integration"})
        # Typed by IntegrationEvent (parent ids are strings, updated_properties a list of them).
        data = payload.data.model_dump(exclude_none=True) if payload.data else {}
        parent = data.get("parent") if isinstance(data.get("parent"), dict) else {}
        if parent.get("type") in ("database", "data_source") or parent.get("data_source_id"):
            # The event names the page's data source: a page outside every project is not worth fetching (a row
            # of the Projects data source is: it configures a project).
            database_id = parent.get("id") if parent.get("type") == "database" else None
            if not same_id(parent.get("data_source_id"), self.projects.projects_data_source_id) and \
                    self.projects.resolve(parent.get("data_source_id"), database_id) is None:
                log.info("ignoring an event for a data source that belongs to no project")
                return HttpReply(200, {"status": "ignored", "reason": "no project for this data source"})
        elif parent.get("type") in ("page", "space", "block", "team", "agent"):
            return HttpReply(200, {"status": "ignored", "reason": "the page is not in a data source"})
        event = {"event_id": payload.id, "page_id": page_id}
        if event_type == "page.properties_updated" and isinstance(data.get("updated_properties"), list):
            event["updated_properties"] = [str(item) for item in data["updated_properties"]]
        result = self._once_per_event(event=event)
        return HttpReply(result["status_code"], result["body"])

    def _comment(self, payload: IntegrationEvent, ours: bool) -> HttpReply:
        """A comment on a story: feedback for its last run when it mentions the integration (the rules are in
        runtime/pipeline/feedback.py); once per event, like a page event."""
        page_id = str((payload.data.model_dump() if payload.data else {}).get("page_id") or "")
        if ours or payload.entity is None or payload.entity.type != "comment":
            return HttpReply(200, {"status": "ignored", "reason": "not a person's comment"})
        try:
            NotionIdCheck.model_validate({"id": page_id})
        except ValueError:
            raise InputRejected(422, "data.page_id is not a Notion page id (32 hexadecimal digits)") from None
        result = self._once_per_event(event={"event_id": payload.id, "comment_id": payload.entity.id,
                                             "page_id": page_id})
        return HttpReply(result["status_code"], result["body"])

    @property
    def feedback(self):
        from runtime.pipeline.feedback import FeedbackService

        return FeedbackService(invocations=self.invocations, projects=self.projects, queue=self.queue,
                               registry=self.registry, notion=lambda: self.notion)

    def _ask_kb_sync(self, page_id: str) -> None:
        """One message on the kb-sync queue (the sync function fetches and compares; nothing runs in the webhook's
        3 s). Whatever our own integration edited too: the knowledge base should hold the write-back. A failure is
        logged, never the delivery's: the knowledge base must not hold up a story's run."""
        try:
            self.kb_sync(page_id)  # type: ignore[misc]
        except Exception:
            log.exception("could not ask the content sync for page %s", page_id)

    def _handle_integration_event(self, event: dict) -> dict:
        from runtime.notion.errors import NotionError

        if "comment_id" in event:
            return self.feedback.notion_comment(event)
        read_at = datetime.now(timezone.utc)  # before the request: the page is as it was at this instant or later
        try:
            page = self.notion.retrieve_page(event["page_id"])
        except NotionError as exc:
            if exc.status not in (400, 403, 404):
                raise  # an outage: answer 5xx so Notion delivers the event again
            # A page that does not exist or is not shared with the integration starts nothing; retrying can't help.
            log.info("ignoring an event for a page Notion does not give us (%s)", exc.status)
            return {"status_code": 200, "body": {"status": "ignored", "reason": "the page is not accessible"}}
        if "updated_properties" in event and not self._trigger_changed(page, event["updated_properties"]):
            # Another property of a story sitting in a trigger status changed: that starts no second run.
            return {"status_code": 200, "body": {"status": "ignored", "reason": "the trigger property did not change"}}
        # Already inside this event's once-per-event record, whose key the story record's would only repeat.
        reply = self.from_page(page, event_id=event["event_id"], read_at=read_at,
                               status_changed="updated_properties" in event, event_recorded=True)
        return {"status_code": reply.status, "body": reply.body}

    def _trigger_changed(self, page: dict, updated_properties: list[str]) -> bool:
        """Whether the project's trigger property is among the changed ones (events name properties by id)."""
        project = self.projects.resolve(*parent_ids(page))
        prop = (page.get("properties") or {}).get(project.trigger_property) if project else None
        if not isinstance(prop, dict) or not prop.get("id"):
            return True  # nothing to compare with: let from_page decide
        changed = {unquote(str(item)) for item in updated_properties}
        return unquote(str(prop["id"])) in changed

    # --- from a page to a task (shared with the reconcile sweeper) ------------------------------------------

    def from_page(self, page: dict, *, event_id: str = "", read_at: datetime | None = None,
                  status_changed: bool = False, event_recorded: bool = False) -> HttpReply:
        """The task for `page`, if its trigger status starts one; `event_id` names the Notion event that said so
        (see `invocation_id_for`), `read_at` when `page` was read (see `orchestrator.is_retrigger`).
        `status_changed`: a person's event said the trigger property changed, which may cancel the story's run.
        `event_recorded`: the caller runs inside a once-per-event record for `event_id` (the signed integration
        event), so a story record keyed on the same event would cost two more DynamoDB requests and stop nothing
        (a redelivery is stopped by the event record; another event for the story has another key either way, and
        its run is created once by the orchestrator's put-if-absent on the invocation id)."""
        page_id = page["id"]
        if same_id(parent_ids(page)[0], self.projects.projects_data_source_id):
            # A Projects row: its configuration is synced whoever edited last (the sync compares content, and
            # our own month-to-date cost write may follow a person's edit within the minute).
            outcome = self.project_sync.sync_row(page)
            return HttpReply(200, outcome.as_dict())
        if status_changed:
            # Before the last-editor check: the event's authors were people, and our own progress writes to the
            # story may have come after their edit.
            self._cancel_on_status_change(page)
        if same_id(last_editor_id(page), self.notion.me().get("id")):
            log.info("ignoring page %s: last edited by this integration", page_id)
            return HttpReply(200, {"status": "ignored", "reason": "last edited by this integration"})
        project = self.projects.resolve(*parent_ids(page))
        if project is None:
            log.info("ignoring page %s: its data source belongs to no project", page_id)
            return HttpReply(200, {"status": "ignored", "reason": "no project for this data source"})
        trigger = choice_value(page, project.trigger_property)
        try:
            spec = self.registry.agent_for_trigger(trigger, project.trigger_map)
        except KeyError as exc:
            log.warning("project %s has a bad trigger_map: %s", project.project_id, exc)
            spec = None
        if spec is None:
            log.debug("page %s: %s=%r is not a trigger", page_id, project.trigger_property, trigger)
            return HttpReply(200, {"status": "ignored", "reason": f"{trigger!r} is not a trigger value"})
        assert trigger is not None
        enqueue = self._enqueue if event_recorded else self._enqueue_once
        result = enqueue(
            story={
                "page_id": page_id,
                "trigger": trigger,
                "last_edited_time": page.get("last_edited_time") or "",
                "event_id": event_id,
                "read_at": read_at.isoformat() if read_at else "",
                "agent_type": spec.name,
                "project_id": project.project_id,
                "page": page,
            }
        )
        return HttpReply(200, {"status": "enqueued", **result})

    def _cancel_on_status_change(self, page: dict) -> None:
        if self.invocations is None:
            return
        from runtime.pipeline.cancellation import Cancellation

        project = self.projects.resolve(*parent_ids(page))
        if project is None:
            return
        Cancellation(invocations=self.invocations, projects=self.projects, invoker=self._invoker).on_status_change(
            page["id"], choice_value(page, project.trigger_property), project)

    def _enqueue(self, story: dict) -> dict:
        project = self.projects.get(story["project_id"])
        assert project is not None
        invocation_id = invocation_id_for(story["page_id"], story["trigger"], story["last_edited_time"])
        with bind_invocation(invocation_id):  # the snapshot's and the enqueue's calls count for it (observe/trace.py)
            message = build_message(
                project,
                agent_type=story["agent_type"],
                trigger=story["trigger"],
                snapshot=self.notion.page_snapshot(story["page"]),
                invocation_id=invocation_id,
                page_id=story["page_id"],
                story_read_at=parse_time(story.get("read_at")),
            )
            self.queue.publish(message)
        log.info("enqueued %s for page %s", message.agent_type, message.notion_page_id,
                 extra={"invocation_id": message.invocation_id})
        return {"invocation_id": message.invocation_id, "agent_type": message.agent_type}


def build_message(
    project: ProjectConfig,
    *,
    agent_type: str,
    trigger: str,
    snapshot: Any,
    invocation_id: str,
    page_id: str,
    parent_invocation_id: str | None = None,
    chain_context: dict | None = None,
    story_read_at: datetime | None = None,
) -> QueueMessage:
    if not snapshot.page_id:
        snapshot = snapshot.model_copy(update={"page_id": page_id})
    return QueueMessage(
        invocation_id=invocation_id,
        workspace_id=project.workspace_id,
        notion_page_id=page_id,
        agent_type=agent_type,
        trigger_value=trigger,
        project_id=project.project_id,
        page_snapshot=snapshot,
        parent_invocation_id=parent_invocation_id,
        chain_context=chain_context or {},
        story_read_at=story_read_at,
    )

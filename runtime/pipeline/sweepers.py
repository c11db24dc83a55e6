"""The scheduled jobs: what webhooks alone can't guarantee.

- reconcile: Notion delivers webhooks at most once, so first sync the Projects rows (an edit whose webhook never
  came is applied or refused; each row's month-to-date cost written back: runtime/pipeline/project_sync.py), then
  look for stories sitting in a trigger status with no invocation since their last edit, and enqueue them (under the
  same derived invocation id the webhook would have used, so a run both see is created once);
- timeouts: runs still `running` past their plugin's timeout -> AGENT_TIMEOUT, session stopped, Notion told; and
  runs whose agent sent no heartbeat for `silent_after` (it died or hung) -> AGENT_ERROR the same way, within
  minutes rather than at the timeout;
- budget alerts: at 80 % of the monthly limit a Notion notification to the project owner, at 100 % another (the
  reservation's condition already refuses new runs then).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from runtime.errors import ErrorCode
from runtime.models import Heartbeat, InvocationStatus, ProjectConfig
from runtime.pipeline.state.invocations import InvocationRepository
from runtime.pipeline.ports import AgentInvoker
from runtime.pipeline.state.ledger import DELIVERY_CLAIM
from runtime.pipeline.ports import NotionPort, choice_value, last_editor_id, same_id
from runtime.pipeline.orchestrator import tell_notion
from runtime.pipeline.state.projects import ProjectRepository
from runtime.pipeline.ports import TaskPublisher
from runtime.pipeline.webhook import build_message, invocation_id_for
from runtime.pipeline.writeback import NotionWriteBack
from runtime.pipeline.common import RunService, parse_time

log = logging.getLogger(__name__)

TIMEOUT_GRACE = timedelta(seconds=60)  # the agent's own timeout fires first and reports; this is the backstop
ALERT_LEVELS = ((Decimal("1"), "alert_100"), (Decimal("0.8"), "alert_80"))
# The agent app beats every 30 s (runtime.agent.app); four missed beats in a row is a dead or hung agent.
SILENT_AFTER = timedelta(seconds=120)
HEARTBEAT_AT = "heartbeat_at"
PROGRESS = "progress"  # the last progress a running run's beat carried (runtime.models.RunProgress)


# Reconcile is for webhooks that never came. Notion delivers within seconds, usually; a story edited less than this
# long ago (edit times are rounded down to the minute) is left to its webhook rather than raced.
RECONCILE_GRACE = timedelta(minutes=2)


class Sweepers(RunService):
    def __init__(
        self,
        *,
        invocations: InvocationRepository,
        projects: ProjectRepository,
        queue: Callable[[], TaskPublisher],  # built on first use: only reconcile publishes
        notion: Callable[[], NotionPort],
        writeback: Callable[[], NotionWriteBack | None],
        invoker: Callable[[], AgentInvoker],
        registry: Any | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        silent_after: timedelta | None = SILENT_AFTER,
    ) -> None:
        super().__init__(invocations=invocations, projects=projects, registry=registry)
        self._queue = queue
        self._notion = notion
        self._writeback = writeback
        self._invoker = invoker
        self.clock = clock
        self.silent_after = silent_after  # None: no liveness check (agents that send no heartbeat)

    # --- reconcile -----------------------------------------------------------------------------------------

    def reconcile(self, *, grace: timedelta | None = None) -> dict[str, Any]:
        """`grace`: how old a story's edit must be to count as missed (None: RECONCILE_GRACE)."""
        notion = self._notion()
        bot_id = notion.me().get("id")
        enqueued: list[str] = []
        checked = 0
        projects = self.sync_projects(notion)
        for project in self.projects.all():
            if not project.notion_data_source_id:
                continue
            # Wall time, not self.clock: it is compared with the runs' own times (orchestrator.is_retrigger).
            read_at = datetime.now(timezone.utc)
            for page in notion.query_data_source(project.notion_data_source_id):
                checked += 1
                invocation_id = self._missed(page, project, bot_id, grace)
                if invocation_id is None:
                    continue
                trigger = choice_value(page, project.trigger_property)
                spec = self.registry.agent_for_trigger(trigger, project.trigger_map)
                message = build_message(
                    project,
                    agent_type=spec.name,
                    trigger=trigger,
                    snapshot=notion.page_snapshot(page),
                    invocation_id=invocation_id,
                    page_id=page["id"],
                    story_read_at=read_at,
                )
                self._queue().publish(message)
                enqueued.append(invocation_id)
                log.info("reconcile: enqueued a missed story", extra={"invocation_id": invocation_id})
        return {"checked": checked, "enqueued": enqueued, "requeued": self.requeue_stranded(),
                "redelivered": self.redeliver(), **({"projects": projects} if projects else {})}

    def sync_projects(self, notion: NotionPort | None = None) -> dict[str, Any]:
        """The Projects rows (when the deployment has a Projects data source): missed edits, costs written back."""
        if not self.projects.projects_data_source_id:
            return {}
        from runtime.pipeline.project_sync import ProjectSync

        return ProjectSync(notion=notion or self._notion(), projects=self.projects,  # type: ignore[arg-type]
                           registry=self.registry).sync_all()

    def redeliver(self, *, max_attempts: int | None = None) -> list[str]:
        """Write-backs that still failed after their retries (a long Notion outage) are tried again on each
        sweep, so no status, comment or dashboard row is lost; the write-back looks up what a failed attempt may
        have created (by the invocation id it carries), so each is written once."""
        max_attempts = max_attempts or MAX_REDELIVERIES
        redelivered: list[str] = []
        client = self.invocations.client
        for stored in self.invocations.with_status([s.value for s in FINAL_STATUSES]):
            record = stored.record
            attempts = int(stored.raw.get(REDELIVERIES) or 0)
            if record.delivery_status != "failed" or attempts >= max_attempts:
                continue
            project = self.projects.get(record.project_id)
            if project is None:
                continue
            try:  # failed -> pending, once: another sweeper that got here first wins
                client.update_item(
                    TableName=self.invocations.table_name, Key=self.invocations.key(record.invocation_id),
                    UpdateExpression="SET #d = :pending, #n = :n REMOVE #c",
                    ConditionExpression="#d = :failed",
                    ExpressionAttributeNames={"#d": "delivery_status", "#n": REDELIVERIES, "#c": DELIVERY_CLAIM},
                    ExpressionAttributeValues={":pending": {"S": "pending"}, ":failed": {"S": "failed"},
                                               ":n": {"N": str(attempts + 1)}},
                )
            except client.exceptions.ConditionalCheckFailedException:
                continue
            if not self.ledger.claim_delivery(record.invocation_id):
                continue
            if tell_notion(self.invocations, self._writeback(), self.registry, record.invocation_id, project,
                           repeat=True):
                redelivered.append(record.invocation_id)
                log.info("re-delivered a write-back", extra={"invocation_id": record.invocation_id})
        return redelivered

    def requeue_stranded(self, *, older_than: timedelta | None = None) -> list[str]:
        """Runs left `queued` with no task on the queue (a message lost, dead-lettered or never sent) are sent
        again. SQS can't say whether a run's message is still in flight, so any run queued longer than a waiting
        task's longest deferral is re-sent, at most once per `older_than`: a second message for a run that is
        still waiting is harmless (the orchestrator starts a run once: put-if-absent, then a conditional hold)."""
        from runtime.models import PageSnapshot, QueueMessage

        older_than = older_than or STRANDED_AFTER
        now = self.clock()
        requeued: list[str] = []
        for stored in self.invocations.with_status([InvocationStatus.QUEUED.value]):
            record = stored.record
            last = parse_time(stored.raw.get(REQUEUED_AT)) or record.created_at
            if last + older_than > now:
                continue
            story = record.input_context.get("story") or {"title": record.notion_page_id}
            message = QueueMessage(
                invocation_id=record.invocation_id, workspace_id=record.workspace_id,
                notion_page_id=record.notion_page_id, agent_type=record.agent_type,
                trigger_value=record.trigger_value, project_id=record.project_id,
                page_snapshot=PageSnapshot.model_validate(story),
                parent_invocation_id=record.parent_invocation_id,
                chain_context=record.input_context.get("chain_context") or {},
            )
            self._queue().publish(message)
            self.invocations.update(record.invocation_id, {REQUEUED_AT: now.isoformat()})
            requeued.append(record.invocation_id)
            log.warning("reconcile: re-sent a run left queued", extra={"invocation_id": record.invocation_id})
        return requeued

    def _missed(self, page: dict, project: ProjectConfig, bot_id: str | None,
                grace: timedelta | None) -> str | None:
        """The invocation id to start for `page`, or None when it needs nothing."""
        trigger = choice_value(page, project.trigger_property)
        try:
            spec = self.registry.agent_for_trigger(trigger, project.trigger_map)
        except KeyError:
            return None
        if spec is None or same_id(last_editor_id(page), bot_id):
            return None
        edited = page.get("last_edited_time")
        edited_at = parse_time(edited)
        if edited_at is not None and self.clock() - edited_at < (RECONCILE_GRACE if grace is None else grace):
            return None  # its webhook is still on the way: starting it here too would race it into a second run
        invocation_id = invocation_id_for(page["id"], trigger, edited)
        if self.invocations.get(invocation_id) is not None:
            return None
        latest = self.invocations.latest_for_page(page["id"])
        if latest is not None and (edited_at is None or latest.created_at >= edited_at):
            return None
        if latest is not None and latest.trigger_value == trigger and \
                (not latest.status.is_final or latest.delivery_status == "pending"):
            # The story sits in this trigger because its run is still going (or not yet written back): a later
            # edit of another property is no missed trigger (the webhook drops those: `_trigger_changed`).
            return None
        return invocation_id

    # --- timeouts ------------------------------------------------------------------------------------------

    def timeouts(self, *, interrupted_before: datetime | None = None) -> dict[str, Any]:
        """Fail the runs past their time limit. `interrupted_before`: also fail, now, every run started before that
        instant (the local stack restarted after a crash: those runs' agents died with it), by the same path."""
        now = self.clock()
        timed_out: list[str] = []
        for stored in self.invocations.with_status([InvocationStatus.RUNNING.value]):
            record = stored.record
            try:
                limit = timedelta(seconds=self.registry.get(record.agent_type).limits.timeout_seconds)
            except KeyError:
                limit = timedelta(hours=8)
            interrupted = interrupted_before is not None and (record.started_at or now) < interrupted_before
            past_limit = record.started_at is not None and record.started_at + limit + TIMEOUT_GRACE <= now
            last_sign = parse_time(stored.raw.get(HEARTBEAT_AT)) or record.started_at
            silent = (self.silent_after is not None and last_sign is not None
                      and last_sign + self.silent_after <= now)
            if not (interrupted or past_limit or silent):
                continue
            if silent and not (interrupted or past_limit):
                code = ErrorCode.AGENT_ERROR
                detail = f"the agent sent no heartbeat for {int((now - last_sign).total_seconds())} s (it died or " \
                         f"hung); move the story to its trigger status again to run it again"
            elif interrupted:
                code = ErrorCode.AGENT_ERROR
                detail = "the local stack stopped while this run was running; move the story to its trigger " \
                         "status again to run it again"
            else:
                code = ErrorCode.AGENT_TIMEOUT
                detail = f"still running {int((now - record.started_at).total_seconds())} s after it started; " \
                         f"the limit is {int(limit.total_seconds())} s"
            if not self.ledger.finish(
                stored,
                {"status": InvocationStatus.FAILED.value, "error_code": code.value,
                 "error_detail": detail, "completed_at": now.isoformat()},
                from_statuses=[InvocationStatus.RUNNING],
            ):
                continue
            timed_out.append(record.invocation_id)
            if record.session_id:
                try:
                    self._invoker().stop(record.agent_type, record.session_id, endpoint=record.agent_endpoint)
                except Exception as exc:  # noqa: BLE001 - the run is already failed; a session left is AgentCore's to end
                    log.warning("could not stop session: %s", exc, extra={"invocation_id": record.invocation_id})
            project = self.projects.get(record.project_id)
            if project is not None and self.ledger.claim_delivery(record.invocation_id):
                tell_notion(self.invocations, self._writeback(), self.registry, record.invocation_id, project)
        return {"timed_out": timed_out}

    # --- budget alerts -------------------------------------------------------------------------------------

    def budget_alerts(self) -> dict[str, Any]:
        sent: list[dict[str, str]] = []
        for project in self.projects.all():
            budget = self.projects.budget(project.project_id)
            if project.cost_limit_per_month <= 0:
                continue
            share = budget.month_to_date / project.cost_limit_per_month
            for threshold, level in ALERT_LEVELS:
                if share < threshold:
                    continue
                if self.projects.mark_alert(project.project_id, budget.month, level):
                    self._alert(project, budget.month_to_date, share, level)
                    sent.append({"project_id": project.project_id, "level": level})
                break  # only the highest level reached
        return {"sent": sent}

    def _alert(self, project: ProjectConfig, spent: Decimal, share: Decimal, level: str) -> None:
        text = (
            f"Budget alert for project {project.project_id}: ${spent:.2f} spent this month, "
            f"{share * 100:.0f} % of the ${project.cost_limit_per_month} limit."
        )
        if level == "alert_100":
            text += " New agent runs are refused (BUDGET_EXCEEDED) until the limit is raised or the month ends."
        log.warning(text)
        if not project.dashboard_data_source_id:
            return
        notion = self._notion()
        row = notion.create_page(parent_data_source_id=project.dashboard_data_source_id,
                                 title=f"Budget alert: {share * 100:.0f} % of the monthly limit")
        notion.create_comment(row["id"], text, mention_user_ids=[project.owner_user_id] if project.owner_user_id else [])


def record_heartbeat(invocations: InvocationRepository, beat: Heartbeat,
                     writeback: Callable[[], NotionWriteBack | None] | None = None) -> bool:
    """Note that a running run's agent is alive. Only the session the orchestrator started is believed; a beat
    for a run that is no longer running changes nothing. False: not recorded.

    One conditional UpdateItem (no read first): the condition is the whole check (running, and the beat's session
    the record's or the record has none), so a beat costs the pipeline one DynamoDB request. A beat that carries
    the run's progress (the agent paces them: runtime.agent.app.BeatPacer) is kept on the record and, with a
    `writeback`, shown on the story: one Notion request more, for the page the update answered with."""
    fields = {PROGRESS: beat.progress.model_dump(mode="json")} if beat.progress is not None else None
    item = heartbeat_update(invocations, beat, fields)
    if item is None:
        return False
    notion = writeback() if writeback is not None and beat.progress is not None else None
    if notion is not None and item.get("notion_page_id"):
        notion.progress(str(item["notion_page_id"]), beat.progress)  # type: ignore[arg-type]
    return True


def heartbeat_update(invocations: InvocationRepository, beat: Heartbeat,
                     fields: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """`record_heartbeat`'s write, with `fields` set beside heartbeat_at; returns the record as it now is (the
    UpdateItem's ALL_NEW, so whoever needs the story or the project reads nothing more), None when not recorded."""
    from runtime.pipeline.state.dynamo import Expr, from_item, update_expression

    expr = Expr()
    sets, removes = expr.set_clause({HEARTBEAT_AT: beat.at.isoformat(), **(fields or {})})
    condition = f"{expr.name('status')} = {expr.value(InvocationStatus.RUNNING.value)}"
    if beat.session_id is not None:
        session = expr.name("session_id")
        condition += f" AND (attribute_not_exists({session}) OR {session} = {expr.value(beat.session_id)})"
    client = invocations.client
    try:
        answer = client.update_item(TableName=invocations.table_name, Key=invocations.key(beat.invocation_id),
                                    UpdateExpression=update_expression(sets, removes), ConditionExpression=condition,
                                    ReturnValues="ALL_NEW", **expr.kwargs())
    except client.exceptions.ConditionalCheckFailedException:
        return None
    return from_item(answer.get("Attributes") or {})


# A waiting task is deferred at most 15 minutes at a time (runtime.pipeline.deferral); queued longer than twice
# that, its message is taken for lost.
STRANDED_AFTER = timedelta(minutes=30)
REQUEUED_AT = "requeued_at"
# A write-back is tried again on each sweep until it gets through, this many times at most (at the default
# half-hourly reconcile, a day of outage), then left for a person (DELIVERY_FAILED stays on the record).
MAX_REDELIVERIES = 48
REDELIVERIES = "redeliveries"
FINAL_STATUSES = (InvocationStatus.COMPLETED, InvocationStatus.FAILED, InvocationStatus.CANCELLED)

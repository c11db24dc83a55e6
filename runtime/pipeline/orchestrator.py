"""From a task message to a started agent run.

    record (queued, put-if-absent) -> reserve budget + take a concurrency slot (one transaction)
    -> status running with a session id -> InvokeAgentRuntime (transient errors retried twice) -> done

The agent works asynchronously in its AgentCore session and reports to the completion queue; nothing here waits
for it. Every step is conditional on the record's state, so a redelivered message changes nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from tenacity import retry_if_exception_type

from runtime.errors import ErrorCode
from runtime.models import (
    AgentProjectSettings,
    AgentRequest,
    Budget,
    InvocationRecord,
    InvocationStatus,
    ParentContext,
    ProjectConfig,
    QueueMessage,
)
from runtime.pipeline.state.dynamo import TransactionCancelled, transact
from runtime.pipeline.state.invocations import (
    HOLDS_SLOT,
    LEDGER_MONTH,
    InvocationRepository,
    StoredInvocation,
    record_fields,
)
from runtime.pipeline.endpoints import choose_endpoint
from runtime.pipeline.ports import AgentInvoker, InvokeError, InvokeUnanswered, TransientInvokeError
from runtime.pipeline.state.ledger import DELIVERY_CLAIM
from runtime.pipeline.state.projects import ProjectRepository, budget_month, projects_read_once
from runtime.pipeline.writeback import NotionWriteBack
from runtime.pipeline.common import RunService, parse_time, retrying_after
from runtime.observe.trace import bind_invocation

log = logging.getLogger(__name__)

SESSION_PREFIX = "aidlc-session-"


class TaskMustWait(Exception):
    """The task can't start yet; it is deferred on the queue (`runtime.pipeline.deferral`), never failed."""


class ConcurrencyLimited(TaskMustWait):
    """The project already runs as many agents as it may; the message stays on the queue and comes back."""


class BudgetHeldByRunsInFlight(TaskMustWait):
    """The month's spend leaves room for this run, but reservations of runs in flight don't (yet): it waits for
    them to settle rather than failing BUDGET_EXCEEDED with most of the budget unspent."""


@dataclass
class Outcome:
    invocation_id: str
    status: str  # started | duplicate | budget_exceeded | failed
    detail: str = ""


def is_retrigger(existing: InvocationRecord, message: QueueMessage, written_back_at: datetime | None = None) -> bool:
    """A story trigger that names a run which had already finished, and been written back, before its story was
    read: a person set the trigger again within the minute of the last write-back (Notion rounds
    `last_edited_time` to the minute, so the edit looks the same and so does the id derived from it).

    A duplicate report of the edit that started the run (Notion's page.created and page.properties_updated for a
    story created straight into its trigger status, a database automation beside the integration's webhook)
    read the story before the write-back moved it out of its trigger status, however late its message was sent
    (reading the page's blocks waits on Notion's rate limit), and stays a duplicate. `written_back_at`: when the
    write-back was claimed (its first step sets the status); None: the run's `completed_at`."""
    if (message.parent_invocation_id is not None or existing.completed_at is None
            or existing.status not in (InvocationStatus.COMPLETED, InvocationStatus.FAILED, InvocationStatus.CANCELLED)):
        return False
    read_at = message.story_read_at or message.enqueued_at
    return read_at > max(existing.completed_at, written_back_at or existing.completed_at)


def retrigger_id(message: QueueMessage) -> str:
    """The re-trigger's own id: the same story, trigger and edit, told apart by when it was sent (so this
    message's redeliveries still name one run)."""
    from runtime.pipeline.webhook import invocation_id_for

    return invocation_id_for(message.notion_page_id, message.trigger_value, message.page_snapshot.last_edited_time,
                             f"sent {message.enqueued_at.isoformat()}")


def session_id_for(invocation_id: str) -> str:
    """AgentCore wants at least 33 characters; the invocation's ULID makes it unique and stable across redelivery."""
    return SESSION_PREFIX + invocation_id


def _now() -> datetime:
    return datetime.now(timezone.utc)


class OrchestratorService(RunService):
    def __init__(
        self,
        *,
        invocations: InvocationRepository,
        projects: ProjectRepository,
        invoker: AgentInvoker,
        writeback: Callable[[], NotionWriteBack | None] = lambda: None,
        registry: Any | None = None,
        retry_delays: Sequence[float] = (30.0, 60.0),
        sleep: Callable[[float], None] = time.sleep,
        notices: Any | None = None,
        tool_tokens: Callable[[], Any] = lambda: None,
        endpoints: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(invocations=invocations, projects=projects, registry=registry)
        self.invoker = invoker
        # runtime.slack.runs.SlackRunNotices (started / finished) for runs asked for in Slack; None: no one to tell
        self.notices = notices
        self._writeback = writeback
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        # -> runtime.tools.identity.ToolTokens (the tool-token key) or None: each run's signed tool token, so the
        # tool gateway serves its calls as this agent and invocation and nothing else
        self._tool_tokens = tool_tokens
        # {agent: {endpoint: version}} as deployed (Env.AGENT_ENDPOINTS); empty: one unversioned endpoint (local)
        self.endpoints = dict(endpoints or {})

    def process(self, message: QueueMessage) -> Outcome:
        # this stage's calls count for this run, and for no later one on the same thread (runtime/observe/trace.py)
        with projects_read_once(), bind_invocation(message.invocation_id):  # one message reads its project once
            return self._process(message)

    def _process(self, message: QueueMessage) -> Outcome:
        project = self.projects.get(message.project_id)
        record = InvocationRecord.from_message(
            message, {"agent_chain_template": project.agent_chain_template.value} if project else {})
        if self.invocations.create(record):
            stored: StoredInvocation | None = StoredInvocation(record_fields(record))  # just written: no re-read
        else:  # redelivered, or created by POST /invoke: carry on from what is stored
            stored = self.invocations.get(message.invocation_id)
            if stored is not None and is_retrigger(stored.record, message,
                                                   parse_time(stored.raw.get(DELIVERY_CLAIM))):
                return self.process(message.model_copy(update={"invocation_id": retrigger_id(message)}))
        assert stored is not None
        if stored.record.status != InvocationStatus.QUEUED:
            return Outcome(message.invocation_id, "duplicate", f"already {stored.record.status.value}")
        if project is None:
            return self._fail(stored, None, ErrorCode.AGENT_ERROR, f"project {message.project_id!r} is not configured")
        try:
            spec = self.registry.get(message.agent_type)
        except KeyError as exc:
            return self._fail(stored, project, ErrorCode.AGENT_ERROR, str(exc.args[0]))

        reserved = stored.record.reserved_usd
        if not stored.holds_slot:
            reserved = Decimal(spec.limits.cost_limit_usd or project.cost_limit_per_invocation)
            outcome = self._reserve(stored, project, reserved)
            if outcome is not None:
                return outcome

        session_id = session_id_for(message.invocation_id)
        # Fixed by the invocation id, so a redelivered message is sent to the same endpoint and version.
        choice = choose_endpoint(self.endpoints, message.agent_type, message.invocation_id,
                                 endpoint=project.agent_endpoint, beta_share=project.beta_share)
        started = {"status": InvocationStatus.RUNNING.value, "session_id": session_id,
                   "started_at": _now().isoformat(), "agent_endpoint": choice.endpoint}
        if choice.version is not None:
            started["agent_version"] = choice.version
        if not self.invocations.transition(message.invocation_id, [InvocationStatus.QUEUED], started):
            return Outcome(message.invocation_id, "duplicate", "another worker started it")
        if self.notices is not None:  # before the invoke: a quick agent's result must not precede it
            self.notices.started(stored.record)
        request = self._request(message, project, spec, session_id, reserved)
        if self.endpoints:
            request = request.model_copy(update={"endpoint": choice.endpoint})
        try:
            self._invoke(request)
        except InvokeError as exc:
            stored = self.invocations.get(message.invocation_id)
            assert stored is not None
            return self._fail(stored, project, ErrorCode.AGENT_ERROR, str(exc), from_running=True)
        except InvokeUnanswered as exc:
            # Maybe accepted: neither failed nor retried (that would hold the rest of the batch behind a hung
            # runtime). The run stays running; with no heartbeat the liveness sweeper fails it (sweepers.timeouts).
            log.warning("start unanswered: %s", exc, extra={"invocation_id": message.invocation_id})
            return Outcome(message.invocation_id, "unanswered", str(exc))
        log.info("started %s", message.agent_type, extra={"invocation_id": message.invocation_id})
        return Outcome(message.invocation_id, "started")

    def _reserve(self, stored: StoredInvocation, project: ProjectConfig, amount: Decimal) -> Outcome | None:
        record = stored.record
        if amount > project.cost_limit_per_month:
            return self._budget_exceeded(stored, project, amount)
        if self.projects.running(project.project_id) >= project.concurrency_limit:
            # Every slot is taken: wait without a transaction (a strongly consistent read; the transaction below
            # stays the only thing that grants a slot). With many tasks waiting this saves most transactions.
            raise ConcurrencyLimited(f"project {project.project_id} already runs {project.concurrency_limit} agents")
        month = budget_month()
        hold = self.invocations.transition_item(
            record.invocation_id, [InvocationStatus.QUEUED],
            {"reserved_usd": str(amount), LEDGER_MONTH: month, HOLDS_SLOT: True},
            extra_condition=f"attribute_not_exists({HOLDS_SLOT})",
        )
        items = [
            {"Update": hold},
            {"Update": self.projects.reserve_budget_item(project, month, amount)},
            {"Update": self.projects.take_slot_item(project)},
        ]
        try:
            transact(self.invocations.client, items)
            return None
        except TransactionCancelled as exc:
            if exc.failed(0):
                return Outcome(record.invocation_id, "duplicate", "another worker holds it")
            if exc.failed(1):
                # The condition counts what is reserved as well as what is spent (so concurrent runs can't
                # overshoot); only a month whose real spend leaves no room refuses the run.
                budget = self.projects.budget(project.project_id, month)
                if budget.month_to_date + amount <= project.cost_limit_per_month:
                    raise BudgetHeldByRunsInFlight(
                        f"${budget.reserved} is reserved by runs in flight; ${amount} more would pass the monthly "
                        f"limit of ${project.cost_limit_per_month} until they settle"
                    ) from None
                return self._budget_exceeded(stored, project, amount)
            if exc.failed(2):
                raise ConcurrencyLimited(
                    f"project {project.project_id} already runs {project.concurrency_limit} agents"
                ) from None
            raise

    def _budget_exceeded(self, stored: StoredInvocation, project: ProjectConfig, amount: Decimal) -> Outcome:
        budget = self.projects.budget(project.project_id)
        detail = (
            f"this run may cost up to ${amount}; month to date ${budget.month_to_date} plus ${budget.reserved} "
            f"reserved would pass the monthly limit of ${project.cost_limit_per_month}"
        )
        outcome = self._fail(stored, project, ErrorCode.BUDGET_EXCEEDED, detail)
        outcome.status = "budget_exceeded"
        return outcome

    def _invoke(self, request: AgentRequest) -> None:
        for attempt in retrying_after(self.retry_delays, retry=retry_if_exception_type(TransientInvokeError),
                                      sleep=self.sleep):
            with attempt:
                self.invoker.invoke(request)

    def _request(self, message: QueueMessage, project: ProjectConfig, spec: Any, session_id: str,
                 reserved: Decimal) -> AgentRequest:
        tokens = self._tool_tokens()
        parent = None
        if message.parent_invocation_id:
            parent_stored = self.invocations.get(message.parent_invocation_id)
            if parent_stored is not None:
                parent = ParentContext(
                    invocation_id=parent_stored.record.invocation_id,
                    agent_type=parent_stored.record.agent_type,
                    artifacts=parent_stored.record.output_artifacts,
                    context=message.chain_context,
                )
        return AgentRequest(
            invocation_id=message.invocation_id,
            session_id=session_id,
            agent_type=message.agent_type,
            project_id=project.project_id,
            workspace_id=message.workspace_id,
            notion_page_id=message.notion_page_id,
            story=message.page_snapshot,
            project=AgentProjectSettings.from_project(project),
            parent=parent,
            budget=Budget(cost_limit_usd=reserved or project.cost_limit_per_invocation,
                          token_limit=spec.limits.max_tokens),
            model_id=spec.limits.model_id,
            tool_token=tokens.issue(message.agent_type, message.invocation_id,
                                    protected_paths=project.protected_paths) if tokens is not None else None,
        )

    def _fail(
        self,
        stored: StoredInvocation,
        project: ProjectConfig | None,
        code: ErrorCode,
        detail: str,
        *,
        from_running: bool = False,
    ) -> Outcome:
        record_id = stored.record.invocation_id
        changed = self.ledger.finish(
            stored,
            {"status": InvocationStatus.FAILED.value, "error_code": code.value, "error_detail": detail,
             "completed_at": _now().isoformat()},
            from_statuses=[InvocationStatus.RUNNING] if from_running else [InvocationStatus.QUEUED],
        )
        if not changed:
            return Outcome(record_id, "duplicate", "the record moved on meanwhile")
        log.warning("invocation failed: %s: %s", code.value, detail, extra={"invocation_id": record_id})
        if project is not None and self.ledger.claim_delivery(record_id):
            tell_notion(self.invocations, self._writeback(), self.registry, record_id, project)
        if self.notices is not None:
            failed = self.invocations.get(record_id)
            if failed is not None:
                self.notices.finished(failed.record)
        return Outcome(record_id, "failed", f"{code.value}: {detail}")


def tell_notion(
    invocations: InvocationRepository,
    writeback: NotionWriteBack | None,
    registry: Any,
    invocation_id: str,
    project: ProjectConfig,
    *,
    repeat: bool = False,
    stored: StoredInvocation | None = None,
) -> bool:
    """Write a finished run back to Notion and record how that went. The caller has claimed the delivery
    (`RunLedger.claim_delivery`), so this happens once per run. `repeat`: a re-delivery (`Sweepers.redeliver`).
    `stored`: the record as the caller has just read or written it (the claim changes none of it), else read."""
    stored = stored or invocations.get(invocation_id)
    assert stored is not None
    record = stored.record
    if writeback is None:
        invocations.update(invocation_id, {"delivery_status": "failed", "error_code": (record.error_code or
                           ErrorCode.DELIVERY_FAILED).value, "error_detail": record.error_detail or
                           "no Notion integration is configured for write-back"})
        return False
    try:
        spec = registry.get(record.agent_type)
        status_value = {
            InvocationStatus.COMPLETED: spec.completion_status,
            InvocationStatus.FAILED: spec.failure_status,
        }.get(record.status)
    except KeyError:
        status_value = None
    owners = (record.input_context.get("story") or {}).get("properties", {}).get("Owner") or []
    if isinstance(owners, str):
        owners = [owners]
    outcome = writeback.report(record, project, status_value=status_value, owner_ids=[str(o) for o in owners],
                               repeat=repeat)
    fields: dict[str, Any] = {"delivery_status": "delivered" if outcome.delivered else "failed"}
    if outcome.delivered and record.error_code == ErrorCode.DELIVERY_FAILED:
        fields.update(error_code=None, error_detail=None)  # a re-delivery made it: nothing is wrong any more
    if not outcome.delivered:
        log.error("Notion write-back failed; the result is kept in the record",
                  extra={"invocation_id": invocation_id})
        if record.error_code is None:
            fields["error_code"] = ErrorCode.DELIVERY_FAILED.value
            fields["error_detail"] = "; ".join(outcome.errors)[:2000]
        else:
            fields["error_detail"] = f"{record.error_detail or ''} (and {ErrorCode.DELIVERY_FAILED.value}: " \
                                     f"{'; '.join(outcome.errors)[:1500]})"
    invocations.update(invocation_id, fields)
    return outcome.delivered

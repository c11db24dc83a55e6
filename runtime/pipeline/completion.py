"""From an agent's completion event to a recorded, accounted, written-back and chained result.

    record the result (conditional: only a queued/running run; a duplicate event changes nothing)
      + the cost (recomputed from usage and model, so Notion and the budget agree) added to the month,
        the reservation and the concurrency slot released        -- one transaction
    -> Notion: status, comment with artifact links and the owner mentioned, dashboard row (retried; the record is
       already saved, so an outage ends in DELIVERY_FAILED on the record, never in a lost result)
    -> chain: the registry's next steps under the project's agent_chain_template, enqueued with the parent's id
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone
from decimal import Decimal
from typing import Any

from runtime.cost import DEFAULT_MODEL_ID, UnknownModelPrice, cost_usd
from runtime.errors import ErrorCode
from runtime.models import (
    CompletionEvent, InvocationRecord, InvocationStatus, PageSnapshot, ProjectConfig, SlackOrigin,
)
from runtime.pipeline.state.invocations import HOLDS_SLOT, InvocationRepository, StoredInvocation
from runtime.pipeline.orchestrator import tell_notion
from runtime.pipeline.state.projects import ProjectRepository, projects_read_once
from runtime.pipeline.ports import TaskPublisher
from runtime.pipeline.webhook import build_message, invocation_id_for
from runtime.pipeline.writeback import NotionWriteBack
from runtime.pipeline.common import RunService
from runtime.observe.trace import bind_invocation, in_stage

log = logging.getLogger(__name__)


@dataclass
class CompletionOutcome:
    invocation_id: str
    recorded: bool
    delivered: bool = False
    chained: list[str] = field(default_factory=list)
    detail: str = ""
    record: InvocationRecord | None = None  # the record as recorded (so the cost metrics need not read it back)


def recorded_item(stored: StoredInvocation, fields: dict[str, Any]) -> dict[str, Any]:
    """The record's item after `RunLedger.finish(stored, fields)` succeeded (the same fields it writes)."""
    item = {**stored.raw, **fields, "reserved_usd": "0"}
    item.pop(HOLDS_SLOT, None)
    return item


def untrusted(event: CompletionEvent, record: InvocationRecord) -> str | None:
    """Why a completion event can't be believed for `record`, or None when it can."""
    if record.status == InvocationStatus.QUEUED:
        return "the run was never started"
    if event.agent_type != record.agent_type:
        return f"the run is a {record.agent_type} run, the event claims {event.agent_type}"
    if record.session_id and event.session_id != record.session_id:
        return "the event does not come from the session the orchestrator started"
    return None


class CompletionService(RunService):
    def __init__(
        self,
        *,
        invocations: InvocationRepository,
        projects: ProjectRepository,
        queue: TaskPublisher,
        writeback: Callable[[], NotionWriteBack | None] = lambda: None,
        registry: Any | None = None,
        model_prices: dict | None = None,
        notices: Any | None = None,
    ) -> None:
        super().__init__(invocations=invocations, projects=projects, registry=registry)
        self.queue = queue
        # runtime.slack.runs.SlackRunNotices: a run asked for in Slack posts its result to its thread
        self.notices = notices
        self._writeback = writeback
        self.model_prices = model_prices

    def cost_of(self, event: CompletionEvent) -> Decimal:
        """The same function the agent's budget hook uses; the agent's own figure only for a model we can't price."""
        try:
            return cost_usd(event.token_usage, event.model_id or DEFAULT_MODEL_ID, self.model_prices)
        except UnknownModelPrice:
            log.warning("no price for model %s; using the cost the agent reported", event.model_id)
            return event.cost_usd

    def process(self, event: CompletionEvent) -> CompletionOutcome:
        # this stage's calls count for this run, and for no later one on the same thread (runtime/observe/trace.py)
        with projects_read_once(), bind_invocation(event.invocation_id):  # one event reads its project once
            return self._process(event)

    def _process(self, event: CompletionEvent) -> CompletionOutcome:
        stored = self.invocations.get(event.invocation_id)
        if stored is None:
            # Not ours (or its record was never written): nothing to account against. Dropped, and logged.
            log.error("completion event for an unknown invocation", extra={"invocation_id": event.invocation_id})
            return CompletionOutcome(event.invocation_id, recorded=False, detail="unknown invocation")
        refusal = untrusted(event, stored.record)
        if refusal:
            # Anyone who can send to the completion queue could claim a run: believe only the session the
            # orchestrator started, for the agent it started. Nothing is recorded, charged or written back.
            log.error("completion event refused: %s", refusal, extra={"invocation_id": event.invocation_id})
            return CompletionOutcome(event.invocation_id, recorded=False, detail=f"refused: {refusal}")
        cost = self.cost_of(event)
        artifacts = [a.model_dump(mode="json") for a in event.artifacts]
        status, error_code, error_detail = event.status, (event.error_code.value if event.error_code else None), \
            event.error_detail
        reserved = stored.record.reserved_usd
        if stored.holds_slot and reserved and cost > reserved:
            # The agent's budget hook stops a run at its limit, so a cost past the reservation is not a normal
            # run: charge it (the tokens may have been spent) but flag it, and post none of its links.
            status, error_code, artifacts = "failed", ErrorCode.BUDGET_EXCEEDED.value, []
            error_detail = (f"flagged: the run reported ${cost}, more than the ${reserved} reserved for it; its "
                            f"artifacts were not posted")
            log.error(error_detail, extra={"invocation_id": event.invocation_id})
        fields: dict[str, Any] = {
            "status": status,
            "output_summary": event.summary,
            "output_artifacts": artifacts,
            "token_usage": event.token_usage.model_dump(mode="json"),
            "cost_usd": str(cost),
            "completed_at": event.finished_at.astimezone(timezone.utc).isoformat(),
            "error_code": error_code,
            "error_detail": error_detail,
        }
        if event.session_id and not stored.record.session_id:
            fields["session_id"] = event.session_id
        recorded = self.ledger.finish(stored, fields, cost=cost)
        if not recorded:
            log.info("duplicate or late completion event ignored (record is %s)", stored.record.status.value,
                     extra={"invocation_id": event.invocation_id})
        # Just written, conditionally: what is stored now is known, so it is not read back. A duplicate reads it.
        written = StoredInvocation(recorded_item(stored, fields)) if recorded else None
        outcome = CompletionOutcome(event.invocation_id, recorded=recorded, record=written.record if written else None)
        # Deliver even for a duplicate if no one has yet: the first worker may have died after recording.
        self.deliver(event.invocation_id, outcome, stored=written)
        return outcome

    def deliver(self, invocation_id: str, outcome: CompletionOutcome | None = None, *,
                stored: StoredInvocation | None = None) -> CompletionOutcome:
        """`stored`: the record as this worker has just written it (else it is read)."""
        outcome = outcome or CompletionOutcome(invocation_id, recorded=False)
        stored = stored or self.invocations.get(invocation_id)
        assert stored is not None
        record = stored.record
        if not record.status.is_final or record.delivery_status != "pending":
            return outcome
        project = self.projects.get(record.project_id)
        if project is None:
            log.error("project %s is gone; cannot write back", record.project_id)
            return outcome
        if not self.ledger.claim_delivery(invocation_id):
            return outcome  # another worker is writing this one back
        with in_stage("write-back", invocation_id):
            outcome.delivered = tell_notion(self.invocations, self._writeback(), self.registry, invocation_id,
                                            project, stored=stored)
        if self.notices is not None:  # before chaining, so the thread reads in order
            self.notices.finished(record)
        if record.status == InvocationStatus.COMPLETED:
            with in_stage("chain", invocation_id):
                outcome.chained = self.chain(record, project)
        return outcome

    def chain(self, record: InvocationRecord, project: ProjectConfig) -> list[str]:
        """Enqueue the next runs. Their ids derive from the parent's, so a retried chain enqueues the same runs."""
        try:
            steps = self.registry.next_steps(record.agent_type, project.agent_chain_template, record.output_artifacts)
        except (KeyError, ValueError) as exc:
            self._chain_failed(record, f"no chain rules: {exc}")
            return []
        started: list[str] = []
        snapshot = PageSnapshot.model_validate(record.input_context.get("story") or {"title": record.notion_page_id})
        try:
            for index, step in enumerate(steps):
                spec = self.registry.get(step.agent_type)
                child_id = invocation_id_for(
                    record.notion_page_id, f"chain:{record.invocation_id}:{index}:{step.agent_type}",
                    (record.completed_at or record.created_at).isoformat(),
                )
                message = build_message(
                    project,
                    agent_type=step.agent_type,
                    trigger=spec.triggers[0],
                    snapshot=snapshot,
                    invocation_id=child_id,
                    page_id=record.notion_page_id,
                    parent_invocation_id=record.invocation_id,
                    chain_context={**step.context, "template": step.template.value},
                )
                if record.input_context.get("slack"):  # the chain's runs report to the same Slack thread
                    message = message.model_copy(
                        update={"slack": SlackOrigin.model_validate(record.input_context["slack"])})
                self.queue.publish(message)
                started.append(child_id)
        except Exception as exc:  # noqa: BLE001 - any failure to start the next step is CHAIN_FAILED on the parent
            self._chain_failed(record, f"{type(exc).__name__}: {exc}")
        return started

    def _chain_failed(self, record: InvocationRecord, detail: str) -> None:
        log.error("chaining failed: %s", detail, extra={"invocation_id": record.invocation_id})
        self.invocations.update(
            record.invocation_id,
            {"error_code": ErrorCode.CHAIN_FAILED.value, "error_detail": detail[:2000]},
        )

"""Ending a run in one transaction: the record's final state, the real cost added to the month, the reservation
and the concurrency slot given back. The record's condition (its status) makes the whole thing happen once, so a
duplicate completion event, a late timeout or a cancel racing a completion can't count a cost twice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from runtime.models import InvocationStatus
from runtime.pipeline.state.dynamo import TransactionCancelled, transact
from runtime.pipeline.state.invocations import HOLDS_SLOT, InvocationRepository, StoredInvocation
from runtime.pipeline.state.projects import ProjectRepository

ACTIVE = (InvocationStatus.QUEUED, InvocationStatus.RUNNING)
DELIVERY_CLAIM = "delivery_claimed_at"


class RunLedger:
    def __init__(self, invocations: InvocationRepository, projects: ProjectRepository) -> None:
        self.invocations = invocations
        self.projects = projects

    def finish(
        self,
        stored: StoredInvocation,
        fields: dict[str, Any],
        *,
        cost: Decimal = Decimal("0"),
        from_statuses: Iterable[InvocationStatus] = ACTIVE,
    ) -> bool:
        """Apply `fields` (a final status and its details) and settle the budget; False if the record had already
        left `from_statuses` (nothing changed)."""
        record = stored.record
        update = self.invocations.transition_item(
            record.invocation_id, from_statuses, {**fields, HOLDS_SLOT: None, "reserved_usd": "0"}
        )
        settle = self.projects.settle_items(
            record.project_id,
            stored.ledger_month if stored.holds_slot else None,
            reserved=record.reserved_usd,
            cost=cost,
            agent_type=record.agent_type,
            release_slot=stored.holds_slot,
            version=_version(record),
        )
        if not stored.holds_slot and cost:
            # A run that never reserved (failed before the orchestrator got to it) still pays for what it used.
            from runtime.pipeline.state.projects import budget_month

            settle = self.projects.settle_items(
                record.project_id, budget_month(), reserved=Decimal("0"), cost=cost,
                agent_type=record.agent_type, release_slot=False, version=_version(record),
            )
        try:
            transact(self.invocations.client, [{"Update": update}, *({"Update": item} for item in settle)])
            return True
        except TransactionCancelled as exc:
            if exc.failed(0):
                return False
            raise

    def claim_delivery(self, invocation_id: str, *, stale_after: timedelta = timedelta(minutes=10)) -> bool:
        """Only one worker writes a run's result back to Notion; a claim older than `stale_after` (a worker that
        died mid-way) can be taken over."""
        client = self.invocations.client
        now = datetime.now(timezone.utc)
        try:
            client.update_item(
                TableName=self.invocations.table_name,
                Key=self.invocations.key(invocation_id),
                UpdateExpression="SET #c = :now",
                ConditionExpression="#d = :pending AND (attribute_not_exists(#c) OR #c < :stale)",
                ExpressionAttributeNames={"#c": DELIVERY_CLAIM, "#d": "delivery_status"},
                ExpressionAttributeValues={
                    ":now": {"S": now.isoformat()},
                    ":stale": {"S": (now - stale_after).isoformat()},
                    ":pending": {"S": "pending"},
                },
            )
            return True
        except client.exceptions.ConditionalCheckFailedException:
            return False


def _version(record: Any) -> str | None:
    """The cost ledger's name for the agent version that ran the record (None: it never started on an endpoint)."""
    from runtime.pipeline.endpoints import version_key

    if record.agent_endpoint is None:
        return None
    return version_key(record.agent_type, record.agent_endpoint, record.agent_version)

"""The invocations table: one item per agent run (seed 2.1), moved between statuses only by conditional writes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from runtime.models import InvocationRecord, InvocationStatus
from runtime.pipeline.adapters import aws
from runtime.pipeline.state.dynamo import Expr, from_item, to_item, to_value, update_expression

_FIELDS = set(InvocationRecord.model_fields)
# Bookkeeping kept beside the record (not part of the seed's model): which budget month holds the reservation and
# whether the run holds a concurrency slot, so every release undoes exactly what was taken.
LEDGER_MONTH = "ledger_month"
HOLDS_SLOT = "holds_slot"


def sortable_time(value: datetime) -> str:
    """ISO 8601 with fixed microseconds, so string order is time order (the index range keys are strings)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StoredInvocation:
    """A record plus its bookkeeping attributes."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.raw = item
        self.record = InvocationRecord.model_validate({k: v for k, v in item.items() if k in _FIELDS})
        self.ledger_month: str | None = item.get(LEDGER_MONTH)
        self.holds_slot: bool = bool(item.get(HOLDS_SLOT, False))


def record_fields(record: InvocationRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    data["created_at"] = sortable_time(record.created_at)
    return data


class InvocationRepository(aws.TableAdapter):
    def key(self, invocation_id: str) -> dict:
        return {"invocation_id": {"S": invocation_id}}

    def create(self, record: InvocationRecord) -> bool:
        """Store a new record; False (and nothing changed) when the id is already there."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(record_fields(record)),
                ConditionExpression="attribute_not_exists(invocation_id)",
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def get(self, invocation_id: str) -> StoredInvocation | None:
        item = self.client.get_item(TableName=self.table_name, Key=self.key(invocation_id), ConsistentRead=True).get(
            "Item"
        )
        return StoredInvocation(from_item(item)) if item else None

    def transition_item(
        self,
        invocation_id: str,
        from_statuses: Iterable[InvocationStatus | str],
        fields: dict[str, Any],
        *,
        extra_condition: str | None = None,
    ) -> dict:
        """The `Update` of a TransactWriteItems that sets `fields` only while the status is one of `from_statuses`."""
        expr = Expr()
        sets, removes = expr.set_clause(fields)
        status_name = expr.name("status")
        allowed = ", ".join(expr.value(str(s)) for s in from_statuses)
        condition = f"{status_name} IN ({allowed})"
        if extra_condition:
            condition += f" AND {extra_condition}"
        return {
            "TableName": self.table_name,
            "Key": self.key(invocation_id),
            "UpdateExpression": update_expression(sets, removes),
            "ConditionExpression": condition,
            **expr.kwargs(),
        }

    def transition(
        self, invocation_id: str, from_statuses: Iterable[InvocationStatus | str], fields: dict[str, Any]
    ) -> bool:
        """Set `fields` if the status is one of `from_statuses`; False when it was not (nothing changed)."""
        try:
            self.client.update_item(**self.transition_item(invocation_id, from_statuses, fields))
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def update(self, invocation_id: str, fields: dict[str, Any]) -> None:
        """Unconditional update of bookkeeping fields (delivery status) on an existing record."""
        expr = Expr()
        sets, removes = expr.set_clause(fields)
        self.client.update_item(
            TableName=self.table_name,
            Key=self.key(invocation_id),
            UpdateExpression=update_expression(sets, removes),
            ConditionExpression="attribute_exists(invocation_id)",
            **expr.kwargs(),
        )

    # --- queries -------------------------------------------------------------------------------------------

    def list_by_project(
        self,
        project_id: str,
        *,
        status: str | None = None,
        agent_type: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> tuple[list[InvocationRecord], str | None]:
        """Newest first. Filters apply within a page, so a page may hold fewer than `limit` records."""
        expr = Expr()
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "by_project",
            "KeyConditionExpression": f"{expr.name('project_id')} = {expr.value(project_id)}",
            "ScanIndexForward": False,
            "Limit": limit,
        }
        filters = []
        if status:
            filters.append(f"{expr.name('status')} = {expr.value(status)}")
        if agent_type:
            filters.append(f"{expr.name('agent_type')} = {expr.value(agent_type)}")
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if next_token:
            request["ExclusiveStartKey"] = decode_token(next_token)
        request.update(expr.kwargs())
        response = self.client.query(**request)
        records = [StoredInvocation(from_item(i)).record for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return records, encode_token(last) if last else None

    def all_for_project(self, project_id: str) -> list[InvocationRecord]:
        records: list[InvocationRecord] = []
        token = None
        while True:
            page, token = self.list_by_project(project_id, limit=200, next_token=token)
            records.extend(page)
            if not token:
                return records

    def latest_for_page(self, notion_page_id: str) -> InvocationRecord | None:
        response = self.client.query(
            TableName=self.table_name,
            IndexName="by_page",
            KeyConditionExpression="notion_page_id = :p",
            ExpressionAttributeValues={":p": to_value(notion_page_id)},
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items", [])
        return StoredInvocation(from_item(items[0])).record if items else None

    def with_status(self, statuses: Sequence[str]) -> list[StoredInvocation]:
        found: list[StoredInvocation] = []
        for status in statuses:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": "by_status",
                "KeyConditionExpression": "#s = :s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": to_value(status)},
            }
            while True:
                response = self.client.query(**kwargs)
                found.extend(StoredInvocation(from_item(i)) for i in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found


def encode_token(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_token(token: str) -> dict:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(key, dict):
            raise ValueError
        return key
    except ValueError:
        raise ValueError("next_token is not a token this API returned") from None

"""The audit trail: one record per tool call (invocation id, agent, tool, argument digest, outcome, duration).

Arguments are stored as a sha256 digest only: they can hold page content or code, which does not belong in an
audit table, but the digest still proves which call was made.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from ulid import ULID

AUDIT_RETENTION_DAYS = 90

Outcome = Literal["ok", "error", "denied"]


def argument_digest(args: Any) -> str:
    """sha256 of the arguments as canonical JSON (sorted keys), so the same call always has the same digest."""
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_seq_lock = threading.Lock()
_last_ns = 0


def next_seq() -> str:
    """A sort key that orders one process's records strictly (a ULID's random part does not, within one
    millisecond) and stays unique across writers: nanoseconds, bumped past the last one, then a ULID."""
    global _last_ns
    with _seq_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return f"{_last_ns:020d}-{ULID()}"


class AuditRecord(BaseModel):
    invocation_id: str
    seq: str = Field(default_factory=next_seq)
    agent_type: str
    tool: str
    args_sha256: str
    outcome: Outcome
    duration_ms: int = Field(ge=0)
    detail: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    def to_item(self) -> dict[str, Any]:
        item = self.model_dump(mode="json")
        # The tool side (MCP server, gateway Lambda) writes its own view of each call to the same table.
        item["source"] = "agent"
        item["duration_ms"] = Decimal(self.duration_ms)
        item["expires_at"] = Decimal(int(time.time()) + AUDIT_RETENTION_DAYS * 86_400)
        if not item["detail"]:
            del item["detail"]
        return item


class AuditSink(Protocol):
    def record(self, record: AuditRecord) -> None: ...


class MemoryAuditSink:
    """Keeps records in a list: for the CLI's synchronous runs and for tests of the hook itself."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def record(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)


class DynamoDbAuditSink:
    """Writes to the audit table (`runtime.resources.AUDIT`: hash key invocation_id, range key seq, TTL expires_at)."""

    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.resource("dynamodb").meta.client
        return self._client

    def record(self, record: AuditRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=record.to_item())

    def records_for(self, invocation_id: str) -> list[AuditRecord]:
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="invocation_id = :id",
            ExpressionAttributeValues={":id": invocation_id},
        )
        return [AuditRecord.model_validate({k: v for k, v in item.items() if k not in ("expires_at", "source")})
                for item in response.get("Items", []) if item.get("source") == "agent"]

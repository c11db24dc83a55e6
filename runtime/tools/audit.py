"""The one audit trail of tool calls: one record model, one sink interface, written from both sides of a call.

- `source="tool"`: the tool registry, for every call any surface serves (local MCP server, gateway Lambda,
  in-process tools): what was decided and done, including a Cedar policy denial.
- `source="agent"`: the agent's `AuditHook`, for every call its model asked for: what the agent saw come back.
- `source="aws"`: the botocore hook on the onboarding clients (runtime/onboarding/aws_audit.py), one record per AWS
  API call: tool `"<service>:<Operation>"`, the parameters' digest, and the `account`, `region` and `principal`.

Both sides digest the same thing (the call's arguments as sent, as canonical JSON), so the two records of one call
share `(invocation_id, tool, args_sha256)`, and a policy denial is `denied` on both. The arguments themselves are
never stored: they can hold page content or code, which does not belong in an audit table, but the digest still
proves which call was made.
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

from runtime.pipeline.adapters.aws import TableAdapter

AUDIT_RETENTION_DAYS = 90
DETAIL_LIMIT = 500
NO_INVOCATION = "none"  # the table's hash key when a call named no invocation (it is then refused)

Source = Literal["agent", "tool", "aws"]
# ok: done; error: the tool failed; denied: the policy refused it; invalid: bad arguments; unknown_tool: no such tool
Outcome = Literal["ok", "error", "denied", "invalid", "unknown_tool"]


def argument_digest(args: Any) -> str:
    """sha256 (hex) of the arguments as canonical JSON (sorted keys), so the same call always has the same digest."""
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
    source: Source
    invocation_id: str = NO_INVOCATION
    seq: str = Field(default_factory=next_seq)
    agent_type: str = ""
    tool: str
    args_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    outcome: Outcome
    duration_ms: int = Field(ge=0)
    detail: str = Field(default="", max_length=DETAIL_LIMIT)
    # source "aws" only: the account and region called, and the caller's ARN ("" on the other sources)
    account: str = ""
    region: str = ""
    principal: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @classmethod
    def of_call(cls, *, source: Source, tool: str, args: Any, outcome: Outcome, duration_s: float,
                agent_type: str | None, invocation_id: str | None, detail: str | None = None) -> "AuditRecord":
        """The record of one call, from what either side has at hand."""
        return cls(source=source, tool=tool, args_sha256=argument_digest(args), outcome=outcome,
                   duration_ms=max(0, int(duration_s * 1000)), agent_type=agent_type or "",
                   invocation_id=invocation_id or NO_INVOCATION, detail=(detail or "")[:DETAIL_LIMIT])

    def to_item(self) -> dict[str, Any]:
        """The audit table's item as plain Python values (`runtime.resources.AUDIT`, TTL on expires_at)."""
        item = self.model_dump(mode="json")
        item["duration_ms"] = Decimal(self.duration_ms)
        item["expires_at"] = Decimal(int(time.time()) + AUDIT_RETENTION_DAYS * 86_400)
        for key in ("detail", "account", "region", "principal"):
            if not item[key]:
                del item[key]
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "AuditRecord":
        return cls.model_validate({k: v for k, v in item.items() if k != "expires_at"})


class AuditSink(Protocol):
    def record(self, record: AuditRecord) -> None: ...


class MemoryAuditSink:
    """Keeps records in a list: for the CLI's synchronous runs, benchmarks and tests."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def record(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)


class DynamoDbAuditSink(TableAdapter):
    """Writes to the audit table (`runtime.resources.AUDIT`: hash key invocation_id, range key seq, TTL expires_at),
    through a plain DynamoDB client (values typed with boto3's serializer)."""

    def record(self, record: AuditRecord) -> None:
        from boto3.dynamodb.types import TypeSerializer

        serialize = TypeSerializer().serialize
        self.client.put_item(TableName=self.table_name,
                             Item={k: serialize(v) for k, v in record.to_item().items()})

    def records_for(self, invocation_id: str, source: Source | None = None) -> list[AuditRecord]:
        """One invocation's records in order, from both sides or from one `source`."""
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        paginator = self.client.get_paginator("query")
        records = []
        for page in paginator.paginate(TableName=self.table_name, KeyConditionExpression="invocation_id = :id",
                                       ExpressionAttributeValues={":id": {"S": invocation_id}}):
            for item in page.get("Items", []):
                record = AuditRecord.from_item({k: deserialize(v) for k, v in item.items()})
                if source is None or record.source == source:
                    records.append(record)
        return records

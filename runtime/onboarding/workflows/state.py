"""A workflow's state (`WorkflowState` and its `Checkpoint`s) in the workflows table, written before the next step
starts (property 15).

One item per workflow (`workflow_id`), the state as JSON plus what only the engine needs (the pending approval's
callback id, a cancel request, the durable executions run for it). Every change is a read, a change and a put
conditional on the item's `version`: two writers (the running workflow checkpointing, an operator cancelling) never
lose each other's change; the loser reads again and reapplies (`update`). The circuit breakers keep their items in
the same table under `breaker#<service>` (resilience.py); they have no `customer_id`, so the customer index skips them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.onboarding.models import Checkpoint, StepStatus, WorkflowState, WorkflowStatus, utcnow

TERMINAL = frozenset({WorkflowStatus.SUCCEEDED, WorkflowStatus.CANCELLED})


class WorkflowNotFound(LookupError):
    pass


class StateConflict(RuntimeError):
    """The item changed under us more times than `update` retries (a bug, or a storm of writers)."""


@dataclass
class WorkflowRecord:
    state: WorkflowState
    callback_id: str | None = None  # the approval the workflow waits for (durable callback id)
    cancel_requested: bool = False
    executions: list[str] = field(default_factory=list)  # durable execution names started for it, oldest first
    version: int = 0
    project_id: str = ""  # the project it was started for: whose API callers may see it, whose approvers approve

    @property
    def workflow_id(self) -> str:
        return self.state.workflow_id

    def checkpoint(self, step: str) -> Checkpoint | None:
        """The step's latest checkpoint."""
        found = [c for c in self.state.checkpoints if c.step == step]
        return found[-1] if found else None

    def completed(self, step: str) -> Checkpoint | None:
        found = self.checkpoint(step)
        return found if found is not None and found.status == StepStatus.SUCCEEDED else None

    def view(self) -> dict[str, Any]:
        """What status answers (API, Slack): the state, the pending approval, whether a cancel is pending."""
        body = self.state.model_dump(mode="json")
        body["awaiting_approval"] = self.callback_id is not None and self.state.status == WorkflowStatus.WAITING_APPROVAL
        body["cancel_requested"] = self.cancel_requested
        body["executions"] = list(self.executions)
        body["project_id"] = self.project_id or None
        return body


class WorkflowStore:
    """The workflows table through a DynamoDB client (moto locally and in tests)."""

    def __init__(self, table: str, client: Any, *, on_write: Callable[[WorkflowRecord], None] | None = None) -> None:
        self.table = table
        self.client = client
        self.on_write = on_write  # tests observe each persisted record (property 15)

    # --- reading -----------------------------------------------------------------------------------------------

    def get(self, workflow_id: str) -> WorkflowRecord:
        item = self._load(workflow_id)
        if not item or "state" not in item:
            raise WorkflowNotFound(f"workflow {workflow_id!r} not found")
        return _record(item)

    def _load(self, workflow_id: str) -> dict | None:
        return self.client.get_item(TableName=self.table, Key={"workflow_id": {"S": workflow_id}},
                                    ConsistentRead=True).get("Item")

    def find(self, workflow_id: str) -> WorkflowRecord | None:
        try:
            return self.get(workflow_id)
        except WorkflowNotFound:
            return None

    def for_customer(self, customer_id: str) -> list[WorkflowRecord]:
        """Every workflow of a customer, oldest first (the `by_customer` index)."""
        return [_record(i) for i in self._query_customer(customer_id)]

    def _query_customer(self, customer_id: str) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "by_customer",
                                  "KeyConditionExpression": "customer_id = :c",
                                  "ExpressionAttributeValues": {":c": {"S": customer_id}}}
        while True:
            page = self.client.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    # --- writing -----------------------------------------------------------------------------------------------

    def create(self, state: WorkflowState, *, project_id: str = "") -> WorkflowRecord:
        record = WorkflowRecord(state=state, project_id=project_id)
        self._put(record, expect=None)
        return record

    def update(self, workflow_id: str, change: Callable[[WorkflowRecord], None], *, attempts: int = 8,
               current: WorkflowRecord | None = None) -> WorkflowRecord:
        """Apply `change` to the current record and write it, conditional on nobody having written in between.
        `current`: a record just read (saves the first read; a stale one only costs a conflict and a re-read)."""
        from botocore.exceptions import ClientError

        for attempt in range(attempts):
            record = current if attempt == 0 and current is not None else self.get(workflow_id)
            expected = record.version
            change(record)
            record.state.updated_at = utcnow()
            try:
                self._put(record, expect=expected)
                return record
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise StateConflict(f"workflow {workflow_id}: {attempts} conflicting writes in a row")

    def start_step(self, workflow_id: str, step: str, *, current: WorkflowRecord | None = None) -> WorkflowRecord:
        def change(record: WorkflowRecord) -> None:
            record.state.current_step = step
            if record.state.status not in (WorkflowStatus.WAITING_APPROVAL,):
                record.state.status = WorkflowStatus.RUNNING
            record.state.checkpoints.append(Checkpoint(step=step, status=StepStatus.STARTED))
        return self.update(workflow_id, change, current=current)

    def finish_step(self, workflow_id: str, step: str, *, status: StepStatus, result: dict | None = None,
                    error: Any = None, current: WorkflowRecord | None = None) -> WorkflowRecord:
        def change(record: WorkflowRecord) -> None:
            open_ = [c for c in record.state.checkpoints if c.step == step and c.status == StepStatus.STARTED]
            checkpoint = open_[-1] if open_ else None
            if checkpoint is None:
                checkpoint = Checkpoint(step=step, status=StepStatus.STARTED)
                record.state.checkpoints.append(checkpoint)
            checkpoint.status = status
            checkpoint.finished_at = utcnow()
            checkpoint.result = dict(result or {})
            if error is not None:
                record.state.error = error
        return self.update(workflow_id, change, current=current)

    def set_status(self, workflow_id: str, status: WorkflowStatus, *, error: Any = None,
                   clear_callback: bool = False) -> WorkflowRecord:
        def change(record: WorkflowRecord) -> None:
            record.state.status = status
            if error is not None:
                record.state.error = error
            if clear_callback:
                record.callback_id = None
        return self.update(workflow_id, change)

    def _put(self, record: WorkflowRecord, *, expect: int | None) -> None:
        record.version += 1
        try:
            self._save(_item(record), expect)
        except Exception:
            record.version -= 1
            raise
        if self.on_write is not None:
            self.on_write(record)

    def _save(self, item: dict, expect: int | None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if expect is None:
            kwargs["ConditionExpression"] = "attribute_not_exists(workflow_id)"
        else:
            kwargs["ConditionExpression"] = "version = :v"
            kwargs["ExpressionAttributeValues"] = {":v": {"N": str(expect)}}
        self.client.put_item(**kwargs)


class MemoryWorkflowStore(WorkflowStore):
    """The same store over a dict, with the same conditional writes: for tests of the workflow logic whose
    examples must stay cheap (the properties). The DynamoDB one is tested against moto (test_workflow_state.py)."""

    def __init__(self, *, on_write: Callable[[WorkflowRecord], None] | None = None) -> None:
        super().__init__("memory", None, on_write=on_write)
        self._items: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _load(self, workflow_id: str) -> dict | None:
        with self._lock:
            item = self._items.get(workflow_id)
            return json.loads(json.dumps(item)) if item is not None else None

    def _query_customer(self, customer_id: str) -> list[dict]:
        with self._lock:
            found = [i for i in self._items.values() if (i.get("customer_id") or {}).get("S") == customer_id]
        return sorted(found, key=lambda i: i["created_at"]["S"])

    def _save(self, item: dict, expect: int | None) -> None:
        from botocore.exceptions import ClientError

        key = item["workflow_id"]["S"]
        with self._lock:
            existing = self._items.get(key)
            if (expect is None and existing is not None) or (
                    expect is not None and (existing is None or int(existing["version"]["N"]) != expect)):
                raise ClientError({"Error": {"Code": "ConditionalCheckFailedException",
                                             "Message": "The conditional request failed"}}, "PutItem")
            self._items[key] = json.loads(json.dumps(item))


def _item(record: WorkflowRecord) -> dict[str, Any]:
    state = record.state
    item: dict[str, Any] = {
        "workflow_id": {"S": state.workflow_id},
        "customer_id": {"S": state.customer_id},
        "created_at": {"S": state.created_at.isoformat()},
        "kind": {"S": str(state.kind)},
        "status": {"S": str(state.status)},
        "state": {"S": state.model_dump_json()},
        "cancel_requested": {"BOOL": record.cancel_requested},
        "executions": {"S": json.dumps(record.executions)},
        "version": {"N": str(record.version)},
    }
    if record.callback_id:
        item["callback_id"] = {"S": record.callback_id}
    if record.project_id:
        item["project_id"] = {"S": record.project_id}
    return item


def _record(item: dict[str, Any]) -> WorkflowRecord:
    return WorkflowRecord(
        state=WorkflowState.model_validate_json(item["state"]["S"]),
        callback_id=(item.get("callback_id") or {}).get("S"),
        cancel_requested=bool((item.get("cancel_requested") or {}).get("BOOL", False)),
        executions=json.loads((item.get("executions") or {}).get("S", "[]")),
        version=int(item["version"]["N"]),
        project_id=(item.get("project_id") or {}).get("S", ""),
    )

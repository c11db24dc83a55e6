"""A readable log of the pipeline: which invocation, which agent, which tool, status, cost.

It follows the invocation records through the internal API and the audit records in the audit table, and reports
each change once, so `aidlc dev` shows what happens without reading JSON logs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from runtime.local.stack import LocalStack


class PipelineFollower:
    def __init__(self, stack: LocalStack, emit: Callable[[str], None], interval: float = 0.5) -> None:
        self.stack = stack
        self.emit = emit
        self.interval = interval
        self._seen_status: dict[str, str] = {}
        self._seen_audit: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> None:
        listing = self.stack.api_get(f"/project/{self.stack.project.project_id}/invocations?limit=50")
        items = listing.get("invocations", listing.get("items", [])) if isinstance(listing, dict) else listing
        for inv in reversed(items):
            invocation_id = inv["invocation_id"]
            self._report_tools(inv)
            if self._seen_status.get(invocation_id) == inv["status"]:
                continue
            self._seen_status[invocation_id] = inv["status"]
            self.emit(self.describe(inv))

    def describe(self, inv: dict[str, Any]) -> str:
        line = f"{inv['invocation_id'][-8:]}  {inv['agent_type']:<10} {inv['status']:<9}"
        if inv.get("parent_invocation_id"):
            line += f" after {inv['parent_invocation_id'][-8:]}"
        if inv["status"] in ("completed", "failed", "cancelled"):
            line += f"  ${float(inv.get('cost_usd') or 0):.4f}  {inv.get('token_usage', {}).get('total_tokens', 0)} tokens"
        if inv.get("error_code"):
            line += f"  {inv['error_code']}: {inv.get('error_detail') or ''}"
        for artifact in inv.get("output_artifacts") or []:
            line += f"\n{'':>10}-> {artifact['type']}: {self.stack.dashboard.local_artifact_url(artifact)}"
        return line

    def _report_tools(self, inv: dict[str, Any]) -> None:
        if inv["status"] not in ("running", "completed", "failed"):
            return
        import boto3
        from boto3.dynamodb.conditions import Key

        table = boto3.resource("dynamodb", endpoint_url=self.stack.aws.endpoint_url).Table(
            self.stack.aws.tables["audit"]
        )
        for record in table.query(KeyConditionExpression=Key("invocation_id").eq(inv["invocation_id"]))["Items"]:
            key = (inv["invocation_id"], str(record.get("seq")))
            if record.get("source") == "tool":  # each call is also recorded by the agent: one line per call
                continue
            if key in self._seen_audit:
                continue
            self._seen_audit.add(key)
            self.emit(
                f"{inv['invocation_id'][-8:]}  {inv['agent_type']:<10} tool     {record.get('tool')} "
                f"{record.get('outcome')} ({record.get('duration_ms', '?')} ms)"
            )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # the stack is stopping, or a record is mid-write: try again next tick
                if self._stop.is_set():
                    return
                self.emit(f"(log follower: {type(exc).__name__}: {exc})")

    def start(self) -> "PipelineFollower":
        self._thread = threading.Thread(target=self._run, name="pipeline-log", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

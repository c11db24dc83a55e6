"""Both workflows on one machine: the durable SDK's local runner, AWS on moto (Organizations, STS, CloudFormation,
S3, DynamoDB), Slack through whatever notifier is given (the Slack emulator's WebClient in `aidlc dev` and the
demo). What `aidlc dev`, `aidlc demo onboarding`, the integration tests and the benchmark run.

    with LocalWorkflows.in_moto() as local:          # a fresh moto of its own (tests, bench)
        record = local.engine.start("onboarding", {"requirements": {...}})
        local.wait(record.workflow_id)

The caller owns moto's lifetime when it passes clients made inside its own mock (`LocalWorkflows(...)`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from runtime import resources
from runtime.onboarding.models import WorkflowStatus
from runtime.onboarding.workflows.engine import LocalBackend, NullNotifier, WorkflowEngine, WorkflowServices
from runtime.onboarding.workflows.state import WorkflowRecord

REGION = "us-east-1"
TERMINAL = (WorkflowStatus.SUCCEEDED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)


def declared_agent_tools() -> dict[str, list[str]] | None:
    """None when the onboarding and provisioning agent plugins are registered (their declared tools apply);
    otherwise each is given the onboarding tools explicitly, so the workflows run while a tree lacks the plugins."""
    from runtime.registry import get_registry

    registry = get_registry()
    if "onboarding" in registry and "provisioning" in registry:
        return None
    from runtime.onboarding.tools import TOOL_NAMES

    return {"onboarding": list(TOOL_NAMES), "provisioning": list(TOOL_NAMES)}


@dataclass
class LocalWorkflows:
    services: WorkflowServices
    backend: LocalBackend
    engine: WorkflowEngine
    audit: Any = None
    extras: dict = field(default_factory=dict)

    @classmethod
    def build(cls, *, dynamodb: Any, s3: Any, table: str, bucket: str, region: str = REGION, notifier: Any = None,
              audit: Any = None, aws_options: dict | None = None, poll_seconds: int = 5,
              shared_breakers: bool = True, tools: Any = None, **options: Any) -> "LocalWorkflows":
        from runtime.onboarding.aws import AwsClients
        from runtime.onboarding.package_store import PackageStore, ensure_package_bucket
        from runtime.onboarding.workflows import onboarding, provisioning
        from runtime.onboarding.workflows.wiring import build_services, tool_services
        from runtime.tools.audit import MemoryAuditSink
        from runtime.tools.registry import ToolRegistry

        audit = audit if audit is not None else MemoryAuditSink()
        aws = AwsClients(audit=audit, region=region, **(aws_options or {}))
        ensure_package_bucket(s3, bucket, region)
        packages = PackageStore(aws.client("s3"), bucket)
        services = build_services(dynamodb=dynamodb, table=table, tools=tools or ToolRegistry.default(),
                                  tool_services=tool_services(aws=aws, packages=packages, audit=audit),
                                  notifier=notifier or NullNotifier(), shared_breakers=shared_breakers,
                                  poll_seconds=poll_seconds, **options)
        services.alerts.metrics_enabled = False  # locally: the alert's Slack message only
        backend = LocalBackend({"onboarding": onboarding.make_handler(services),
                                "provisioning": provisioning.make_handler(services)})
        return cls(services=services, backend=backend, engine=WorkflowEngine(services, backend), audit=audit)

    @classmethod
    @contextlib.contextmanager
    def in_moto(cls, **options: Any) -> Iterator["LocalWorkflows"]:
        """A fresh moto (its own `mock_aws`), the workflows table and package bucket made in it."""
        import boto3
        from moto import mock_aws

        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            table = "aidlc-local-workflows"
            dynamodb.create_table(**resources.WORKFLOWS.create_table_request(table))
            local = cls.build(dynamodb=dynamodb, s3=boto3.client("s3", region_name=REGION), table=table,
                              bucket="aidlc-local-packages", **options)
            try:
                yield local
            finally:
                local.close()

    def close(self) -> None:
        self.backend.close()

    # --- following a workflow ---------------------------------------------------------------------------------

    def record(self, workflow_id: str) -> WorkflowRecord:
        return self.services.store.get(workflow_id)

    def wait(self, workflow_id: str, timeout: float = 120) -> WorkflowRecord:
        """Until the workflow's current execution ends (its record then says how the workflow stands)."""
        record = self.record(workflow_id)
        self.backend.wait(record.executions[-1], timeout=int(timeout))
        return self.record(workflow_id)

    def wait_for(self, workflow_id: str, status: WorkflowStatus, timeout: float = 60) -> WorkflowRecord:
        deadline = time.monotonic() + timeout
        while True:
            record = self.record(workflow_id)
            if record.state.status == status and (status != WorkflowStatus.WAITING_APPROVAL or record.callback_id):
                return record
            if record.state.status in TERMINAL and status not in TERMINAL:
                raise AssertionError(f"workflow {workflow_id} ended {record.state.status} waiting for {status}: "
                                     f"{record.state.error}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"workflow {workflow_id} is {record.state.status}, not {status}")
            time.sleep(0.02)

    def provisioning_of(self, onboarding_id: str) -> str | None:
        record = self.record(onboarding_id)
        done = record.completed("provisioning_started")
        return done.result.get("workflow_id") if done else None

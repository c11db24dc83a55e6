"""A synthetic workflow on the real durable engine and the real workflows table (moto): N steps, any of which can
fail (transiently, permanently, critically) a given number of times, every run of a step's work counted.

The engine tests and the properties (15, 16, 17) use it: it exercises exactly the machinery both real workflows
stand on (`StepRunner.run`, `run_workflow`, `WorkflowEngine`, the durable SDK's runner) without AWS work in the
steps, so one example costs a few durable checkpoints.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field

import boto3
from aws_durable_execution_sdk_python import durable_execution
from moto import mock_aws

from runtime.onboarding.models import WorkflowKind, WorkflowState
from runtime.onboarding.workflows.engine import LocalBackend, WorkflowEngine, WorkflowServices, run_workflow
from runtime.onboarding.workflows.resilience import (
    CriticalStepError,
    PermanentStepError,
    RetryPolicy,
    TransientStepError,
)
from runtime.onboarding.workflows.state import MemoryWorkflowStore, WorkflowStore
from runtime.resources import WORKFLOWS

ERRORS = {"transient": TransientStepError, "permanent": PermanentStepError, "critical": CriticalStepError}


@dataclass
class Synthetic:
    engine: WorkflowEngine
    backend: LocalBackend
    store: WorkflowStore
    runs: Counter = field(default_factory=Counter)  # (workflow_id, step) -> times its work ran
    succeeded: Counter = field(default_factory=Counter)  # (workflow_id, step) -> times its work succeeded
    failures: dict = field(default_factory=dict)  # (workflow_id, step) -> [error class, ...] still to raise
    seen_before: dict = field(default_factory=dict)  # (workflow_id, step) -> previous step's checkpoint stored?

    def start(self, steps: int, failures: dict[int, list[str]] | None = None, customer_id: str = "acme-co") -> str:
        """A workflow of `steps` steps; `failures`: step index -> the errors its work raises, in order."""
        state = WorkflowState(kind=WorkflowKind.ONBOARDING, customer_id=customer_id, input={"steps": steps})
        for i, errors in (failures or {}).items():
            self.failures[(state.workflow_id, f"step-{i}")] = list(errors)
        record = self.store.create(state)
        return self.engine.launch(record).workflow_id

    def wait(self, workflow_id: str):
        record = self.store.get(workflow_id)
        return self.backend.wait(record.executions[-1], timeout=60)


def synthetic_flow(sx: Synthetic):
    def flow(runner, record):
        wid = record.workflow_id
        out = {}
        for i in range(int(record.state.input.get("steps", 2))):
            step = f"step-{i}"

            def work(step=step, i=i):
                sx.runs[(wid, step)] += 1
                # property 15: when this step's work starts, the previous step's checkpoint is already stored
                sx.seen_before[(wid, step)] = i == 0 or sx.store.get(wid).completed(f"step-{i - 1}") is not None
                pending = sx.failures.get((wid, step)) or []
                if pending:
                    raise ERRORS[pending.pop(0)](f"{step} failed on purpose")
                sx.succeeded[(wid, step)] += 1
                return {"step": step, "n": i}

            out[step] = runner.run(step, work)
        return {"steps": len(out)}
    return flow


@contextlib.contextmanager
def synthetic_engine(retry: RetryPolicy | None = None, *, dynamodb: bool = True):
    """One local durable backend for many workflows, over the workflows table in moto (`dynamodb`) or the
    in-memory store (the properties' hundreds of examples; moto costs ~17 ms a call on these machines)."""
    with mock_aws() if dynamodb else contextlib.nullcontext():  # no moto of its own otherwise (nested mocks share)
        if dynamodb:
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(**WORKFLOWS.create_table_request("workflows-test"))
            store = WorkflowStore("workflows-test", client)
        else:
            store = MemoryWorkflowStore()
        services = WorkflowServices(store=store, tools=None, tool_services=None,
                                    retry=retry or RetryPolicy(max_attempts=3))
        services.alerts.metrics_enabled = False
        holder: dict = {}

        @durable_execution
        def handler(event, context):
            return run_workflow(context, services, event["workflow_id"], synthetic_flow(holder["sx"]))

        backend = LocalBackend({"onboarding": handler})
        sx = Synthetic(engine=WorkflowEngine(services, backend), backend=backend, store=store)
        holder["sx"] = sx
        try:
            yield sx
        finally:
            backend.close()

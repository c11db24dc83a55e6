"""The workflow engine: Lambda durable functions (aws-durable-execution-sdk-python), our state beside them.

    engine = WorkflowEngine(services, LocalBackend(...))       # or LambdaBackend(lambda client, function names)
    record = engine.start("onboarding", {"requirements": {...}}, thread={"channel": "C1", "ts": "..."})
    engine.status(record.workflow_id); engine.approve(id); engine.cancel(id); engine.resume(id)

Two layers of checkpoints, each doing what it is good at:

- The durable engine checkpoints every `context.step` result: a replay of the same execution (after a wait, a
  callback, a retry delay or a Lambda instance lost mid-way) skips completed steps without running them.
- `StepRunner.run` also writes each step's `Checkpoint` into the workflows table (state.py) inside the step, before
  it returns, so before the next step starts (property 15), and reads it first: a *new* execution for the same
  workflow (`resume` after a failure, which the durable service cannot restart) returns a completed step's recorded
  result instead of running it again (property 17). Cancel is read at the same place: the workflow stops at the
  next step boundary.

Each step's work goes through `ToolRegistry.call` as the onboarding or provisioning agent (Cedar policy, audit
trail), behind the service's circuit breaker, retried by the engine with growing delays when the error is transient
(resilience.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_durable_execution_sdk_python.exceptions import DurableOperationError

from runtime.onboarding.models import (
    ErrorClass,
    ErrorContext,
    StepStatus,
    WorkflowKind,
    WorkflowState,
    WorkflowStatus,
    new_ulid,
)
from runtime.onboarding.workflows.resilience import (
    DEFAULT_RETRY,
    Alerts,
    Breakers,
    CriticalStepError,
    RetryPolicy,
    StepFailure,
    WorkflowCancelled,
    failure_for,
    step_config,
)
from runtime.onboarding.workflows.state import WorkflowNotFound, WorkflowRecord, WorkflowStore

log = logging.getLogger(__name__)

# Which external service a tool reaches (its circuit breaker); None: local work (build, validate).
TOOL_SERVICE: dict[str, str | None] = {
    "org_describe": "organizations", "org_create_ou": "organizations", "org_create_account": "organizations",
    "org_account_status": "organizations", "org_create_policy": "organizations",
    "org_attach_policy": "organizations", "account_close": "organizations",
    "cfn_build_package": None, "cfn_validate_package": None,
    "cfn_version_package": "s3", "cfn_retrieve_package": "s3",
    "cfn_create_change_set": "cloudformation", "cfn_deploy": "cloudformation", "cfn_stack_status": "cloudformation",
    "cfn_stack_events": "cloudformation", "cfn_verify_resources": "cloudformation", "cfn_rollback": "cloudformation",
}


class WorkflowError(Exception):
    """A request the engine refuses: `status` is the HTTP status the API answers with (404 unknown, 409 state)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- what the steps stand on -----------------------------------------------------------------------------------

class ThreadNotifier(Protocol):
    def post(self, thread: dict | None, text: str, *, blocks: list | None = None) -> dict | None:
        """Post into the workflow's thread (opening one in `thread["channel"]` when it has no ts yet); returns
        the thread. None: no Slack channel for this workflow (started from the API without one)."""


class NullNotifier:
    """No Slack: notices are logged (and kept, for the API's callers and the tests)."""

    def __init__(self) -> None:
        self.posted: list[tuple[dict | None, str]] = []

    def post(self, thread: dict | None, text: str, *, blocks: list | None = None) -> dict | None:
        self.posted.append((thread, text))
        log.info("workflow notice: %s", text)
        return thread


class SlackThreadNotifier:
    """A workflow's notices in its Slack thread through the bot's `SlackNotifier` (runtime/slack/notifier.py)."""

    def __init__(self, notifier: Any) -> None:
        self.notifier = notifier

    def post(self, thread: dict | None, text: str, *, blocks: list | None = None) -> dict | None:
        if not thread or not thread.get("channel"):
            return thread
        kwargs: dict[str, Any] = {"channel": thread["channel"], "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        if thread.get("ts"):
            kwargs["thread_ts"] = thread["ts"]
            self.notifier.client.chat_postMessage(**kwargs)
            return thread
        ts = self.notifier.client.chat_postMessage(**kwargs)["ts"]
        return {**thread, "ts": ts}


@dataclass
class WorkflowServices:
    """Everything a workflow step uses. `tool_services` is a `ToolServices` with `aws`, `packages`, `policy` and
    `audit` set (B's tools reach AWS through them); `plan` turns requirements into the organisation plan (the
    onboarding agent's; offline, `OrganizationConfig.from_requirements`)."""

    store: WorkflowStore
    tools: Any  # ToolRegistry
    tool_services: Any  # ToolServices
    notifier: Any = field(default_factory=NullNotifier)
    breakers: Breakers = field(default_factory=Breakers)
    alerts: Alerts | None = None
    retry: RetryPolicy = DEFAULT_RETRY
    poll_seconds: int = 10  # the wait between two status polls (accounts, stacks)
    max_polls: int = 60
    plan: Callable[[Any], Any] | None = None
    start_workflow: Callable[..., WorkflowRecord] | None = None  # the engine's start (onboarding starts provisioning)
    send_callback: Callable[[str, dict], None] | None = None  # the backend's (a cancel answering a pending approval)
    step_observer: Callable[[str, str, str], None] | None = None  # (workflow_id, step, "run"|"skip"): tests count
    # agent -> the tools it may call, when not the registry's agent declarations (None: the plugins' declarations)
    agent_tools: dict[str, list[str]] | None = None

    def __post_init__(self) -> None:
        if self.alerts is None:
            self.alerts = Alerts(lambda thread, text: self.notifier.post(thread, text), metrics_enabled=True)


# --- running one step ------------------------------------------------------------------------------------------

class StepRunner:
    """The steps of one execution of one workflow."""

    def __init__(self, context: Any, services: WorkflowServices, workflow_id: str) -> None:
        self.context = context
        self.services = services
        self.workflow_id = workflow_id
        self.config = step_config(services.retry)

    @property
    def store(self) -> WorkflowStore:
        return self.services.store

    def record(self) -> WorkflowRecord:
        return self.store.get(self.workflow_id)

    def run(self, name: str, work: Callable[[], dict], *, service: str | None = None,
            check_cancel: bool = True) -> dict:
        """One durable step: cancel checked, a completed checkpoint reused, else `work` run (behind `service`'s
        breaker) and its checkpoint written before the step returns."""

        def body(_step_context: Any) -> dict:
            record = self.store.get(self.workflow_id)
            if check_cancel and record.cancel_requested:
                raise WorkflowCancelled(f"cancel requested before {name}")
            done = record.completed(name)
            if done is not None:
                self._observe(name, "skip")
                return done.result
            started = self.store.start_step(self.workflow_id, name, current=record)
            self._observe(name, "run")
            try:
                result = self.services.breakers.call(service, work)
            except StepFailure as exc:
                self.store.finish_step(self.workflow_id, name, status=StepStatus.FAILED,
                                       error=_error_context(name, exc))
                raise
            except WorkflowCancelled:
                self.store.finish_step(self.workflow_id, name, status=StepStatus.FAILED)
                raise
            except Exception as exc:  # a bug or an unexpected adapter error: permanent, recorded, not retried
                failure = failure_for(f"{type(exc).__name__}: {exc}", operation=name)
                self.store.finish_step(self.workflow_id, name, status=StepStatus.FAILED,
                                       error=_error_context(name, failure))
                raise failure from exc
            result = dict(result or {})
            # `started` is current unless the work itself wrote the record (a thread, a callback id): then the
            # conditional put fails once and the record is read again.
            self.store.finish_step(self.workflow_id, name, status=StepStatus.SUCCEEDED, result=result,
                                   current=started)
            return result

        return self.context.step(body, name=name, config=self.config)

    def tool(self, agent_type: str, name: str, args: dict, *, step: str | None = None) -> dict:
        """A tool call as `agent_type` (policy + audit apply), its failure a classified step error."""
        from runtime.tools.base import ToolContext

        allowed = (self.services.agent_tools or {}).get(agent_type)
        result = self.services.tools.call(name, args, ToolContext(agent_type=agent_type, invocation_id=self.workflow_id,
                                                                  allowed_tools=allowed,
                                                                  services=self.services.tool_services))
        if not result.ok:
            raise failure_for(result.error or f"{name} failed", denied=result.denied,
                              service=TOOL_SERVICE.get(name) or "", operation=name)
        return result.content

    def step_tool(self, step: str, agent_type: str, name: str, args: dict) -> dict:
        """A step that is one tool call."""
        return self.run(step, lambda: self.tool(agent_type, name, args), service=TOOL_SERVICE.get(name))

    def notify(self, step: str, text: str, *, blocks: list | None = None, check_cancel: bool = True) -> dict:
        """A notice in the thread as its own step (posted once: a replay or resume skips it)."""

        def work() -> dict:
            record = self.store.get(self.workflow_id)
            thread = self.services.notifier.post(record.state.thread, text, blocks=blocks)
            if thread != record.state.thread:
                def change(r: WorkflowRecord) -> None:
                    r.state.thread = thread
                self.store.update(self.workflow_id, change)
            return {"text": text}

        return self.run(step, work, service="slack", check_cancel=check_cancel)

    def wait(self, seconds: int, name: str) -> None:
        from aws_durable_execution_sdk_python.config import Duration

        self.context.wait(Duration.from_seconds(max(1, int(seconds))), name=name)

    def finish(self, status: WorkflowStatus, *, error: ErrorContext | None = None) -> dict:
        """The outcome, written once (a step: a replay does not write it again)."""

        def body(_step_context: Any) -> dict:
            self.store.set_status(self.workflow_id, status, error=error, clear_callback=True)
            return {"status": str(status)}

        return self.context.step(body, name=f"outcome-{status}")

    def failure_context(self, exc: BaseException) -> ErrorContext:
        """The error context of a failed step (as its checkpoint recorded it)."""
        record = self.store.get(self.workflow_id)
        if record.state.error is not None:
            return record.state.error
        return ErrorContext(step=record.state.current_step or "?", error_class=error_class_of(exc),
                            message=str(getattr(exc, "message", None) or exc))

    def _observe(self, step: str, what: str) -> None:
        if self.services.step_observer is not None:
            self.services.step_observer(self.workflow_id, step, what)


def error_class_of(exc: BaseException) -> ErrorClass:
    """The class of a step's failure as the durable engine hands it back (`StepError.error_type` is the name of
    the exception the step raised)."""
    name = getattr(exc, "error_type", None) or type(exc).__name__
    name = name.rsplit(".", 1)[-1]
    if name in ("CriticalStepError", "PolicyViolation"):
        return ErrorClass.CRITICAL
    if name == "TransientStepError":
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


def is_cancel(exc: BaseException) -> bool:
    name = getattr(exc, "error_type", None) or type(exc).__name__
    return isinstance(exc, WorkflowCancelled) or name.rsplit(".", 1)[-1] == "WorkflowCancelled"


def _error_context(step: str, exc: StepFailure) -> ErrorContext:
    return ErrorContext(step=step, error_class=ErrorClass(exc.error_class), service=exc.service or None,
                        operation=exc.operation or None, code=exc.code or None, message=exc.message[:2000],
                        details=exc.details)


def run_workflow(context: Any, services: WorkflowServices, workflow_id: str,
                 flow: Callable[[StepRunner, WorkflowRecord], dict],
                 on_failure: Callable[[StepRunner, ErrorContext], dict] | None = None,
                 on_cancel: Callable[[StepRunner, ErrorContext], dict] | None = None) -> dict:
    """The common frame of both workflows: the flow, then its outcome (succeeded / cancelled / failed, with the
    critical halt and alert, and the workflow's own compensation: `on_failure`, and `on_cancel` for a cancel that
    leaves work to undo, e.g. stacks half deployed)."""
    runner = StepRunner(context, services, workflow_id)
    record = runner.record()
    try:
        result = flow(runner, record)
    except DurableOperationError as exc:
        if is_cancel(exc) or is_cancel(exc.__cause__ or exc):
            reason = str(getattr(exc, "message", "") or exc)
            undone: dict = {}
            if on_cancel is not None:
                step = context.step(lambda _c: runner.record().state.current_step or "?", name="cancelled-at")
                try:
                    undone = on_cancel(runner, ErrorContext(step=step, error_class=ErrorClass.PERMANENT,
                                                             code="Cancelled", message=reason))
                except DurableOperationError as compensation:  # what was deployed is still there: not "cancelled"
                    failed = runner.failure_context(compensation)
                    error = ErrorContext(step=failed.step, error_class=ErrorClass.PERMANENT, code="Cancelled",
                                         message=f"cancelled, then the rollback failed: {failed.message}",
                                         details={"compensation_failed": {"step": failed.step, "code": failed.code}})
                    runner.notify("compensation-failed", f"Workflow {workflow_id} was cancelled but the rollback "
                                  f"failed at {failed.step}: {failed.message}. A person must look at it.",
                                  check_cancel=False)
                    runner.finish(WorkflowStatus.FAILED, error=error)
                    return {"workflow_id": workflow_id, "status": str(WorkflowStatus.FAILED),
                            "error": error.model_dump(mode="json"), "compensation_failed": failed.step}
            runner.notify("notify-cancelled", f"Workflow {workflow_id} cancelled: {reason}.", check_cancel=False)
            runner.finish(WorkflowStatus.CANCELLED)
            return {"workflow_id": workflow_id, "status": str(WorkflowStatus.CANCELLED), **undone}
        error = runner.failure_context(exc)
        outcome: dict = {}
        if error.error_class == ErrorClass.CRITICAL:
            def alert(_step_context: Any) -> dict:
                services.alerts.critical(workflow_id=workflow_id, kind=str(record.state.kind), step=error.step,
                                         error=CriticalStepError(error.message, code=error.code or ""),
                                         thread=runner.record().state.thread)
                return {"alerted": True}
            context.step(alert, name="critical-alert")
        elif on_failure is not None:
            try:
                outcome = on_failure(runner, error)
            except DurableOperationError as compensation:  # the rollback itself failed: say so, keep both
                failed = runner.failure_context(compensation)
                error = error.model_copy(update={"details": {**error.details, "compensation_failed": {
                    "step": failed.step, "message": failed.message, "code": failed.code}}})
                runner.notify("compensation-failed", f"Workflow {workflow_id}: the rollback failed at {failed.step}: "
                              f"{failed.message}. A person must look at it before it is resumed.", check_cancel=False)
                outcome = {"compensation_failed": failed.step}
        runner.finish(WorkflowStatus.FAILED, error=error)
        return {"workflow_id": workflow_id, "status": str(WorkflowStatus.FAILED), "error": error.model_dump(mode="json"),
                **outcome}
    runner.finish(WorkflowStatus.SUCCEEDED)
    return {"workflow_id": workflow_id, "status": str(WorkflowStatus.SUCCEEDED), **result}


# --- starting executions ---------------------------------------------------------------------------------------

class Backend(Protocol):
    def start(self, kind: str, workflow_id: str, execution_name: str) -> str: ...

    def send_callback(self, callback_id: str, result: dict) -> None: ...


class LocalBackend:
    """Durable executions run in this process by the durable testing SDK's runner (`aidlc dev`, tests, the demo and
    the benchmark): the same handlers, the same checkpoint/replay semantics as the service, waits skipped."""

    def __init__(self, handlers: Mapping[str, Callable], *, execution_timeout: int = 900,
                 skip_time: bool = True) -> None:
        from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

        self._runners = {kind: DurableFunctionTestRunner(handler=h, poll_interval=0.05, skip_time=skip_time,
                                                         execution_timeout=execution_timeout)
                         for kind, h in handlers.items()}
        self._executions: dict[str, tuple[str, str]] = {}  # execution name -> (kind, arn)
        self._lock = threading.Lock()
        self.execution_timeout = execution_timeout

    def start(self, kind: str, workflow_id: str, execution_name: str) -> str:
        runner = self._runners[kind]
        arn = runner.run_async(input=json.dumps({"workflow_id": workflow_id}), function_name=f"{kind}-workflow",
                               execution_name=execution_name, execution_timeout=self.execution_timeout)
        with self._lock:
            self._executions[execution_name] = (kind, arn)
        return arn

    def send_callback(self, callback_id: str, result: dict) -> None:
        payload = json.dumps(result).encode()
        errors = []
        for runner in self._runners.values():  # the callback id names its execution; the runner that has it takes it
            try:
                runner.send_callback_success(callback_id, payload)
                return
            except Exception as exc:  # not this runner's execution
                errors.append(exc)
        raise WorkflowError(409, f"no execution waits for callback {callback_id[:16]}...: {errors[-1] if errors else ''}")

    def wait(self, execution_name: str, timeout: int = 120) -> Any:
        """Block until the execution finishes (tests, demo, benchmark); its DurableFunctionTestResult."""
        kind, arn = self._executions[execution_name]
        return self._runners[kind].wait_for_result(arn, timeout=timeout)

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()


class LambdaBackend:
    """Durable executions in AWS: `Invoke` with a `DurableExecutionName` (one name, one execution: a retried start
    is not a second workflow), callbacks through `SendDurableExecutionCallbackSuccess`."""

    def __init__(self, client: Any, function_names: Mapping[str, str]) -> None:
        self.client = client
        self.function_names = dict(function_names)

    def start(self, kind: str, workflow_id: str, execution_name: str) -> str:
        try:
            function = self.function_names[kind]
        except KeyError:
            raise WorkflowError(503, f"no durable function is configured for {kind} workflows") from None
        self.client.invoke(FunctionName=function, InvocationType="Event", DurableExecutionName=execution_name,
                           Payload=json.dumps({"workflow_id": workflow_id}).encode())
        return execution_name

    def send_callback(self, callback_id: str, result: dict) -> None:
        self.client.send_durable_execution_callback_success(CallbackId=callback_id, Result=json.dumps(result).encode())


# --- the engine ------------------------------------------------------------------------------------------------

class WorkflowEngine:
    """start / status / resume / cancel / approve, over a backend that runs the durable executions."""

    def __init__(self, services: WorkflowServices, backend: Backend | None = None) -> None:
        self.services = services
        self.backend = backend
        if services.start_workflow is None:
            services.start_workflow = self.start
        if services.send_callback is None and backend is not None:
            services.send_callback = backend.send_callback

    @property
    def store(self) -> WorkflowStore:
        return self.services.store

    def start(self, kind: str, payload: Mapping[str, Any], *, thread: dict | None = None,
              workflow_id: str | None = None, project_id: str = "") -> WorkflowRecord:
        """Validate the input (a pydantic `ValidationError` names the field), record the workflow (for `project_id`:
        whose callers may see it, whose approvers approve it), start it."""
        from runtime.onboarding.workflows.inputs import parse_input

        workflow_kind = WorkflowKind(kind)
        parsed = parse_input(workflow_kind, payload)
        state = WorkflowState(workflow_id=workflow_id or new_ulid(), kind=workflow_kind,
                              customer_id=parsed["customer_id"], input=parsed, thread=thread)
        record = self.store.create(state, project_id=project_id)
        return self.launch(record)

    def status(self, workflow_id: str) -> WorkflowRecord:
        try:
            return self.store.get(workflow_id)
        except WorkflowNotFound:
            raise WorkflowError(404, f"workflow {workflow_id!r} not found") from None

    def resume(self, workflow_id: str) -> WorkflowRecord:
        """A failed workflow again, from its last good checkpoint: a new execution whose completed steps return
        their recorded results."""
        record = self.status(workflow_id)
        if record.state.status != WorkflowStatus.FAILED:
            raise WorkflowError(409, f"workflow {workflow_id} is {record.state.status}; only a failed workflow resumes")

        def change(r: WorkflowRecord) -> None:
            r.state.status = WorkflowStatus.RUNNING
            r.state.error = None
            r.cancel_requested = False
            r.callback_id = None
        record = self.store.update(workflow_id, change)
        return self.launch(record)

    def cancel(self, workflow_id: str) -> WorkflowRecord:
        """Stop at the next step boundary (recorded CANCELLED there); a workflow waiting for its approval is
        released at once (its callback answers "cancelled")."""
        record = self.status(workflow_id)
        if record.state.status in (WorkflowStatus.SUCCEEDED, WorkflowStatus.CANCELLED):
            raise WorkflowError(409, f"workflow {workflow_id} already {record.state.status}")
        if record.state.status == WorkflowStatus.FAILED:
            return self.store.set_status(workflow_id, WorkflowStatus.CANCELLED)  # nothing runs: recorded now

        def change(r: WorkflowRecord) -> None:
            r.cancel_requested = True
        record = self.store.update(workflow_id, change)
        if record.callback_id and self.backend is not None:
            try:
                self.backend.send_callback(record.callback_id, {"approved": False, "cancelled": True})
            except WorkflowError:
                pass  # already answered: the next step boundary sees the request
        return record

    def approve(self, workflow_id: str, *, approved: bool = True, by: str = "") -> WorkflowRecord:
        record = self.status(workflow_id)
        if record.state.status != WorkflowStatus.WAITING_APPROVAL or not record.callback_id:
            raise WorkflowError(409, f"workflow {workflow_id} is {record.state.status}, not waiting for an approval")
        if self.backend is None:
            raise WorkflowError(503, "no workflow backend is configured here")
        # The workflow itself records what follows (the callback's result is its next step's input): writing the
        # status here would race with a workflow that has already moved on.
        self.backend.send_callback(record.callback_id, {"approved": bool(approved), "by": by})
        self.audit_decision(workflow_id, by=by, outcome="ok", detail="approved" if approved else "rejected")
        return record

    def audit_decision(self, workflow_id: str, *, by: str, outcome: str, detail: str) -> None:
        """A change-set decision (or a refused attempt at one) in the one audit trail, beside the workflow's tool
        calls (invocation id: the workflow id)."""
        audit = getattr(self.services.tool_services, "audit", None)
        if audit is None:
            return
        from runtime.tools.audit import AuditRecord

        audit.record(AuditRecord.of_call(
            source="tool", tool="workflow_approval", args={"workflow_id": workflow_id, "by": by},
            outcome=outcome, duration_s=0.0, agent_type="provisioning", invocation_id=workflow_id,
            detail=f"{by or 'an API caller'}: {detail}"))

    def launch(self, record: WorkflowRecord) -> WorkflowRecord:
        """A new durable execution for a recorded workflow (its name: the workflow id and a count)."""
        if self.backend is None:
            raise WorkflowError(503, "no workflow backend is configured here")
        name = f"{record.workflow_id}-{len(record.executions) + 1}"

        def change(r: WorkflowRecord) -> None:
            r.executions.append(name)
        record = self.store.update(record.workflow_id, change)
        self.backend.start(str(record.state.kind), record.workflow_id, name)
        return record

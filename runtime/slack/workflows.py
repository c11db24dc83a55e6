"""The onboarding workflows from Slack: `/aidlc onboard`, `/aidlc provision`, `status|cancel|resume <workflow id>`
for a workflow id, and the change-set preview's Approve / Reject buttons (their value names the workflow, kind
"provisioning"). Each answer is one line for the person who asked; the workflow posts its steps in its own thread,
which the command opens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from runtime.slack import commands

log = logging.getLogger(__name__)


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:4])


class SlackWorkflows:
    def __init__(self, engine: Callable[[], Any], notifier: Callable[[], Any]) -> None:
        self._engine = engine
        self._notifier = notifier

    def owns(self, workflow_id: str) -> bool:
        """Whether the id is an onboarding workflow's (else it is a pipeline run's)."""
        from runtime.onboarding.workflows.engine import WorkflowError

        try:
            self._engine().status(workflow_id)
            return True
        except WorkflowError:
            return False

    def act(self, route: commands.Route, *, channel: str, user: str) -> tuple[str, str, dict]:
        """(status, text, fields) of the answer to a workflow command."""
        from runtime.onboarding.workflows.engine import WorkflowError

        engine = self._engine()
        try:
            if isinstance(route, commands.Status):
                return "status", status_text(engine.status(route.workflow_id)), {}
            if isinstance(route, commands.Cancel):
                record = engine.cancel(route.workflow_id)
                return "cancel", f"Workflow `{record.workflow_id}` will stop at its next step ({record.state.status}).", {}
            if isinstance(route, commands.Resume):
                record = engine.resume(route.workflow_id)
                return "resumed", f"Workflow `{record.workflow_id}` resumed from its last good checkpoint.", {}
            if isinstance(route, (commands.Onboard, commands.Provision)):
                return self._start(engine, route, channel=channel, user=user)
        except WorkflowError as exc:
            return "refused", exc.message, {}
        except ValidationError as exc:
            return "refused", f"I cannot start that: {_problems(exc)}", {}
        raise TypeError(f"not a workflow command: {route!r}")

    def _start(self, engine: Any, route: Any, *, channel: str, user: str) -> tuple[str, str, dict]:
        if isinstance(route, commands.Onboard):
            requirements: dict[str, Any] = {
                "customer_id": route.customer_id, "customer_name": route.customer_id,
                "contact_email": route.contact_email,
                "infrastructure": {"regions": list(route.regions), "services": list(route.services)}}
            if route.environments:
                requirements["environments"] = list(route.environments)
            kind, payload = "onboarding", {"requirements": requirements}
        else:
            kind, payload = "provisioning", {"customer_id": route.customer_id, "version": route.version}
        from runtime.onboarding.workflows.inputs import parse_input
        from runtime.onboarding.models import WorkflowKind

        parse_input(WorkflowKind(kind), payload)  # a bad field is refused before a thread is opened
        thread: dict[str, Any] = {"channel": channel}
        notifier = self._notifier()
        if notifier is not None:
            try:
                ts = notifier.open_thread(channel, f"<@{user}> asked for {kind} of `{route.customer_id}`",
                                          key=f"{kind}:{route.customer_id}:requested")
                thread["ts"] = ts
            except Exception as exc:  # the workflow opens its thread with its first notice instead
                log.warning("could not open the workflow's thread: %s", exc)
        record = engine.start(kind, payload, thread=thread)
        return ("started", f"Started {kind} of `{route.customer_id}` — workflow `{record.workflow_id}`; follow it "
                           "in the thread.", {"workflow_id": record.workflow_id, "thread_ts": thread.get("ts")})

    def button(self, *, workflow_id: str, approved: bool, user: str) -> dict:
        """A click on the change set's Approve / Reject."""
        from runtime.onboarding.workflows.engine import WorkflowError

        try:
            self._engine().approve(workflow_id, approved=approved, by=user)
        except WorkflowError as exc:
            return {"status": "refused", "reason": exc.message}
        return {"status": "approved" if approved else "rejected", "workflow_id": workflow_id}


def status_text(record: Any) -> str:
    state = record.state
    done = state.completed_steps()
    line = (f"Workflow `{state.workflow_id}` ({state.kind} of `{state.customer_id}`): *{state.status}*, "
            f"{len(done)} steps done" + (f", last `{done[-1]}`" if done else ""))
    if state.current_step and state.current_step != (done[-1] if done else None):
        line += f", now `{state.current_step}`"
    if state.error is not None:
        line += f". Error at `{state.error.step}` ({state.error.error_class}): {state.error.message[:300]}"
    if record.callback_id:
        line += ". Waiting for the change set's approval (the buttons in the thread)."
    return line

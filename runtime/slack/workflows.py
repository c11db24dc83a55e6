"""The onboarding workflows from Slack: `/aidlc onboard`, `/aidlc provision`, `status|cancel|resume <workflow id>`
for a workflow id, and the change-set preview's Approve / Reject buttons (their value names the workflow, kind
"provisioning"). Each answer is one line for the person who asked; the workflow posts its steps in its own thread,
which the command opens.

Only the approvers of the workflow's project decide a change set (`ProjectConfig.approvers`: Slack user ids, or a
user group's id `S…` whose members are asked of Slack with `usergroups.users.list`); anyone else who presses a
button gets an ephemeral message saying so (`chat.postEphemeral`), nothing is decided, and the attempt is in the
audit trail beside the decisions. A workflow started from Slack belongs to the deployment's default project."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from typing import Any

from pydantic import ValidationError

from runtime.slack import commands

log = logging.getLogger(__name__)


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:4])


_USER_GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")  # a Slack user group (subteam) id; user ids start with U or W


class SlackWorkflows:
    """`projects()`: the ProjectRepository whose projects' approvers decide change sets (its default project owns
    what Slack starts); `approvers(record)`: the Slack ids allowed, when given instead (the demo). Neither: nobody
    may decide from Slack (the API's approve remains)."""

    def __init__(self, engine: Callable[[], Any], notifier: Callable[[], Any], *,
                 projects: Callable[[], Any] | None = None,
                 approvers: Callable[[Any], Collection[str]] | None = None) -> None:
        self._engine = engine
        self._notifier = notifier
        self._projects = projects
        self._approvers = approvers

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
        record = engine.start(kind, payload, thread=thread, project_id=self._default_project_id())
        return ("started", f"Started {kind} of `{route.customer_id}` — workflow `{record.workflow_id}`; follow it "
                           "in the thread.", {"workflow_id": record.workflow_id, "thread_ts": thread.get("ts")})

    def button(self, *, workflow_id: str, approved: bool, user: str) -> dict:
        """A click on the change set's Approve / Reject: decided only by one of the project's approvers."""
        from runtime.onboarding.workflows.engine import WorkflowError

        engine = self._engine()
        try:
            record = engine.status(workflow_id)
            allowed = self.approvers_of(record)
            if user not in allowed:
                engine.audit_decision(workflow_id, by=user, outcome="denied",
                                      detail=f"pressed {'Approve' if approved else 'Reject'}, not an approver")
                self._tell(record, user, f"Only an approver of this workflow's project may decide its change set "
                                         f"({', '.join(f'<@{a}>' for a in sorted(allowed)) or 'none is configured'}"
                                         "); nothing was decided.")
                return {"status": "refused", "reason": "not an approver"}
            engine.approve(workflow_id, approved=approved, by=user)
        except WorkflowError as exc:
            return {"status": "refused", "reason": exc.message}
        return {"status": "approved" if approved else "rejected", "workflow_id": workflow_id}

    def approvers_of(self, record: Any) -> set[str]:
        """The Slack user ids who may decide this workflow's change set (user groups expanded)."""
        if self._approvers is not None:
            configured = list(self._approvers(record))
        else:
            project = self._project(record.project_id)
            configured = list(project.approvers) if project is not None else []
        users = {a for a in configured if not _USER_GROUP.match(a)}
        groups = [a for a in configured if _USER_GROUP.match(a)]
        notifier = self._notifier() if groups else None
        for group in groups:
            if notifier is None:
                log.warning("approver group %s cannot be expanded without the Slack bot", group)
                continue
            try:
                users |= set(notifier.client.usergroups_users_list(usergroup=group).get("users") or [])
            except Exception as exc:  # a group Slack will not list approves nobody (refusing is the safe side)
                log.warning("could not list approver group %s: %s", group, exc)
        return users

    def _project(self, project_id: str) -> Any:
        repository = self._projects() if self._projects is not None else None
        if repository is None:
            return None
        return repository.get(project_id) if project_id else getattr(repository, "default_project", None)

    def _default_project_id(self) -> str:
        project = self._project("")
        return getattr(project, "project_id", "") or ""

    def _tell(self, record: Any, user: str, text: str) -> None:
        """An ephemeral message, seen only by `user`, in the workflow's thread (where the buttons are)."""
        notifier = self._notifier()
        thread = record.state.thread or {}
        if notifier is None or not thread.get("channel"):
            return
        kwargs: dict[str, Any] = {"channel": thread["channel"], "user": user, "text": text}
        if thread.get("ts"):
            kwargs["thread_ts"] = thread["ts"]
        try:
            notifier.client.chat_postEphemeral(**kwargs)
        except Exception as exc:  # the refusal stands; only the message is lost
            log.warning("could not tell %s they may not approve: %s", user, exc)


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

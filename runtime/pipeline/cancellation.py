"""Cancel by status change (issue 15 item 5): a person moves a story out of the trigger status its run was started
by, while that run is queued or running, or into the project's `cancel_status`: the run ends `cancelled`, its
budget reservation and concurrency slot are released (the ledger's one transaction, as the API's cancel does), and
its agent session is stopped (the agent ends before its next model call, keeping what it made, and sends its one
completion event; the write-back then posts the comment and dashboard row and leaves the status as the person set
it).

`cancel_reason` is the decision, pure; `Cancellation.on_status_change` carries it out. The webhook calls it only for
a person's edit of the story's status property (runtime/pipeline/webhook.py), never for its own write-backs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

from runtime.errors import ErrorCode
from runtime.models import InvocationRecord, InvocationStatus, ProjectConfig
from runtime.pipeline.ports import AgentInvoker
from runtime.pipeline.state.invocations import InvocationRepository
from runtime.pipeline.state.ledger import RunLedger
from runtime.pipeline.state.projects import ProjectRepository

log = logging.getLogger(__name__)


def cancel_reason(record: InvocationRecord, status: str | None, project: ProjectConfig) -> str | None:
    """Why the story's status `status` (None: empty) cancels `record`, or None when it does not."""
    if record.status.is_final:
        return None
    shown = repr(status) if status else "no status"
    if project.cancel_status and status == project.cancel_status:
        return f"the story was moved to the cancel status {shown} while the run was {record.status.value}"
    if not project.cancel_on_status_change or status == record.trigger_value:
        return None
    return (f"the story was moved from {record.trigger_value!r} to {shown} while the run was "
            f"{record.status.value}")


class Cancellation:
    def __init__(self, *, invocations: InvocationRepository, projects: ProjectRepository,
                 invoker: Callable[[], AgentInvoker] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.invocations = invocations
        self.ledger = RunLedger(invocations, projects)
        self._invoker = invoker  # None: the session is not stopped here (its timeout or liveness check ends it)
        self.clock = clock

    def on_status_change(self, page_id: str, status: str | None, project: ProjectConfig) -> str | None:
        """Cancel the story's latest run if `status` says so; its invocation id when it was cancelled."""
        latest = self.invocations.latest_for_page(page_id)
        if latest is None or latest.project_id != project.project_id or cancel_reason(latest, status, project) is None:
            return None
        stored = self.invocations.get(latest.invocation_id)  # the index is eventually consistent: read the record
        if stored is None:
            return None
        record = stored.record
        reason = cancel_reason(record, status, project)
        if reason is None:
            return None
        if not self.ledger.finish(stored, {"status": InvocationStatus.CANCELLED.value,
                                           "error_code": ErrorCode.CANCELLED.value, "error_detail": reason,
                                           "completed_at": self.clock().isoformat()}):
            return None  # it finished meanwhile: nothing to cancel
        log.info("run cancelled: %s", reason, extra={"invocation_id": record.invocation_id})
        if record.status == InvocationStatus.RUNNING and record.session_id and self._invoker is not None:
            try:
                self._invoker().stop(record.agent_type, record.session_id, endpoint=record.agent_endpoint)
            except Exception as exc:  # noqa: BLE001 - cancelled and released already: the agent runs on to its own
                # limits at worst, and its completion event finds the run final (nothing more is recorded or charged)
                log.warning("could not stop the cancelled run's session: %s", exc,
                            extra={"invocation_id": record.invocation_id})
        return record.invocation_id

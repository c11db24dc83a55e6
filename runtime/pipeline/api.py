"""The internal API's operations (the HTTP routing is in `runtime/handlers/api.py`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

from runtime.errors import AidlcError, ErrorCode
from runtime.models import AgentName, InvocationRecord, InvocationStatus, PageSnapshot, QueueMessage, Ulid
from runtime.pipeline.state.invocations import InvocationRepository
from runtime.pipeline.ports import AgentInvoker, NotionPort, parent_ids, same_id
from runtime.pipeline.state.projects import ProjectRepository
from runtime.pipeline.ports import TaskPublisher
from runtime.pipeline.common import RunService


class InvokeRequest(BaseModel):
    """`POST /invoke`: start an agent on a story by hand (what a Status change does through the webhook)."""

    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(min_length=1, max_length=128)
    notion_page_id: str = Field(min_length=1, max_length=128)
    agent_type: AgentName
    story: PageSnapshot | None = None
    parent_invocation_id: Ulid | None = None


# Who is calling the internal API (the IAM principal API Gateway authenticated), set by the handler per request.
CALLER: ContextVar[str | None] = ContextVar("aidlc_api_caller", default=None)


def _not_found(what: str) -> AidlcError:
    return AidlcError(ErrorCode.NOT_FOUND, f"{what} not found")


class ApiService(RunService):
    def __init__(
        self,
        *,
        invocations: InvocationRepository,
        projects: ProjectRepository,
        queue: TaskPublisher,
        invoker: Callable[[], AgentInvoker],
        registry: Any | None = None,
        access: Mapping[str, Sequence[str]] | None = None,
        notion: Callable[[], NotionPort] | None = None,
    ) -> None:
        super().__init__(invocations=invocations, projects=projects, registry=registry)
        self.queue = queue
        self._invoker = invoker
        # principal -> the projects it may use ("*" for any); None: one tenant, every caller may use every project
        self.access = {k: frozenset(v) for k, v in access.items()} if access is not None else None
        self._notion = notion

    def _may_use(self, project_id: str) -> bool:
        if self.access is None:
            return True
        caller = CALLER.get() or ""
        allowed = self.access.get(caller, frozenset()) | self.access.get("*", frozenset())
        return "*" in allowed or project_id in allowed

    def _forbidden(self, project_id: str, what: str) -> AidlcError:
        caller = CALLER.get() or "an unidentified caller"
        allowed = sorted((self.access or {}).get(CALLER.get() or "", frozenset()))
        return AidlcError(ErrorCode.FORBIDDEN,
                          f"{what} belongs to project {project_id!r}, which {caller} may not use (its projects: "
                          f"{', '.join(allowed) or 'none'})")

    def _project(self, project_id: str):
        """The project, if this caller may use it: another tenant's project is refused (403) before it is looked
        up, so the answer is the same whether it exists or not."""
        if not self._may_use(project_id):
            raise self._forbidden(project_id, "this request")
        project = self.projects.get(project_id)
        if project is None:
            raise _not_found(f"project {project_id!r}")
        return project

    def _check_story_in_project(self, page_id: str, project: Any) -> None:
        """POST /invoke runs an agent on a story of this project's data source, never on another's page."""
        if not (project.notion_data_source_id and self._notion):
            return
        from runtime.notion.errors import NotionError

        try:
            page = self._notion().retrieve_page(page_id)
        except NotionError as exc:
            if exc.status in (400, 403, 404):
                raise _not_found(f"story {page_id!r}") from None
            raise
        source, database = parent_ids(page)
        wanted = {project.notion_data_source_id, project.notion_database_id} - {"", None}
        if not any(same_id(found, want) for found in (source, database) for want in wanted):
            raise _not_found(f"story {page_id!r} in project {project.project_id!r}")

    def invoke(self, request: InvokeRequest) -> dict[str, Any]:
        project = self._project(request.project_id)
        self._check_story_in_project(request.notion_page_id, project)
        if request.agent_type not in self.registry:
            raise AidlcError(ErrorCode.INVALID_REQUEST, f"no agent plugin named {request.agent_type!r}",
                             remediation="List the agents with `aidlc plugins`.")
        spec = self.registry.get(request.agent_type)
        story = request.story or PageSnapshot(title=request.notion_page_id)
        message = QueueMessage(
            invocation_id=str(ULID()),
            workspace_id=project.workspace_id,
            notion_page_id=request.notion_page_id,
            agent_type=spec.name,
            trigger_value=spec.triggers[0],
            project_id=project.project_id,
            page_snapshot=story.model_copy(update={"page_id": story.page_id or request.notion_page_id}),
            parent_invocation_id=request.parent_invocation_id,
        )
        # The record first, so GET /invocation/{id} answers at once; the orchestrator continues from it.
        self.invocations.create(InvocationRecord.from_message(
            message, {"agent_chain_template": project.agent_chain_template.value, "source": "api"}))
        self.queue.publish(message)
        return {"invocation_id": message.invocation_id, "status": InvocationStatus.QUEUED.value}

    def get(self, invocation_id: str) -> InvocationRecord:
        stored = self._stored(invocation_id)
        return stored.record

    def _stored(self, invocation_id: str):
        try:
            ULID.from_str(invocation_id)
        except ValueError:
            raise _not_found(f"invocation {invocation_id!r}") from None
        stored = self.invocations.get(invocation_id)
        if stored is None:
            raise _not_found(f"invocation {invocation_id!r}")
        if not self._may_use(stored.record.project_id):
            raise self._forbidden(stored.record.project_id, f"invocation {invocation_id!r}")
        return stored

    def cancel(self, invocation_id: str) -> InvocationRecord:
        stored = self._stored(invocation_id)
        record = stored.record
        if record.status.is_final:
            raise AidlcError(ErrorCode.INVALID_REQUEST, f"invocation is already {record.status.value}",
                             invocation_id=invocation_id, remediation="Only queued or running invocations can be cancelled.")
        changed = self.ledger.finish(
            stored,
            {"status": InvocationStatus.CANCELLED.value, "error_code": ErrorCode.CANCELLED.value,
             "error_detail": "cancelled through the API", "completed_at": datetime.now(timezone.utc).isoformat()},
        )
        if not changed:
            raise AidlcError(ErrorCode.INVALID_REQUEST, "invocation finished while being cancelled",
                             invocation_id=invocation_id, remediation="Nothing to do: it already finished.")
        if record.status == InvocationStatus.RUNNING and record.session_id:
            self._invoker().stop(record.agent_type, record.session_id, endpoint=record.agent_endpoint)
        return self.get(invocation_id)

    def list(self, project_id: str, *, status: str | None, agent_type: str | None, limit: int,
             next_token: str | None) -> dict[str, Any]:
        self._project(project_id)
        try:
            records, token = self.invocations.list_by_project(
                project_id, status=status, agent_type=agent_type, limit=limit, next_token=next_token
            )
        except ValueError as exc:
            raise AidlcError(ErrorCode.INVALID_REQUEST, str(exc)) from None
        return {"invocations": [r.model_dump(mode="json") for r in records], "next_token": token}

    def cost_summary(self, project_id: str) -> dict[str, Any]:
        project = self._project(project_id)
        budget = self.projects.budget(project_id)
        limit = project.cost_limit_per_month
        remaining = max(Decimal("0"), limit - budget.month_to_date)
        return {
            "project_id": project_id,
            "month": budget.month,
            "month_to_date_usd": str(budget.month_to_date),
            "reserved_usd": str(budget.reserved),
            "by_agent_usd": {agent: str(cost) for agent, cost in sorted(budget.by_agent.items())},
            # agent -> "endpoint:version" -> cost: a beta version's spend beside the one it is compared with
            "by_version_usd": _by_version(budget.by_version),
            "limit_usd": str(limit),
            "remaining_usd": str(remaining),
            "share_used": float(budget.month_to_date / limit) if limit else None,
            "running": self.projects.running(project_id),
        }


def _by_version(costs: dict[str, Decimal]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, cost in sorted(costs.items()):
        agent, _, version = key.partition("@")
        out.setdefault(agent, {})[version] = str(cost)
    return out

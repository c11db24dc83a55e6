"""Telling Notion how a run went: the story's status, a comment with the artifact links that mentions the story's
owner, and a row in the execution dashboard. Every step is retried on its own (so a comment is not posted twice
because the dashboard row failed); the adapter already waits out 429s, these retries ride out an outage."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import Retrying, retry_if_exception

from runtime.errors import DEFAULT_REMEDIATION
from runtime.models import InvocationRecord, InvocationStatus, ProjectConfig, RunProgress
from runtime.notion.adapter import plain_properties, property_value
from runtime.notion.errors import NotionError
from runtime.pipeline.common import retrying_after
from runtime.pipeline.ports import NotionPort

log = logging.getLogger(__name__)

OWNER_PROPERTY = "Owner"
_SCHEMAS_LOCK = threading.Lock()  # schema caches may be shared between write-backs (see NotionWriteBack)
_NO_PROGRESS_PROPERTY: set[str] = set()  # stories whose data source has no progress property (this process)


@dataclass
class WriteBackOutcome:
    delivered: bool
    errors: list[str] = field(default_factory=list)


class NotionWriteBack:
    def __init__(
        self,
        notion: NotionPort,
        *,
        retry_delays: Sequence[float] = (2.0, 8.0, 30.0),
        sleep: Callable[[float], None] = time.sleep,
        schemas: dict[str, dict] | None = None,
    ) -> None:
        """`schemas`: data source id -> its properties, shared by the write-backs of one process (read once)."""
        self.notion = notion
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self._schemas: dict[str, dict] = {} if schemas is None else schemas
        self._lock = _SCHEMAS_LOCK

    def _retrying(self) -> Retrying:
        return retrying_after(self.retry_delays, retry=retry_if_exception(can_succeed_later), sleep=self.sleep)

    def _step(self, name: str, action: Callable[[], Any], errors: list[str]) -> None:
        try:
            for attempt in self._retrying():
                with attempt:
                    action()
        except Exception as exc:  # noqa: BLE001 - any Notion failure is recorded, the run's result is kept
            log.warning("Notion write-back step %s failed after retries: %s", name, type(exc).__name__)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    def report(
        self,
        record: InvocationRecord,
        project: ProjectConfig,
        *,
        status_value: str | None,
        owner_ids: Sequence[str] = (),
        repeat: bool = False,
    ) -> WriteBackOutcome:
        """`repeat`: a re-delivery of a report that failed before, so what it creates may already be there."""
        errors: list[str] = []
        from runtime.notion.schema import PROGRESS_PROPERTY

        final = {PROGRESS_PROPERTY: property_value("rich_text", final_progress_text(record))}
        if status_value:
            # the story's live progress says how the run ended, in the status's own PATCH (if the story has it)
            self._step(
                "status",
                lambda: self.notion.set_status(record.notion_page_id, project.trigger_property, status_value,
                                               more=final),
                errors,
            )
        elif record.status == InvocationStatus.CANCELLED:  # no status of ours to set: the progress alone, once
            self.progress(record.notion_page_id, final_progress_text(record))
        mentions = list(dict.fromkeys(owner_ids or ([project.owner_user_id] if project.owner_user_id else [])))
        self._create_once(
            "comment",
            exists=lambda: self._has_comment(record),
            create=lambda: self.notion.create_comment(record.notion_page_id, comment_text(record),
                                                      mention_user_ids=mentions, **_in_discussion(record)),
            errors=errors, repeat=repeat,
        )
        if project.dashboard_data_source_id:
            self._create_once("dashboard", exists=lambda: self._has_dashboard_row(record, project),
                              create=lambda: self._dashboard_row(record, project), errors=errors, repeat=repeat)
        return WriteBackOutcome(delivered=not errors, errors=errors)

    def _create_once(self, name: str, *, exists: Callable[[], bool], create: Callable[[], Any], errors: list[str],
                     repeat: bool) -> None:
        """A create Notion may have carried out without saying so (a timeout, a 5xx after applying it) is looked
        up, by the invocation id it carries, before it is sent again; so is any create of a re-delivery."""
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            if (repeat or attempts > 1) and exists():
                return
            create()

        self._step(name, once, errors)

    def _has_comment(self, record: InvocationRecord) -> bool:
        marker = f"(invocation {record.invocation_id})"
        for comment in self.notion.list_comments(record.notion_page_id):
            if marker in "".join(t.get("plain_text", "") for t in comment.get("rich_text", [])):
                return True
        return False

    def _has_dashboard_row(self, record: InvocationRecord, project: ProjectConfig) -> bool:
        assert project.dashboard_data_source_id
        rows = self.notion.query_data_source(
            project.dashboard_data_source_id,
            filter={"property": "Invocation", "rich_text": {"equals": record.invocation_id}},
        )
        return any(plain_properties(row).get("Invocation") == record.invocation_id for row in rows)

    def notify(self, page_id: str, text: str, mention_user_ids: Sequence[str] = ()) -> WriteBackOutcome:
        errors: list[str] = []
        self._step(
            "comment", lambda: self.notion.create_comment(page_id, text, mention_user_ids=mention_user_ids), errors
        )
        return WriteBackOutcome(delivered=not errors, errors=errors)

    def progress(self, page_id: str, progress: RunProgress | str) -> bool:
        """The story's live progress property (runtime/notion/schema.py PROGRESS_PROPERTY), from a run's beat. One
        attempt: the next beat carries newer progress anyway. False when not written (a workspace whose stories
        lack the property is asked once per story and process, then left alone)."""
        from runtime.notion.errors import NotionValidation
        from runtime.notion.schema import PROGRESS_PROPERTY

        if page_id in _NO_PROGRESS_PROPERTY:
            return False
        try:
            text = progress if isinstance(progress, str) else progress_text(progress)
            self.notion.update_properties(page_id, {PROGRESS_PROPERTY: property_value("rich_text", text)})
            return True
        except NotionValidation as exc:
            if PROGRESS_PROPERTY in str(exc):
                with self._lock:
                    _NO_PROGRESS_PROPERTY.add(page_id)
            log.warning("story progress not written: %s", exc)
        except Exception as exc:  # noqa: BLE001 - progress is a courtesy; the run goes on, the next beat tries again
            log.warning("story progress not written: %s: %s", type(exc).__name__, exc)
        return False

    # --- the execution dashboard ---------------------------------------------------------------------------

    def _schema(self, data_source_id: str) -> dict:
        with self._lock:
            if data_source_id not in self._schemas:
                self._schemas[data_source_id] = self.notion.retrieve_data_source(data_source_id).get("properties", {})
            return self._schemas[data_source_id]

    def _dashboard_row(self, record: InvocationRecord, project: ProjectConfig) -> None:
        assert project.dashboard_data_source_id
        schema = self._schema(project.dashboard_data_source_id)
        wanted: dict[str, Any] = {
            "Invocation": record.invocation_id,
            "Agent": record.agent_type,
            "Status": record.status.value,
            "Cost": float(record.cost_usd),
            "Tokens": record.token_usage.total_tokens,
            "Artifacts": "\n".join(a.url for a in record.output_artifacts),
            "Story": record.notion_page_id,
            "Error": f"{record.error_code.value}: {record.error_detail or ''}" if record.error_code else "",
            "Started": record.started_at.isoformat() if record.started_at else None,
            "Completed": record.completed_at.isoformat() if record.completed_at else None,
            "Summary": record.output_summary or "",
        }
        properties = {}
        title_name = "Name"
        for name, spec in schema.items():
            if spec.get("type") == "title":
                title_name = name
        for name, value in wanted.items():
            spec = schema.get(name)
            if spec is None or value is None:
                continue
            try:
                # The adapter's converter splits long text at Notion's 2,000 characters instead of cutting it.
                properties[name] = property_value(spec.get("type", ""), value)
            except (NotionError, TypeError, ValueError):
                log.warning("dashboard column %r (%s) cannot hold %r; left empty", name, spec.get("type"), value)
        story_title = str((record.input_context.get("story") or {}).get("title") or record.notion_page_id)
        self.notion.create_page(
            parent_data_source_id=project.dashboard_data_source_id,
            title=f"{record.agent_type} · {story_title}",
            properties=properties,
            title_property=title_name,
        )


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def progress_text(progress: RunProgress) -> str:
    """What the story's progress property says while its run goes: step, tool calls, elapsed time, cost."""
    calls = "1 tool call" if progress.tool_calls == 1 else f"{progress.tool_calls} tool calls"
    return f"Running: {progress.step} · {calls} · {_duration(progress.elapsed_seconds)} · ${progress.cost_usd:.2f}"


def final_progress_text(record: InvocationRecord) -> str:
    """What the story's progress property says once its run has ended: how, in how long, for how much."""
    took = ""
    if record.started_at and record.completed_at:
        took = f" in {_duration(int((record.completed_at - record.started_at).total_seconds()))}"
    return f"Finished: {record.status.value}{took} · ${record.cost_usd:.2f} · {record.token_usage.total_tokens} tokens"


def can_succeed_later(error: BaseException) -> bool:
    """A 4xx from Notion (a refused property, a page not shared with the integration) fails the same way every
    time: only outages and network errors are worth another attempt. (429 and 409 were already retried by the
    adapter.)"""
    if isinstance(error, NotionError):
        return not 400 <= error.status < 500
    return not isinstance(error, TypeError | ValueError | KeyError)


def _in_discussion(record: InvocationRecord) -> dict[str, str]:
    """A re-run a Notion comment asked for answers in that comment's discussion (runtime/pipeline/feedback.py)."""
    from runtime.pipeline.feedback import discussion_of

    discussion_id = discussion_of(record)
    return {"discussion_id": discussion_id} if discussion_id else {}


def comment_text(record: InvocationRecord) -> str:
    lines: list[str] = []
    if record.status == InvocationStatus.COMPLETED:
        lines.append(f"✅ {record.agent_type} finished (invocation {record.invocation_id}).")
        if record.output_summary:
            lines.append(record.output_summary)
        for artifact in record.output_artifacts:
            lines.append(f"• {artifact.title}: {artifact.url}")
            screenshot = getattr(artifact.metadata, "screenshot_url", None)  # a prototype the browser checked
            if screenshot:
                lines.append(f"  Screenshot: {screenshot}")
    else:
        lines.append(f"⚠️ {record.agent_type} {record.status.value} (invocation {record.invocation_id}).")
        if record.error_code:
            lines.append(f"{record.error_code.value}: {record.error_detail or ''}".strip())
            lines.append(f"What to do: {DEFAULT_REMEDIATION[record.error_code]}")
    lines.append(f"Cost: ${record.cost_usd:.2f} · tokens: {record.token_usage.total_tokens}")
    return "\n".join(lines)

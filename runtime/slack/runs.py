"""The pipeline's side of Slack: a run that was asked for in Slack reports each state change to its thread.

The orchestrator calls `started` / `finished` and the completion step `finished`, for every run; runs without a
Slack origin are skipped here, so the pipeline needs no Slack knowledge. Slack being down never fails a run: the
invocation record is the truth, and `/aidlc status` reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from runtime.errors import DEFAULT_REMEDIATION
from runtime.models import InvocationRecord, InvocationStatus, SlackOrigin
from runtime.slack.messages import Link, Notice, State
from runtime.slack.notifier import SlackNotifier, safe

log = logging.getLogger(__name__)


def origin_of(record: InvocationRecord) -> SlackOrigin | None:
    raw = (record.input_context or {}).get("slack")
    if not raw:
        return None
    try:
        return SlackOrigin.model_validate(raw)
    except ValueError:
        log.warning("invocation %s has an unreadable Slack origin", record.invocation_id)
        return None


class SlackRunNotices:
    def __init__(self, notifier: Callable[[], SlackNotifier | None]) -> None:
        self._notifier = notifier

    def _post(self, record: InvocationRecord, notice_for: Callable[[SlackOrigin], Notice]) -> None:
        origin = origin_of(record)
        if origin is None:
            return
        notifier = self._notifier()
        if notifier is None:
            log.warning("run %s came from Slack but no Slack bot token is configured", record.invocation_id)
            return
        safe(notifier.notify, origin, notice_for(origin))

    def started(self, record: InvocationRecord) -> None:
        def notice(origin: SlackOrigin) -> Notice:
            chained = bool(record.parent_invocation_id)
            return Notice(origin.workflow_id or record.invocation_id, State.STEP if chained else State.STARTED,
                          f"`{record.agent_type}` is working on the story" + (" (next step)" if chained else ""),
                          step=record.invocation_id)

        self._post(record, notice)

    def finished(self, record: InvocationRecord) -> None:
        def notice(origin: SlackOrigin) -> Notice:
            workflow = origin.workflow_id or record.invocation_id
            if record.status == InvocationStatus.COMPLETED:
                links = tuple(Link(a.title, a.url) for a in record.output_artifacts)
                return Notice(workflow, State.COMPLETED, f"`{record.agent_type}` finished: "
                              f"{(record.output_summary or '').strip()[:500]}", step=record.invocation_id,
                              links=links, stakeholders=tuple(origin.stakeholders))
            code = record.error_code
            return Notice(workflow, State.FAILED, f"`{record.agent_type}` {record.status.value}",
                          step=record.invocation_id,
                          error=f"{code.value if code else 'ERROR'}: {(record.error_detail or '')[:1000]}",
                          remediation=DEFAULT_REMEDIATION.get(code, "") if code else "",
                          stakeholders=tuple(origin.stakeholders))

        if record.status.is_final:
            self._post(record, notice)

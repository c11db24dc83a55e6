"""The Block Kit message for each state change of a workflow (pure: no Slack calls here).

Every notice carries Slack message metadata `{event_type: "aidlc_notice", event_payload: {key}}`, where the key
names the workflow and the state change; the notifier looks for that key in the thread before posting, so a retried
notification never posts twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

METADATA_EVENT_TYPE = "aidlc_notice"
APPROVE_ACTION = "aidlc_approve"
REJECT_ACTION = "aidlc_reject"


class State(StrEnum):
    STARTED = "started"
    STEP = "step"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


_HEADLINE = {
    State.STARTED: ":arrow_forward: Started",
    State.STEP: ":gear: Step",
    State.WAITING_FOR_APPROVAL: ":raised_hand: Waiting for approval",
    State.COMPLETED: ":white_check_mark: Completed",
    State.FAILED: ":x: Failed",
    State.ROLLED_BACK: ":leftwards_arrow_with_hook: Rolled back",
}


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Notice:
    workflow_id: str  # the root run: the thread's owner
    state: State
    summary: str
    step: str = ""  # which step (a run id, or a workflow step name): part of the dedup key
    links: tuple[Link, ...] = ()
    error: str = ""
    remediation: str = ""
    stakeholders: tuple[str, ...] = ()
    project_id: str = ""  # for approvals: whose approvers may press the buttons
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", State(self.state))

    @property
    def key(self) -> str:
        return f"{self.workflow_id}:{self.step or '-'}:{self.state.value}"


def _escape(text: str) -> str:
    """Slack's mrkdwn needs &, < and > escaped, or user text could forge mentions and links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(notice: Notice) -> dict[str, Any]:
    """`chat.postMessage` arguments (without channel and thread) for a notice."""
    headline = f"*{_HEADLINE[notice.state]}* — {_escape(notice.summary)}"
    lines = [headline]
    for link in notice.links:
        lines.append(f"• <{link.url}|{_escape(link.title)}>")
    if notice.error:
        lines.append(f"*Error:* {_escape(notice.error)}")
    if notice.remediation:
        lines.append(f"*What to do:* {_escape(notice.remediation)}")
    mentions = " ".join(f"<@{user}>" for user in notice.stakeholders)
    if mentions:
        lines.append(mentions)
    text = "\n".join(lines)
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=text[:3000]))]
    if notice.state == State.WAITING_FOR_APPROVAL:
        value = json.dumps({"workflow_id": notice.workflow_id, "step": notice.step, "project_id": notice.project_id})
        blocks.append(ActionsBlock(block_id=f"approval:{notice.key}"[:255], elements=[
            ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=value, style="primary"),
            ButtonElement(text="Reject", action_id=REJECT_ACTION, value=value, style="danger"),
        ]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"workflow `{notice.workflow_id}`")]))
    return {
        "text": text[:4000],  # the notification / screen-reader fallback
        "blocks": [block.to_dict() for block in blocks],
        "metadata": {"event_type": METADATA_EVENT_TYPE, "event_payload": {"key": notice.key}},
    }


def decided(notice_text: str, approved: bool, user: str) -> dict[str, Any]:
    """The approval message after a decision: the buttons replaced by who decided what."""
    verdict = f":white_check_mark: Approved by <@{user}>" if approved else f":no_entry: Rejected by <@{user}>"
    return {
        "text": f"{notice_text}\n{verdict}"[:4000],
        "blocks": [SectionBlock(text=MarkdownTextObject(text=f"{notice_text}\n{verdict}"[:3000])).to_dict()],
    }

"""The onboarding workflows from the Slack door: signed `/aidlc onboard|provision|status|cancel|resume` commands and
the change set's Approve / Reject buttons, through the real ingress, the Slack emulator and the engine (the synthetic
workflow on the durable SDK's runner, the in-memory store: the real workflows run end to end in
test_workflow_integration.py)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import pytest

from runtime.onboarding.models import WorkflowStatus, new_ulid
from runtime.onboarding.workflows.provisioning import approval_blocks
from runtime.slack.messages import APPROVE_ACTION, REJECT_ACTION
from runtime.slack.workflows import SlackWorkflows
from tests.onboarding.workflow_helpers import synthetic_engine
from tests.slack.conftest import door, dynamodb, registry, slack  # noqa: F401  (the Slack door's fixtures)


@pytest.fixture(scope="module")
def sx():
    with synthetic_engine(dynamodb=False) as engine:
        yield engine


@pytest.fixture
def wdoor(door, sx):  # noqa: F811
    notifier = door.ingress.notifier
    door.ingress.workflows = SlackWorkflows(lambda: sx.engine, lambda: notifier)
    return door


def test_onboard_starts_the_workflow_in_its_own_thread(wdoor, sx):
    reply = wdoor.command("onboard acme-co <mailto:ops@acme.example|ops@acme.example> us-east-1 s3,sqs dev")
    assert reply.status == 200 and reply.body["status"] == "started", reply.body
    workflow_id = reply.body["workflow_id"]
    record = sx.store.get(workflow_id)
    assert record.state.kind == "onboarding" and record.state.customer_id == "acme-co"
    assert record.state.input["requirements"]["infrastructure"]["services"] == ["s3", "sqs"]
    assert record.state.input["requirements"]["environments"] == ["dev"]
    assert record.state.thread == {"channel": wdoor.slack.channel_id, "ts": reply.body["thread_ts"]}
    assert "onboarding of `acme-co`" in wdoor.slack.thread(reply.body["thread_ts"])[0]["text"]
    sx.wait(workflow_id)
    status = wdoor.command(f"status {workflow_id}")
    assert status.body["status"] == "status" and "*succeeded*" in status.body["text"]
    assert not wdoor.control.calls  # a workflow's id is the workflows', not the pipeline's


@pytest.mark.parametrize("text, named", [
    ("onboard acme-co not-an-email us-east-1", "contact_email"),
    ("onboard acme-co ops@acme.example mars-1", "regions"),
    ("onboard Acme_Co ops@acme.example us-east-1", "customer_id"),
    ("provision acme-co 1", "version"),
])
def test_bad_commands_are_refused_naming_the_field(wdoor, sx, text, named):
    before = len(sx.store.for_customer("acme-co"))
    reply = wdoor.command(text)
    assert reply.status == 200 and reply.body["status"] == "refused" and named in reply.body["text"], reply.body
    assert len(sx.store.for_customer("acme-co")) == before


def test_onboard_with_too_few_words_is_not_understood(wdoor):
    reply = wdoor.command("onboard acme-co")
    assert reply.body["status"] == "not_understood" and "customer id" in reply.body["text"]


def test_cancel_and_resume_from_slack(wdoor, sx):
    failed = sx.start(2, {1: ["permanent"]})
    sx.wait(failed)
    reply = wdoor.command(f"resume {failed}")
    assert reply.body["status"] == "resumed", reply.body
    sx.wait(failed)
    assert sx.store.get(failed).state.status == WorkflowStatus.SUCCEEDED
    reply = wdoor.command(f"cancel {failed}")
    assert reply.body["status"] == "refused" and "already succeeded" in reply.body["text"]
    other = wdoor.command(f"status {new_ulid()}")  # not a workflow: the pipeline's control answers
    assert other.body["status"] == "status" and wdoor.control.calls


def _click(door, workflow_id: str, action: str, user: str):  # noqa: F811
    message = {"ts": "1700000000.000100", "text": "Change set", "blocks": approval_blocks(workflow_id, "Change set")}
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == action)
    payload = {"type": "block_actions", "user": {"id": user}, "trigger_id": uuid.uuid4().hex,
               "container": {"type": "message", "message_ts": message["ts"], "channel_id": door.slack.channel_id},
               "channel": {"id": door.slack.channel_id}, "message": message,
               "actions": [{"action_id": action, "value": button["value"], "type": "button"}]}
    return door.signed("interactivity", urlencode({"payload": json.dumps(payload)}).encode())


class RecordingEngine:
    def __init__(self) -> None:
        self.approvals: list[tuple] = []

    def approve(self, workflow_id, *, approved=True, by=""):
        self.approvals.append((workflow_id, approved, by))


def test_the_change_set_buttons_approve_or_reject_through_the_engine(wdoor, sx):
    engine = RecordingEngine()
    wdoor.ingress.workflows = SlackWorkflows(lambda: engine, lambda: None)
    workflow_id = new_ulid()
    approved = _click(wdoor, workflow_id, APPROVE_ACTION, wdoor.slack.approver.id)
    assert approved.status == 200 and approved.body == {"status": "approved", "workflow_id": workflow_id}
    rejected = _click(wdoor, workflow_id, REJECT_ACTION, wdoor.slack.person.id)
    assert rejected.body["status"] == "rejected"
    assert engine.approvals == [(workflow_id, True, wdoor.slack.approver.id),
                                (workflow_id, False, wdoor.slack.person.id)]


def test_a_button_of_a_workflow_not_waiting_is_refused(wdoor, sx):
    done = sx.start(1)
    sx.wait(done)
    reply = _click(wdoor, done, APPROVE_ACTION, wdoor.slack.approver.id)
    assert reply.body["status"] == "refused" and "not waiting for an approval" in reply.body["reason"]

"""The onboarding workflows from the Slack door: signed `/aidlc onboard|provision|status|cancel|resume` commands and
the change set's Approve / Reject buttons, through the real ingress, the Slack emulator and the engine (the synthetic
workflow on the durable SDK's runner, the in-memory store: the real workflows run end to end in
test_workflow_integration.py)."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
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
    door.ingress.workflows = SlackWorkflows(lambda: sx.engine, lambda: notifier, projects=lambda: door.projects)
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


class RecordingBackend:
    """The durable service's side of an approval: the callbacks sent to it."""

    def __init__(self) -> None:
        self.callbacks: list[tuple[str, dict]] = []

    def start(self, kind, workflow_id, execution_name):
        return execution_name

    def send_callback(self, callback_id, result):
        self.callbacks.append((callback_id, result))


@pytest.fixture
def waiting(wdoor):
    """A real engine over the in-memory store, its backend recording callbacks, and a provisioning workflow of
    project "acme" (the door's project; approvers: the emulator's Sam) waiting for its change set's approval."""
    from runtime.onboarding.models import WorkflowKind, WorkflowState
    from runtime.onboarding.workflows.engine import WorkflowEngine, WorkflowServices
    from runtime.onboarding.workflows.state import MemoryWorkflowStore
    from runtime.tools.audit import MemoryAuditSink

    audit, backend = MemoryAuditSink(), RecordingBackend()
    services = WorkflowServices(store=MemoryWorkflowStore(), tools=None, tool_services=SimpleNamespace(audit=audit))
    services.alerts.metrics_enabled = False
    engine = WorkflowEngine(services, backend)
    thread_ts = wdoor.ingress.notifier.open_thread(wdoor.slack.channel_id, "provisioning of acme-co")
    record = services.store.create(WorkflowState(kind=WorkflowKind.PROVISIONING, customer_id="acme-co",
                                                 thread={"channel": wdoor.slack.channel_id, "ts": thread_ts}),
                                   project_id="acme")

    def wait(r) -> None:
        r.state.status, r.callback_id = WorkflowStatus.WAITING_APPROVAL, "cb-" + r.workflow_id
    services.store.update(record.workflow_id, wait)
    notifier = wdoor.ingress.notifier
    wdoor.ingress.workflows = SlackWorkflows(lambda: engine, lambda: notifier, projects=lambda: wdoor.projects)
    return SimpleNamespace(id=record.workflow_id, engine=engine, backend=backend, audit=audit, thread_ts=thread_ts)


def test_a_person_who_is_not_an_approver_cannot_decide_the_change_set(wdoor, waiting):
    person, approver = wdoor.slack.person.id, wdoor.slack.approver.id
    for action in (APPROVE_ACTION, REJECT_ACTION):
        reply = _click(wdoor, waiting.id, action, person)
        assert reply.status == 200 and reply.body == {"status": "refused", "reason": "not an approver"}
    assert waiting.backend.callbacks == []  # nothing decided
    told = [m for m in wdoor.slack.ephemeral if m["thread_ts"] == waiting.thread_ts]  # the module shares Slack
    assert len(told) == 2 and {m["user"] for m in told} == {person}
    assert "Only an approver" in told[0]["text"] and f"<@{approver}>" in told[0]["text"]
    assert all(m["text"] != told[0]["text"] for m in wdoor.slack.thread(waiting.thread_ts))  # not in the thread
    denied = [r for r in waiting.audit.records if r.tool == "workflow_approval"]
    assert [(r.outcome, r.invocation_id) for r in denied] == [("denied", waiting.id)] * 2
    assert person in denied[0].detail


def test_the_projects_approver_decides_and_the_decision_is_audited(wdoor, waiting):
    approver = wdoor.slack.approver.id
    reply = _click(wdoor, waiting.id, APPROVE_ACTION, approver)
    assert reply.body == {"status": "approved", "workflow_id": waiting.id}
    assert waiting.backend.callbacks == [("cb-" + waiting.id, {"approved": True, "by": approver})]
    assert not [m for m in wdoor.slack.ephemeral if m["thread_ts"] == waiting.thread_ts]
    decided = [r for r in waiting.audit.records if r.tool == "workflow_approval"]
    assert [(r.outcome, r.agent_type) for r in decided] == [("ok", "provisioning")]
    assert approver in decided[0].detail and "approved" in decided[0].detail


def test_an_approver_group_is_expanded_through_slack(wdoor, waiting):
    """`S…` in the approvers: a user group, its members listed by usergroups.users.list at the click."""
    wdoor.projects.projects["acme"] = wdoor.projects.projects["acme"].model_copy(update={"approvers": ["S0LEADS01"]})
    wdoor.slack.user_groups["S0LEADS01"] = [wdoor.slack.person.id]
    reply = _click(wdoor, waiting.id, REJECT_ACTION, wdoor.slack.person.id)
    assert reply.body["status"] == "rejected"
    assert waiting.backend.callbacks == [("cb-" + waiting.id, {"approved": False, "by": wdoor.slack.person.id})]
    assert ("usergroups.users.list", {"usergroup": "S0LEADS01"}) in [
        (m, {k: v for k, v in a.items() if k == "usergroup"}) for m, a in wdoor.slack.calls]
    reply = _click(wdoor, waiting.id, APPROVE_ACTION, wdoor.slack.approver.id)  # no longer an approver
    assert reply.body == {"status": "refused", "reason": "not an approver"}
    del wdoor.slack.user_groups["S0LEADS01"]  # the emulator is the module's


def test_a_button_of_a_workflow_not_waiting_is_refused(wdoor, sx):
    done = sx.start(1)
    sx.wait(done)

    def of_acme(r) -> None:
        r.project_id = "acme"
    sx.store.update(done, of_acme)
    reply = _click(wdoor, done, APPROVE_ACTION, wdoor.slack.approver.id)
    assert reply.body["status"] == "refused" and "not waiting for an approval" in reply.body["reason"]


def test_the_change_set_message_is_block_kit_as_slack_sdk_models_it():
    """The preview's blocks parse into slack_sdk's Block Kit models and validate (section text at most 3000
    characters, button values at most 2000, action ids at most 255), with nothing dropped in the round trip."""
    from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, SectionBlock

    blocks = approval_blocks(new_ulid(), "a long preview " * 400)  # longer than a section may hold: cut
    parsed = [Block.parse(b) for b in blocks]
    for block in parsed:
        block.validate_json()
    assert isinstance(parsed[0], SectionBlock) and isinstance(parsed[1], ActionsBlock)
    assert all(isinstance(b, ButtonElement) for b in parsed[1].elements)
    assert [b.to_dict() for b in parsed] == blocks
    assert [b.action_id for b in parsed[1].elements] == [APPROVE_ACTION, REJECT_ACTION]

"""The onboarding workflows in `aidlc dev` (runtime/local/stack.py): each workflow function runs with its own
derived environment and its own principal, as the pipeline functions do, and the Slack door drives them: a slash
command typed in the Slack emulator onboards a customer into the stack's moto, a person who is not an approver
cannot approve its change set, the project's approver can, and the decision is in the stack's audit table.

Over 30 s on these machines (a whole local stack, ~15 s to start, then two real workflows on its moto): the only
test of the stack's workflow wiring, which the demo and the other tests, built without the stack, skip.
"""

from __future__ import annotations

import time

import pytest

from runtime import resources
from runtime.slack.messages import APPROVE_ACTION


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from runtime.local.stack import LocalStack, StackOptions

    local = LocalStack(StackOptions(port=0, state_dir=tmp_path_factory.mktemp("workflows-stack"),
                                    sweep_interval_seconds=30))
    local.start()
    yield local
    local.stop()


def _wait(engine, workflow_id: str):
    record = engine.status(workflow_id)
    engine.backend.wait(record.executions[-1], timeout=180)
    return engine.status(workflow_id)


def _waiting_for_approval(engine, workflow_id: str):
    for _ in range(1200):  # the change sets are made before the approval is asked for; bounded, never timed
        record = engine.status(workflow_id)
        if record.callback_id or record.state.status in ("succeeded", "failed", "cancelled"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"{workflow_id} never waited for its approval: {record.state.status}")


def _preview(slack, thread_ts: str) -> dict:
    # The callback is recorded as its submitter starts; the submitter then posts the change-set preview, so the
    # message may land a moment after the workflow shows it is waiting (seen once in CI).
    for _ in range(1200):  # bounded, never timed
        found = [m for m in slack.thread(thread_ts) if any(b.get("type") == "actions" for b in m.get("blocks") or [])]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no change-set preview in the thread: {slack.thread(thread_ts)}")


def test_a_customer_onboarded_and_provisioned_from_slack_in_the_local_stack(stack):
    slack = stack.slack
    status, answer = slack.command("onboard acme-co ops@acme.example us-east-1 s3 dev", user_id=slack.person.id)
    assert status == 200 and answer["status"] == "started", answer
    engine = stack.functions["slack"].services.workflows
    onboarding = _wait(engine, answer["workflow_id"])
    assert onboarding.state.status == "succeeded", onboarding.state.error
    assert onboarding.project_id == stack.project.project_id  # Slack's workflows: the default project's

    provisioning_id = onboarding.completed("provisioning_started").result["workflow_id"]
    waiting = _waiting_for_approval(engine, provisioning_id)
    assert waiting.state.status == "waiting_approval", waiting.state.error
    preview = _preview(slack, answer["thread_ts"])

    status, _ = slack.click(preview["ts"], APPROVE_ACTION, user_id=slack.person.id)  # not an approver
    assert status == 200
    assert engine.status(provisioning_id).state.status == "waiting_approval"
    assert [m for m in slack.ephemeral if m["user"] == slack.person.id and "Only an approver" in m["text"]]

    status, _ = slack.click(preview["ts"], APPROVE_ACTION, user_id=slack.approver.id)
    assert status == 200
    provisioned = _wait(engine, provisioning_id)
    assert provisioned.state.status == "succeeded", provisioned.state.error
    assert provisioned.completed("approval").result["by"] == slack.approver.id

    # each workflow function's calls are its own principal's (what the IAM coverage check holds to its role)
    principals = {(c.principal, c.service, c.operation) for c in stack.calls.calls}
    assert ("onboarding_workflow", "organizations", "CreateOrganizationalUnit") in principals
    assert ("provisioning_workflow", "sts", "AssumeRole") in principals
    assert not [p for p, service, _ in principals if service == "organizations" and p in ("api", "slack")]

    # the decisions, refused and made, in the stack's audit table, written by the Slack function
    dynamodb = stack.clients_for("local").client("dynamodb")
    items = dynamodb.query(TableName=stack.aws.tables[resources.AUDIT.logical_name],
                           KeyConditionExpression="invocation_id = :w",
                           ExpressionAttributeValues={":w": {"S": provisioning_id}})["Items"]
    decisions = [(i["outcome"]["S"], i["detail"]["S"]) for i in items if i["tool"]["S"] == "workflow_approval"]
    assert [o for o, _ in decisions] == ["denied", "ok"], decisions
    assert slack.person.id in decisions[0][1] and slack.approver.id in decisions[1][1]
    assert ("slack", "dynamodb", "PutItem") in principals

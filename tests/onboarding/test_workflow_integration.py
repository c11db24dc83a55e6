"""Both workflows end to end on the real durable engine (the durable SDK's local runner), AWS on moto
(Organizations, STS, CloudFormation, S3, DynamoDB), the real tools, the Cedar policy and the audit trail:

- a customer's requirements to an organisation (OUs, an account, SCPs attached), package v1, its provisioning
  approved and deployed into the member account, every resource verified;
- a failing deployment (a subnet in a VPC that is not there: moto refuses it) rolled back, the rollback verified;
- cancel while waiting for the approval, a rejected change set, a deploy into the management account (the policy
  forbids it: critical, halted, alerted), and the real onboarding killed at a step and resumed with no completed step
  run again.

One module-scoped moto and engine: the first package validation (cfn-lint loading its schemas) and the first change
set (moto's CloudFormation) cost most of this module's time; the tests after them take a few seconds each.
"""

from __future__ import annotations

from collections import Counter

import pytest

from runtime.onboarding.models import CFNPackage, WorkflowStatus

REQUIREMENTS = {"customer_id": "acme-co", "customer_name": "Acme", "contact_email": "ops@acme.example",
                "infrastructure": {"regions": ["us-east-1"], "services": ["s3"]}, "environments": ["dev"]}
QUEUE = {"name": "queue", "body": {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
    "QueueName": "acme-work", "SqsManagedSseEnabled": True}}}, "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}}
BROKEN = {"name": "broken", "depends_on": ["queue"], "body": {"Resources": {"Subnet": {
    "Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.0.0/24"}}}}}


def _agent_tools():
    """The agents' declared tools come from their plugins (agent_plugins/onboarding.py, provisioning.py); while a
    plugin is not registered in this tree, the workflow is given the same lists explicitly."""
    from runtime.onboarding.tools import TOOL_NAMES
    from runtime.registry import get_registry

    registry = get_registry()
    if "onboarding" in registry and "provisioning" in registry:
        return None
    return {"onboarding": list(TOOL_NAMES), "provisioning": list(TOOL_NAMES)}


class CountingObserver:
    def __init__(self) -> None:
        self.runs: Counter = Counter()

    def __call__(self, workflow_id: str, step: str, what: str) -> None:
        if what == "run":
            self.runs[(workflow_id, step)] += 1


@pytest.fixture(scope="module")
def local():
    from runtime.onboarding.workflows.local import LocalWorkflows

    observer = CountingObserver()
    with LocalWorkflows.in_moto(agent_tools=_agent_tools(), step_observer=observer) as local:
        local.extras["observer"] = observer
        yield local


@pytest.fixture(scope="module")
def onboarded(local):
    """The customer onboarded and provisioned (approved), once for the module."""
    record = local.engine.start("onboarding", {"requirements": REQUIREMENTS}, thread={"channel": "C0TEST"})
    onboarding = local.wait(record.workflow_id)
    provisioning_id = local.provisioning_of(record.workflow_id)
    waiting = local.wait_for(provisioning_id, WorkflowStatus.WAITING_APPROVAL)
    local.engine.approve(provisioning_id, by="U0APPROVER")
    provisioning = local.wait(provisioning_id)
    return {"onboarding": onboarding, "waiting": waiting, "provisioning": provisioning}


def test_onboarding_makes_the_organisation_and_package_v1(local, onboarded):
    record = onboarded["onboarding"]
    assert record.state.status == WorkflowStatus.SUCCEEDED, record.state.error
    done = record.state.completed_steps()
    assert done[:3] == ["validate_requirements", "organization", "ou:acme-co"]
    assert {"ou:acme-co-dev", "account:acme-co-dev", "accounts", "attach:acme-co-guardrails:acme-co",
            "package_built", "package_validated", "package_versioned", "notified", "provisioning_started"} <= set(done)
    assert record.completed("package_versioned").result["version"] == "v1"

    orgs = local.services.tool_services.aws.client("organizations")
    root = orgs.list_roots()["Roots"][0]["Id"]
    top = {ou["Name"]: ou["Id"] for ou in orgs.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]}
    child = orgs.list_organizational_units_for_parent(ParentId=top["acme-co"])["OrganizationalUnits"]
    assert [ou["Name"] for ou in child] == ["acme-co-dev"]
    account_id = record.completed("accounts").result["acme-co-dev"]
    assert [a["Id"] for a in orgs.list_accounts_for_parent(ParentId=child[0]["Id"])["Accounts"]] == [account_id]
    attached = {p["Name"] for p in orgs.list_policies_for_target(TargetId=top["acme-co"],
                                                                Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    assert {"acme-co-guardrails", "acme-co-allowed-regions", "acme-co-require-mfa"} <= attached
    assert [s.version for s in local.services.tool_services.packages.versions("acme-co")] == ["v1"]


def test_provisioning_waits_for_approval_then_deploys_and_verifies(local, onboarded):
    waiting = onboarded["waiting"]
    assert waiting.state.status == WorkflowStatus.WAITING_APPROVAL and waiting.callback_id
    record = onboarded["provisioning"]
    assert record.state.status == WorkflowStatus.SUCCEEDED, record.state.error
    assert record.completed("approval").result == {"approved": True, "by": "U0APPROVER", "cancelled": False}
    done = record.state.completed_steps()
    deploys = [s for s in done if s.startswith("deployed:")]
    assert deploys == ["deployed:network", "deployed:security", "deployed:service-s3"]  # dependency order
    assert {f"verify:{n}" for n in ("network", "security", "service-s3")} <= set(done)
    target = record.completed("target").result
    assert target["account_id"] == onboarded["onboarding"].completed("accounts").result["acme-co-dev"]
    cfn = local.services.tool_services.aws.for_account(target["account_id"]).client("cloudformation")
    statuses = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    # moto reports a stack made by executing a CREATE change set as UPDATE_COMPLETE (its change set made it first)
    assert set(statuses) == {"aidlc-acme-co-network", "aidlc-acme-co-security", "aidlc-acme-co-service-s3"}
    assert all(s in ("CREATE_COMPLETE", "UPDATE_COMPLETE") for s in statuses.values()), statuses
    # each step in the workflow's thread (the notifier here keeps what it posts)
    posted = [text for thread, text in local.services.notifier.posted]
    assert any(t.startswith("Onboarded acme-co") for t in posted)
    assert any("Change set for v1" in t and "Approve deploys it" in t for t in posted)
    assert any(t.startswith("[3/3] aidlc-acme-co-service-s3: succeeded") and "(100%)" in t for t in posted)
    assert any(t.startswith("Provisioned acme-co v1") for t in posted)
    # every tool call audited as the agent that made it
    agents = {(r.agent_type, r.tool) for r in local.audit.records if getattr(r, "source", "tool") == "tool"}
    assert ("onboarding", "org_create_ou") in agents and ("provisioning", "cfn_deploy") in agents


def _small_package(local) -> str:
    pkg = CFNPackage(customer_id="acme-co", templates=[QUEUE, BROKEN], requirements_digest="sha256:" + "0" * 64)
    return local.services.tool_services.packages.put(pkg).version


def _provision(local, onboarded, version: str, **extra) -> str:
    account = onboarded["onboarding"].completed("accounts").result["acme-co-dev"]
    record = local.engine.start("provisioning", {"customer_id": "acme-co", "version": version, "account_id": account,
                                                 "region": "us-east-1", **extra}, thread={"channel": "C0TEST"})
    return record.workflow_id


def test_a_failing_deployment_is_rolled_back_and_verified(local, onboarded):
    version = _small_package(local)
    workflow_id = _provision(local, onboarded, version)
    local.wait_for(workflow_id, WorkflowStatus.WAITING_APPROVAL)
    local.engine.approve(workflow_id, by="U0APPROVER")
    record = local.wait(workflow_id)
    assert record.state.status == WorkflowStatus.FAILED
    assert record.state.error.step == "deployed:broken" and record.state.error.code == "InvalidVpcID.NotFound"
    done = record.state.completed_steps()
    assert done.index("rollback:broken") < done.index("rollback:queue")  # last deployed, first rolled back
    assert {"rollback-verified:broken", "rollback-verified:queue", "rollback-done"} <= set(done)
    cfn = local.services.tool_services.aws.for_account(record.completed("target").result["account_id"]).client(
        "cloudformation")
    left = {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert "aidlc-acme-co-broken" not in left and "aidlc-acme-co-queue" not in left
    assert "aidlc-acme-co-network" in left  # the verified stacks of the first provisioning are untouched
    posted = [text for _, text in local.services.notifier.posted]
    assert any(t.startswith("Rolled back and verified: aidlc-acme-co-broken, aidlc-acme-co-queue") for t in posted)


def test_cancel_while_waiting_for_the_approval(local, onboarded):
    workflow_id = _provision(local, onboarded, "v1")
    local.wait_for(workflow_id, WorkflowStatus.WAITING_APPROVAL)
    local.engine.cancel(workflow_id)
    record = local.wait(workflow_id)
    assert record.state.status == WorkflowStatus.CANCELLED
    assert not [s for s in record.state.completed_steps() if s.startswith("deploy")]


def test_a_rejected_change_set_deploys_nothing(local, onboarded):
    workflow_id = _provision(local, onboarded, "v1")
    local.wait_for(workflow_id, WorkflowStatus.WAITING_APPROVAL)
    local.engine.approve(workflow_id, approved=False, by="U0REVIEWER")
    record = local.wait(workflow_id)
    assert record.state.status == WorkflowStatus.CANCELLED
    assert not [s for s in record.state.completed_steps() if s.startswith("deploy")]


def test_a_deploy_into_the_management_account_is_refused_halted_and_alerted(local, onboarded):
    management = local.services.tool_services.aws.management_account_id
    record = local.engine.start("provisioning", {"customer_id": "acme-co", "version": "v1", "account_id": management,
                                                 "region": "us-east-1"}, thread={"channel": "C0TEST"})
    record = local.wait(record.workflow_id)
    assert record.state.status == WorkflowStatus.FAILED
    assert record.state.error.error_class == "critical" and record.state.error.code == "PolicyDenied"
    assert any(a["workflow_id"] == record.workflow_id for a in local.services.alerts.sent)
    assert not [s for s in record.state.completed_steps() if s.startswith(("deploy", "rollback"))]


class FailOnce:
    """The tool registry with one tool failing once, as a crash in the middle of that step would."""

    def __init__(self, tools, tool: str) -> None:
        self.tools, self.tool, self.failed = tools, tool, False

    def call(self, name, args, context):
        from runtime.tools.base import ToolResult

        if name == self.tool and not self.failed:
            self.failed = True
            return ToolResult(False, {}, f"{name} failed: the workflow was killed here")
        return self.tools.call(name, args, context)


@pytest.mark.parametrize("tool", ["org_attach_policy", "cfn_version_package"])
def test_the_onboarding_killed_at_a_step_resumes_with_no_completed_step_run_again(local, onboarded, tool):
    observer = local.extras["observer"]
    real = local.services.tools
    local.services.tools = FailOnce(real, tool)
    try:
        requirements = {**REQUIREMENTS, "customer_id": f"kill-{tool.replace('_', '-')}"}
        record = local.engine.start("onboarding", {"requirements": requirements, "provision": False})
        record = local.wait(record.workflow_id)
        assert record.state.status == WorkflowStatus.FAILED
        killed = record.state.error.step
        before = set(record.state.completed_steps())
        local.engine.resume(record.workflow_id)
        record = local.wait(record.workflow_id)
    finally:
        local.services.tools = real
    assert record.state.status == WorkflowStatus.SUCCEEDED, record.state.error
    runs = {step: n for (wid, step), n in observer.runs.items() if wid == record.workflow_id}
    assert all(runs[step] == 1 for step in before), runs
    assert runs[killed] == 2
    assert set(record.state.completed_steps()) >= before | {killed, "package_versioned", "notified"}


class CancelDuring:
    """The tool registry, with a cancel requested (as an operator's POST /workflows/{id}/cancel would) while the
    first `tool` call runs: the call itself completes, the workflow sees the cancel at the next step boundary."""

    def __init__(self, tools, tool: str, engine) -> None:
        self.tools, self.tool, self.engine, self.cancelled = tools, tool, engine, False

    def call(self, name, args, context):
        result = self.tools.call(name, args, context)
        if name == self.tool and not self.cancelled:
            self.cancelled = True
            self.engine.cancel(context.invocation_id)
        return result


def test_a_cancel_during_the_deploy_rolls_back_what_was_deployed_then_ends_cancelled(local, onboarded):
    second = {"name": "second", "depends_on": ["queue"], "body": {"Resources": {"Queue": {
        "Type": "AWS::SQS::Queue", "Properties": {"QueueName": "acme-second", "SqsManagedSseEnabled": True}}}}}
    queue = {**QUEUE, "body": {**QUEUE["body"], "Resources": {"Queue": {
        "Type": "AWS::SQS::Queue", "Properties": {"QueueName": "acme-cancelled", "SqsManagedSseEnabled": True}}}}}
    version = local.services.tool_services.packages.put(CFNPackage(
        customer_id="acme-co", templates=[queue, second], requirements_digest="sha256:" + "1" * 64)).version
    workflow_id = _provision(local, onboarded, version)
    local.wait_for(workflow_id, WorkflowStatus.WAITING_APPROVAL)
    real = local.services.tools
    local.services.tools = CancelDuring(real, "cfn_deploy", local.engine)
    try:
        local.engine.approve(workflow_id, by="U0APPROVER")
        record = local.wait(workflow_id)
    finally:
        local.services.tools = real
    assert record.state.status == WorkflowStatus.CANCELLED, record.state.error
    done = record.state.completed_steps()
    assert "deploy:queue" in done and "deploy:second" not in done  # stopped at the step after the deploy
    assert {"rollback:queue", "rollback-verified:queue", "rollback-done", "notify-cancelled"} <= set(done)
    assert done.index("rollback-verified:queue") < done.index("notify-cancelled")
    cfn = local.services.tool_services.aws.for_account(record.completed("target").result["account_id"]).client(
        "cloudformation")
    left = {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert "aidlc-acme-co-queue" not in left and "aidlc-acme-co-second" not in left
    assert "aidlc-acme-co-network" in left  # the first provisioning's verified stacks are untouched
    posted = [text for _, text in local.services.notifier.posted]
    assert any(t.startswith("Rolled back and verified: aidlc-acme-co-queue") and "is cancelled" in t for t in posted)

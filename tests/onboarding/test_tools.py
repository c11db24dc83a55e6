"""The onboarding tools through `ToolRegistry.call` (so the Cedar policy and the audit trail run), against moto:
one test per tool, and the onboarding policy's rules allowed and denied (runtime/policies/onboarding.cedar)."""

from __future__ import annotations

import pytest

from runtime.onboarding.aws import AwsClients
from runtime.onboarding.models import CustomerRequirements, OrganizationConfig
from runtime.onboarding.packages import build_package
from runtime.onboarding.stacks import stack_name_for
from runtime.onboarding.tools import TOOL_NAMES
from runtime.policy import ToolPolicy
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices

INVOCATION = "01JD0000000000000000000013"
ALL = list(TOOL_NAMES)

# A small package: one template moto creates in milliseconds, one that moto refuses (a subnet of a VPC that is not
# there), for the failure and rollback paths.
QUEUE = {"name": "queue", "body": {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
    "QueueName": "acme-work", "SqsManagedSseEnabled": True}}}, "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}}
BROKEN = {"name": "broken", "body": {"Resources": {"Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
    "VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.0.0/24"}}}}}


def requirements() -> CustomerRequirements:
    return CustomerRequirements(customer_id="acme", customer_name="Acme", contact_email="ops@acme.example",
                                infrastructure={"regions": ["us-east-1"], "services": ["sqs"]})


@pytest.fixture(scope="module")
def policy() -> ToolPolicy:
    return ToolPolicy.load()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    """Loaded once for the module (loading every plugin is the slow part of a test here)."""
    return ToolRegistry.default()


@pytest.fixture
def env(aws, organization, package_store, policy, registry):
    """Audited clients on the moto organisation, the package store, the policy, one member account."""
    sink = MemoryAuditSink()
    clients = AwsClients(audit=sink, region="us-east-1")
    services = ToolServices(policy=policy, audit=sink, aws=clients, packages=package_store)
    org, root = organization
    member = org.create_account(AccountName="acme-dev", Email="ops+dev@acme.example")["CreateAccountStatus"]["AccountId"]
    return {"services": services, "audit": sink, "member": member, "root": root, "store": package_store,
            "registry": registry,
            "management": clients.management_account_id}


def call(env, tool, args, *, agent="onboarding", approved=False, tools=ALL):
    return env["registry"].call(tool, args, ToolContext(agent_type=agent, invocation_id=INVOCATION, allowed_tools=tools,
                                                  services=env["services"], approved=approved))


def ok(result):
    assert result.ok, result.error
    return result.content


def stored_small_package(env) -> str:
    from runtime.onboarding.models import CFNPackage

    pkg = CFNPackage(customer_id="acme", templates=[QUEUE, BROKEN], requirements_digest="sha256:" + "0" * 64)
    return env["store"].put(pkg).version


def test_every_tool_is_registered_in_its_group(registry):
    for name in TOOL_NAMES:
        assert registry.get(name).target == ("cloudformation" if name.startswith("cfn_") else "organizations")


def test_org_tools_make_and_find(env):
    described = ok(call(env, "org_describe", {}))
    assert described["root_id"] == env["root"] and described["scp_enabled"]
    ou = ok(call(env, "org_create_ou", {"name": "acme"}))
    assert ou["parent_id"] == env["root"]
    assert ok(call(env, "org_create_ou", {"name": "acme"}))["ou_id"] == ou["ou_id"]  # found, not made twice
    account = ok(call(env, "org_create_account", {"name": "acme-prod", "email": "ops+prod@acme.example",
                                                   "ou_id": ou["ou_id"]}))
    assert account["state"] == "SUCCEEDED" and account["ou_id"] == ou["ou_id"]
    status = ok(call(env, "org_account_status", {"request_id": account["request_id"]}))
    assert status["account_id"] == account["account_id"]
    again = ok(call(env, "org_create_account", {"name": "acme-prod", "email": "ops+prod@acme.example"}))
    assert again["found"] and again["account_id"] == account["account_id"]
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["s3:DeleteBucket"], "Resource": "*"}]}
    policy = ok(call(env, "org_create_policy", {"name": "acme-guard", "document": doc}))
    assert ok(call(env, "org_create_policy", {"name": "acme-guard", "document": doc}))["policy_id"] == policy["policy_id"]
    assert ok(call(env, "org_attach_policy", {"policy_id": policy["policy_id"], "target_id": ou["ou_id"]}))["attached"]
    assert not ok(call(env, "org_attach_policy", {"policy_id": policy["policy_id"], "target_id": ou["ou_id"]}))["attached"]
    described = ok(call(env, "org_describe", {}))
    assert {p["name"]: p["targets"] for p in described["policies"]}["acme-guard"] == [ou["ou_id"]]


def test_bad_arguments_name_the_field(env):
    result = call(env, "org_create_account", {"name": "x", "email": "not-an-email"})
    assert not result.ok and "'email'" in result.error
    bad_doc = call(env, "org_create_policy", {"name": "p", "document": {"Statement": []}})
    assert not bad_doc.ok and "2012-10-17" in bad_doc.error


def test_package_tools_build_validate_version_retrieve(env):
    req = requirements()
    built = ok(call(env, "cfn_build_package", {"requirements": req.model_dump(mode="json"),
                                                "organization": OrganizationConfig.from_requirements(req).model_dump(mode="json")}))
    assert built["templates"][0] == "network" and "service-sqs" in built["templates"]
    report = ok(call(env, "cfn_validate_package", {"package": built["package"]}))
    assert report["valid"], report["findings"]
    first = ok(call(env, "cfn_version_package", {"package": built["package"]}))
    assert first["version"] == "v1"
    assert ok(call(env, "cfn_version_package", {"package": built["package"]}))["version"] == "v1"  # same content
    back = ok(call(env, "cfn_retrieve_package", {"customer_id": "acme", "version": "v1"}))
    assert back["digest"] == first["digest"] and back["templates"] == built["templates"]
    missing = call(env, "cfn_retrieve_package", {"customer_id": "acme", "version": "v9"})
    assert not missing.ok and "v9" in missing.error


def test_version_refuses_an_invalid_package(env):
    req = requirements()
    built = ok(call(env, "cfn_build_package", {"requirements": req.model_dump(mode="json")}))
    package = built["package"]
    queue = next(t for t in package["templates"] if t["name"] == "service-sqs")
    for resource in queue["body"]["Resources"].values():
        if resource["Type"] == "AWS::SQS::Queue":
            resource["Properties"].pop("KmsMasterKeyId", None)
            resource["Properties"]["SqsManagedSseEnabled"] = False
    result = call(env, "cfn_version_package", {"package": package})
    assert not result.ok and "no version" in result.error
    assert env["store"].versions("acme") == []


def test_stack_tools_change_set_deploy_status_events_verify(env):
    version = stored_small_package(env)
    target = {"account_id": env["member"], "customer_id": "acme", "version": version, "template": "queue"}
    preview = ok(call(env, "cfn_create_change_set", target, agent="provisioning"))
    assert preview["change_set_type"] == "CREATE" and [c["logical_id"] for c in preview["changes"]] == ["Queue"]
    deployed = ok(call(env, "cfn_deploy", target, agent="provisioning"))
    assert deployed["status"] == "succeeded" and deployed["resources_created"] == ["Queue"]
    assert deployed["account_id"] == env["member"]
    stack = {"account_id": env["member"], "stack_name": stack_name_for("acme", "queue")}
    status = ok(call(env, "cfn_stack_status", stack, agent="provisioning"))
    assert status["status"] == "succeeded" and status["percentage"] == 100
    events = ok(call(env, "cfn_stack_events", stack, agent="provisioning"))
    assert events["events"][0]["status"].endswith("_COMPLETE")  # UPDATE_COMPLETE: moto outputs (stacks.py)
    verified = ok(call(env, "cfn_verify_resources", target, agent="provisioning"))
    assert verified["ok"] and verified["missing"] == []
    # the stack is in the member account, not the management one
    assert env["services"].aws.for_account(env["member"]).client("sqs").list_queues()["QueueUrls"]
    assert "QueueUrls" not in env["services"].aws.client("sqs", "us-east-1").list_queues()


def test_failed_deploy_then_approved_rollback(env):
    version = stored_small_package(env)
    target = {"account_id": env["member"], "customer_id": "acme", "version": version, "template": "broken"}
    failed = ok(call(env, "cfn_deploy", target, agent="provisioning"))
    assert failed["status"] == "failed" and failed["resources_failed"] == ["Subnet"]
    assert failed["error"]["code"] == "InvalidVpcID.NotFound"
    rollback = {"account_id": env["member"], "customer_id": "acme", "template": "broken"}
    denied = call(env, "cfn_rollback", rollback, agent="provisioning")
    assert denied.denied and "stack-delete-needs-approval" in denied.error
    done = ok(call(env, "cfn_rollback", rollback, agent="provisioning", approved=True))
    assert done["status"] == "rolled_back"
    missing = call(env, "cfn_stack_status", {"account_id": env["member"], "stack_name": stack_name_for("acme", "broken")},
                   agent="provisioning")
    assert not missing.ok and "no stack" in missing.error


def test_rollback_to_a_previous_version_needs_no_approval(env):
    version = stored_small_package(env)
    ok(call(env, "cfn_deploy", {"account_id": env["member"], "customer_id": "acme", "version": version,
                                "template": "queue"}))
    back = ok(call(env, "cfn_rollback", {"account_id": env["member"], "customer_id": "acme", "template": "queue",
                                         "previous_version": version}, agent="provisioning"))
    assert back["status"] == "rolled_back"


def test_no_stack_writes_in_the_management_account(env):
    version = stored_small_package(env)
    target = {"account_id": env["management"], "customer_id": "acme", "version": version, "template": "queue"}
    for tool in ("cfn_create_change_set", "cfn_deploy"):
        result = call(env, tool, target, agent="provisioning")
        assert result.denied and "no-management-account-stacks" in result.error, tool
    rollback = call(env, "cfn_rollback", {**{k: target[k] for k in ("account_id", "customer_id", "template")},
                                          "previous_version": version}, agent="provisioning", approved=True)
    assert rollback.denied and "no-management-account-stacks" in rollback.error
    # reading the management account's stacks is allowed (a status is not a write)
    status = call(env, "cfn_stack_status", {"account_id": env["management"], "stack_name": "aidlc-acme-queue"})
    assert not status.denied
    assert env["services"].aws.client("cloudformation", "us-east-1").list_stacks()["StackSummaries"] == []


def test_account_close_needs_an_approval_and_never_the_management_account(env):
    denied = call(env, "account_close", {"account_id": env["member"]})
    assert denied.denied and "account-close-needs-approval" in denied.error
    closed = ok(call(env, "account_close", {"account_id": env["member"]}, approved=True))
    assert closed["status"] in ("SUSPENDED", "PENDING_CLOSURE")
    management = call(env, "account_close", {"account_id": env["management"]}, approved=True)
    assert management.denied and "no-management-account-close" in management.error


def test_an_agent_calls_only_its_declared_tools(env):
    result = call(env, "account_close", {"account_id": env["member"]}, approved=True, tools=["org_describe"])
    assert result.denied and "declared-tools-only" in result.error
    assert ok(call(env, "org_describe", {}, tools=["org_describe"]))


def test_tool_and_aws_records_share_the_invocation(env):
    env["audit"].records.clear()
    ok(call(env, "org_create_ou", {"name": "acme"}))
    tool_records = [r for r in env["audit"].records if r.source == "tool"]
    aws_records = [r for r in env["audit"].records if r.source == "aws"]
    assert [r.tool for r in tool_records] == ["org_create_ou"]
    assert aws_records and all(r.invocation_id == INVOCATION and r.agent_type == "onboarding" for r in aws_records)
    assert "organizations:CreateOrganizationalUnit" in [r.tool for r in aws_records]


def test_without_aws_the_tools_say_what_is_missing(registry):
    result = registry.call("org_describe", {}, ToolContext(services=ToolServices()))
    assert not result.ok and "needs aws" in result.error

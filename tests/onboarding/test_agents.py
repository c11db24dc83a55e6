"""The onboarding and provisioning agent plugins: declared like the others, their offline scripts driving the tools
through ToolRegistry.call (policy and audit applied) against moto, as the offline model does."""

from __future__ import annotations

import pytest

from runtime.models import ParentContext, new_ulid
from runtime.onboarding.aws import AwsClients
from runtime.onboarding.stacks import stack_name_for
from runtime.policy import ToolPolicy
from runtime.registry import get_registry
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices
from tests.agent.conftest import make_request

REQUIREMENTS = {"customer_id": "acme", "customer_name": "Acme", "contact_email": "ops@acme.example",
                "infrastructure": {"regions": ["us-east-1"], "services": ["sqs"]}, "environments": ["dev"]}


def drive(agent: str, request, services: ToolServices) -> tuple[str, list[str]]:
    """Run the agent's offline script: each ToolCall through the registry as that agent, its result sent back."""
    registry = ToolRegistry.default()
    spec = registry.agents.get(agent)
    context = ToolContext(agent_type=agent, invocation_id=str(request.invocation_id), allowed_tools=spec.tools,
                          services=services)
    script, calls, result = spec.offline(request), [], None
    try:
        call = next(script)
        while True:
            calls.append(call.name)
            outcome = registry.call(call.name, call.args, context)
            assert outcome.ok, outcome.error
            call = script.send(outcome.content)
    except StopIteration as done:
        result = done.value
    return result, calls


def request_with(agent: str, context: dict):
    return make_request(agent, parent=ParentContext(invocation_id=new_ulid(), agent_type="onboarding",
                                                    context=context))


def test_both_agents_are_declared_with_prompts_tools_and_limits():
    registry = get_registry()
    for name in ("onboarding", "provisioning"):
        spec = registry.get(name)
        assert spec.system_prompt.strip() and spec.offline is not None and spec.limits.max_tokens <= 100_000
        assert set(spec.tools) <= set(registry.tools)
    assert "account_close" in registry.get("onboarding").tools
    assert not {"cfn_deploy", "cfn_rollback"} & set(registry.get("onboarding").tools)  # each agent only its tools
    assert not {"org_create_account", "account_close"} & set(registry.get("provisioning").tools)


def test_onboarding_offline_makes_the_organisation_and_a_versioned_package(aws, organization, package_store):
    sink = MemoryAuditSink()
    services = ToolServices(policy=ToolPolicy.load(), audit=sink, aws=AwsClients(audit=sink, region="us-east-1"),
                            packages=package_store)
    summary, calls = drive("onboarding", request_with("onboarding", {"requirements": REQUIREMENTS}), services)
    assert "package v1" in summary and "2 OUs, 1 accounts" in summary
    assert calls[:2] == ["cfn_build_package", "org_describe"] and calls[-2:] == ["cfn_validate_package",
                                                                                 "cfn_version_package"]
    assert package_store.versions("acme")[0].version == "v1"
    org, _ = organization
    assert {a["Name"] for a in org.list_accounts()["Accounts"]} >= {"acme-dev"}
    again, _ = drive("onboarding", request_with("onboarding", {"requirements": REQUIREMENTS}), services)
    assert "package v1" in again  # a re-run finds everything, the same content keeps its version
    assert len(org.list_accounts()["Accounts"]) == 2


def test_onboarding_offline_without_requirements_says_where_to_put_them():
    with pytest.raises(LookupError, match="Requirements"):
        next(get_registry().get("onboarding").offline(make_request("onboarding")))


def test_provisioning_offline_explains_a_failure_with_its_remediation(aws, organization, package_store):
    from runtime.onboarding.models import CFNPackage

    org, _ = organization
    member = org.create_account(AccountName="m", Email="m@acme.example")["CreateAccountStatus"]["AccountId"]
    services = ToolServices(policy=ToolPolicy.load(), aws=AwsClients(region="us-east-1"), packages=package_store)
    broken = {"name": "broken", "body": {"Resources": {"Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
        "VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.0.0/24"}}}}}
    version = package_store.put(CFNPackage(customer_id="acme", templates=[broken],
                                           requirements_digest="sha256:" + "0" * 64)).version
    deployed = ToolRegistry.default().call(
        "cfn_deploy", {"account_id": member, "customer_id": "acme", "version": version, "template": "broken"},
        ToolContext(agent_type="provisioning", allowed_tools=get_registry().get("provisioning").tools,
                    services=services))
    assert deployed.ok and deployed.content["status"] == "failed"
    explanation, calls = drive("provisioning", request_with("provisioning", {
        "error": deployed.content["error"], "account_id": member, "stack_name": stack_name_for("acme", "broken"),
        "resources_failed": deployed.content["resources_failed"]}),
        services)
    assert calls == ["cfn_stack_status", "cfn_stack_events"]
    assert "InvalidVpcID.NotFound" in explanation and "Subnet" in explanation
    assert "deploy the network template first" in explanation

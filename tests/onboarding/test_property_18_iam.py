"""Property 18 of seed 003 (IAM least privilege), on the roles the Pulumi program gives the two durable workflow
functions (components/workflows.py, components/iam.py) and the AWS calls the workflows really make.

Both workflows run end to end once for the module (the durable SDK's local runner, AWS on moto, the real tools),
each function's calls made through its own audited clients with a `CallRecorder` (principal: its logical name), as
each runs under its own role in AWS. Hypothesis' seed is configurable as for every property here
(`pytest --hypothesis-seed=N`).
"""

from __future__ import annotations

import re
import time

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from components.iam import DURABLE_EXECUTION, WILDCARD_RESOURCE_REASONS
from components.iam_coverage import Need, allowed, iam_coverage, needs, principal_statements, stack_arns
from runtime import resources
from runtime.onboarding.models import WorkflowStatus

REGION = "us-east-1"
PREFIX = "aidlc-test"  # physical names `{prefix}-{logical}`, which the coverage maps to the stack's resources
WORKFLOW_PRINCIPALS = tuple(f.logical_name for f in resources.WORKFLOW_FUNCTIONS)
REQUIREMENTS = {"customer_id": "acme-co", "customer_name": "Acme", "contact_email": "ops@acme.example",
                "infrastructure": {"regions": ["us-east-1"], "services": ["s3"]}, "environments": ["dev"]}
# Services whose every action a probe may draw: those the workflows reach, and those they must never reach.
PROBED_SERVICES = ("organizations", "sts", "cloudformation", "s3", "kms", "lambda", "dynamodb", "iam",
                   "secretsmanager")
OTHER_ACCOUNT = "210987654321"


def _services(principal: str, recorder, *, table: str, audit_table: str, bucket: str):
    """One workflow function's services, as `wiring.services_from_env` makes them in AWS, all its clients recorded
    under `principal`."""
    from runtime.onboarding.aws import AwsClients
    from runtime.onboarding.package_store import PackageStore
    from runtime.onboarding.workflows.local import declared_agent_tools
    from runtime.onboarding.workflows.wiring import build_services, tool_services
    from runtime.tools.audit import DynamoDbAuditSink
    from runtime.tools.registry import ToolRegistry

    from runtime.aws_clients import AwsClients as PrincipalClients

    dynamodb = PrincipalClients(principal, recorder=recorder, region=REGION).client("dynamodb")
    audit = DynamoDbAuditSink(audit_table, client=dynamodb)
    aws = AwsClients(audit=audit, principal=principal, recorder=recorder, region=REGION)
    services = build_services(dynamodb=dynamodb, table=table, tools=ToolRegistry.default(),
                              tool_services=tool_services(aws=aws, packages=PackageStore(aws.client("s3"), bucket),
                                                          audit=audit),
                              poll_seconds=5, agent_tools=declared_agent_tools())
    services.alerts.metrics_enabled = False
    return services


@pytest.fixture(scope="module")
def calls():
    """Every AWS call of one customer onboarded, provisioned (approved) and verified."""
    from runtime.observe.calls import CallRecorder
    from runtime.onboarding.package_store import ensure_package_bucket
    from runtime.onboarding.workflows import onboarding, provisioning
    from runtime.onboarding.workflows.engine import LocalBackend, WorkflowEngine, WorkflowServices
    from runtime.onboarding.workflows.state import WorkflowStore

    recorder = CallRecorder()
    table, audit_table = f"{PREFIX}-{resources.WORKFLOWS.logical_name}", f"{PREFIX}-{resources.AUDIT.logical_name}"
    bucket = f"{PREFIX}-{resources.PACKAGES.logical_name}"
    with mock_aws():
        plain = boto3.client("dynamodb", region_name=REGION)  # the infra's and the API's side: not recorded
        for declared, name in ((resources.WORKFLOWS, table), (resources.AUDIT, audit_table)):
            plain.create_table(**declared.create_table_request(name))
        ensure_package_bucket(boto3.client("s3", region_name=REGION), bucket, REGION)
        by_kind = {kind: _services(logical, recorder, table=table, audit_table=audit_table, bucket=bucket)
                   for kind, logical in resources.WORKFLOW_FUNCTION_FOR.items()}
        backend = LocalBackend({"onboarding": onboarding.make_handler(by_kind["onboarding"]),
                                "provisioning": provisioning.make_handler(by_kind["provisioning"])})
        try:
            for services in by_kind.values():
                WorkflowEngine(services, backend)  # onboarding starts provisioning; callbacks through the backend
            api = WorkflowEngine(WorkflowServices(store=WorkflowStore(table, plain), tools=None, tool_services=None),
                                 backend)
            record = api.start("onboarding", {"requirements": REQUIREMENTS})
            backend.wait(api.status(record.workflow_id).executions[-1], timeout=120)
            done = api.status(record.workflow_id)
            assert done.state.status == WorkflowStatus.SUCCEEDED, done.state.error
            provisioning_id = done.completed("provisioning_started").result["workflow_id"]
            deadline = time.monotonic() + 120  # until it waits for its approval (a hang fails, not a slow run)
            while True:
                waiting = api.status(provisioning_id)
                if waiting.state.status == WorkflowStatus.WAITING_APPROVAL and waiting.callback_id:
                    break
                assert waiting.state.status == WorkflowStatus.RUNNING, waiting.state.error
                assert time.monotonic() < deadline, "provisioning never asked for its approval"
                time.sleep(0.02)
            api.approve(provisioning_id, by="U0APPROVER")
            backend.wait(api.status(provisioning_id).executions[-1], timeout=120)
            provisioned = api.status(provisioning_id)
            assert provisioned.state.status == WorkflowStatus.SUCCEEDED, provisioned.state.error
        finally:
            backend.close()
    return list(recorder.calls)


@pytest.fixture(scope="module")
def stack():
    from tests.infra.coverage import dev_stack

    return dev_stack()


@pytest.fixture(scope="module")
def needed(calls, stack):
    """principal -> the permissions its recorded calls need."""
    arns = stack_arns(stack)
    out: dict[str, list[Need]] = {p: [] for p in WORKFLOW_PRINCIPALS}
    for call in calls:
        if call.principal in out:
            out[call.principal] += needs(call, stack, arns)
    return out


@pytest.fixture(scope="module")
def catalogue():
    from policy_sentry.querying.actions import get_actions_for_service

    return sorted({a for service in PROBED_SERVICES for a in get_actions_for_service(service)})


def test_every_call_the_workflows_make_is_allowed_by_their_roles(calls, stack):
    """The fidelity IAM coverage check on the workflows' real calls: nothing they call is refused, and the run
    reached what matters (Organizations from onboarding, the access role assumed by provisioning, the packages)."""
    by_principal = {(c.principal, c.service, c.operation) for c in calls}
    assert ("onboarding_workflow", "organizations", "CreateAccount") in by_principal
    assert ("onboarding_workflow", "s3", "PutObject") in by_principal
    assert ("provisioning_workflow", "sts", "AssumeRole") in by_principal
    assert ("provisioning_workflow", "s3", "GetObject") in by_principal
    assert any(c.principal.startswith("arn:aws:sts::") and c.service == "cloudformation" for c in calls)
    assert iam_coverage(stack, calls) == []


# Granted, and called by the code, on paths one clean run does not take (each checked to be in the code below).
UNEXERCISED = {
    "organizations:DescribeCreateAccountStatus": "an account still being created (moto creates it at once)",
    "organizations:DescribePolicy": "an SCP of that name already there: its content compared",
    "organizations:UpdatePolicy": "an SCP of that name already there with other content",
}
# The services this work grants for the workflows; tables, secrets and logs are every function's statements
# (components/iam.py function_statements), checked by the coverage of other functions' calls.
WORKFLOW_SERVICES = ("organizations:", "sts:", "s3:", "kms:", "lambda:", "iam:", "cloudformation:")


def test_every_workflow_specific_action_a_role_grants_is_one_its_calls_need(needed, stack):
    """Nothing granted for nothing: each Organizations, STS, S3, KMS, Lambda, IAM (and no CloudFormation) action of
    each workflow role is needed by a recorded call of that function, or one the durable SDK calls itself on the
    function's own executions (not through our clients), or a call of the code on a path this run does not take."""
    from pathlib import Path

    import runtime.onboarding.organizations as organizations

    source = Path(organizations.__file__).read_text()
    for action in UNEXERCISED:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", action.split(":", 1)[1]).lower()
        assert f".{snake}(" in source, f"{action} is listed as called by organizations.py, which does not call it"
    statements = principal_statements(stack)
    for principal in WORKFLOW_PRINCIPALS:
        granted = {a for st_ in statements[principal] for a in _actions(st_) if a.startswith(WORKFLOW_SERVICES)}
        used = {n.action for n in needed[principal]} | set(DURABLE_EXECUTION) | set(UNEXERCISED)
        if principal == "onboarding_workflow":
            used.add("lambda:InvokeFunction")  # starting provisioning: LambdaBackend in AWS (the local runner here)
        assert granted - used == set(), f"{principal} holds actions none of its calls need: {granted - used}"
        assert not any(a.startswith("cloudformation:") for a in granted)  # CloudFormation runs as the access role


def _elsewhere(resource: str) -> str:
    """The same kind of resource, not ours: another account's, another bucket's objects."""
    if resource.startswith("arn:aws:s3:::"):
        return re.sub(r"^arn:aws:s3:::[^/]+", "arn:aws:s3:::someone-elses-bucket", resource)
    return re.sub(r"^(arn:aws:[^:]+:[^:]*:)\d{12}(:)", rf"\g<1>{OTHER_ACCOUNT}\g<2>", resource)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_property_18_workflow_roles_grant_only_what_their_calls_need(needed, stack, catalogue, data):
    """Feature: agent-onboarding-provisioning, Property 18: IAM Least Privilege — for any AWS service access, the
    system uses IAM roles that grant only the minimum permissions required for that specific operation.

    For a workflow function and a permission drawn (hypothesis) either from what its recorded calls need, or from
    every action the IAM database has for the services around it on one of its own resources, or from its own needs
    moved to a resource that is not ours (another account's, another bucket, the management account's own access
    role): the role allows exactly the needed ones. Shown to fail against deliberately broken grants (run once,
    by editing components/iam.py and re-running this file): an Organizations action added to
    ORGANIZATIONS_ACTIONS["provisioning_workflow"] fails the "not needed" branch (allowed, never called);
    ORG_RESOURCES with `*` for the account, or dropping the StringNotEquals aws:ResourceAccount condition
    of assume_access_role_statement, fails the "elsewhere" branch (another account's OU, the management account's
    role allowed). Done once: provisioning given organizations:DescribeOrganization (which it held before its
    grants were cut to its calls) and the aws:ResourceAccount condition made `StringLike *`: both this property and
    the test above failed, naming the action and the management account's role."""
    principal = data.draw(st.sampled_from(WORKFLOW_PRINCIPALS), label="principal")
    statements = principal_statements(stack)[principal]
    own = needed[principal]
    need_actions = {n.action for n in own} | set(DURABLE_EXECUTION)
    kind = data.draw(st.sampled_from(["needed", "not needed", "elsewhere"]), label="kind")
    if kind == "needed":
        need = data.draw(st.sampled_from(own), label="need")
        assert allowed(statements, need), f"{principal} is refused {need}, which its calls need"
    elif kind == "not needed":
        expected = need_actions | set(UNEXERCISED) | {"lambda:InvokeFunction"}
        granted = sorted({a for st_ in statements for a in _actions(st_)
                          if a.startswith(WORKFLOW_SERVICES) and a not in expected})
        pools = [st.sampled_from([a for a in catalogue if a not in expected])]
        if granted:  # what the role holds beyond its needs is drawn as often as the rest of the catalogue
            pools.append(st.sampled_from(granted))
        action = data.draw(st.one_of(*pools), label="action")
        resource = data.draw(st.sampled_from(sorted({n.resource for n in own} | {"*"})), label="resource")
        assert not allowed(statements, Need(action, resource, {})), f"{principal} may {action} on {resource}"
    else:
        scoped = [n for n in own if n.resource != "*" and n.action not in WILDCARD_RESOURCE_REASONS]
        need = data.draw(st.sampled_from(scoped), label="need")
        moved = _elsewhere(need.resource)
        context = dict(need.context)
        if need.action == "sts:AssumeRole":  # the access role of the management account itself
            moved = re.sub(r"::\d{12}:", f"::{_stack_account(stack)}:", need.resource)
            context["aws:ResourceAccount"] = _stack_account(stack)
        assert moved != need.resource
        assert not allowed(statements, Need(need.action, moved, context)), f"{principal} may {need.action} on {moved}"


def _actions(statement: dict) -> list[str]:
    action = statement.get("Action")
    return list(action) if isinstance(action, list) else [action]


def _stack_account(stack) -> str:
    from components.iam_coverage import _stack_account as account

    return account(stack)

"""The onboarding models: bad input fails with an error naming the field; the plan and the dependency order."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pydantic import ValidationError

from runtime.onboarding.models import (
    CFNPackage,
    CloudFormationTemplate,
    CustomerRequirements,
    DeploymentResult,
    DeploymentStatus,
    ErrorClass,
    ErrorContext,
    OrganizationConfig,
    PolicyViolation,
    StepStatus,
    Checkpoint,
    WorkflowKind,
    WorkflowState,
    classify_error,
    known_regions,
)

DIGEST = "sha256:" + "0" * 64


def requirements(**changes) -> dict:
    base = {
        "customer_id": "acme-corp", "customer_name": "Acme Corp", "contact_email": "ops@acme.example.com",
        "infrastructure": {"regions": ["us-east-1"], "services": ["s3"]},
    }
    base.update(changes)
    return base


def error_for(model, data) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    error = info.value.errors()[0]
    return error["loc"], error["msg"]


def template(name: str, depends_on=(), resources=None, **extra) -> dict:
    return {"name": name, "body": {"Resources": resources or {"Q": {"Type": "AWS::SQS::Queue"}}},
            "depends_on": list(depends_on), **extra}


def test_valid_requirements_have_defaults():
    req = CustomerRequirements.model_validate(requirements())
    assert req.environments == ["dev", "prod"]
    assert req.infrastructure.security.encryption_at_rest is True
    assert req.digest().startswith("sha256:") and req.digest() == CustomerRequirements.model_validate(
        requirements()).digest()


@pytest.mark.parametrize(
    "changes, loc, words",
    [
        ({"contact_email": "not-an-email"}, ("contact_email",), "email"),
        ({"infrastructure": {"regions": ["mars-north-1"]}}, ("infrastructure", "regions", 0), "not an AWS region"),
        ({"infrastructure": {"regions": []}}, ("infrastructure", "regions"), "at least 1"),
        ({"infrastructure": {"regions": ["us-east-1"], "services": ["mainframe"]}}, ("infrastructure", "services"),
         "unsupported service"),
        ({"customer_id": "Acme_Corp"}, ("customer_id",), "slug"),
        ({"infrastructure": {"regions": ["us-east-1"], "networking": {"vpc_cidr": "10.0.0.0/8"}}},
         ("infrastructure", "networking", "vpc_cidr"), "/16 to /24"),
        ({"infrastructure": {"regions": ["us-east-1"], "networking": {"vpc_cidr": "10.0.0.1/16"}}},
         ("infrastructure", "networking", "vpc_cidr"), "CIDR"),
        ({"infrastructure": {"regions": ["us-east-1"], "networking": {"availability_zones": 2, "nat_gateways": 3}}},
         ("infrastructure", "networking"), "nat_gateways"),
        ({"infrastructure": {"regions": ["us-east-1"], "security": {"admin_ingress_cidrs": ["0.0.0.0/0"]}}},
         ("infrastructure", "security", "admin_ingress_cidrs"), "whole internet"),
        ({"compliance": ["HIPAA"], "infrastructure": {"regions": ["us-east-1"],
                                                      "security": {"encryption_at_rest": False}}},
         (), "encryption_at_rest"),
        ({"environments": ["dev", "dev"]}, ("environments",), "duplicates"),
        ({"unexpected": 1}, ("unexpected",), "Extra inputs"),
    ],
)
def test_bad_requirements_name_the_field(changes, loc, words):
    got_loc, msg = error_for(CustomerRequirements, requirements(**changes))
    assert got_loc == loc
    assert words.lower() in msg.lower()


def test_regions_come_from_botocore_partitions():
    regions = known_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= regions
    assert "us-east-7" not in regions


def test_organization_config_from_requirements_is_a_consistent_plan():
    req = CustomerRequirements.model_validate(requirements(environments=["dev", "staging", "prod"]))
    org = OrganizationConfig.from_requirements(req)
    assert [ou.name for ou in org.ou_order()][0] == "acme-corp"
    assert {a.ou for a in org.accounts} == {"acme-corp-dev", "acme-corp-staging", "acme-corp-prod"}
    assert {a.environment for a in org.accounts} == {"dev", "staging", "prod"}
    assert len({a.email for a in org.accounts}) == 3
    names = {p.name for p in org.policies}
    assert {"acme-corp-guardrails", "acme-corp-allowed-regions", "acme-corp-require-mfa"} == names
    regions_scp = next(p for p in org.policies if p.name.endswith("allowed-regions"))
    assert regions_scp.document["Statement"][0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == ["us-east-1"]
    assert OrganizationConfig.from_requirements(req) == org  # deterministic


def test_organization_config_errors():
    assert error_for(OrganizationConfig, {"customer_id": "acme", "organizational_units": []})[0] == (
        "organizational_units",)
    loc, msg = error_for(OrganizationConfig, {
        "customer_id": "acme", "organizational_units": [{"name": "a"}],
        "accounts": [{"name": "x", "email": "x@acme.example.com", "ou": "nowhere", "environment": "dev"}]})
    assert "accounts[0].ou 'nowhere' is not an OU" in msg
    loc, msg = error_for(OrganizationConfig, {
        "customer_id": "acme", "organizational_units": [{"name": "a", "parent": "b"}, {"name": "b", "parent": "a"}]})
    assert "cycle" in msg
    loc, msg = error_for(OrganizationConfig, {
        "customer_id": "acme", "organizational_units": [{"name": "a"}],
        "policies": [{"name": "p", "document": {"Version": "2012-10-17", "Statement": []}}]})
    assert loc == ("policies", 0, "document") and "Statement" in msg


def test_account_email_longer_than_organizations_allows_is_refused():
    long_local = "x" * 50
    req = CustomerRequirements.model_validate(requirements(contact_email=f"{long_local}@acme.example.com"))
    with pytest.raises(ValueError, match="contact_email"):
        OrganizationConfig.from_requirements(req)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"Resources": {}}, "non-empty"),
        ({"Resources": {"B": {"Properties": {}}}}, "needs a 'Type'"),
        ({"Resources": {"B": {"Type": "S3 bucket"}}}, "not a resource type"),
        ({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}, "Resourcez": {}}, "unknown top-level"),
        ({"Resources": {"my-bucket": {"Type": "AWS::S3::Bucket"}}}, "alphanumeric"),
    ],
)
def test_invalid_template_bodies_are_refused(body, words):
    loc, msg = error_for(CloudFormationTemplate, {"name": "t", "body": body})
    assert loc == ("body",) and words in msg


def test_template_parameters_must_match_the_body():
    loc, msg = error_for(CloudFormationTemplate, {
        "name": "t", "body": {"Parameters": {"A": {"Type": "String"}}, "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}})
    assert "do not match" in msg


def test_deployment_order_and_cycles():
    pkg = CFNPackage.model_validate({"customer_id": "acme", "requirements_digest": DIGEST, "templates": [
        template("app", ["db", "network"]), template("db", ["network"]), template("network"), template("logs")]})
    assert [t.name for t in pkg.deployment_order()] == ["network", "logs", "db", "app"]
    loc, msg = error_for(CFNPackage, {"customer_id": "acme", "requirements_digest": DIGEST, "templates": [
        template("a", ["b"]), template("b", ["a"])]})
    assert "cycle" in msg
    loc, msg = error_for(CFNPackage, {"customer_id": "acme", "requirements_digest": DIGEST, "templates": [
        template("a", ["ghost"])]})
    assert "'ghost' is not a template" in msg


def test_parameter_values_from_upstream_outputs():
    pkg = CFNPackage.model_validate({"customer_id": "acme", "requirements_digest": DIGEST, "templates": [
        template("security"),
        {"name": "app", "depends_on": ["security"], "body": {
            "Parameters": {"KeyArn": {"Type": "String"}, "Size": {"Type": "Number"}},
            "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}},
         "parameters": [{"name": "KeyArn", "from_output": "security.DataKeyArn"}, {"name": "Size", "default": 3}]}]})
    assert pkg.parameter_values("app", {"security": {"DataKeyArn": "arn:k"}}) == {"KeyArn": "arn:k", "Size": "3"}
    with pytest.raises(KeyError, match="DataKeyArn"):
        pkg.parameter_values("app", {})


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    "exc, management, expected",
    [
        (client_error("ThrottlingException"), False, ErrorClass.TRANSIENT),
        (client_error("Throttling"), False, ErrorClass.TRANSIENT),
        (client_error("TooManyRequestsException"), False, ErrorClass.TRANSIENT),
        (client_error("ConcurrentModificationException"), False, ErrorClass.TRANSIENT),
        (client_error("ServiceUnavailable", 503), False, ErrorClass.TRANSIENT),
        (client_error("RequestLimitExceeded"), False, ErrorClass.TRANSIENT),
        (client_error("SomethingNew", 503), False, ErrorClass.TRANSIENT),
        (EndpointConnectionError(endpoint_url="https://x"), False, ErrorClass.TRANSIENT),
        (client_error("AccessDeniedException", 403), True, ErrorClass.CRITICAL),
        (client_error("AccessDenied", 403), False, ErrorClass.PERMANENT),
        (PolicyViolation("cedar said no"), False, ErrorClass.CRITICAL),
        (client_error("ValidationError"), False, ErrorClass.PERMANENT),
        (client_error("ConstraintViolationException"), False, ErrorClass.PERMANENT),
        (ValueError("bad"), False, ErrorClass.PERMANENT),
    ],
)
def test_classify_error(exc, management, expected):
    assert classify_error(exc, management_account=management) == expected


def test_error_context_from_a_client_error():
    ctx = ErrorContext.from_exception(client_error("ThrottlingException"), step="create_ou", service="organizations")
    assert (ctx.code, ctx.operation, ctx.error_class) == ("ThrottlingException", "Op", ErrorClass.TRANSIENT)


def test_workflow_state_and_deployment_result():
    state = WorkflowState(kind=WorkflowKind.ONBOARDING, customer_id="acme-corp", checkpoints=[
        Checkpoint(step="validate", status=StepStatus.SUCCEEDED), Checkpoint(step="ous", status=StepStatus.FAILED)])
    assert state.completed_steps() == ["validate"] and state.last_checkpoint().step == "validate"
    assert WorkflowState.model_validate_json(state.model_dump_json()) == state
    with pytest.raises(ValidationError):
        WorkflowState(workflow_id="not-a-ulid", kind="onboarding", customer_id="acme-corp")
    result = DeploymentResult(stack_name="acme-network", account_id="123456789012", region="us-east-1",
                              status=DeploymentStatus.SUCCEEDED)
    assert result.status == "succeeded"
    loc, _ = error_for(DeploymentResult, {"stack_name": "s", "account_id": "12", "region": "us-east-1",
                                          "status": "succeeded"})
    assert loc == ("account_id",)

"""Packages built from requirements: their templates, cfn-lint and our compliance rules, and a real deployment of
every template under moto's CloudFormation (the resources exist afterwards)."""

from __future__ import annotations

import copy

import pytest

from runtime.onboarding.compliance import RULES, compliance_findings, validate_package
from runtime.onboarding.models import CFNPackage, CloudFormationTemplate, CustomerRequirements, OrganizationConfig
from runtime.onboarding.packages import SERVICE_RESOURCES, build_package, content_digest

FULL = {
    "customer_id": "acme-corp", "customer_name": "Acme Corp", "contact_email": "ops@acme.example.com",
    "compliance": ["SOC2"],
    "infrastructure": {
        "regions": ["us-east-1", "eu-west-1"], "services": list(SERVICE_RESOURCES),
        "networking": {"vpc_cidr": "10.20.0.0/16", "availability_zones": 3, "nat_gateways": 2},
        "security": {"admin_ingress_cidrs": ["203.0.113.0/24"]},
    },
}


@pytest.fixture(scope="module")
def full_requirements() -> CustomerRequirements:
    return CustomerRequirements.model_validate(FULL)


@pytest.fixture(scope="module")
def full_package(full_requirements) -> CFNPackage:
    return build_package(full_requirements, OrganizationConfig.from_requirements(full_requirements))


def types_in(pkg: CFNPackage) -> list[str]:
    return [t for template in pkg.templates for t in template.resource_types().values()]


def test_package_has_baselines_and_one_template_per_service(full_package):
    names = [t.name for t in full_package.templates]
    assert names == ["network", "security"] + [f"service-{s}" for s in SERVICE_RESOURCES]
    assert full_package.regions == ["us-east-1", "eu-west-1"]
    network = full_package.template("network").body["Resources"]
    assert network["Vpc"]["Properties"]["CidrBlock"] == "10.20.0.0/16"
    assert sum(1 for r in network if r.startswith("PrivateSubnet") and r[-1].isdigit()) == 3
    assert sum(1 for r in network if r.startswith("NatGateway")) == 2
    ingress = network["AdminSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert {r["CidrIp"] for r in ingress} == {"203.0.113.0/24"}
    assert [t.name for t in full_package.deployment_order()][:2] == ["network", "security"]
    assert full_package.template("service-rds").depends_on == ["network", "security"]


def test_the_same_requirements_build_the_same_package(full_requirements):
    assert content_digest(build_package(full_requirements)) == content_digest(build_package(full_requirements))


def test_org_of_another_customer_is_refused(full_requirements):
    other = OrganizationConfig(customer_id="other-co", organizational_units=[{"name": "x"}])
    with pytest.raises(ValueError, match="org.customer_id"):
        build_package(full_requirements, other)


def test_full_package_passes_cfn_lint_and_our_rules(full_package):
    # cfn-lint for two regions over eight templates: a few seconds the first time (its Runner loads every rule).
    report = validate_package(full_package)
    assert report.valid, report.summary()
    assert report.linter.startswith("cfn-lint 1.58")
    assert report.regions == ["us-east-1", "eu-west-1"]


def test_service_default_encryption_when_no_customer_key(full_requirements):
    data = copy.deepcopy(FULL)
    data["compliance"] = []
    data["infrastructure"]["security"]["encryption_at_rest"] = False
    pkg = build_package(CustomerRequirements.model_validate(data))
    assert "AWS::KMS::Key" not in types_in(pkg)
    bucket = pkg.template("service-s3").body["Resources"]["DataBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "AES256"}
    assert validate_package(pkg, lint=False).valid


def test_cfn_lint_findings_name_template_resource_and_rule(full_package):
    data = full_package.model_dump()
    sqs = next(t for t in data["templates"] if t["name"] == "service-sqs")
    sqs["body"]["Resources"]["WorkQueue"]["Properties"]["DelaySeconds"] = "soon"
    report = validate_package(CFNPackage.model_validate(data))
    assert not report.valid
    finding = next(f for f in report.errors if f.source == "cfn-lint")
    assert (finding.template, finding.resource) == ("service-sqs", "WorkQueue")
    assert finding.rule.startswith("E")


INSECURE = {
    "ENC-001": ("AWS::DynamoDB::Table", {"SSESpecification": {"SSEEnabled": False}}),
    "S3-001": ("AWS::S3::Bucket", {"BucketEncryption": {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}, "AccessControl": "PublicRead"}),
    "S3-002": ("AWS::S3::BucketPolicy", {"Bucket": "b", "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}),
    "IAM-001": ("AWS::IAM::Policy", {"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}),
    "NET-001": ("AWS::EC2::SecurityGroup", {"GroupDescription": "g", "SecurityGroupIngress": [
        {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "CidrIp": "0.0.0.0/0"}]}),
    "NET-002": ("AWS::EC2::SecurityGroupIngress", {"IpProtocol": "-1", "CidrIpv6": "::/0", "GroupId": "sg-1"}),
    "RDS-001": ("AWS::RDS::DBInstance", {"StorageEncrypted": True, "PubliclyAccessible": True}),
    "KMS-001": ("AWS::KMS::Key", {"EnableKeyRotation": False}),
    "LAMBDA-001": ("AWS::Lambda::Permission", {"Principal": "*", "Action": "lambda:InvokeFunction",
                                               "FunctionName": "f"}),
}


def test_every_rule_has_an_id_a_description_and_a_reason_and_an_insecure_example():
    assert {rule.id for rule in RULES} == set(INSECURE)
    for rule in RULES:
        assert rule.description and len(rule.reason) > 20


@pytest.mark.parametrize("rule_id", sorted(INSECURE))
def test_each_rule_rejects_its_insecure_configuration(rule_id):
    resource_type, props = INSECURE[rule_id]
    template = CloudFormationTemplate(name="t", body={"Resources": {"Thing": {"Type": resource_type,
                                                                             "Properties": props}}})
    findings = compliance_findings(template)
    assert any(f.rule == rule_id and f.resource == "Thing" and f.template == "t" and f.reason for f in findings)


def test_our_own_templates_raise_no_compliance_finding(full_package):
    assert [f for t in full_package.templates for f in compliance_findings(t)] == []


def test_every_template_deploys_under_moto(full_package, cfn, aws):
    """moto's CloudFormation creates every resource of every template, in dependency order, cross-stack values
    passed as parameters; the data bucket is encrypted with the security stack's key."""
    outputs: dict[str, dict[str, str]] = {}
    for template in full_package.deployment_order():
        params = full_package.parameter_values(template.name, outputs)
        stack = f"acme-{template.name}"
        cfn.create_stack(StackName=stack, TemplateBody=template.template_body(), Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        assert described["StackStatus"] == "CREATE_COMPLETE"
        resources = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        assert {r["LogicalResourceId"] for r in resources} == set(template.body["Resources"])
        outputs[template.name] = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    s3 = aws.client("s3")
    bucket = outputs["service-s3"]["BucketName"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": outputs["security"]["DataKeyArn"]}
    assert len(aws.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [outputs["network"]["VpcId"]]}])["Subnets"]) == 6

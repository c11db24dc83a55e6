"""Properties 7, 8, 9, 10, 19 and 20 of seed 003 (packages, their validation, versioning and storage, customer data
at rest, insecure configurations). Hypothesis' seed is configurable as for every property here
(`pytest --hypothesis-seed=N`; the `ci` and `nightly` profiles of tests/conftest.py set the example database and
counts, and each test below fixes its own count at 100). AWS is moto: one in-process moto for the module (a boto3
client costs ~0.3 s to make and a KMS key ~0.1 s here, too much per example), each example under a customer id of
its own so examples cannot see each other's objects."""

from __future__ import annotations

import ipaddress
import itertools
import json
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.onboarding.compliance import RULES, compliance_findings, validate_package
from runtime.onboarding.customer_data import CustomerDataError, CustomerDataStore, requirements_key
from runtime.onboarding.models import (
    SUPPORTED_SERVICES,
    CFNPackage,
    CloudFormationTemplate,
    ComplianceFramework,
    CustomerRequirements,
    known_regions,
)
from runtime.onboarding.package_store import PackageStore, ensure_package_bucket
from runtime.onboarding.packages import SERVICE_RESOURCES, build_package, content_digest
from tests.onboarding.conftest import PACKAGE_BUCKET, moto_session

_fresh = itertools.count(1)


def fresh_customer() -> str:
    return f"customer-{next(_fresh)}"


@pytest.fixture(scope="module")
def world():
    """One moto AWS for the module: the package bucket and two customer-managed keys."""
    with moto_session() as aws:
        s3, kms = aws.client("s3"), aws.client("kms")
        ensure_package_bucket(s3, PACKAGE_BUCKET)
        keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2)]
        yield type("World", (), {"s3": s3, "kms": kms, "keys": keys})


# 100 examples a property in CI (issue 13's floor); HYPOTHESIS_PROFILE=nightly (tests/conftest.py) runs ten times
# as many.
EXAMPLES = 1000 if settings.get_current_profile_name() == "nightly" else 100
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIGEST = "sha256:" + "ab" * 32

# --- strategies ---------------------------------------------------------------------------------------------------

slugs = st.from_regex(r"[a-z][a-z0-9]{2,10}(-[a-z0-9]{1,8})?", fullmatch=True)


@st.composite
def vpc_cidrs(draw) -> str:
    prefix = draw(st.integers(min_value=16, max_value=24))
    block = draw(st.integers(min_value=0, max_value=2 ** (prefix - 8) - 1))
    return str(ipaddress.IPv4Network((int(ipaddress.IPv4Address("10.0.0.0")) + (block << (32 - prefix)), prefix)))


@st.composite
def requirement_dicts(draw) -> dict:
    azs = draw(st.integers(min_value=1, max_value=6))
    public = draw(st.booleans())
    encryption = draw(st.booleans())
    frameworks = draw(st.lists(st.sampled_from(list(ComplianceFramework)), unique=True, max_size=4))
    if not encryption:  # HIPAA and PCI-DSS require customer-managed keys (a model rule, tested in test_models)
        frameworks = [f for f in frameworks if f not in (ComplianceFramework.HIPAA, ComplianceFramework.PCI_DSS)]
    return {
        "customer_id": draw(slugs),
        "customer_name": draw(st.text(min_size=1, max_size=30)),
        "contact_email": f"{draw(slugs)}@example-corp.com",
        "compliance": [str(f) for f in frameworks],
        "environments": draw(st.lists(st.sampled_from(["dev", "test", "staging", "prod"]), unique=True, min_size=1)),
        "infrastructure": {
            "regions": draw(st.lists(st.sampled_from(sorted(known_regions())), unique=True, min_size=1, max_size=4)),
            "services": draw(st.lists(st.sampled_from(SUPPORTED_SERVICES), unique=True)),
            "networking": {"vpc_cidr": draw(vpc_cidrs()), "availability_zones": azs, "public_subnets": public,
                           "nat_gateways": draw(st.integers(min_value=0, max_value=azs)) if public else 0},
            "security": {
                "encryption_at_rest": encryption, "mfa_required": draw(st.booleans()),
                "restrict_to_allowed_regions": draw(st.booleans()),
                "admin_ingress_cidrs": draw(st.lists(st.sampled_from(
                    ["198.51.100.0/24", "203.0.113.7/32", "192.0.2.0/28", "2001:db8::/32"]), unique=True, max_size=3)),
            },
            "scaling": {"dynamodb_billing": draw(st.sampled_from(["PAY_PER_REQUEST", "PROVISIONED"])),
                        "lambda_memory_mb": draw(st.integers(min_value=128, max_value=10_240))},
        },
    }


requirements = requirement_dicts().map(CustomerRequirements.model_validate)


# --- property 7 ---------------------------------------------------------------------------------------------------


@PROPERTY
@given(req=requirements)
def test_property_7_packages_satisfy_the_requirements(req):
    """Feature: agent-onboarding-provisioning, Property 7: CFN Package Assembly Correctness — for any customer
    requirements specification, the generated CloudFormation package contains templates and parameters that
    satisfy all specified infrastructure, networking, and security requirements.

    Checked per example: one template per service asked for (none other) holding that service's resource types;
    the package's regions; the VPC's CIDR, a private subnet per availability zone (inside the VPC, disjoint), public
    subnets and an internet gateway iff asked, exactly the NAT gateways asked; the admin security group open to
    exactly the named networks; the customer-managed key iff `encryption_at_rest`, and every service's storage
    given it as a parameter from the security stack; the security options recorded; dependencies deployed first;
    no compliance finding. A broken builder (a forgotten service, NAT gateways ignored, subnets for two zones
    whatever was asked, encryption from the wrong key, a dependency after its dependant) fails one of these."""
    pkg = build_package(req)
    infra, net, sec = req.infrastructure, req.infrastructure.networking, req.infrastructure.security
    names = [t.name for t in pkg.templates]
    assert names == ["network", "security"] + [f"service-{s}" for s in infra.services]
    for service in infra.services:
        types = set(pkg.template(f"service-{service}").resource_types().values())
        assert set(SERVICE_RESOURCES[service]) <= types
    assert pkg.regions == infra.regions

    network = pkg.template("network").body["Resources"]
    vpc = ipaddress.IPv4Network(network["Vpc"]["Properties"]["CidrBlock"])
    assert str(vpc) == net.vpc_cidr
    subnets = {k: ipaddress.IPv4Network(v["Properties"]["CidrBlock"]) for k, v in network.items()
               if v["Type"] == "AWS::EC2::Subnet"}
    assert all(s.subnet_of(vpc) for s in subnets.values())
    assert not any(a.overlaps(b) for i, a in enumerate(subnets.values()) for b in list(subnets.values())[i + 1:])
    assert sum(k.startswith("Private") for k in subnets) == net.availability_zones
    assert sum(k.startswith("Public") for k in subnets) == (net.availability_zones if net.public_subnets else 0)
    assert ("InternetGateway" in network) == net.public_subnets
    assert sum(v["Type"] == "AWS::EC2::NatGateway" for v in network.values()) == net.nat_gateways
    ingress = (network.get("AdminSecurityGroup") or {}).get("Properties", {}).get("SecurityGroupIngress", [])
    assert {r.get("CidrIp") or r.get("CidrIpv6") for r in ingress} == set(sec.admin_ingress_cidrs)

    security = pkg.template("security")
    assert ("AWS::KMS::Key" in security.resource_types().values()) == sec.encryption_at_rest
    baseline = json.loads(security.body["Resources"]["SecurityBaseline"]["Properties"]["Value"])
    assert baseline["encryption_at_rest"] == sec.encryption_at_rest and baseline["regions"] == infra.regions
    assert baseline["compliance"] == [str(c) for c in req.compliance]
    for service in infra.services:
        template = pkg.template(f"service-{service}")
        key_params = [p for p in template.parameters if p.from_output == "security.DataKeyArn"]
        assert bool(key_params) == sec.encryption_at_rest
        assert ("security" in template.depends_on) == sec.encryption_at_rest

    order = [t.name for t in pkg.deployment_order()]
    for template in pkg.templates:
        assert all(order.index(dep) < order.index(template.name) for dep in template.depends_on)
    assert [f for t in pkg.templates for f in compliance_findings(t)] == []


# --- property 8 ---------------------------------------------------------------------------------------------------

BASELINE_REQUIREMENTS = {
    "customer_id": "acme-corp", "customer_name": "Acme", "contact_email": "ops@acme.example.com",
    "infrastructure": {"regions": ["us-east-1"], "services": list(SUPPORTED_SERVICES),
                       "networking": {"availability_zones": 2, "nat_gateways": 1},
                       "security": {"admin_ingress_cidrs": ["198.51.100.0/24"]}},
}


@lru_cache(maxsize=1)
def baseline() -> CFNPackage:
    return build_package(CustomerRequirements.model_validate(BASELINE_REQUIREMENTS))


def _resources(data: dict, template: str) -> dict:
    return next(t for t in data["templates"] if t["name"] == template)["body"]["Resources"]


# Mutations only cfn-lint catches (the model's structural checks let them through). cfn-lint costs ~50-400 ms a
# template here, so these are a small fixed set (3 kinds x 4 small templates = 12 distinct lints, each linted once:
# compliance.py caches cfn-lint's result by template content, and the valid baseline is linted once for all).
LINT_TARGETS = {"service-s3": "DataBucket", "service-sqs": "WorkQueue", "service-sns": "EventsTopic",
                "service-dynamodb": "DataTable"}


def lint_mutation(kind: str, resource: dict) -> None:
    if kind == "unknown_property":
        resource["Properties"]["NoSuchProperty"] = "x"
    elif kind == "dangling_ref":
        resource["Properties"]["Tags"] = [{"Key": "owner", "Value": {"Ref": "NoSuchParameter"}}]
    elif kind == "unknown_type":
        resource["Type"] += "Thing"


# Mutations our compliance rules catch: (rule, template, resource, change).
def _no_bucket_encryption(p):
    p.pop("BucketEncryption")


def _pab_off(flag):
    def change(p):
        p["PublicAccessBlockConfiguration"][flag] = False
    return change


COMPLIANCE_MUTATIONS = [
    ("ENC-001", "service-s3", "DataBucket", _no_bucket_encryption),
    ("ENC-001", "security", "AuditLogBucket", _no_bucket_encryption),
    ("ENC-001", "service-dynamodb", "DataTable", lambda p: p.update(SSESpecification={"SSEEnabled": False})),
    ("ENC-001", "service-sqs", "WorkQueue", lambda p: p.pop("KmsMasterKeyId")),
    ("ENC-001", "service-sns", "EventsTopic", lambda p: p.pop("KmsMasterKeyId")),
    ("ENC-001", "service-rds", "Database", lambda p: p.update(StorageEncrypted=False)),
    *[("S3-001", "service-s3", "DataBucket", _pab_off(flag))
      for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")],
    ("S3-001", "service-s3", "DataBucket", lambda p: p.update(AccessControl="PublicReadWrite")),
    ("IAM-001", "service-lambda", "FunctionRole",
     lambda p: p["Policies"][0]["PolicyDocument"]["Statement"][0].update(Action="*")),
    ("IAM-001", "service-lambda", "FunctionRole",
     lambda p: p["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"].append("s3:*")),
    ("NET-001", "network", "AdminSecurityGroup",
     lambda p: p["SecurityGroupIngress"].append({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 1024,
                                                 "CidrIp": "0.0.0.0/0"})),
    ("RDS-001", "service-rds", "Database", lambda p: p.update(PubliclyAccessible=True)),
    ("KMS-001", "security", "DataKey", lambda p: p.update(EnableKeyRotation=False)),
]


@PROPERTY
@given(mutation=st.one_of(
    st.tuples(st.just("lint"), st.sampled_from(["unknown_property", "dangling_ref", "unknown_type"]),
              st.sampled_from(sorted(LINT_TARGETS))),
    st.tuples(st.just("compliance"), st.integers(min_value=0, max_value=len(COMPLIANCE_MUTATIONS) - 1), st.none()),
))
def test_property_8_validation_accepts_only_valid_packages(mutation):
    """Feature: agent-onboarding-provisioning, Property 8: Package Validation Accuracy — for any CloudFormation
    package, validation identifies all integrity and compliance issues, accepting only packages that meet all
    validation criteria.

    A valid package (every service, NAT, admin ingress) is accepted; each example mutates it into an invalid one
    and validation must reject it, with an error naming the mutated template and resource. Integrity mutations
    (an unknown property, a Ref to nothing, an unknown resource type: cfn-lint's) run the full validation; compliance
    mutations (encryption removed, a public-access flag off, a public ACL, a wildcard action, SSH open to the world,
    a public database, key rotation off) run our rules (`lint=False`: cfn-lint has nothing to say about them and
    would add a lint per example). A validator that ignores cfn-lint's errors, reads only warnings, or misses a
    rule accepts a mutant and fails; one that rejects everything fails on the baseline."""
    base = baseline()
    assert validate_package(base).valid  # linted once; cached by content afterwards
    data = base.model_dump()
    source, kind, target = mutation
    if source == "lint":
        template, resource = target, LINT_TARGETS[target]
        lint_mutation(kind, _resources(data, template)[resource])
        report = validate_package(CFNPackage.model_validate(data))
        expected_source = "cfn-lint"
    else:
        rule, template, resource, change = COMPLIANCE_MUTATIONS[kind]
        change(_resources(data, template)[resource]["Properties"])
        report = validate_package(CFNPackage.model_validate(data), lint=False)
        expected_source = "compliance"
    assert not report.valid
    assert any(f.template == template and f.resource == resource and f.source == expected_source
               for f in report.errors), report.summary()
    if source == "compliance":
        assert any(f.rule == rule for f in report.errors)


# --- property 9 ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def version_pool() -> list[CFNPackage]:
    """Four packages of distinct content (services, CIDR, encryption differ), built once."""
    variants = [(["s3"], "10.0.0.0/16", True), (["s3", "sqs"], "10.0.0.0/16", True),
                (["s3"], "10.9.0.0/20", True), (["s3"], "10.0.0.0/16", False)]
    pool = []
    for services, cidr, cmk in variants:
        data = json.loads(json.dumps(BASELINE_REQUIREMENTS))
        data["infrastructure"].update(services=services, networking={"vpc_cidr": cidr},
                                      security={"encryption_at_rest": cmk})
        pool.append(build_package(CustomerRequirements.model_validate(data)))
    assert len({content_digest(p) for p in pool}) == len(pool)
    return pool


@PROPERTY
@given(sequence=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=4))
def test_property_9_same_content_same_version_new_content_new_version(world, sequence):
    """Feature: agent-onboarding-provisioning, Property 9: Package Versioning Uniqueness — for any validated
    CloudFormation package, versioning assigns a unique version identifier that is never reused for different
    package contents.

    A random sequence of puts for one customer drawn from four packages of distinct content (repeats likely): a
    digest seen before gets its earlier version back, a new digest gets the next number; versions are v1..vK for
    the K distinct contents in the order first seen, and the store lists exactly those. (The packages are built once:
    building is property 7's subject; here the store's sequencing is.) A store that numbers every put (same content,
    new version), returns "v1" for all, or keys versions on something other than the content fails."""
    customer = fresh_customer()
    store = PackageStore(world.s3, PACKAGE_BUCKET)
    seen: dict[str, str] = {}
    for index in sequence:
        pkg = version_pool()[index].model_copy(update={"customer_id": customer})
        digest = content_digest(pkg)
        stored = store.put(pkg)
        if digest in seen:
            assert stored.version == seen[digest] and not stored.created
        else:
            assert stored.version == f"v{len(seen) + 1}" and stored.created
            assert stored.version not in seen.values()
            seen[digest] = stored.version
    assert {v.version: v.digest for v in store.versions(customer)} == {v: d for d, v in seen.items()}


# --- property 10 --------------------------------------------------------------------------------------------------

json_leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 53), max_value=2 ** 53),
                        st.text(max_size=20), st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=5)
logical_ids = st.from_regex(r"[A-Z][A-Za-z0-9]{0,12}", fullmatch=True)
resource_types = st.sampled_from(["AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::DynamoDB::Table",
                                  "AWS::SSM::Parameter", "Custom::Thing"])


@st.composite
def packages(draw) -> CFNPackage:
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), unique=True, min_size=1,
                          max_size=4))
    templates = []
    for i, name in enumerate(names):
        resources = draw(st.dictionaries(logical_ids, st.fixed_dictionaries(
            {"Type": resource_types, "Properties": st.dictionaries(st.from_regex(r"[A-Z][a-zA-Z]{0,8}",
                                                                                 fullmatch=True), json_values,
                                                                 max_size=3)}), min_size=1, max_size=3))
        templates.append(CloudFormationTemplate(
            name=name, description=draw(st.text(max_size=30)), body={"Resources": resources},
            depends_on=draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []))
    return CFNPackage(customer_id=draw(slugs), templates=templates, requirements_digest=DIGEST,
                      regions=draw(st.lists(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"]), unique=True)))


@PROPERTY
@given(pkg=packages(), kms=st.booleans())
def test_property_10_retrieval_returns_exactly_what_was_stored(world, pkg, kms):
    """Feature: agent-onboarding-provisioning, Property 10: Package Retrieval Correctness — for any package ID and
    version, retrieving the package returns the exact package contents that were stored under that ID and version.

    Arbitrary templates (unicode text, floats, nested values, dependencies), with or without a KMS key: `get`
    returns a package equal to the one put (plus its version and digest), the same bytes S3 holds, and the same
    content digest. A store that re-serialises lossily (ASCII escapes turned back wrongly, floats rounded, key
    order changed without canonical digests), or that reads another version's object, fails."""
    pkg = pkg.model_copy(update={"customer_id": fresh_customer()})
    store = PackageStore(world.s3, PACKAGE_BUCKET, kms_key_id=world.keys[0] if kms else None)
    stored = store.put(pkg)
    assert stored.version == "v1"
    got = store.get(pkg.customer_id, stored.version)
    assert got == pkg.model_copy(update={"version": stored.version, "digest": content_digest(pkg)})
    assert content_digest(got) == content_digest(pkg) == stored.digest
    raw = world.s3.get_object(Bucket=PACKAGE_BUCKET, Key=stored.key)["Body"].read()
    assert store.get_bytes(pkg.customer_id, stored.version) == raw


# --- property 19 --------------------------------------------------------------------------------------------------


@PROPERTY
@given(req=requirements)
def test_property_19_customer_data_encryption_round_trip(world, req):
    """Feature: agent-onboarding-provisioning, Property 19: Data Encryption Round Trip — for any sensitive customer
    data, encrypting then decrypting the data produces the original value, and the encrypted form is not readable
    without proper decryption keys.

    Under moto's S3 and KMS: the requirements read back equal those written; the object is stored with
    ServerSideEncryption aws:kms under the customer-managed key; a store configured with another key refuses to
    return it. (moto does not enforce KMS permissions on S3 reads, so "not readable without the key" is checked as
    our store's refusal plus the object's encryption metadata, not as an AWS AccessDenied.) A store that writes with
    S3-managed keys, the aws/s3 key, or no encryption, or that returns data encrypted under another key, fails."""
    req = req.model_copy(update={"customer_id": fresh_customer()})
    key, other_key = world.keys
    store = CustomerDataStore(world.s3, PACKAGE_BUCKET, key)
    store.put_requirements(req)
    assert store.get_requirements(req.customer_id) == req
    head = world.s3.head_object(Bucket=PACKAGE_BUCKET, Key=requirements_key(req.customer_id))
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].rsplit("/", 1)[-1] == key
    with pytest.raises(CustomerDataError, match="not encrypted with the customer data key"):
        CustomerDataStore(world.s3, PACKAGE_BUCKET, other_key).get_requirements(req.customer_id)


# --- property 20 --------------------------------------------------------------------------------------------------

ADMIN = st.sampled_from([22, 3389])
OPEN = st.sampled_from(["0.0.0.0/0", "::/0"])


@st.composite
def insecure_resources(draw) -> tuple[str, str, dict]:
    """(rule that must fire, resource type, properties) for a randomly insecure configuration."""
    kind = draw(st.sampled_from(["bucket_unencrypted", "bucket_public", "table", "queue", "topic", "db_unencrypted",
                                 "db_public", "iam", "sg", "sg_all", "ingress", "key", "lambda_permission"]))
    if kind == "bucket_unencrypted":
        return "ENC-001", "AWS::S3::Bucket", {"BucketName": draw(slugs)}
    if kind == "bucket_public":
        flags = {k: draw(st.sampled_from([True, "true"]))
                 for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")}
        off = draw(st.lists(st.sampled_from(sorted(flags)), unique=True, min_size=1))
        for k in off:
            if draw(st.booleans()):
                flags[k] = draw(st.sampled_from([False, "false"]))
            else:
                del flags[k]
        return "S3-001", "AWS::S3::Bucket", {"PublicAccessBlockConfiguration": flags, "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}
    if kind == "table":
        return "ENC-001", "AWS::DynamoDB::Table", draw(st.sampled_from(
            [{}, {"SSESpecification": {}}, {"SSESpecification": {"SSEEnabled": False}},
             {"SSESpecification": {"SSEEnabled": "false"}}]))
    if kind == "queue":
        return "ENC-001", "AWS::SQS::Queue", draw(st.sampled_from([{"SqsManagedSseEnabled": False},
                                                                   {"SqsManagedSseEnabled": "false"}]))
    if kind == "topic":
        return "ENC-001", "AWS::SNS::Topic", {"TopicName": draw(slugs)}
    if kind == "db_unencrypted":
        return "ENC-001", "AWS::RDS::DBInstance", {"StorageEncrypted": draw(st.sampled_from([False, "false"])),
                                                   "PubliclyAccessible": False}
    if kind == "db_public":
        return "RDS-001", "AWS::RDS::DBInstance", {"StorageEncrypted": True,
                                                   "PubliclyAccessible": draw(st.sampled_from([True, "true"]))}
    if kind == "iam":
        named = draw(st.lists(st.sampled_from(["s3:GetObject", "sqs:SendMessage", "logs:PutLogEvents"]),
                              max_size=2))
        wild = draw(st.sampled_from(["*", "s3:*", "iam:*", "ec2:*"]))
        actions = draw(st.permutations(named + [wild]))
        rtype = draw(st.sampled_from(["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]))
        statements = [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}] * draw(
            st.integers(min_value=0, max_value=2)) + [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
        document = {"Version": "2012-10-17", "Statement": statements}
        if rtype == "AWS::IAM::Role":
            return "IAM-001", rtype, {"AssumeRolePolicyDocument": {}, "Policies": [
                {"PolicyName": "p", "PolicyDocument": document}]}
        return "IAM-001", rtype, {"PolicyDocument": document}
    if kind in ("sg", "sg_all"):
        port = draw(ADMIN)
        low = draw(st.integers(min_value=0, max_value=port))
        high = draw(st.integers(min_value=port, max_value=65535))
        bad = ({"IpProtocol": "-1"} if kind == "sg_all" else
               {"IpProtocol": draw(st.sampled_from(["tcp", "6"])), "FromPort": low, "ToPort": high})
        bad |= ({"CidrIpv6": "::/0"} if draw(OPEN) == "::/0" else {"CidrIp": "0.0.0.0/0"})
        fine = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "198.51.100.0/24"}]
        rules = draw(st.permutations(fine[: draw(st.integers(min_value=0, max_value=2))] + [bad]))
        return "NET-001", "AWS::EC2::SecurityGroup", {"GroupDescription": "g", "SecurityGroupIngress": rules}
    if kind == "ingress":
        port = draw(ADMIN)
        return "NET-002", "AWS::EC2::SecurityGroupIngress", {"GroupId": "sg-1", "IpProtocol": "tcp",
                                                             "FromPort": port, "ToPort": port,
                                                             **({"CidrIpv6": "::/0"} if draw(st.booleans())
                                                                else {"CidrIp": "0.0.0.0/0"})}
    if kind == "key":
        return "KMS-001", "AWS::KMS::Key", draw(st.sampled_from([{}, {"EnableKeyRotation": False}]))
    return "LAMBDA-001", "AWS::Lambda::Permission", {"Principal": "*", "Action": "lambda:InvokeFunction",
                                                     "FunctionName": "f"}


def _secure_neighbours() -> dict:
    return baseline().template("service-s3").body["Resources"] | baseline().template("service-sqs").body["Resources"]


@PROPERTY
@given(bad=insecure_resources(), logical_id=logical_ids)
def test_property_20_insecure_configurations_are_rejected(bad, logical_id):
    """Feature: agent-onboarding-provisioning, Property 20: Security Best Practices Compliance — for any AWS resource
    configuration, the system rejects configurations that violate security best practices or compliance
    requirements.

    A randomly insecure resource (an unencrypted bucket, table, queue, topic or database; a bucket with any public
    access flag off or missing; a wildcard action anywhere in any statement of any IAM policy type; an admin port
    inside any port range open to 0.0.0.0/0 or ::/0, in any position among harmless rules; a public database;
    a key without rotation; a function anyone may invoke) placed next to secure resources: validation rejects the
    package with a finding of the expected rule on that resource and none on the secure neighbours. A rule that
    looks only at the first ingress rule or statement, at one public-access flag, at literal False but not "false",
    or at 0.0.0.0/0 but not ::/0, misses some of these and fails."""
    rule, resource_type, props = bad
    neighbours = {k: v for k, v in _secure_neighbours().items() if k != logical_id}
    template = CloudFormationTemplate(name="mutant", body={"Resources": neighbours | {
        logical_id: {"Type": resource_type, "Properties": props}}})
    pkg = CFNPackage(customer_id="acme-corp", templates=[template], requirements_digest=DIGEST)
    report = validate_package(pkg, lint=False)
    assert not report.valid
    assert any(f.rule == rule and f.resource == logical_id for f in report.errors), report.summary()
    assert {f.resource for f in report.errors} == {logical_id}
    assert any(r.id == rule for r in RULES)

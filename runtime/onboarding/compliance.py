"""Package validation: cfn-lint (AWS's maintained CloudFormation linter) plus our own compliance rules.

`validate_package(pkg)` lints every template with cfn-lint for the package's regions and runs every rule in `RULES`
over every resource. A package is valid when there is no error: cfn-lint's E-rules and every compliance rule are
errors; cfn-lint's W-rules are reported as warnings and do not reject the package. Each finding names the template,
the resource and the rule (with the rule's reason, so the one reading a rejection knows why it matters).

A compliance rule is a `ComplianceRule`, declared by `@_rule` on its check: an id, a description, the reason, the resource types it looks at and a check
returning the problems it sees in one resource's properties. Intrinsic functions (`{"Ref": ...}`) count as "set":
the rules judge what the template says literally, and reject only what is literally insecure or missing.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from runtime.onboarding.models import CFNPackage, CloudFormationTemplate, Strict

ADMIN_PORTS = (22, 3389)
DEFAULT_LINT_REGION = "us-east-1"


# --- findings -----------------------------------------------------------------------------------------------------


class Finding(Strict):
    template: str
    resource: str | None  # logical id; None for a template-level problem
    rule: str  # our rule id (e.g. "ENC-001") or cfn-lint's (e.g. "E3002")
    source: Literal["cfn-lint", "compliance"]
    severity: Literal["error", "warning"]
    message: str
    reason: str = ""
    path: list[str] = Field(default_factory=list)


class ValidationReport(Strict):
    valid: bool
    findings: list[Finding] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    linter: str = ""  # "cfn-lint <version>"

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def summary(self) -> str:
        if self.valid:
            return f"valid: {len(self.templates)} template(s), {len(self.warnings)} warning(s)"
        lines = [f"{len(self.errors)} error(s):"]
        lines += [f"- {f.template}/{f.resource or '-'} [{f.rule}] {f.message}" for f in self.errors[:20]]
        return "\n".join(lines)


# --- our compliance rules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplianceRule:
    id: str
    description: str
    reason: str
    resource_types: tuple[str, ...]
    check: Callable[[dict[str, Any]], list[str]]  # a resource's Properties -> the problems found (empty: compliant)

    def findings(self, template: CloudFormationTemplate) -> list[Finding]:
        out = []
        for logical_id, resource in template.body.get("Resources", {}).items():
            if resource.get("Type") not in self.resource_types:
                continue
            for problem in self.check(resource.get("Properties") or {}):
                out.append(Finding(template=template.name, resource=logical_id, rule=self.id, source="compliance",
                                   severity="error", message=problem, reason=self.reason,
                                   path=["Resources", logical_id]))
        return out


_RULES: list[ComplianceRule] = []


def _rule(rule_id: str, *resource_types: str, description: str, reason: str):
    """Makes the decorated check the compliance rule `rule_id`, so a rule's check and its reason read together."""
    def register(check: Callable[[dict[str, Any]], list[str]]) -> Callable[[dict[str, Any]], list[str]]:
        _RULES.append(ComplianceRule(rule_id, description, reason, resource_types, check))
        return check
    return register


def _is_false(value: Any) -> bool:
    """Literally off: False, "false", missing (None). An intrinsic (a dict) is judged at deploy time, not here."""
    return value is None or value is False or (isinstance(value, str) and value.lower() == "false")


def _s3_encrypted(props: dict[str, Any]) -> list[str]:
    rules = ((props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")) or []
    algorithms = [((r or {}).get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in rules]
    if not any(algorithms):
        return ["BucketEncryption has no default server-side encryption (SSEAlgorithm)"]
    return []


def _dynamodb_encrypted(props: dict[str, Any]) -> list[str]:
    if _is_false((props.get("SSESpecification") or {}).get("SSEEnabled")):
        return ["SSESpecification.SSEEnabled is not true"]
    return []


def _sqs_encrypted(props: dict[str, Any]) -> list[str]:
    if props.get("KmsMasterKeyId") is None and _is_false(props.get("SqsManagedSseEnabled")):
        return ["neither KmsMasterKeyId nor SqsManagedSseEnabled: true"]
    return []


def _sns_encrypted(props: dict[str, Any]) -> list[str]:
    return [] if props.get("KmsMasterKeyId") else ["KmsMasterKeyId is not set"]


def _rds_encrypted(props: dict[str, Any]) -> list[str]:
    return ["StorageEncrypted is not true"] if _is_false(props.get("StorageEncrypted")) else []


def _flag_encrypted(name: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda props: [f"{name} is not true"] if _is_false(props.get(name)) else []


def _kinesis_encrypted(props: dict[str, Any]) -> list[str]:
    return [] if (props.get("StreamEncryption") or {}).get("EncryptionType") == "KMS" else ["StreamEncryption is not KMS"]


_ENCRYPTION_CHECKS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "AWS::S3::Bucket": _s3_encrypted,
    "AWS::DynamoDB::Table": _dynamodb_encrypted,
    "AWS::SQS::Queue": _sqs_encrypted,
    "AWS::SNS::Topic": _sns_encrypted,
    "AWS::RDS::DBInstance": _rds_encrypted,
    "AWS::RDS::DBCluster": _rds_encrypted,
    "AWS::EFS::FileSystem": _flag_encrypted("Encrypted"),
    "AWS::EC2::Volume": _flag_encrypted("Encrypted"),
    "AWS::Kinesis::Stream": _kinesis_encrypted,
}
_RULES.extend(
    ComplianceRule(
        "ENC-001", "Storage resources are encrypted at rest",
        "Customer data at rest must be unreadable without the key (seed 003, requirement 5.2; SOC2 CC6.1, "
        "HIPAA 164.312(a)(2)(iv), PCI-DSS 3.5)",
        (resource_type,), check)
    for resource_type, check in _ENCRYPTION_CHECKS.items()
)


@_rule("S3-001", "AWS::S3::Bucket", description="S3 buckets block every form of public access",
       reason="A public bucket is the most common way customer data leaks; the account-level block is not enough "
              "when a bucket's own settings are open")
def _public_access_block(props: dict[str, Any]) -> list[str]:
    block = props.get("PublicAccessBlockConfiguration") or {}
    off = [k for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
           if _is_false(block.get(k))]
    problems = [f"PublicAccessBlockConfiguration.{k} is not true" for k in off]
    if props.get("AccessControl") in ("PublicRead", "PublicReadWrite", "AuthenticatedRead"):
        problems.append(f"AccessControl {props['AccessControl']} makes the bucket public")
    return problems


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement") or []
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


@_rule("S3-002", "AWS::S3::BucketPolicy", description="Bucket policies do not allow everyone",
       reason="Principal '*' without a condition grants the world access to the bucket")
def _bucket_policy_public(props: dict[str, Any]) -> list[str]:
    return [f"Statement[{i}] allows everyone (Principal '*') without a condition"
            for i, s in enumerate(_statements(props.get("PolicyDocument")))
            if s.get("Effect") == "Allow" and _public_principal(s.get("Principal")) and not s.get("Condition")]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _documents(props: dict[str, Any]) -> Iterable[Any]:
    """Every identity-policy document in an IAM resource's properties."""
    if "PolicyDocument" in props:
        yield props["PolicyDocument"]
    for policy in props.get("Policies") or []:
        if isinstance(policy, dict):
            yield policy.get("PolicyDocument")


@_rule("IAM-001", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User",
       "AWS::IAM::Group",
       description="IAM policies name their actions (no '*', no 'service:*', no Allow with NotAction)",
       reason="Least privilege (seed 003, requirement 5.1): a wildcard grants actions nobody reviewed, including "
              "ones AWS adds later")
def _no_wildcard_actions(props: dict[str, Any]) -> list[str]:
    problems = []
    for document in _documents(props):
        for i, statement in enumerate(_statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                problems.append(f"Statement[{i}] allows NotAction: everything but a list is as broad as '*'")
            for action in _as_list(statement.get("Action")):
                if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                    problems.append(f"Statement[{i}] allows action {action!r}; name the actions needed")
    return problems


def _open_cidr(rule: dict[str, Any]) -> str | None:
    for key in ("CidrIp", "CidrIpv6"):
        value = rule.get(key)
        if isinstance(value, str):
            try:
                if ipaddress.ip_network(value, strict=False).prefixlen == 0:
                    return value
            except ValueError:
                continue
    return None


def _admin_port_open(rule: dict[str, Any]) -> int | str | None:
    if str(rule.get("IpProtocol")) in ("-1", "all"):
        return "all ports"
    if str(rule.get("IpProtocol")).lower() not in ("tcp", "6"):
        return None
    try:
        low, high = int(rule.get("FromPort", 0)), int(rule.get("ToPort", 65535))
    except (TypeError, ValueError):
        return None
    return next((port for port in ADMIN_PORTS if low <= port <= high), None)


def _ingress_rules_problems(rules: list[Any]) -> list[str]:
    problems = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        cidr, port = _open_cidr(rule), _admin_port_open(rule)
        if cidr and port is not None:
            problems.append(f"ingress rule {i} opens {port} to {cidr}")
    return problems


@_rule("NET-001", "AWS::EC2::SecurityGroup",
       description="No ingress from 0.0.0.0/0 or ::/0 to administrative ports (SSH 22, RDP 3389, all)",
       reason="Admin ports open to the internet are scanned and brute-forced within minutes (CIS AWS 5.2, 5.3)")
def _security_group_ingress(props: dict[str, Any]) -> list[str]:
    return _ingress_rules_problems(props.get("SecurityGroupIngress") or [])


@_rule("NET-002", "AWS::EC2::SecurityGroupIngress",
       description="Stand-alone ingress rules do not open administrative ports to the internet",
       reason="Same as NET-001 for AWS::EC2::SecurityGroupIngress resources")
def _standalone_ingress(props: dict[str, Any]) -> list[str]:
    return _ingress_rules_problems([props])


@_rule("RDS-001", "AWS::RDS::DBInstance", description="Databases are not publicly accessible",
       reason="A database reachable from the internet exposes its endpoint to attack; reach it from the VPC")
def _rds_private(props: dict[str, Any]) -> list[str]:
    value = props.get("PubliclyAccessible")
    return [] if _is_false(value) else ["PubliclyAccessible is true"]


@_rule("KMS-001", "AWS::KMS::Key", description="Customer-managed symmetric keys rotate",
       reason="Yearly key rotation limits what one compromised key version can decrypt (CIS AWS 3.6, PCI-DSS 3.6.4)")
def _key_rotation(props: dict[str, Any]) -> list[str]:
    if props.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return []  # AWS rotates only symmetric keys
    return ["EnableKeyRotation is not true"] if _is_false(props.get("EnableKeyRotation")) else []


@_rule("LAMBDA-001", "AWS::Lambda::Permission", description="Functions are not invocable by anyone",
       reason="A permission for Principal '*' with no source lets any AWS account invoke the function")
def _lambda_permission_public(props: dict[str, Any]) -> list[str]:
    if props.get("Principal") == "*" and not props.get("SourceArn") and not props.get("SourceAccount"):
        return ["Principal '*' without SourceArn or SourceAccount lets anyone invoke the function"]
    return []


RULES: tuple[ComplianceRule, ...] = tuple(_RULES)


def compliance_findings(template: CloudFormationTemplate) -> list[Finding]:
    return [finding for rule in RULES for finding in rule.findings(template)]


# --- cfn-lint -----------------------------------------------------------------------------------------------------

_lint_lock = threading.Lock()


@lru_cache(maxsize=8)
def _runner(regions: tuple[str, ...]):
    """A cfn-lint Runner for these regions, built once.

    `cfnlint.api.lint(s, config=ManualArgs(regions=...))` builds a new Runner, and so reloads every rule, on each
    call (~0.8 s here); `lint(..., rules=...)` needs a RulesCollection, which the Runner's `Rules` is not. So we keep
    the Runner that `lint` would build and call the same `validate_template` it calls (~50-400 ms per template)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=list(regions)))


def linter_version() -> str:
    from cfnlint.version import __version__

    return f"cfn-lint {__version__}"


@lru_cache(maxsize=512)
def _lint_body(body_json: str, regions: tuple[str, ...]) -> tuple[tuple[str, str, tuple[str, ...], str], ...]:
    """cfn-lint's matches for one template body (canonical JSON) as (rule id, message, path, rule description).

    Cached by content: a package re-validated (a resumed workflow, a package whose other templates changed)
    lints only the templates that differ."""
    import json

    runner = _runner(regions)
    with _lint_lock:  # a Runner's rules keep per-run state
        matches = list(runner.validate_template(json.loads(body_json)))
    return tuple((m.rule.id, m.message, tuple(str(p) for p in (m.path or [])), m.rule.shortdesc or "")
                 for m in matches)


def lint_findings(template: CloudFormationTemplate, regions: Iterable[str]) -> list[Finding]:
    key = tuple(sorted(set(regions))) or (DEFAULT_LINT_REGION,)
    findings = []
    for rule_id, message, path, shortdesc in _lint_body(template.template_body(), key):
        if rule_id.startswith("I"):
            continue  # informational
        resource = path[1] if len(path) > 1 and path[0] == "Resources" else None
        findings.append(Finding(template=template.name, resource=resource, rule=rule_id, source="cfn-lint",
                                severity="error" if rule_id.startswith("E") else "warning", message=message,
                                reason=shortdesc, path=list(path)))
    return findings


def validate_package(pkg: CFNPackage, *, lint: bool = True) -> ValidationReport:
    """cfn-lint (for the package's regions) and our compliance rules over every template.

    `lint=False` runs our rules only (cheap; cfn-lint is ~50-400 ms per template)."""
    regions = list(pkg.regions) or [DEFAULT_LINT_REGION]
    findings: list[Finding] = []
    for template in pkg.templates:
        if lint:
            findings += lint_findings(template, regions)
        findings += compliance_findings(template)
    return ValidationReport(valid=not any(f.severity == "error" for f in findings), findings=findings,
                            templates=[t.name for t in pkg.templates], regions=regions,
                            linter=linter_version() if lint else "")

"""Onboarding and provisioning models (pydantic v2), after seed 003's data models.

These are the contracts between the parts of issue 13: the onboarding workflow validates `CustomerRequirements`,
turns them into an `OrganizationConfig` (the plan the onboarding agent proposes) and a `CFNPackage`; the provisioning
workflow deploys the package's templates in `deployment_order()` and reports `DeploymentResult`s; both keep a
`WorkflowState` of `Checkpoint`s, and every failure is an `ErrorContext` classified by `classify_error`.

Every model forbids unknown fields, and a bad value fails with a message naming the field (pydantic's `loc`).
Regions are checked against botocore's own partition data (`endpoints.json`), not a hand-kept list.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from graphlib import CycleError, TopologicalSorter
from typing import Annotated, Any

from pydantic import AfterValidator, EmailStr, Field, field_validator, model_validator

from runtime.models import Strict, Ulid, new_ulid, utcnow  # Strict: every model here forbids unknown fields

# --- small shared types -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region botocore's partition data names (all partitions: aws, aws-cn, aws-us-gov, ...). Read lazily."""
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def _check_region(value: str) -> str:
    if value not in known_regions():
        raise ValueError(f"{value!r} is not an AWS region (botocore's partition data knows e.g. 'us-east-1', 'eu-west-1')")
    return value


def _check_slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
        raise ValueError(f"{value!r} is not a lower-kebab slug (letters a-z, digits, single hyphens, e.g. 'acme-corp')")
    return value


Region = Annotated[str, AfterValidator(_check_region)]
Slug = Annotated[str, Field(min_length=3, max_length=40), AfterValidator(_check_slug)]
EnvironmentName = Annotated[str, Field(min_length=2, max_length=16), AfterValidator(_check_slug)]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
Version = Annotated[str, Field(pattern=r"^v[1-9][0-9]*$")]
# Organizations' CreateAccount limits (botocore: Email 6-64 characters, AccountName 1-50 printable ASCII).
AccountEmail = Annotated[EmailStr, Field(min_length=6, max_length=64)]


def _unique(values: list, field: str) -> list:
    seen: set = set()
    dupes = sorted({str(v) for v in values if v in seen or seen.add(v)})
    if dupes:
        raise ValueError(f"{field} has duplicates: {', '.join(dupes)}")
    return values


# A list field whose items must differ; the error names the field.
NoDuplicates = AfterValidator(lambda values, info: _unique(values, info.field_name))


# --- customer requirements ----------------------------------------------------------------------------------------

SUPPORTED_SERVICES: tuple[str, ...] = ("s3", "dynamodb", "sqs", "sns", "lambda", "rds")
"""The service keys a package can provision (packages.py has one template builder per key)."""


class ComplianceFramework(StrEnum):
    SOC2 = "SOC2"
    HIPAA = "HIPAA"
    PCI_DSS = "PCI-DSS"
    GDPR = "GDPR"


class NetworkingRequirements(Strict):
    """The VPC: one private subnet per availability zone, a public one too if asked, NAT gateways in the public ones."""

    vpc_cidr: str = "10.0.0.0/16"
    availability_zones: int = Field(default=2, ge=1, le=6)
    public_subnets: bool = True
    nat_gateways: int = Field(default=0, ge=0, le=6)

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 network in CIDR form (e.g. '10.0.0.0/16'): {exc}") from None
        # A VPC is /16../28; we carve 16 subnets of prefix+4, and a subnet cannot be smaller than /28.
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value!r}: the VPC prefix must be /16 to /24 (room for 16 subnets of at least /28)")
        return str(network)

    @model_validator(mode="after")
    def _nat(self) -> NetworkingRequirements:
        if self.nat_gateways > self.availability_zones:
            raise ValueError(
                f"nat_gateways ({self.nat_gateways}) cannot exceed availability_zones ({self.availability_zones})"
            )
        if self.nat_gateways and not self.public_subnets:
            raise ValueError("nat_gateways need public_subnets: a NAT gateway lives in a public subnet")
        return self

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """(private, public) subnet CIDRs, one per availability zone, carved deterministically from the VPC."""
        network = ipaddress.IPv4Network(self.vpc_cidr)
        blocks = [str(b) for b in network.subnets(prefixlen_diff=4)]
        private = blocks[: self.availability_zones]
        public = blocks[8 : 8 + self.availability_zones] if self.public_subnets else []
        return private, public


class SecurityRequirements(Strict):
    """Security options. Storage is always encrypted (a compliance rule): `encryption_at_rest` chooses a
    customer-managed KMS key (True) over the service's own default encryption (False)."""

    encryption_at_rest: bool = True
    mfa_required: bool = True
    restrict_to_allowed_regions: bool = True  # an SCP denies every regional action outside the requirements' regions
    cloudtrail: bool = True
    admin_ingress_cidrs: list[str] = Field(default_factory=list)  # who may reach SSH/RDP; never 0.0.0.0/0

    @field_validator("admin_ingress_cidrs")
    @classmethod
    def _ingress(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            try:
                network = ipaddress.ip_network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a network in CIDR form: {exc}") from None
            if network.prefixlen == 0:
                raise ValueError(f"{value!r} opens admin ports to the whole internet; name the networks that need them")
            out.append(str(network))
        return _unique(out, "admin_ingress_cidrs")


class ScalingRequirements(Strict):
    dynamodb_billing: str = Field(default="PAY_PER_REQUEST", pattern=r"^(PAY_PER_REQUEST|PROVISIONED)$")
    read_capacity: int = Field(default=5, ge=1, le=40_000)
    write_capacity: int = Field(default=5, ge=1, le=40_000)
    lambda_memory_mb: int = Field(default=256, ge=128, le=10_240)
    lambda_timeout_s: int = Field(default=30, ge=1, le=900)
    db_instance_class: str = Field(default="db.t3.micro", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    db_allocated_storage_gb: int = Field(default=20, ge=20, le=65_536)


class InfrastructureRequirements(Strict):
    regions: Annotated[list[Region], NoDuplicates] = Field(min_length=1)
    services: list[str] = Field(default_factory=list)
    networking: NetworkingRequirements = Field(default_factory=NetworkingRequirements)
    security: SecurityRequirements = Field(default_factory=SecurityRequirements)
    scaling: ScalingRequirements = Field(default_factory=ScalingRequirements)

    @field_validator("services")
    @classmethod
    def _services(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in SUPPORTED_SERVICES]
        if unknown:
            raise ValueError(f"unsupported service(s) {unknown}; supported: {', '.join(SUPPORTED_SERVICES)}")
        return _unique(values, "services")


class ProjectTimeline(Strict):
    start_date: date | None = None
    target_date: date | None = None

    @model_validator(mode="after")
    def _order(self) -> ProjectTimeline:
        if self.start_date and self.target_date and self.target_date < self.start_date:
            raise ValueError(f"target_date {self.target_date} is before start_date {self.start_date}")
        return self


class CustomerRequirements(Strict):
    customer_id: Slug
    customer_name: str = Field(min_length=1, max_length=128)
    contact_email: EmailStr
    infrastructure: InfrastructureRequirements
    compliance: Annotated[list[ComplianceFramework], NoDuplicates] = Field(default_factory=list)
    timeline: ProjectTimeline | None = None
    environments: Annotated[list[EnvironmentName], NoDuplicates] = Field(
        default_factory=lambda: ["dev", "prod"], min_length=1, max_length=8)

    @model_validator(mode="after")
    def _framework_needs(self) -> CustomerRequirements:
        strict = {ComplianceFramework.HIPAA, ComplianceFramework.PCI_DSS} & set(self.compliance)
        if strict and not self.infrastructure.security.encryption_at_rest:
            raise ValueError(
                f"infrastructure.security.encryption_at_rest: {', '.join(sorted(strict))} require customer-managed "
                "keys for data at rest"
            )
        if strict and not self.infrastructure.security.cloudtrail:
            raise ValueError(f"infrastructure.security.cloudtrail: {', '.join(sorted(strict))} require an audit trail")
        return self

    def digest(self) -> str:
        """sha256 of the canonical JSON (sorted keys) of these requirements."""
        return canonical_digest(self.model_dump(mode="json"))


def canonical_json(value: Any) -> str:
    """The one canonical JSON form used for digests: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(value: Any) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


# --- organisation -------------------------------------------------------------------------------------------------


class OUConfig(Strict):
    name: str = Field(min_length=1, max_length=128)
    parent: str | None = None  # another OU's name in the same config; None = the organisation's root


class AccountConfig(Strict):
    name: str = Field(min_length=1, max_length=50, pattern=r"^[\x20-\x7E]+$")
    email: AccountEmail
    ou: str = Field(min_length=1, max_length=128)
    environment: EnvironmentName


class SCPConfig(Strict):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=512)
    document: dict[str, Any]
    targets: list[str] = Field(default_factory=list)  # OU names in the same config

    @field_validator("document")
    @classmethod
    def _document(cls, document: dict[str, Any]) -> dict[str, Any]:
        if document.get("Version") != "2012-10-17":
            raise ValueError('a service control policy needs "Version": "2012-10-17"')
        statements = document.get("Statement")
        if not isinstance(statements, list) or not statements:
            raise ValueError('a service control policy needs a non-empty "Statement" list')
        for i, statement in enumerate(statements):
            if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
                raise ValueError(f'Statement[{i}] needs "Effect": "Allow" or "Deny"')
            if not ({"Action", "NotAction"} & set(statement)):
                raise ValueError(f'Statement[{i}] needs "Action" or "NotAction"')
        # Organizations' limit on an SCP's size is 5,120 characters (AWS Organizations quotas).
        if len(json.dumps(document, separators=(",", ":"))) > 5120:
            raise ValueError("a service control policy is limited to 5,120 characters")
        return document


# Global services an SCP's region restriction must leave alone (AWS's documented example SCP "Deny access to AWS
# based on the requested AWS Region").
GLOBAL_SERVICE_ACTIONS = [
    "a4b:*", "budgets:*", "ce:*", "chime:*", "cloudfront:*", "cur:*", "globalaccelerator:*", "health:*", "iam:*",
    "importexport:*", "kms:*", "organizations:*", "route53:*", "route53domains:*", "s3:GetBucketLocation",
    "s3:ListAllMyBuckets", "shield:*", "sts:*", "support:*", "trustedadvisor:*", "waf:*", "wellarchitected:*",
]


class OrganizationConfig(Strict):
    customer_id: Slug
    organizational_units: list[OUConfig] = Field(min_length=1)
    accounts: list[AccountConfig] = Field(default_factory=list)
    policies: list[SCPConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> OrganizationConfig:
        names = [ou.name for ou in self.organizational_units]
        _unique(names, "organizational_units names")
        known = set(names)
        for i, ou in enumerate(self.organizational_units):
            if ou.parent is not None and ou.parent not in known:
                raise ValueError(f"organizational_units[{i}].parent {ou.parent!r} is not an OU in this config")
        try:
            self.ou_order()
        except CycleError as exc:
            raise ValueError(f"organizational_units: parents form a cycle: {exc.args[1]}") from None
        for i, account in enumerate(self.accounts):
            if account.ou not in known:
                raise ValueError(f"accounts[{i}].ou {account.ou!r} is not an OU in this config (known: {sorted(known)})")
        _unique([a.name for a in self.accounts], "accounts names")
        _unique([str(a.email).lower() for a in self.accounts], "accounts emails")
        _unique([p.name for p in self.policies], "policies names")
        for i, policy in enumerate(self.policies):
            for target in policy.targets:
                if target not in known:
                    raise ValueError(f"policies[{i}].targets {target!r} is not an OU in this config")
        return self

    def ou_order(self) -> list[OUConfig]:
        """OUs parents first (the order to create them in)."""
        by_name = {ou.name: ou for ou in self.organizational_units}
        graph = {ou.name: ({ou.parent} if ou.parent else set()) for ou in self.organizational_units}
        return [by_name[name] for name in TopologicalSorter(graph).static_order()]

    @classmethod
    def from_requirements(cls, req: CustomerRequirements) -> OrganizationConfig:
        """The deterministic plan: an OU for the customer, one child OU and one account per environment, and the
        guard-rail SCPs the security options ask for, attached to the customer's OU."""
        top = req.customer_id
        local, _, domain = str(req.contact_email).partition("@")
        ous = [OUConfig(name=top)] + [OUConfig(name=f"{top}-{env}", parent=top) for env in req.environments]
        accounts = []
        for i, env in enumerate(req.environments):
            email = f"{local}+{top}-{env}@{domain}"
            if len(email) > 64:
                raise ValueError(
                    f"contact_email {req.contact_email!r}: the account e-mail {email!r} derived for environment "
                    f"{env!r} is longer than Organizations' 64 characters"
                )
            accounts.append(AccountConfig(name=f"{top}-{env}"[:50], email=email, ou=f"{top}-{env}", environment=env))
        sec = req.infrastructure.security
        policies = [
            SCPConfig(
                name=f"{top}-guardrails",
                description="Member accounts cannot leave the organisation or stop the audit trail",
                document={
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "DenyLeaveOrganization", "Effect": "Deny",
                         "Action": ["organizations:LeaveOrganization"], "Resource": "*"},
                        {"Sid": "ProtectAuditTrail", "Effect": "Deny",
                         "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"], "Resource": "*"},
                        {"Sid": "ProtectPublicAccessBlock", "Effect": "Deny",
                         "Action": ["s3:PutAccountPublicAccessBlock"], "Resource": "*"},
                    ],
                },
                targets=[top],
            )
        ]
        if sec.restrict_to_allowed_regions:
            policies.append(
                SCPConfig(
                    name=f"{top}-allowed-regions",
                    description="Regional actions only in " + ", ".join(req.infrastructure.regions),
                    document={
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Sid": "DenyOutsideAllowedRegions", "Effect": "Deny", "NotAction": GLOBAL_SERVICE_ACTIONS,
                             "Resource": "*",
                             "Condition": {"StringNotEquals": {"aws:RequestedRegion": list(req.infrastructure.regions)}}},
                        ],
                    },
                    targets=[top],
                )
            )
        if sec.mfa_required:
            policies.append(
                SCPConfig(
                    name=f"{top}-require-mfa",
                    description="IAM users must sign in with MFA before changing IAM",
                    document={
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Sid": "DenyIamWithoutMfa", "Effect": "Deny", "Action": ["iam:*"], "Resource": "*",
                             "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
                                           "StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}},
                        ],
                    },
                    targets=[top],
                )
            )
        return cls(customer_id=req.customer_id, organizational_units=ous, accounts=accounts, policies=policies)


# --- CloudFormation packages --------------------------------------------------------------------------------------

# The template sections CloudFormation accepts (Template anatomy, AWS CloudFormation User Guide).
TEMPLATE_SECTIONS = frozenset(
    {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions",
     "Transform", "Resources", "Outputs"}
)
MAX_TEMPLATE_BODY = 51_200  # bytes: CloudFormation's TemplateBody limit


class ParameterDefinition(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9]{1,255}$")
    type: str = Field(default="String", min_length=1)
    description: str = ""
    default: Any = None
    allowed_values: list[Any] | None = None
    # Cross-stack values: "<template name>.<Output name>" — the deployer fills this parameter from that stack's output.
    from_output: str | None = Field(default=None, pattern=r"^[A-Za-z][-A-Za-z0-9]*\.[A-Za-z0-9]+$")


class CloudFormationTemplate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][-A-Za-z0-9]*$")  # part of the stack name
    description: str = ""
    body: dict[str, Any]
    parameters: list[ParameterDefinition] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)

    @field_validator("body")
    @classmethod
    def _body(cls, body: dict[str, Any]) -> dict[str, Any]:
        """Structure only (sections, resources with a Type); the full check is cfn-lint in compliance.py."""
        unknown = sorted(set(body) - TEMPLATE_SECTIONS)
        if unknown:
            raise ValueError(f"not a CloudFormation template: unknown top-level section(s) {unknown}")
        resources = body.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise ValueError("not a CloudFormation template: 'Resources' must be a non-empty object")
        for logical_id, resource in resources.items():
            if not re.fullmatch(r"[A-Za-z0-9]+", str(logical_id)):
                raise ValueError(f"Resources.{logical_id}: a logical id is alphanumeric")
            if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
                raise ValueError(f"Resources.{logical_id}: needs a 'Type' (e.g. 'AWS::S3::Bucket')")
            if not re.fullmatch(r"(AWS|Alexa|Custom)::[A-Za-z0-9]+(::[A-Za-z0-9]+)*|Custom::[A-Za-z0-9_@-]+",
                                resource["Type"]):
                raise ValueError(f"Resources.{logical_id}.Type {resource['Type']!r} is not a resource type")
        try:
            size = len(json.dumps(body).encode())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the template body is not JSON: {exc}") from None
        if size > MAX_TEMPLATE_BODY:
            raise ValueError(f"the template body is {size} bytes; CloudFormation takes at most {MAX_TEMPLATE_BODY}")
        return body

    @model_validator(mode="after")
    def _parameters(self) -> CloudFormationTemplate:
        declared = set((self.body.get("Parameters") or {}).keys())
        listed = [p.name for p in self.parameters]
        _unique(listed, "parameters")
        if set(listed) != declared:
            raise ValueError(
                f"parameters {sorted(listed)} do not match the body's Parameters {sorted(declared)}"
            )
        if self.name in self.depends_on:
            raise ValueError(f"depends_on: template {self.name!r} cannot depend on itself")
        return self

    def resource_types(self) -> dict[str, str]:
        """Logical id -> resource type."""
        return {logical_id: r["Type"] for logical_id, r in self.body["Resources"].items()}

    def template_body(self) -> str:
        """The body as CloudFormation receives it (canonical JSON)."""
        return canonical_json(self.body)


class CFNPackage(Strict):
    customer_id: Slug
    templates: list[CloudFormationTemplate] = Field(min_length=1)
    requirements_digest: Digest
    regions: list[Region] = Field(default_factory=list)  # where each template is deployed (the requirements')
    version: Version | None = None  # set by PackageStore.put
    digest: str | None = None  # content digest of the templates (packages.content_digest), set when versioned

    @model_validator(mode="after")
    def _graph(self) -> CFNPackage:
        names = [t.name for t in self.templates]
        _unique(names, "templates names")
        for i, template in enumerate(self.templates):
            for dep in template.depends_on:
                if dep not in names:
                    raise ValueError(f"templates[{i}].depends_on {dep!r} is not a template in this package")
            for param in template.parameters:
                if param.from_output:
                    source = param.from_output.split(".", 1)[0]
                    if source not in template.depends_on:
                        raise ValueError(
                            f"templates[{i}].parameters {param.name}: from_output {param.from_output!r} needs "
                            f"{source!r} in depends_on"
                        )
        try:
            self.deployment_order()
        except CycleError as exc:
            raise ValueError(f"templates: depends_on forms a cycle: {' -> '.join(exc.args[1])}") from None
        return self

    def template(self, name: str) -> CloudFormationTemplate:
        for template in self.templates:
            if template.name == name:
                return template
        raise KeyError(name)

    def deployment_order(self) -> list[CloudFormationTemplate]:
        """Templates dependencies first; ties keep the package's order. Raises graphlib.CycleError on a cycle."""
        position = {t.name: i for i, t in enumerate(self.templates)}
        sorter = TopologicalSorter({t.name: set(t.depends_on) for t in self.templates})
        sorter.prepare()
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            order.extend(ready)
            sorter.done(*ready)
        return [self.templates[position[name]] for name in order]

    def parameter_values(self, name: str, outputs: dict[str, dict[str, str]]) -> dict[str, str]:
        """The parameters to deploy template `name` with: cross-stack ones from `outputs` (template name -> its
        stack's outputs), the rest their defaults. A missing output is a KeyError naming it."""
        values: dict[str, str] = {}
        for param in self.template(name).parameters:
            if param.from_output:
                source, key = param.from_output.split(".", 1)
                try:
                    values[param.name] = outputs[source][key]
                except KeyError:
                    raise KeyError(f"{name}.{param.name} needs output {key!r} of {source!r}, not deployed yet") from None
            elif param.default is not None:
                values[param.name] = str(param.default)
        return values


# --- deployments --------------------------------------------------------------------------------------------------


class ErrorClass(StrEnum):
    TRANSIENT = "transient"  # retry with backoff
    PERMANENT = "permanent"  # fail the step, notify, no retry
    CRITICAL = "critical"  # halt the workflow and alert


class ErrorContext(Strict):
    step: str
    error_class: ErrorClass
    service: str | None = None
    operation: str | None = None
    code: str | None = None
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_exception(cls, exc: BaseException, *, step: str, service: str | None = None,
                       operation: str | None = None, management_account: bool = False,
                       details: dict[str, Any] | None = None) -> ErrorContext:
        code = _error_code(exc)
        op = operation or getattr(exc, "operation_name", None)
        return cls(step=step, error_class=classify_error(exc, management_account=management_account),
                   service=service, operation=op, code=code or type(exc).__name__, message=str(exc)[:2000],
                   details=details or {})


class DeploymentStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


class DeploymentResult(Strict):
    stack_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z][-A-Za-z0-9]*$")
    account_id: AccountId
    region: Region
    status: DeploymentStatus
    stack_id: str | None = None
    resources_created: list[str] = Field(default_factory=list)
    resources_failed: list[str] = Field(default_factory=list)
    error: ErrorContext | None = None


# --- workflows ----------------------------------------------------------------------------------------------------


class WorkflowKind(StrEnum):
    ONBOARDING = "onboarding"
    PROVISIONING = "provisioning"


class WorkflowStatus(StrEnum):
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Checkpoint(Strict):
    step: str = Field(min_length=1)
    status: StepStatus
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class WorkflowState(Strict):
    workflow_id: Ulid = Field(default_factory=new_ulid)
    kind: WorkflowKind
    customer_id: Slug
    status: WorkflowStatus = WorkflowStatus.RUNNING
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    current_step: str | None = None
    thread: dict[str, Any] | None = None  # the Slack thread: {"channel": ..., "ts": ...}
    error: ErrorContext | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def completed_steps(self) -> list[str]:
        return [c.step for c in self.checkpoints if c.status == StepStatus.SUCCEEDED]

    def last_checkpoint(self) -> Checkpoint | None:
        done = [c for c in self.checkpoints if c.status == StepStatus.SUCCEEDED]
        return done[-1] if done else None


# --- error classification -----------------------------------------------------------------------------------------


class PolicyViolation(Exception):
    """A call our Cedar policy (or an AWS SCP) refused: never retried, the workflow halts (critical)."""


TRANSIENT_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
     "ConcurrentModificationException", "ServiceUnavailable", "ServiceUnavailableException", "RequestLimitExceeded",
     "RequestThrottled", "RequestThrottledException", "SlowDown", "PriorRequestNotComplete", "InternalFailure",
     "InternalError", "InternalServerError", "RequestTimeout", "RequestTimeoutException", "EC2ThrottledException"}
)
"""Codes worth a retry. (CloudFormation's LimitExceededException is a quota, not a rate: permanent.)"""
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AccessDeniedForDependencyException",
                                 "UnauthorizedOperation"})
POLICY_CODES = frozenset({"PolicyViolation", "PolicyViolationException"})


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code")
    return None


def classify_error(exc: BaseException, *, management_account: bool = False) -> ErrorClass:
    """Transient (retry), permanent (fail the step) or critical (halt and alert).

    botocore ClientError codes for throttling, concurrent modification and unavailability are transient, as are
    connection failures and an open circuit breaker; AccessDenied on the management account and any policy violation
    are critical; validation errors and everything else are permanent.
    """
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError

    if isinstance(exc, PolicyViolation):
        return ErrorClass.CRITICAL
    code = _error_code(exc)
    if code is not None:
        if code in TRANSIENT_CODES:
            return ErrorClass.TRANSIENT
        if code in POLICY_CODES:
            return ErrorClass.CRITICAL
        if code in ACCESS_DENIED_CODES:
            return ErrorClass.CRITICAL if management_account else ErrorClass.PERMANENT
        status = (getattr(exc, "response", {}).get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if status in (429, 502, 503, 504):
            return ErrorClass.TRANSIENT
        return ErrorClass.PERMANENT
    if isinstance(exc, (BotoConnectionError, ReadTimeoutError, TimeoutError, ConnectionError)):
        return ErrorClass.TRANSIENT
    if type(exc).__name__ == "CircuitBreakerError":  # pybreaker's: the service is resting, try again later
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT

"""The onboarding tools (seed 003): org_* and account_close (target "organizations"), cfn_* (target "cloudformation").

Registered through `register_tools` by this module, a default plugin exactly like runtime/tools/builtin.py, so the
workflows reach them through `ToolRegistry.call` with the Cedar policy (runtime/policies/onboarding.cedar) and the
audit trail applied. They reach AWS through `ToolServices.aws` (a runtime.onboarding.aws.AwsClients: management
clients, member accounts through the access role) and the package bucket through `ToolServices.packages` (a
runtime.onboarding.package_store.PackageStore). Every AWS call a tool makes is recorded by the botocore audit hook
(source "aws") under the tool call's invocation and agent.

A package tool's template is deployed as the stack `aidlc-<customer_id>-<template>` (stacks.stack_name_for), its
parameters filled from the outputs of the stacks it depends on. `cfn_rollback` without `previous_version` deletes the
stack (the policy asks for an approval); with one, it updates the stack back to that version's template.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.hookspecs import hookimpl
from runtime.onboarding.aws_audit import audit_scope
from runtime.tools.base import ToolContext, ToolError
from runtime.tools.spec import ToolResultModel, ToolSpec

ACCOUNT = Field(pattern=r"^\d{12}$", description="The 12-digit AWS account id")
REGION = Field(default=None, description="The AWS region (default: the deployment's region)")
CUSTOMER = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=3, max_length=40, description="The customer id")
VERSION = Field(pattern=r"^v[1-9][0-9]*$", description="A package version, e.g. 'v1'")
TEMPLATE = Field(pattern=r"^[A-Za-z][-A-Za-z0-9]*$", description="The package template's name, e.g. 'network'")
STACK = Field(pattern=r"^[A-Za-z][-A-Za-z0-9]*$", max_length=128, description="The stack name or id")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Result(ToolResultModel):
    pass


# --- organizations ----------------------------------------------------------------------------------------------


class NoArgs(_Args):
    pass


class CreateOuArgs(_Args):
    name: str = Field(min_length=1, max_length=128, description="The OU's name")
    parent_id: str | None = Field(default=None, pattern=r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$",
                                  description="The parent root or OU id (default: the organisation's root)")


class CreateAccountArgs(_Args):
    name: str = Field(min_length=1, max_length=50, description="The account's name")
    email: str = Field(min_length=6, max_length=64, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                       description="The account's root e-mail (unique in AWS)")
    ou_id: str | None = Field(default=None, description="The OU to place the account in once it exists")


class AccountStatusArgs(_Args):
    request_id: str = Field(pattern=r"^car-[a-z0-9]{8,32}$", description="The CreateAccount request id")
    ou_id: str | None = Field(default=None, description="The OU to place the account in once it exists")


class CreatePolicyArgs(_Args):
    name: str = Field(min_length=1, max_length=128, description="The service control policy's name")
    description: str = Field(default="", max_length=512)
    document: dict[str, Any] = Field(description="The SCP document (Version 2012-10-17, Statement list)")


class AttachPolicyArgs(_Args):
    policy_id: str = Field(pattern=r"^p-[0-9a-zA-Z_]{8,128}$", description="The policy id")
    target_id: str = Field(min_length=1, description="The root, OU or account id to attach it to")


class AccountCloseArgs(_Args):
    account_id: str = ACCOUNT


class OuResult(_Result):
    ou_id: str
    parent_id: str
    name: str


class PolicyResult(_Result):
    policy_id: str
    name: str


class AttachResult(_Result):
    policy_id: str
    target_id: str
    attached: bool = Field(description="False: it was attached already")


class AccountCloseResult(_Result):
    account_id: str
    status: str


# --- cloudformation ---------------------------------------------------------------------------------------------


class BuildPackageArgs(_Args):
    requirements: dict[str, Any] = Field(description="The CustomerRequirements (JSON)")
    organization: dict[str, Any] | None = Field(default=None, description="The OrganizationConfig (JSON), if planned")


class PackageArgs(_Args):
    package: dict[str, Any] = Field(description="A CFNPackage (JSON), as cfn_build_package returned it")


class RetrieveArgs(_Args):
    customer_id: str = CUSTOMER
    version: str = VERSION


class _InAccountArgs(_Args):
    """Where a CloudFormation tool acts: a member account, in a region."""

    account_id: str = ACCOUNT
    region: str | None = REGION


class StackTemplateArgs(_InAccountArgs):
    customer_id: str = CUSTOMER
    version: str = VERSION
    template: str = TEMPLATE


class StackArgs(_InAccountArgs):
    stack_name: str = STACK


class EventsArgs(StackArgs):
    limit: int = Field(default=50, ge=1, le=100)


class RollbackArgs(_InAccountArgs):
    customer_id: str = CUSTOMER
    template: str = TEMPLATE
    previous_version: str | None = Field(default=None, pattern=r"^v[1-9][0-9]*$", description=(
        "The version to return an updated stack to; omitted, the stack is deleted (a failed new stack)"))


class PackageResult(_Result):
    package: dict[str, Any]
    digest: str
    templates: list[str] = Field(description="Template names in deployment order")
    organization: dict[str, Any] | None = Field(default=None, description=(
        "cfn_build_package: the OrganizationConfig the package was built for (the deterministic plan from the "
        "requirements when none was given)"))


class VersionResult(_Result):
    customer_id: str
    version: str
    digest: str
    key: str


class EventsResult(_Result):
    stack_name: str
    events: list[dict[str, Any]]


# --- the tools --------------------------------------------------------------------------------------------------


def _aws(context: ToolContext, tool: str) -> Any:
    return context.services.require("aws", tool)


def _packages(context: ToolContext, tool: str) -> Any:
    return context.services.require("packages", tool)


def _orgs(context: ToolContext, tool: str):
    from runtime.onboarding.organizations import OrganizationService

    return OrganizationService(_aws(context, tool))


def _stacks(context: ToolContext, tool: str, account_id: str, region: str | None):
    from runtime.onboarding.stacks import StackService

    aws = _aws(context, tool)
    return StackService(aws.for_account(account_id), region or aws.region, account_id=account_id)


def _package(context: ToolContext, tool: str, customer_id: str, version: str):
    try:
        return _packages(context, tool).get(customer_id, version)
    except (KeyError, LookupError, FileNotFoundError) as exc:
        raise ToolError(f"no package {customer_id} {version}: {exc}") from None


def _template_and_params(context: ToolContext, tool: str, args: Any):
    """The package template and its parameters (cross-stack values from the stacks it depends on)."""
    from runtime.onboarding.stacks import stack_name_for

    package = _package(context, tool, args.customer_id, args.version)
    try:
        template = package.template(args.template)
    except KeyError:
        raise ToolError(f"package {args.customer_id} {args.version} has no template {args.template!r}; it has "
                        f"{', '.join(t.name for t in package.templates)}") from None
    stacks = _stacks(context, tool, args.account_id, args.region)
    outputs = {dep: stacks.outputs(stack_name_for(args.customer_id, dep)) for dep in template.depends_on}
    try:
        params = package.parameter_values(template.name, outputs)
    except KeyError as exc:
        raise ToolError(f"{exc.args[0]}: deploy the templates in dependency order") from None
    return stacks, stack_name_for(args.customer_id, template.name), template, params


def org_describe(context: ToolContext, args: NoArgs) -> dict:
    return _orgs(context, "org_describe").ensure_organization().model_dump(mode="json")


def org_create_ou(context: ToolContext, args: CreateOuArgs) -> dict:
    orgs = _orgs(context, "org_create_ou")
    parent = args.parent_id or orgs.ensure_root()
    return {"ou_id": orgs.ensure_ou(parent, args.name), "parent_id": parent, "name": args.name}


def org_create_account(context: ToolContext, args: CreateAccountArgs) -> dict:
    return _orgs(context, "org_create_account").ensure_account(args.name, args.email, args.ou_id).model_dump(mode="json")


def org_account_status(context: ToolContext, args: AccountStatusArgs) -> dict:
    return _orgs(context, "org_account_status").account_status(args.request_id, args.ou_id).model_dump(mode="json")


def org_create_policy(context: ToolContext, args: CreatePolicyArgs) -> dict:
    from runtime.onboarding.models import SCPConfig

    SCPConfig(name=args.name, description=args.description, document=args.document)  # the document's checks
    return {"policy_id": _orgs(context, "org_create_policy").ensure_policy(args.name, args.document, args.description),
            "name": args.name}


def org_attach_policy(context: ToolContext, args: AttachPolicyArgs) -> dict:
    attached = _orgs(context, "org_attach_policy").attach_policy(args.policy_id, args.target_id)
    return {"policy_id": args.policy_id, "target_id": args.target_id, "attached": attached}


def account_close(context: ToolContext, args: AccountCloseArgs) -> dict:
    try:
        status = _orgs(context, "account_close").close_account(args.account_id)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    return {"account_id": args.account_id, "status": status}


def cfn_build_package(context: ToolContext, args: BuildPackageArgs) -> dict:
    from runtime.onboarding.models import CustomerRequirements, OrganizationConfig
    from runtime.onboarding.packages import build_package, content_digest

    requirements = CustomerRequirements.model_validate(args.requirements)
    org = (OrganizationConfig.model_validate(args.organization) if args.organization is not None
           else OrganizationConfig.from_requirements(requirements))
    package = build_package(requirements, org)
    return {"package": package.model_dump(mode="json"), "digest": content_digest(package),
            "templates": [t.name for t in package.deployment_order()], "organization": org.model_dump(mode="json")}


def cfn_validate_package(context: ToolContext, args: PackageArgs) -> dict:
    from runtime.onboarding.compliance import validate_package
    from runtime.onboarding.models import CFNPackage

    return validate_package(CFNPackage.model_validate(args.package)).model_dump(mode="json")


def cfn_version_package(context: ToolContext, args: PackageArgs) -> dict:
    from runtime.onboarding.compliance import validate_package
    from runtime.onboarding.models import CFNPackage

    package = CFNPackage.model_validate(args.package)
    report = validate_package(package)
    if not report.valid:  # only a validated package gets a version
        raise ToolError(f"the package does not validate, so it gets no version: {report.summary()}")
    stored = _packages(context, "cfn_version_package").put(package)
    data = stored.model_dump(mode="json") if hasattr(stored, "model_dump") else dict(stored)
    return {"customer_id": package.customer_id, "version": data["version"], "digest": data["digest"],
            "key": data.get("key", "")}


def cfn_retrieve_package(context: ToolContext, args: RetrieveArgs) -> dict:
    from runtime.onboarding.packages import content_digest

    package = _package(context, "cfn_retrieve_package", args.customer_id, args.version)
    return {"package": package.model_dump(mode="json"), "digest": package.digest or content_digest(package),
            "templates": [t.name for t in package.deployment_order()]}


def cfn_create_change_set(context: ToolContext, args: StackTemplateArgs) -> dict:
    stacks, name, template, params = _template_and_params(context, "cfn_create_change_set", args)
    return stacks.create_change_set(name, template, params).model_dump(mode="json")


def cfn_deploy(context: ToolContext, args: StackTemplateArgs) -> dict:
    stacks, name, template, params = _template_and_params(context, "cfn_deploy", args)
    return stacks.deploy(name, template, params).model_dump(mode="json")


def cfn_stack_status(context: ToolContext, args: StackArgs) -> dict:
    stacks = _stacks(context, "cfn_stack_status", args.account_id, args.region)
    try:
        return stacks.progress(args.stack_name).model_dump(mode="json")
    except LookupError as exc:
        raise ToolError(str(exc)) from None


def cfn_stack_events(context: ToolContext, args: EventsArgs) -> dict:
    stacks = _stacks(context, "cfn_stack_events", args.account_id, args.region)
    if stacks.stack(args.stack_name) is None:
        raise ToolError(f"no stack {args.stack_name!r} in account {args.account_id}")
    events = [e.model_dump(mode="json") for e in stacks.events(args.stack_name, args.limit)]
    return {"stack_name": args.stack_name, "events": events}


def cfn_verify_resources(context: ToolContext, args: StackTemplateArgs) -> dict:
    from runtime.onboarding.stacks import stack_name_for

    package = _package(context, "cfn_verify_resources", args.customer_id, args.version)
    try:
        template = package.template(args.template)
    except KeyError:
        raise ToolError(f"package {args.customer_id} {args.version} has no template {args.template!r}") from None
    stacks = _stacks(context, "cfn_verify_resources", args.account_id, args.region)
    return stacks.verify(stack_name_for(args.customer_id, template.name), template).model_dump(mode="json")


def cfn_rollback(context: ToolContext, args: RollbackArgs) -> dict:
    from runtime.onboarding.stacks import stack_name_for

    stacks = _stacks(context, "cfn_rollback", args.account_id, args.region)
    name = stack_name_for(args.customer_id, args.template)
    if args.previous_version is None:
        return stacks.rollback(name).model_dump(mode="json")
    package = _package(context, "cfn_rollback", args.customer_id, args.previous_version)
    try:
        previous = package.template(args.template)
    except KeyError:
        raise ToolError(f"version {args.previous_version} has no template {args.template!r}: delete the stack "
                        "instead (no previous_version)") from None
    outputs = {dep: stacks.outputs(stack_name_for(args.customer_id, dep)) for dep in previous.depends_on}
    return stacks.rollback(name, previous, package.parameter_values(previous.name, outputs)).model_dump(mode="json")


def _audited(func: Callable[[ToolContext, Any], dict]) -> Callable[[ToolContext, Any], dict]:
    """Bind the tool call's invocation and agent to the AWS calls it makes (their audit records carry them)."""

    def call(context: ToolContext, args: Any) -> dict:
        with audit_scope(context.invocation_id, context.agent_type):
            return func(context, args)

    call.__name__ = func.__name__
    call.__doc__ = func.__doc__
    return call


def _results() -> dict[str, type[BaseModel]]:
    from runtime.onboarding.compliance import ValidationReport
    from runtime.onboarding.models import DeploymentResult
    from runtime.onboarding.organizations import AccountStatus, OrganizationDescription
    from runtime.onboarding.stacks import ChangeSetPreview, DeploymentProgress, VerificationReport

    return {"describe": OrganizationDescription, "account": AccountStatus, "validation": ValidationReport,
            "deployment": DeploymentResult, "change_set": ChangeSetPreview, "progress": DeploymentProgress,
            "verification": VerificationReport}


def tools() -> list[ToolSpec]:
    r = _results()
    org, cfn = "organizations", "cloudformation"
    table = [
        ("org_describe", "Describe the AWS organisation (made if there is none): root, OUs, accounts, SCPs and their "
         "targets.", org, NoArgs, org_describe, r["describe"]),
        ("org_create_ou", "Create an organisational unit under a parent (default: the root), or find the one with "
         "that name there.", org, CreateOuArgs, org_create_ou, OuResult),
        ("org_create_account", "Create a member account (asynchronous: poll org_account_status with the request id), "
         "or find the one with that e-mail; placed in ou_id once it exists.", org, CreateAccountArgs,
         org_create_account, r["account"]),
        ("org_account_status", "Where an account creation request stands (IN_PROGRESS, SUCCEEDED, FAILED).", org,
         AccountStatusArgs, org_account_status, r["account"]),
        ("org_create_policy", "Create a service control policy, or find the one with that name (its content updated "
         "to this document).", org, CreatePolicyArgs, org_create_policy, PolicyResult),
        ("org_attach_policy", "Attach a service control policy to a root, OU or account (nothing done if attached).",
         org, AttachPolicyArgs, org_attach_policy, AttachResult),
        ("account_close", "Close a member account (decommissioning). Needs an approval.", org, AccountCloseArgs,
         account_close, AccountCloseResult),
        ("cfn_build_package", "Build the CloudFormation package (network, security and service templates) for "
         "customer requirements.", cfn, BuildPackageArgs, cfn_build_package, PackageResult),
        ("cfn_validate_package", "Validate a package: cfn-lint and our compliance rules (each finding with its "
         "rule and reason).", cfn, PackageArgs, cfn_validate_package, r["validation"]),
        ("cfn_version_package", "Store a validated package immutably; the same content keeps its version, new "
         "content gets the next one.", cfn, PackageArgs, cfn_version_package, VersionResult),
        ("cfn_retrieve_package", "Retrieve a stored package version exactly as it was stored.", cfn, RetrieveArgs,
         cfn_retrieve_package, PackageResult),
        ("cfn_create_change_set", "Preview deploying a package template into an account: the change set's "
         "resource changes.", cfn, StackTemplateArgs, cfn_create_change_set, r["change_set"]),
        ("cfn_deploy", "Deploy a package template into an account (its change set executed, followed to the end).",
         cfn, StackTemplateArgs, cfn_deploy, r["deployment"]),
        ("cfn_stack_status", "A stack's deployment progress: status, resources created / failed, percentage.", cfn,
         StackArgs, cfn_stack_status, r["progress"]),
        ("cfn_stack_events", "A stack's events, newest first.", cfn, EventsArgs, cfn_stack_events, EventsResult),
        ("cfn_verify_resources", "Verify every resource of a package template exists in its stack in the expected "
         "state.", cfn, StackTemplateArgs, cfn_verify_resources, r["verification"]),
        ("cfn_rollback", "Roll a failed deployment back: delete the stack (no previous_version; needs an approval) "
         "or update it back to previous_version; then verify.", cfn, RollbackArgs, cfn_rollback, r["deployment"]),
    ]
    return [ToolSpec(name, description, target, args_model, _audited(func), result_model=result)
            for name, description, target, args_model, func, result in table]


TOOL_NAMES = ("org_describe", "org_create_ou", "org_create_account", "org_account_status", "org_create_policy",
              "org_attach_policy", "account_close", "cfn_build_package", "cfn_validate_package", "cfn_version_package",
              "cfn_retrieve_package", "cfn_create_change_set", "cfn_deploy", "cfn_stack_status", "cfn_stack_events",
              "cfn_verify_resources", "cfn_rollback")


@hookimpl
def register_tools() -> list[ToolSpec]:
    return tools()


__all__ = ["TOOL_NAMES", "register_tools", "tools"]

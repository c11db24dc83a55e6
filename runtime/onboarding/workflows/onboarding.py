"""The onboarding workflow (a durable function): requirements -> organisation -> OUs -> accounts (waited for) ->
SCPs attached -> package built, validated, versioned -> thread notified -> provisioning started.

Every step is a tool call as the onboarding agent (Cedar policy, audit trail) and idempotent: the tools find what a
step already made (an OU or policy by name, an account by e-mail, a package version by content), so a step re-run
after a crash makes nothing twice. Step names are deterministic (`ou:<name>`, `account:<name>`,
`attach:<policy>:<ou>`...): they are the checkpoints a resume skips.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import durable_execution

from runtime.onboarding.models import CustomerRequirements, OrganizationConfig, WorkflowKind
from runtime.onboarding.workflows.engine import StepRunner, WorkflowServices, run_workflow
from runtime.onboarding.workflows.resilience import PermanentStepError
from runtime.onboarding.workflows.state import WorkflowRecord

AGENT = "onboarding"


def default_plan(requirements: CustomerRequirements) -> OrganizationConfig:
    """The offline onboarding agent's plan: the deterministic one from the requirements."""
    return OrganizationConfig.from_requirements(requirements)


def onboarding_flow(runner: StepRunner, record: WorkflowRecord) -> dict[str, Any]:
    services = runner.services
    inp = record.state.input

    def validate() -> dict:
        requirements = CustomerRequirements.model_validate(inp["requirements"])
        plan = (services.plan or default_plan)(requirements)
        if not isinstance(plan, OrganizationConfig):
            plan = OrganizationConfig.model_validate(plan)
        return {"requirements_digest": requirements.digest(), "plan": plan.model_dump(mode="json")}

    validated = runner.run("validate_requirements", validate)
    config = OrganizationConfig.model_validate(validated["plan"])
    requirements = inp["requirements"]

    org = runner.run("organization", lambda: _org_summary(runner.tool(AGENT, "org_describe", {})),
                     service="organizations")

    ou_ids: dict[str, str] = {}
    for ou in config.ou_order():
        parent = ou_ids[ou.parent] if ou.parent else org["root_id"]
        made = runner.step_tool(f"ou:{ou.name}", AGENT, "org_create_ou", {"name": ou.name, "parent_id": parent})
        ou_ids[ou.name] = made["ou_id"]

    accounts = _accounts(runner, config, ou_ids)

    policies: dict[str, str] = {}
    for policy in config.policies:
        made = runner.step_tool(f"policy:{policy.name}", AGENT, "org_create_policy",
                                {"name": policy.name, "description": policy.description, "document": policy.document})
        policies[policy.name] = made["policy_id"]
        for target in policy.targets:
            runner.step_tool(f"attach:{policy.name}:{target}", AGENT, "org_attach_policy",
                             {"policy_id": made["policy_id"], "target_id": ou_ids[target]})

    build_args = {"requirements": requirements, "organization": validated["plan"]}

    def built() -> dict:
        out = runner.tool(AGENT, "cfn_build_package", build_args)
        return {"digest": out["digest"], "templates": out["templates"]}

    package = runner.run("package_built", built)

    def validated_package() -> dict:
        # The package is rebuilt from the same inputs (deterministic, local) rather than carried in the checkpoint:
        # a workflow's state stays small; the digest proves it is the same package.
        out = runner.tool(AGENT, "cfn_build_package", build_args)
        _same(out["digest"], package["digest"])
        report = runner.tool(AGENT, "cfn_validate_package", {"package": out["package"]})
        errors = [f for f in report.get("findings", []) if f.get("severity") == "error"]
        if not report.get("valid"):
            raise PermanentStepError("the package does not validate: " + "; ".join(
                f"{f.get('rule') or f.get('id', '?')}: {f.get('message', '')}" for f in errors[:5]),
                operation="cfn_validate_package", code="PackageInvalid")
        return {"valid": True, "findings": len(report.get("findings", [])), "linter": report.get("linter", "")}

    runner.run("package_validated", validated_package)

    def versioned() -> dict:
        out = runner.tool(AGENT, "cfn_build_package", build_args)
        _same(out["digest"], package["digest"])
        stored = runner.tool(AGENT, "cfn_version_package", {"package": out["package"]})
        return {"version": stored["version"], "digest": stored["digest"]}

    version = runner.run("package_versioned", versioned, service="s3")

    runner.notify("notified", (
        f"Onboarded {config.customer_id}: organisation {org['id']}, {len(ou_ids)} OUs, "
        f"{len(accounts)} accounts ({', '.join(f'{n} {a}' for n, a in accounts.items())}), "
        f"{len(policies)} SCPs attached, package {version['version']} ({len(package['templates'])} templates, "
        f"validated). OUs: {', '.join(ou_ids)}; SCPs: {', '.join(policies)}."))

    result: dict[str, Any] = {"customer_id": config.customer_id, "organization_id": org["id"], "ou_ids": ou_ids,
                              "accounts": accounts, "policies": policies, "package_version": version["version"]}
    if inp.get("provision", True) and services.start_workflow is not None:
        target_env = inp.get("target_environment") or config.accounts[0].environment if config.accounts else None
        target = next((a for a in config.accounts if a.environment == target_env), None)
        regions = CustomerRequirements.model_validate(requirements).infrastructure.regions

        def start_provisioning() -> dict:
            mine = [r for r in services.store.for_customer(config.customer_id)
                    if r.state.kind == WorkflowKind.PROVISIONING
                    and r.state.input.get("parent_workflow_id") == record.workflow_id]
            if mine:  # this step ran before and started it: the same one, not a second
                return {"workflow_id": mine[0].workflow_id}
            child = services.start_workflow(
                "provisioning",
                {"customer_id": config.customer_id, "version": version["version"],
                 "account_id": accounts.get(target.name) if target else None,
                 "environment": target.environment if target else None, "region": regions[0],
                 "parent_workflow_id": record.workflow_id},
                thread=runner.record().state.thread, project_id=record.project_id)
            return {"workflow_id": child.workflow_id}

        result["provisioning_workflow_id"] = runner.run("provisioning_started", start_provisioning)["workflow_id"]
    return result


def _org_summary(description: dict) -> dict:
    return {"id": description["id"], "root_id": description["root_id"],
            "management_account_id": description["management_account_id"]}


def _same(digest: str, expected: str) -> None:
    if digest != expected:
        raise PermanentStepError(f"the rebuilt package's digest {digest} is not the built one {expected}: the "
                                 "package build is not deterministic", code="PackageChanged")


def _accounts(runner: StepRunner, config: OrganizationConfig, ou_ids: dict[str, str]) -> dict[str, str]:
    """Account creation is asynchronous: request each, then poll the pending ones with a durable wait between
    polls (the function is not running while it waits)."""
    statuses: dict[str, dict] = {}
    for account in config.accounts:
        statuses[account.name] = runner.step_tool(
            f"account:{account.name}", AGENT, "org_create_account",
            {"name": account.name, "email": str(account.email), "ou_id": ou_ids[account.ou]})
    by_name = {a.name: a for a in config.accounts}
    poll = 0
    while pending := [name for name, s in statuses.items() if s["state"] == "IN_PROGRESS"]:
        if poll >= runner.services.max_polls:
            def timed_out() -> dict:
                raise PermanentStepError(f"accounts still being created after {poll} polls: {', '.join(pending)}",
                                         service="organizations", operation="DescribeCreateAccountStatus",
                                         code="AccountCreationTimeout")
            runner.run("accounts", timed_out)
        runner.wait(runner.services.poll_seconds, name=f"accounts-wait-{poll}")
        for name in pending:
            statuses[name] = runner.step_tool(
                f"account-status:{name}:{poll}", AGENT, "org_account_status",
                {"request_id": statuses[name]["request_id"], "ou_id": ou_ids[by_name[name].ou]})
        poll += 1

    def settled() -> dict:
        failed = {n: s.get("failure_reason") for n, s in statuses.items() if s["state"] != "SUCCEEDED"}
        if failed:
            raise PermanentStepError("account creation failed: " + ", ".join(f"{n} ({r})" for n, r in failed.items()),
                                     service="organizations", operation="CreateAccount", code="AccountCreationFailed")
        return {n: s["account_id"] for n, s in statuses.items()}

    return runner.run("accounts", settled)


def make_handler(services: WorkflowServices):
    """The durable handler bound to `services` (the local stack, tests, the demo)."""

    @durable_execution
    def handler(event: dict, context: Any) -> dict:
        return run_workflow(context, services, event["workflow_id"], onboarding_flow)

    return handler


@durable_execution
def handler(event: dict, context: Any) -> dict:
    """Lambda's entry point (a durable function): services from this function's environment."""
    from runtime.onboarding.workflows.wiring import services_from_env

    return run_workflow(context, services_from_env(), event["workflow_id"], onboarding_flow)

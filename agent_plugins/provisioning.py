"""The provisioning agent (seed 003): a failed deployment's error context becomes an explanation and a remediation,
after reading the stack's status and events through the cfn_* tools; the provisioning workflow deploys, verifies and
rolls back through the same tools as this agent's principal (runtime/policies/onboarding.cedar: no stacks in the
management account, a stack delete needs an approval).

Not started from a Notion story (`workflow_agent`: its trigger is "Provisioning Workflow"): the workflow passes
`error` (an ErrorContext), `account_id`, `stack_name` and `resources_failed` (from the DeploymentResult) in the run's
context.
"""

from runtime.plugins import Limits, ToolCall, hookimpl, parent_context, workflow_agent

TOOLS = ["cfn_retrieve_package", "cfn_create_change_set", "cfn_deploy", "cfn_stack_status", "cfn_stack_events",
         "cfn_verify_resources", "cfn_rollback"]

# What to do about an error, by class (models.ErrorClass) and, where it says more, by code.
REMEDIATION = {
    "transient": "AWS is throttling or briefly unavailable: the workflow retries with growing delays; resume it "
                 "if it stopped.",
    "permanent": "The template or its parameters are wrong for this account: fix the package (a new version), "
                 "then resume the provisioning workflow; the failed stack was rolled back.",
    "critical": "A policy or a permission on the management account refused the call: the workflow halted; an "
                "operator must review the policy or role before resuming.",
}
BY_CODE = {
    "InvalidVpcID.NotFound": "A resource refers to a VPC that does not exist in the target account: deploy the "
                             "network template first, or pass the right VPC id.",
    "AlreadyExistsException": "A stack with this name already exists: roll it back or update it instead.",
    "InsufficientCapabilitiesException": "The template makes IAM resources: deploy with CAPABILITY_NAMED_IAM.",
    "LimitExceededException": "An account quota is reached: raise the quota or remove unused resources.",
}


def explain(error: dict, status: dict | None, failed_resources: list[str] | None = None) -> str:
    code = error.get("code") or "unknown"
    where = f"{error.get('service') or 'aws'}:{error.get('operation') or '?'}"
    failed = ", ".join(failed_resources or (status or {}).get("failed") or []) or "none named"
    remedy = BY_CODE.get(code) or REMEDIATION.get(error.get("error_class"), REMEDIATION["permanent"])
    return (f"Step {error.get('step', '?')} failed at {where} with {code}: {error.get('message', '')}\n"
            f"Resources failed: {failed}. Stack status: {(status or {}).get('stack_status', 'gone')}.\n"
            f"Remediation: {remedy}")


def offline(request):
    context = parent_context(request)
    error = context.get("error")
    if not isinstance(error, dict):
        raise LookupError("no error context: the provisioning workflow passes 'error' (an ErrorContext)")
    status = None
    if context.get("account_id") and context.get("stack_name"):
        stack = {"account_id": context["account_id"], "stack_name": context["stack_name"]}
        status = yield ToolCall("cfn_stack_status", stack)
        yield ToolCall("cfn_stack_events", {**stack, "limit": 20})
    return explain(error, status, context.get("resources_failed"))


@hookimpl
def register_agents():
    return [workflow_agent(
        "provisioning",
        description="Explains a failed CloudFormation deployment (from its error context, status and events) and says "
                    "how to fix it.",
        tools=TOOLS, outputs=["deployment_report"], completion_status="Provisioned",
        limits=Limits(max_tokens=60_000, timeout_seconds=1800), offline=offline)]

"""The onboarding agent (seed 003): customer requirements become an organisation plan and a validated, versioned
CloudFormation package, made through the org_* and cfn_* package tools (the onboarding workflow runs the same tools
step by step, as this agent's principal, so the Cedar policy in runtime/policies/onboarding.cedar applies).

Not started from a Notion story: the workflows call its tools with `agent_type="onboarding"` (`workflow_agent`: its
trigger is "Onboarding Workflow"); a story set to that Status needs a "Requirements" property holding the
CustomerRequirements JSON (or a chained run passing `requirements`).
"""

import json

from runtime.plugins import Limits, ToolCall, hookimpl, parent_context, workflow_agent

TOOLS = ["org_describe", "org_create_ou", "org_create_account", "org_account_status", "org_create_policy",
         "org_attach_policy", "cfn_build_package", "cfn_validate_package", "cfn_version_package",
         "cfn_retrieve_package", "account_close"]  # account_close: decommissioning, only ever with an approval
MAX_STATUS_POLLS = 30


def requirements_of(request) -> dict:
    """The CustomerRequirements (JSON) the run is for: passed on by the workflow, or in the story's property."""
    found = parent_context(request).get("requirements") or request.story.properties.get("Requirements")
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the story's 'Requirements' property is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise LookupError("no customer requirements: pass 'requirements' in the run's context or put the "
                          "CustomerRequirements JSON in the story's 'Requirements' property")
    return found


def ou_order(ous: list[dict]) -> list[dict]:
    """OUs parents first (the plan lists them so; kept stable if it does not)."""
    done, order = set(), []
    while len(order) < len(ous):
        ready = [ou for ou in ous if ou["name"] not in done and (ou.get("parent") is None or ou["parent"] in done)]
        if not ready:
            raise ValueError("the organisation plan's OU parents form a cycle")
        for ou in ready:
            done.add(ou["name"])
            order.append(ou)
    return order


def offline(request):
    requirements = requirements_of(request)
    built = yield ToolCall("cfn_build_package", {"requirements": requirements})
    plan = built["organization"]
    root = (yield ToolCall("org_describe", {}))["root_id"]
    ou_ids: dict[str, str] = {}
    for ou in ou_order(plan["organizational_units"]):
        made = yield ToolCall("org_create_ou", {"name": ou["name"],
                                                "parent_id": ou_ids[ou["parent"]] if ou.get("parent") else root})
        ou_ids[ou["name"]] = made["ou_id"]
    accounts = {}
    for account in plan["accounts"]:
        status = yield ToolCall("org_create_account", {"name": account["name"], "email": account["email"],
                                                       "ou_id": ou_ids[account["ou"]]})
        for _ in range(MAX_STATUS_POLLS):
            if status["state"] != "IN_PROGRESS":
                break
            status = yield ToolCall("org_account_status", {"request_id": status["request_id"],
                                                           "ou_id": ou_ids[account["ou"]]})
        if status["state"] != "SUCCEEDED":
            raise RuntimeError(f"account {account['name']} was not created: {status.get('failure_reason')}")
        accounts[account["name"]] = status["account_id"]
    for policy in plan["policies"]:
        made = yield ToolCall("org_create_policy", {"name": policy["name"], "description": policy["description"],
                                                    "document": policy["document"]})
        for target in policy["targets"]:
            yield ToolCall("org_attach_policy", {"policy_id": made["policy_id"], "target_id": ou_ids[target]})
    report = yield ToolCall("cfn_validate_package", {"package": built["package"]})
    if not report["valid"]:
        problems = "; ".join(f"{f['template']}/{f['resource']}: {f['rule']} {f['message']}"
                             for f in report["findings"] if f["severity"] == "error")
        raise ValueError(f"the package does not validate: {problems}")
    stored = yield ToolCall("cfn_version_package", {"package": built["package"]})
    return (f"Onboarded {requirements['customer_id']}: {len(ou_ids)} OUs, {len(accounts)} accounts "
            f"({', '.join(f'{n} {i}' for n, i in accounts.items())}), {len(plan['policies'])} SCPs; package "
            f"{stored['version']} ({', '.join(built['templates'])}) validated and stored.")


@hookimpl
def register_agents():
    return [workflow_agent(
        "onboarding",
        description="Turns customer requirements into an AWS organisation (OUs, accounts, SCPs) and a validated, "
                    "versioned CloudFormation package.",
        tools=TOOLS, outputs=["cfn_package"], completion_status="Onboarded",
        limits=Limits(max_tokens=100_000, timeout_seconds=3600), offline=offline)]

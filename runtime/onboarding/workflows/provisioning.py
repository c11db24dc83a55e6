"""The provisioning workflow (a durable function): package version -> change-set preview in the thread -> approval
(a durable callback, completed by the Slack button or POST /workflows/{id}/approve) -> the stacks deployed in
dependency order into the target account (through its access role) -> progress posted -> every resource verified ->
done. On a failure: the error context, the touched stacks rolled back (a failed new stack deleted, an updated one
returned to the previous version), the rollback verified, the thread told.

Tool calls are the provisioning agent's; the Cedar policy forbids the management account's own stacks and wants an
approval for a stack deletion: the approval of the change set covers the rollback of what it deploys (the approval
message says so), so the rollback's calls carry `approved`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aws_durable_execution_sdk_python import durable_execution

from runtime.onboarding.models import ErrorContext, WorkflowKind, WorkflowStatus
from runtime.onboarding.workflows.engine import TOOL_SERVICE, StepRunner, WorkflowServices, run_workflow
from runtime.onboarding.workflows.resilience import PermanentStepError, WorkflowCancelled, failure_for
from runtime.onboarding.workflows.state import WorkflowRecord

AGENT = "provisioning"
APPROVAL_DAYS = 7  # an unanswered approval times out (the workflow fails, resumable)


def stack_name(customer_id: str, template: str) -> str:
    from runtime.onboarding.stacks import stack_name_for

    return stack_name_for(customer_id, template)


def provisioning_flow(runner: StepRunner, record: WorkflowRecord) -> dict[str, Any]:
    services = runner.services
    inp = record.state.input
    customer = inp["customer_id"]

    target = runner.run("target", lambda: _target(services, record))
    where = {"account_id": target["account_id"], "region": target["region"]}
    version = target["version"]

    def retrieved() -> dict:
        out = runner.tool(AGENT, "cfn_retrieve_package", {"customer_id": customer, "version": version})
        templates = {t["name"]: t for t in out["package"]["templates"]}
        return {"digest": out["digest"], "order": out["templates"],
                "depends_on": {n: t.get("depends_on", []) for n, t in templates.items()},
                "resources": {n: len((t.get("body") or {}).get("Resources") or {}) for n, t in templates.items()}}

    package = runner.run("package_retrieved", retrieved, service="s3")
    order: list[str] = package["order"]

    preview: dict[str, Any] = {}
    for name in order:
        if package["depends_on"].get(name):
            # its parameters come from the outputs of stacks not deployed yet: no change set can be made before
            preview[name] = {"changes": None, "resources": package["resources"][name],
                             "after": package["depends_on"][name]}
            continue
        cs = runner.step_tool(f"change_set:{name}", AGENT, "cfn_create_change_set",
                              {**where, "customer_id": customer, "version": version, "template": name})
        preview[name] = {"changes": [f"{c['action']} {c['logical_id']} ({c['resource_type']})"
                                     for c in cs.get("changes", [])], "type": cs.get("change_set_type")}

    approval = _approval(runner, record, target, preview)
    if not approval.get("approved"):
        def refused() -> dict:
            who = f" by {approval['by']}" if approval.get("by") else ""
            raise WorkflowCancelled("change set " + ("cancelled" if approval.get("cancelled") else f"rejected{who}"))
        runner.run("approval-refused", refused)

    total = len(order)
    for i, name in enumerate(order, start=1):
        args = {**where, "customer_id": customer, "version": version, "template": name}
        result = runner.step_tool(f"deploy:{name}", AGENT, "cfn_deploy", args)
        stack = result.get("stack_name") or stack_name(customer, name)
        progress = runner.run(f"progress:{name}", lambda stack=stack: _progress(runner, where, stack),
                              service="cloudformation")
        runner.notify(f"progress-notice:{name}", (
            f"[{i}/{total}] {stack}: {progress['status']} — {len(progress['created'])}/{progress['total']} resources "
            f"created ({progress['percentage']}%)"
            + (f", failed: {', '.join(progress['failed'])}" if progress["failed"] else "")
            + (f" — {progress['reason']}" if progress.get("reason") and progress["failed"] else "")))

        def deployed(result=result, progress=progress, stack=stack) -> dict:
            if result.get("status") != "succeeded":
                error = result.get("error") or {}
                raise PermanentStepError(
                    f"{stack} failed: {error.get('message') or progress.get('reason') or result.get('status')}",
                    service="cloudformation", operation="ExecuteChangeSet", code=error.get("code") or "StackFailed",
                    details={"stack_name": stack, "resources_failed": result.get("resources_failed", []),
                             "template": name})
            return {"stack_name": stack, "stack_id": result.get("stack_id"),
                    "resources_created": len(result.get("resources_created", []))}
        runner.run(f"deployed:{name}", deployed)

    for name in order:
        def verified(name=name) -> dict:
            report = runner.tool(AGENT, "cfn_verify_resources",
                                 {**where, "customer_id": customer, "version": version, "template": name})
            if not report.get("ok"):
                raise PermanentStepError(f"{report['stack_name']}: resources missing or not as expected: "
                                         f"{', '.join(report.get('missing', []))}", service="cloudformation",
                                         operation="DescribeStackResources", code="VerificationFailed",
                                         details={"template": name, "stack_name": report["stack_name"]})
            return {"stack_name": report["stack_name"], "checked": len(report.get("checks", []))}
        runner.run(f"verify:{name}", verified, service="cloudformation")

    runner.notify("done", f"Provisioned {customer} {version} into {target['account_id']} ({target['region']}): "
                          f"{total} stacks deployed and every resource verified.")
    return {"customer_id": customer, "version": version, **where, "stacks": [stack_name(customer, n) for n in order]}


def _target(services: WorkflowServices, record: WorkflowRecord) -> dict:
    """Where to deploy, from the input or the customer's onboarding (its environment's account, its first region),
    and the version stacks go back to on a failed update (the last provisioned one)."""
    inp = record.state.input
    customer = inp["customer_id"]
    history = services.store.for_customer(customer)
    onboardings = [r for r in history if r.state.kind == WorkflowKind.ONBOARDING]
    account_id, region, version = inp.get("account_id"), inp.get("region"), inp.get("version")
    if account_id is None or region is None or version is None:
        if not onboardings:
            raise PermanentStepError(f"customer {customer!r} has no onboarding workflow: give account_id, region and "
                                     "version, or onboard them first", code="NoOnboarding")
        onboarding = onboardings[-1]
        requirements = onboarding.state.input.get("requirements") or {}
        accounts = (onboarding.completed("accounts").result if onboarding.completed("accounts") else {})
        environment = inp.get("environment") or onboarding.state.input.get("target_environment") or (
            (requirements.get("environments") or ["dev"])[0])
        account_id = account_id or accounts.get(f"{customer}-{environment}"[:50])
        region = region or ((requirements.get("infrastructure") or {}).get("regions") or [None])[0]
        versioned = onboarding.completed("package_versioned")
        version = version or (versioned.result.get("version") if versioned else None)
        if not account_id or not region or not version:
            raise PermanentStepError(f"customer {customer!r}: the onboarding has no account for {environment!r}, "
                                     "region or package version yet", code="OnboardingIncomplete")
    previous = [r for r in history if r.state.kind == WorkflowKind.PROVISIONING
                and r.state.status == WorkflowStatus.SUCCEEDED and r.workflow_id != record.workflow_id
                and (r.completed("target") and r.completed("target").result.get("account_id") == account_id)]
    previous_version = previous[-1].completed("target").result["version"] if previous else None
    return {"account_id": account_id, "region": region, "version": version,
            "previous_version": previous_version if previous_version != version else None}


def _progress(runner: StepRunner, where: dict, stack: str) -> dict:
    progress = runner.tool(AGENT, "cfn_stack_status", {**where, "stack_name": stack})
    if progress.get("failed") and not progress.get("reason"):
        events = runner.tool(AGENT, "cfn_stack_events", {**where, "stack_name": stack, "limit": 20})
        reasons = [e["reason"] for e in events.get("events", []) if e.get("reason") and "FAILED" in e.get("status", "")]
        progress["reason"] = reasons[0] if reasons else None
    return {k: progress.get(k) for k in ("stack_name", "stack_status", "status", "total", "created", "failed",
                                         "percentage", "reason")}


def approval_blocks(workflow_id: str, text: str) -> list[dict]:
    """The preview message with Approve / Reject buttons (Block Kit); their value is the workflow id, and
    /slack/interactivity hands a click to the engine's `approve`."""
    import json

    from runtime.slack.messages import APPROVE_ACTION, REJECT_ACTION

    value = json.dumps({"workflow_id": workflow_id, "kind": "provisioning", "step": "approval"})
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}},
        {"type": "actions", "block_id": f"approval-{workflow_id}", "elements": [
            {"type": "button", "action_id": APPROVE_ACTION, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve and deploy"}},
            {"type": "button", "action_id": REJECT_ACTION, "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"}},
        ]},
    ]


def preview_text(workflow_id: str, target: dict, preview: dict) -> str:
    lines = [f"Change set for {target['version']} into account {target['account_id']} ({target['region']}), "
             f"workflow {workflow_id}. Approve deploys it (and, if a stack fails, rolls the new stacks back):"]
    for name, item in preview.items():
        if item.get("changes") is None:
            lines.append(f"• {name}: {item['resources']} resources, after {', '.join(item['after'])}")
        else:
            lines.append(f"• {name} ({item.get('type') or 'CREATE'}): " + (", ".join(item["changes"][:12]) or "no changes")
                         + (f" and {len(item['changes']) - 12} more" if len(item["changes"]) > 12 else ""))
    return "\n".join(lines)


def _approval(runner: StepRunner, record: WorkflowRecord, target: dict, preview: dict) -> dict:
    """The approval: a recorded one (a resumed workflow is not asked twice), else a durable callback whose id the
    thread's buttons and the API reach through the workflow's record."""
    from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig

    store = runner.store
    wid = record.workflow_id
    # a plain durable step (no checkpoint of ours): whether an earlier execution already recorded the approval
    prior = runner.context.step(lambda _c: (store.get(wid).completed("approval").result
                                            if store.get(wid).completed("approval") else {}), name="approval-recorded")
    if prior:
        return prior
    text = preview_text(wid, target, preview)

    def submit(callback_id: str, _context: Any) -> None:
        def change(r) -> None:
            r.callback_id = callback_id
            r.state.status = WorkflowStatus.WAITING_APPROVAL
            r.state.current_step = "approval"
        current = store.update(wid, change)
        if current.cancel_requested and runner.services.send_callback is not None:
            # cancelled while the preview was being made (before the callback id was there to answer): answer now
            runner.services.send_callback(callback_id, {"approved": False, "cancelled": True})
        thread = runner.services.notifier.post(current.state.thread, text, blocks=approval_blocks(wid, text))
        if thread != current.state.thread:
            def keep(r) -> None:
                r.state.thread = thread
            store.update(wid, keep)

    raw = runner.context.wait_for_callback(submit, name="approval-callback", config=WaitForCallbackConfig(
        timeout=Duration.from_days(APPROVAL_DAYS), retry_strategy=runner.config.retry_strategy))
    answer = _decode(raw)

    def recorded() -> dict:
        def change(r) -> None:
            r.callback_id = None
            r.state.status = WorkflowStatus.RUNNING
        store.update(wid, change)
        return {"approved": bool(answer.get("approved")), "by": answer.get("by", ""),
                "cancelled": bool(answer.get("cancelled"))}

    result = runner.run("approval", recorded)
    if result["approved"]:
        runner.notify("approved-notice", f"Change set approved{' by ' + result['by'] if result['by'] else ''}: "
                                         "deploying.")
    return result


def _decode(raw: Any) -> dict:
    import json

    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
        if isinstance(raw, str):  # the testing runner hands the bytes back as a JSON string of our JSON
            try:
                raw = json.loads(raw)
            except ValueError:
                return {}
    return raw if isinstance(raw, dict) else {}


def rollback(runner: StepRunner, error: ErrorContext, *, cancelled: bool = False) -> dict:
    """Compensation after a failed step (or a cancel, `cancelled`): every stack a deploy step touched, last first,
    deleted (a new one) or returned to the previous version (an updated one), then checked; the thread told."""
    wid = runner.workflow_id
    store = runner.store
    touched = runner.context.step(lambda _c: _touched(store.get(wid)), name="rollback-plan")
    if not touched["templates"]:
        if cancelled:  # cancelled before any deploy: nothing to undo (the cancel notice follows)
            return {"rolled_back": []}
        runner.notify("failure-notice", f"Provisioning failed at {error.step}: {error.message}. Nothing was deployed, "
                                        f"so nothing to roll back. Fix it, then resume the workflow {wid}.", check_cancel=False)
        return {"rolled_back": []}
    why = (f"Provisioning cancelled after {error.step} ({error.message})" if cancelled
           else f"Provisioning failed at {error.step}: {error.message}")
    runner.notify("rollback-notice", f"{why}. Rolling back {', '.join(touched['templates'])}.", check_cancel=False)
    target, customer = touched["target"], touched["customer_id"]
    where = {"account_id": target["account_id"], "region": target["region"]}
    previous = target.get("previous_version")
    earlier: list[str] = []
    if previous:  # the templates the previous version had: those stacks go back to it, the others are deleted
        earlier = runner.run("rollback-previous", lambda: {"templates": runner.tool(
            AGENT, "cfn_retrieve_package", {"customer_id": customer, "version": previous})["templates"]},
            service="s3", check_cancel=False)["templates"]
    done = []
    for name in reversed(touched["templates"]):
        args = {**where, "customer_id": customer, "template": name}
        if previous and name in earlier:
            args["previous_version"] = previous

        def roll(args=args) -> dict:
            out = _approved_tool(runner, "cfn_rollback", args)
            return {"stack_name": out["stack_name"], "status": out["status"]}
        result = runner.run(f"rollback:{name}", roll, service=TOOL_SERVICE["cfn_rollback"], check_cancel=False)

        def verify(result=result, previous=args.get("previous_version")) -> dict:
            if result["status"] != "rolled_back":
                raise PermanentStepError(f"{result['stack_name']}: rollback ended {result['status']}",
                                         service="cloudformation", code="RollbackFailed")
            if previous is None:
                gone = runner.services.tools.call("cfn_stack_status", {**where, "stack_name": result["stack_name"]},
                                                  _context(runner, AGENT))
                if gone.ok and gone.content.get("stack_status") not in (None, "DELETE_COMPLETE"):
                    raise PermanentStepError(f"{result['stack_name']} still there after its rollback "
                                             f"({gone.content.get('stack_status')})", code="RollbackNotVerified")
            return {"stack_name": result["stack_name"], "verified": True}
        runner.run(f"rollback-verified:{name}", verify, service="cloudformation", check_cancel=False)
        done.append(result["stack_name"])
    runner.notify("rollback-done", f"Rolled back and verified: {', '.join(done)}. " + (
        f"The workflow {wid} is cancelled." if cancelled
        else f"The workflow {wid} is failed; resume it after fixing the cause."), check_cancel=False)
    return {"rolled_back": done}


def cancel_rollback(runner: StepRunner, error: ErrorContext) -> dict:
    """A cancel while (or after) stacks deploy: what was deployed is rolled back and verified before the workflow
    ends cancelled; a cancel before any deploy undoes nothing."""
    return rollback(runner, error, cancelled=True)


def _touched(record: WorkflowRecord) -> dict:
    target = record.completed("target").result if record.completed("target") else {}
    templates = []
    for checkpoint in record.state.checkpoints:
        if checkpoint.step.startswith("deploy:"):
            name = checkpoint.step.split(":", 1)[1]
            if name not in templates:
                templates.append(name)
    return {"target": target, "customer_id": record.state.customer_id, "templates": templates}


def _context(runner: StepRunner, agent: str, *, approved: bool = False):
    from runtime.tools.base import ToolContext

    kwargs: dict[str, Any] = {"agent_type": agent, "invocation_id": runner.workflow_id,
                              "allowed_tools": (runner.services.agent_tools or {}).get(agent),
                              "services": runner.services.tool_services}
    if approved and "approved" in {f.name for f in dataclasses.fields(ToolContext)}:
        kwargs["approved"] = True
    return ToolContext(**kwargs)


def _approved_tool(runner: StepRunner, name: str, args: dict) -> dict:
    """A tool call under the change set's approval (the policy's `context.approved`)."""
    result = runner.services.tools.call(name, args, _context(runner, AGENT, approved=True))
    if not result.ok:
        raise failure_for(result.error or f"{name} failed", denied=result.denied,
                          service=TOOL_SERVICE.get(name) or "", operation=name)
    return result.content


def make_handler(services: WorkflowServices):
    @durable_execution
    def handler(event: dict, context: Any) -> dict:
        return run_workflow(context, services, event["workflow_id"], provisioning_flow, on_failure=rollback,
                            on_cancel=cancel_rollback)

    return handler


@durable_execution
def handler(event: dict, context: Any) -> dict:
    """Lambda's entry point (a durable function): services from this function's environment."""
    from runtime.onboarding.workflows.wiring import services_from_env

    return run_workflow(context, services_from_env(), event["workflow_id"], provisioning_flow, on_failure=rollback,
                        on_cancel=cancel_rollback)

"""CloudFormation in one target account: change-set previews, deployments, progress, verification, rollback.

    stacks = StackService(aws.for_account(account_id), region="eu-west-1")
    preview = stacks.create_change_set(name, template, params)     # what would change, before anything does
    result = stacks.deploy(name, template, params)                  # executes that change set, follows it
    stacks.progress(name, template)                                 # created / failed / percentage, status
    stacks.verify(name, template)                                   # every template resource there, as expected
    stacks.rollback(name, previous=None)                            # delete a failed new stack (or update back)

Idempotent by look-up: the change set's name is a digest of the template and parameters, so a re-run finds the one
it made; a stack already holding this template is not deployed again.

moto's CloudFormation creates real resources but never rolls back: a refused resource makes the executing call fail
at once and leaves the stack CREATE_IN_PROGRESS (or its old status, for an update), and its resources can no longer
be listed (the listing repeats the refusal). `progress` therefore counts a stack whose resources cannot be listed as
FAILED, and the rollback is ours: delete a failed new stack, or update an updated stack back to its previous template,
then check that it worked. moto's `describe_stack_events` has stack-level events only, so per-resource progress comes
from `list_stack_resources` (AWS's resource-level events are read too, where there are any).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from runtime.onboarding.models import (
    CFNPackage,
    CloudFormationTemplate,
    DeploymentResult,
    DeploymentStatus,
    ErrorClass,
    ErrorContext,
    Strict,
    canonical_json,
)

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]  # the baselines make IAM roles
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
FAILED = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
ROLLING_BACK = ("ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                "IMPORT_ROLLBACK_IN_PROGRESS")
ROLLBACK_FAILED = ("ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "IMPORT_ROLLBACK_FAILED")
TERMINAL = frozenset({DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK,
                      DeploymentStatus.ROLLBACK_FAILED})


def stack_name_for(customer_id: str, template_name: str) -> str:
    """The deterministic stack name of a package's template (a stack name starts with a letter)."""
    return f"aidlc-{customer_id}-{template_name}"[:128]


def deployment_status(stack_status: str) -> DeploymentStatus:
    """CloudFormation's stack status as a DeploymentStatus."""
    if stack_status in DONE:
        return DeploymentStatus.SUCCEEDED
    if stack_status in FAILED:
        return DeploymentStatus.FAILED
    if stack_status in ROLLING_BACK:
        return DeploymentStatus.ROLLING_BACK
    if stack_status in ROLLBACK_FAILED:
        return DeploymentStatus.ROLLBACK_FAILED
    if stack_status == "DELETE_COMPLETE":
        return DeploymentStatus.ROLLED_BACK
    if stack_status == "REVIEW_IN_PROGRESS":
        return DeploymentStatus.PENDING
    return DeploymentStatus.IN_PROGRESS


class ResourceChange(Strict):
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str | None = None


class ChangeSetPreview(Strict):
    stack_name: str
    change_set_name: str
    change_set_type: str  # CREATE | UPDATE
    status: str  # CREATE_COMPLETE, or FAILED (e.g. no changes)
    status_reason: str | None = None
    changes: list[ResourceChange] = Field(default_factory=list)


class StackEvent(Strict):
    logical_id: str
    resource_type: str
    status: str
    reason: str | None = None
    at: str


class DeploymentProgress(Strict):
    stack_name: str
    stack_id: str | None = None
    stack_status: str
    status: DeploymentStatus
    total: int
    created: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    in_progress: list[str] = Field(default_factory=list)
    percentage: int = Field(ge=0, le=100)
    reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class ResourceCheck(Strict):
    logical_id: str
    resource_type: str
    physical_id: str | None = None
    status: str | None = None  # the stack's word on it
    exists: bool  # the stack lists it complete and, for S3/DynamoDB/SQS, its own service finds it
    detail: str = ""


class VerificationReport(Strict):
    stack_name: str
    ok: bool
    checks: list[ResourceCheck] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)  # logical ids not there (or not as expected)


def _code(exc: Exception) -> str:
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


def _not_found(exc: Exception) -> bool:
    return _code(exc) == "ValidationError" and "does not exist" in str(exc)


class StackService:
    def __init__(self, clients: Any, region: str | None = None, *, account_id: str | None = None,
                 wait: Callable[[float], None] = time.sleep, poll_seconds: float = 5.0, max_polls: int = 720) -> None:
        """`clients`: the target account's clients (`AwsClients.for_account(...)`: `.client(service, region)`,
        `.account_id`). `wait`/`poll_seconds`/`max_polls`: how a deployment is followed (moto finishes at once)."""
        self.clients = clients
        self.region = region or getattr(clients, "region", None) or "us-east-1"
        self.account_id = account_id or clients.account_id
        self.wait = wait
        self.poll_seconds = poll_seconds
        self.max_polls = max_polls

    def client(self, service: str) -> Any:
        return self.clients.client(service, self.region)

    @property
    def cfn(self) -> Any:
        return self.client("cloudformation")

    # --- looking -------------------------------------------------------------------------------------------

    def stack(self, stack_name: str) -> dict[str, Any] | None:
        """The stack (by name or id), None when there is none (a deleted stack by name is none)."""
        try:
            return self.cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        except Exception as exc:
            if _not_found(exc):
                return None
            raise

    def outputs(self, stack_name: str) -> dict[str, str]:
        stack = self.stack(stack_name) or {}
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def events(self, stack_name: str, limit: int = 50) -> list[StackEvent]:
        """The stack's events, newest first (moto: stack-level only)."""
        events = self.cfn.describe_stack_events(StackName=stack_name)["StackEvents"][:limit]
        return [StackEvent(logical_id=e["LogicalResourceId"], resource_type=e.get("ResourceType", ""),
                           status=e.get("ResourceStatus", ""), reason=e.get("ResourceStatusReason"),
                           at=str(e.get("Timestamp", ""))) for e in events]

    def _resources(self, stack_name: str) -> tuple[list[dict[str, Any]] | None, str | None]:
        """The stack's resources, or (None, why) when CloudFormation cannot list them (moto: a refused resource)."""
        try:
            found: list[dict[str, Any]] = []
            for page in self.cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
                found.extend(page.get("StackResourceSummaries", []))
            return found, None
        except Exception as exc:
            if _not_found(exc):
                return [], None
            return None, f"{_code(exc) or type(exc).__name__}: {exc}"

    # --- change sets and deployments -----------------------------------------------------------------------

    @staticmethod
    def change_set_name(template: CloudFormationTemplate, params: Mapping[str, str]) -> str:
        digest = hashlib.sha256(canonical_json({"body": template.body, "params": dict(params)}).encode()).hexdigest()
        return f"aidlc-{digest[:24]}"

    def create_change_set(self, stack_name: str, template: CloudFormationTemplate,
                          params: Mapping[str, str] | None = None) -> ChangeSetPreview:
        """The change set for deploying `template` (CREATE for a new stack, UPDATE for an existing one), made once
        (its name is the content's digest) and described as a preview."""
        params = dict(params or {})
        name = self.change_set_name(template, params)
        stack = self.stack(stack_name)
        kind = "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
        try:
            described = self.cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        except Exception as exc:
            if _code(exc) not in ("ChangeSetNotFound", "ChangeSetNotFoundException", "ValidationError"):
                raise
            self.cfn.create_change_set(
                StackName=stack_name, ChangeSetName=name, ChangeSetType=kind, TemplateBody=template.template_body(),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())],
                Capabilities=CAPABILITIES, Tags=[{"Key": "aidlc:template", "Value": template.name}])
            described = self._settled_change_set(stack_name, name)
        return ChangeSetPreview(
            stack_name=stack_name, change_set_name=name, change_set_type=described.get("ChangeSetType", kind) or kind,
            status=described["Status"], status_reason=described.get("StatusReason"),
            changes=[ResourceChange(action=c["ResourceChange"].get("Action", ""),
                                    logical_id=c["ResourceChange"]["LogicalResourceId"],
                                    resource_type=c["ResourceChange"].get("ResourceType", ""),
                                    replacement=c["ResourceChange"].get("Replacement"))
                     for c in described.get("Changes", []) if "ResourceChange" in c])

    def _settled_change_set(self, stack_name: str, name: str) -> dict[str, Any]:
        for _ in range(self.max_polls):
            described = self.cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            self.wait(self.poll_seconds)
        raise TimeoutError(f"change set {name} of {stack_name} did not settle")

    def deploy(self, stack_name: str, template: CloudFormationTemplate,
               params: Mapping[str, str] | None = None) -> DeploymentResult:
        """Deploy `template` as `stack_name` through its change set and follow it to a terminal status. A stack
        already holding exactly this template and these parameters is answered as it is (a re-run)."""
        params = dict(params or {})
        stack = self.stack(stack_name)
        if stack is not None and stack["StackStatus"] in DONE and self._holds(stack, template, params):
            return self._result(stack_name, template, stack.get("StackId"))
        try:
            preview = self.create_change_set(stack_name, template, params)
            if preview.status == "FAILED":
                reason = preview.status_reason or ""
                if "didn't contain changes" in reason or "No updates" in reason:
                    return self._result(stack_name, template, (self.stack(stack_name) or {}).get("StackId"))
                raise RuntimeError(f"change set {preview.change_set_name} failed: {reason}")
            self.cfn.execute_change_set(StackName=stack_name, ChangeSetName=preview.change_set_name)
            self._fill_outputs(stack_name, template, params)
        except Exception as exc:
            return self._failure(stack_name, template, exc, "ExecuteChangeSet")
        return self._result(stack_name, template, (self.stack(stack_name) or {}).get("StackId"))

    def _fill_outputs(self, stack_name: str, template: CloudFormationTemplate, params: Mapping[str, str]) -> None:
        """moto's ExecuteChangeSet creates the resources but never computes the stack's outputs (its stack update
        does): when a complete stack shows none of the outputs its template declares, the same template is applied
        once more as a stack update. AWS always has them, so this never runs there (and would be "No updates")."""
        stack = self.stack(stack_name)
        if not template.body.get("Outputs") or stack is None or stack.get("Outputs") or stack["StackStatus"] not in DONE:
            return
        try:  # no Parameters: moto keeps the stack's own, and answers "No updates" when they are sent unchanged
            self.cfn.update_stack(StackName=stack["StackId"], TemplateBody=template.template_body(),
                                  Capabilities=CAPABILITIES)
        except Exception as exc:
            if not (_code(exc) == "ValidationError" and "No updates" in str(exc)):
                raise

    def _holds(self, stack: dict[str, Any], template: CloudFormationTemplate, params: Mapping[str, str]) -> bool:
        body = self.cfn.get_template(StackName=stack["StackId"])["TemplateBody"]
        if isinstance(body, str):
            import json

            body = json.loads(body)
        current = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        return canonical_json(body) == canonical_json(template.body) and all(
            current.get(k) == v for k, v in params.items())

    def _result(self, stack_name: str, template: CloudFormationTemplate, stack_id: str | None) -> DeploymentResult:
        progress = self.follow(stack_name, template)
        error = None
        if progress.status != DeploymentStatus.SUCCEEDED:
            error = ErrorContext(step="deploy", error_class=ErrorClass.PERMANENT, service="cloudformation",
                                 operation="DescribeStacks", code=progress.stack_status,
                                 message=progress.reason or f"stack {stack_name} is {progress.stack_status}",
                                 details={"stack_name": stack_name, "failed": progress.failed})
        return DeploymentResult(stack_name=stack_name, account_id=self.account_id, region=self.region,
                                status=progress.status, stack_id=stack_id or progress.stack_id,
                                resources_created=progress.created, resources_failed=progress.failed, error=error)

    def _failure(self, stack_name: str, template: CloudFormationTemplate, exc: Exception,
                 operation: str) -> DeploymentResult:
        stack = self.stack(stack_name)
        progress = self.progress(stack_name, template) if stack is not None else None
        error = ErrorContext.from_exception(exc, step="deploy", service="cloudformation", operation=operation,
                                            details={"stack_name": stack_name})
        return DeploymentResult(
            stack_name=stack_name, account_id=self.account_id, region=self.region, status=DeploymentStatus.FAILED,
            stack_id=(stack or {}).get("StackId"), resources_created=progress.created if progress else [],
            resources_failed=progress.failed if progress else sorted(template.resource_types()), error=error)

    def follow(self, stack_name: str, template: CloudFormationTemplate | None = None,
               on_progress: Callable[[DeploymentProgress], None] | None = None) -> DeploymentProgress:
        """Poll `progress` until the deployment is terminal (or stops moving for `max_polls`)."""
        progress = self.progress(stack_name, template)
        for _ in range(self.max_polls):
            if on_progress is not None:
                on_progress(progress)
            if progress.terminal:
                return progress
            self.wait(self.poll_seconds)
            progress = self.progress(stack_name, template)
        return progress

    def progress(self, stack_name: str, template: CloudFormationTemplate | None = None) -> DeploymentProgress:
        """Where the deployment stands: the stack's status, and per resource created / failed / in progress (from
        the stack's resources, and resource-level events where CloudFormation writes them)."""
        stack = self.stack(stack_name)
        if stack is None:
            raise LookupError(f"no stack {stack_name!r} in account {self.account_id} ({self.region})")
        expected = sorted(template.resource_types()) if template is not None else []
        resources, refused = self._resources(stack["StackId"])
        status = deployment_status(stack["StackStatus"])
        created: list[str] = []
        failed: list[str] = []
        busy: list[str] = []
        reason = stack.get("StackStatusReason")
        if resources is None:  # moto's refused resource: the stack will never finish by itself
            status = DeploymentStatus.FAILED
            reason = refused
            failed = expected or ["(stack)"]
        else:
            for resource in resources:
                state, logical = resource.get("ResourceStatus", ""), resource["LogicalResourceId"]
                (created if state in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
                 else failed if state.endswith("FAILED") else busy).append(logical)
            if status in (DeploymentStatus.FAILED, DeploymentStatus.ROLLING_BACK):
                for event in self.events(stack["StackId"]):
                    if event.status.endswith("FAILED") and event.logical_id != stack_name \
                            and event.logical_id not in failed:
                        failed.append(event.logical_id)
                        reason = reason or event.reason
        total = max(len(expected), len(set(created) | set(failed) | set(busy)))
        percentage = 100 if status == DeploymentStatus.SUCCEEDED or total == 0 else \
            min(100, int(100 * len(created) / total))
        if status != DeploymentStatus.SUCCEEDED:
            percentage = min(percentage, 99)
        return DeploymentProgress(stack_name=stack_name, stack_id=stack["StackId"], stack_status=stack["StackStatus"],
                                  status=status, total=total, created=sorted(created), failed=sorted(failed),
                                  in_progress=sorted(busy), percentage=percentage, reason=reason)

    def deploy_package(self, package: CFNPackage, *,
                       on_result: Callable[[DeploymentResult], None] | None = None) -> list[DeploymentResult]:
        """Deploy every template of the package in dependency order, each one's parameters filled from the outputs
        of the stacks it depends on; stops at the first one that does not succeed (its result is the last)."""
        outputs: dict[str, dict[str, str]] = {}
        results: list[DeploymentResult] = []
        for template in package.deployment_order():
            name = stack_name_for(package.customer_id, template.name)
            result = self.deploy(name, template, package.parameter_values(template.name, outputs))
            results.append(result)
            if on_result is not None:
                on_result(result)
            if result.status != DeploymentStatus.SUCCEEDED:
                break
            outputs[template.name] = self.outputs(name)
        return results

    # --- verification --------------------------------------------------------------------------------------

    def verify(self, stack_name: str, template: CloudFormationTemplate) -> VerificationReport:
        """Every resource of `template` is in the stack, complete, and (S3 buckets, DynamoDB tables, SQS queues)
        found by its own service in the expected state."""
        resources, refused = self._resources(stack_name)
        by_id = {r["LogicalResourceId"]: r for r in resources or []}
        checks: list[ResourceCheck] = []
        for logical, kind in sorted(template.resource_types().items()):
            found = by_id.get(logical)
            if found is None:
                checks.append(ResourceCheck(logical_id=logical, resource_type=kind, exists=False,
                                            detail=refused or "not in the stack"))
                continue
            state, physical = found.get("ResourceStatus", ""), found.get("PhysicalResourceId")
            if state not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"):
                checks.append(ResourceCheck(logical_id=logical, resource_type=kind, physical_id=physical, status=state,
                                            exists=False, detail=f"the stack says {state}"))
                continue
            exists, detail = self._resource_exists(kind, physical)
            checks.append(ResourceCheck(logical_id=logical, resource_type=kind, physical_id=physical, status=state,
                                        exists=exists, detail=detail))
        missing = [c.logical_id for c in checks if not c.exists]
        return VerificationReport(stack_name=stack_name, ok=not missing, checks=checks, missing=missing)

    def _resource_exists(self, kind: str, physical: str | None) -> tuple[bool, str]:
        """Ask the resource's own service (the kinds we can check; others rest on the stack's word)."""
        if not physical:
            return False, "no physical id"
        try:
            if kind == "AWS::S3::Bucket":
                self.client("s3").head_bucket(Bucket=physical)
                return True, "bucket found"
            if kind == "AWS::DynamoDB::Table":
                state = self.client("dynamodb").describe_table(TableName=physical)["Table"]["TableStatus"]
                return state == "ACTIVE", f"table {state}"
            if kind == "AWS::SQS::Queue":
                self.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
                return True, "queue found"
        except Exception as exc:
            return False, f"{_code(exc) or type(exc).__name__}: not found by its service"
        return True, "the stack's word"

    # --- rollback ------------------------------------------------------------------------------------------

    def rollback(self, stack_name: str, previous: CloudFormationTemplate | None = None,
                 params: Mapping[str, str] | None = None) -> DeploymentResult:
        """Undo a failed deployment: with no `previous`, delete the stack (a failed new stack) and check that it
        and the resources it had are gone; with `previous`, update the stack back to that template and verify it.
        ROLLED_BACK only when the check passes, ROLLBACK_FAILED otherwise (with what is left)."""
        stack = self.stack(stack_name)
        if stack is None:  # nothing there: a re-run after the delete, or nothing was ever made
            return DeploymentResult(stack_name=stack_name, account_id=self.account_id, region=self.region,
                                    status=DeploymentStatus.ROLLED_BACK)
        stack_id = stack["StackId"]
        if previous is None:
            physical = self._physical_ids(stack_id)
            try:
                self.cfn.delete_stack(StackName=stack_id)
                left = self._await_deleted(stack_id, physical)
            except Exception as exc:
                return self._rollback_failed(stack_name, stack_id, exc, "DeleteStack", [])
            status = DeploymentStatus.ROLLED_BACK if not left else DeploymentStatus.ROLLBACK_FAILED
            error = None if not left else ErrorContext(
                step="rollback", error_class=ErrorClass.PERMANENT, service="cloudformation", operation="DeleteStack",
                code="ResourcesLeft", message=f"still there after the delete: {', '.join(left)}")
            return DeploymentResult(stack_name=stack_name, account_id=self.account_id, region=self.region,
                                    status=status, stack_id=stack_id, resources_failed=left, error=error)
        params = dict(params or {})
        try:
            self.cfn.update_stack(StackName=stack_id, TemplateBody=previous.template_body(), Capabilities=CAPABILITIES,
                                  Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())])
        except Exception as exc:
            if not (_code(exc) == "ValidationError" and "No updates" in str(exc)):
                return self._rollback_failed(stack_name, stack_id, exc, "UpdateStack", [])
        progress = self.follow(stack_id, previous)
        report = self.verify(stack_id, previous)
        ok = progress.status == DeploymentStatus.SUCCEEDED and report.ok
        return DeploymentResult(
            stack_name=stack_name, account_id=self.account_id, region=self.region, stack_id=stack_id,
            status=DeploymentStatus.ROLLED_BACK if ok else DeploymentStatus.ROLLBACK_FAILED,
            resources_created=progress.created, resources_failed=report.missing,
            error=None if ok else ErrorContext(step="rollback", error_class=ErrorClass.PERMANENT,
                                               service="cloudformation", operation="UpdateStack",
                                               code=progress.stack_status,
                                               message=f"not back to the previous template: missing {report.missing}"))

    def _rollback_failed(self, stack_name: str, stack_id: str, exc: Exception, operation: str,
                         left: list[str]) -> DeploymentResult:
        return DeploymentResult(stack_name=stack_name, account_id=self.account_id, region=self.region,
                                status=DeploymentStatus.ROLLBACK_FAILED, stack_id=stack_id, resources_failed=left,
                                error=ErrorContext.from_exception(exc, step="rollback", service="cloudformation",
                                                                  operation=operation))

    def _physical_ids(self, stack_id: str) -> dict[str, tuple[str, str]]:
        """Logical id -> (type, physical id) of what the stack holds, so the delete can be checked resource by
        resource. A stack moto cannot list (a refused resource) answers nothing: its template's named resources
        are checked instead."""
        resources, _ = self._resources(stack_id)
        if resources is not None:
            return {r["LogicalResourceId"]: (r.get("ResourceType", ""), r.get("PhysicalResourceId") or "")
                    for r in resources if r.get("PhysicalResourceId")}
        import json

        body = self.cfn.get_template(StackName=stack_id)["TemplateBody"]
        body = json.loads(body) if isinstance(body, str) else body
        named = {"AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName"}
        found = {}
        for logical, resource in (body.get("Resources") or {}).items():
            key = named.get(resource.get("Type", ""))
            value = (resource.get("Properties") or {}).get(key) if key else None
            if isinstance(value, str):
                found[logical] = (resource["Type"], value)
        return found

    def _await_deleted(self, stack_id: str, physical: dict[str, tuple[str, str]]) -> list[str]:
        """Wait for DELETE_COMPLETE; then the logical ids whose resources are still there."""
        for _ in range(self.max_polls):
            stack = self.stack(stack_id)
            if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
                break
            if stack["StackStatus"] == "DELETE_FAILED":
                return sorted(physical) or ["(stack)"]
            self.wait(self.poll_seconds)
        else:
            return ["(stack)"]
        left = []
        for logical, (kind, pid) in sorted(physical.items()):
            exists, _ = self._resource_exists(kind, pid)
            if exists and kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue"):
                left.append(logical)
        return left


__all__ = ["ChangeSetPreview", "DeploymentProgress", "ResourceChange", "ResourceCheck", "StackEvent", "StackService",
           "VerificationReport", "deployment_status", "stack_name_for"]

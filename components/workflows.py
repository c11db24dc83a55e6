"""The onboarding workflows' durable functions (seed 003, issue 13 item 7): onboarding and provisioning as Lambda
durable functions, and their alarms.

Each function is built from its declaration (runtime/resources.py WORKFLOW_FUNCTIONS) by the same LambdaFunction
block as the pipeline's: python3.13 (Lambda runs durable functions on 3.13 and later), `durable_config`, published
(durable executions start on a version, never on the unqualified ARN), its environment from `function_environment`
(the workflows and audit tables, the package bucket, the Slack bot token, the access role's name) and a role
holding only what the workflow calls (components/iam.py: its tables, its packages under the bucket's key through
S3, its Organizations actions scoped to this account's organisation, sts:AssumeRole on the configured access role
in member accounts only, checkpoints of its own executions). CloudFormation runs in the member accounts under the
access role, so these roles hold no CloudFormation action at all.

Provisioning is made first: onboarding's last step starts it, so onboarding's environment and role name its
published version. The API and Slack functions get both (`qualified_arns`, `arns`) to start, approve and cancel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.base import PACKAGE, LambdaFunction, LambdaFunctionArgs, check_common, child, require
from components.state import State
from runtime.resources import (
    CIRCUIT_OPEN_METRIC, CRITICAL_METRIC, PACKAGES, WORKFLOW_FUNCTION_FOR, WORKFLOW_FUNCTIONS,
    WORKFLOW_METRIC_NAMESPACE, Env, PhysicalNames,
)

# An onboarding waits for its accounts (minutes) and a provisioning for a person's approval of its change set:
# a week before the execution times out, and its state kept 30 days after (status, resume, the audit's context).
EXECUTION_TIMEOUT_SECONDS = 7 * 24 * 3600
RETENTION_DAYS = 30
WORKFLOW_KIND = {logical: kind for kind, logical in WORKFLOW_FUNCTION_FOR.items()}
# The order the functions are made in: a workflow that starts another comes after it (iam.WORKFLOW_STARTS).
BUILD_ORDER = ("provisioning_workflow", "onboarding_workflow")


@dataclass(frozen=True)
class WorkflowsArgs:
    state: State
    code: pulumi.Input[pulumi.Archive]  # the workflows bundle (components/packaging.py, python 3.13)
    package_bucket_name: pulumi.Input[str]
    package_bucket_arn: pulumi.Input[str]
    package_key_arn: pulumi.Input[str]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    access_role_name: str = "OrganizationAccountAccessRole"
    log_retention_days: int = 30
    architecture: str = "arm64"
    execution_timeout_seconds: int = EXECUTION_TIMEOUT_SECONDS
    retention_days: int = RETENTION_DAYS
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_common("Workflows", log_retention_days=self.log_retention_days, architecture=self.architecture)
        # durable_config's documented ranges (1 s .. 366 days; 1..90 days of retained state)
        require("Workflows", 1 <= self.execution_timeout_seconds <= 31_622_400,
                f"execution_timeout_seconds {self.execution_timeout_seconds} is not 1..31622400")
        require("Workflows", 1 <= self.retention_days <= 90, f"retention_days {self.retention_days} is not 1..90")
        require("Workflows", set(BUILD_ORDER) == {f.logical_name for f in WORKFLOW_FUNCTIONS},
                "BUILD_ORDER must name every WORKFLOW_FUNCTIONS entry")


class Workflows(pulumi.ComponentResource):
    functions: dict[str, LambdaFunction]  # logical name -> function
    arns: dict[str, pulumi.Output[str]]  # workflow kind -> function ARN (unqualified: IAM statements)
    qualified_arns: dict[str, pulumi.Output[str]]  # workflow kind -> its published version's ARN (Invoke)

    def __init__(self, name: str, args: WorkflowsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Workflows", name, None, opts)
        state = args.state
        declared = {f.logical_name: f for f in WORKFLOW_FUNCTIONS}
        self.functions, self.arns, self.qualified_arns = {}, {}, {}
        for logical in BUILD_ORDER:
            function = declared[logical]
            starts = {kind: self.qualified_arns[kind] for kind in iam.WORKFLOW_STARTS.get(logical, ())}
            settings: dict[str, Any] = {
                Env.STACK: pulumi.get_stack(),
                Env.POWERTOOLS_SERVICE_NAME: f"aidlc-{WORKFLOW_KIND[logical]}-workflow",
                Env.ACCESS_ROLE_NAME: args.access_role_name,
                Env.WORKFLOW_FUNCTIONS: pulumi.Output.json_dumps(starts) if starts else None,
            }
            names = PhysicalNames(tables=state.table_names, secrets=state.secret_arns,
                                  buckets={PACKAGES.logical_name: args.package_bucket_name}, settings=settings)
            arns = iam.StackArns(
                tables=state.table_arns, secrets=state.secret_arns,
                buckets={PACKAGES.logical_name: args.package_bucket_arn},
                keys={PACKAGES.logical_name: args.package_key_arn},
                workflows={kind: self.arns[kind] for kind in starts}, account=args.account_id, region=args.region,
                access_role_name=args.access_role_name)
            built = LambdaFunction(
                f"{name}-{logical.replace('_', '-')}",
                LambdaFunctionArgs(
                    function=function, code=args.code, arns=arns, names=names,
                    log_retention_days=args.log_retention_days, architecture=args.architecture, tags=dict(args.tags),
                    durable_config={"execution_timeout": args.execution_timeout_seconds,
                                    "retention_period": args.retention_days}),
                opts=child(self))
            self.functions[logical] = built
            self.arns[WORKFLOW_KIND[logical]] = built.arn
            self.qualified_arns[WORKFLOW_KIND[logical]] = built.qualified_arn
        self.register_outputs({"qualified_arns": self.qualified_arns})

    @property
    def function_names(self) -> dict[str, pulumi.Output[str]]:
        return {logical: f.name for logical, f in self.functions.items()}


# --- alarms ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowAlarmsArgs:
    function_names: Mapping[str, pulumi.Input[str]]  # logical name -> Lambda function name
    topic_arn: pulumi.Input[str]  # Monitoring's alarm topic
    breaker_services: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("WorkflowAlarms", bool(self.function_names), "no workflow functions to watch")


class WorkflowAlarms(pulumi.ComponentResource):
    """What a person must hear about at once (each alarm to the alarm topic): a workflow function's invocation
    failed or was throttled, a workflow halted on a critical error, an external service's circuit breaker opened.
    The error *rate* of each function is Monitoring's, like every other function's."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: WorkflowAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:WorkflowAlarms", name, None, opts)
        actions = [args.topic_arn]
        tags = dict(args.tags)
        self.alarms = {}

        def alarm(key: str, description: str, **metric: Any) -> None:
            self.alarms[key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{key}", alarm_description=f"aidlc: {description}", statistic="Sum", period=300,
                evaluation_periods=1, threshold=0, comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching", alarm_actions=actions, ok_actions=actions, tags=tags,
                opts=child(self), **metric)

        for logical, function_name in args.function_names.items():
            kind = WORKFLOW_KIND.get(logical, logical)
            short = logical.replace("_", "-")
            alarm(f"{short}-failed", f"the {kind} workflow function failed an invocation (a durable execution "
                  "step raised past its retries, or the function crashed)",
                  namespace="AWS/Lambda", metric_name="Errors", dimensions={"FunctionName": function_name})
            alarm(f"{short}-throttled", f"the {kind} workflow function was throttled (concurrency exhausted: "
                  "workflows queue up or fail to start)",
                  namespace="AWS/Lambda", metric_name="Throttles", dimensions={"FunctionName": function_name})
            alarm(f"{kind}-critical", f"a {kind} workflow halted on a critical error (needs a person before resume)",
                  namespace=WORKFLOW_METRIC_NAMESPACE, metric_name=CRITICAL_METRIC, dimensions={"WorkflowKind": kind})
        for service in args.breaker_services:
            alarm(f"breaker-{service}-open", f"the workflows' {service} circuit breaker opened (5 failures in a "
                  "row: calls to it stop for 60 s)",
                  namespace=WORKFLOW_METRIC_NAMESPACE, metric_name=CIRCUIT_OPEN_METRIC, dimensions={"Service": service})
        self.register_outputs({"alarm_count": len(self.alarms)})

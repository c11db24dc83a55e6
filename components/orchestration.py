"""Orchestration: the pipeline's Lambda functions with their queue mappings and schedules. The state they use
(tables, queues, secrets) is the State component's; each function's environment comes from
`runtime.resources.function_environment`, the same derivation the local stack uses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.base import PACKAGE, LambdaFunction, LambdaFunctionArgs, check_common, child, lambda_plugin_dirs, require
from components.state import State
from runtime.resources import COMPLETIONS, FUNCTIONS, TASKS, Env, Function, PhysicalNames

# The gateway target function belongs to the AgentCore component (it serves the agents' tools).
PIPELINE_FUNCTIONS: tuple[Function, ...] = tuple(f for f in FUNCTIONS if f.pipeline)
SQS_BATCH_MAX = 10  # Lambda's maximum batch size for a FIFO queue source (CreateEventSourceMapping)


@dataclass(frozen=True)
class OrchestrationArgs:
    state: State
    code: Mapping[str, pulumi.Input[pulumi.Archive]]  # function logical name -> code archive
    agent_runtime_arns: pulumi.Input[Mapping[str, str]]  # agent name -> runtime ARN
    project_config_json: pulumi.Input[str]
    # agent -> endpoint -> runtime version (AgentCore.endpoint_versions); the orchestrator picks an endpoint per run
    agent_endpoint_versions: pulumi.Input[Mapping[str, Mapping[str, str]]] | None = None
    model_prices_json: str = "{}"
    prototype_base_url: pulumi.Input[str] | None = None
    plugin_dirs_in_bundle: Sequence[str] = ()  # extra plugin folders inside the bundle (relative to its root)
    log_retention_days: int = 30
    architecture: str = "arm64"
    batch_size: int = 10
    tags: Mapping[str, str] = field(default_factory=dict)
    # The onboarding workflows (components/workflows.py): kind -> function ARN (IAM), kind -> published version's
    # ARN (AIDLC_WORKFLOW_FUNCTIONS: what the API and Slack functions start and answer callbacks on)
    workflow_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    workflow_qualified_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [f.logical_name for f in PIPELINE_FUNCTIONS if self.code.get(f.logical_name) is None]
        require("Orchestration", not missing, f"no code archive for functions {missing}")
        require("Orchestration", 1 <= self.batch_size <= SQS_BATCH_MAX, f"batch_size {self.batch_size} not 1..10")
        check_common("Orchestration", log_retention_days=self.log_retention_days, architecture=self.architecture)


def deployment_names(state: State, settings: Mapping[str, Any], buckets: Mapping[str, Any] | None = None
                     ) -> PhysicalNames:
    """What `function_environment` needs, from the State component and the deployment-wide settings."""
    return PhysicalNames(tables=state.table_names, queues=state.queue_urls, secrets=state.secret_arns,
                         buckets=dict(buckets or {}), settings=dict(settings))


class Orchestration(pulumi.ComponentResource):
    functions: dict[str, LambdaFunction]

    def __init__(self, name: str, args: OrchestrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Orchestration", name, None, opts)
        tags = dict(args.tags)
        state = args.state
        runtime_arns = pulumi.Output.from_input(args.agent_runtime_arns)
        arns = iam.StackArns(tables=state.table_arns, queues=state.queue_arns, secrets=state.secret_arns,
                             agent_runtimes=runtime_arns, workflows=dict(args.workflow_arns))
        # No POWERTOOLS_SERVICE_NAME: Powertools would add it as a `service` dimension to every EMF metric, and
        # the budget alarms and the cost dashboard select the cost metrics by ProjectId alone (the handlers name
        # their loggers' service themselves).
        settings: dict[str, Any] = {
            Env.STACK: pulumi.get_stack(),
            Env.PROJECT_CONFIG: args.project_config_json,
            Env.MODEL_PRICES: args.model_prices_json,
            Env.POWERTOOLS_METRICS_NAMESPACE: iam.METRICS_NAMESPACE,
            Env.AGENT_RUNTIMES: pulumi.Output.json_dumps(runtime_arns),
            Env.AGENT_ENDPOINTS: (pulumi.Output.json_dumps(args.agent_endpoint_versions)
                                  if args.agent_endpoint_versions is not None else None),
            # Belt and braces behind the routes' AWS_IAM auth: the handler refuses calls with no IAM identity.
            Env.API_REQUIRE_IAM: "true",
            Env.PROTOTYPE_BASE_URL: args.prototype_base_url,
            # The webhook needs a dropped-in plugin's triggers, the completion step its chains.
            Env.PLUGIN_DIRS: lambda_plugin_dirs(args.plugin_dirs_in_bundle) if args.plugin_dirs_in_bundle else None,
            Env.WORKFLOW_FUNCTIONS: (pulumi.Output.json_dumps(dict(args.workflow_qualified_arns))
                                     if args.workflow_qualified_arns else None),
        }
        names = deployment_names(state, settings)
        self.functions = {}
        for function in PIPELINE_FUNCTIONS:
            self.functions[function.logical_name] = LambdaFunction(
                f"{name}-{function.logical_name}",
                LambdaFunctionArgs(
                    function=function,
                    code=args.code[function.logical_name],
                    arns=arns,
                    names=names,
                    log_retention_days=args.log_retention_days,
                    architecture=args.architecture,
                    tags=tags,
                ),
                opts=child(self),
            )

        self.event_source_mappings = {}
        for function in PIPELINE_FUNCTIONS:
            for queue_name in function.queues_consume:
                self.event_source_mappings[function.logical_name] = aws.lambda_.EventSourceMapping(
                    f"{name}-{function.logical_name}-from-{queue_name}",
                    event_source_arn=state.queue_arns[queue_name],
                    function_name=self.functions[function.logical_name].arn,
                    batch_size=args.batch_size,
                    # Failed messages are retried alone; the rest of the batch is deleted (partial batch response).
                    function_response_types=["ReportBatchItemFailures"],
                    opts=child(self),
                )

        self.schedules = {f.logical_name: self._schedule(name, f, tags) for f in PIPELINE_FUNCTIONS if f.schedule}
        self.task_queue_url = state.queue_urls[TASKS.logical_name]
        self.completion_queue_url = state.queue_urls[COMPLETIONS.logical_name]
        self.register_outputs({"function_names": {k: f.name for k, f in self.functions.items()}})

    def _schedule(self, name: str, function: Function, tags: dict[str, str]) -> aws.cloudwatch.EventRule:
        target = self.functions[function.logical_name]
        rule = aws.cloudwatch.EventRule(
            f"{name}-{function.logical_name}-schedule",
            schedule_expression=function.schedule,
            description=f"aidlc {function.logical_name} sweeper",
            tags=tags,
            opts=child(self),
        )
        aws.cloudwatch.EventTarget(f"{name}-{function.logical_name}-target", rule=rule.name, arn=target.arn,
                                   opts=child(self))
        aws.lambda_.Permission(
            f"{name}-{function.logical_name}-allow-events",
            action="lambda:InvokeFunction",
            function=target.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child(self),
        )
        return rule


def project_config_json(config: Any) -> str:
    """The default project's ProjectConfig as the handlers read it from AIDLC_PROJECT_CONFIG."""
    return json.dumps(config.project_config().model_dump(mode="json", exclude={"created_at", "updated_at"}),
                      sort_keys=True)

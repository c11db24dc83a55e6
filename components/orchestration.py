"""Orchestration: the queues (with DLQs), tables, secrets, and the pipeline's Lambda functions with their
queue mappings and schedules. Everything is declared in runtime/resources.py; this component only realises it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from components import iam
from components.agentcore import ENDPOINT_NAME
from components.base import PACKAGE, PLUGIN_DIRS_ENV, LambdaFunction, child, lambda_plugin_dirs, validate_args
from runtime.resources import COMPLETIONS, FUNCTIONS, QUEUES, SECRETS, TABLES, TASKS, Env, Function, Queue, Table

# The gateway target function belongs to the AgentCore component (it serves the agents' tools).
PIPELINE_FUNCTIONS: tuple[Function, ...] = tuple(f for f in FUNCTIONS if f.logical_name != "tool_gateway")
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: time to look at what failed
API_REQUIRE_IAM_ENV = "AIDLC_API_REQUIRE_IAM"  # read by runtime/pipeline/settings.py
SECRET_PLACEHOLDER = "unset"  # runtime/pipeline/secrets.py reads it as "no value yet"


class OrchestrationArgs(TypedDict, total=False):
    name_prefix: str  # physical-name prefix for queues (FIFO queues need an explicit .fifo name)
    code: Mapping[str, pulumi.Input[pulumi.Archive]]  # function logical name -> code archive
    agent_runtime_arns: pulumi.Input[Mapping[str, str]]  # agent name -> runtime ARN (may resolve later)
    project_config_json: pulumi.Input[str]
    model_id: str
    model_prices_json: str
    prototype_base_url: pulumi.Input[str]
    secret_values: Mapping[str, pulumi.Input[str]]  # secret logical name -> value (Pulumi secret), optional
    plugin_dirs_in_bundle: Sequence[str]  # extra plugin folders inside the bundle (relative to its root)
    log_retention_days: int
    architecture: str
    batch_size: int
    tags: Mapping[str, str]


class Orchestration(pulumi.ComponentResource):
    tables: dict[str, aws.dynamodb.Table]
    queues: dict[str, aws.sqs.Queue]
    dead_letter_queues: dict[str, aws.sqs.Queue]
    secrets: dict[str, aws.secretsmanager.Secret]
    functions: dict[str, LambdaFunction]
    table_arns: dict[str, pulumi.Output[str]]
    queue_arns: dict[str, pulumi.Output[str]]
    secret_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: OrchestrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:Orchestration", name, None, opts)
        args = validate_args("Orchestration", args, OrchestrationArgs, ("name_prefix", "code", "project_config_json"))
        tags = dict(args.get("tags") or {})
        prefix = args["name_prefix"]

        self.tables = {t.logical_name: self._table(name, t, tags) for t in TABLES}
        self.dead_letter_queues = {}
        self.queues = {q.logical_name: self._queue(name, prefix, q, tags) for q in QUEUES}
        self.secrets = {s.logical_name: self._secret(name, s.logical_name, s.purpose, tags) for s in SECRETS}
        values = args.get("secret_values") or {}
        for logical, secret in self.secrets.items():
            value = values.get(logical)
            if value is not None:
                aws.secretsmanager.SecretVersion(
                    f"{name}-{logical}-value", secret_id=secret.id, secret_string=value, opts=child(self))
            else:
                # The placeholder the handlers read as "not configured"; whoever writes the real value later (the
                # webhook for Notion's verification token, an operator otherwise) is not overwritten by `pulumi up`.
                aws.secretsmanager.SecretVersion(
                    f"{name}-{logical}-placeholder", secret_id=secret.id, secret_string=SECRET_PLACEHOLDER,
                    opts=child(self, ignore_changes=["secretString"]))

        self.table_arns = {k: t.arn for k, t in self.tables.items()}
        self.queue_arns = {k: q.arn for k, q in self.queues.items()}
        self.secret_arns = {k: s.arn for k, s in self.secrets.items()}
        runtime_arns = args.get("agent_runtime_arns") or {}
        arns = iam.StackArns(
            tables=self.table_arns,
            queues=self.queue_arns,
            secrets=self.secret_arns,
            agent_runtimes=pulumi.Output.from_input(runtime_arns),
        )
        common_env: dict[str, Any] = {
            Env.STACK: pulumi.get_stack(),
            Env.PROJECT_CONFIG: args["project_config_json"],
            Env.MODEL_ID: args.get("model_id", ""),
            Env.MODEL_PRICES: args.get("model_prices_json", "{}"),
            "POWERTOOLS_SERVICE_NAME": "aidlc",
            "POWERTOOLS_METRICS_NAMESPACE": iam.METRICS_NAMESPACE,
        }
        if args.get("prototype_base_url") is not None:
            common_env[Env.PROTOTYPE_BASE_URL] = args["prototype_base_url"]
        if args.get("plugin_dirs_in_bundle"):
            # The webhook needs a dropped-in plugin's triggers, the completion step its chains.
            common_env[PLUGIN_DIRS_ENV] = lambda_plugin_dirs(args["plugin_dirs_in_bundle"])

        self.functions = {}
        for function in PIPELINE_FUNCTIONS:
            env = {**common_env, **self.environment_for(function)}
            if function.logical_name == "api":
                # Belt and braces behind the routes' AWS_IAM auth: the handler refuses calls with no IAM identity.
                env[API_REQUIRE_IAM_ENV] = "true"
            if function.invokes_agents or function.stops_agents:
                env[Env.AGENT_RUNTIMES] = pulumi.Output.json_dumps(runtime_arns)
                env[Env.AGENT_QUALIFIER] = ENDPOINT_NAME
            code = args["code"].get(function.logical_name)
            if code is None:
                raise ValueError(f"Orchestration: no code archive for function {function.logical_name!r}")
            self.functions[function.logical_name] = LambdaFunction(
                f"{name}-{function.logical_name}",
                {
                    "function": function,
                    "code": code,
                    "arns": arns,
                    "environment": env,
                    "log_retention_days": args.get("log_retention_days", 30),
                    "architecture": args.get("architecture", "arm64"),
                    "tags": tags,
                },
                opts=child(self),
            )

        self.event_source_mappings = {}
        for function in PIPELINE_FUNCTIONS:
            for queue_name in function.queues_consume:
                self.event_source_mappings[function.logical_name] = aws.lambda_.EventSourceMapping(
                    f"{name}-{function.logical_name}-from-{queue_name}",
                    event_source_arn=self.queues[queue_name].arn,
                    function_name=self.functions[function.logical_name].arn,
                    batch_size=args.get("batch_size", 10),
                    # Failed messages are retried alone; the rest of the batch is deleted (partial batch response).
                    function_response_types=["ReportBatchItemFailures"],
                    opts=child(self),
                )

        self.schedules = {}
        for function in PIPELINE_FUNCTIONS:
            if function.schedule:
                self.schedules[function.logical_name] = self._schedule(name, function, tags)

        self.task_queue_url = self.queues[TASKS.logical_name].url
        self.completion_queue_url = self.queues[COMPLETIONS.logical_name].url
        self.completion_queue_arn = self.queues[COMPLETIONS.logical_name].arn
        self.register_outputs({
            "table_names": {k: t.name for k, t in self.tables.items()},
            "queue_urls": {k: q.url for k, q in self.queues.items()},
            "dead_letter_queue_arns": {k: q.arn for k, q in self.dead_letter_queues.items()},
            "secret_arns": self.secret_arns,
            "function_names": {k: f.name for k, f in self.functions.items()},
        })

    # --- children -------------------------------------------------------------------------------------------

    def environment_for(self, function: Function) -> dict[str, Any]:
        """Names, URLs and ARNs of what the function uses; never a secret value."""
        env: dict[str, Any] = {}
        by_name = {t.logical_name: t for t in TABLES}
        for table in function.tables:
            env[by_name[table].env_var] = self.tables[table].name
        queues = {q.logical_name: q for q in QUEUES}
        for queue in (*function.queues_send, *function.queues_consume):
            env[queues[queue].env_var] = self.queues[queue].url
        secrets = {s.logical_name: s for s in SECRETS}
        for secret in function.secrets:
            env[secrets[secret].env_var] = self.secrets[secret].arn
        return env

    def _table(self, name: str, table: Table, tags: dict[str, str]) -> aws.dynamodb.Table:
        return aws.dynamodb.Table(
            f"{name}-{table.logical_name}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=table.hash_key,
            range_key=table.range_key,
            attributes=[{"name": attribute, "type": "S"} for attribute in table.attribute_names()],
            global_secondary_indexes=[
                {
                    "name": index.name,
                    "key_schemas": [
                        {"attribute_name": index.hash_key, "key_type": "HASH"},
                        *([{"attribute_name": index.range_key, "key_type": "RANGE"}] if index.range_key else []),
                    ],
                    "projection_type": "ALL",
                }
                for index in table.indexes
            ] or None,
            ttl={"attribute_name": table.ttl_attribute, "enabled": True} if table.ttl_attribute else None,
            server_side_encryption={"enabled": True},
            point_in_time_recovery={"enabled": True},
            tags={**tags, "aidlc:purpose": table.purpose[:250]} if table.purpose else tags,
            opts=child(self),
        )

    def _queue(self, name: str, prefix: str, queue: Queue, tags: dict[str, str]) -> aws.sqs.Queue:
        dlq = aws.sqs.Queue(
            f"{name}-{queue.logical_name}-dlq",
            name=queue.dlq_name(prefix),
            fifo_queue=queue.fifo or None,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child(self),
        )
        self.dead_letter_queues[queue.logical_name] = dlq
        return aws.sqs.Queue(
            f"{name}-{queue.logical_name}",
            name=queue.physical_name(prefix),
            fifo_queue=queue.fifo or None,
            # FIFO: the webhook sets a deduplication id per Notion event, so content-based dedup stays off.
            content_based_deduplication=False if queue.fifo else None,
            visibility_timeout_seconds=queue.visibility_timeout_seconds,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": queue.max_receive_count}
            ),
            tags=tags,
            opts=child(self),
        )

    def _secret(self, name: str, logical: str, purpose: str, tags: dict[str, str]) -> aws.secretsmanager.Secret:
        return aws.secretsmanager.Secret(
            f"{name}-{logical}",
            description=f"aidlc: {purpose}",
            recovery_window_in_days=7,
            tags=tags,
            opts=child(self),
        )

    def _schedule(self, name: str, function: Function, tags: dict[str, str]) -> aws.cloudwatch.EventRule:
        target = self.functions[function.logical_name]
        rule = aws.cloudwatch.EventRule(
            f"{name}-{function.logical_name}-schedule",
            schedule_expression=function.schedule,
            description=f"aidlc {function.logical_name} sweeper",
            tags=tags,
            opts=child(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-{function.logical_name}-target",
            rule=rule.name,
            arn=target.arn,
            opts=child(self),
        )
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

"""IAM policy documents, built from what each function or runtime needs (pure functions, no Pulumi resources).

Values may be plain strings (tests) or `pulumi.Output`s (the program serialises the document with
`Output.json_dumps`). Every statement names specific actions on specific ARNs. The only `"*"` resources are
in `WILDCARD_RESOURCE_REASONS`, each with the reason AWS leaves no narrower choice. (Encryption at rest uses
AWS-owned keys: SSE-SQS, DynamoDB and Secrets Manager defaults, SSE-S3, so no KMS grants are needed; the alarm
topic alone has a customer-managed key, because CloudWatch cannot use aws/sns: `alarm_topic_key_policy`.)
Partial wildcards inside ARNs, and why: DynamoDB `table/<name>/index/*` (the table's own indexes), runtime
`<runtime ARN>/runtime-endpoint/*` (its endpoints), `foundation-model/<id>` in any region (a cross-region
inference profile routes to the profile's regions), the runtime log groups `/aws/bedrock-agentcore/runtimes/<name>-*`
(AgentCore appends the runtime id and endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.resources import TABLES, Function

# Actions that AWS does not scope to a resource: the only place a "*" resource is allowed, and why.
WILDCARD_RESOURCE_REASONS: dict[str, str] = {
    "cloudwatch:PutMetricData": "CloudWatch metrics have no ARN; the statement is narrowed by a cloudwatch:namespace "
    "condition instead",
    "bedrock-agentcore:ConnectBrowserAutomationStream": "the Service Authorization Reference gives it no resource "
    "type; the sessions it connects to are started on the one system browser's ARN (StartBrowserSession)",
}

TABLE_READ = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
# Tables whose users also list them whole, and why: the sweepers and the API read every project
# (runtime/pipeline/state/projects.py scans the projects table, which holds one small item per project and month).
SCANNED_TABLES: dict[str, str] = {"projects": "every project's configuration and budget: one item per project"}
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
QUEUE_SEND = ("sqs:SendMessage", "sqs:GetQueueAttributes")
QUEUE_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
LOG_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
AGENT_INVOKE = ("bedrock-agentcore:InvokeAgentRuntime", "bedrock-agentcore:StopRuntimeSession")
MODEL_INVOKE = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# What runtime/agent/memory.py calls (CreateEvent, ListEvents, RetrieveMemoryRecords), nothing more.
MEMORY_USE = (
    "bedrock-agentcore:CreateEvent",
    "bedrock-agentcore:ListEvents",
    "bedrock-agentcore:RetrieveMemoryRecords",
)
METRICS_NAMESPACE = "aidlc"
# The knowledge base (runtime/kb/): the sync starts and reads ingestion jobs, the tool gateway retrieves.
KB_SYNC = ("bedrock:StartIngestionJob", "bedrock:GetIngestionJob")
KB_RETRIEVE = ("bedrock:Retrieve",)
# Which secrets a function may write, not only read: Notion hands the webhook its verification token once.
SECRET_WRITERS: dict[str, tuple[str, ...]] = {"webhook": ("webhook-verification-token",)}


def statement(sid: str, actions: Sequence[str], resources: Sequence[Any], condition: Mapping[str, Any] | None = None,
              ) -> dict[str, Any]:
    deferred = hasattr(resources, "apply")  # an Output[list] (e.g. runtime ARNs known later): serialised as is
    if not actions or (not deferred and not resources):
        raise ValueError(f"statement {sid}: needs at least one action and one resource")
    out: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": resources if deferred else list(resources),
    }
    if condition:
        out["Condition"] = dict(condition)
    return out


def document(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust_policy(service: str, *, source_account: Any = None, source_arn_like: Any = None) -> dict[str, Any]:
    """A role trust policy for an AWS service principal, optionally pinned to our account and resource ARNs
    (confused-deputy protection; AgentCore documents aws:SourceAccount + aws:SourceArn)."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn_like is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn_like}
    if condition:
        trust["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [trust]}


@dataclass
class StackArns:
    """The ARNs a function policy can name. Any value may be an Output."""

    tables: Mapping[str, Any] = field(default_factory=dict)  # logical name -> table ARN
    queues: Mapping[str, Any] = field(default_factory=dict)  # logical name -> queue ARN
    secrets: Mapping[str, Any] = field(default_factory=dict)  # logical name -> secret ARN
    buckets: Mapping[str, Any] = field(default_factory=dict)  # logical name -> bucket ARN
    # Runtime ARNs the function may invoke or stop: a list, or an Output of {agent: ARN} (resolved later).
    agent_runtimes: Any = ()
    knowledge_base: Any = None  # the Bedrock knowledge base's ARN (sync: ingestion jobs; tools: Retrieve)


def _table_resources(arn: Any, logical_name: str) -> list[Any]:
    table = next(t for t in TABLES if t.logical_name == logical_name)
    return [arn, *([_join(arn, "/index/*")] if table.indexes else [])]


def _join(base: Any, suffix: str) -> Any:
    """`base + suffix` for a string or an Output."""
    if isinstance(base, str):
        return base + suffix
    return base.apply(lambda value: value + suffix)


def function_statements(function: Function, arns: StackArns, log_group_arn: Any) -> list[dict[str, Any]]:
    """The statements one Lambda function needs, from its declaration in runtime/resources.py."""
    name = function.logical_name
    out = [statement("WriteOwnLogs", LOG_WRITE, [_join(log_group_arn, ":*")])]
    for table in function.tables:
        scan = ("dynamodb:Scan",) if table in SCANNED_TABLES else ()
        out.append(statement(f"Table{_camel(table)}", TABLE_READ + scan + TABLE_WRITE,
                             _table_resources(arns.tables[table], table)))
    if function.queues_send:
        out.append(statement("SendToQueues", QUEUE_SEND, [arns.queues[q] for q in function.queues_send]))
    if function.queues_consume:
        out.append(statement("ConsumeQueues", QUEUE_CONSUME, [arns.queues[q] for q in function.queues_consume]))
    readable = [s for s in function.secrets]
    if readable:
        out.append(statement("ReadSecrets", ("secretsmanager:GetSecretValue",), [arns.secrets[s] for s in readable]))
    writable = [s for s in SECRET_WRITERS.get(name, ()) if s in function.secrets]
    if writable:
        out.append(statement("WriteSecrets", ("secretsmanager:PutSecretValue",), [arns.secrets[s] for s in writable]))
    # Starting runs needs InvokeAgentRuntime (and StopRuntimeSession); cancelling or timing out only the stop.
    agent_actions = AGENT_INVOKE if function.invokes_agents else AGENT_INVOKE[1:] if function.stops_agents else ()
    if agent_actions and hasattr(arns.agent_runtimes, "apply"):
        out.append(statement("InvokeAgentRuntimes", agent_actions, arns.agent_runtimes.apply(runtime_resources)))
    elif agent_actions and arns.agent_runtimes:
        out.append(statement("InvokeAgentRuntimes", agent_actions, runtime_resources(arns.agent_runtimes)))
    for bucket in function.buckets:
        bucket_arn = arns.buckets[bucket]
        if bucket == "kb-documents":  # the knowledge base's data source: documents written and removed
            out.append(statement("WriteKbDocuments", ("s3:PutObject", "s3:DeleteObject"), [_join(bucket_arn, "/*")]))
            continue
        # PutObject with a Tagging header (the expiry tags) also needs s3:PutObjectTagging.
        out.append(statement("WritePrototypes", ("s3:PutObject", "s3:PutObjectTagging", "s3:GetObject"),
                             [_join(bucket_arn, "/*")]))
        out.append(statement("ListPrototypes", ("s3:ListBucket",), [bucket_arn]))
    if function.knowledge_base and arns.knowledge_base is not None:
        actions = KB_SYNC if function.knowledge_base == "sync" else KB_RETRIEVE
        out.append(statement("UseKnowledgeBase", actions, [arns.knowledge_base]))
    if name in ("completion", "budget_alerts"):
        out.append(metrics_statement())
    return out


def runtime_resources(runtime_arns: Any) -> list[Any]:
    """A runtime ARN and its endpoints (InvokeAgentRuntime is authorised on both), for each runtime."""
    values = runtime_arns.values() if isinstance(runtime_arns, Mapping) else runtime_arns
    out: list[Any] = []
    for runtime_arn in values:
        out += [runtime_arn, _join(runtime_arn, "/runtime-endpoint/*")]
    return out


def metrics_statement() -> dict[str, Any]:
    return statement(
        "PublishCostMetrics",
        ("cloudwatch:PutMetricData",),
        ["*"],
        {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
    )


def function_policy(function: Function, arns: StackArns, log_group_arn: Any) -> dict[str, Any]:
    return document(function_statements(function, arns, log_group_arn))


def bedrock_model_arns(model_ids: Sequence[str], region: Any, account: Any) -> list[Any]:
    """Model ARNs for `bedrock:InvokeModel`: a cross-region inference profile (`us.` ...) and the foundation
    models it routes to (any region of the profile, hence the region wildcard in the ARN); a plain model id is
    a foundation model in this region."""
    arns: list[Any] = []
    for model_id in model_ids:
        prefix, _, base = model_id.partition(".")
        if prefix in ("us", "eu", "apac", "global", "jp", "au", "ca") and base:
            arns.append(_format("arn:aws:bedrock:{}:{}:inference-profile/" + model_id, region, account))
            arns.append(f"arn:aws:bedrock:*::foundation-model/{base}")
        else:
            arns.append(_format("arn:aws:bedrock:{}::foundation-model/" + model_id, region))
    return list(dict.fromkeys(arns)) if all(isinstance(a, str) for a in arns) else arns


def _format(template: str, *values: Any) -> Any:
    if all(isinstance(v, str) for v in values):
        return template.format(*values)
    import pulumi

    return pulumi.Output.format(template, *values)


def agent_runtime_statements(
    *,
    model_arns: Sequence[Any],
    gateway_arn: Any,
    completion_queue_arn: Any,
    audit_table_arn: Any,
    log_group_prefix_arn: Any,
    code_object_arn: Any,
    memory_arn: Any = None,
) -> list[dict[str, Any]]:
    """What one agent runtime may do: call the configured models, its gateway, report completion, audit."""
    out = [
        statement("InvokeConfiguredModels", MODEL_INVOKE, list(model_arns)),
        statement("CallToolGateway", ("bedrock-agentcore:InvokeGateway",), [gateway_arn]),
        statement("ReportCompletion", ("sqs:SendMessage",), [completion_queue_arn]),
        statement("WriteAudit", ("dynamodb:PutItem",), [audit_table_arn]),
        statement(
            "WriteRuntimeLogs",
            ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
            [log_group_prefix_arn, _join(log_group_prefix_arn, ":*")],
        ),
        statement("ReadAgentCode", ("s3:GetObject",), [code_object_arn]),
    ]
    if memory_arn is not None:
        out.append(statement("UseMemory", MEMORY_USE, [memory_arn]))
    return out


def alarm_topic_key_policy(account: Any) -> dict[str, Any]:
    """The key policy of the alarm topic's KMS key: the account administers it (without this statement the key
    would be unmanageable), CloudWatch may encrypt with it to publish alarms (AWS's documented statement for
    alarm actions on an encrypted topic), SNS uses it on the topic's behalf through the account's grant."""
    root = _format("arn:aws:iam::{}:root", account)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
             "Resource": "*"},
            {"Sid": "CloudWatchPublishesAlarms", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
        ],
    }


def gateway_statements(target_function_arns: Sequence[Any]) -> list[dict[str, Any]]:
    return [statement("InvokeToolTargets", ("lambda:InvokeFunction",), list(target_function_arns))]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))

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

from runtime.onboarding.aws import DEFAULT_ACCESS_ROLE
from runtime.resources import TABLES, Function

# Actions that AWS does not scope to a resource: the only place a "*" resource is allowed, and why.
WILDCARD_RESOURCE_REASONS: dict[str, str] = {
    "cloudwatch:PutMetricData": "CloudWatch metrics have no ARN; the statement is narrowed by a cloudwatch:namespace "
    "condition instead",
    "bedrock-agentcore:ConnectBrowserAutomationStream": "the Service Authorization Reference gives it no resource "
    "type; the sessions it connects to are started on the one system browser's ARN (StartBrowserSession)",
    # The onboarding workflow's Organizations calls that have no resource type (the organisation as a whole, or an
    # account that does not exist yet); the statements holding them name nothing else.
    **{f"organizations:{action}": "the Service Authorization Reference gives it no resource type (it acts on the "
       "organisation as a whole or on an account not yet created)"
       for action in ("DescribeOrganization", "CreateOrganization", "ListRoots", "ListAccounts", "CreateAccount",
                      "ListCreateAccountStatus", "DescribeCreateAccountStatus")},
    "organizations:ListPolicies": "no resource type; narrowed to service control policies by organizations:PolicyType",
    "organizations:CreatePolicy": "no resource type (the policy does not exist yet); narrowed to service control "
    "policies by organizations:PolicyType",
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

# --- the onboarding workflows (seed 003, runtime/onboarding/) -------------------------------------------------
# The package bucket: packages written once and read back (runtime/onboarding/package_store.py: PutObject with
# IfNoneMatch, GetObject, HeadObject, ListObjectsV2 under packages/), its objects under the bucket's KMS key.
PACKAGE_OBJECTS = ("s3:GetObject", "s3:PutObject")
PACKAGE_PREFIX = "packages/"
PACKAGE_KEY_USE = ("kms:Decrypt", "kms:GenerateDataKey")  # GetObject decrypts; PutObject asks for a data key
# Who writes packages (builds and versions them); the others only read a version back (provisioning, rollback).
PACKAGE_WRITERS = ("onboarding_workflow",)
# What the durable SDK calls on its own execution (AWS's AWSLambdaBasicDurableExecutionRolePolicy holds the same
# two): checkpoints written and the execution's state read back on replay.
DURABLE_EXECUTION = ("lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState")
WORKFLOW_START = ("lambda:InvokeFunction",)  # Invoke with a DurableExecutionName (engine.LambdaBackend.start)
WORKFLOW_CALLBACK = ("lambda:SendDurableExecutionCallbackSuccess",)  # the approval, a cancel's release
# Which workflows a workflow function starts itself: onboarding's last step starts provisioning.
WORKFLOW_STARTS: dict[str, tuple[str, ...]] = {"onboarding_workflow": ("provisioning",)}
SCP = "SERVICE_CONTROL_POLICY"
# The Organizations calls of each workflow (runtime/onboarding/organizations.py, through the onboarding tools),
# nothing else: no CloseAccount (account_close is no workflow step), no DeletePolicy, no DetachPolicy. Each action
# is granted on the resource types IAM has for it, in this account's organisation (ORG_RESOURCES), or on "*" where
# it has none (WILDCARD_RESOURCE_REASONS), SCP-only where IAM offers organizations:PolicyType.
ORGANIZATIONS_ACTIONS: dict[str, tuple[str, ...]] = {
    "onboarding_workflow": (
        "organizations:DescribeOrganization", "organizations:CreateOrganization", "organizations:ListRoots",
        "organizations:EnablePolicyType", "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent", "organizations:CreateOrganizationalUnit", "organizations:ListAccounts",
        "organizations:ListParents", "organizations:MoveAccount", "organizations:ListCreateAccountStatus",
        "organizations:CreateAccount", "organizations:DescribeCreateAccountStatus", "organizations:ListPolicies",
        "organizations:CreatePolicy", "organizations:DescribePolicy", "organizations:UpdatePolicy",
        "organizations:ListTargetsForPolicy", "organizations:AttachPolicy",
    ),
    # none: the management account's id comes from sts:GetCallerIdentity, the target account from the request
    "provisioning_workflow": (),
}
# Organizations resource types in the organisation whose management account is `{account}` (the stack's own):
# `o-*` because the organisation may not exist before the first onboarding creates it.
ORG_RESOURCES = {
    "root": "arn:aws:organizations::{}:root/o-*/r-*",
    "ou": "arn:aws:organizations::{}:ou/o-*/ou-*",
    "account": "arn:aws:organizations::{}:account/o-*/*",
    "scp": "arn:aws:organizations::{}:policy/o-*/service_control_policy/p-*",
}
# CreateOrganization makes Organizations' service-linked role (its dependent action in the IAM database).
ORG_SERVICE_LINKED_ROLE = "arn:aws:iam::{}:role/aws-service-role/organizations.amazonaws.com/*"


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
    keys: Mapping[str, Any] = field(default_factory=dict)  # bucket logical name -> its KMS key ARN (SSE-KMS)
    workflows: Mapping[str, Any] = field(default_factory=dict)  # workflow kind -> durable function ARN
    account: Any = None  # this (the management) account's id
    region: Any = None
    access_role_name: str = DEFAULT_ACCESS_ROLE  # aidlc:accessRoleName


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
        if bucket == "packages":  # the onboarding packages, under the bucket's own KMS key
            out += package_statements(bucket_arn, arns.keys[bucket], arns.region, write=name in PACKAGE_WRITERS)
            continue
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
    if function.starts_workflows and arns.workflows:  # the API and Slack: start, approve, cancel
        functions = list(arns.workflows.values())
        out.append(statement("StartWorkflows", WORKFLOW_START, [_join(a, ":*") for a in functions]))
        out.append(statement("AnswerWorkflowCallbacks", WORKFLOW_CALLBACK,
                             [_join(a, ":*/durable-execution/*") for a in functions]))
    started = [arns.workflows[k] for k in WORKFLOW_STARTS.get(name, ()) if k in arns.workflows]
    if started:
        out.append(statement("StartWorkflows", WORKFLOW_START, [_join(a, ":*") for a in started]))
    if "organizations" in function.aws and ORGANIZATIONS_ACTIONS.get(name):
        out += organizations_statements(ORGANIZATIONS_ACTIONS[name], arns.account)
    if "assume-access-role" in function.aws:
        out.append(assume_access_role_statement(arns.access_role_name, arns.account))
    return out


def package_statements(bucket_arn: Any, key_arn: Any, region: Any, *, write: bool) -> list[dict[str, Any]]:
    """Packages under packages/ only: read (and, for a writer, written and listed under packages/: the next
    version's number), the bucket key used for them through S3 only (kms:ViaService)."""
    via_s3 = {"StringEquals": {"kms:ViaService": _format("s3.{}.amazonaws.com", region)}}
    if not write:
        return [statement("ReadPackages", ("s3:GetObject",), [_join(bucket_arn, f"/{PACKAGE_PREFIX}*")]),
                statement("DecryptPackages", ("kms:Decrypt",), [key_arn], via_s3)]
    return [
        statement("UsePackages", PACKAGE_OBJECTS, [_join(bucket_arn, f"/{PACKAGE_PREFIX}*")]),
        statement("ListPackages", ("s3:ListBucket",), [bucket_arn],
                  {"StringLike": {"s3:prefix": f"{PACKAGE_PREFIX}*"}}),
        statement("UsePackageKey", PACKAGE_KEY_USE, [key_arn], via_s3),
    ]


def organizations_statements(actions: Sequence[str], account: Any) -> list[dict[str, Any]]:
    """`actions` (Organizations) granted as narrowly as IAM allows, in the organisation `account` manages."""
    arn = {kind: _format(template, account) for kind, template in ORG_RESOURCES.items()}
    scp_only = {"StringEquals": {"organizations:PolicyType": SCP}}
    groups: list[tuple[str, tuple[str, ...], list[Any], dict | None]] = [
        ("OrganizationWide", ("organizations:DescribeOrganization", "organizations:CreateOrganization",
                              "organizations:ListRoots", "organizations:ListAccounts", "organizations:CreateAccount",
                              "organizations:ListCreateAccountStatus", "organizations:DescribeCreateAccountStatus"),
         ["*"], None),
        ("ServiceControlPoliciesOnly", ("organizations:ListPolicies", "organizations:CreatePolicy"), ["*"], scp_only),
        ("OrganizationTree", ("organizations:ListOrganizationalUnitsForParent", "organizations:ListAccountsForParent",
                              "organizations:CreateOrganizationalUnit", "organizations:ListParents",
                              "organizations:MoveAccount"), [arn["root"], arn["ou"], arn["account"]], None),
        ("EnableServiceControlPolicies", ("organizations:EnablePolicyType",), [arn["root"]], scp_only),
        ("ManageServiceControlPolicies", ("organizations:DescribePolicy", "organizations:UpdatePolicy",
                                          "organizations:ListTargetsForPolicy"), [arn["scp"]], None),
        ("AttachServiceControlPolicies", ("organizations:AttachPolicy",),
         [arn["scp"], arn["root"], arn["ou"], arn["account"]], scp_only),
    ]
    out = []
    for sid, group, resources, condition in groups:
        chosen = [a for a in group if a in actions]
        if chosen:
            out.append(statement(sid, chosen, resources, condition))
    unknown = set(actions) - {a for _, group, _, _ in groups for a in group}
    if unknown:
        raise ValueError(f"no statement group for {sorted(unknown)}: add it to organizations_statements")
    if "organizations:CreateOrganization" in actions:
        out.append(statement("CreateOrganizationsRole", ("iam:CreateServiceLinkedRole",),
                             [_format(ORG_SERVICE_LINKED_ROLE, account)],
                             {"StringEquals": {"iam:AWSServiceName": "organizations.amazonaws.com"}}))
    return out


def assume_access_role_statement(role_name: str, account: Any) -> dict[str, Any]:
    """sts:AssumeRole on the organisation's access role (aidlc:accessRoleName) in member accounts only: a role of
    that name in an account of our own organisation (aws:ResourceOrgID), never in this management account (its
    own clients need no role; the Cedar policy forbids its stacks anyway)."""
    return statement("AssumeOrganizationAccessRole", ("sts:AssumeRole",), [f"arn:aws:iam::*:role/{role_name}"],
                     {"StringEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"},
                      "StringNotEquals": {"aws:ResourceAccount": account}})


def durable_execution_statement(function_arn: Any) -> dict[str, Any]:
    """A durable function's own executions (any published version): checkpoints and replayed state."""
    return statement("CheckpointOwnExecutions", DURABLE_EXECUTION, [_join(function_arn, ":*/durable-execution/*")])


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


def function_policy(function: Function, arns: StackArns, log_group_arn: Any, *,
                    extra_statements: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    return document([*function_statements(function, arns, log_group_arn), *extra_statements])


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

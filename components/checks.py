"""Security and correctness checks over the resources the program registers.

Plain functions of the recorded resources (`components.mockrun.Recording`, inputs camelCase as on the wire), so
they run in tests and in `aidlc infra inventory`, and could back a Pulumi policy pack later. Each returns the
violations it found; an empty list means the stack passes.

Besides our own rules, each boundary is checked against a contract someone else wrote: botocore's service models
(`botocore_shapes`), the Pulumi provider's input types (`provider_schema`), AWS's documented rules botocore does
not model (`aws_rules`), the IAM action database (`iam_database`), and, given the AWS calls the code really made,
IAM coverage (`iam_coverage`, run by `run_checks(recording, calls=...)`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from components import botocore_shapes, provider_schema
from components.aws_rules import aws_rules
from components.findings import Violation
from components.iam import WILDCARD_RESOURCE_REASONS
from components.iam_coverage import iam_coverage
from components.iam_database import iam_database
from components.mockrun import Recording, RecordedResource
from runtime.resources import FUNCTIONS, WORKFLOW_FUNCTIONS

# Which function-side capabilities each action family needs (least privilege by declaration).
AGENT_ACTION = re.compile(r"^bedrock-agentcore:(InvokeAgentRuntime|StopRuntimeSession)$")
S3_ACTION = re.compile(r"^s3:")
SECRETISH_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|PRIVATE_KEY)", re.IGNORECASE)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _statements(policy: Any) -> list[dict[str, Any]]:
    document = _json(policy) or {}
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _policies(recording: Recording) -> Iterable[tuple[RecordedResource, list[dict[str, Any]]]]:
    for resource in recording.resources:
        if resource.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
            yield resource, _statements(resource.inputs.get("policy"))


def _conditions_admitting(service: str, resources: Iterable[RecordedResource], policy_input: str,
                          ) -> Iterable[tuple[RecordedResource, str]]:
    """(resource, the statement's Condition as JSON text) for each statement of the policy document in the
    resource's `policy_input` whose principal is `service`."""
    for resource in resources:
        for st in _statements(resource.inputs.get(policy_input)):
            principal = st.get("Principal")
            if isinstance(principal, dict) and service in _as_list(principal.get("Service")):
                yield resource, json.dumps(st.get("Condition") or {})


# --- checks -----------------------------------------------------------------------------------------------


def least_privilege(recording: Recording) -> list[Violation]:
    """No "*" or "service:*" action; a "*" resource only for actions AWS cannot scope (listed with reasons);
    no Allow on NotAction/NotResource; each Lambda's policy only holds what its declaration needs."""
    out: list[Violation] = []
    for resource, statements in _policies(recording):
        for st in statements:
            sid = st.get("Sid", "?")
            if "NotAction" in st or "NotResource" in st:
                out.append(Violation("least_privilege", resource.name, f"statement {sid} uses NotAction/NotResource"))
            actions = _as_list(st.get("Action"))
            for action in actions:
                if action == "*" or str(action).endswith(":*"):
                    out.append(Violation("least_privilege", resource.name, f"statement {sid} allows {action!r}"))
            if "*" in _as_list(st.get("Resource")):
                unexplained = [a for a in actions if a not in WILDCARD_RESOURCE_REASONS]
                if unexplained:
                    out.append(Violation("least_privilege", resource.name,
                                         f"statement {sid} grants {unexplained} on resource '*'"))
    out += _function_capabilities(recording)
    return out


def _function_capabilities(recording: Recording) -> list[Violation]:
    """A function that does not invoke agents may not hold agent actions; one without a bucket, no S3."""
    out = []
    by_handler = {f.handler: f for f in (*FUNCTIONS, *WORKFLOW_FUNCTIONS)}
    # Each LambdaFunction component holds one function and its policy: the function's handler names its declaration.
    declared = {fn.parent: by_handler.get(fn.inputs.get("handler"))
                for fn in recording.of_type("aws:lambda/function:Function")}
    for resource, statements in _policies(recording):
        if resource.parent_type != "aidlc:index:LambdaFunction":
            continue
        function = declared.get(resource.parent)
        if function is None:
            continue
        logical = function.logical_name
        actions = {a for st in statements for a in _as_list(st.get("Action"))}
        if not (function.invokes_agents or function.stops_agents) and any(AGENT_ACTION.match(a) for a in actions):
            out.append(Violation("least_privilege", resource.name,
                                 f"{logical} may invoke agent runtimes but its declaration does not need to"))
        elif function.stops_agents and not function.invokes_agents and \
                "bedrock-agentcore:InvokeAgentRuntime" in actions:
            out.append(Violation("least_privilege", resource.name,
                                 f"{logical} may invoke agent runtimes but its declaration only stops them"))
        if not function.buckets and any(S3_ACTION.match(a) for a in actions):
            out.append(Violation("least_privilege", resource.name, f"{logical} has S3 access it does not need"))
        if not function.secrets and any(a.startswith("secretsmanager:") for a in actions):
            out.append(Violation("least_privilege", resource.name, f"{logical} reads secrets it does not need"))
    return out


def encryption_at_rest(recording: Recording) -> list[Violation]:
    """Queues (SSE-SQS or KMS), tables (SSE on), buckets (a default-encryption configuration), SNS (KMS)."""
    out = []
    encrypted_buckets = {r.inputs.get("bucket") for r in
                         recording.of_type("aws:s3/bucketServerSideEncryptionConfiguration:"
                                           "BucketServerSideEncryptionConfiguration")}
    for r in recording.resources:
        if r.type == "aws:sqs/queue:Queue" and not (r.inputs.get("sqsManagedSseEnabled")
                                                     or r.inputs.get("kmsMasterKeyId")):
            out.append(Violation("encryption_at_rest", r.name, "queue is not encrypted"))
        elif r.type == "aws:dynamodb/table:Table" and not (r.inputs.get("serverSideEncryption") or {}).get("enabled"):
            out.append(Violation("encryption_at_rest", r.name, "table has no server-side encryption"))
        elif r.type == "aws:s3/bucket:Bucket" and r.id not in encrypted_buckets:
            out.append(Violation("encryption_at_rest", r.name, "bucket has no default encryption configuration"))
        elif r.type == "aws:sns/topic:Topic" and not r.inputs.get("kmsMasterKeyId"):
            out.append(Violation("encryption_at_rest", r.name, "topic is not encrypted"))
    return out


def no_public_s3(recording: Recording) -> list[Violation]:
    """Every bucket blocks public access (all four settings); no bucket policy allows an anonymous principal."""
    out = []
    blocks = {r.inputs.get("bucket"): r for r in
              recording.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")}
    settings = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in recording.of_type("aws:s3/bucket:Bucket"):
        block = blocks.get(bucket.id)
        if block is None:
            out.append(Violation("no_public_s3", bucket.name, "no public access block"))
        elif not all(block.inputs.get(s) for s in settings):
            off = [s for s in settings if not block.inputs.get(s)]
            out.append(Violation("no_public_s3", bucket.name, f"public access block leaves {off} off"))
        if bucket.inputs.get("acl") in ("public-read", "public-read-write"):
            out.append(Violation("no_public_s3", bucket.name, f"acl {bucket.inputs['acl']}"))
    for policy in recording.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        for st in _statements(policy.inputs.get("policy")):
            principal = st.get("Principal")
            anonymous = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))
            if st.get("Effect") == "Allow" and anonymous:
                out.append(Violation("no_public_s3", policy.name, f"statement {st.get('Sid', '?')} allows anyone"))
    return out


def oac_only(recording: Recording) -> list[Violation]:
    """S3 origins go through an Origin Access Control (no legacy OAI, no public website endpoint), and bucket
    policies that admit CloudFront name the distribution (AWS:SourceArn)."""
    out = []
    for distribution in recording.of_type("aws:cloudfront/distribution:Distribution"):
        for origin in _as_list(distribution.inputs.get("origins")):
            domain = str(origin.get("domainName", ""))
            if ".s3." in domain or domain.endswith(".s3.amazonaws.com") or "s3-website" in domain:
                if not origin.get("originAccessControlId"):
                    out.append(Violation("oac_only", distribution.name, f"S3 origin {domain} has no OAC"))
                if (origin.get("s3OriginConfig") or {}).get("originAccessIdentity"):
                    out.append(Violation("oac_only", distribution.name, "uses a legacy origin access identity"))
            if "s3-website" in domain:
                out.append(Violation("oac_only", distribution.name, "serves from the public S3 website endpoint"))
    bucket_policies = recording.of_type("aws:s3/bucketPolicy:BucketPolicy")
    for policy, condition in _conditions_admitting("cloudfront.amazonaws.com", bucket_policies, "policy"):
        if "AWS:SourceArn" not in condition and "aws:SourceArn" not in condition:
            out.append(Violation("oac_only", policy.name,
                                 "admits any CloudFront distribution (no AWS:SourceArn condition)"))
    return out


def queues_have_dlq(recording: Recording) -> list[Violation]:
    """Every queue that is not itself a dead-letter queue redrives to one, after at most 5 receives."""
    queues = recording.of_type("aws:sqs/queue:Queue")
    redrives = {r.name: _json(r.inputs.get("redrivePolicy")) for r in queues}
    dlq_arns = {p.get("deadLetterTargetArn") for p in redrives.values() if isinstance(p, dict)}
    out = []
    for queue in queues:
        # A DLQ: the target of a redrive, or named as one (so removing a redrive does not hide its own DLQ).
        if queue.state.get("arn") in dlq_arns or re.search(r"-dlq(\.fifo)?$", str(queue.inputs.get("name", ""))):
            continue
        policy = redrives.get(queue.name)
        if not isinstance(policy, dict) or not policy.get("deadLetterTargetArn"):
            out.append(Violation("queues_have_dlq", queue.name, "no dead-letter queue (redrive policy)"))
        elif not 1 <= float(policy.get("maxReceiveCount", 0)) <= 5:
            out.append(Violation("queues_have_dlq", queue.name,
                                 f"maxReceiveCount {policy.get('maxReceiveCount')} (want 1..5)"))
    return out


def lambdas_have_log_retention(recording: Recording) -> list[Violation]:
    """Every function logs to a log group the stack creates, with a retention period."""
    groups = {r.state.get("name"): r for r in recording.of_type("aws:cloudwatch/logGroup:LogGroup")}
    out = []
    for function in recording.of_type("aws:lambda/function:Function"):
        group_name = (function.inputs.get("loggingConfig") or {}).get("logGroup")
        group = groups.get(group_name)
        if group is None:
            out.append(Violation("lambdas_have_log_retention", function.name, "no log group of its own"))
        elif not group.inputs.get("retentionInDays"):
            out.append(Violation("lambdas_have_log_retention", function.name, f"log group {group.name} keeps logs forever"))
    return out


def alarms_have_actions(recording: Recording) -> list[Violation]:
    return [Violation("alarms_have_actions", r.name, "alarm notifies no one")
            for r in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if not r.inputs.get("alarmActions")]


def no_secret_values_in_env(recording: Recording) -> list[Violation]:
    """Environment variables whose names look secret must hold ARNs (or names), never values."""
    out = []
    for r in recording.resources:
        if r.type == "aws:lambda/function:Function":
            env = (r.inputs.get("environment") or {}).get("variables") or {}
        elif r.type == "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime":
            env = r.inputs.get("environmentVariables") or {}
        else:
            continue
        for key, value in env.items():
            if SECRETISH_ENV.search(key) and not str(value).startswith("arn:"):
                out.append(Violation("no_secret_values_in_env", r.name, f"{key} holds a value, not a secret ARN"))
    return out


def partial_batch_responses(recording: Recording) -> list[Violation]:
    return [Violation("partial_batch_responses", r.name, "ReportBatchItemFailures is off: one bad message "
                      "would retry the whole batch")
            for r in recording.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
            if "ReportBatchItemFailures" not in _as_list(r.inputs.get("functionResponseTypes"))]


def service_roles_pinned(recording: Recording) -> list[Violation]:
    """Roles that AgentCore assumes carry aws:SourceAccount and aws:SourceArn conditions (confused deputy)."""
    trusts = _conditions_admitting("bedrock-agentcore.amazonaws.com", recording.of_type("aws:iam/role:Role"),
                                   "assumeRolePolicy")
    return [Violation("service_roles_pinned", role.name,
                      "bedrock-agentcore trust without aws:SourceAccount/aws:SourceArn")
            for role, condition in trusts if "aws:SourceAccount" not in condition or "aws:SourceArn" not in condition]


def botocore_shape(recording: Recording) -> list[Violation]:
    """Each resource's API requests against botocore's input shapes; a resource type with no request mapping is a
    violation too (so nothing slips past unchecked)."""
    out = [Violation("botocore_shape", t, "no API request mapping in components/botocore_shapes.py")
           for t in botocore_shapes.unmapped_types(recording.resources)]
    for resource in recording.resources:
        for request in botocore_shapes.requests_for(resource, recording):
            out += [Violation("botocore_shape", resource.name, f"{request.service} {problem}")
                    for problem in botocore_shapes.validate(request)]
    return out


def provider_inputs(recording: Recording) -> list[Violation]:
    """Each resource's inputs against the Pulumi AWS provider's input types."""
    return [Violation("provider_inputs", r.name, problem) for r in recording.resources
            for problem in provider_schema.problems(r)]


CHECKS: dict[str, Callable[[Recording], list[Violation]]] = {
    "least_privilege": least_privilege,
    "encryption_at_rest": encryption_at_rest,
    "no_public_s3": no_public_s3,
    "oac_only": oac_only,
    "queues_have_dlq": queues_have_dlq,
    "lambdas_have_log_retention": lambdas_have_log_retention,
    "alarms_have_actions": alarms_have_actions,
    "no_secret_values_in_env": no_secret_values_in_env,
    "partial_batch_responses": partial_batch_responses,
    "service_roles_pinned": service_roles_pinned,
    "botocore_shape": botocore_shape,
    "provider_inputs": provider_inputs,
    "aws_rules": aws_rules,
    "iam_database": iam_database,
}


def run_checks(recording: Recording, calls: Iterable[Any] | None = None) -> dict[str, list[Violation]]:
    """Every check; with `calls` (recorded AWS calls, runtime/observe/calls.py) also `iam_coverage`."""
    results = {name: check(recording) for name, check in CHECKS.items()}
    if calls is not None:
        results["iam_coverage"] = iam_coverage(recording, calls)
    return results

"""AWS rules that botocore's service models do not carry but the services enforce, each with its source.

Checks over the mock-recorded resources (`components.mockrun.Recording`, inputs camelCase as on the wire); each
returns `components.checks.Violation`s. The helper here (`dynamodb_tag_value`) is what the components use to stay
inside the same rules (components/state.py), so this module leaves botocore_shapes, and botocore's service models,
to the checks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from components.findings import Violation
from components.mockrun import Recording, physical_name
from runtime.resources import Header

# DynamoDB tags: "Allowed characters: Unicode letters, whitespace, numbers, and + - = . _ : /"; keys at most 128,
# values at most 256 characters (Amazon DynamoDB Developer Guide, "Tagging restrictions in DynamoDB").
DYNAMODB_TAG_CHARS = re.compile(r"^[\w\s+\-=.:/]*$")
DYNAMODB_TAG_KEY_MAX, DYNAMODB_TAG_VALUE_MAX = 128, 256


def dynamodb_tag_value(text: str) -> str:
    """`text` as a DynamoDB tag value: each refused character becomes a space, runs of spaces collapse."""
    cleaned = re.sub(r"[^\w\s+\-=.:/]", " ", text)
    return re.sub(r"\s+", " ", cleaned).strip()[:DYNAMODB_TAG_VALUE_MAX]


# --- the checks --------------------------------------------------------------------------------------------

# Lambda: "The total size of all environment variables doesn't exceed 4 KB" (Lambda quotas), and the variables the
# runtime reserves for itself cannot be set ("Defined runtime environment variables", Lambda Developer Guide).
LAMBDA_ENV_MAX_BYTES = 4 * 1024
LAMBDA_RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
# Lambda function names: "If you specify only the function name, it is limited to 64 characters" (CreateFunction).
LAMBDA_NAME_MAX = 64
# SQS: "A queue name can have up to 80 characters. Valid values: alphanumeric characters, hyphens (-), and
# underscores (_)"; "A FIFO queue name must end with the .fifo suffix" (CreateQueue, QueueName).
SQS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$|^[A-Za-z0-9_-]{1,80}$")
# S3 bucket naming rules: 3-63 characters, lower-case letters, digits, dots and hyphens, starting and ending
# with a letter or digit (Amazon S3 User Guide, "General purpose bucket naming rules").
S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# IAM: "Role policy size cannot exceed 10,240 characters" for all inline policies of a role together, whitespace
# not counted (IAM and AWS STS quotas).
IAM_INLINE_ROLE_POLICIES_MAX = 10_240
# EventBridge: "rate(value unit)", unit minute|minutes|hour|hours|day|days, singular exactly for 1 (Schedule
# expressions for rules); cron has six fields.
SCHEDULE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$|^cron\((\S+ ){5}\S+\)$")
# AgentCore Gateway header propagation: these request headers cannot be allow-listed ("Header restrictions").
GATEWAY_RESTRICTED_HEADERS = frozenset(h.lower() for h in (
    "Authorization", "Proxy-Authorization", "WWW-Authenticate", "Accept", "Accept-Charset", "Accept-Encoding",
    "Accept-Language", "Content-Type", "Content-Length", "Content-Encoding", "Host", "User-Agent", "Cookie",
    "Set-Cookie", "Connection", "Transfer-Encoding", "Upgrade"))
# CloudWatch alarm actions on an SNS topic under a KMS key: the key policy must let cloudwatch.amazonaws.com use
# kms:Decrypt and kms:GenerateDataKey*, so the AWS-managed aws/sns key (whose policy cannot change) cannot serve
# (Amazon CloudWatch User Guide, "Using Amazon CloudWatch alarms", encrypted topics).
CLOUDWATCH_KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


def _json(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def _list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]


def dynamodb_tags(recording: Recording) -> list[Violation]:
    out = []
    for table in recording.of_type("aws:dynamodb/table:Table"):
        for key, value in (table.inputs.get("tags") or {}).items():
            for label, text, limit in (("key", key, DYNAMODB_TAG_KEY_MAX), ("value", str(value), DYNAMODB_TAG_VALUE_MAX)):
                if not DYNAMODB_TAG_CHARS.match(text):
                    bad = sorted(set(re.sub(r"[\w\s+\-=.:/]", "", text)))
                    out.append(Violation("aws_rules", table.name, f"tag {key!r}: {label} has characters DynamoDB "
                                                                  f"refuses {bad} (CreateTable fails)"))
                if len(text) > limit:
                    out.append(Violation("aws_rules", table.name, f"tag {key!r}: {label} longer than {limit}"))
    return out


def names(recording: Recording) -> list[Violation]:
    out = []
    for r in recording.of_type("aws:lambda/function:Function"):
        if len(physical_name(r)) > LAMBDA_NAME_MAX:
            out.append(Violation("aws_rules", r.name, f"function name {physical_name(r)!r} is longer than 64"))
    for r in recording.of_type("aws:sqs/queue:Queue"):
        name = physical_name(r)
        if not SQS_NAME.match(name) or name.endswith(".fifo") != bool(r.inputs.get("fifoQueue")):
            out.append(Violation("aws_rules", r.name, f"queue name {name!r}: 80 characters of [A-Za-z0-9_-], "
                                                      "ending in .fifo exactly for a FIFO queue"))
    for r in recording.of_type("aws:s3/bucket:Bucket"):
        if not S3_BUCKET_NAME.match(physical_name(r, "bucket")):
            out.append(Violation("aws_rules", r.name, f"bucket name {physical_name(r, 'bucket')!r} breaks S3's "
                                                      "naming rules"))
    return out


def lambda_environment(recording: Recording) -> list[Violation]:
    out = []
    for r in recording.of_type("aws:lambda/function:Function"):
        env = (r.inputs.get("environment") or {}).get("variables") or {}
        size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in env.items())
        if size > LAMBDA_ENV_MAX_BYTES:
            out.append(Violation("aws_rules", r.name, f"environment is {size} bytes, over Lambda's 4 KB"))
        reserved = sorted(set(env) & LAMBDA_RESERVED_ENV)
        if reserved:
            out.append(Violation("aws_rules", r.name, f"sets variables Lambda reserves: {reserved}"))
    return out


def sqs_redrive(recording: Recording) -> list[Violation]:
    """A FIFO queue's dead-letter queue is FIFO, a standard queue's is standard (SQS Developer Guide, "Using
    dead-letter queues"); each queue a function consumes has a visibility timeout at least the function's timeout
    (CreateEventSourceMapping refuses a shorter one)."""
    out = []
    queues = recording.of_type("aws:sqs/queue:Queue")
    by_arn = {q.state.get("arn"): q for q in queues}
    for queue in queues:
        redrive = _json(queue.inputs.get("redrivePolicy"))
        if isinstance(redrive, dict) and redrive.get("deadLetterTargetArn") in by_arn:
            dlq = by_arn[redrive["deadLetterTargetArn"]]
            if bool(dlq.inputs.get("fifoQueue")) != bool(queue.inputs.get("fifoQueue")):
                out.append(Violation("aws_rules", queue.name, f"dead-letter queue {dlq.name} is "
                                     f"{'FIFO' if dlq.inputs.get('fifoQueue') else 'standard'}, the queue is not"))
    functions = {f.state.get("arn"): f for f in recording.of_type("aws:lambda/function:Function")}
    for mapping in recording.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        queue, function = by_arn.get(mapping.inputs.get("eventSourceArn")), functions.get(mapping.inputs.get("functionName"))
        if queue is None or function is None:
            continue
        visibility = float(queue.inputs.get("visibilityTimeoutSeconds") or 30)  # SQS's default is 30 s
        timeout = float(function.inputs.get("timeout") or 3)  # Lambda's default is 3 s
        if visibility < timeout:
            out.append(Violation("aws_rules", queue.name, f"visibility timeout {visibility:g} s is shorter than "
                                                          f"{function.name}'s timeout {timeout:g} s"))
    return out


def iam_sizes_and_schedules(recording: Recording) -> list[Violation]:
    out = []
    per_role: dict[Any, int] = {}
    for policy in recording.of_type("aws:iam/rolePolicy:RolePolicy"):
        text = policy.inputs.get("policy")
        size = len(re.sub(r"\s", "", text if isinstance(text, str) else json.dumps(text)))
        per_role[policy.inputs.get("role")] = per_role.get(policy.inputs.get("role"), 0) + size
    for role, size in per_role.items():
        if size > IAM_INLINE_ROLE_POLICIES_MAX:
            out.append(Violation("aws_rules", str(role), f"inline policies total {size} characters, over 10,240"))
    for rule in recording.of_type("aws:cloudwatch/eventRule:EventRule"):
        expression = rule.inputs.get("scheduleExpression")
        if expression and not SCHEDULE.match(expression):
            out.append(Violation("aws_rules", rule.name, f"schedule {expression!r} is not a valid rate()/cron()"))
    return out


def alarm_topics(recording: Recording) -> list[Violation]:
    out = []
    topics = {t.state.get("arn"): t for t in recording.of_type("aws:sns/topic:Topic")}
    keys = {k.state.get("arn"): k for k in recording.of_type("aws:kms/key:Key")}
    keys.update({k.id: k for k in keys.values()})
    used = {a for alarm in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            for a in _list(alarm.inputs.get("alarmActions")) + _list(alarm.inputs.get("okActions"))}
    for arn in used:
        topic = topics.get(arn)
        if topic is None or not topic.inputs.get("kmsMasterKeyId"):
            continue
        key_id = topic.inputs["kmsMasterKeyId"]
        key = keys.get(key_id)
        if key is None:
            out.append(Violation("aws_rules", topic.name, f"alarm topic encrypted with {key_id!r}, which is not a "
                                 "key of this stack whose policy admits CloudWatch (aws/sns cannot)"))
            continue
        policy = _json(key.inputs.get("policy")) or {}
        allowed = {a for st in _list(policy.get("Statement")) if st.get("Effect") == "Allow"
                   and "cloudwatch.amazonaws.com" in _list((st.get("Principal") or {}).get("Service"))
                   for a in _list(st.get("Action"))}
        missing = [a for a in CLOUDWATCH_KMS_ACTIONS if a not in allowed and "kms:*" not in allowed]
        if missing:
            out.append(Violation("aws_rules", key.name, f"key of alarm topic {topic.name} does not let CloudWatch "
                                                        f"use {missing}"))
    return out


def alarm_periods(recording: Recording) -> list[Violation]:
    """PutMetricAlarm: "Valid values are 10, 30, and any multiple of 60", and "the number of evaluation periods
    multiplied by the period cannot exceed 86,400 seconds" (CloudWatch API Reference, PutMetricAlarm)."""
    out = []
    for alarm in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        periods = [alarm.inputs.get("period")] + [(q.get("metric") or {}).get("period")
                                                  for q in _list(alarm.inputs.get("metricQueries"))]
        periods = [int(p) for p in periods if p is not None]
        evaluations = int(alarm.inputs.get("evaluationPeriods") or 1)
        for period in periods:
            if not (period in (10, 30) or period % 60 == 0):
                out.append(Violation("aws_rules", alarm.name, f"period {period} s is not 10, 30 or a multiple of 60"))
            elif period * evaluations > 86_400:
                out.append(Violation("aws_rules", alarm.name, f"{evaluations} periods of {period} s exceed one day"))
    return out


def cloudfront_folder_urls(recording: Recording) -> list[Violation]:
    """A distribution in front of a private S3 origin answers a folder URL ("/inv/") with S3's 403 unless a
    viewer-request function maps it to its index document: `default_root_object` covers "/" only (CloudFront
    Developer Guide, "Specify a default root object")."""
    out = []
    for distribution in recording.of_type("aws:cloudfront/distribution:Distribution"):
        if not any(o.get("originAccessControlId") for o in _list(distribution.inputs.get("origins"))):
            continue
        behavior = distribution.inputs.get("defaultCacheBehavior") or {}
        if not any(f.get("eventType") == "viewer-request" for f in _list(behavior.get("functionAssociations"))):
            out.append(Violation("aws_rules", distribution.name, "no viewer-request function: a prototype URL "
                                                                  "without a file name answers 403"))
    return out


def gateway_headers(recording: Recording) -> list[Violation]:
    """The Lambda target allow-lists the identity headers the agents send (the gateway drops every other header),
    and none of AgentCore's restricted headers (CreateGatewayTarget refuses them)."""
    out = []
    for target in recording.of_type("aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget"):
        allowed = [h.lower() for h in _list((target.inputs.get("metadataConfiguration") or {}).get(
            "allowedRequestHeaders"))]
        missing = [h for h in Header.TOOL_CALLER if h.lower() not in allowed]
        if missing:
            out.append(Violation("aws_rules", target.name, f"does not allow-list {missing}: the tool Lambda never "
                                                           "sees the caller and refuses every call"))
        restricted = sorted(set(allowed) & GATEWAY_RESTRICTED_HEADERS)
        if restricted:
            out.append(Violation("aws_rules", target.name, f"allow-lists restricted headers {restricted}"))
    return out


RULES = (dynamodb_tags, names, lambda_environment, sqs_redrive, iam_sizes_and_schedules, alarm_topics, alarm_periods,
         cloudfront_folder_urls, gateway_headers)


def aws_rules(recording: Recording) -> list[Violation]:
    """Every rule above over the whole recording."""
    return [v for rule in RULES for v in rule(recording)]

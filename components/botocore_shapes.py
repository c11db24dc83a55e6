"""The Pulumi program's resource inputs against botocore's service models (the AWS API's own input shapes).

For each resource type we use, `REQUESTS` builds the API request(s) the provider sends for it (`Create*`/`Put*`,
field names as in `botocore/data/<service>/<version>/service-2.json`) from the mock-recorded inputs (camelCase, as
on the wire). `validate` then walks each request against its operation's input shape: unknown members, required
members, types, `min`/`max` (lengths, counts, values), `pattern` and `enum`.

Hand-written rather than botocore's `ParamValidator` on purpose: botocore validates only required members, types
and minimums client-side and leaves `max`, `pattern` and `enum` to the service, which is exactly what we want to
know before `pulumi up`. Patterns are matched whole (as the services match them), with the `regex` package where
a pattern uses Unicode classes (`\p{L}`) that `re` lacks (`regex` comes with cfn-lint, through moto); a pattern
neither can compile is skipped, and `skipped_patterns` says which.

A resource type missing from `REQUESTS` is listed by `unmapped_types`, and the check reports it, so a new resource
type cannot slip past unchecked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from components.mockrun import AUTONAME_SUFFIX, Recording, RecordedResource, physical_name


@dataclass(frozen=True)
class Request:
    service: str
    operation: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ShapeProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


skipped_patterns: set[str] = set()


@lru_cache(maxsize=None)
def service_model(service: str) -> Any:
    return _session().get_service_model(service)


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@lru_cache(maxsize=None)
def _pattern(pattern: str) -> Any:
    try:
        return re.compile(pattern)
    except re.error:
        pass
    try:
        import regex

        return regex.compile(pattern)
    except Exception:  # noqa: BLE001 (no regex package, or a pattern it cannot compile either)
        skipped_patterns.add(pattern)
        return None


def input_shape(service: str, operation: str) -> StructureShape:
    return service_model(service).operation_model(operation).input_shape


def validate(request: Request) -> list[ShapeProblem]:
    """Every way `request.params` breaks its operation's input shape."""
    out: list[ShapeProblem] = []
    _walk(request.params, input_shape(request.service, request.operation), request.operation, out)
    return out


def _walk(value: Any, shape: Shape, path: str, out: list[ShapeProblem]) -> None:
    meta = shape.metadata
    if shape.type_name == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, Mapping):
            out.append(ShapeProblem(path, f"expected a structure ({shape.name}), got {type(value).__name__}"))
            return
        for key in sorted(set(value) - set(shape.members)):
            out.append(ShapeProblem(f"{path}.{key}", f"unknown member of {shape.name} "
                                                     f"(known: {', '.join(shape.members)})"))
        for key in shape.required_members:
            if value.get(key) is None:
                out.append(ShapeProblem(f"{path}.{key}", f"required by {shape.name}"))
        for key, member in shape.members.items():
            if value.get(key) is not None:
                _walk(value[key], member, f"{path}.{key}", out)
        if meta.get("union") and len([k for k in value if value[k] is not None]) != 1:
            out.append(ShapeProblem(path, f"{shape.name} is a union: exactly one member, got {sorted(value)}"))
    elif shape.type_name == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list | tuple):
            out.append(ShapeProblem(path, f"expected a list, got {type(value).__name__}"))
            return
        _bounds(len(value), meta, path, "items", out)
        for index, item in enumerate(value):
            _walk(item, shape.member, f"{path}[{index}]", out)
    elif shape.type_name == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, Mapping):
            out.append(ShapeProblem(path, f"expected a map, got {type(value).__name__}"))
            return
        _bounds(len(value), meta, path, "entries", out)
        for key, item in value.items():
            _walk(key, shape.key, f"{path}<key {key!r}>", out)
            _walk(item, shape.value, f"{path}[{key!r}]", out)
    elif shape.type_name == "string":
        if not isinstance(value, str):
            out.append(ShapeProblem(path, f"expected a string, got {type(value).__name__} {value!r:.60}"))
            return
        _bounds(len(value), meta, path, "characters", out)
        if shape.enum and value not in shape.enum:
            out.append(ShapeProblem(path, f"{value!r} is not one of {shape.enum}"))
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled is not None and value and not compiled.fullmatch(value):
            out.append(ShapeProblem(path, f"{value!r:.80} does not match /{meta['pattern']}/"))
    elif shape.type_name in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float)
                                                                            and not value.is_integer()):
            out.append(ShapeProblem(path, f"expected an integer, got {value!r}"))
            return
        _bounds(value, meta, path, "", out)
    elif shape.type_name in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            out.append(ShapeProblem(path, f"expected a number, got {value!r}"))
            return
        _bounds(value, meta, path, "", out)
    elif shape.type_name == "boolean":
        if not isinstance(value, bool):
            out.append(ShapeProblem(path, f"expected a boolean, got {value!r}"))
    elif shape.type_name == "blob":
        if not isinstance(value, bytes | bytearray | str):
            out.append(ShapeProblem(path, f"expected bytes, got {type(value).__name__}"))
        else:
            _bounds(len(value), meta, path, "bytes", out)


def _bounds(size: float, meta: Mapping[str, Any], path: str, unit: str, out: list[ShapeProblem]) -> None:
    what = f"{size:g} {unit}".strip()
    if "min" in meta and size < meta["min"]:
        out.append(ShapeProblem(path, f"{what}: below the minimum {meta['min']}"))
    if "max" in meta and size > meta["max"]:
        out.append(ShapeProblem(path, f"{what}: above the maximum {meta['max']}"))


# --- Pulumi inputs -> API requests ---------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _tags_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]] | None:
    return [{key: k, value: v} for k, v in (tags or {}).items()] or None


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _by_id(recording: Recording, resource_id: Any) -> RecordedResource | None:
    return next((r for r in recording.resources if r.id == resource_id), None)


def _bucket_name(recording: Recording, bucket_id: Any) -> str:
    bucket = _by_id(recording, bucket_id)
    return physical_name(bucket, "bucket") if bucket else str(bucket_id)


def _table(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    name = physical_name(r)

    def keys(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
        return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
            [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])

    create = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                 for a in i.get("attributes") or []],
        "KeySchema": keys(i.get("hashKey"), i.get("rangeKey")),
        "BillingMode": i.get("billingMode"),
        "GlobalSecondaryIndexes": [
            {"IndexName": g["name"],
             "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in g["keySchemas"]],
             "Projection": {"ProjectionType": g.get("projectionType")}}
            for g in i.get("globalSecondaryIndexes") or []] or None,
        "SSESpecification": {"Enabled": (i.get("serverSideEncryption") or {}).get("enabled")},
        "Tags": _tags_list(i.get("tags")),
    }
    out = [Request("dynamodb", "CreateTable", _drop_none(create))]
    if i.get("ttl"):
        out.append(Request("dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
            "Enabled": bool(i["ttl"].get("enabled")), "AttributeName": i["ttl"].get("attributeName")}}))
    return out


SQS_ATTRIBUTES = {  # Pulumi input -> CreateQueue attribute name
    "visibilityTimeoutSeconds": "VisibilityTimeout", "messageRetentionSeconds": "MessageRetentionPeriod",
    "delaySeconds": "DelaySeconds", "maxMessageSize": "MaximumMessageSize", "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication", "redrivePolicy": "RedrivePolicy",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled", "kmsMasterKeyId": "KmsMasterKeyId",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
}


def _queue(r: RecordedResource, _: Recording) -> list[Request]:
    attributes = {}
    for key, attribute in SQS_ATTRIBUTES.items():
        value = r.inputs.get(key)
        if value is not None:
            attributes[attribute] = str(value).lower() if isinstance(value, bool) else str(_int(value))
    return [Request("sqs", "CreateQueue", _drop_none({"QueueName": physical_name(r), "Attributes": attributes,
                                                      "tags": dict(r.inputs.get("tags") or {})}))]


def _function(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    logging = i.get("loggingConfig") or {}
    durable = i.get("durableConfig") or {}  # a durable function's (components/workflows.py)
    return [Request("lambda", "CreateFunction", _drop_none({
        "FunctionName": physical_name(r),
        "Runtime": i.get("runtime"),
        "Role": i.get("role"),
        "Handler": i.get("handler"),
        "Code": {"ZipFile": b"PK"},  # the archive itself is the packaging tests' concern
        "Timeout": _int(i.get("timeout")),
        "MemorySize": _int(i.get("memorySize")),
        "Environment": {"Variables": dict((i.get("environment") or {}).get("variables") or {})},
        "Architectures": i.get("architectures"),
        "LoggingConfig": {"LogFormat": logging.get("logFormat"), "LogGroup": logging.get("logGroup")},
        "Tags": dict(i.get("tags") or {}),
        "Publish": i.get("publish"),
        "DurableConfig": _drop_none({"ExecutionTimeout": _int(durable.get("executionTimeout")),
                                     "RetentionPeriodInDays": _int(durable.get("retentionPeriod"))}) or None,
    }))]


def _role(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("iam", "CreateRole", _drop_none({
        "RoleName": physical_name(r), "AssumeRolePolicyDocument": _json_text(r.inputs.get("assumeRolePolicy")),
        "Tags": _tags_list(r.inputs.get("tags"))}))]


def _role_policy(r: RecordedResource, recording: Recording) -> list[Request]:
    role = _by_id(recording, r.inputs.get("role"))
    return [Request("iam", "PutRolePolicy", {
        "RoleName": physical_name(role) if role else str(r.inputs.get("role")),
        "PolicyName": physical_name(r), "PolicyDocument": _json_text(r.inputs.get("policy"))})]


def _log_group(r: RecordedResource, _: Recording) -> list[Request]:
    name = physical_name(r)
    out = [Request("logs", "CreateLogGroup", _drop_none({"logGroupName": name, "tags": dict(r.inputs.get("tags") or {})}))]
    if r.inputs.get("retentionInDays") is not None:
        out.append(Request("logs", "PutRetentionPolicy", {"logGroupName": name,
                                                          "retentionInDays": _int(r.inputs["retentionInDays"])}))
    return out


def _dimensions(dimensions: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    return [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()] or None


def _alarm(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    metrics = []
    for q in i.get("metricQueries") or []:
        metric = q.get("metric")
        metrics.append({
            "Id": q.get("id"), "Expression": q.get("expression"), "Label": q.get("label"),
            "ReturnData": q.get("returnData"),
            "MetricStat": {"Metric": {"Namespace": metric.get("namespace"), "MetricName": metric.get("metricName"),
                                      "Dimensions": _dimensions(metric.get("dimensions"))},
                           "Period": _int(metric.get("period")), "Stat": metric.get("stat")} if metric else None,
        })
    return [Request("cloudwatch", "PutMetricAlarm", _drop_none({
        "AlarmName": physical_name(r), "AlarmDescription": i.get("alarmDescription"),
        "Namespace": i.get("namespace"), "MetricName": i.get("metricName"),
        "Dimensions": _dimensions(i.get("dimensions")), "Statistic": i.get("statistic"),
        "Period": _int(i.get("period")), "EvaluationPeriods": _int(i.get("evaluationPeriods")),
        "Threshold": i.get("threshold"), "ComparisonOperator": i.get("comparisonOperator"),
        "TreatMissingData": i.get("treatMissingData"), "AlarmActions": i.get("alarmActions"),
        "OKActions": i.get("okActions"), "Metrics": metrics or None, "Tags": _tags_list(i.get("tags")),
    }))]


def _dashboard(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("cloudwatch", "PutDashboard", {"DashboardName": r.inputs.get("dashboardName"),
                                                   "DashboardBody": _json_text(r.inputs.get("dashboardBody"))})]


def _rule(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("events", "PutRule", _drop_none({
        "Name": physical_name(r), "ScheduleExpression": r.inputs.get("scheduleExpression"),
        "Description": r.inputs.get("description"), "Tags": _tags_list(r.inputs.get("tags"))}))]


def _target(r: RecordedResource, recording: Recording) -> list[Request]:
    rule = next((x for x in recording.resources if x.state.get("name") == r.inputs.get("rule")), None)
    return [Request("events", "PutTargets", {
        "Rule": physical_name(rule) if rule else r.inputs.get("rule"),
        "Targets": [{"Id": r.inputs.get("targetId") or (r.name + AUTONAME_SUFFIX)[-64:], "Arn": r.inputs.get("arn")}]})]


def _permission(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("lambda", "AddPermission", _drop_none({
        "FunctionName": r.inputs.get("function"), "StatementId": r.inputs.get("statementId") or physical_name(r),
        "Action": r.inputs.get("action"), "Principal": r.inputs.get("principal"),
        "SourceArn": r.inputs.get("sourceArn")}))]


def _event_source_mapping(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("lambda", "CreateEventSourceMapping", _drop_none({
        "EventSourceArn": i.get("eventSourceArn"), "FunctionName": i.get("functionName"),
        "BatchSize": _int(i.get("batchSize")), "FunctionResponseTypes": i.get("functionResponseTypes")}))]


def _api(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("apigatewayv2", "CreateApi", _drop_none({
        "Name": physical_name(r), "ProtocolType": r.inputs.get("protocolType"),
        "Description": r.inputs.get("description"), "Tags": dict(r.inputs.get("tags") or {})}))]


def _route(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("apigatewayv2", "CreateRoute", _drop_none({
        "ApiId": i.get("apiId"), "RouteKey": i.get("routeKey"), "AuthorizationType": i.get("authorizationType"),
        "Target": i.get("target")}))]


def _integration(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("apigatewayv2", "CreateIntegration", _drop_none({
        "ApiId": i.get("apiId"), "IntegrationType": i.get("integrationType"), "IntegrationUri": i.get("integrationUri"),
        "IntegrationMethod": i.get("integrationMethod"), "PayloadFormatVersion": i.get("payloadFormatVersion")}))]


def _stage(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    route = i.get("defaultRouteSettings") or {}
    logs = i.get("accessLogSettings") or {}
    return [Request("apigatewayv2", "CreateStage", _drop_none({
        "ApiId": i.get("apiId"), "StageName": i.get("name"), "AutoDeploy": i.get("autoDeploy"),
        "DefaultRouteSettings": {"ThrottlingRateLimit": route.get("throttlingRateLimit"),
                                 "ThrottlingBurstLimit": _int(route.get("throttlingBurstLimit")),
                                 "DetailedMetricsEnabled": route.get("detailedMetricsEnabled")},
        "AccessLogSettings": {"DestinationArn": logs.get("destinationArn"), "Format": logs.get("format")},
        "Tags": dict(i.get("tags") or {})}))]


def _secret(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("secretsmanager", "CreateSecret", _drop_none({
        "Name": physical_name(r), "Description": r.inputs.get("description"),
        "Tags": _tags_list(r.inputs.get("tags"))}))]


def _secret_version(r: RecordedResource, _: Recording) -> list[Request]:
    value = r.inputs.get("secretString")
    if isinstance(value, Mapping) and "value" in value:  # a Pulumi secret, as the mocks see it
        value = value["value"]
    return [Request("secretsmanager", "PutSecretValue", {"SecretId": r.inputs.get("secretId"), "SecretString": value})]


def _topic(r: RecordedResource, _: Recording) -> list[Request]:
    attributes = {"KmsMasterKeyId": r.inputs.get("kmsMasterKeyId")}
    return [Request("sns", "CreateTopic", _drop_none({"Name": physical_name(r), "Attributes": attributes,
                                                      "Tags": _tags_list(r.inputs.get("tags"))}))]


def _subscription(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("sns", "Subscribe", {"TopicArn": i.get("topic"), "Protocol": i.get("protocol"),
                                         "Endpoint": i.get("endpoint")})]


def _kms_key(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    out = [Request("kms", "CreateKey", _drop_none({
        "Description": i.get("description"), "Policy": _json_text(i.get("policy")) if i.get("policy") else None,
        "Tags": _tags_list(i.get("tags"), "TagKey", "TagValue")}))]
    if i.get("deletionWindowInDays") is not None:  # used by ScheduleKeyDeletion on destroy
        out.append(Request("kms", "ScheduleKeyDeletion", {"KeyId": r.id,
                                                          "PendingWindowInDays": _int(i["deletionWindowInDays"])}))
    return out


def _bucket(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("s3", "CreateBucket", {"Bucket": physical_name(r, "bucket")})]


def _bucket_policy(r: RecordedResource, recording: Recording) -> list[Request]:
    return [Request("s3", "PutBucketPolicy", {"Bucket": _bucket_name(recording, r.inputs.get("bucket")),
                                              "Policy": _json_text(r.inputs.get("policy"))})]


def _public_access_block(r: RecordedResource, recording: Recording) -> list[Request]:
    i = r.inputs
    return [Request("s3", "PutPublicAccessBlock", {
        "Bucket": _bucket_name(recording, i.get("bucket")),
        "PublicAccessBlockConfiguration": _drop_none({
            "BlockPublicAcls": i.get("blockPublicAcls"), "IgnorePublicAcls": i.get("ignorePublicAcls"),
            "BlockPublicPolicy": i.get("blockPublicPolicy"), "RestrictPublicBuckets": i.get("restrictPublicBuckets")})})]


def _bucket_encryption(r: RecordedResource, recording: Recording) -> list[Request]:
    rules = [{"ApplyServerSideEncryptionByDefault": _drop_none({
        "SSEAlgorithm": (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"),
        "KMSMasterKeyID": (rule.get("applyServerSideEncryptionByDefault") or {}).get("kmsMasterKeyId")})}
        for rule in r.inputs.get("rules") or []]
    return [Request("s3", "PutBucketEncryption", {"Bucket": _bucket_name(recording, r.inputs.get("bucket")),
                                                  "ServerSideEncryptionConfiguration": {"Rules": rules}})]


def _bucket_versioning(r: RecordedResource, recording: Recording) -> list[Request]:
    config = r.inputs.get("versioningConfiguration") or {}
    return [Request("s3", "PutBucketVersioning", {
        "Bucket": _bucket_name(recording, r.inputs.get("bucket")),
        "VersioningConfiguration": _drop_none({"Status": config.get("status"), "MFADelete": config.get("mfaDelete")})})]


def _lifecycle(r: RecordedResource, recording: Recording) -> list[Request]:
    rules = []
    for rule in r.inputs.get("rules") or []:
        rules.append(_drop_none({
            "ID": rule.get("id"), "Status": rule.get("status"),
            "Filter": {"Prefix": (rule.get("filter") or {}).get("prefix", "")},
            "Expiration": {"Days": _int((rule.get("expiration") or {}).get("days"))},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": _int(
                (rule.get("abortIncompleteMultipartUpload") or {}).get("daysAfterInitiation"))},
        }))
    return [Request("s3", "PutBucketLifecycleConfiguration", {
        "Bucket": _bucket_name(recording, r.inputs.get("bucket")), "LifecycleConfiguration": {"Rules": rules}})]


def _ownership(r: RecordedResource, recording: Recording) -> list[Request]:
    rule = r.inputs.get("rule") or {}
    return [Request("s3", "PutBucketOwnershipControls", {
        "Bucket": _bucket_name(recording, r.inputs.get("bucket")),
        "OwnershipControls": {"Rules": [{"ObjectOwnership": rule.get("objectOwnership")}]}})]


def _object(r: RecordedResource, recording: Recording) -> list[Request]:
    return [Request("s3", "PutObject", {"Bucket": _bucket_name(recording, r.inputs.get("bucket")),
                                        "Key": r.inputs.get("key")})]


def _items(values: list[Any] | None) -> dict[str, Any]:
    values = list(values or [])
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


def _distribution(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    behavior = i.get("defaultCacheBehavior") or {}
    origins = [_drop_none({"Id": o.get("originId"), "DomainName": o.get("domainName"),
                           "OriginAccessControlId": o.get("originAccessControlId"),
                           "S3OriginConfig": {"OriginAccessIdentity": ""}}) for o in i.get("origins") or []]
    methods = _items(behavior.get("allowedMethods"))
    methods["CachedMethods"] = _items(behavior.get("cachedMethods"))
    functions = [{"FunctionARN": f.get("functionArn"), "EventType": f.get("eventType")}
                 for f in behavior.get("functionAssociations") or []]
    geo = (i.get("restrictions") or {}).get("geoRestriction") or {}
    config = _drop_none({
        "CallerReference": r.name, "Comment": i.get("comment", ""), "Enabled": i.get("enabled"),
        "DefaultRootObject": i.get("defaultRootObject"), "PriceClass": i.get("priceClass"),
        "Origins": _items(origins),
        "DefaultCacheBehavior": {
            "TargetOriginId": behavior.get("targetOriginId"),
            "ViewerProtocolPolicy": behavior.get("viewerProtocolPolicy"),
            "AllowedMethods": methods, "CachePolicyId": behavior.get("cachePolicyId"),
            "Compress": behavior.get("compress"), "FunctionAssociations": _items(functions),
        },
        "Restrictions": {"GeoRestriction": {"RestrictionType": geo.get("restrictionType"), "Quantity": 0}},
        "ViewerCertificate": {"CloudFrontDefaultCertificate": (i.get("viewerCertificate") or {}).get(
            "cloudfrontDefaultCertificate")},
    })
    return [Request("cloudfront", "CreateDistributionWithTags", {"DistributionConfigWithTags": {
        "DistributionConfig": config, "Tags": {"Items": _tags_list(i.get("tags")) or []}}})]


def _oac(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("cloudfront", "CreateOriginAccessControl", {"OriginAccessControlConfig": _drop_none({
        "Name": physical_name(r), "Description": i.get("description"), "SigningProtocol": i.get("signingProtocol"),
        "SigningBehavior": i.get("signingBehavior"),
        "OriginAccessControlOriginType": i.get("originAccessControlOriginType")})})]


def _cloudfront_function(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("cloudfront", "CreateFunction", {
        "Name": physical_name(r), "FunctionConfig": _drop_none({"Comment": i.get("comment", ""),
                                                                 "Runtime": i.get("runtime")}),
        "FunctionCode": str(i.get("code", "")).encode()})]


def _agent_runtime(r: RecordedResource, _: Recording) -> list[Request]:
    i = dict(r.inputs)
    lifecycle = (i.pop("lifecycleConfigurations", None) or [None])[0]
    params = {**{k: v for k, v in i.items() if k not in ("region", "timeouts")}, "lifecycleConfiguration": lifecycle}
    code = (params.get("agentRuntimeArtifact") or {}).get("codeConfiguration")
    if code and "entryPoints" in code:  # the provider's plural list is the API's `entryPoint` list
        params["agentRuntimeArtifact"] = {**params["agentRuntimeArtifact"], "codeConfiguration": {
            **{k: v for k, v in code.items() if k != "entryPoints"}, "entryPoint": code["entryPoints"]}}
    return [Request("bedrock-agentcore-control", "CreateAgentRuntime", _numbers(_drop_none(params)))]


def _agent_endpoint(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("bedrock-agentcore-control", "CreateAgentRuntimeEndpoint",
                    _drop_none({k: v for k, v in r.inputs.items() if k not in ("region", "timeouts")}))]


def _gateway(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("bedrock-agentcore-control", "CreateGateway",
                    _drop_none({k: v for k, v in r.inputs.items() if k not in ("region", "timeouts")}))]


def _memory(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("bedrock-agentcore-control", "CreateMemory", _numbers(_drop_none(
        {k: v for k, v in r.inputs.items() if k not in ("region", "timeouts")})))]


_STRATEGY_MEMBERS = {"SEMANTIC": "semanticMemoryStrategy", "USER_PREFERENCE": "userPreferenceMemoryStrategy",
                     "SUMMARIZATION": "summaryMemoryStrategy", "EPISODIC": "episodicMemoryStrategy"}


def _memory_strategy(r: RecordedResource, _: Recording) -> list[Request]:
    """The provider adds a strategy with UpdateMemory's memoryStrategies.addMemoryStrategies (one built-in type)."""
    i = r.inputs
    member = _STRATEGY_MEMBERS.get(str(i.get("type")), f"<no request mapping for strategy type {i.get('type')!r}>")
    strategy = _drop_none({"name": i.get("name"), "description": i.get("description"),
                           "namespaceTemplates": i.get("namespaceTemplates"), "namespaces": i.get("namespaces")})
    return [Request("bedrock-agentcore-control", "UpdateMemory", {
        "memoryId": i.get("memoryId"), "memoryStrategies": {"addMemoryStrategies": [{member: strategy}]}})]


def _credential_provider(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    return [Request("bedrock-agentcore-control", "CreateApiKeyCredentialProvider", _drop_none({
        "name": i.get("name"), "apiKey": "write-only", "tags": i.get("tags")}))]


def tool_definition(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Pulumi inline payload -> the API's ToolDefinition (schema properties as a map, `required` as a list)."""
    return _drop_none({"name": payload.get("name"), "description": payload.get("description"),
                       "inputSchema": _schema(payload.get("inputSchema") or {})})


def _schema(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": node.get("type"), "description": node.get("description")}
    if node.get("itemsJson"):
        out["items"] = json.loads(node["itemsJson"])
    elif node.get("items"):
        out["items"] = _schema(node["items"])
    if node.get("propertiesJson"):
        out["properties"] = json.loads(node["propertiesJson"])
    elif node.get("properties"):
        out["properties"] = {p["name"]: _schema(p) for p in node["properties"]}
        out["required"] = [p["name"] for p in node["properties"] if p.get("required")] or None
    unknown = set(node) - {"type", "description", "items", "itemsJson", "properties", "propertiesJson", "name",
                           "required"}
    out.update({k: node[k] for k in unknown})  # let the shape check name anything the API does not know
    return _drop_none(out)


def _gateway_target(r: RecordedResource, _: Recording) -> list[Request]:
    i = r.inputs
    target = (i.get("targetConfiguration") or {}).get("mcp") or {}
    lam = target.get("lambda") or {}
    schema = lam.get("toolSchema") or {}
    credentials = i.get("credentialProviderConfiguration") or {}
    provider_types = {"gatewayIamRole": "GATEWAY_IAM_ROLE", "apiKey": "API_KEY", "oauth": "OAUTH"}
    return [Request("bedrock-agentcore-control", "CreateGatewayTarget", _drop_none({
        "gatewayIdentifier": i.get("gatewayIdentifier"), "name": i.get("name"), "description": i.get("description"),
        "targetConfiguration": {"mcp": {"lambda": {
            "lambdaArn": lam.get("lambdaArn"),
            "toolSchema": {"inlinePayload": [tool_definition(p) for p in schema.get("inlinePayloads") or []]},
        }}},
        "credentialProviderConfigurations": [{"credentialProviderType": provider_types.get(k, k)}
                                             for k in credentials] or None,
        "metadataConfiguration": i.get("metadataConfiguration"),
    }))]


def _numbers(value: Any) -> Any:
    """Integral floats (how the mocks see integers) back to ints."""
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return _int(value)


def _knowledge_base(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("bedrock-agent", "CreateKnowledgeBase", _numbers(_drop_none(
        {"name": physical_name(r), **{k: v for k, v in r.inputs.items() if k not in ("region", "timeouts", "name")}})))]


def _kb_data_source(r: RecordedResource, _: Recording) -> list[Request]:
    return [Request("bedrock-agent", "CreateDataSource", _numbers(_drop_none(
        {"name": physical_name(r), **{k: v for k, v in r.inputs.items() if k not in ("region", "timeouts", "name")}})))]


def _vector_bucket(r: RecordedResource, _: Recording) -> list[Request]:
    """The provider's `encryptionConfigurations` list is the API's one `encryptionConfiguration`."""
    i = r.inputs
    return [Request("s3vectors", "CreateVectorBucket", _drop_none({
        "vectorBucketName": i.get("vectorBucketName"),
        "encryptionConfiguration": (i.get("encryptionConfigurations") or [None])[0], "tags": i.get("tags")}))]


def _vector_index(r: RecordedResource, _: Recording) -> list[Request]:
    i = dict(r.inputs)
    encryption = (i.pop("encryptionConfigurations", None) or [None])[0]
    params = {**{k: v for k, v in i.items() if k not in ("region",)}, "encryptionConfiguration": encryption}
    return [Request("s3vectors", "CreateIndex", _numbers(_drop_none(params)))]


REQUESTS: dict[str, Callable[[RecordedResource, Recording], list[Request]]] = {
    "aws:dynamodb/table:Table": _table,
    "aws:sqs/queue:Queue": _queue,
    "aws:lambda/function:Function": _function,
    "aws:lambda/permission:Permission": _permission,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/eventRule:EventRule": _rule,
    "aws:cloudwatch/eventTarget:EventTarget": _target,
    "aws:apigatewayv2/api:Api": _api,
    "aws:apigatewayv2/route:Route": _route,
    "aws:apigatewayv2/integration:Integration": _integration,
    "aws:apigatewayv2/stage:Stage": _stage,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:kms/key:Key": _kms_key,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access_block,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_encryption,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle,
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_versioning,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership,
    "aws:s3/bucketObjectv2:BucketObjectv2": _object,
    "aws:cloudfront/distribution:Distribution": _distribution,
    "aws:cloudfront/originAccessControl:OriginAccessControl": _oac,
    "aws:cloudfront/function:Function": _cloudfront_function,
    "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase": _knowledge_base,
    "aws:bedrock/agentDataSource:AgentDataSource": _kb_data_source,
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket": _vector_bucket,
    "aws:s3/vectorsIndex:VectorsIndex": _vector_index,
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": _agent_runtime,
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": _agent_endpoint,
    "aws:bedrock/agentcoreGateway:AgentcoreGateway": _gateway,
    "aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget": _gateway_target,
    "aws:bedrock/agentcoreMemory:AgentcoreMemory": _memory,
    "aws:bedrock/agentcoreMemoryStrategy:AgentcoreMemoryStrategy": _memory_strategy,
    "aws:bedrock/agentcoreApiKeyCredentialProvider:AgentcoreApiKeyCredentialProvider": _credential_provider,
}


def requests_for(resource: RecordedResource, recording: Recording) -> list[Request]:
    build = REQUESTS.get(resource.type)
    return build(resource, recording) if build else []


def unmapped_types(resources: Iterable[RecordedResource]) -> list[str]:
    return sorted({r.type for r in resources if r.custom and r.type not in REQUESTS})

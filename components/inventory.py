"""What `pulumi up` would create, as rows a person can read: type, logical name, parent, key settings, and each
IAM statement. Built from a mock run of the real program (components.mockrun)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.mockrun import Recording, RecordedResource, run_main
from runtime.stack_config import SECRET_KEYS, load_stack_config, pulumi_config_map

PLACEHOLDER_SECRET = "placeholder-secret-for-inventory"


def inventory_recording(stack: str, root: Path) -> Recording:
    """Validate the stack file, then run `__main__.py` under mocks with placeholder secrets (so the resources
    that need them show up; their values never matter offline)."""
    load_stack_config(stack, root)  # a clear error naming the bad key, before Pulumi sees anything
    return run_main(root, pulumi_config_map(stack, root), secrets={k: PLACEHOLDER_SECRET for k in SECRET_KEYS},
                    stack=stack)


def _get(inputs: dict[str, Any], *path: str) -> Any:
    value: Any = inputs
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _json(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value


def key_settings(r: RecordedResource) -> dict[str, Any]:
    i = r.inputs
    kind = r.type.rsplit(":", 1)[-1]
    if kind == "Queue":
        redrive = _json(i.get("redrivePolicy")) or {}
        return {"name": i.get("name"), "fifo": bool(i.get("fifoQueue")), "visibility_s": i.get("visibilityTimeoutSeconds"),
                "max_receive": redrive.get("maxReceiveCount"), "encrypted": bool(i.get("sqsManagedSseEnabled"))}
    if kind == "Table":
        return {"hash": i.get("hashKey"), "range": i.get("rangeKey"),
                "indexes": [g.get("name") for g in i.get("globalSecondaryIndexes") or []],
                "ttl": _get(i, "ttl", "attributeName")}
    if r.type == "aws:cloudfront/function:Function":
        return {"runtime": i.get("runtime"), "published": i.get("publish")}
    if kind == "Function":
        return {"handler": i.get("handler"), "runtime": i.get("runtime"), "arch": (i.get("architectures") or [None])[0],
                "timeout_s": i.get("timeout"), "memory_mb": i.get("memorySize"),
                "code": Path(str(getattr(i.get("code"), "path", "") or "")).name or None}
    if kind == "EventSourceMapping":
        return {"queue": str(i.get("eventSourceArn", "")).rsplit(":", 1)[-1], "function": i.get("functionName"),
                "batch": i.get("batchSize"), "response_types": i.get("functionResponseTypes")}
    if kind == "Route":
        return {"route": i.get("routeKey"), "auth": i.get("authorizationType")}
    if kind == "Stage":
        return {"throttle_rps": _get(i, "defaultRouteSettings", "throttlingRateLimit"),
                "burst": _get(i, "defaultRouteSettings", "throttlingBurstLimit"),
                "access_logs": bool(i.get("accessLogSettings"))}
    if kind == "AgentcoreAgentRuntime":
        code = _get(i, "agentRuntimeArtifact", "codeConfiguration") or {}
        return {"runtime_name": i.get("agentRuntimeName"), "agent": _get(i, "environmentVariables", "AIDLC_AGENT"),
                "python": code.get("runtime"), "entry": code.get("entryPoints"),
                "code": _get(code, "code", "s3", "prefix")}
    if kind == "AgentcoreAgentRuntimeEndpoint":
        return {"name": i.get("name"), "runtime": i.get("agentRuntimeId"), "version": i.get("agentRuntimeVersion")}
    if kind == "AgentcoreGateway":
        return {"protocol": i.get("protocolType"), "search": _get(i, "protocolConfiguration", "mcp", "searchType"),
                "auth": i.get("authorizerType")}
    if kind == "AgentcoreGatewayTarget":
        payloads = _get(i, "targetConfiguration", "mcp", "lambda", "toolSchema", "inlinePayloads") or []
        return {"name": i.get("name"), "tools": [p.get("name") for p in payloads],
                "propagated_headers": _get(i, "metadataConfiguration", "allowedRequestHeaders")}
    if kind == "AgentcoreMemory":
        return {"name": i.get("name"), "expiry_days": i.get("eventExpiryDuration")}
    if kind == "AgentcoreMemoryStrategy":
        return {"name": i.get("name"), "type": i.get("type"), "namespaces": i.get("namespaceTemplates")}
    if kind == "Key":
        return {"rotation": i.get("enableKeyRotation"), "deletion_window_days": i.get("deletionWindowInDays")}
    if kind == "Topic":
        return {"kms_key": i.get("kmsMasterKeyId")}
    if kind == "BucketLifecycleConfiguration":
        return {"rules": [{"id": rule.get("id"), "expire_days": _get(rule, "expiration", "days"),
                           "prefix": _get(rule, "filter", "prefix")} for rule in i.get("rules") or []]}
    if kind == "BucketPublicAccessBlock":
        return {k: i.get(k) for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}
    if kind == "Distribution":
        return {"origins": [{"domain": o.get("domainName"), "oac": bool(o.get("originAccessControlId"))}
                            for o in i.get("origins") or []],
                "viewer": _get(i, "defaultCacheBehavior", "viewerProtocolPolicy"),
                "functions": [f.get("eventType") for f in _get(i, "defaultCacheBehavior", "functionAssociations") or []]}
    if kind == "MetricAlarm":
        return {"metric": i.get("metricName") or "math", "threshold": i.get("threshold"),
                "actions": len(i.get("alarmActions") or [])}
    if kind == "LogGroup":
        return {"retention_days": i.get("retentionInDays")}
    if kind == "EventRule":
        return {"schedule": i.get("scheduleExpression")}
    if kind == "Role":
        trust = _json(i.get("assumeRolePolicy")) or {}
        return {"trusts": [_get(s, "Principal", "Service") for s in trust.get("Statement", [])]}
    if kind == "Permission":
        return {"principal": i.get("principal"), "function": i.get("function")}
    if kind == "Secret":
        return {"description": i.get("description")}
    return {}


def wire_inputs(value: Any) -> Any:
    """A resource's inputs as the provider receives them (camelCase keys, JSON documents as strings), made
    printable: an asset or archive shows its path, a Pulumi secret shows as "[secret]" (never its value)."""
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return "[secret]"
        return {k: wire_inputs(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire_inputs(v) for v in value]
    for kind in ("path", "text", "uri"):
        if hasattr(value, kind) and type(value).__module__.startswith("pulumi"):
            return {type(value).__name__: str(getattr(value, kind))}
    return value


def iam_statements(r: RecordedResource) -> list[dict[str, Any]]:
    if r.type not in ("aws:iam/rolePolicy:RolePolicy", "aws:s3/bucketPolicy:BucketPolicy"):
        return []
    document = _json(r.inputs.get("policy")) or {}
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def describe(recording: Recording) -> list[dict[str, Any]]:
    return [
        {
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "component": not r.custom,
            "settings": key_settings(r),
            "inputs": wire_inputs(r.inputs),
            "statements": iam_statements(r),
        }
        for r in recording.resources
    ]

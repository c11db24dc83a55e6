"""Run the Pulumi program under `pulumi.runtime.set_mocks` and record every resource it registers: type, logical
name, parent, inputs (camelCase, as on the wire). Used by the tests, `aidlc infra inventory` and the benchmark.
Nothing here touches the network: mocks answer the provider calls and invent the computed outputs."""

from __future__ import annotations

import asyncio
import gc
import runpy
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

MOCK_ACCOUNT = "123456789012"
MOCK_REGION = "us-east-1"


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str | None = None  # the parent's logical name (None: the stack)
    parent_type: str | None = None
    custom: bool = True
    id: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def short_type(self) -> str:
        """`aws:sqs/queue:Queue` -> `sqs:Queue`; component types stay whole."""
        if self.type.startswith("aws:"):
            module = self.type.split(":")[1].split("/")[0]
            return f"{module}:{self.type.rsplit(':', 1)[-1]}"
        return self.type


@dataclass
class Recording:
    resources: list[RecordedResource]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children_of(self, name: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == name]

    def by_name(self) -> dict[str, RecordedResource]:
        return {r.name: r for r in self.resources}

    def components(self) -> list[RecordedResource]:
        return [r for r in self.resources if not r.custom]


AUTONAME_SUFFIX = "-a1b2c3d"  # Pulumi's auto-name: the logical name, a hyphen and 7 random hex characters


def physical_name(resource: RecordedResource, key: str = "name") -> str:
    """The name AWS will see: the explicit one, else Pulumi's auto-name (logical name + 8 characters)."""
    explicit = resource.inputs.get(key)
    return str(explicit) if explicit else resource.name + AUTONAME_SUFFIX


def _urn_name_and_type(urn: str) -> tuple[str, str]:
    """`urn:pulumi:stack::project::parentType$type::name` -> (name, type)."""
    head, _, name = urn.rpartition("::")
    type_token = head.rsplit("::", 1)[-1].rsplit("$", 1)[-1]
    return name, type_token


MOCK_KB_ID = "KBMOCK0001"  # Bedrock KB ids: 10 letters and digits

# What AWS computes, by resource kind (the type token's last part) or, where two kinds share a name, by type token:
# output -> template over the region, account, logical `name`, `physical` name, the inputs, earlier outputs and the
# ids below. Every other kind gets a made-up ARN (`arn:aws:mock:...`) and its physical name.
COMPUTED_OUTPUTS: dict[str, dict[str, str]] = {
    "Queue": {"arn": "arn:aws:sqs:{region}:{account}:{physical}",
              "url": "https://sqs.{region}.amazonaws.com/{account}/{physical}"},
    "Table": {"arn": "arn:aws:dynamodb:{region}:{account}:table/{physical}"},
    "aws:lambda/function:Function": {
        "arn": "arn:aws:lambda:{region}:{account}:function:{physical}",
        "invokeArn": "arn:aws:apigateway:{region}:lambda:path/functions/{arn}/invocations",
        "version": "{lambda_version}", "qualifiedArn": "{arn}:{lambda_version}"},
    "Role": {"arn": "arn:aws:iam::{account}:role/{physical}"},
    "LogGroup": {"arn": "arn:aws:logs:{region}:{account}:log-group:{physical}"},
    "Secret": {"arn": "arn:aws:secretsmanager:{region}:{account}:secret:{physical}-AbCdEf"},
    "Bucket": {"bucket": "{physical}", "arn": "arn:aws:s3:::{physical}",
               "bucketRegionalDomainName": "{physical}.s3.{region}.amazonaws.com"},
    "Api": {"apiEndpoint": "https://{name}.execute-api.{region}.amazonaws.com",
            "executionArn": "arn:aws:execute-api:{region}:{account}:{name}"},
    "Distribution": {"arn": "arn:aws:cloudfront::{account}:distribution/{name}", "domainName": "{name}.cloudfront.net"},
    "Topic": {"arn": "arn:aws:sns:{region}:{account}:{physical}"},
    "AgentcoreGateway": {
        "gatewayId": "{gateway_id}", "gatewayArn": "arn:aws:bedrock-agentcore:{region}:{account}:gateway/{gateway_id}",
        "gatewayUrl": "https://{gateway_id}.gateway.bedrock-agentcore.{region}.amazonaws.com/mcp"},
    "aws:cloudfront/function:Function": {"arn": "arn:aws:cloudfront::{account}:function/{physical}"},
    "aws:kms/key:Key": {"arn": "arn:aws:kms:{region}:{account}:key/{name}-0000-0000-0000-000000000000"},
    "AgentcoreAgentRuntime": {
        "agentRuntimeId": "{runtime_id}", "agentRuntimeArn": "arn:aws:bedrock-agentcore:{region}:{account}:runtime/"
        "{runtime_id}", "agentRuntimeVersion": "1"},
    "AgentcoreMemory": {"arn": "arn:aws:bedrock-agentcore:{region}:{account}:memory/{physical}-mock"},
    "AgentKnowledgeBase": {"arn": "arn:aws:bedrock:{region}:{account}:knowledge-base/{kb_id}"},
    "AgentDataSource": {"dataSourceId": "DSMOCK0001"},
    "VectorsVectorBucket": {"vectorBucketArn": "arn:aws:s3vectors:{region}:{account}:bucket/{vectorBucketName}"},
    "VectorsIndex": {"indexArn": "arn:aws:s3vectors:{region}:{account}:bucket/{vectorBucketName}/index/{indexName}"},
}


def computed_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Plausible values for what AWS would compute, so Outputs resolve and wiring can be asserted."""
    physical = inputs.get("name") or f"{name}-mock"
    kind = type_token.rsplit(":", 1)[-1]
    values = {
        **{key: value for key, value in inputs.items() if isinstance(value, str)},
        "region": MOCK_REGION, "account": MOCK_ACCOUNT, "name": name, "physical": physical, "kb_id": MOCK_KB_ID,
        "lambda_version": "1" if inputs.get("publish") else "$LATEST",  # a published function's first version
        "gateway_id": f"{physical}-mock000001".lower(),  # AgentCore ids: the name, a hyphen, 10 characters
        "runtime_id": f"{inputs.get('agentRuntimeName', name)}-mock000001",
    }
    out: dict[str, Any] = {"arn": f"arn:aws:mock:{MOCK_REGION}:{MOCK_ACCOUNT}:{kind.lower()}/{physical}",
                           "name": physical}
    for output, template in COMPUTED_OUTPUTS.get(type_token, COMPUTED_OUTPUTS.get(kind, {})).items():
        out[output] = template.format_map({**values, "arn": out["arn"]})
    return out


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        computed = computed_outputs(args.typ, args.name, inputs)
        state = {**computed, **inputs} if args.custom else {}
        if args.custom and args.typ.endswith(("Queue", "Table", "Function", "Role", "LogGroup", "Secret", "Bucket",
                                              "Topic", "Distribution", "AgentcoreMemory", "Key")):
            state["arn"] = computed["arn"]
        if args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = computed["bucket"]
        resource_id = f"{args.name}-id"
        if args.typ == "aws:bedrock/agentcoreMemory:AgentcoreMemory":  # AgentCore ids: the name, a hyphen, 10 characters
            resource_id = f"{inputs.get('name', args.name)}-mock000001"
        if args.typ == "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase":
            resource_id = MOCK_KB_ID
        with self._lock:
            self.resources.append(RecordedResource(args.typ, args.name, inputs, custom=args.custom, id=resource_id,
                                                   state=state))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": MOCK_ACCOUNT, "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/mock", "userId": "mock",
                    "id": MOCK_ACCOUNT}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": MOCK_REGION, "region": MOCK_REGION, "id": MOCK_REGION,
                    "endpoint": f"ec2.{MOCK_REGION}.amazonaws.com", "description": "mock"}
        return {}


class RecordingMonitor(MockMonitor):
    """Also records each resource's parent, which the Mocks API does not pass on."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.parents: dict[tuple[str, str], str] = {}

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        if request.parent:
            self.parents[(request.type, request.name)] = request.parent
        return super().RegisterResource(request)


def run_program(program: Callable[[], Any], *, config: Mapping[str, str] | None = None,
                secret_keys: Iterable[str] = (), project: str = "aidlc", stack: str = "dev") -> Recording:
    """Run `program` under mocks with `config` ({"ns:key": str}) and return what it registered."""
    # A loop of our own, closed afterwards like asyncio.run does: Pulumi's runtime uses the thread's current loop,
    # and whatever ran before (asyncio.run, another test) may have left none.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    thresholds = gc.get_threshold()  # the program may tune the collector for its own process (components/program.py)
    try:
        mocks = RecordingMocks()
        monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.mocks.test(program)()
    finally:
        gc.set_threshold(*thresholds)
        asyncio.set_event_loop(None)
        loop.close()
    for resource in mocks.resources:
        parent_urn = monitor.parents.get((resource.type, resource.name))
        if parent_urn:
            name, type_token = _urn_name_and_type(parent_urn)
            if type_token != "pulumi:pulumi:Stack":
                resource.parent, resource.parent_type = name, type_token
    return Recording(mocks.resources)


def run_main(root: Path, config: Mapping[str, str], *, secrets: Mapping[str, str] | None = None,
             stack: str = "dev") -> Recording:
    """Run the project's real `__main__.py` under mocks (what `pulumi up` would run)."""
    full = dict(config)
    for key, value in (secrets or {}).items():
        full[f"aidlc:{key}"] = value
    secret_keys = [f"aidlc:{key}" for key in (secrets or {})]
    main = Path(root) / "__main__.py"
    return run_program(lambda: _run_path(main), config=full,
                       secret_keys=secret_keys, stack=stack)


def statements_of(document: Any) -> Sequence[dict[str, Any]]:
    import json

    if isinstance(document, str):
        document = json.loads(document)
    statements = (document or {}).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _run_path(path: Path) -> None:
    # Return nothing: the module's globals hold Outputs the test wrapper would otherwise try to await.
    runpy.run_path(str(path), run_name="__main__")

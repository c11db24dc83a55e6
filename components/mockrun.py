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


def _urn_name_and_type(urn: str) -> tuple[str, str]:
    """`urn:pulumi:stack::project::parentType$type::name` -> (name, type)."""
    head, _, name = urn.rpartition("::")
    type_token = head.rsplit("::", 1)[-1].rsplit("$", 1)[-1]
    return name, type_token


def computed_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Plausible values for what AWS would compute, so Outputs resolve and wiring can be asserted."""
    physical = inputs.get("name") or f"{name}-mock"
    arn = f"arn:aws:mock:{MOCK_REGION}:{MOCK_ACCOUNT}:{type_token.rsplit(':', 1)[-1].lower()}/{physical}"
    out: dict[str, Any] = {"arn": arn, "name": physical}
    kind = type_token.rsplit(":", 1)[-1]
    if kind == "Queue":
        out["arn"] = f"arn:aws:sqs:{MOCK_REGION}:{MOCK_ACCOUNT}:{physical}"
        out["url"] = f"https://sqs.{MOCK_REGION}.amazonaws.com/{MOCK_ACCOUNT}/{physical}"
    elif kind == "Table":
        out["arn"] = f"arn:aws:dynamodb:{MOCK_REGION}:{MOCK_ACCOUNT}:table/{physical}"
    elif type_token == "aws:lambda/function:Function":
        out["arn"] = f"arn:aws:lambda:{MOCK_REGION}:{MOCK_ACCOUNT}:function:{physical}"
        out["invokeArn"] = f"arn:aws:apigateway:{MOCK_REGION}:lambda:path/functions/{out['arn']}/invocations"
        # what Lambda reports: a published function's first version, else $LATEST
        out["version"] = "1" if inputs.get("publish") else "$LATEST"
        out["qualifiedArn"] = f"{out['arn']}:{out['version']}"
    elif kind == "Role":
        out["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT}:role/{physical}"
    elif kind == "LogGroup":
        out["arn"] = f"arn:aws:logs:{MOCK_REGION}:{MOCK_ACCOUNT}:log-group:{physical}"
    elif kind == "Secret":
        out["arn"] = f"arn:aws:secretsmanager:{MOCK_REGION}:{MOCK_ACCOUNT}:secret:{physical}-AbCdEf"
    elif kind == "Bucket":
        out["bucket"] = physical
        out["arn"] = f"arn:aws:s3:::{physical}"
        out["bucketRegionalDomainName"] = f"{physical}.s3.{MOCK_REGION}.amazonaws.com"
    elif kind == "Api":
        out["apiEndpoint"] = f"https://{name}.execute-api.{MOCK_REGION}.amazonaws.com"
        out["executionArn"] = f"arn:aws:execute-api:{MOCK_REGION}:{MOCK_ACCOUNT}:{name}"
    elif kind == "Distribution":
        out["arn"] = f"arn:aws:cloudfront::{MOCK_ACCOUNT}:distribution/{name}"
        out["domainName"] = f"{name}.cloudfront.net"
    elif kind == "Topic":
        out["arn"] = f"arn:aws:sns:{MOCK_REGION}:{MOCK_ACCOUNT}:{physical}"
    elif kind == "AgentcoreGateway":
        gateway_id = f"{physical}-mock000001".lower()  # AgentCore ids: the name, a hyphen, 10 characters
        out["gatewayId"] = gateway_id
        out["gatewayArn"] = f"arn:aws:bedrock-agentcore:{MOCK_REGION}:{MOCK_ACCOUNT}:gateway/{gateway_id}"
        out["gatewayUrl"] = f"https://{gateway_id}.gateway.bedrock-agentcore.{MOCK_REGION}.amazonaws.com/mcp"
    elif type_token == "aws:cloudfront/function:Function":
        out["arn"] = f"arn:aws:cloudfront::{MOCK_ACCOUNT}:function/{physical}"
    elif type_token == "aws:kms/key:Key":
        out["arn"] = f"arn:aws:kms:{MOCK_REGION}:{MOCK_ACCOUNT}:key/{name}-0000-0000-0000-000000000000"
    elif kind == "AgentcoreAgentRuntime":
        runtime_id = f"{inputs.get('agentRuntimeName', name)}-mock000001"
        out["agentRuntimeId"] = runtime_id
        out["agentRuntimeArn"] = f"arn:aws:bedrock-agentcore:{MOCK_REGION}:{MOCK_ACCOUNT}:runtime/{runtime_id}"
        out["agentRuntimeVersion"] = "1"
    elif kind == "AgentcoreMemory":
        out["arn"] = f"arn:aws:bedrock-agentcore:{MOCK_REGION}:{MOCK_ACCOUNT}:memory/{physical}-mock"
    elif kind == "AgentKnowledgeBase":  # Bedrock KB ids: 10 letters and digits
        out["arn"] = f"arn:aws:bedrock:{MOCK_REGION}:{MOCK_ACCOUNT}:knowledge-base/{MOCK_KB_ID}"
    elif kind == "AgentDataSource":
        out["dataSourceId"] = "DSMOCK0001"
    elif kind == "VectorsVectorBucket":
        out["vectorBucketArn"] = f"arn:aws:s3vectors:{MOCK_REGION}:{MOCK_ACCOUNT}:bucket/{inputs.get('vectorBucketName')}"
    elif kind == "VectorsIndex":
        out["indexArn"] = (f"arn:aws:s3vectors:{MOCK_REGION}:{MOCK_ACCOUNT}:bucket/{inputs.get('vectorBucketName')}"
                           f"/index/{inputs.get('indexName')}")
    return out


MOCK_KB_ID = "KBMOCK0001"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        state = {**computed_outputs(args.typ, args.name, inputs), **inputs} if args.custom else {}
        if args.custom and args.typ.endswith(("Queue", "Table", "Function", "Role", "LogGroup", "Secret", "Bucket",
                                              "Topic", "Distribution", "AgentcoreMemory", "Key")):
            state["arn"] = computed_outputs(args.typ, args.name, inputs)["arn"]
        if args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = computed_outputs(args.typ, args.name, inputs)["bucket"]
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

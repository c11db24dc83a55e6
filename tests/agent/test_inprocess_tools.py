"""The synchronous, in-process mode: the ToolRegistry's tools handed to the agent without an MCP server, and the
gateway auth the MCP client would use in AWS."""

from __future__ import annotations

import httpx
import boto3

from runtime.tools.audit import MemoryAuditSink
from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.tools import BearerAuth, SigV4Auth, registry_tools
from runtime.registry import get_registry

from tests.agent.conftest import make_request


def test_offline_mock_run_with_in_process_registry_tools(aws, settings):
    from runtime.policy import ToolPolicy
    from runtime.prototypes import PrototypeStore
    from runtime.tools.base import ToolContext, ToolServices
    from runtime.tools.registry import ToolRegistry

    boto3.client("s3").create_bucket(Bucket="inproc")
    spec = get_registry().get("mock")
    request = make_request("mock")
    services = ToolServices(prototypes=PrototypeStore("inproc", "http://127.0.0.1:9/p"), policy=ToolPolicy.load())
    context = ToolContext(agent_type="mock", invocation_id=request.invocation_id, allowed_tools=spec.tools,
                          services=services)
    tools = registry_tools(ToolRegistry.default(), context, spec.tools)
    assert sorted(t.tool_name for t in tools) == sorted(spec.tools)

    # The mock script reads the page first; Notion is not configured here, so that call fails and the offline
    # run ends failed with the tool's message: the registry's error reaches the model as an error result.
    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                      options=RunOptions(tools=tools, audit=MemoryAuditSink()))
    assert event.status == "failed" and "notion_read_page" in event.error_detail
    assert "not configured" in event.error_detail

    # Without the read, the script's upload goes through the in-process tool to S3.
    def upload_only(req):
        from agent_plugins.mock import prototype_html
        from runtime.plugins import ToolCall

        result = yield ToolCall("prototype_upload", {"invocation_id": req.invocation_id,
                                                     "files": {"index.html": prototype_html(req)}})
        return result["url"]

    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                      spec=spec.model_copy(update={"offline": upload_only}),
                      options=RunOptions(tools=tools, audit=MemoryAuditSink()))
    assert event.status == "completed" and event.summary.endswith("/index.html")
    body = boto3.client("s3").get_object(Bucket="inproc", Key=event.artifacts[0].metadata.s3_key)["Body"].read()
    assert request.story.title.encode() in body


def test_sigv4_auth_signs_for_bedrock_agentcore():
    request = httpx.Request("POST", "https://gw.example/mcp", content=b'{"jsonrpc":"2.0"}',
                            headers={"X-Aidlc-Agent": "mock"})
    signed = next(SigV4Auth("us-east-1").auth_flow(request))
    authorization = signed.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/bedrock-agentcore/aws4_request" in authorization
    assert "x-aidlc-agent" in authorization  # the identity headers are covered by the signature
    assert signed.headers["X-Amz-Security-Token"] == "testing"


def test_bearer_auth():
    request = next(BearerAuth("tok").auth_flow(httpx.Request("GET", "https://gw.example/mcp")))
    assert request.headers["Authorization"] == "Bearer tok"

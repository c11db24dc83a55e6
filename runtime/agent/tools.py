"""The tools an agent run gets, from one of two places:

- `mcp_tool_client`: the MCP endpoint (the AgentCore Gateway in AWS, the local MCP server locally). The caller's
  identity is proven by the run's tool token in `X-Aidlc-Tool-Token` (runtime/tools/identity.py), beside the
  headers `X-Aidlc-Agent` and `X-Aidlc-Invocation-Id` it must agree with; AWS auth is SigV4 (IAM authorizer)
  or a bearer token (JWT authorizer). The strands MCP client is imported here, lazily: it costs ~0.7 s of imports.
- `registry_tools`: the same `ToolRegistry` called in-process, for the synchronous CLI mode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import httpx

from runtime.resources import Header

AGENT_HEADER = Header.AGENT
INVOCATION_HEADER = Header.INVOCATION_ID
TOKEN_HEADER = Header.TOOL_TOKEN


class SigV4Auth(httpx.Auth):
    """Signs each request for an AgentCore Gateway with the IAM authorizer (service `bedrock-agentcore`).

    httpx has no SigV4 and the MCP transport takes an `httpx.Auth`, so this bridges botocore's signer."""

    requires_request_body = True

    def __init__(self, region: str, *, service: str = "bedrock-agentcore", session: Any = None) -> None:
        self.region = region
        self.service = service
        self._session = session

    def auth_flow(self, request: httpx.Request):
        import boto3
        from botocore.auth import SigV4Auth as BotoSigV4
        from botocore.awsrequest import AWSRequest

        session = self._session or boto3.Session()
        credentials = session.get_credentials().get_frozen_credentials()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("connection", "content-length")}
        aws_request = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
        BotoSigV4(credentials, self.service, self.region).add_auth(aws_request)
        for name, value in aws_request.headers.items():
            request.headers[name] = value
        yield request


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def _tool_pattern(name: str) -> re.Pattern[str]:
    # The gateway prefixes tool names with its target (`target___tool`); the local server does not.
    return re.compile(rf"^(?:.+___)?{re.escape(name)}$")


def mcp_tool_client(url: str, *, agent_type: str, invocation_id: str, token: str | None = None,
                    auth: httpx.Auth | None = None, allowed_tools: Sequence[str] | None = None) -> Any:
    """A strands `MCPClient` to pass in `Agent(tools=[...])`; the agent starts and stops it.

    With `allowed_tools`, the model is shown only those tools; the tool side still checks every call against the
    Cedar policy (ToolRegistry.call)."""
    from strands.tools.mcp import MCPClient

    filters = {"allowed": [_tool_pattern(name) for name in allowed_tools]} if allowed_tools is not None else None
    return MCPClient(
        url=url,
        headers={AGENT_HEADER: agent_type, INVOCATION_HEADER: invocation_id,
                 **({TOKEN_HEADER: token} if token else {})},
        auth_provider=auth,
        tool_filters=filters,
        application_name=f"aidlc-{agent_type}",
    )


def registry_tools(tool_registry: Any, context: Any, names: Sequence[str] | None = None) -> list[Any]:
    """The ToolRegistry's tools as strands tools, called in-process with `context` (a runtime.tools ToolContext).

    Results are returned as JSON text, as the MCP server returns them, so the model sees the same thing both ways.
    The registry validates arguments and never raises for bad input; a failure is an error result."""
    from strands.tools.tools import PythonAgentTool

    wanted = set(names) if names is not None else None
    tools = []
    for schema in tool_registry.schemas():
        name = schema["name"]
        if wanted is not None and name not in wanted:
            continue

        def call(tool_use: dict[str, Any], _name: str = name, **_: Any) -> dict[str, Any]:
            result = tool_registry.call(_name, dict(tool_use.get("input") or {}), context)
            # the payload the MCP server sends: the result, or {"error", "denied", ...} (the audit hook reads denied)
            return {"toolUseId": tool_use["toolUseId"], "status": "success" if result.ok else "error",
                    "content": [{"text": json.dumps(result.as_payload(), default=str)}]}

        spec = {"name": name, "description": schema.get("description", ""),
                "inputSchema": {"json": schema["inputSchema"]}}
        tools.append(PythonAgentTool(name, spec, call))
    return tools

"""Surface (a): the tool registry as a local MCP server (mcp 2.x `MCPServer`, streamable HTTP, loopback).

The registry's schemas and its `call` are served as they are: `MCPServer`'s list/call handlers are replaced, so
argument validation, the Cedar policy and the audit trail are the registry's, the same as behind the AgentCore
Gateway. Who calls is proven by the tool token in `X-Aidlc-Tool-Token` (runtime/tools/identity.py): this endpoint
owns the key (`tokens`; the local stack issues each agent app a token per invocation from it), a call is served as
its token's agent and invocation, and a call with no valid token, or whose `X-Aidlc-Agent` /
`X-Aidlc-Invocation-Id` headers disagree with it, is refused and audited as denied. A failed call is an MCP tool
result with `isError` set and the registry's message as text, which is what a model reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ListToolsResult, TextContent, Tool

from runtime.resources import Header
from runtime.tools.base import ToolResult, ToolServices
from runtime.tools.identity import ToolTokens, call_as_caller
from runtime.tools.registry import ToolRegistry

AGENT_HEADER = Header.AGENT
INVOCATION_HEADER = Header.INVOCATION_ID
TOKEN_HEADER = Header.TOOL_TOKEN
MCP_PATH = "/mcp"


class RegistryMCPServer(MCPServer):
    """An `MCPServer` whose tools are exactly a `ToolRegistry`'s, called as the caller its tool token proves."""

    def __init__(self, tools: ToolRegistry, services: ToolServices, tokens: ToolTokens) -> None:
        super().__init__(name="aidlc-tools", instructions="aidlc's tools: Notion, GitHub, prototypes, analysis.",
                         log_level="WARNING")
        self.tools = tools
        self.services = services
        self.tokens = tokens
        self._listing = [
            Tool(name=s["name"], description=s["description"], input_schema=s["inputSchema"],
                 output_schema=s.get("outputSchema"))
            for s in tools.mcp_schemas()
        ]

    async def _handle_list_tools(self, ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=self._listing)

    async def _handle_call_tool(self, ctx: Any, params: Any) -> CallToolResult:
        headers = _request_headers(ctx)
        # tools block on HTTP and disk: run them off the event loop so other sessions keep moving
        result = await anyio.to_thread.run_sync(self._call, params.name, params.arguments or {}, headers)
        payload = result.as_payload()
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(payload, default=str))],
            structured_content=payload,
            is_error=not result.ok,
        )

    def _call(self, name: str, arguments: dict, headers: Mapping[str, str]) -> ToolResult:
        from runtime.observe.trace import in_stage

        # A tool call's own calls (Notion, S3, the audit table) count as its agent run's (runtime/observe/trace.py).
        # The claimed invocation is enough to file a trace under; the call itself is served as its token's caller.
        claimed = {k.lower(): v for k, v in headers.items()}.get(INVOCATION_HEADER.lower())
        with in_stage("agent", claimed):
            return call_as_caller(self.tools, self.tokens, name, arguments, headers, self.services)


def _request_headers(ctx: Any) -> Mapping[str, str]:
    request = getattr(ctx, "request", None)
    headers = getattr(request, "headers", None)
    return headers if headers is not None else {}


def build_mcp_server(tools: ToolRegistry, services: ToolServices, tokens: ToolTokens) -> RegistryMCPServer:
    return RegistryMCPServer(tools, services, tokens)


def mcp_asgi_app(tools: ToolRegistry, services: ToolServices, tokens: ToolTokens, *, host: str = "127.0.0.1") -> Any:
    """The Starlette app serving MCP at /mcp (stateless, JSON responses: one POST per call, no SSE to keep).

    `host` is where it is served: on loopback mcp turns on its DNS-rebinding protection (Host/Origin checks)."""
    server = build_mcp_server(tools, services, tokens)
    return server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host)


@dataclass
class MCPServerHandle:
    url: str
    port: int
    tokens: ToolTokens  # issues the tool tokens this endpoint accepts: `handle.tokens.issue(agent, invocation_id)`
    _handle: Any

    def stop(self, timeout: float = 10.0) -> None:
        self._handle.stop(timeout)

    def __enter__(self) -> "MCPServerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_mcp(tools: ToolRegistry, services: ToolServices, host: str = "127.0.0.1", port: int = 0, *,
              tokens: ToolTokens | None = None) -> MCPServerHandle:
    """Serve the registry over streamable HTTP in a background thread; `.url` is the MCP endpoint, `.tokens` the
    issuer of the tokens it accepts (a fresh random key unless `tokens` is given)."""
    from runtime.local.server import serve

    tokens = tokens or ToolTokens.generate()
    handle = serve(mcp_asgi_app(tools, services, tokens, host=host), host=host, port=port)
    return MCPServerHandle(url=f"{handle.base_url}{MCP_PATH}", port=handle.port, tokens=tokens, _handle=handle)

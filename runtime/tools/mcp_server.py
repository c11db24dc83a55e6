"""Surface (a): the tool registry as a local MCP server (mcp 2.x `MCPServer`, streamable HTTP, loopback).

The registry's schemas and its `call` are served as they are: `MCPServer`'s list/call handlers are replaced, so
argument validation, the Cedar policy and the audit trail are the registry's, the same as behind the AgentCore
Gateway. The caller says who it is with the `X-Aidlc-Agent` and `X-Aidlc-Invocation-Id` headers (the agent app
sends them); that identity is the policy's principal. A failed call is an MCP tool result with `isError` set and
the registry's message as text, which is what a model reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ListToolsResult, TextContent, Tool

from runtime.resources import Header
from runtime.tools.base import ToolContext, ToolServices
from runtime.tools.registry import ToolRegistry

AGENT_HEADER = Header.AGENT
INVOCATION_HEADER = Header.INVOCATION_ID
MCP_PATH = "/mcp"


class RegistryMCPServer(MCPServer):
    """An `MCPServer` whose tools are exactly a `ToolRegistry`'s."""

    def __init__(self, tools: ToolRegistry, services: ToolServices, *,
                 context_factory: Callable[[Mapping[str, str]], ToolContext] | None = None) -> None:
        super().__init__(name="aidlc-tools", instructions="aidlc's tools: Notion, GitHub, prototypes, analysis.",
                         log_level="WARNING")
        self.tools = tools
        self.services = services
        self._context_factory = context_factory or self._context_from_headers
        self._listing = [
            Tool(name=s["name"], description=s["description"], input_schema=s["inputSchema"],
                 output_schema=s.get("outputSchema"))
            for s in tools.mcp_schemas()
        ]

    def _context_from_headers(self, headers: Mapping[str, str]) -> ToolContext:
        lowered = {k.lower(): v for k, v in headers.items()}
        return ToolContext(
            agent_type=lowered.get(AGENT_HEADER.lower()) or None,
            invocation_id=lowered.get(INVOCATION_HEADER.lower()) or None,
            allowed_tools=None,  # the registry looks the agent's declared tools up
            services=self.services,
        )

    async def _handle_list_tools(self, ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=self._listing)

    async def _handle_call_tool(self, ctx: Any, params: Any) -> CallToolResult:
        context = self._context_factory(_request_headers(ctx))
        # tools block on HTTP and disk: run them off the event loop so other sessions keep moving
        result = await anyio.to_thread.run_sync(_call_in_agent_stage, self.tools, params.name,
                                                params.arguments or {}, context)
        payload = result.as_payload()
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(payload, default=str))],
            structured_content=payload,
            is_error=not result.ok,
        )


def _call_in_agent_stage(tools: ToolRegistry, name: str, arguments: dict, context: ToolContext) -> Any:
    """A tool call's own calls (Notion, S3, the audit table) count as its agent run's (runtime/observe/trace.py)."""
    from runtime.observe.trace import in_stage

    with in_stage("agent", context.invocation_id):
        return tools.call(name, arguments, context)


def _request_headers(ctx: Any) -> Mapping[str, str]:
    request = getattr(ctx, "request", None)
    headers = getattr(request, "headers", None)
    return headers if headers is not None else {}


def build_mcp_server(tools: ToolRegistry, services: ToolServices) -> RegistryMCPServer:
    return RegistryMCPServer(tools, services)


def mcp_asgi_app(tools: ToolRegistry, services: ToolServices, *, host: str = "127.0.0.1") -> Any:
    """The Starlette app serving MCP at /mcp (stateless, JSON responses: one POST per call, no SSE to keep).

    `host` is where it is served: on loopback mcp turns on its DNS-rebinding protection (Host/Origin checks)."""
    server = build_mcp_server(tools, services)
    return server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host)


@dataclass
class MCPServerHandle:
    url: str
    port: int
    _handle: Any

    def stop(self, timeout: float = 10.0) -> None:
        self._handle.stop(timeout)

    def __enter__(self) -> "MCPServerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_mcp(tools: ToolRegistry, services: ToolServices, host: str = "127.0.0.1", port: int = 0) -> MCPServerHandle:
    """Serve the registry over streamable HTTP in a background thread; `.url` is the MCP endpoint."""
    from runtime.local.server import serve

    handle = serve(mcp_asgi_app(tools, services, host=host), host=host, port=port)
    return MCPServerHandle(url=f"{handle.base_url}{MCP_PATH}", port=handle.port, _handle=handle)

"""Surface (b): the AgentCore Gateway Lambda target. One Lambda serves every tool of the registry.

The gateway invokes the Lambda with the tool's arguments as the event and names the tool in the client context:
`context.client_context.custom["bedrockAgentCoreToolName"]`, as "<target>___<tool>" (the target prefix is removed).
The caller's identity (the Cedar principal) comes from the request headers `X-Aidlc-Agent` and
`X-Aidlc-Invocation-Id` that the agent sends with each tool call. The gateway forwards a request header to a
Lambda target only when the target allow-lists it (`metadata_configuration.allowed_request_headers`, set in
components/agentcore.py from `Header.TOOL_CALLER`), and hands the forwarded ones to the Lambda in the client
context, as `context.client_context.custom["bedrockAgentCorePropagatedHeaders"]` ({name: value}; header names are
case-insensitive, so they are compared lower-cased). The event holds only the tool's arguments. A call with no
identity is refused: in AWS the policy is never skipped.

The answer is the tool's result object, or `{"error": "...", "denied": bool}` for anything that went wrong;
the Lambda itself only fails for a broken deployment (no tool name at all).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from runtime.resources import Header
from runtime.tools.base import ToolContext, ToolResult, ToolServices
from runtime.tools.registry import ToolRegistry

TOOL_NAME_KEY = "bedrockAgentCoreToolName"
PROPAGATED_HEADERS_KEY = "bedrockAgentCorePropagatedHeaders"
TARGET_DELIMITER = "___"


@lru_cache(maxsize=1)
def _default_runtime() -> tuple[ToolRegistry, ToolServices]:
    from runtime.tools.services import ToolSettings, build_services

    return ToolRegistry.default(), build_services(ToolSettings.from_env())


def tool_name_from_context(context: Any) -> str | None:
    custom = _custom(context)
    name = custom.get(TOOL_NAME_KEY)
    if not name:
        return None
    return name.split(TARGET_DELIMITER, 1)[1] if TARGET_DELIMITER in name else name


def _custom(context: Any) -> Mapping[str, Any]:
    client_context = getattr(context, "client_context", None)
    custom = getattr(client_context, "custom", None)
    if custom is None and isinstance(client_context, Mapping):
        custom = client_context.get("custom")
    if isinstance(custom, str):  # some invokers pass the custom block JSON-encoded
        try:
            custom = json.loads(custom)
        except ValueError:
            custom = None
    return custom if isinstance(custom, Mapping) else {}


def propagated_headers(context: Any) -> dict[str, str]:
    """The request headers the gateway forwarded to this target, names lower-cased."""
    headers = _custom(context).get(PROPAGATED_HEADERS_KEY)
    if isinstance(headers, str):  # the custom block's values may arrive JSON-encoded, like the block itself
        try:
            headers = json.loads(headers)
        except ValueError:
            headers = None
    return {str(k).lower(): str(v) for k, v in headers.items() if v} if isinstance(headers, Mapping) else {}


def _identity(context: Any) -> tuple[str | None, str | None]:
    headers = propagated_headers(context)
    return headers.get(Header.AGENT.lower()), headers.get(Header.INVOCATION_ID.lower())


def dispatch(event: Any, context: Any, tools: ToolRegistry, services: ToolServices) -> dict[str, Any]:
    name = tool_name_from_context(context)
    if not name:
        raise ValueError(f"no {TOOL_NAME_KEY} in the Lambda client context: is this Lambda an AgentCore Gateway target?")
    agent, invocation = _identity(context)
    if agent is None:
        result = ToolResult(
            False, {}, "refused: the call carries no agent identity (X-Aidlc-Agent); the tool policy cannot be skipped",
            denied=True,
        )
    else:
        result = tools.call(name, event,
                            ToolContext(agent_type=agent, invocation_id=invocation, services=services))
    return result.as_payload()


def handler(event: Any, context: Any) -> dict[str, Any]:
    tools, services = _default_runtime()
    return dispatch(event, context, tools, services)

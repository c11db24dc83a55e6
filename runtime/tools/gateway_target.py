"""Surface (b): the AgentCore Gateway Lambda target. One Lambda serves every tool of the registry.

The gateway invokes the Lambda with the tool's arguments as the event and names the tool in the client context:
`context.client_context.custom["bedrockAgentCoreToolName"]`, as "<target>___<tool>" (the target prefix is removed).
The caller's identity (the Cedar principal) is proven by the tool token the agent sends in `X-Aidlc-Tool-Token`
(runtime/tools/identity.py: signed by the orchestrator with the `tool-token-key` secret, bound to one agent and one
invocation), never taken from a header the caller sets: `X-Aidlc-Agent` / `X-Aidlc-Invocation-Id` must agree with
the token or the call is refused. The gateway forwards a request header to a Lambda target only when the target
allow-lists it (`metadata_configuration.allowed_request_headers`, set in components/agentcore.py from
`Header.TOOL_CALLER`), and hands the forwarded ones to the Lambda in the client context, as
`context.client_context.custom["bedrockAgentCorePropagatedHeaders"]` ({name: value}; header names are
case-insensitive, so they are compared lower-cased). The event holds only the tool's arguments. A call with no
token, or one that does not verify, is refused and audited as denied: in AWS the policy is never skipped.

The answer is the tool's result object, or `{"error": "...", "denied": bool}` for anything that went wrong;
the Lambda itself only fails for a broken deployment (no tool name at all).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from runtime.resources import TOOL_TOKEN_KEY
from runtime.tools.base import ToolContext, ToolServices
from runtime.tools.identity import ToolTokens, call_as_caller
from runtime.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)

TOOL_NAME_KEY = "bedrockAgentCoreToolName"
PROPAGATED_HEADERS_KEY = "bedrockAgentCorePropagatedHeaders"
TARGET_DELIMITER = "___"


@lru_cache(maxsize=1)
def _default_runtime() -> tuple[ToolRegistry, ToolServices, ToolTokens | None]:
    from runtime.tools.services import ToolSettings, build_services

    return ToolRegistry.default(), build_services(ToolSettings.from_env()), _tokens_from_env()


def _tokens_from_env() -> ToolTokens | None:
    """The verifier of tool tokens, from the `tool-token-key` secret; None (every call refused) when it is unset."""
    secret_id = os.environ.get(TOOL_TOKEN_KEY.env_var)
    if not secret_id:
        return None
    try:
        return ToolTokens.from_secret(secret_id)
    except ValueError:  # the deployment's placeholder, or too short a key: refuse, and say so in the log
        logger.error("the %s secret holds no usable key: every tool call is refused", TOOL_TOKEN_KEY.logical_name)
        return None


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


def dispatch(event: Any, context: Any, tools: ToolRegistry, services: ToolServices,
             tokens: ToolTokens | None) -> dict[str, Any]:
    name = tool_name_from_context(context)
    if not name:
        raise ValueError(f"no {TOOL_NAME_KEY} in the Lambda client context: is this Lambda an AgentCore Gateway target?")
    headers = propagated_headers(context)
    if tokens is None:
        result = tools.refuse(name, event, ToolContext(services=services),
                              f"refused: the tool gateway has no {TOOL_TOKEN_KEY.logical_name} to verify callers with")
    else:
        result = call_as_caller(tools, tokens, name, event, headers, services)
    return result.as_payload()


def handler(event: Any, context: Any) -> dict[str, Any]:
    tools, services, tokens = _default_runtime()
    return dispatch(event, context, tools, services, tokens)

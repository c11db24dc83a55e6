"""The one tool registry: every tool a plugin registers (the built-ins are one such plugin, runtime/tools/builtin.py),
one `call` for every surface.

    tools = ToolRegistry.default()
    result = tools.call("github_commit_files", {...}, ToolContext(agent_type="code", invocation_id=..., services=...))

`call` never raises for anything a model can cause: unknown tool, bad arguments (pydantic's errors, rewritten so a
model can fix its call), a policy denial, or a failing adapter all come back as `ToolResult(ok=False, error=...)`.
A result that does not match the tool's `result_model` is a bug in the tool, reported as one. Each call is written
to the audit trail (`services.audit`, source "tool") when one is set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runtime.tools.audit import AuditRecord, Outcome
from runtime.tools.base import ToolContext, ToolError, ToolResult, ToolServices, raised_at
from runtime.tools.schemas import gateway_schema, inline_schema
from runtime.tools.spec import ToolSpec

if TYPE_CHECKING:
    from runtime.registry import AgentRegistry

__all__ = ["ToolContext", "ToolError", "ToolRegistry", "ToolResult", "ToolServices"]

logger = logging.getLogger(__name__)


class ToolRegistry:
    def __init__(self, tools: Iterable[ToolSpec], agents: AgentRegistry | None = None) -> None:
        self._tools: dict[str, ToolSpec] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} registered twice")
            self._tools[tool.name] = tool
        self.agents = agents

    @classmethod
    def default(cls, agents: AgentRegistry | None = None) -> "ToolRegistry":
        """Every tool the plugins register, built-in or not (from `agents`, or the process registry)."""
        if agents is None:
            from runtime.registry import get_registry

            agents = get_registry()
        return cls(agents.tools.values(), agents)

    # --- what is there -------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"unknown tool {name!r}; available: {', '.join(self._tools)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def schemas(self) -> list[dict[str, Any]]:
        """[{name, description, inputSchema}] in the AgentCore Gateway inline-payload shape (the schema subset it
        accepts: type, description, properties, required, items)."""
        return [
            {"name": t.name, "description": t.description, "inputSchema": gateway_schema(t.input_schema())}
            for t in self._tools.values()
        ]

    def mcp_schemas(self) -> list[dict[str, Any]]:
        """Like `schemas`, with the fuller JSON Schema MCP clients take (enums, bounds, defaults kept), and each
        result model's schema as `outputSchema` (as pydantic writes it: a result's None values stay allowed), which
        MCP clients check every successful result against."""
        return [
            {"name": t.name, "description": t.description, "inputSchema": inline_schema(t.input_schema()),
             **({"outputSchema": t.result_schema()} if t.result_model is not None else {})}
            for t in self._tools.values()
        ]

    # --- calling -------------------------------------------------------------------------------------------

    def call(self, name: str, args: dict[str, Any] | None, context: ToolContext) -> ToolResult:
        started = time.perf_counter()
        args = args if args is not None else {}
        result = self._call(name, args, context)
        self._audit(name, args, context, result, time.perf_counter() - started)
        return result

    def refuse(self, name: str, args: dict[str, Any] | None, context: ToolContext, reason: str) -> ToolResult:
        """A call refused before it reached the tool (its caller is not proven: runtime/tools/identity.py), written
        to the audit trail as denied like a policy denial."""
        result = ToolResult(False, {}, reason, denied=True)
        self._audit(name, args if args is not None else {}, context, result, 0.0)
        return result

    def _call(self, name: str, args: Any, context: ToolContext) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(False, {}, f"unknown tool {name!r}; available tools: {', '.join(self._tools)}")
        if not isinstance(args, dict):
            return ToolResult(False, {}, f"invalid arguments for {name}: expected a JSON object, got {type(args).__name__}")
        try:
            parsed = tool.args_model.model_validate(args)
        except ValidationError as exc:
            return ToolResult(False, {"invalid_arguments": True}, readable_validation_error(name, exc, tool))

        if context.agent_type and context.services.policy is None and name not in self._allowed_tools(context):
            # no Cedar policy configured: the floor is still that an agent calls only the tools it declares
            return ToolResult(False, {}, f"agent {context.agent_type!r} does not declare tool {name!r}", denied=True)
        if context.agent_type and context.services.policy is not None:
            decision = context.services.policy.authorize(
                context.agent_type,
                name,
                parsed.model_dump(mode="json", exclude_none=True),
                invocation_id=context.invocation_id,
                allowed_tools=self._allowed_tools(context),
                tool_group=tool.target,
                default_branch=_default_branch(context.services),
                approved=context.approved,
                management_account=_management_account(context.services, tool.target),
                changed_paths=tool.changed_paths(parsed) if tool.changed_paths is not None else (),
                protected_paths=context.protected_paths,
            )
            if not decision.allowed:
                return ToolResult(False, {"policy": list(decision.policy_ids)}, decision.reason, denied=True)

        try:
            content = tool.func(context, parsed)
        except Exception as exc:  # every adapter error becomes text the model can read; the run goes on
            return ToolResult(False, {}, _failure_message(name, exc))
        if not isinstance(content, dict):
            return ToolResult(False, {}, f"{name} returned {type(content).__name__}, not an object (a tool bug)")
        if tool.result_model is not None:
            try:
                content = tool.result_model.model_validate(content).model_dump(mode="json")
            except ValidationError as exc:
                logger.error("tool %s returned a result its result model refuses: %s", name, exc)
                return ToolResult(False, {}, f"{name} returned a result that does not match its result model "
                                  f"{tool.result_model.__name__} (a bug in the tool): {_problems(exc)}")
        return ToolResult(True, content)

    def _allowed_tools(self, context: ToolContext) -> list[str]:
        if context.allowed_tools is not None:
            return list(context.allowed_tools)
        if self.agents is not None and context.agent_type in self.agents:
            return list(self.agents.get(context.agent_type).tools)
        return []  # unknown agent: it declared nothing, so the policy allows nothing

    def _audit(self, name: str, args: Any, context: ToolContext, result: ToolResult, duration_s: float) -> None:
        if context.services.audit is None:
            return
        outcome: Outcome
        if result.ok:
            outcome = "ok"
        elif result.denied:
            outcome = "denied"
        elif result.content.get("invalid_arguments"):
            outcome = "invalid"
        elif name not in self._tools:
            outcome = "unknown_tool"
        else:
            outcome = "error"
        record = AuditRecord.of_call(source="tool", tool=name, args=args, outcome=outcome, duration_s=duration_s,
                                     agent_type=context.agent_type, invocation_id=context.invocation_id,
                                     detail=result.error)
        try:
            context.services.audit.record(record)
        except Exception:  # the audit trail must not turn a finished tool call into a failure
            logger.exception("audit record not written for tool %s", name, extra={"audit": record.model_dump(mode="json")})


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"'{'.'.join(str(p) for p in e['loc']) or '(result)'}': {e['msg']}" for e in exc.errors())


def readable_validation_error(name: str, exc: ValidationError, tool: ToolSpec) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(arguments)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown argument"
        problems.append(f"'{where}': {message}")
    schema = tool.input_schema()
    required = schema.get("required", [])
    accepted = ", ".join(f"{p}{'' if p in required else '?'}" for p in schema.get("properties", {}))
    return f"invalid arguments for {name}: " + "; ".join(problems) + f". {name} takes: {accepted}"


def _failure_message(name: str, exc: Exception) -> str:
    from runtime.github.backend import GitHubError
    from runtime.prototypes import PrototypeError

    if isinstance(exc, (ToolError, GitHubError, PrototypeError)):
        return f"{name} failed: {exc}"
    logger.warning("tool %s raised %s: %s", name, type(exc).__name__, exc, exc_info=True)
    return f"{name} failed: {type(exc).__name__} at {raised_at(exc)}: {exc}"


def _management_account(services: ToolServices, target: str) -> str:
    """The organisation's management account id, for the onboarding policy's rules ("" when no AWS is configured
    or the tool is not an AWS one)."""
    if services.aws is None or target not in ("organizations", "cloudformation"):
        return ""
    try:
        return services.aws.management_account_id
    except Exception:  # cannot tell: the tool's own AWS call will fail the same way
        logger.warning("management account unknown for the policy", exc_info=True)
        return ""


def _default_branch(services: ToolServices) -> str:
    if services.github is None:
        return "main"
    try:
        return services.github.default_branch
    except Exception:  # cannot ask GitHub: protect "main", which the policy always does
        return "main"

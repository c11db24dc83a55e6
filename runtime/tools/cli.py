"""`aidlc tools`: list the tools, print the gateway schemas, and ask the Cedar policy about a call (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

tools_app = typer.Typer(help="The tool registry and the Cedar tool policy.", no_args_is_help=True)


@tools_app.command("list")
def list_tools() -> None:
    """Every tool (built-ins and plugins'), with its group and description."""
    from runtime.tools.registry import ToolRegistry

    tools = ToolRegistry.default()
    for name in tools.names():
        spec = tools.get(name)
        typer.echo(f"{name:<30} {spec.target:<10} {spec.description}")


@tools_app.command("schemas")
def schemas(mcp: Annotated[bool, typer.Option(help="The fuller MCP JSON Schemas instead of the gateway's")] = False) -> None:
    """The tool schemas as JSON: the AgentCore Gateway inline payloads (default) or MCP's."""
    from runtime.tools.registry import ToolRegistry

    tools = ToolRegistry.default()
    typer.echo(json.dumps(tools.mcp_schemas() if mcp else tools.schemas(), indent=2))


@tools_app.command("check")
def check(
    agent: Annotated[str, typer.Argument(help="The agent (plugin name) making the call")],
    tool: Annotated[str, typer.Argument(help="The tool it calls")],
    args: Annotated[str, typer.Argument(help="The arguments as a JSON object")] = "{}",
    invocation_id: Annotated[Optional[str], typer.Option(help="The caller's invocation id")] = None,
    policy_dir: Annotated[Optional[list[Path]], typer.Option(help="A folder of project .cedar policies")] = None,
    default_branch: Annotated[str, typer.Option(help="The repository's default branch")] = "main",
) -> None:
    """Would the tool policy allow this call? Exit code 0 when allowed, 1 when denied."""
    from runtime.policy import ToolPolicy
    from runtime.registry import get_registry
    from runtime.tools.registry import ToolRegistry

    try:
        arguments = json.loads(args)
        assert isinstance(arguments, dict)
    except (ValueError, AssertionError):
        raise typer.BadParameter("ARGS must be a JSON object, e.g. '{\"branch\": \"main\"}'") from None
    agents = get_registry()
    tools = ToolRegistry.default(agents)
    declared = agents.get(agent).tools if agent in agents else []
    group = tools.get(tool).target if tool in tools else None
    policy = ToolPolicy.load(policy_dir if policy_dir else None)
    decision = policy.authorize(agent, tool, arguments, invocation_id=invocation_id, allowed_tools=declared,
                                tool_group=group, default_branch=default_branch)
    typer.echo(("ALLOW: " if decision.allowed else "DENY: ") + decision.reason)
    raise typer.Exit(0 if decision.allowed else 1)

"""`aidlc tools`: list the tools, print the gateway schemas, and ask the Cedar policy about a call (no network).

A broken plugin or policy folder is reported as the registry or the policy words it (each problem naming the
plugin and the field, or the .cedar file), with exit code 1 and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from runtime.registry import AgentRegistry
    from runtime.tools.registry import ToolRegistry

tools_app = typer.Typer(help="The tool registry and the Cedar tool policy.", no_args_is_help=True)


def _registries() -> tuple[AgentRegistry, ToolRegistry]:
    """The agent and tool registries, or a clean exit when a plugin does not load."""
    from runtime.registry import PluginError, get_registry
    from runtime.tools.registry import ToolRegistry

    try:
        agents = get_registry()
        return agents, ToolRegistry.default(agents)
    except PluginError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


@tools_app.command("list")
def list_tools() -> None:
    """Every tool (built-ins and plugins'), with its group and description."""
    _, tools = _registries()
    for name in tools.names():
        spec = tools.get(name)
        typer.echo(f"{name:<30} {spec.target:<10} {spec.description}")


@tools_app.command("schemas")
def schemas(mcp: Annotated[bool, typer.Option(help="The fuller MCP JSON Schemas instead of the gateway's")] = False) -> None:
    """The tool schemas as JSON: the AgentCore Gateway inline payloads (default) or MCP's."""
    _, tools = _registries()
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
    from runtime.policy import PolicyError, ToolPolicy

    try:
        arguments = json.loads(args)
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise typer.BadParameter("ARGS must be a JSON object, e.g. '{\"branch\": \"main\"}'")
    agents, tools = _registries()
    declared = agents.get(agent).tools if agent in agents else []
    group = tools.get(tool).target if tool in tools else None
    try:
        policy = ToolPolicy.load(policy_dir if policy_dir else None)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    decision = policy.authorize(agent, tool, arguments, invocation_id=invocation_id, allowed_tools=declared,
                                tool_group=group, default_branch=default_branch)
    typer.echo(("ALLOW: " if decision.allowed else "DENY: ") + decision.reason)
    raise typer.Exit(0 if decision.allowed else 1)

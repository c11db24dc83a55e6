"""The `aidlc` command line. Commands import what they need when they run, so `aidlc --help` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="aidlc",
    help="AI-driven development on AWS, driven from Notion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """AI-driven development on AWS, driven from Notion."""


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: plugins -> hooks -> agents and tools.")] = False,
) -> None:
    """List the registered plugins, the hooks each implements and what they declared; then every agent."""
    from rich.console import Console
    from rich.table import Table

    from runtime.registry import PluginError, get_registry

    try:
        registry = get_registry()
    except PluginError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None

    if as_json:
        typer.echo(json.dumps(registry.describe_plugins(), indent=2))
        return
    console = Console()
    by_plugin = Table(title=f"{len(registry.plugins)} plugins", show_lines=True)
    for column in ("plugin", "source", "hook", "declares"):
        by_plugin.add_column(column, overflow="fold")
    for plugin in registry.plugins:
        hooks = plugin.hooks or {"(no hooks)": []}
        for index, (hook, names) in enumerate(hooks.items()):
            first = index == 0
            by_plugin.add_row(plugin.name if first else "", plugin.source if first else "", hook,
                              ", ".join(names) or "-")
    console.print(by_plugin)

    agents = Table(title=f"{len(registry.agents)} agents", show_lines=True)
    for column in ("name", "triggers", "chains to", "tools", "outputs", "source"):
        agents.add_column(column, overflow="fold")
    for spec in registry.agents.values():
        chains = ", ".join(f"{rule.to} ({rule.template.value}{', each ' + rule.for_each.value if rule.for_each else ''})"
                           for rule in spec.chains)
        agents.add_row(
            spec.name,
            "\n".join(spec.triggers),
            chains or "-",
            "\n".join(spec.tools),
            ", ".join(o.value for o in spec.outputs),
            spec.source,
        )
    console.print(agents)


plugin_app = typer.Typer(help="Start a plugin of your own.", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")


@plugin_app.command("new")
def plugin_new(
    name: Annotated[str, typer.Argument(help="The agent's name (lower_snake_case), e.g. glossary.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to create aidlc-NAME/.")] = Path("."),
    trigger: Annotated[Optional[str], typer.Option(help="The Notion Status that starts it (default: 'Generate Name').")] = None,
) -> None:
    """Create aidlc-NAME/: a pip-installable agent plugin package (entry point, prompt as package data, tests)."""
    from runtime.scaffold import ScaffoldError, new_plugin

    try:
        root = new_plugin(name, directory, trigger)
    except ScaffoldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"created {root}\nnext: pip install -e {root} && aidlc plugins && python -m pytest {root / 'tests'}")


def _register_local_commands() -> None:
    from runtime.local import cli as local_cli

    app.command()(local_cli.dev)
    app.command()(local_cli.demo)


_register_local_commands()


from runtime.infra_cli import infra_app  # noqa: E402 (typer only; the command imports Pulumi when run)
app.add_typer(infra_app, name="infra")
from runtime.tools.cli import tools_app  # noqa: E402 (typer only; commands import the registry when run)
app.add_typer(tools_app, name="tools")
from runtime.agent.cli import agent_app  # noqa: E402 (typer only; the sandbox loads when a run starts)
app.add_typer(agent_app, name="agent")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""The `aidlc` command line. Commands import what they need when they run, so `aidlc --help` stays fast."""

from __future__ import annotations

import json
from typing import Annotated

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
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
) -> None:
    """List the registered agent plugins: triggers, chains, tools, outputs and where each came from."""
    from rich.console import Console
    from rich.table import Table

    from runtime.registry import PluginError, get_registry

    try:
        registry = get_registry()
    except PluginError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None

    if as_json:
        typer.echo(json.dumps(registry.describe(), indent=2))
        return
    table = Table(title=f"{len(registry.agents)} agent plugins", show_lines=True)
    for column in ("name", "triggers", "chains to", "tools", "outputs", "source"):
        table.add_column(column, overflow="fold")
    for spec in registry.agents.values():
        chains = ", ".join(f"{rule.to} ({rule.template.value}{', each ' + rule.for_each.value if rule.for_each else ''})"
                           for rule in spec.chains)
        table.add_row(
            spec.name,
            "\n".join(spec.triggers),
            chains or "-",
            "\n".join(spec.tools),
            ", ".join(o.value for o in spec.outputs),
            spec.source,
        )
    Console().print(table)


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

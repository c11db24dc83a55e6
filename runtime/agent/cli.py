"""`aidlc agent run`: one agent, synchronously, with the offline model, against throw-away local stand-ins."""

from __future__ import annotations

import json
from typing import Annotated

import typer

agent_app = typer.Typer(help="Run the agent runtime by hand.", no_args_is_help=True)


@agent_app.callback()
def _agent() -> None:
    """Run the agent runtime by hand."""


@agent_app.command("run")
def run(
    agent: Annotated[str, typer.Argument(help="The plugin's name, e.g. mock (see `aidlc plugins`).")],
    title: Annotated[str | None, typer.Option(help="A new story's title (default: the first seeded story).")] = None,
    criterion: Annotated[list[str] | None, typer.Option("--criterion", "-c", help="An acceptance criterion; repeat.")] = None,
    body: Annotated[str, typer.Option(help="The new story's body (markdown).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the completion event as JSON.")] = False,
) -> None:
    """Run AGENT once with the offline model: Notion emulator, S3 on moto, a local git remote, in a temp folder.

    Prints the completion event: status, artifacts, tokens, cost, and the audit trail of tool calls."""
    import os

    from runtime.agent.sandbox import Sandbox

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # stdout is for the result; the run's logs are noise
    from runtime.registry import PluginError, get_registry

    try:
        if agent not in get_registry():
            typer.echo(f"error: no agent plugin named {agent!r}; see `aidlc plugins`", err=True)
            raise typer.Exit(code=2)
    except PluginError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    with Sandbox() as box:
        page_id = box.create_story(title, criterion or [], body) if title else None
        event = box.run(agent, story_page_id=page_id)
        if as_json:
            typer.echo(json.dumps({"event": event.model_dump(mode="json"),
                                   "audit": [r.model_dump(mode="json") for r in box.audit.records]}, indent=2))
        else:
            typer.echo(f"{event.agent_type} {event.status}"
                       + (f" ({event.error_code}: {event.error_detail})" if event.error_code else ""))
            typer.echo(f"summary: {event.summary}")
            for artifact in event.artifacts:
                typer.echo(f"artifact: {artifact.type.value:<16} {artifact.title}  {artifact.url}")
            typer.echo(f"tokens: {event.token_usage.input_tokens} in, {event.token_usage.output_tokens} out; "
                       f"cost ${event.cost_usd} on {event.model_id}")
            for record in box.audit.records:
                typer.echo(f"tool: {record.tool:<28} {record.outcome:<7} {record.duration_ms} ms")
    if event.status != "completed":
        raise typer.Exit(code=1)

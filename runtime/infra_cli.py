"""`aidlc infra ...`: look at the Pulumi program without the Pulumi CLI or an AWS account.

`aidlc infra inventory` runs the real `__main__.py` under Pulumi mocks with the stack's config and prints what
`pulumi up` would create, then the checks: our security rules, botocore's input shapes, the provider's input types,
AWS's documented rules, the IAM action database, and IAM coverage of the AWS calls the code was recorded making
(`--calls`, by default the local stack's `.aidlc/aws-calls.jsonl`, written by `aidlc dev --record-calls`).
Everything heavy is imported inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

PROJECT_ROOT = Path(__file__).resolve().parent.parent

infra_app = typer.Typer(help="Inspect the Pulumi program offline (mocks): inventory and security checks.",
                        no_args_is_help=True)


@infra_app.command()
def inventory(
    stack: Annotated[str, typer.Option("--stack", help="Which Pulumi.<stack>.yaml to read.")] = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    root: Annotated[Path, typer.Option("--root", help="Project folder (holds Pulumi.yaml).")] = PROJECT_ROOT,
    statements: Annotated[bool, typer.Option("--statements/--no-statements", help="Show IAM statements.")] = True,
    calls: Annotated[list[Path] | None, typer.Option(
        "--calls", help="JSON-lines files of recorded AWS calls for the IAM coverage check (repeatable); default: "
                        "<root>/.aidlc/aws-calls.jsonl when it exists.")] = None,
) -> None:
    """Everything `pulumi up --stack STACK` would create: type, logical name, parent component, key settings,
    each IAM statement; then the security checks (exit code 1 if any fails)."""
    from components.checks import run_checks
    from components.inventory import describe, inventory_recording
    from runtime.registry import PluginError
    from runtime.stack_config import StackConfigError

    try:
        recording = inventory_recording(stack, root)
    except (StackConfigError, PluginError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    from runtime.observe.calls import read_calls

    call_files = list(calls or []) or [p for p in [root / ".aidlc" / "aws-calls.jsonl"] if p.exists()]
    missing = [str(p) for p in call_files if not p.exists()]
    if missing:
        typer.echo(f"error: no such calls file: {', '.join(missing)}", err=True)
        raise typer.Exit(code=2)
    recorded = [call for path in call_files for call in read_calls(path)] if call_files else None
    rows = describe(recording)
    results = run_checks(recording, calls=recorded)
    failed = {name: [str(v) for v in found] for name, found in results.items() if found}

    if as_json:
        typer.echo(json.dumps({
            "stack": stack,
            "resources": rows,
            "checks": {name: [str(v) for v in found] for name, found in results.items()},
            "recorded_calls": None if recorded is None else {"files": [str(p) for p in call_files],
                                                             "count": len(recorded)},
        }, indent=2, default=str))
        raise typer.Exit(code=1 if failed else 0)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=200, emoji=False)
    table = Table(title=f"stack {stack}: {len(rows)} resources", show_lines=False)
    for column in ("type", "logical name", "parent", "key settings"):
        table.add_column(column, overflow="fold")
    for row in rows:
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items() if v not in (None, "", [], {}))
        table.add_row(row["type"], row["name"], row["parent"] or "-", settings)
    console.print(table)
    if statements:
        for row in rows:
            for st in row["statements"]:
                actions = st.get("Action")
                resources = st.get("Resource")
                condition = f"  if {json.dumps(st['Condition'])}" if st.get("Condition") else ""
                console.print(f"[bold]{row['name']}[/bold] {st.get('Sid', '')}: {st.get('Effect')} "
                              f"{actions} on {resources}{condition}", highlight=False, soft_wrap=True)
    for name, found in results.items():
        mark = "[green]pass[/green]" if not found else f"[red]FAIL ({len(found)})[/red]"
        detail = f" ({len(recorded)} recorded calls)" if name == "iam_coverage" and recorded is not None else ""
        console.print(f"check {name}: {mark}{detail}")
        for violation in found:
            console.print(f"  - {violation}", highlight=False)
    if recorded is None:
        console.print("check iam_coverage: not run (no recorded calls: `aidlc dev --record-calls`, or --calls FILE)")
    raise typer.Exit(code=1 if failed else 0)

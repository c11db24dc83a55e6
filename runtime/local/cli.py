"""`aidlc dev` (the long-running local stack) and `aidlc demo` (one story through a whole chain, then exit)."""

from __future__ import annotations

import os
import sys
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

STOP_BOUND_SECONDS = 20.0  # Ctrl-C / SIGTERM: the most `aidlc dev` takes to stop

DEMO_STORY = {
    "title": "Team lead sees sprint progress at a glance",
    "criteria": [
        "The board shows each team member's open and done tasks",
        "A progress bar shows the share of story points completed",
        "Filtering by team member updates the counts immediately",
    ],
    "body": "Team leads spend the first ten minutes of every stand-up collecting status from five tools. "
    "They need one page that shows where the sprint stands.",
}


def _console():
    from rich.console import Console

    return Console(highlight=False)


def local_model_choice(model: str | None, stack: str) -> str:
    """`--model`, else the stack's `aidlc:model`, else offline; checked here so a typo stops before anything starts."""
    from runtime.agent.models import ModelChoiceError, parse_model_choice, require_price
    from runtime.local.stack import PROJECT_ROOT
    from runtime.stack_config import StackConfigError, load_stack_config

    try:
        config = load_stack_config(stack, root=PROJECT_ROOT)
    except StackConfigError:
        config = None  # the local stack reports the stack file's problems itself when it starts
    try:
        choice = parse_model_choice(model or (config.model if config else "") or "offline")
        if choice.provider not in ("offline", "bedrock") and choice.model_id:
            require_price(choice.model_id, config.model_prices if config else None)
    except ModelChoiceError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    return str(choice)


def dev(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the dashboard, webhook and API.")] = 8000,
    # A string, not a Path: typer would turn `--state ''` into `.` (the current folder), which must be refused.
    state: Annotated[str, typer.Option(help="Folder that keeps stories, invocations and prototypes.")] = ".aidlc",
    model: Annotated[str | None, typer.Option(
        help="PROVIDER[:MODEL]: offline (deterministic, no LLM), bedrock[:ID], anthropic:MODEL, openai:MODEL (any "
             "OpenAI-compatible endpoint at OPENAI_BASE_URL), litellm:MODEL (a proxy at LITELLM_BASE_URL). Default: "
             "the stack's aidlc:model, else offline.")] = None,
    stack: Annotated[str, typer.Option(help="Configure the local project from Pulumi.<stack>.yaml.")] = "dev",
    record_calls: Annotated[bool, typer.Option(
        help="Write every AWS call, with the principal that made it, to <state>/aws-calls.jsonl (for "
             "`aidlc infra inventory --calls`).")] = False,
    trace_calls: Annotated[bool, typer.Option(
        help="Log every AWS, Notion and model call with its stage and invocation as it is made, and write them to "
             "<state>/calls.jsonl (what bench/bench_round_trips.py counts).")] = False,
) -> None:
    """Run the whole of aidlc locally until Ctrl-C: Notion emulator, AWS on moto, handlers, agents, dashboard."""
    from runtime.local.follow import PipelineFollower
    from runtime.local.stack import LocalStack, StackOptions, StartRefused

    console = _console()
    model = local_model_choice(model, stack)
    options = StackOptions(host=host, port=port, state_dir=state, model=model, stack=stack, record_calls=record_calls,
                           trace_calls=trace_calls,
                           on_event=lambda m: console.print(f"[dim]{m}[/dim]"))
    local = LocalStack(options)
    try:
        info = local.start()
    except StartRefused as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        console.print(f"[red]error:[/red] the local stack did not start: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"\n[bold]aidlc is running locally[/bold]\n"
        f"  dashboard   {info.dashboard_url}\n"
        f"  webhook     {info.webhook_url}\n"
        f"  API         {info.api_base}\n"
        f"  Notion API  {info.notion_api_base}\n"
        f"  dev info    {info.api_base}/dev/info\n"
        f"  state       {local.state_dir}\n"
        f"Change a story's status on the dashboard to start an agent. Ctrl-C stops.\n"
    )
    follower = PipelineFollower(local, lambda line: console.print(line)).start()
    stopped = threading.Event()

    def on_signal(*_: Any) -> None:
        if stopped.is_set():  # a second Ctrl-C: leave now (every acknowledged write is already in the journal)
            os._exit(130)
        stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    # Waits in slices: a signal the kernel hands to another thread only sets CPython's flag, and the main thread
    # runs the handler when it next runs bytecode; an untimed wait() would never wake for it (seen once: a
    # SIGTERM ignored).
    while not stopped.wait(0.5):
        pass
    console.print("stopping...")
    # A bound on the whole stop: whatever still holds on after it (a hung agent, a slow request) is left behind.
    # Nothing acknowledged is lost by leaving (the state is journaled as it changes; aws.py), only the snapshot
    # that would have let the next start skip replaying the journal.
    watchdog = threading.Timer(STOP_BOUND_SECONDS, lambda: (console.print(
        f"still stopping after {STOP_BOUND_SECONDS:.0f} s; leaving (the state is journaled)"), os._exit(1)))
    watchdog.daemon = True
    watchdog.start()
    follower.stop()
    local.stop()
    watchdog.cancel()
    console.print("stopped; state kept in " + str(local.state_dir))
    # Everything the stack owns is stopped; a thread a library left behind (the browser driver's, a runner pool's)
    # must not hold the interpreter at exit (seen once in CI: a stopped stack that never exited).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def demo(
    what: Annotated[str, typer.Argument(help="story (the default: one story through a chain) or onboarding (a "
                                             "customer onboarded, provisioned, a failed deployment rolled back)")]
    = "story",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each step.")] = 180.0,
    keep: Annotated[bool, typer.Option(help="Keep the temporary state folder and print its path.")] = False,
    port: Annotated[int, typer.Option(help="Port of the stack's front door (0: any free port).")] = 0,
) -> None:
    """Run one story through the local stack: prototype -> demo deck, then code; print artifacts and cost.
    `aidlc demo onboarding`: a customer from a Slack request to verified stacks, then a failed deployment rolled back
    (runtime/onboarding/demo.py); prints the workflow's Slack thread."""
    if what == "onboarding":
        import logging

        from runtime.onboarding.demo import run as run_onboarding

        logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.CRITICAL)  # a failed step's traceback
        try:
            run_onboarding(typer.echo, timeout=timeout)
        except Exception as exc:
            _console().print(f"[red]demo failed:[/red] {type(exc).__name__}: {exc}")
            raise typer.Exit(code=1) from None
        return
    if what != "story":
        typer.echo(f"error: unknown demo {what!r}; choose story or onboarding", err=True)
        raise typer.Exit(code=2)
    from runtime.local.stack import LocalStack, StackOptions

    console = _console()
    state = Path(tempfile.mkdtemp(prefix="aidlc-demo-"))
    started = time.monotonic()
    local = LocalStack(StackOptions(port=port, state_dir=state, on_event=lambda m: console.print(f"[dim]{m}[/dim]")))
    try:
        with console.status("starting the local stack..."):
            info = local.start()
        result = run_demo(local, console, timeout=timeout)
    except Exception as exc:
        console.print(f"[red]demo failed:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    finally:
        local.stop()
        if not keep:
            import shutil

            shutil.rmtree(state, ignore_errors=True)
    console.print(f"\n[green]demo finished in {time.monotonic() - started:.1f} s[/green]")
    if keep:
        console.print(f"state kept in {state}; to open the artifacts again: "
                      f"aidlc dev --state {state} --port {local.info.api_base.rsplit(':', 1)[-1]}", soft_wrap=True)
    else:
        console.print("The stack has stopped, so these links are closed now; `aidlc demo --keep` keeps the state "
                      "and tells you how to reopen them with `aidlc dev`.", soft_wrap=True)
    return result


def run_demo(local, console, *, timeout: float = 180.0) -> dict[str, Any]:
    """The demo's steps, against a started stack. Raises with the reason when a step fails."""
    info = local.info
    notion = local.user_notion()
    page = notion.create_page(
        parent_data_source_id=info.stories_data_source_id,
        title=DEMO_STORY["title"],
        properties={"Acceptance Criteria": {"rich_text": [{"type": "text", "text": {"content": "\n".join(
            f"- {c}" for c in DEMO_STORY["criteria"])}}]}},
        markdown=DEMO_STORY["body"],
    )
    page_id = page["id"]
    console.print(f"created story [bold]{DEMO_STORY['title']}[/bold] ({page_id})", soft_wrap=True)

    def step(status: str, agents: list[str]) -> list[dict[str, Any]]:
        console.print(f"moving the story to [bold]{status}[/bold] (as a person, through the Notion API)")
        before = {inv["invocation_id"] for inv in local.invocations_for_page(page_id)}
        local.set_story_status(page_id, status)
        seen: dict[str, str] = {}

        def finished():
            new = [inv for inv in local.invocations_for_page(page_id) if inv["invocation_id"] not in before]
            for inv in new:
                if seen.get(inv["invocation_id"]) != inv["status"]:
                    seen[inv["invocation_id"]] = inv["status"]
                    console.print(f"  {inv['agent_type']:<10} {inv['status']}")
                if inv["status"] in ("failed", "cancelled"):
                    raise RuntimeError(
                        f"{inv['agent_type']} {inv['status']}: {inv.get('error_code')}: {inv.get('error_detail')}"
                    )
            done = [inv for inv in new if inv["status"] == "completed"]
            return done if sorted(inv["agent_type"] for inv in done) == sorted(agents) else None

        runs = local.wait_for(finished, timeout=timeout, what=f"{' -> '.join(agents)} to complete")
        # The record is saved before the write-back; wait until Notion shows the result too, so the next status
        # change is not overwritten by this step's write-back.
        from runtime.notion.adapter import plain_properties
        from runtime.registry import get_registry

        expected = get_registry().get(agents[-1]).completion_status
        local.wait_for(
            lambda: plain_properties(notion.retrieve_page(page_id)).get(local.project.trigger_property) == expected,
            timeout=timeout, what=f"the story's status to become {expected!r} in Notion",
        )
        console.print(f"  story status in Notion: {expected}")
        return runs

    runs = step("Generate Prototype", ["mock", "demo_deck"])
    runs += step("Generate Code", ["code"])

    console.print("\n[bold]Artifacts[/bold]")
    for inv in runs:
        for artifact in inv.get("output_artifacts") or []:
            console.print(f"  {inv['agent_type']:<10} {artifact['type']:<16} {local.dashboard.local_artifact_url(artifact)}",
                          soft_wrap=True)
    cost = local.api_get(f"/project/{local.project.project_id}/cost-summary")
    console.print(f"\n[bold]Cost[/bold] month to date ${float(cost['month_to_date_usd']):.4f} "
                  f"of ${float(cost['limit_usd']):.2f} ({float(cost.get('share_used') or 0) * 100:.3f} % used)")
    for agent, amount in (cost.get("by_agent_usd") or {}).items():
        console.print(f"  {agent:<10} ${float(amount):.4f}")
    return {"page_id": page_id, "invocations": runs, "cost": cost}

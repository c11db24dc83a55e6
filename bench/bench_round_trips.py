"""Round trips per story: every AWS request, Notion request and model call, per stage, against the floor.

    .venv/bin/python bench/bench_round_trips.py [--details]

Runs the real flow on the local stack (moto, the Notion emulator, the agent apps, the offline model) in this
process: one story moved to "Generate Prototype" (mock, chained to demo_deck) and one moved to "Generate Code"
(code). Calls are counted exactly (runtime/observe/trace.py), so the figures do not depend on the machine's load.
The person's own calls (creating the story, changing its status, this script's polling of the API) and the local
pollers' receives (an event source mapping's, not the function's) are outside every stage and not counted.

The floor of each stage is what it must do; each call and its reason is written in PER_RUN and ONCE_PER_PROCESS The agent's floor
is its own (the offline model's script): what it reads and writes is the plugin's choice, measured, not aidlc's,
so the agent stage's floor is its tool calls' own requests plus one audit write per tool call and the completion
send; the model calls are the script's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOW_STAGES = ("webhook", "orchestrator", "agent", "completion", "write-back", "chain", "heartbeat")

# What each pipeline stage must do for one run, and why: (call, how many, reason). "parent" counts only for a chained
# run, "next" once per next step. The agent stage is measured against its own script (see agent_floor).
PER_RUN: dict[str, list[tuple[str, str, str]]] = {
    "webhook": [  # per delivery that starts a run
        ("aws dynamodb.GetItem", "2", "the data source's project: source# -> project id, then project# (the config)"),
        ("notion GET /v1/pages/{id}", "1", "an integration event names changed property ids, never values"),
        ("notion GET /v1/blocks/{id}/children", "1", "the story's body, for the snapshot the agent is given"),
        ("aws dynamodb.PutItem", "1", "idempotency record in progress (Powertools), before anything is sent"),
        ("aws dynamodb.UpdateItem", "1", "idempotency record completed, so a re-delivery gets the same answer"),
        ("aws sqs.SendMessage", "1", "the task onto the FIFO queue"),
        ("aws sqs.SendMessage", "1", "the page's content sync asked for (the knowledge base: a person edited it)"),
        ("aws dynamodb.Query", "1", "the story's latest run: a person's status change away from its trigger "
                                    "cancels it (runtime/pipeline/cancellation.py)"),
    ],
    "orchestrator": [
        ("aws dynamodb.GetItem", "1", "the project's config (limits, chain template)"),
        ("aws dynamodb.PutItem", "1", "the invocation record, queued (conditional: a redelivery creates nothing)"),
        ("aws dynamodb.GetItem", "1", "the concurrency slots, read before the transaction so a capped run waits "
                                      "without one (most transactions saved under load)"),
        ("aws dynamodb.TransactWriteItems", "1", "hold + budget reservation + concurrency slot, atomically"),
        ("aws dynamodb.UpdateItem", "1", "the record running, with its session (after the slot is held)"),
        ("aws dynamodb.GetItem", "parent", "the parent run, for the chained run's parent context"),
        # InvokeAgentRuntime is an AWS call in AWS; locally it is the loopback POST /invocations, not counted.
    ],
    "completion": [
        ("aws dynamodb.GetItem", "1", "the run's record, to check the event against the session it started"),
        ("aws dynamodb.TransactWriteItems", "1", "result + month cost ADD + reservation and slot released"),
        ("aws dynamodb.GetItem", "1", "the project's config, for the write-back and the chain"),
        ("aws dynamodb.UpdateItem", "1", "claim the delivery, so two workers never write back twice"),
    ],
    "write-back": [
        ("notion PATCH /v1/pages/{id}", "1", "the story's status (and any other story property): one PATCH"),
        ("notion POST /v1/comments", "1", "the comment with the artifact links and the owner mentioned"),
        ("notion POST /v1/pages", "1", "the execution-dashboard row"),
        ("aws dynamodb.UpdateItem", "1", "the delivery's outcome on the record"),
    ],
    "chain": [
        ("aws sqs.SendMessage", "next", "one per next step the plugins' chain rules name"),
    ],
    "heartbeat": [  # per beat: at once, then on progress (5 s apart at most) or every 30 s (runtime/agent/app.py)
        ("aws sqs.SendMessage", "beats", "the agent's beat onto the completion queue"),
        ("aws dynamodb.UpdateItem", "beats", "heartbeat_at and the progress on the record, conditional on the run "
                                             "still running under its session (no read first: it answers ALL_NEW)"),
        ("notion PATCH /v1/pages/{id}", "beats", "the story's live progress property: each beat carries it, and "
                                                 "the agent paces beats to one per 5 s at most (BeatPacer)"),
    ],
}
# Paid once per process (a warm container pays none): counted in the floor once when the stage made them.
ONCE_PER_PROCESS = {
    "aws secretsmanager.GetSecretValue": "a secret (Notion token, verification token, tool-token key), cached",
    "notion GET /v1/users/me": "the integration's bot user, to drop its own edits; cached",
    "notion GET /v1/data_sources/{id}": "the dashboard's schema; cached",
    "notion GET /v1/pages/{id}": "write-back only: the trigger property's type (status or select), cached",
}


def floor_of(stage: str, calls: Counter, *, runs: int, chained: int, next_steps: int) -> int:
    if stage == "agent":
        return agent_floor(calls, runs=runs)
    floor = 0
    for _what, count, _reason in PER_RUN[stage]:
        # beats: the beats the agents sent (each one SendMessage in this stage), however long the runs took
        beats = calls.get("aws sqs.SendMessage", 0) if stage == "heartbeat" else 0
        floor += {"parent": chained, "next": next_steps, "beats": beats}.get(count, 0) if not count.isdigit() \
            else int(count) * runs
    for what in ONCE_PER_PROCESS:
        if what == "notion GET /v1/pages/{id}" and stage != "write-back":
            continue
        floor += min(calls.get(what, 0), 1)
    return floor


def agent_floor(calls: Counter, *, runs: int) -> int:
    """The agent's work is its plugin's (the offline script's) choice: its model calls, its tools' own requests
    (Notion reads and writes, the prototype's S3 upload, git) and its completion send are its floor. aidlc adds the
    audit trail: two records per tool call, the run's audit hook (what the agent asked) and the tool gateway's (what
    was done, under the gateway's own principal, as the gateway Lambda writes it in AWS)."""
    tool_calls = max(calls.get("model model aidlc-offline", 0) - runs, 0)  # every model turn but a run's last
    audit = calls.get("aws dynamodb.PutItem", 0)
    return sum(calls.values()) - audit + 2 * tool_calls


def settle(stack, trace, quiet_seconds: float = 1.0) -> None:
    """Wait until the pipeline has made no call for `quiet_seconds` (the webhook has answered every delivery)."""
    import time

    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet_seconds:
        count = len([c for c in trace.snapshot() if c.stage in FLOW_STAGES])
        if count != last:
            last, since = count, time.monotonic()
        time.sleep(0.05)


def run_flow(stack, trace, title: str, status: str, agents: list[str], timeout: float = 180.0) -> dict:
    from runtime.notion.adapter import plain_properties

    notion = stack.user_notion()
    page = notion.create_page(
        parent_data_source_id=stack.info.stories_data_source_id, title=title,
        properties={"Acceptance Criteria": {"rich_text": [{"type": "text", "text": {
            "content": "- The board shows open and done tasks\n- A progress bar shows points completed"}}]}},
        markdown="Team leads need one page that shows where the sprint stands.",
    )
    # Creating the story fires page.created: let that delivery finish first, or it lands in this flow's count
    # (and, arriving after the status change, enqueues the same run a second time).
    settle(stack, trace)
    trace.clear()
    stack.set_story_status(page["id"], status)

    def finished():
        runs = stack.invocations_for_page(page["id"])
        done = [r for r in runs if r["status"] in ("completed", "failed", "cancelled")
                and r.get("delivery_status") not in (None, "pending")]
        return runs if sorted(r["agent_type"] for r in done) == sorted(agents) else None

    runs = stack.wait_for(finished, timeout=timeout, interval=0.1, what=" -> ".join(agents))
    failed = [r for r in runs if r["status"] != "completed"]
    if failed:
        raise RuntimeError(f"{failed[0]['agent_type']} {failed[0]['status']}: {failed[0].get('error_detail')}")
    expected = stack.registry.get(agents[-1]).completion_status
    stack.wait_for(lambda: plain_properties(notion.retrieve_page(page["id"])).get(stack.project.trigger_property)
                   == expected, timeout=timeout, what="the status in Notion")
    return {"runs": runs, "calls": trace.snapshot()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--details", action="store_true", help="list every call per stage")
    args = parser.parse_args()

    from runtime.local.stack import LocalStack, StackOptions
    from runtime.observe.trace import CallTrace

    trace = CallTrace()
    rows: list[tuple[str, str, int, int]] = []  # flow, stage, calls, floor
    with tempfile.TemporaryDirectory() as state, \
            LocalStack(StackOptions(port=0, state_dir=Path(state), sweep_interval_seconds=3600)) as stack, \
            trace.recording(stack.calls):
        for flow, status, agents in (("mock -> demo_deck", "Generate Prototype", ["mock", "demo_deck"]),
                                     ("code", "Generate Code", ["code"])):
            result = run_flow(stack, trace, f"Round-trip story ({flow})", status, agents)
            calls = [c for c in result["calls"] if c.stage in FLOW_STAGES]
            by_stage: dict[str, Counter] = {s: Counter() for s in FLOW_STAGES}
            for call in calls:
                by_stage[call.stage][f"{call.kind} {call.what}"] += 1
            chained = sum(1 for r in result["runs"] if r.get("parent_invocation_id"))
            runs = len(agents)
            print(f"{flow}: {runs} runs, {len(calls)} calls")
            for stage in FLOW_STAGES:
                counted = sum(by_stage[stage].values())
                # one webhook delivery starts the flow; the write-back's own edits come back as events it drops
                floor = floor_of(stage, by_stage[stage], runs=1 if stage == "webhook" else runs, chained=chained,
                                 next_steps=chained)
                rows.append((flow, stage, counted, floor))
                ratio = counted / floor if floor else (1.0 if not counted else float("inf"))
                print(f"  {stage:<13} {counted:4d} calls, floor {floor:4d} ({ratio:.2f}x)")
                if args.details:
                    for what, n in sorted(by_stage[stage].items()):
                        print(f"      {n:3d}  {what}")

    per_stage: dict[str, list[int]] = {}
    for _, stage, counted, floor in rows:
        per_stage.setdefault(stage, [0, 0])
        per_stage[stage][0] += counted
        per_stage[stage][1] += floor
    total = sum(c for c, _ in per_stage.values())
    floor = sum(f for _, f in per_stage.values())
    ratios = {s: (c / f if f else 1.0) for s, (c, f) in per_stage.items()}
    worst = max(ratios, key=ratios.get)
    print(f"round trips: {total} against a floor of {floor} ({total / floor:.2f}x); "
          f"worst stage {worst} {ratios[worst]:.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

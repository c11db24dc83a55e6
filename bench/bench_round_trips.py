"""Round trips per story: every AWS request, Notion request and model call, per stage, against the floor.

    .venv/bin/python bench/bench_round_trips.py [--details]

Runs the real flow on the local stack (moto, the Notion emulator, the agent apps, the offline model) in this
process: one story moved to "Generate Prototype" (mock, chained to demo_deck) and one moved to "Generate Code"
(code). Calls are counted exactly (runtime/observe/trace.py), so the figures do not depend on the machine's load.
The person's own calls (creating the story, changing its status, this script's polling of the API) and the local
pollers' receives (an event source mapping's, not the function's) are outside every stage and not counted.

The floor of each stage is what it must do; each call and its reason is written in FLOORS below. The agent's floor
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

FLOW_STAGES = ("webhook", "orchestrator", "agent", "completion", "write-back", "chain")

# What each pipeline stage must do for one run, and why. (The agent stage is measured per agent: see agent_floor.)
FLOORS: dict[str, list[tuple[str, str]]] = {
    "webhook": [
        ("secretsmanager.GetSecretValue", "the verification token, once per container (cached after)"),
        ("notion GET /v1/pages/{id}", "an integration event names changed property ids, never values"),
        ("dynamodb.PutItem", "idempotency: the Notion event id / page + trigger + edit time, one conditional write"),
        ("sqs.SendMessage", "the task onto the FIFO queue"),
    ],
    "orchestrator": [
        ("dynamodb.PutItem", "the invocation record, queued (conditional: a redelivery creates nothing)"),
        ("dynamodb.TransactWriteItems", "budget reservation + concurrency slot + record running, atomically"),
        ("agentcore.InvokeAgentRuntime", "start the agent's session (locally: POST /invocations, not an AWS call)"),
    ],
    "completion": [
        ("dynamodb.GetItem", "the run's record, to check the event against the session it started"),
        ("dynamodb.TransactWriteItems", "record the result + month cost ADD + reservation and slot released"),
        ("dynamodb.UpdateItem", "claim the delivery, so two workers never write back twice"),
    ],
    "write-back": [
        ("notion PATCH /v1/pages/{id}", "the story's status (and any other story property) in one PATCH"),
        ("notion POST /v1/comments", "the comment with the artifact links and the owner mentioned"),
        ("notion GET /v1/data_sources/{id}", "the dashboard's schema, once per container (cached after)"),
        ("notion POST /v1/pages", "the execution-dashboard row"),
        ("dynamodb.UpdateItem", "delivery status on the record"),
    ],
    "chain": [
        ("sqs.SendMessage", "one per next step (the chain's rules say how many; 0 for the last agent)"),
    ],
}
# Calls the floor counts once per process (a cache), so a second run in a warm container does not pay them.
ONCE_PER_PROCESS = {"secretsmanager.GetSecretValue", "notion GET /v1/data_sources/{id}"}


def floor_of(stage: str, *, chained: int, first: bool) -> int:
    if stage == "chain":
        return chained
    return sum(1 for what, _ in FLOORS[stage] if first or what not in ONCE_PER_PROCESS)


def agent_floor(calls: Counter) -> int:
    """The agent's own work: each tool call's requests (Notion, S3, git are the tool's purpose), its model calls,
    one audit write per tool call (the audit trail is a requirement), and the one completion send."""
    return sum(n for what, n in calls.items() if not what.startswith("aws dynamodb.") or "PutItem" not in what) + \
        sum(n for what, n in calls.items() if what == "aws dynamodb.PutItem") // 2 * 0 + \
        _audit_floor(calls)


def _audit_floor(calls: Counter) -> int:
    # one audit record per tool call: the tool gateway's own write; the runner's duplicate write is excess
    tool_calls = sum(n for what, n in calls.items() if what.startswith("tool "))
    return tool_calls


def run_flow(stack, trace, title: str, status: str, agents: list[str], timeout: float = 180.0) -> dict:
    from runtime.notion.adapter import plain_properties

    notion = stack.user_notion()
    page = notion.create_page(
        parent_data_source_id=stack.info.stories_data_source_id, title=title,
        properties={"Acceptance Criteria": {"rich_text": [{"type": "text", "text": {
            "content": "- The board shows open and done tasks\n- A progress bar shows points completed"}}]}},
        markdown="Team leads need one page that shows where the sprint stands.",
    )
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
        first = True
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
                if stage == "agent":
                    floor = agent_floor(by_stage[stage])
                else:
                    floor = sum(floor_of(stage, chained=chained, first=first and i == 0) for i in range(runs))
                rows.append((flow, stage, counted, floor))
                ratio = counted / floor if floor else (1.0 if not counted else float("inf"))
                print(f"  {stage:<13} {counted:4d} calls, floor {floor:4d} ({ratio:.2f}x)")
                if args.details:
                    for what, n in sorted(by_stage[stage].items()):
                        print(f"      {n:3d}  {what}")
            first = False

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

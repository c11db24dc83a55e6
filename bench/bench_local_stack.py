"""Local stack benchmarks: `aidlc dev` time to ready, `aidlc demo` wall time and peak memory, and the end-to-end
latency from a status change to the Notion write-back, split by stage, with the offline model.

    .venv/bin/python bench/bench_local_stack.py [--runs 3] [--latency-only]

Baselines measured in the same run: `python -c "import boto3"` process start (for time to ready), and the
`aidlc plugins` command (for the demo's wall time and memory), so the figures are read as ratios on a noisy machine.
The latency's floor is the pipeline's own Notion calls at Notion's 3 requests a second plus the agent's own time; the
share of the total spent in the Notion token bucket's pacing is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AIDLC = [sys.executable, "-c", "from runtime.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_command(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command, measured by a fresh parent so that its RUSAGE_CHILDREN peak
    covers that command alone."""
    probe = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, check=True, capture_output=True, text=True,
                         timeout=900).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def dev_time_to_ready() -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        start = time.perf_counter()
        proc = subprocess.Popen(AIDLC + ["dev", "--port", str(port), "--state", state], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/dev/info", timeout=1).json().get("webhook_url"):
                        return time.perf_counter() - start
                except (httpx.HTTPError, ValueError):
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"aidlc dev exited with {proc.returncode}")
                time.sleep(0.05)
            raise TimeoutError("aidlc dev did not become ready in 300 s")
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def stage_latencies(runs: int) -> list[dict[str, float]]:
    """Status change -> write-back for the mock agent, split by stage, in-process against one stack."""
    from runtime.local.stack import LocalStack, StackOptions

    from runtime.notion.throttle import Throttle
    from runtime.observe.trace import CallTrace

    def pacing() -> float:  # every Notion bucket's waits so far (one bucket per integration token)
        return sum(bucket.waited_seconds for bucket in list(Throttle._shared.values()))

    results = []
    trace = CallTrace()
    with tempfile.TemporaryDirectory() as state, LocalStack(StackOptions(port=0, state_dir=Path(state))) as stack, \
            trace.recording(stack.calls):
        notion = stack.user_notion()
        for index in range(runs):
            page = notion.create_page(parent_data_source_id=stack.info.stories_data_source_id,
                                      title=f"Bench story {index}",
                                      properties={"Acceptance Criteria": {"rich_text": [
                                          {"type": "text", "text": {"content": "- It works\n- It is fast"}}]}})
            first_call, paced_before = len(trace.snapshot()), pacing()
            t0 = time.time()
            stack.set_story_status(page["id"], "Generate Prototype")

            def completed():
                runs_ = [r for r in stack.invocations_for_page(page["id"]) if r["agent_type"] == "mock"]
                return runs_[0] if runs_ and runs_[0]["status"] in ("completed", "failed") else None

            record = stack.wait_for(completed, timeout=120, interval=0.02)
            t_done_seen = time.time()
            # Notion shows the completion status once the completion handler's write-back is through.
            stack.wait_for(lambda: notion.retrieve_page(page["id"])["properties"]["Status"]["status"]["name"]
                           != "Generate Prototype", timeout=60, interval=0.02)
            t_writeback = time.time()
            window = trace.snapshot()[first_call:]  # the calls made from the status change to the write-back
            pipeline_notion = sum(1 for c in window if c.kind == "notion" and c.stage not in (None, "agent"))
            ts = lambda key: datetime.fromisoformat(record[key].replace("Z", "+00:00")).timestamp()  # noqa: E731
            created, started, finished = ts("created_at"), ts("started_at"), ts("completed_at")
            results.append({
                "webhook + queue wait": created - t0,
                "orchestrator": started - created,
                "agent": finished - started,
                "completion seen": t_done_seen - finished,
                "notion write-back": t_writeback - finished,
                "total": t_writeback - t0,
                # The floor: the pipeline's own Notion calls at Notion's 3 requests a second, plus the agent's own
                # time (its tool calls' Notion requests are inside it, paced too).
                "floor": pipeline_notion / 3.0 + (finished - started),
                "notion pacing": pacing() - paced_before,
            })
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-only", action="store_true", help="only the status change -> write-back latency")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    if args.latency_only:
        return print_latency(args.runs)

    base_wall, _ = time_command([sys.executable, "-c", "import boto3"])
    ready = [dev_time_to_ready() for _ in range(max(1, args.runs // 2))]
    print(f"aidlc dev time to ready: median {statistics.median(ready):.2f} s over {len(ready)} starts "
          f"(baseline 'import boto3' process: {base_wall:.2f} s; ratio {statistics.median(ready) / base_wall:.1f}x)")

    plugins_wall, plugins_peak = time_command(AIDLC + ["plugins", "--json"])
    demo_wall, demo_peak = time_command(AIDLC + ["demo"])
    print(f"aidlc demo: wall {demo_wall:.2f} s, peak RSS {demo_peak:.0f} MiB "
          f"(baseline 'aidlc plugins': {plugins_wall:.2f} s, {plugins_peak:.0f} MiB; "
          f"ratios {demo_wall / plugins_wall:.1f}x time, {demo_peak / plugins_peak:.1f}x memory)")

    print_latency(args.runs)


def print_latency(runs: int) -> None:
    stages = stage_latencies(runs)
    print(f"end-to-end latency, status change -> Notion write-back, mock agent, offline model ({len(stages)} runs):")
    for stage in [k for k in stages[0] if k not in ("floor", "notion pacing")]:
        values = [s[stage] for s in stages]
        share = statistics.median(values) / statistics.median([s["total"] for s in stages]) * 100
        print(f"  {stage:<22} median {statistics.median(values) * 1000:8.1f} ms  ({share:5.1f} % of total)")
    slowest = max((k for k in stages[0] if k not in ("total", "floor", "notion pacing")),
                  key=lambda k: statistics.median(s[k] for s in stages))
    print(f"  slowest stage: {slowest}")
    total, floor = statistics.median(s["total"] for s in stages), statistics.median(s["floor"] for s in stages)
    paced = statistics.median(s["notion pacing"] for s in stages)
    print(f"  Notion rate-limit pacing: median {paced * 1000:.1f} ms ({paced / total * 100:.1f} % of total)")
    print(f"latency: {total * 1000:.0f} ms against a floor of {floor * 1000:.0f} ms ({total / floor:.2f}x; the floor "
          f"is the pipeline's Notion calls at 3/s plus the agent's own time)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

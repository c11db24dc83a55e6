"""Cold import time of each handler module in a fresh process, against a plain boto3 handler with one client.

Each figure is the median of several fresh interpreters (`python -c "import ..."`), interpreter start-up
subtracted. The webhook path must stay light: no strands, mcp or bedrock_agentcore. Run:
.venv/bin/python bench/bench_pipeline_cold_import.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
BASELINE = "import boto3\nclient = boto3.client('sqs', region_name='us-east-1')\ndef handler(event, context): return {}"
MODULES = [
    "runtime.handlers.webhook",
    "runtime.handlers.orchestrator",
    "runtime.handlers.completion",
    "runtime.handlers.api",
    "runtime.handlers.sweepers",
]
# What a handler's first call imports besides the module (the handlers import lazily): the cold start a
# Lambda actually pays before its first answer.
FIRST_CALL = {
    "runtime.handlers.webhook": "runtime.pipeline.webhook, runtime.pipeline.services, runtime.notion.adapter, "
    "runtime.registry, aws_lambda_powertools.utilities.idempotency.persistence.dynamodb, boto3",
    "runtime.handlers.orchestrator": "runtime.pipeline.orchestrator, runtime.pipeline.services, runtime.registry, boto3",
    "runtime.handlers.completion": "runtime.pipeline.completion, runtime.pipeline.services, runtime.notion.adapter, "
    "runtime.registry, boto3",
    "runtime.handlers.api": "runtime.pipeline.api, runtime.pipeline.services, runtime.registry, boto3",
    "runtime.handlers.sweepers": "runtime.pipeline.sweepers, runtime.pipeline.services, runtime.notion.adapter, "
    "runtime.registry, boto3",
}
HEAVY = ("strands", "mcp", "bedrock_agentcore")


def timed_once(code: str) -> tuple[float, str]:
    script = (
        "import time, sys\nstart = time.perf_counter()\n" + code + "\n"
        "elapsed = time.perf_counter() - start\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(elapsed, ','.join(heavy) or '-')"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1",
                              "POWERTOOLS_TRACE_DISABLED": "true"})
    seconds, heavy = out.stdout.split()
    return float(seconds) * 1000, "" if heavy == "-" else heavy


def main() -> None:
    # Round-robin (baseline, then each module, RUNS times) so a busy machine slows every figure alike.
    samples: dict[str, list[float]] = {"baseline": [], **{m: [] for m in MODULES},
                                       **{f"{m}+": [] for m in MODULES}}
    heavy: dict[str, str] = {}
    timed_once(BASELINE)  # warm the file cache once
    for _ in range(RUNS):
        samples["baseline"].append(timed_once(BASELINE)[0])
        for module in MODULES:
            ms, heavy[module] = timed_once(f"import {module}")
            samples[module].append(ms)
            ms, heavy[f"{module}+"] = timed_once(f"import {module}, {FIRST_CALL[module]}")
            samples[f"{module}+"].append(ms)
    base = statistics.median(samples["baseline"])
    print(f"plain boto3 handler with one client: {base:7.1f} ms (median of {RUNS} fresh processes)")
    for module in MODULES:
        ms = statistics.median(samples[module])
        flag = f"  HEAVY IMPORTS: {heavy[module]}" if heavy[module] else ""
        print(f"{module:34s} {ms:7.1f} ms   ratio {ms / base:4.2f}x{flag}")
        ms = statistics.median(samples[f"{module}+"])
        flag = f"  HEAVY IMPORTS: {heavy[module + '+']}" if heavy[module + "+"] else ""
        print(f"{'  + first-call imports':34s} {ms:7.1f} ms   ratio {ms / base:4.2f}x{flag}")


if __name__ == "__main__":
    main()

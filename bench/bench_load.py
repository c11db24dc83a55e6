"""`python bench/bench_load.py N [N ...]`: N stories moved to "Generate Prototype" at once, through mock ->
demo_deck with a concurrency cap of 3, on the real handlers (moto in-process with its DynamoDB atomic, the local
Notion emulator, two pollers per queue; the agent answers at once, so the pipeline is what is measured).

Prints, per N: drain time, runs per second, the exact checks (runs, dashboard rows, cost to the cent, DLQ), and
how the drain time compares with the cap's ideal. The ideal: with runs that take no time, the cap binds only through
the deferral delay: each waiting task retries once per delay, so about ceil(2N / cap) rounds of one delay each.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

CAP = 3
DEFER_SECONDS = 1.0


def main(argv: list[str]) -> int:
    from runtime.local.load import run_load

    sizes = [int(a) for a in argv] or [10, 40, 100]
    print(f"cap {CAP}, deferral {DEFER_SECONDS} s, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'N':>5} {'drain s':>8} {'runs/s':>7} {'ideal s':>8} {'x ideal':>7}  checks")
    failures = 0
    for n in sizes:
        result = run_load(n, cap=CAP, pollers=2, timeout_seconds=max(300, 10 * n),
                          defer_seconds=(DEFER_SECONDS, DEFER_SECONDS))
        ideal = math.ceil(2 * n / CAP) * DEFER_SECONDS
        failed = result.check()
        failures += bool(failed)
        checks = "all exact" if not failed else "; ".join(failed)
        print(f"{n:>5} {result.drain_seconds:>8.1f} {result.runs_per_second:>7.2f} {ideal:>8.1f} "
              f"{result.drain_seconds / ideal:>7.1f}  {checks}")
        print(f"      runs {result.completed_by_agent}, rows {result.rows_by_agent}, "
              f"cost month-to-date ${result.month_to_date} = records ${result.sum_of_records} = expected "
              f"${result.expected_cost}, DLQ {result.dead_lettered}, written back {result.stories_written_back}/{n}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

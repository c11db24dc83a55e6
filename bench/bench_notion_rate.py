"""Sustained write rate of the Notion adapter against the local emulator set to Notion's limit (3 requests/s).

Three runs in one process, on loopback, each a bounded number of block appends to one page:
  baseline   : emulator unlimited, adapter unthrottled   -> what the machine can do
  unthrottled: emulator at 3 req/s, adapter unthrottled  -> the server pushes back with 429 + Retry-After
  throttled  : emulator at 3 req/s, adapter's token bucket at 3 req/s (the production default)
Prints achieved requests/s, 429s seen and the wall time, and each rate as a ratio to the baseline.

    .venv/bin/python bench/bench_notion_rate.py [--writes 24]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.local.notion_emulator import NotionEmulator  # noqa: E402
from runtime.local.server import serve  # noqa: E402
from runtime.notion.adapter import NotionAdapter  # noqa: E402
from runtime.notion.throttle import NOTION_RATE_PER_SECOND, Throttle  # noqa: E402


SERVER_BURST = 10


def run(label: str, state: Path, writes: int, *, server_rate: float | None, throttle: Throttle) -> dict:
    # The server allows a burst of 10 over its 3 req/s average (the emulator's default), as Notion tolerates short
    # bursts; the adapter's own bucket bursts at most 3, so a throttled client never drains the server's slack.
    emulator = NotionEmulator(state / label, requests_per_second=server_rate, burst=SERVER_BURST)
    from runtime.notion.schema import workspace_schema

    seed = emulator.seed_workspace(workspace_schema())
    with serve(emulator.app) as server:
        notion = NotionAdapter(emulator.integration_token, base_url=server.base_url, throttle=throttle, max_retries=10)
        page = notion.create_page(parent_page_id=seed.root_page_id, title=f"bench {label}")
        time.sleep(1.2)  # let the server's bucket refill after set-up so every run starts equal
        notion.stats.requests = notion.stats.rate_limited = notion.stats.retries = 0
        started = time.perf_counter()
        for index in range(writes):
            notion.append_markdown(page["id"], f"write {index}")
        elapsed = time.perf_counter() - started
        requests, rate_limited = notion.stats.requests, notion.stats.rate_limited
        written = notion.read_markdown(page["id"]).split("\n\n")
    assert written == [f"write {i}" for i in range(writes)], "a write was lost or reordered"
    return {
        "label": label,
        "writes": writes,
        "seconds": elapsed,
        "writes_per_s": writes / elapsed,
        "requests": requests,  # the writes' requests, retries included (not the read-back)
        "rate_limited": rate_limited,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        baseline = run("baseline", state, args.writes * 5, server_rate=None, throttle=Throttle.unlimited())
        unthrottled = run("unthrottled", state, args.writes, server_rate=NOTION_RATE_PER_SECOND,
                          throttle=Throttle.unlimited())
        throttled = run("throttled", state, args.writes, server_rate=NOTION_RATE_PER_SECOND,
                        throttle=Throttle(NOTION_RATE_PER_SECOND, burst=3))
    print(f"Notion adapter write rate against the emulator (server limit {NOTION_RATE_PER_SECOND:g} req/s, "
          f"burst {SERVER_BURST}; adapter bucket {NOTION_RATE_PER_SECOND:g} req/s, burst 3)")
    print(f"{'run':<12} {'writes':>6} {'seconds':>8} {'writes/s':>9} {'requests':>8} {'429s':>5} {'vs baseline':>11}")
    for result in (baseline, unthrottled, throttled):
        ratio = result["writes_per_s"] / baseline["writes_per_s"]
        print(f"{result['label']:<12} {result['writes']:>6} {result['seconds']:>8.2f} {result['writes_per_s']:>9.2f}"
              f" {result['requests']:>8} {result['rate_limited']:>5} {ratio:>10.3f}x")
    print(f"throttled / unthrottled write rate: {throttled['writes_per_s'] / unthrottled['writes_per_s']:.2f}x; "
          f"429s avoided: {unthrottled['rate_limited'] - throttled['rate_limited']}")


if __name__ == "__main__":
    main()

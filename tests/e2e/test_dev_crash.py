"""`aidlc dev` killed hard (SIGKILL) in the middle of chains, then started again on the same state: every story ends
written back, the month's cost is the sum of the runs' costs (nothing lost, nothing counted twice), no run twice.

Over 30 s on purpose (about 45 s alone on these 2-core machines; the phases' times are printed): three starts of
the whole stack (8-25 s each) and the chains in between. The first kill comes as soon as the first story's run is
running, so the other stories' tasks die with it (queues and the Notion emulator's webhook deliveries are not kept
across a kill); the next start's reconcile finds their stories with no run and starts them
(runtime/local/stack.py _resume_interrupted, with no grace). That recovery is part of what it tests: nothing is
lost."""

import re
import signal
import time
from decimal import Decimal

import httpx
import pytest

from tests.e2e.dev_process import free_port, notion_as_person, start_dev, wait_until

TERMINAL = {"completed", "failed", "cancelled"}
STORIES = ["Courier confirms delivery with a photo", "Dispatcher sees late couriers", "Customer rates a delivery"]


def runs(port, info):
    listing = httpx.get(f"http://127.0.0.1:{port}/project/{info['project_id']}/invocations?limit=100", timeout=10)
    return listing.json()["invocations"]


@pytest.mark.slow
def test_hard_kills_mid_chain_lose_nothing_and_repeat_nothing(tmp_path):
    port, state, log = free_port(), tmp_path / "state", tmp_path / "dev.log"
    began = time.monotonic()

    def phase(what):  # the stack's log has no times: these say where the test's time goes
        print(f"{time.monotonic() - began:6.1f} s  {what}")

    proc, info = start_dev(port, state, log)
    phase("started")
    notion = notion_as_person(info)
    pages = []
    for title in STORIES:
        pages.append(notion.post("/v1/pages", json={
            "parent": {"type": "data_source_id", "data_source_id": info["stories_data_source_id"]},
            "properties": {"Name": {"title": [{"text": {"content": title}}]},
                           "Acceptance Criteria": {"rich_text": [{"text": {"content": "- It works"}}]}},
        }).json()["id"])
    for page in pages:
        notion.patch(f"/v1/pages/{page}", json={"properties": {"Status": {"status": {"name": "Generate Prototype"}}}})

    # Kill 1: as soon as a run is running (an agent mid-run, others queued or not yet received).
    wait_until(lambda: any(r["status"] == "running" for r in runs(port, info)), "a run to be running")
    proc.kill()
    proc.wait(10)
    phase("killed while a run was running")

    # Kill 2: after the restart, as soon as a chain moves on (a completed run, or a chained demo deck recorded).
    proc, info = start_dev(port, state, log)
    phase("started again")

    def moved_on():
        current = runs(port, info)
        if all(r["status"] in TERMINAL for r in current):
            return current or None  # (every run of the first start may have been interrupted, so failed)
        return [r for r in current if r["status"] == "completed" or r["agent_type"] == "demo_deck"]

    at_second = wait_until(moved_on, "a chain to move on after the first restart")
    proc.kill()
    proc.wait(10)
    phase("killed as a chain moved on")

    # The last start: everything ends, and is written back.
    proc, info = start_dev(port, state, log)
    phase("started a last time")
    try:
        last_seen = []

        def settled():
            # Every run ended, and the last of each chain written back (a chained parent's story is written by its
            # child), for every story.
            current = last_seen[:] = [r for r in runs(port, info) if r["notion_page_id"] in pages]
            parents = {r.get("parent_invocation_id") for r in current}
            done = current and all(r["status"] in TERMINAL for r in current) and all(
                r["delivery_status"] == "delivered" for r in current if r["invocation_id"] not in parents)
            return current if done and {r["notion_page_id"] for r in current} == set(pages) else None

        try:
            final = wait_until(settled, "every run to end and be written back", timeout=180)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {[(r['agent_type'], r['status'], r['delivery_status']) for r in last_seen]}")
        phase("every run ended and written back")
        cost = httpx.get(f"http://127.0.0.1:{port}/project/{info['project_id']}/cost-summary", timeout=10).json()
        notion = notion_as_person(info)
        statuses = {page: notion.get(f"/v1/pages/{page}").json()["properties"]["Status"]["status"]["name"]
                    for page in pages}
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        print(f"\nSIGTERM -> exit {code} in {time.monotonic() - started:.2f} s")
    output = log.read_text()
    assert code == 0 and "stopped; state kept in" in output, output
    replays = [int(n) for n in re.findall(r"(\d+) journaled writes\s+replayed", output)]
    assert len(replays) == 3 and replays[0] == 0 and replays[1] > 0 and replays[2] > replays[1], replays

    print("killed second at:", sorted((r["agent_type"], r["status"]) for r in at_second))
    print("final:", sorted((r["agent_type"], r["status"], r.get("error_code")) for r in final))
    # No run twice: one record per story and agent, and the ids unique.
    keys = [(r["notion_page_id"], r["agent_type"]) for r in final]
    assert len(keys) == len(set(keys)), keys
    assert len({r["invocation_id"] for r in final}) == len(final)
    # Every story written back: its status in Notion is no longer the trigger (a result or a failure was written).
    print("story statuses:", statuses)
    assert "Generate Prototype" not in statuses.values(), statuses
    # Nothing lost, nothing counted twice: the month's cost is the sum of the runs' costs.
    total = sum(Decimal(str(r.get("cost_usd") or 0)) for r in final)
    assert Decimal(str(cost["month_to_date_usd"])) == total, (cost, total)
    assert total > 0
    # The interrupted runs were failed by the resume, with their reservations released (nothing left running).
    interrupted = [r for r in final if r["status"] == "failed"]
    assert all("local stack stopped" in (r.get("error_detail") or "") for r in interrupted), interrupted

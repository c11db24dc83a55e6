"""Load: 40 stories moved to "Generate Prototype" at once, with a concurrency cap of 3, through the real handlers
(moto in-process with its DynamoDB atomic, the Notion emulator, several concurrent pollers per queue and no
serialising fixture): every mock run and every chained demo deck completes and is written back, one dashboard row
each, the month-to-date cost equals the sum of the runs' costs to the cent, nothing in any DLQ, no slot or
reservation left held.

This takes longer than most tests (about 30-60 s on an idle 2-core machine): 80 runs pass through a cap of 3, and
waiting tasks come back after their deferral delay (1 s here), which is what is under test."""

from __future__ import annotations

from runtime.local.load import run_load


def test_forty_concurrent_stories_with_a_cap_of_three_all_complete_exactly():
    result = run_load(40, cap=3, pollers=2, timeout_seconds=600, defer_seconds=(1.0, 1.0))
    assert result.check() == []
    assert result.runs_by_agent == {"mock": 40, "demo_deck": 40}  # each run once: no duplicate from redelivery


def test_the_load_checks_can_fail():
    """The exact checks notice what went wrong (they are not satisfied by construction)."""
    result = run_load(2, cap=1, pollers=1, timeout_seconds=300, defer_seconds=(1.0, 1.0))
    assert result.check() == []
    result.rows_by_agent["mock"] -= 1
    result.month_to_date += 1
    result.dead_lettered["tasks"] = 1
    failed = result.check()
    assert any("dashboard rows" in f for f in failed) and any("cost" in f for f in failed)
    assert any("dead-lettered" in f for f in failed)

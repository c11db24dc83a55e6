"""Faults in the middle of a write-back: a long Notion outage loses no status, comment or dashboard row (the
sweeper re-delivers), and a create Notion applied but answered 504 is looked up before it is repeated, so each is
written exactly once."""

from __future__ import annotations

from runtime.errors import ErrorCode
from runtime.models import InvocationStatus
from runtime.notion.adapter import plain_properties
from tests.pipeline.test_completion import dashboard_rows, mock_done, run_story_to_completion


def comments_for(env, page_id: str, invocation_id: str) -> list[str]:
    texts = ["".join(t.get("plain_text", "") for t in c["rich_text"]) for c in env.bot.list_comments(page_id)]
    return [t for t in texts if f"(invocation {invocation_id})" in t]


def clear_faults(emulator) -> None:
    with emulator.store.lock:
        emulator._injected.clear()
        emulator._injected_after_apply.clear()


def test_a_write_back_lost_to_a_long_outage_is_redelivered_once_notion_is_back(notion_pipeline):
    p = notion_pipeline
    env = p.notion_env
    story, invocation_id = run_story_to_completion(p, "Outage then recovery")
    env.emulator.inject_failures(503, 200)  # longer than every retry of the write-back
    try:
        p.run_completion([mock_done(invocation_id)])
        assert p.record(invocation_id).delivery_status == "failed"
        assert p.services.sweepers.redeliver() == []  # still down: kept for the next sweep
    finally:
        clear_faults(env.emulator)
    assert p.record(invocation_id).delivery_status == "failed"
    assert p.services.sweepers.redeliver() == [invocation_id]
    record = p.record(invocation_id)
    assert record.delivery_status == "delivered" and record.error_code is None
    assert plain_properties(env.bot.retrieve_page(story["id"]))["Status"] == "Prototype Ready"
    assert len(comments_for(env, story["id"], invocation_id)) == 1
    assert len(dashboard_rows(env, invocation_id)) == 1
    assert p.services.sweepers.redeliver() == []  # delivered: nothing more to do


def test_a_comment_and_a_row_applied_but_answered_504_are_not_written_twice(notion_pipeline):
    p = notion_pipeline
    env = p.notion_env
    story, invocation_id = run_story_to_completion(p, "Applied but 504")
    env.emulator.inject_failures_after_apply(504, 1, path="comments")
    env.emulator.inject_failures_after_apply(504, 1, path="pages")  # POST /v1/pages: the dashboard row
    try:
        p.run_completion([mock_done(invocation_id)])
        assert env.emulator._injected_after_apply == []  # both faults fired
    finally:
        clear_faults(env.emulator)
    record = p.record(invocation_id)
    assert record.status == InvocationStatus.COMPLETED and record.delivery_status == "delivered", record
    assert len(comments_for(env, story["id"], invocation_id)) == 1
    assert len(dashboard_rows(env, invocation_id)) == 1


def test_a_redelivery_after_a_partial_write_back_adds_only_what_is_missing(notion_pipeline):
    p = notion_pipeline
    env = p.notion_env
    story, invocation_id = run_story_to_completion(p, "Partial write-back")
    # The comment goes through, then Notion goes down before the dashboard row.
    env.emulator.inject_failures(503, 0)
    p.services.sweepers  # built before the outage
    original = p.services.writeback

    def writeback_failing_rows():
        wb = original()
        make_row = wb._dashboard_row

        def down(*args, **kwargs):
            raise __import__("runtime.notion.errors", fromlist=["NotionUnavailable"]).NotionUnavailable(
                "down", status=503, code="service_unavailable")

        wb._dashboard_row = down
        wb._restore = make_row
        return wb

    p.services.writeback = writeback_failing_rows
    p.services.completion._writeback = writeback_failing_rows
    p.run_completion([mock_done(invocation_id)])
    assert p.record(invocation_id).error_code == ErrorCode.DELIVERY_FAILED
    assert len(comments_for(env, story["id"], invocation_id)) == 1 and dashboard_rows(env, invocation_id) == []
    p.services.writeback = original
    p.services.sweepers._writeback = original
    assert p.services.sweepers.redeliver() == [invocation_id]
    assert len(comments_for(env, story["id"], invocation_id)) == 1  # not posted again
    assert len(dashboard_rows(env, invocation_id)) == 1

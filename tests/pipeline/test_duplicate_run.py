"""One story edit, one run: the two ways a second run of the same story was started beside the first (seen once in
the local stack under load, tests/e2e/test_local_stack.py's dropped-in plugin), reproduced by ordering the steps
deterministically against moto and the Notion emulator.

1. Notion reports one edit in two events (page.created is fetched when it is handled, so it sees the Status a
   person set a moment later; then page.properties_updated). Under load the second event's page is read while the
   first run is still going, but its task is sent only after that run finished (the snapshot's block reads wait on
   Notion's rate limit): the orchestrator took it for a person's re-trigger within the minute and started a second
   run.
2. A person edits another property of a story whose run is still in flight: reconcile saw a story sitting in its
   trigger status, edited after its last run started, and started a second run beside it.

Each test failed before its fix."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from runtime.models import CompletionEvent
from tests.pipeline.webhook_fixtures import deliver, story_with_a_run, subscribed  # noqa: F401  (a fixture)


def _runs(p, page_id: str, agent: str = "mock") -> list:
    return [r for r in p.invocations() if r.notion_page_id == page_id and r.agent_type == agent]


def _finish(p, invocation_id: str) -> None:
    """The agent reports; the completion step records the run and writes it back (Status -> its completion value)."""
    session_id = p.services.invocations.get(invocation_id).record.session_id
    p.run_completion([CompletionEvent(invocation_id=invocation_id, agent_type="mock", status="completed",
                                      summary="done", session_id=session_id)])


def test_a_second_event_for_the_edit_sent_after_its_run_finished_starts_no_second_run(subscribed, monkeypatch):
    p = subscribed
    env = p.notion_env
    story, first = story_with_a_run(p, "Reported twice, the second time late", event_type="page.created")
    assert [r.status.value for r in _runs(p, story["id"])] == ["running"]

    # The second event's page is read now, while the run is in flight; its snapshot (the page's blocks) is read
    # next, and the run finishes and is written back meanwhile (the interleaving a loaded machine produced).
    read_snapshot = env.bot.page_snapshot

    def snapshot_while_the_run_finishes(page):
        monkeypatch.setattr(env.bot, "page_snapshot", read_snapshot)
        _finish(p, first["invocation_id"])
        return read_snapshot(page)

    monkeypatch.setattr(env.bot, "page_snapshot", snapshot_while_the_run_finishes)
    second = deliver(p, story)
    assert second["status"] == "enqueued" and second["invocation_id"] == first["invocation_id"]  # the same edit
    assert env.bot.retrieve_page(story["id"])["properties"]["Status"]["status"]["name"] == "Prototype Ready"
    p.drain()
    runs = _runs(p, story["id"])
    assert [(r.invocation_id, r.status.value) for r in runs] == [(first["invocation_id"], "completed")]


def test_a_persons_retrigger_after_the_write_back_is_still_a_new_run(subscribed):
    # The other side of the line drawn above: the story was written back (it left its trigger status), then a
    # person set the trigger again (within the same minute of edit time, or not): a second run, as asked.
    p = subscribed
    env = p.notion_env
    story, first = story_with_a_run(p, "Run it again")
    _finish(p, first["invocation_id"])
    env.user.set_status(story["id"], "Status", "Generate Prototype")
    again = env.user.retrieve_page(story["id"])
    deliver(p, again, event_id="evt-run-it-again")
    p.drain()
    runs = _runs(p, story["id"])
    assert len(runs) == 2 and len({r.invocation_id for r in runs}) == 2


def test_a_persons_other_edit_while_the_run_is_in_flight_is_no_missed_trigger(subscribed, monkeypatch):
    from runtime.local import notion_emulator

    p = subscribed
    env = p.notion_env
    story, first = story_with_a_run(p, "Edited while its run works")
    # Ten minutes into the run (a long agent run), the person changes the story's Priority, not its Status.
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    monkeypatch.setattr(notion_emulator, "_now", lambda: later.strftime("%Y-%m-%dT%H:%M:00.000Z"))
    env.user.update_properties(story["id"], {"Priority": {"select": {"name": "High"}}})
    assert env.user.retrieve_page(story["id"])["last_edited_time"] != story["last_edited_time"]

    sweepers = p.services.sweepers
    sweepers.clock = lambda: later + timedelta(minutes=5)  # past reconcile's grace for that edit
    sweepers.reconcile()
    p.drain()
    assert [r.invocation_id for r in _runs(p, story["id"])] == [first["invocation_id"]]

    # Once the run is over and written back, the story is no longer in its trigger status: still nothing to do.
    _finish(p, first["invocation_id"])
    sweepers.reconcile()
    p.drain()
    assert [r.invocation_id for r in _runs(p, story["id"])] == [first["invocation_id"]]

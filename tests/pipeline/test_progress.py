"""The pipeline side of a run's heartbeats (issue 15 item 5, issue 16): a beat is one conditional UpdateItem, and a
beat carrying the run's progress writes the story's progress property once, through the write-back; a beat that
is not believed (another session, a run no longer running) writes nothing anywhere."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.models import Heartbeat, InvocationStatus, RunProgress
from runtime.notion.adapter import observe_requests, plain_properties
from runtime.notion.schema import PROGRESS_PROPERTY
from runtime.pipeline.sweepers import record_heartbeat
from runtime.pipeline.writeback import progress_text
from tests.pipeline.conftest import new_story
from tests.pipeline.test_orchestrator import task


class DynamoCalls:
    """The operations a botocore client sends (its before-call event), for exact counts."""

    def __init__(self, client) -> None:
        self.operations: list[str] = []
        self._client = client
        client.meta.events.register("before-call.dynamodb", self._seen)

    def _seen(self, model, **_kwargs) -> None:
        self.operations.append(model.name)

    def close(self) -> None:
        self._client.meta.events.unregister("before-call.dynamodb", self._seen)


@pytest.fixture
def notion_requests():
    seen: list[str] = []
    stop = observe_requests(lambda request: seen.append(f"{request.method} {request.url.path}"))
    yield seen
    stop()


def running(p, page_id: str = "page-1"):
    message = task(p, page_id)
    p.drain()
    record = p.record(message.invocation_id)
    assert record.status == InvocationStatus.RUNNING
    return record


def beat(record, session_id: str | None = "same", progress: RunProgress | None = None) -> Heartbeat:
    return Heartbeat(kind="heartbeat", invocation_id=record.invocation_id, agent_type=record.agent_type,
                     session_id=record.session_id if session_id == "same" else session_id, progress=progress)


def test_a_beat_is_one_conditional_update_with_the_same_refusals(pipeline):
    p = pipeline
    record = running(p)
    invocations = p.services.invocations
    calls = DynamoCalls(invocations.client)
    try:
        assert record_heartbeat(invocations, beat(record)) is True
        assert record_heartbeat(invocations, beat(record, session_id=None)) is True  # no session named: believed
        assert record_heartbeat(invocations, beat(record, session_id="another-session-" + "x" * 20)) is False
        other = running(p, "page-2")
        p.services.api.cancel(other.invocation_id)
        calls.operations.clear()
        assert record_heartbeat(invocations, beat(other)) is False  # no longer running
        unknown = record.model_copy(update={"invocation_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ"})
        assert record_heartbeat(invocations, beat(unknown)) is False  # and an unknown run is not created
    finally:
        calls.close()
    assert calls.operations == ["UpdateItem", "UpdateItem"]  # one request per beat, no read before it
    assert p.services.invocations.get(unknown.invocation_id) is None
    raw = invocations.get(record.invocation_id).raw
    assert raw["heartbeat_at"] and raw["status"] == "running"


def test_a_progress_beat_writes_the_story_property_once(notion_pipeline, notion_requests):
    from runtime.handlers import completion

    p = notion_pipeline
    story = new_story(p.notion_env, "Progress story")
    record = running(p, story["id"])
    progress = RunProgress(step="calling github_commit_files", tool_calls=7, elapsed_seconds=72,
                           cost_usd=Decimal("0.041"))

    def deliver(heartbeat: Heartbeat) -> dict:
        p.sqs.send_message(QueueUrl=p.queue_url("completions"), MessageBody=heartbeat.model_dump_json())
        notion_requests.clear()
        return p._deliver(completion.handler, "completions", None)

    assert deliver(beat(record, progress=progress))["batchItemFailures"] == []
    assert notion_requests == [f"PATCH /v1/pages/{story['id']}"]  # the page came with the update: nothing read
    shown = plain_properties(p.notion_env.user.retrieve_page(story["id"]))[PROGRESS_PROPERTY]
    assert shown == progress_text(progress) == \
        "Running: calling github_commit_files · 7 tool calls · 1 min 12 s · $0.04"
    assert p.services.invocations.get(record.invocation_id).raw["progress"]["tool_calls"] == 7

    # a beat with no progress, and one from a session the orchestrator did not start: no Notion request at all
    deliver(beat(record))
    assert notion_requests == []
    deliver(beat(record, session_id="another-session-" + "x" * 20,
                 progress=progress.model_copy(update={"step": "forged"})))
    assert notion_requests == []
    assert plain_properties(p.notion_env.user.retrieve_page(story["id"]))[PROGRESS_PROPERTY] == shown


def test_a_story_without_the_property_is_asked_once(notion_pipeline, notion_requests):
    """A workspace set up before the property existed: the refused write is not repeated on every beat."""
    from runtime.pipeline.writeback import NotionWriteBack

    p = notion_pipeline
    writeback = NotionWriteBack(p.notion_env.bot, retry_delays=())
    page = p.notion_env.user.create_page(parent_page_id=p.notion_env.seed.root_page_id, title="Not a story")
    progress = RunProgress(step="model turn 1")
    notion_requests.clear()
    assert writeback.progress(page["id"], progress) is False
    assert writeback.progress(page["id"], progress) is False
    assert len(notion_requests) == 1


def test_the_runs_end_is_shown_in_the_status_patch_itself(notion_pipeline, notion_requests):
    """The write-back's one PATCH sets the status and says how the run ended in the progress property; a story
    whose data source lacks the property gets the status alone, in one PATCH all the same."""
    from runtime.models import CompletionEvent

    p = notion_pipeline
    story = new_story(p.notion_env, "Finished story")
    record = running(p, story["id"])
    notion_requests.clear()
    p.run_completion([CompletionEvent(invocation_id=record.invocation_id, agent_type=record.agent_type,
                                      session_id=record.session_id, status="completed", summary="made it",
                                      cost_usd=Decimal("0.12"))])
    patches = [r for r in notion_requests if r == f"PATCH /v1/pages/{story['id']}"]
    assert len(patches) == 1
    shown = plain_properties(p.notion_env.user.retrieve_page(story["id"]))
    from runtime.registry import get_registry

    assert shown["Status"] == get_registry().get(record.agent_type).completion_status
    assert shown[PROGRESS_PROPERTY].startswith("Finished: completed in ")


def test_set_status_sends_only_the_properties_the_page_has(notion_env, notion_requests):
    page = notion_env.user.create_page(parent_data_source_id=notion_env.seed.stories_data_source_id, title="S")
    notion_requests.clear()
    notion_env.bot.set_status(page["id"], "Status", "Backlog", more={
        PROGRESS_PROPERTY: {"rich_text": [{"type": "text", "text": {"content": "Finished"}}]},
        "No Such Column": {"rich_text": []}})
    assert notion_requests == [f"GET /v1/pages/{page['id']}", f"PATCH /v1/pages/{page['id']}"]
    shown = plain_properties(notion_env.user.retrieve_page(page["id"]))
    assert shown["Status"] == "Backlog" and shown[PROGRESS_PROPERTY] == "Finished"

"""The reconcile sweeper also finds runs left `queued` with no task on the queue, and sends them again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from runtime.models import InvocationRecord, InvocationStatus, new_ulid


def test_a_run_left_queued_without_a_message_is_requeued_once_and_then_starts(pipeline):
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    record = InvocationRecord(invocation_id=new_ulid(), notion_page_id="page-lost", workspace_id="ws",
                              project_id="acme", agent_type="mock", trigger_value="Generate Prototype",
                              created_at=old, input_context={"story": {"title": "Lost story", "page_id": "page-lost"},
                                                             "chain_context": {}})
    fresh = InvocationRecord(invocation_id=new_ulid(), notion_page_id="page-new", workspace_id="ws",
                             project_id="acme", agent_type="mock", trigger_value="Generate Prototype")
    for r in (record, fresh):
        pipeline.services.invocations.create(r)
    assert pipeline.queue_depth() == 0  # the message is gone (lost, or dead-lettered)
    sweepers = pipeline.services.sweepers
    assert sweepers.requeue_stranded() == [record.invocation_id]  # not the one queued a moment ago
    assert sweepers.requeue_stranded() == []  # once per interval, not every sweep
    pipeline.drain()
    assert pipeline.record(record.invocation_id).status == InvocationStatus.RUNNING
    assert [r.invocation_id for r in pipeline.invoker.requests] == [record.invocation_id]
    assert pipeline.invoker.requests[0].story.title == "Lost story"

"""The orchestrator: SQS batches in, records, atomic budget and concurrency, the invoker boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.errors import ErrorCode
from runtime.models import InvocationStatus, PageSnapshot, QueueMessage, new_ulid
from runtime.pipeline.ports import InvokeError, TransientInvokeError
from tests.pipeline.conftest import build_pipeline, make_project


def task(p, page_id: str = "page-1", agent: str = "mock", trigger: str = "Generate Prototype") -> QueueMessage:
    message = QueueMessage(
        invocation_id=new_ulid(), workspace_id="ws", notion_page_id=page_id, agent_type=agent,
        trigger_value=trigger, project_id=p.project.project_id,
        page_snapshot=PageSnapshot(page_id=page_id, title=f"Story {page_id}",
                                   properties={"Acceptance Criteria": "- works"}),
    )
    p.services.queue.publish(message)
    return message


@pytest.fixture
def capped(aws_names):
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project(concurrency_limit=2, cost_limit_per_month=Decimal("100"),
                                                agent_chain_template="custom"))
    set_services(p.services)
    yield p
    set_services(None)


def test_a_task_starts_one_run_with_a_long_session_id(pipeline):
    message = task(pipeline)
    pipeline.drain()
    record = pipeline.record(message.invocation_id)
    assert record.status == InvocationStatus.RUNNING
    assert record.reserved_usd == Decimal("5")
    assert len(record.session_id) >= 33 and message.invocation_id in record.session_id
    [request] = pipeline.invoker.requests
    assert request.invocation_id == message.invocation_id
    assert request.session_id == record.session_id
    assert request.story.title == "Story page-1"
    assert request.budget.cost_limit_usd == Decimal("5")
    budget = pipeline.services.projects.budget("acme")
    assert budget.reserved == Decimal("5") and pipeline.services.projects.running("acme") == 1


def test_redelivery_of_the_same_message_starts_nothing_more(pipeline):
    message = task(pipeline)
    [delivered] = pipeline.receive()
    assert pipeline.run_orchestrator([delivered]) == {"batchItemFailures": []}
    # SQS may deliver a message again (a visibility timeout passed while the first worker ran): same body.
    again = dict(delivered, MessageId="redelivered", ReceiptHandle=delivered["ReceiptHandle"])
    pipeline.run_orchestrator([again])
    assert len(pipeline.invoker.requests) == 1
    assert pipeline.services.projects.budget("acme").reserved == Decimal("5")
    assert pipeline.services.projects.running("acme") == 1
    assert pipeline.record(message.invocation_id).status == InvocationStatus.RUNNING


def test_budget_exhaustion_fails_the_run_with_remediation_and_invokes_nothing(aws_names):
    from runtime.pipeline.state.projects import budget_month
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project(cost_limit_per_month=Decimal("12")))
    set_services(p.services)
    try:
        # $8 already spent this month: a $5 run can't fit, whatever else is running. (Budget merely reserved by
        # runs in flight makes a task wait instead: tests/pipeline/test_deferral.py.)
        p.services.dynamodb.update_item(
            TableName=p.services.projects.table_name, Key={"pk": {"S": f"budget#acme#{budget_month()}"}},
            UpdateExpression="ADD month_to_date :s, committed :s", ExpressionAttributeValues={":s": {"N": "8"}})
        refused = task(p, "a")
        p.drain()
        assert p.invoker.requests == []
        record = p.record(refused.invocation_id)
        assert record.status == InvocationStatus.FAILED
        assert record.error_code == ErrorCode.BUDGET_EXCEEDED
        assert "monthly limit of $12" in record.error_detail
        assert p.services.projects.budget("acme").reserved == Decimal("0")
        assert p.services.projects.running("acme") == 0
        assert p.queue_depth("tasks") == 0
    finally:
        set_services(None)


def test_concurrency_cap_leaves_the_excess_in_the_queue_until_a_slot_frees(capped):
    from runtime.models import CompletionEvent

    messages = [task(capped, f"page-{i}") for i in range(3)]
    capped.drain()
    started = {r.invocation_id for r in capped.invoker.requests}
    assert len(started) == 2
    waiting = next(m for m in messages if m.invocation_id not in started)
    assert capped.record(waiting.invocation_id).status == InvocationStatus.QUEUED
    assert capped.queue_depth("tasks") == 1  # not dropped
    assert capped.services.projects.running("acme") == 2

    done = next(iter(started))
    capped.run_completion([CompletionEvent(invocation_id=done, agent_type="mock", status="completed")])
    assert capped.services.projects.running("acme") == 1
    capped.drain()
    assert capped.record(waiting.invocation_id).status == InvocationStatus.RUNNING
    assert capped.queue_depth("tasks") == 0


def test_transient_invoke_errors_are_retried_after_30_and_60_seconds(pipeline):
    pipeline.invoker.failures = [TransientInvokeError("throttled"), TransientInvokeError("503")]
    message = task(pipeline)
    pipeline.drain()
    assert pipeline.sleeps == [30.0, 60.0]
    assert pipeline.record(message.invocation_id).status == InvocationStatus.RUNNING
    assert len(pipeline.invoker.requests) == 1


def test_a_third_transient_failure_fails_the_run_and_releases_everything(pipeline):
    pipeline.invoker.failures = [TransientInvokeError("x"), TransientInvokeError("y"), TransientInvokeError("z")]
    message = task(pipeline)
    pipeline.drain()
    record = pipeline.record(message.invocation_id)
    assert record.status == InvocationStatus.FAILED
    assert record.error_code == ErrorCode.AGENT_ERROR and "z" in record.error_detail
    assert pipeline.sleeps == [30.0, 60.0]
    budget = pipeline.services.projects.budget("acme")
    assert budget.reserved == Decimal("0") and budget.month_to_date == Decimal("0")
    assert pipeline.services.projects.running("acme") == 0
    assert pipeline.queue_depth("tasks") == 0


def test_a_permanent_invoke_error_is_not_retried(pipeline):
    pipeline.invoker.failures = [InvokeError("no runtime for agent 'mock'")]
    message = task(pipeline)
    pipeline.drain()
    assert pipeline.sleeps == []
    assert pipeline.record(message.invocation_id).error_code == ErrorCode.AGENT_ERROR


def test_an_unknown_agent_fails_with_agent_error(pipeline):
    message = task(pipeline, agent="nobody_here")
    pipeline.drain()
    record = pipeline.record(message.invocation_id)
    assert record.status == InvocationStatus.FAILED and "nobody_here" in record.error_detail
    assert pipeline.invoker.requests == []


def test_a_malformed_message_is_reported_failed_not_swallowed(pipeline):
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url("tasks"), MessageBody='{"not": "a task"}',
                              MessageGroupId="g", MessageDeduplicationId="d")
    response = pipeline.run_orchestrator()
    assert len(response["batchItemFailures"]) == 1
    assert pipeline.invocations() == []

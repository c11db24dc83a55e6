"""Waiting is not failing: tasks over the concurrency cap, or waiting for budget that runs in flight hold, are
deferred with a growing delay and never dead-lettered, however often they come back."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from runtime import resources
from runtime.cost import OFFLINE_MODEL_ID
from runtime.models import CompletionEvent, InvocationStatus, PageSnapshot, QueueMessage, TokenUsage, new_ulid
from runtime.pipeline.deferral import DEFERRALS_ATTRIBUTE, SqsDeferral, WaitingMessage, deferral_delay
from tests.pipeline.conftest import build_pipeline, make_project


def test_the_delay_doubles_from_the_first_and_stops_at_the_cap():
    assert [deferral_delay(n, 10, 900) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert deferral_delay(10_000, 10, 900) == 900  # no overflow however long it waits
    assert deferral_delay(3, 0, 0) == 0


def with_dlq(p) -> str:
    """Give the tests' task queue the redrive the deployed one has (resources.TASKS.max_receive_count)."""
    sqs, url = p.sqs, p.queue_url("tasks")
    dlq = sqs.create_queue(QueueName="t-tasks-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": resources.TASKS.max_receive_count})})
    return dlq


def depth(p, url: str) -> int:
    attributes = p.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def publish(p, page_id: str) -> str:
    message = QueueMessage(invocation_id=new_ulid(), workspace_id="ws", notion_page_id=page_id, agent_type="mock",
                           trigger_value="Generate Prototype", project_id="acme",
                           page_snapshot=PageSnapshot(page_id=page_id, title=f"Story {page_id}"))
    p.services.queue.publish(message)
    return message.invocation_id


def finish_started_runs(p, done: set[str]) -> None:
    """The agents report back: every run started so far completes (cheaply), releasing its slot."""
    events = [CompletionEvent(invocation_id=r.invocation_id, agent_type=r.agent_type, session_id=r.session_id,
                              status="completed", model_id=OFFLINE_MODEL_ID,
                              token_usage=TokenUsage(input_tokens=1000, output_tokens=100))
              for r in p.invoker.requests if r.invocation_id not in done]
    done.update(e.invocation_id for e in events)
    if events:
        p.run_completion(events)


@pytest.fixture
def capped(aws_names):
    from runtime.pipeline.services import set_services

    # No delay: the test spins through many more receives than the redrive allows, without waiting for real.
    p = build_pipeline(aws_names, make_project(concurrency_limit=3, agent_chain_template="custom"),
                       defer_seconds=(0.0, 0.0))
    set_services(p.services)
    yield p
    set_services(None)


def test_three_slots_and_twenty_waiting_tasks_all_run_and_none_is_dead_lettered(capped):
    from runtime.handlers import orchestrator
    from runtime.local.lambda_shim import SqsPoller

    p = capped
    dlq = with_dlq(p)
    ids = [publish(p, f"page-{i}") for i in range(20)]
    poller = SqsPoller("orchestrator", p.queue_url("tasks"), orchestrator.handler, sqs_client=p.sqs, wait_seconds=0)
    deferred: Counter[str] = Counter()
    defer = p.services.deferral.defer

    def counting_defer(message, *, invocation_id):
        deferred[invocation_id] += 1
        return defer(message, invocation_id=invocation_id)

    p.services.deferral.defer = counting_defer
    done: set[str] = set()
    most_running = 0
    for _ in range(400):
        if poller.poll_once() == 0 and len(done) == 20:
            break
        most_running = max(most_running, p.services.projects.running("acme"))
        finish_started_runs(p, done)
    assert depth(p, dlq) == 0
    assert sorted(done) == sorted(ids)
    assert {p.record(i).status for i in ids} == {InvocationStatus.COMPLETED}
    assert most_running == 3  # the cap held
    # The waiting really outlasted the redrive: some task was deferred more often than SQS would receive it.
    assert max(deferred.values()) > resources.TASKS.max_receive_count


def test_a_task_near_the_redrive_limit_is_sent_again_with_its_deferral_count():
    sent = []

    class Recorder:
        def change_message_visibility(self, **kwargs):
            sent.append(("visibility", kwargs))

        def send_message(self, **kwargs):
            sent.append(("send", kwargs))

    deferral = SqsDeferral("https://sqs/q.fifo", Recorder(), first_seconds=10, max_seconds=900, max_receive_count=3)
    record = {"receiptHandle": "r", "body": "{}", "attributes": {"ApproximateReceiveCount": "1",
                                                                  "MessageGroupId": "page"},
              "messageAttributes": {DEFERRALS_ATTRIBUTE: {"stringValue": "4", "dataType": "Number"}}}
    assert deferral.defer(WaitingMessage.from_record(record), invocation_id="inv") is True
    assert sent[-1] == ("visibility", {"QueueUrl": "https://sqs/q.fifo", "ReceiptHandle": "r",
                                       "VisibilityTimeout": 160})  # the 5th deferral: 10 s doubled 4 times
    record["attributes"]["ApproximateReceiveCount"] = "2"
    assert deferral.defer(WaitingMessage.from_record(record), invocation_id="inv") is False
    kind, kwargs = sent[-1]
    assert kind == "send" and kwargs["MessageGroupId"] == "page"
    assert kwargs["MessageDeduplicationId"] == "inv-wait-5"  # not the original's: SQS would drop the copy
    assert kwargs["MessageAttributes"][DEFERRALS_ATTRIBUTE]["StringValue"] == "5"


def test_budget_held_by_runs_in_flight_waits_instead_of_failing(aws_names):
    """$10 a month, $5 per run: two runs in flight hold it all. The third waits; before, it failed
    BUDGET_EXCEEDED with nothing spent."""
    from runtime.handlers import orchestrator
    from runtime.local.lambda_shim import SqsPoller
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project(concurrency_limit=5, cost_limit_per_month=Decimal("10"),
                                               agent_chain_template="custom"), defer_seconds=(0.0, 0.0))
    set_services(p.services)
    try:
        ids = [publish(p, f"page-{i}") for i in range(3)]
        poller = SqsPoller("orchestrator", p.queue_url("tasks"), orchestrator.handler, sqs_client=p.sqs,
                           wait_seconds=0)
        poller.poll_once()
        assert len(p.invoker.requests) == 2
        waiting = next(i for i in ids if i not in {r.invocation_id for r in p.invoker.requests})
        assert p.record(waiting).status == InvocationStatus.QUEUED and p.record(waiting).error_code is None
        done: set[str] = set()
        finish_started_runs(p, done)
        for _ in range(10):
            poller.poll_once()
        assert p.record(waiting).status == InvocationStatus.RUNNING
        assert p.services.projects.budget("acme").month_to_date < Decimal("1")
    finally:
        set_services(None)

"""Completion events are not believed on their word: only the session the orchestrator started, for the agent it
started, may finish a run; a cost past the reservation is flagged and its links are not posted."""

from __future__ import annotations

from decimal import Decimal

from runtime.cost import OFFLINE_MODEL_ID, cost_usd
from runtime.models import CompletionEvent, InvocationStatus, TokenUsage, new_ulid
from tests.pipeline.completion_fixtures import prototype, queued_run

FOREIGN = "https://evil.example/phish"


def started_run(p) -> str:
    invocation_id = queued_run(p, "page-1")
    p.drain()
    assert p.record(invocation_id).status == InvocationStatus.RUNNING
    return invocation_id


def forged(invocation_id: str, **overrides) -> CompletionEvent:
    fields = dict(invocation_id=invocation_id, agent_type="mock", status="completed", model_id=OFFLINE_MODEL_ID,
                  token_usage=TokenUsage(input_tokens=1000, output_tokens=100),
                  artifacts=[prototype(invocation_id, url=FOREIGN)])
    fields.update(overrides)
    return CompletionEvent(**fields)


def send_as_is(p, events: list[CompletionEvent]) -> None:
    """Onto the completion queue exactly as given (`run_completion` adds the run's session id when one is missing)."""
    from runtime.handlers import completion

    for event in events:
        p.sqs.send_message(QueueUrl=p.queue_url("completions"), MessageBody=event.model_dump_json())
    p._deliver(completion.handler, "completions", None)


def test_an_event_from_another_session_is_refused_and_charges_nothing(pipeline):
    invocation_id = started_run(pipeline)
    pipeline.run_completion([forged(invocation_id, session_id="aidlc-session-somebody-else-entirely-0000")])
    record = pipeline.record(invocation_id)
    assert record.status == InvocationStatus.RUNNING and record.output_artifacts == []
    assert pipeline.services.projects.budget("acme").month_to_date == 0
    assert pipeline.services.projects.running("acme") == 1  # the real run still holds its slot


def test_an_event_without_the_session_or_for_another_agent_is_refused(pipeline):
    invocation_id = started_run(pipeline)
    session = pipeline.record(invocation_id).session_id
    send_as_is(pipeline, [forged(invocation_id), forged(invocation_id, agent_type="code", session_id=session)])
    assert pipeline.record(invocation_id).status == InvocationStatus.RUNNING


def test_an_event_for_a_run_never_started_is_refused(pipeline):
    from runtime.models import InvocationRecord

    record = InvocationRecord(invocation_id=new_ulid(), notion_page_id="p", workspace_id="ws", project_id="acme",
                              agent_type="mock")
    pipeline.services.invocations.create(record)
    pipeline.run_completion([forged(record.invocation_id)])
    assert pipeline.record(record.invocation_id).status == InvocationStatus.QUEUED


def test_sixty_dollars_against_a_five_dollar_reservation_is_flagged_and_posts_no_link(pipeline):
    invocation_id = started_run(pipeline)
    session = pipeline.record(invocation_id).session_id
    usage = TokenUsage(input_tokens=20_000_000, output_tokens=0)  # $60 at the offline model's price
    assert cost_usd(usage, OFFLINE_MODEL_ID) > Decimal("5")
    pipeline.run_completion([forged(invocation_id, session_id=session, token_usage=usage, cost_usd=Decimal("60"))])
    record = pipeline.record(invocation_id)
    assert record.status == InvocationStatus.FAILED and record.error_code.value == "BUDGET_EXCEEDED"
    assert "flagged" in record.error_detail and record.output_artifacts == []
    assert FOREIGN not in str(record.model_dump())
    budget = pipeline.services.projects.budget("acme")
    assert budget.month_to_date == cost_usd(usage, OFFLINE_MODEL_ID) and budget.reserved == 0


def test_the_real_session_completes_the_run(pipeline):
    invocation_id = started_run(pipeline)
    session = pipeline.record(invocation_id).session_id
    pipeline.run_completion([forged(invocation_id, session_id=session)])
    assert pipeline.record(invocation_id).status == InvocationStatus.COMPLETED

"""Round trips, counted exactly (runtime/observe/trace.py): one story through mock -> demo_deck, through the
handlers against moto and the Notion emulator, with each stage's calls held to what it must make."""

from __future__ import annotations

from collections import Counter

import pytest

from runtime.aws_clients import AwsClients
from runtime.local.load import completed_event
from runtime.models import TokenUsage
from runtime.observe.calls import CallRecorder
from runtime.observe.trace import CallTrace, current_invocation, in_stage
from tests.pipeline.conftest import TOKEN, event_body, make_notion_pipeline, new_story, signed


@pytest.fixture
def traced(aws_names, notion_env):
    p = make_notion_pipeline(aws_names, notion_env)
    recorder = CallRecorder()
    p.services.clients = AwsClients("pipeline", recorder=recorder, region="us-east-1")
    p.put_secret("webhook-verification-token", TOKEN)
    trace = CallTrace()
    with trace.recording(recorder):
        yield p, trace
    from runtime.pipeline.services import set_services

    set_services(None)


def run_chain(p, trace) -> dict[str, str]:
    """Webhook, then each run's orchestrator and completion, each in its stage; returns agent -> invocation id."""
    story = new_story(p.notion_env, "Count the round trips")
    body = event_body(story, env=p.notion_env)
    with in_stage("webhook"):
        assert p.webhook(body, signed(body))[1]["status"] == "enqueued"
    ids = {}
    for agent in ("mock", "demo_deck"):
        with in_stage("orchestrator"):
            p.drain()
        request = p.invoker.requests[-1]
        assert request.agent_type == agent
        ids[agent] = request.invocation_id
        with in_stage("completion"):
            p.run_completion([completed_event(request, TokenUsage(input_tokens=100, output_tokens=10))])
    return ids


def calls(trace, stage: str, invocation_id: str | None = None) -> Counter:
    return Counter(f"{c.kind} {c.what}" for c in trace.snapshot()
                   if c.stage == stage and (invocation_id is None or c.invocation_id == invocation_id))


def test_write_back_is_one_status_patch_one_comment_one_row_per_run(traced):
    p, trace = traced
    ids = run_chain(p, trace)
    for agent, invocation_id in ids.items():
        notion = {k: n for k, n in calls(trace, "write-back", invocation_id).items() if k.startswith("notion")}
        assert notion.get("notion PATCH /v1/pages/{id}") == 1, (agent, notion)  # status and properties: one PATCH
        assert notion.get("notion POST /v1/comments") == 1, (agent, notion)
        assert notion.get("notion POST /v1/pages") == 1, (agent, notion)  # the dashboard row
        assert "notion GET /v1/comments" not in notion  # no look-up before a first create
    # the dashboard's schema is read once per process, not once per run
    assert calls(trace, "write-back")["notion GET /v1/data_sources/{id}"] == 1


def test_webhook_reads_its_project_once_and_the_bot_user_once_per_process(traced):
    p, trace = traced
    p.services.projects.seed_default()  # the deployment's first delivery seeds the table; not this count's subject
    run_chain(p, trace)
    webhook = calls(trace, "webhook")
    # resolve: the data source's project (source# -> project#); every later step of the delivery reuses it
    assert webhook["aws dynamodb.GetItem"] == 2, webhook
    assert webhook["notion GET /v1/pages/{id}"] == 1  # the event names property ids only: one fetch
    assert webhook["notion GET /v1/users/me"] == 1

    second = new_story(p.notion_env, "A second story")
    trace.clear()
    body = event_body(second, env=p.notion_env)
    with in_stage("webhook"):
        assert p.webhook(body, signed(body))[1]["status"] == "enqueued"
    assert "notion GET /v1/users/me" not in calls(trace, "webhook")  # cached per process


def test_each_queue_message_reads_its_project_once(traced):
    p, trace = traced
    p.services.projects.seed_default()
    p.services.clients.recorder.clear()  # the seeding's own read is not a delivery's
    ids = run_chain(p, trace)
    for invocation_id in ids.values():
        for stage in ("orchestrator", "completion"):
            project_reads = [c for c in trace.snapshot() if c.invocation_id == invocation_id and c.stage == stage
                             and c.what == "dynamodb.GetItem"]
            assert project_reads, stage  # the stage did read (a trace that saw nothing would pass what follows)
    keys = Counter()
    for call in p.services.clients.recorder.calls:
        if call.operation == "GetItem" and call.params["Key"].get("pk", {}).get("S", "").startswith("project#"):
            keys[call.params["Key"]["pk"]["S"]] += 1
    # one webhook delivery, two orchestrator messages, two completion events: each reads the project once
    assert keys == {"project#acme": 5}, keys


def test_completion_and_write_back_do_not_read_back_the_record_they_just_wrote(traced):
    p, trace = traced
    p.services.projects.seed_default()
    ids = run_chain(p, trace)
    for agent, invocation_id in ids.items():
        record_reads = [c for c in p.services.clients.recorder.calls if c.operation == "GetItem"
                        and c.params["Key"].get("invocation_id", {}).get("S") == invocation_id]
        stages = Counter(c.stage for c in trace.snapshot() if c.invocation_id == invocation_id
                         and c.what == "dynamodb.GetItem")
        assert stages["write-back"] == 0, (agent, stages)  # tell_notion is handed the record
        # the completion event's check reads the record once (the cost metrics are handed the record it wrote);
        # the chained run's orchestrator reads its parent. Nothing reads back what it just wrote.
        assert len(record_reads) == (2 if agent == "mock" else 1), (agent, record_reads)
    delivered = {agent: p.record(i).delivery_status for agent, i in ids.items()}
    assert delivered == {"mock": "delivered", "demo_deck": "delivered"}


def test_no_handler_leaves_its_invocation_bound_for_the_next_one_on_its_thread(traced):
    """A Lambda's thread serves invocation after invocation with no stage around the handler: each service binds
    its run's id only while it works, so the next delivery's calls (before it knows its own id) count for no run."""
    import contextvars

    p, trace = traced

    def deliveries() -> list:
        left_bound = []
        story = new_story(p.notion_env, "One after another")
        body = event_body(story, env=p.notion_env)
        assert p.webhook(body, signed(body))[1]["status"] == "enqueued"
        left_bound.append(current_invocation())
        p.drain()
        left_bound.append(current_invocation())
        request = p.invoker.requests[-1]
        p.run_completion([completed_event(request, TokenUsage(input_tokens=1, output_tokens=1))])
        left_bound.append(current_invocation())
        return left_bound

    assert contextvars.Context().run(deliveries) == [None, None, None]
    bound = {c.invocation_id for c in trace.snapshot()}
    assert bound - {None}  # the services did bind while they worked (a trace that saw no id would pass the above)

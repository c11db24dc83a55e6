"""The completion handler: conditional record update, exact cost accounting under concurrency, Notion write-back
through the throttled adapter (429/5xx, outage), and chaining mock -> demo_deck."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from runtime.cost import OFFLINE_MODEL_ID, cost_usd
from runtime.errors import ErrorCode
from runtime.models import CompletionEvent, InvocationStatus, TokenUsage, new_ulid
from tests.pipeline.completion_fixtures import prototype, queued_run
from tests.pipeline.conftest import build_pipeline, make_project, new_story


def seed_running(p, count: int) -> list[str]:
    """`count` runs as the orchestrator leaves them (running, $1 reserved, a slot held), written directly: the
    orchestrator's own path is tested elsewhere, and moto copies a table per transaction, so this is much faster."""
    from runtime.models import InvocationRecord
    from runtime.pipeline.state.dynamo import to_item
    from runtime.pipeline.state.invocations import HOLDS_SLOT, LEDGER_MONTH, record_fields
    from runtime.pipeline.state.projects import budget_month

    client, month, ids = p.services.dynamodb, budget_month(), []
    for i in range(count):
        record = InvocationRecord(invocation_id=new_ulid(), notion_page_id=f"page-{i}", workspace_id="ws",
                                  project_id="acme", agent_type="mock", status="running", reserved_usd=Decimal("1"),
                                  session_id=f"aidlc-session-{i:026d}")
        record = record.model_copy(update={"session_id": "aidlc-session-" + record.invocation_id})
        item = {**record_fields(record), HOLDS_SLOT: True, LEDGER_MONTH: month}
        client.put_item(TableName=p.services.invocations.table_name, Item=to_item(item))
        ids.append(record.invocation_id)
    table = p.services.projects.table_name
    client.update_item(TableName=table, Key={"pk": {"S": f"budget#acme#{month}"}},
                       UpdateExpression="ADD committed :n, reserved :n", ExpressionAttributeValues={":n": {"N": str(count)}})
    client.update_item(TableName=table, Key={"pk": {"S": "slots#acme"}}, UpdateExpression="ADD running :n",
                       ExpressionAttributeValues={":n": {"N": str(count)}})
    return ids


COMPLETIONS = 48  # enough that 8 threads contend for the same budget and slot items on every batch


def test_concurrent_completions_leave_the_exact_sum_in_month_to_date(aws_names):
    from runtime.handlers import completion
    from runtime.local.lambda_shim import LocalLambdaContext
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project(concurrency_limit=1000, cost_limit_per_invocation=Decimal("1"),
                                               cost_limit_per_month=Decimal("1000"), agent_chain_template="custom"))
    set_services(p.services)
    try:
        ids = seed_running(p, COMPLETIONS)
        assert p.services.projects.running("acme") == COMPLETIONS
        rng = random.Random(7)
        events = [
            CompletionEvent(invocation_id=i, agent_type="mock", status="completed", model_id=OFFLINE_MODEL_ID,
                            session_id="aidlc-session-" + i,
                            token_usage=TokenUsage(input_tokens=rng.randint(1, 90_000),
                                                   output_tokens=rng.randint(1, 20_000)),
                            cost_usd=Decimal("99"))  # the agent's own figure is not what is charged
            for i in ids
        ]
        expected = sum((cost_usd(e.token_usage, OFFLINE_MODEL_ID) for e in events), Decimal("0"))
        # Every event, and a quarter of them again (SQS delivers at least once), in shuffled SQS batches of up
        # to 4, from 8 threads: more batches than threads, so every thread writes while the others do.
        records = [{"messageId": f"m{n}-{e.invocation_id}", "receiptHandle": "r", "body": e.model_dump_json(),
                    "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:t-completions", "awsRegion": "us-east-1"}
                   for n, e in [(0, e) for e in events] + [(1, e) for e in events[::4]]]
        rng.shuffle(records)
        batches = [{"Records": records[i:i + 4]} for i in range(0, len(records), 4)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(lambda b: completion.handler(b, LocalLambdaContext("completion")), batches))
        assert all(r["batchItemFailures"] == [] for r in responses)
        budget = p.services.projects.budget("acme")
        assert budget.month_to_date == expected
        assert budget.by_agent == {"mock": expected}
        assert budget.reserved == Decimal("0")
        assert p.services.projects.running("acme") == 0
        stored = p.record(ids[0])
        assert stored.status == InvocationStatus.COMPLETED
        assert stored.cost_usd == cost_usd(events[0].token_usage, OFFLINE_MODEL_ID)
    finally:
        set_services(None)


def test_a_duplicate_completion_changes_nothing(pipeline):
    invocation_id = queued_run(pipeline, "page-dup")
    pipeline.drain()
    usage = TokenUsage(input_tokens=1000, output_tokens=100)
    first = CompletionEvent(invocation_id=invocation_id, agent_type="mock", status="completed",
                            summary="first", token_usage=usage, model_id=OFFLINE_MODEL_ID)
    late = CompletionEvent(invocation_id=invocation_id, agent_type="mock", status="failed", summary="late",
                           error_code=ErrorCode.AGENT_ERROR, token_usage=usage, model_id=OFFLINE_MODEL_ID)
    pipeline.run_completion([first])
    pipeline.run_completion([late])
    record = pipeline.record(invocation_id)
    assert record.status == InvocationStatus.COMPLETED and record.output_summary == "first"
    assert pipeline.services.projects.budget("acme").month_to_date == cost_usd(usage, OFFLINE_MODEL_ID)


def comments_on(env, page_id: str) -> list[str]:
    return ["".join(t.get("plain_text", "") for t in c.get("rich_text", [])) for c in env.bot.list_comments(page_id)]


def dashboard_rows(env, invocation_id: str) -> list[dict]:
    from runtime.notion.adapter import plain_properties

    rows = env.bot.query_data_source(env.seed.dashboard_data_source_id)
    return [plain_properties(r) for r in rows if plain_properties(r).get("Invocation") == invocation_id]


def run_story_to_completion(p, title: str) -> tuple[dict, str]:
    env = p.notion_env
    story = new_story(env, title)
    invocation_id = queued_run(p, story["id"], snapshot=env.bot.page_snapshot(story["id"]))
    p.drain()
    return story, invocation_id


def mock_done(invocation_id: str) -> CompletionEvent:
    return CompletionEvent(invocation_id=invocation_id, agent_type="mock", status="completed",
                           summary="Prototype ready", artifacts=[prototype(invocation_id)],
                           token_usage=TokenUsage(input_tokens=12_000, output_tokens=3_000), model_id=OFFLINE_MODEL_ID)


def test_write_back_sets_status_comments_with_links_and_mentions_and_adds_a_dashboard_row(notion_pipeline):
    from runtime.notion.adapter import plain_properties

    p = notion_pipeline
    env = p.notion_env
    story, invocation_id = run_story_to_completion(p, "Write-back story")
    p.run_completion([mock_done(invocation_id)])
    assert plain_properties(env.bot.retrieve_page(story["id"]))["Status"] == "Prototype Ready"
    [comment] = env.bot.list_comments(story["id"])
    text = "".join(t.get("plain_text", "") for t in comment["rich_text"])
    assert f"https://prototypes.example/{invocation_id}/index.html" in text
    mentioned = [t["mention"]["user"]["id"] for t in comment["rich_text"] if t.get("type") == "mention"]
    assert mentioned == [env.emulator.person_user["id"]]
    [row] = dashboard_rows(env, invocation_id)
    assert row["Agent"] == "mock" and row["Status"] == "completed"
    assert row["Story"] == [story["id"]]  # a relation to the story
    assert row["Started"] and row["Completed"]  # dates
    assert Decimal(str(row["Cost"])) == cost_usd(TokenUsage(input_tokens=12_000, output_tokens=3_000),
                                                  OFFLINE_MODEL_ID).quantize(Decimal("0.000001"))
    assert p.record(invocation_id).delivery_status == "delivered"


def test_notion_429_and_5xx_during_write_back_are_ridden_out(notion_pipeline):
    from runtime.notion.adapter import plain_properties

    p = notion_pipeline
    env = p.notion_env
    story, invocation_id = run_story_to_completion(p, "Flaky Notion story")
    # Two 429s then two 503s: the adapter retries within a step, the write-back step retries the rest.
    env.emulator.inject_failures(429, 2)
    env.emulator.inject_failures(503, 2)
    p.run_completion([mock_done(invocation_id)])
    assert plain_properties(env.bot.retrieve_page(story["id"]))["Status"] == "Prototype Ready"
    assert len(comments_on(env, story["id"])) == 1
    assert len(dashboard_rows(env, invocation_id)) == 1
    record = p.record(invocation_id)
    assert record.delivery_status == "delivered" and record.error_code is None


def test_a_notion_outage_keeps_the_result_and_records_delivery_failed(notion_pipeline):
    p = notion_pipeline
    env = p.notion_env
    story, invocation_id = run_story_to_completion(p, "Outage story")
    env.emulator.inject_failures(503, 200)
    try:
        p.run_completion([mock_done(invocation_id)])
    finally:
        with env.emulator.store.lock:
            env.emulator._injected.clear()
    record = p.record(invocation_id)
    assert record.status == InvocationStatus.COMPLETED and record.output_artifacts  # the result is kept
    assert record.delivery_status == "failed" and record.error_code == ErrorCode.DELIVERY_FAILED
    assert "status" in record.error_detail
    assert p.sleeps.count(2.0) >= 1 and p.sleeps.count(8.0) >= 1  # the write-back's own retry schedule ran
    assert p.services.projects.budget("acme").month_to_date > 0  # and the cost is counted all the same


def test_chain_mock_then_demo_deck_with_the_parent_context(notion_pipeline):
    p = notion_pipeline
    story, mock_id = run_story_to_completion(p, "Chained story")
    p.run_completion([mock_done(mock_id)])
    p.drain()
    deck_request = next(r for r in p.invoker.requests if r.agent_type == "demo_deck")
    assert deck_request.notion_page_id == story["id"]
    assert deck_request.parent.invocation_id == mock_id
    assert deck_request.parent.context["prototype_url"] == f"https://prototypes.example/{mock_id}/index.html"
    deck = p.record(deck_request.invocation_id)
    assert deck.parent_invocation_id == mock_id and deck.status == InvocationStatus.RUNNING
    # The same completion again chains nothing new.
    p.run_completion([mock_done(mock_id)])
    p.drain()
    assert [r.agent_type for r in p.invoker.requests].count("demo_deck") == 1


def test_a_chain_that_cannot_be_enqueued_is_chain_failed_on_the_parent(notion_pipeline, monkeypatch):
    p = notion_pipeline
    story, mock_id = run_story_to_completion(p, "Chain fails")

    def refuse(message):
        raise RuntimeError("queue unavailable")

    monkeypatch.setattr(p.services.queue, "publish", refuse)
    p.run_completion([mock_done(mock_id)])
    record = p.record(mock_id)
    assert record.status == InvocationStatus.COMPLETED
    assert record.error_code == ErrorCode.CHAIN_FAILED and "queue unavailable" in record.error_detail


def test_completion_publishes_the_cost_metrics_the_budget_alarms_read(aws_names, capsys):
    """Embedded-metric-format lines on stdout: InvocationCostUSD per agent, MonthToDateCostUSD per project."""
    import json

    from components.iam import METRICS_NAMESPACE
    from components.monitoring import COST_METRIC
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project(agent_chain_template="custom"))
    set_services(p.services)
    try:
        ids = seed_running(p, 2)
        usage = TokenUsage(input_tokens=120_000, output_tokens=8_000)
        p.run_completion([CompletionEvent(invocation_id=i, agent_type="mock", status="completed", token_usage=usage,
                                          model_id=OFFLINE_MODEL_ID) for i in ids])
    finally:
        set_services(None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metrics = [(m["Name"], line) for line in lines for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRICS_NAMESPACE for _, line in metrics)
    one_run = float(cost_usd(usage, OFFLINE_MODEL_ID))
    per_run = [line for name, line in metrics if name == "InvocationCostUSD"]
    assert [line["InvocationCostUSD"] for line in per_run] == [[one_run], [one_run]]  # EMF values are lists
    assert all(line["AgentType"] == "mock" and line["ProjectId"] == "acme" for line in per_run)
    month = [line[COST_METRIC][0] for name, line in metrics if name == COST_METRIC]
    # The month-to-date published after each completion is what the ledger holds: one run's cost, then two.
    assert month == pytest.approx([one_run, 2 * one_run])

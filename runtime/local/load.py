"""N stories at once through the real pipeline handlers: Notion webhook -> orchestrator -> (agent) -> completion ->
write-back -> chain (mock -> demo_deck), under a project's concurrency cap. Used by `tests/pipeline/test_load.py`
and `bench/bench_load.py`.

AWS is moto in-process (its DynamoDB made atomic, as in the local stack; tables, queues with their DLQs and
redrive as `runtime/resources.py` declares them), Notion is the local emulator on loopback, and every queue is
consumed by several concurrent pollers, as Lambda's event source mappings would. Only the agent is a stand-in: it
answers each started run with its completion event at once (the tokens vary per story), so what is measured is
the pipeline, not a model.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from runtime.cost import OFFLINE_MODEL_ID, cost_usd

PREFIX = "load"
WEBHOOK_TOKEN = "load-verification-token"


@dataclass
class LoadResult:
    stories: int
    cap: int
    drain_seconds: float
    runs_by_agent: dict[str, int]
    completed_by_agent: dict[str, int]
    rows_by_agent: dict[str, int]  # dashboard rows, one per run expected
    duplicate_rows: int
    month_to_date: Decimal
    sum_of_records: Decimal
    expected_cost: Decimal
    dead_lettered: dict[str, int]
    stories_written_back: int  # stories whose Status is the last agent's completion status
    running_after: int
    reserved_after: Decimal
    problems: list[str] = field(default_factory=list)

    @property
    def runs_per_second(self) -> float:
        total = sum(self.completed_by_agent.values())
        return total / self.drain_seconds if self.drain_seconds else 0.0

    def check(self, agents: tuple[str, ...] = ("mock", "demo_deck")) -> list[str]:
        """Every exact check, as a list of what failed (empty: all hold)."""
        n, failed = self.stories, list(self.problems)
        for agent in agents:
            if self.completed_by_agent.get(agent, 0) != n:
                failed.append(f"{agent}: {self.completed_by_agent.get(agent, 0)} of {n} runs completed")
            if self.rows_by_agent.get(agent, 0) != n:
                failed.append(f"{agent}: {self.rows_by_agent.get(agent, 0)} dashboard rows for {n} runs")
        if self.duplicate_rows:
            failed.append(f"{self.duplicate_rows} runs have more than one dashboard row")
        if not (self.month_to_date == self.sum_of_records == self.expected_cost):
            failed.append(f"cost: month to date {self.month_to_date}, records {self.sum_of_records}, "
                          f"expected {self.expected_cost}")
        if any(self.dead_lettered.values()):
            failed.append(f"dead-lettered: {self.dead_lettered}")
        if self.stories_written_back != n:
            failed.append(f"{self.stories_written_back} of {n} stories written back")
        if self.running_after or self.reserved_after:
            failed.append(f"left holding: {self.running_after} slots, ${self.reserved_after}")
        return failed


def completed_event(request: Any, usage: Any) -> Any:
    """The completion event a finished mock or demo deck run sends for `request` (an AgentRequest): its artifacts (a
    prototype; a deck page and its feedback database) and `usage` (TokenUsage) at the offline model's price."""
    from runtime.models import (
        CompletionEvent,
        NotionDatabaseMetadata,
        NotionPageMetadata,
        OutputArtifact,
        PrototypeMetadata,
    )

    if request.agent_type == "mock":
        url = f"https://prototypes.local/{request.invocation_id}/index.html"
        artifacts = [OutputArtifact(type="prototype", url=url, title="Prototype", metadata=PrototypeMetadata(
            s3_key=f"{request.invocation_id}/index.html", cloudfront_url=url, expiry_days=7))]
    else:
        artifacts = [
            OutputArtifact(type="notion_page", url="https://www.notion.so/deck", title="Demo deck",
                           metadata=NotionPageMetadata(page_id="deck-page", page_type="demo_deck")),
            OutputArtifact(type="notion_database", url="https://www.notion.so/feedback", title="Feedback",
                           metadata=NotionDatabaseMetadata(database_id="feedback-db")),
        ]
    return CompletionEvent(invocation_id=request.invocation_id, agent_type=request.agent_type,
                           session_id=request.session_id, status="completed", artifacts=artifacts,
                           summary=f"{request.agent_type} done", token_usage=usage, model_id=OFFLINE_MODEL_ID)


class AgentStandIn:
    """The agent boundary: each started run reports completion at once, with tokens that vary per story."""

    def __init__(self, sqs: Any, completions_url: str) -> None:
        self.sqs = sqs
        self.completions_url = completions_url
        self.lock = threading.Lock()
        self.usages: dict[str, Any] = {}

    def usage_for(self, invocation_id: str):
        from runtime.models import TokenUsage

        seed = int(invocation_id[-6:], 36)
        return TokenUsage(input_tokens=5_000 + seed % 40_000, output_tokens=1_000 + seed % 9_000)

    def invoke(self, request: Any) -> None:
        usage = self.usage_for(request.invocation_id)
        with self.lock:
            self.usages[request.invocation_id] = usage
        event = completed_event(request, usage)
        self.sqs.send_message(QueueUrl=self.completions_url, MessageBody=event.model_dump_json())

    def stop(self, agent_type: str, session_id: str, endpoint: str | None = None) -> None:
        return None


class _Consumer:
    """One event source mapping: polls its queue in a thread until stopped."""

    def __init__(self, poller: Any, idle_seconds: float = 0.05) -> None:
        self.poller = poller
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"load-{poller.name}", daemon=True)

    def _run(self) -> None:
        import logging

        while not self._stop.is_set():
            try:
                if self.poller.poll_once() == 0:
                    self._stop.wait(self.idle_seconds)
            except Exception:  # noqa: BLE001 - a failed poll is retried, as an event source mapping does
                logging.getLogger(__name__).exception("%s: poll failed", self.poller.name)
                self._stop.wait(self.idle_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def run_load(stories: int, *, cap: int = 3, pollers: int = 2, timeout_seconds: float = 600.0,
             defer_seconds: tuple[float, float] = (1.0, 2.0), state_dir: Path | None = None) -> LoadResult:
    """Create `stories` stories in "Generate Prototype", deliver their webhooks at once, and wait until every
    mock run and every chained demo deck has finished and been written back (or `timeout_seconds` pass)."""
    from moto import mock_aws

    from runtime.local.atomic_dynamodb import make_dynamodb_atomic
    from runtime.pipeline.adapters import aws

    make_dynamodb_atomic()
    with tempfile.TemporaryDirectory() as scratch, mock_aws():
        aws.reset_clients()
        try:
            return _run(stories, cap, pollers, timeout_seconds, defer_seconds, Path(state_dir or scratch))
        finally:
            aws.reset_clients()


def _run(n: int, cap: int, pollers: int, timeout_seconds: float, defer_seconds: tuple[float, float],
         state_dir: Path) -> LoadResult:
    from runtime.handlers import completion, orchestrator, webhook
    from runtime.local.aws import create_declared
    from runtime.local.lambda_shim import LocalLambdaContext, SqsPoller, http_api_event
    from runtime.local.notion_emulator import NotionEmulator
    from runtime.local.server import serve
    from runtime.models import ProjectConfig
    from runtime.notion.adapter import NotionAdapter, plain_properties
    from runtime.notion.schema import workspace_schema
    from runtime.notion.throttle import Throttle
    from runtime.pipeline.adapters import aws
    from runtime.pipeline.services import PipelineServices, set_services
    from runtime.pipeline.settings import PipelineSettings
    from runtime.pipeline.webhook import notion_signature
    from runtime.registry import get_registry

    local = create_declared(aws.client, PREFIX, bucket=False)  # what the stack declares, in moto
    sqs = aws.client("sqs")
    emulator = NotionEmulator(state_dir / "notion")
    seed = emulator.seed_workspace(workspace_schema())  # the plugins' statuses
    server = serve(emulator.app)

    def adapter(token: str) -> NotionAdapter:
        return NotionAdapter(token, base_url=server.base_url, throttle=Throttle(rate_per_second=1000, burst=1000),
                             backoff_initial_seconds=0.01, backoff_max_seconds=0.05, max_retries=2)

    bot, user = adapter(emulator.integration_token), adapter(emulator.user_token)
    project = ProjectConfig(
        project_id="load", workspace_id="ws", notion_database_id=seed.stories_database_id,
        notion_data_source_id=seed.stories_data_source_id, dashboard_data_source_id=seed.dashboard_data_source_id,
        agent_chain_template="story-to-mock-to-deck", concurrency_limit=cap, cost_limit_per_invocation=Decimal("5"),
        cost_limit_per_month=Decimal("100000"),
    )
    agent = AgentStandIn(sqs, local.queue_urls["completions"])
    settings = PipelineSettings(
        invocations_table=local.tables["invocations"], projects_table=local.tables["projects"],
        idempotency_table=local.tables["idempotency"], task_queue_url=local.queue_urls["tasks"],
        completion_queue_url=local.queue_urls["completions"], notion_token_secret=local.secrets["notion-token"],
        webhook_secret=local.secrets["webhook-verification-token"],
        automation_secret=local.secrets["automation-secret"], default_project=project,
        invoke_retry_delays=(0.1,), writeback_retry_delays=(0.2, 0.5), defer_seconds=defer_seconds,
        metrics_disabled=True,
    )
    services = PipelineServices(settings, notion=bot, invoker=agent)
    set_services(services)
    sm = aws.client("secretsmanager")
    sm.put_secret_value(SecretId=local.secrets["webhook-verification-token"], SecretString=WEBHOOK_TOKEN)
    sm.put_secret_value(SecretId=local.secrets["notion-token"], SecretString=emulator.integration_token)
    # Short polls and a short nap when a queue is empty: moto's in-process SQS holds a queue's lock through a long
    # poll, which would hold up every send to that queue for the poll's whole wait.
    consumers = [
        _Consumer(SqsPoller(f"{name}-{i}", local.queue_urls[queue], handler, sqs_client=sqs, wait_seconds=0))
        for i in range(pollers)
        for name, queue, handler in (("orchestrator", "tasks", orchestrator.handler),
                                     ("completion", "completions", completion.handler))
    ]
    try:
        story_pages = [
            user.create_page(parent_data_source_id=seed.stories_data_source_id, title=f"Load story {i}",
                             properties={"Status": {"status": {"name": "Generate Prototype"}},
                                         "Owner": {"people": [{"id": emulator.person_user["id"]}]}},
                             markdown=f"As a user I want feature {i}.")
            for i in range(n)
        ]

        def deliver(page: dict) -> int:
            import uuid

            body = json.dumps({
                "id": str(uuid.uuid4()), "timestamp": page.get("last_edited_time"), "workspace_id": "ws",
                "subscription_id": "sub", "integration_id": "int", "type": "page.properties_updated",
                "authors": [{"id": emulator.person_user["id"], "type": "person"}], "attempt_number": 1,
                "entity": {"id": page["id"], "type": "page"},
                "data": {"parent": {"id": page["parent"].get("database_id"), "type": "database",
                                    "data_source_id": page["parent"].get("data_source_id")},
                         "updated_properties": [p["id"] for p in page["properties"].values()
                                                if p.get("type") == "status"] or ["status"]},
            }).encode()
            event = http_api_event("POST", "/webhook/notion", body=body, headers={
                "content-type": "application/json", "x-notion-signature": notion_signature(body, WEBHOOK_TOKEN)})
            return webhook.handler(event, LocalLambdaContext(function_name="webhook"))["statusCode"]

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(deliver, story_pages))
        for consumer in consumers:
            consumer.start()
        problems = [f"webhook answered {a}" for a in answers if a != 200]
        deadline = started + timeout_seconds
        done: set[str] = set()
        # Point reads of the runs the agent saw, not a project query: moto answers an index query by scanning the
        # table, and its DynamoDB serves one request at a time.
        while time.monotonic() < deadline:
            for invocation_id in set(agent.usages) - done:
                stored = services.invocations.get(invocation_id)
                if stored and stored.record.status.is_final and stored.record.delivery_status != "pending":
                    done.add(invocation_id)
            if len(done) >= 2 * n:
                break
            time.sleep(0.5)
        else:
            problems.append(f"timed out after {timeout_seconds} s")
        drain = time.monotonic() - started
        records = services.invocations.all_for_project(project.project_id)
        for record in records:
            if record.invocation_id not in done:
                problems.append(f"unfinished {record.agent_type} {record.invocation_id}: {record.status.value}, "
                                f"delivery {record.delivery_status}, {record.error_code or ''} {record.error_detail or ''}")
    finally:
        for consumer in consumers:
            consumer.stop()
        set_services(None)

    try:
        registry = get_registry()
        runs: dict[str, int] = {}
        completed: dict[str, int] = {}
        for record in records:
            runs[record.agent_type] = runs.get(record.agent_type, 0) + 1
            if record.status.value == "completed" and record.delivery_status == "delivered":
                completed[record.agent_type] = completed.get(record.agent_type, 0) + 1
        agents_of = {r.invocation_id: r.agent_type for r in records}
        rows_per_run: dict[str, int] = {}
        for row in bot.query_data_source(seed.dashboard_data_source_id):
            invocation = plain_properties(row).get("Invocation")
            if invocation in agents_of:
                rows_per_run[invocation] = rows_per_run.get(invocation, 0) + 1
        rows: dict[str, int] = {}
        for invocation in rows_per_run:
            rows[agents_of[invocation]] = rows.get(agents_of[invocation], 0) + 1
        budget = services.projects.budget(project.project_id)
        expected = sum((cost_usd(u, OFFLINE_MODEL_ID) for u in agent.usages.values()), Decimal("0"))
        final_status = registry.get("demo_deck").completion_status
        written_back = sum(1 for page in story_pages
                           if plain_properties(bot.retrieve_page(page["id"])).get("Status") == final_status)
        return LoadResult(
            stories=n, cap=cap, drain_seconds=drain, runs_by_agent=runs, completed_by_agent=completed,
            rows_by_agent=rows, duplicate_rows=sum(1 for c in rows_per_run.values() if c > 1),
            month_to_date=budget.month_to_date, sum_of_records=sum((r.cost_usd for r in records), Decimal("0")),
            expected_cost=expected, dead_lettered={q: _depth(sqs, url) for q, url in local.dlq_urls.items()},
            stories_written_back=written_back, running_after=services.projects.running(project.project_id),
            reserved_after=budget.reserved, problems=problems,
        )
    finally:
        server.stop()

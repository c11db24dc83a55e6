"""The pipeline under test: moto in-process for AWS (tables, queues, secrets as runtime/resources.py declares
them), the local Notion emulator on loopback for Notion, a recording invoker as the agent boundary. Handlers are
called with the events API Gateway (HTTP API v2) and SQS deliver."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from runtime.local.aws import create_declared
from runtime.models import AgentRequest, CompletionEvent, ProjectConfig

from tests.conftest import declared_aws

PREFIX = "t"


class RecordingInvoker:
    """The agent boundary: records what would be started; can be told to fail the next calls."""

    def __init__(self) -> None:
        self.requests: list[AgentRequest] = []
        self.stopped: list[tuple[str, str]] = []
        self.stopped_endpoints: list[str | None] = []  # the endpoint each stop named (versioned endpoints)
        self.failures: list[Exception] = []
        self.lock = threading.Lock()

    def invoke(self, request: AgentRequest) -> None:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.requests.append(request)

    def stop(self, agent_type: str, session_id: str, endpoint: str | None = None) -> None:
        self.stopped.append((agent_type, session_id))
        self.stopped_endpoints.append(endpoint)


def create_aws() -> dict[str, Any]:
    """Every declared resource in the current moto backend, by the local stack's builder (tests/conftest.py
    `declared_aws`), as the names the pipeline tests index: {"tables"|"queues"|"dlqs"|"secrets": {logical: name}}."""
    from runtime.pipeline.adapters import aws

    return names_of(create_declared(aws.client, PREFIX))


def names_of(local: Any) -> dict[str, Any]:
    return {"tables": local.tables, "queues": local.queue_urls, "dlqs": local.dlq_urls, "secrets": local.secrets}


@dataclass
class Pipeline:
    names: dict[str, Any]
    invoker: RecordingInvoker
    project: ProjectConfig
    services: Any
    sleeps: list[float] = field(default_factory=list)
    notion_env: Any = None  # NotionEnv when the test asked for Notion

    # --- AWS helpers ---------------------------------------------------------------------------------------

    @property
    def sqs(self):
        from runtime.pipeline.adapters import aws

        return aws.client("sqs")  # cached per test (creating a client costs ~100 ms)

    def queue_url(self, logical: str) -> str:
        return self.names["queues"][logical]

    def receive(self, logical: str = "tasks", max_messages: int = 10) -> list[dict]:
        messages: list[dict] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url(logical), MaxNumberOfMessages=max_messages,
                                             AttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            if len(messages) >= max_messages:
                return messages

    def queue_depth(self, logical: str = "tasks") -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(logical),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def put_secret(self, logical: str, value: str) -> None:
        from runtime.pipeline.adapters import aws

        aws.client("secretsmanager").put_secret_value(SecretId=self.names["secrets"][logical], SecretString=value)

    # --- handler calls, as AWS shapes them -----------------------------------------------------------------

    def http(self, handler, method: str, path: str, *, body: bytes = b"", headers: dict | None = None,
             query: str = "", route_key: str | None = None, path_parameters: dict | None = None) -> tuple[int, dict]:
        from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

        event = http_api_event(method, path, headers={"content-type": "application/json", **(headers or {})},
                               body=body, query=query, route_key=route_key, path_parameters=path_parameters)
        result = handler(event, LocalLambdaContext(function_name="test"))
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else {}

    def webhook(self, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
        from runtime.handlers import webhook

        return self.http(webhook.handler, "POST", "/webhook/notion", body=body, headers=headers)

    def api(self, method: str, path: str, *, body: bytes = b"", query: str = "") -> tuple[int, dict]:
        from runtime.handlers import api

        return self.http(api.handler, method, path, body=body, query=query)

    def run_orchestrator(self, messages: list[dict] | None = None) -> dict:
        """Deliver received task messages to the orchestrator as an SQS event; delete the ones that succeeded."""
        from runtime.handlers import orchestrator

        return self._deliver(orchestrator.handler, "tasks", messages)

    def run_completion(self, events: list[CompletionEvent]) -> dict:
        from runtime.handlers import completion

        for event in events:
            if event.session_id is None:
                # The agent always sends its session id (runtime/agent/runner.py) and the completion step believes
                # only the session it started; tests about other things send the run's own.
                stored = self.services.invocations.get(event.invocation_id)
                if stored is not None and stored.record.session_id:
                    event = event.model_copy(update={"session_id": stored.record.session_id})
            self.sqs.send_message(QueueUrl=self.queue_url("completions"), MessageBody=event.model_dump_json())
        return self._deliver(completion.handler, "completions", None)

    def _deliver(self, handler, logical: str, messages: list[dict] | None) -> dict:
        from runtime.local.lambda_shim import LocalLambdaContext, sqs_event

        messages = self.receive(logical) if messages is None else messages
        if not messages:
            return {"batchItemFailures": []}
        arn = f"arn:aws:sqs:us-east-1:123456789012:{self.queue_url(logical).rsplit('/', 1)[-1]}"
        response = handler(sqs_event(arn, messages), LocalLambdaContext(function_name=logical))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url(logical),
                                                   ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url(logical), ReceiptHandle=message["ReceiptHandle"])
        return response

    def drain(self, rounds: int = 20) -> None:
        """Run the orchestrator until the task queue is empty or a round starts nothing (capped work waits)."""
        for _ in range(rounds):
            messages = self.receive("tasks")
            if not messages:
                return
            response = self.run_orchestrator(messages)
            if len(response.get("batchItemFailures", [])) == len(messages):
                return

    def invocations(self) -> list[Any]:
        return self.services.invocations.all_for_project(self.project.project_id)

    def record(self, invocation_id: str):
        stored = self.services.invocations.get(invocation_id)
        return stored.record if stored else None


def make_project(**overrides) -> ProjectConfig:
    base = dict(project_id="acme", workspace_id="ws", cost_limit_per_invocation=Decimal("5"),
                cost_limit_per_month=Decimal("200"), concurrency_limit=5)
    base.update(overrides)
    return ProjectConfig(**base)


def build_pipeline(names, project: ProjectConfig, *, notion=None, invoker=None, **settings_overrides):
    from runtime.pipeline.services import PipelineServices
    from runtime.pipeline.settings import PipelineSettings

    sleeps: list[float] = []
    settings = PipelineSettings(
        invocations_table=names["tables"]["invocations"],
        projects_table=names["tables"]["projects"],
        idempotency_table=names["tables"]["idempotency"],
        task_queue_url=names["queues"]["tasks"],
        completion_queue_url=names["queues"]["completions"],
        notion_token_secret=names["secrets"]["notion-token"],
        webhook_secret=names["secrets"]["webhook-verification-token"],
        automation_secret=names["secrets"]["automation-secret"],
        default_project=project,
        invoke_retry_delays=(30.0, 60.0),
        writeback_retry_delays=(2.0, 8.0),
        **settings_overrides,
    )
    invoker = invoker or RecordingInvoker()
    services = PipelineServices(settings, notion=notion, invoker=invoker, sleep=sleeps.append)
    return Pipeline(names=names, invoker=invoker, project=project, services=services, sleeps=sleeps)


@pytest.fixture
def aws_names():
    from runtime.local.atomic_dynamodb import make_dynamodb_atomic

    make_dynamodb_atomic()  # as the local stack does: moto's cancelled transactions lose concurrent writes
    with declared_aws(PREFIX) as local:
        yield names_of(local)


@pytest.fixture
def pipeline(aws_names):
    """The pipeline without Notion (write-back has nowhere to go: DELIVERY_FAILED is recorded)."""
    from runtime.pipeline.services import set_services

    p = build_pipeline(aws_names, make_project())
    set_services(p.services)
    yield p
    set_services(None)


# --- Notion: the local emulator on loopback ----------------------------------------------------------------


@dataclass
class NotionEnv:
    emulator: Any
    server: Any
    seed: Any
    bot: Any  # NotionAdapter with the integration token (what the pipeline uses)
    user: Any  # NotionAdapter with a person's token (edits that must trigger)

    @property
    def base_url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="session")
def notion_server(tmp_path_factory):
    from runtime.local.notion_emulator import NotionEmulator
    from runtime.local.server import serve

    emulator = NotionEmulator(Path(tmp_path_factory.mktemp("notion")))
    from runtime.notion.schema import workspace_schema

    seed = emulator.seed_workspace(workspace_schema())
    server = serve(emulator.app)
    yield emulator, server, seed
    server.stop()


def fast_adapter(token: str, base_url: str):
    from runtime.notion.adapter import NotionAdapter
    from runtime.notion.throttle import Throttle

    return NotionAdapter(token, base_url=base_url, throttle=Throttle(rate_per_second=1000, burst=1000),
                         backoff_initial_seconds=0.01, backoff_max_seconds=0.05, max_retries=2)


@pytest.fixture
def notion_env(notion_server) -> NotionEnv:
    emulator, server, seed = notion_server
    return NotionEnv(emulator=emulator, server=server, seed=seed,
                     bot=fast_adapter(emulator.integration_token, server.base_url),
                     user=fast_adapter(emulator.user_token, server.base_url))


def make_notion_pipeline(aws_names, notion_env, *, settings: dict | None = None, **project_overrides):
    """The pipeline with Notion: the project points at the emulator's stories and dashboard data sources.
    `settings`: PipelineSettings fields beyond build_pipeline's (a queue or secret a test's path needs)."""
    from runtime.pipeline.services import set_services

    project = make_project(
        notion_database_id=notion_env.seed.stories_database_id,
        notion_data_source_id=notion_env.seed.stories_data_source_id,
        dashboard_data_source_id=notion_env.seed.dashboard_data_source_id,
        **{"agent_chain_template": "story-to-mock-to-deck", **project_overrides},
    )
    p = build_pipeline(aws_names, project, notion=notion_env.bot, **(settings or {}))
    p.notion_env = notion_env
    p.put_secret("notion-token", notion_env.emulator.integration_token)
    set_services(p.services)
    return p


@pytest.fixture
def notion_pipeline(aws_names, notion_env):
    yield make_notion_pipeline(aws_names, notion_env)
    from runtime.pipeline.services import set_services

    set_services(None)


# --- stories and events --------------------------------------------------------------------------------------

TOKEN = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"


def new_story(env: NotionEnv, title: str, status: str = "Generate Prototype") -> dict:
    """A story created (and so last edited) by the person, sitting in `status`."""
    return env.user.create_page(
        parent_data_source_id=env.seed.stories_data_source_id,
        title=title,
        properties={
            "Status": {"status": {"name": status}},
            "Owner": {"people": [{"id": env.emulator.person_user["id"]}]},
            "Acceptance Criteria": {"rich_text": [{"type": "text", "text": {"content": "- it works\n- it is fast"}}]},
        },
        markdown=f"As a user I want {title.lower()}.",
    )


def event_body(page: dict, *, event_id: str | None = None, author: dict | None = None,
               event_type: str = "page.properties_updated", env: NotionEnv | None = None,
               updated_properties: list[str] | None = None) -> bytes:
    """An integration webhook event as Notion sends it (see fixtures/notion/page_properties_updated.json); by
    default it says the Status property changed (by its id, as Notion names changed properties)."""
    import uuid

    if updated_properties is None:
        status = (page.get("properties") or {}).get("Status") or {}
        updated_properties = [status.get("id", "status")]

    parent = page.get("parent") or {}
    return json.dumps({
        "id": event_id or str(uuid.uuid4()),
        "timestamp": page.get("last_edited_time"),
        "workspace_id": "ws", "workspace_name": "Acme", "subscription_id": "sub", "integration_id": "int",
        "type": event_type,
        "authors": [author or {"id": env.emulator.person_user["id"] if env else "someone", "type": "person"}],
        "attempt_number": 1,
        "entity": {"id": page["id"], "type": "page"},
        "data": {"parent": {"id": parent.get("database_id"), "type": "database",
                            "data_source_id": parent.get("data_source_id")},
                 "updated_properties": updated_properties},
    }).encode()


def signed(body: bytes, token: str = TOKEN) -> dict[str, str]:
    from runtime.pipeline.webhook import notion_signature

    return {"x-notion-signature": notion_signature(body, token), "user-agent": "notion-api"}

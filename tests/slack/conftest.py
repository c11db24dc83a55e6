"""The Slack door under test: the real ingress and notifier, the local Slack emulator on loopback (driven through
slack_sdk), moto for the idempotency table, and small fakes for Notion, projects, the queue and the registry."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from runtime import resources
from runtime.local.slack_emulator import SlackEmulator, sign
from runtime.models import PageSnapshot, ProjectConfig, QueueMessage

from tests.conftest import declared_aws

DATA_SOURCE = "ds000000000000000000000000000001"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def notion_url(page_id: str, title: str = "Story") -> str:
    return f"https://www.notion.so/{title}-{page_id.replace('-', '')}"


class FakeNotion:
    def __init__(self) -> None:
        self.pages: dict[str, dict] = {}

    def add_page(self, title: str = "User can preview dashboard layout", data_source: str = DATA_SOURCE) -> str:
        page_id = str(uuid.uuid4())
        self.pages[page_id] = {"object": "page", "id": page_id, "parent": {"data_source_id": data_source},
                               "properties": {}, "title": title, "url": notion_url(page_id)}
        return page_id

    def retrieve_page(self, page_id: str) -> dict:
        from runtime.notion.errors import NotionNotFound

        if page_id not in self.pages:
            raise NotionNotFound(f"no page {page_id}", status=404, code="object_not_found")
        return self.pages[page_id]

    def page_snapshot(self, page: dict) -> PageSnapshot:
        return PageSnapshot(page_id=page["id"], url=page["url"], title=page["title"])


class FakeProjects:
    def __init__(self, *projects: ProjectConfig) -> None:
        self.projects = {p.project_id: p for p in projects}

    def resolve(self, *ids: str | None) -> ProjectConfig | None:
        return next((p for p in self.projects.values() if p.notion_data_source_id in ids), None)

    def get(self, project_id: str) -> ProjectConfig | None:
        return self.projects.get(project_id)


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[QueueMessage] = []
        self.lock = threading.Lock()

    def publish(self, message: QueueMessage) -> str:
        with self.lock:
            self.messages.append(message)
        return str(len(self.messages))


@dataclass
class FakeControl:
    calls: list[tuple] = field(default_factory=list)

    def status_text(self, workflow_id: str) -> str:
        self.calls.append(("status", workflow_id))
        return f"status of {workflow_id}"

    def cancel(self, workflow_id: str, user: str) -> str:
        self.calls.append(("cancel", workflow_id, user))
        return f"cancelled {workflow_id}"


@pytest.fixture(scope="session")
def registry():
    from runtime.registry import load_registry

    return load_registry(entry_points=False)


@pytest.fixture(scope="module")
def slack():
    emulator = SlackEmulator(signing_secret=SECRET)
    with emulator.serve() as handle:
        emulator.api_base = handle.base_url + "/api/"
        yield emulator


@pytest.fixture
def dynamodb():
    """moto with the idempotency table, `t-idempotency` (tests/conftest.py)."""
    import boto3

    with declared_aws("t", tables=[resources.IDEMPOTENCY], queues=[], secrets=[], bucket=False):
        yield boto3.client("dynamodb", region_name="us-east-1")


@dataclass
class Door:
    ingress: Any
    queue: FakeQueue
    notion: FakeNotion
    projects: FakeProjects
    control: FakeControl
    approvals: Any
    slack: SlackEmulator
    clock: list[float]

    def signed(self, kind: str, body: bytes, *, at: float | None = None, headers: dict | None = None,
               secret: str = SECRET):
        signed_headers = sign(secret, body, int(self.clock[0] if at is None else at))
        content_type = "application/json" if kind == "events" else "application/x-www-form-urlencoded"
        return self.ingress.handle(kind, body, {"Content-Type": content_type, **signed_headers, **(headers or {})})

    def command(self, text: str, *, user: str | None = None, trigger_id: str | None = None, **extra):
        from urllib.parse import urlencode

        form = {"command": "/aidlc", "text": text, "user_id": user or self.slack.person.id,
                "channel_id": self.slack.channel_id, "team_id": "T0AIDLC01",
                "trigger_id": trigger_id or uuid.uuid4().hex, **extra}
        return self.signed("commands", urlencode(form).encode())


@pytest.fixture
def door(slack, dynamodb, registry):
    from runtime.slack.ingress import ClaimedApprovals, SlackIngress
    from runtime.slack.notifier import SlackNotifier, web_client

    project = ProjectConfig(project_id="acme", notion_data_source_id=DATA_SOURCE, approvers=[slack.approver.id])
    queue, notion, projects, control = FakeQueue(), FakeNotion(), FakeProjects(project), FakeControl()
    clock = [time.time()]
    notifier = SlackNotifier(web_client(slack.bot_token, slack.api_base))
    approvals = ClaimedApprovals("t-idempotency", dynamodb)
    ingress = SlackIngress(
        signing_secret=lambda: SECRET, notion=lambda: notion, projects=projects, queue=queue,
        notifier=lambda: notifier, control=control, approvals=approvals, idempotency_table="t-idempotency",
        dynamodb_client=dynamodb, registry=registry, clock=lambda: clock[0],
    )
    return Door(ingress, queue, notion, projects, control, approvals, slack, clock)


def fake_registry(commands_by_agent: dict[str, list[str]]) -> Any:
    """A registry-shaped object for routing properties: agents with their declared Slack commands."""
    agents = {name: SimpleNamespace(name=name, description=f"the {name} agent", slack_commands=list(cmds),
                                    triggers=[f"Run {name}"])
              for name, cmds in commands_by_agent.items()}

    def agent_for_slack_command(command):
        return next((spec for spec in agents.values() if command in spec.slack_commands), None)

    return SimpleNamespace(agents=agents, agent_for_slack_command=agent_for_slack_command)

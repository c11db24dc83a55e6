"""The knowledge base under test: moto in-process for AWS (the sync-state table and the kb-sync queue as
runtime/resources.py declares them), the local Notion emulator on loopback with a clock the test sets (Notion's
`last_edited_time`), the local FTS5 index as the sink, and a clock for the sync's `ingested_at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from runtime import resources

from tests.conftest import declared_aws

PREFIX = "kbt"


class Clock:
    def __init__(self, when: str) -> None:
        self.set(when)

    def set(self, when: str) -> None:
        self.now = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Workspace:
    emulator: Any
    server: Any
    seed: Any

    @property
    def base_url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from runtime.local import notion_emulator
    from runtime.local.server import serve
    from runtime.notion.schema import workspace_schema

    emulator = notion_emulator.NotionEmulator(Path(tmp_path_factory.mktemp("kb-notion")))
    seed = emulator.seed_workspace(workspace_schema())
    server = serve(emulator.app)
    yield Workspace(emulator, server, seed)
    server.stop()


@pytest.fixture
def notion_time(workspace, monkeypatch):
    """Set the emulator's clock: `notion_time("2026-03-02T10:00:00.000Z")` stamps what is created or edited next
    (Notion rounds to the minute; the tests give whole minutes)."""
    from runtime.local import notion_emulator

    current = ["2026-03-02T10:00:00.000Z"]
    monkeypatch.setattr(notion_emulator, "_now", lambda: current[0])

    def set_time(when: str) -> None:
        current[0] = when

    return set_time


def adapter(token: str, base_url: str):
    from runtime.notion.adapter import NotionAdapter
    from runtime.notion.throttle import Throttle

    return NotionAdapter(token, base_url=base_url, throttle=Throttle(rate_per_second=1000, burst=1000),
                         backoff_initial_seconds=0.01, backoff_max_seconds=0.05, max_retries=2)


@pytest.fixture
def bot(workspace):
    return adapter(workspace.emulator.integration_token, workspace.base_url)


@pytest.fixture
def person(workspace):
    return adapter(workspace.emulator.user_token, workspace.base_url)


@pytest.fixture(scope="module")
def aws():
    """One moto backend per module (creating clients and tables costs ~1 s): each test's pages and jobs are its
    own, and `drain` empties the queue."""
    from runtime.aws_clients import AwsClients

    with declared_aws(PREFIX, tables=[resources.KB_SYNC_STATE, resources.PROJECTS], queues=[resources.KB_SYNC],
                      secrets=[], bucket=False) as local:
        yield {"clients": AwsClients("sync", region="us-east-1"),
               "queue_url": local.queue_urls[resources.KB_SYNC.logical_name]}


@pytest.fixture
def clock():
    return Clock("2026-03-02T10:30:00Z")


@pytest.fixture
def kb(aws, bot, clock, tmp_path):
    """KbServices over moto, the emulator and a local FTS5 index, as the sync function builds them."""
    from runtime.kb.retrieval import LocalIndex
    from runtime.kb.services import KbServices, KbSettings

    settings = KbSettings(state_table=f"{PREFIX}-kb-state", queue_url=aws["queue_url"],
                          projects_table=f"{PREFIX}-projects", notion_token_secret="unused",
                          local_index=str(tmp_path / "kb.sqlite3"))
    return KbServices(settings, clients=aws["clients"], notion=bot, sink=LocalIndex(settings.local_index),
                      clock=clock)


def drain(kb) -> list[Any]:
    """Run every queued kb-sync message through the sync function's queue path, as the event source mapping
    would; returns the handler's answers."""
    from runtime.handlers import sync
    from runtime.local.lambda_shim import LocalLambdaContext

    sqs = kb.clients.client("sqs")
    answers = []
    while True:
        messages = sqs.receive_message(QueueUrl=kb.settings.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return answers
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                              "awsRegion": "us-east-1"} for m in messages]}
        answers.append(sync.handler(event, LocalLambdaContext(function_name="sync"), services=kb))
        for m in messages:
            sqs.delete_message(QueueUrl=kb.settings.queue_url, ReceiptHandle=m["ReceiptHandle"])

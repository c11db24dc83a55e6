"""The sync function's settings and adapters, from its environment (`runtime.resources` names) or given.

Nothing is read or built at import; everything on first use, once per process (a Lambda container keeps it)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from runtime import resources
from runtime.kb.retrieval import KbSettingsError
from runtime.lazy import OnePerProcess
from runtime.pipeline.settings import FunctionSettings, env_var


@dataclass(frozen=True)
class KbSettings(FunctionSettings):
    error: ClassVar[type[RuntimeError]] = KbSettingsError
    kind: ClassVar[str] = "knowledge base"

    state_table: str = env_var(resources.KB_SYNC_STATE.env_var)
    queue_url: str = env_var(resources.KB_SYNC.env_var)
    bucket: str = env_var(resources.KB_DOCUMENTS.env_var)
    knowledge_base_id: str = env_var(resources.Env.KB_ID)
    data_source_id: str = env_var(resources.Env.KB_DATA_SOURCE_ID)
    # The local stack: an SQLite FTS5 file instead of the Bedrock KB
    local_index: str = env_var(resources.Env.KB_LOCAL_INDEX)


class KbServices:
    """The sync function's services. `notion`, `sink`, `clients` may be given (the local stack, tests)."""

    def __init__(self, settings: KbSettings, *, clients: Any | None = None, notion: Any | None = None,
                 sink: Any | None = None, clock: Any | None = None) -> None:
        from runtime.aws_clients import default_clients

        self.settings = settings
        self.clients = clients or default_clients()
        self._notion = notion
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()

    def notion(self) -> Any:
        with self._lock:
            if self._notion is None:
                from runtime.pipeline.adapters.secrets import SecretsManagerStore
                from runtime.pipeline.services import notion_from_secret

                self._notion = notion_from_secret(
                    self.settings, SecretsManagerStore(self.clients.client("secretsmanager")))
            return self._notion

    @cached_property
    def sqs(self) -> Any:
        """This function's SQS client (what an event source mapping uses: the local stack's poller)."""
        return self.clients.client("sqs")

    @cached_property
    def sink(self) -> Any:
        if self._sink is not None:
            return self._sink
        from runtime.kb.retrieval import LocalIndex, S3KnowledgeBaseSink

        if self.settings.local_index:
            return LocalIndex(self.settings.local_index)
        return S3KnowledgeBaseSink(
            self.settings.require("bucket"), self.settings.require("knowledge_base_id"),
            self.settings.require("data_source_id"), s3=self.clients.client("s3"),
            agent=self.clients.client("bedrock-agent"))

    @cached_property
    def sync(self) -> Any:
        from runtime.kb.sync import SqsSyncQueue, SyncService, SyncStateStore, now_utc

        projects = None
        if self.settings.projects_table:
            from runtime.pipeline.state.projects import ProjectRepository

            projects = ProjectRepository(self.settings.projects_table, self.clients.client("dynamodb"),
                                         default_project=self.settings.default_project)
        return SyncService(
            store=SyncStateStore(self.settings.require("state_table"), self.clients.client("dynamodb")),
            queue=SqsSyncQueue(self.settings.require("queue_url"), self.clients.client("sqs")),
            notion=self.notion, sink=self.sink, projects=projects, clock=self._clock or now_utc)


_current: OnePerProcess[KbServices] = OnePerProcess(lambda: KbServices(KbSettings.from_env()))


def get_kb_services() -> KbServices:
    return _current.get()


def set_kb_services(services: KbServices | None) -> None:
    _current.set(services)

"""The sync function's settings and adapters, from its environment (`runtime.resources` names) or given.

Nothing is read or built at import; everything on first use, once per process (a Lambda container keeps it)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from runtime import resources
from runtime.kb.retrieval import KbSettingsError


@dataclass(frozen=True)
class KbSettings:
    state_table: str = ""
    queue_url: str = ""
    projects_table: str = ""
    notion_token_secret: str = ""
    notion_api_base: str | None = None
    bucket: str = ""
    knowledge_base_id: str = ""
    data_source_id: str = ""
    local_index: str = ""  # the local stack: an SQLite FTS5 file instead of the Bedrock KB
    default_project: Any = None  # ProjectConfig
    require_iam_auth: bool = False

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise KbSettingsError(f"knowledge base setting {name!r} is not configured (see runtime/resources.py)")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "KbSettings":
        env = os.environ if environ is None else environ
        default_project = None
        raw = env.get(resources.Env.PROJECT_CONFIG)
        if raw:
            from runtime.models import ProjectConfig

            try:
                default_project = ProjectConfig.model_validate(json.loads(raw))
            except ValueError as exc:
                raise KbSettingsError(f"{resources.Env.PROJECT_CONFIG} is not a valid project: {exc}") from None
        return cls(
            state_table=env.get(resources.KB_SYNC_STATE.env_var, ""),
            queue_url=env.get(resources.KB_SYNC.env_var, ""),
            projects_table=env.get(resources.PROJECTS.env_var, ""),
            notion_token_secret=env.get(resources.NOTION_TOKEN.env_var, ""),
            notion_api_base=env.get(resources.Env.NOTION_API_BASE) or None,
            bucket=env.get(resources.KB_DOCUMENTS.env_var, ""),
            knowledge_base_id=env.get(resources.Env.KB_ID, ""),
            data_source_id=env.get(resources.Env.KB_DATA_SOURCE_ID, ""),
            local_index=env.get(resources.Env.KB_LOCAL_INDEX, ""),
            default_project=default_project,
            require_iam_auth=(env.get(resources.Env.API_REQUIRE_IAM) or "").strip().lower() in ("1", "true", "yes"),
        )


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
                from runtime.notion.adapter import NotionAdapter
                from runtime.pipeline.adapters.secrets import SecretsManagerStore

                token = SecretsManagerStore(self.clients.client("secretsmanager")).get(
                    self.settings.require("notion_token_secret"))
                if not token:
                    raise KbSettingsError("the Notion token secret is empty; store the integration token in it")
                self._notion = NotionAdapter(token, base_url=self.settings.notion_api_base)
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


_current: KbServices | None = None
_current_lock = threading.Lock()


def get_kb_services() -> KbServices:
    global _current
    with _current_lock:
        if _current is None:
            _current = KbServices(KbSettings.from_env())
        return _current


def set_kb_services(services: KbServices | None) -> None:
    global _current
    with _current_lock:
        _current = services

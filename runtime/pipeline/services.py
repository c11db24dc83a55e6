"""Assembling the pipeline's services, from the environment (the Lambda handlers) or from explicit settings and
adapters (the local stack, tests, benchmarks). Everything is built on first use and cached; nothing at import."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from collections.abc import Callable
from functools import cached_property
from typing import Any

from runtime.lazy import OnePerProcess, given_or_built
from runtime.pipeline.settings import FunctionSettings, PipelineSettings, SettingsError


def notion_from_secret(settings: FunctionSettings, secrets: Any) -> Any:
    """A function's Notion adapter (throttled), with the integration token its `notion_token_secret` holds
    (`secrets`: a `SecretStore`); `settings.error` when the secret is not configured or empty."""
    from runtime.notion.adapter import NotionAdapter

    token = secrets.get(settings.require("notion_token_secret"))
    if not token:
        raise settings.error("the Notion token secret is empty; store the integration token in it")
    return NotionAdapter(token, base_url=settings.notion_api_base)


class PipelineServices:
    def __init__(
        self,
        settings: PipelineSettings,
        *,
        secrets: Any | None = None,
        notion: Any | None = None,
        invoker: Any | None = None,
        registry: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
        dynamodb_client: Any | None = None,
        sqs_client: Any | None = None,
        clients: Any | None = None,
    ) -> None:
        from runtime.aws_clients import default_clients

        self.settings = settings
        # This function's boto3 clients (runtime/aws_clients.py): tagged with its principal, so a recorder attached
        # to them attributes every AWS call to it.
        self.clients = clients or default_clients()
        self._secrets = secrets
        self._notion = notion
        self._invoker = invoker
        self.registry = registry
        self.sleep = sleep
        self._dynamodb = dynamodb_client
        self._sqs = sqs_client
        self._lock = threading.Lock()

    # --- adapters ------------------------------------------------------------------------------------------

    @given_or_built
    def secrets(self):
        from runtime.pipeline.adapters.secrets import SecretsManagerStore

        return SecretsManagerStore(self.clients.client("secretsmanager"))

    @given_or_built
    def dynamodb(self):
        return self.clients.client("dynamodb")

    @given_or_built
    def sqs(self):
        return self.clients.client("sqs")

    @cached_property
    def invocations(self):
        from runtime.pipeline.state.invocations import InvocationRepository

        return InvocationRepository(self.settings.require("invocations_table"), self.dynamodb)

    @cached_property
    def projects(self):
        from runtime.pipeline.state.projects import ProjectRepository

        return ProjectRepository(self.settings.require("projects_table"), self.dynamodb,
                                 default_project=self.settings.default_project)

    @cached_property
    def queue(self):
        from runtime.pipeline.adapters.task_queue import SqsTaskQueue

        return SqsTaskQueue(self.settings.require("task_queue_url"), self.sqs)

    @cached_property
    def deferral(self):
        from runtime.pipeline.deferral import SqsDeferral

        first, longest = self.settings.defer_seconds
        return SqsDeferral(self.settings.require("task_queue_url"), self.sqs, first_seconds=first,
                           max_seconds=longest)

    def notion(self):
        """The throttled Notion adapter, with the token from Secrets Manager (read on first use)."""
        with self._lock:
            if self._notion is None:
                self._notion = notion_from_secret(self.settings, self.secrets)
            return self._notion

    def writeback(self):
        from runtime.pipeline.writeback import NotionWriteBack

        try:
            notion = self.notion()
        except SettingsError:
            return None
        with self._lock:
            # The dashboard's schema is read once per process, like the adapter, not once per run.
            schemas = self.__dict__.setdefault("_dashboard_schemas", {})
        return NotionWriteBack(notion, retry_delays=self.settings.writeback_retry_delays, sleep=self.sleep,
                               schemas=schemas)

    def slack_notifier(self):
        """The Slack bot (slack_sdk WebClient), or None when no bot token is configured or stored."""
        with self._lock:
            if getattr(self, "_slack_notifier", None) is None:  # not cached while absent: it may be stored later
                secret_id = self.settings.slack_bot_token_secret
                token = self.secrets.get(secret_id) if secret_id else None
                if not token or not token.strip():
                    return None
                from runtime.slack.notifier import SlackNotifier, web_client

                self._slack_notifier = SlackNotifier(web_client(token, self.settings.slack_api_base))
            return self._slack_notifier

    @cached_property
    def slack_notices(self):
        from runtime.slack.runs import SlackRunNotices

        return SlackRunNotices(self.slack_notifier)

    def invoker(self):
        with self._lock:
            if self._invoker is None:
                from runtime.pipeline.adapters.invoker import invoker_for

                self._invoker = invoker_for(self.settings.agent_runtimes, clients=self.clients)
            return self._invoker

    # --- services ------------------------------------------------------------------------------------------

    def _run_state(self) -> dict[str, Any]:
        """What every service over the run records is given (runtime.pipeline.common.RunService): the invocations
        and projects tables and the agent registry."""
        return {"invocations": self.invocations, "projects": self.projects, "registry": self.registry}

    @property
    def run_notices(self):
        """Slack notices for runs asked for in Slack (`slack_notices`); None when no bot token is configured."""
        return self.slack_notices if self.settings.slack_bot_token_secret else None

    @cached_property
    def webhook(self):
        from runtime.pipeline.webhook import WebhookService

        return WebhookService(
            notion=self.notion,
            projects=self.projects,
            queue=self.queue,
            secrets=self.secrets,
            webhook_secret_id=self.settings.require("webhook_secret"),
            automation_secret_id=self.settings.automation_secret,
            idempotency_table=self.settings.require("idempotency_table"),
            dynamodb_client=self.dynamodb,
            registry=self.registry,
            kb_sync=self.kb_sync_request if self.settings.kb_sync_queue_url else None,
            invocations=self.invocations if self.settings.invocations_table else None,
            invoker=self.invoker,
        )

    @cached_property
    def github_webhook(self):
        from runtime.pipeline.feedback import FeedbackService, GitHubWebhookService

        feedback = FeedbackService(**self._run_state(), queue=self.queue)
        return GitHubWebhookService(feedback=feedback, secrets=self.secrets,
                                    secret_id=self.settings.require("github_webhook_secret"),
                                    idempotency_table=self.settings.require("idempotency_table"),
                                    dynamodb_client=self.dynamodb)

    def kb_sync_request(self, page_id: str) -> None:
        """Ask the content sync for a page (runtime/kb/sync.py): one message on the kb-sync queue, nothing run here."""
        from runtime.kb.sync import SqsSyncQueue, SyncMessage

        SqsSyncQueue(self.settings.kb_sync_queue_url, self.sqs).send(SyncMessage(page_id=page_id))

    @cached_property
    def orchestrator(self):
        from runtime.pipeline.orchestrator import OrchestratorService

        return OrchestratorService(
            **self._run_state(), invoker=self.invoker(), writeback=self.writeback,
            retry_delays=self.settings.invoke_retry_delays, sleep=self.sleep, notices=self.run_notices,
            tool_tokens=self.tool_tokens, endpoints=self.settings.agent_endpoints)

    def tool_tokens(self):
        """The signer of each run's tool token (runtime/tools/identity.py), from the tool-token-key secret; None
        while it holds no usable key (the run's tool calls are then refused: default deny)."""
        from runtime.tools.identity import ToolTokens

        secret_id = self.settings.tool_token_key_secret
        key = self.secrets.get(secret_id) if secret_id else None
        try:
            return ToolTokens(key) if key else None
        except ValueError:  # too short to be a key: the same as none
            return None

    @cached_property
    def completion(self):
        from runtime.pipeline.completion import CompletionService

        return CompletionService(**self._run_state(), queue=self.queue, writeback=self.writeback,
                                 model_prices=self.settings.model_prices, notices=self.run_notices)

    @cached_property
    def slack(self):
        from runtime.slack.ingress import ClaimedApprovals, PipelineControl, SlackIngress

        table = self.settings.require("idempotency_table")
        secret_id = self.settings.require("slack_signing_secret")
        return SlackIngress(
            signing_secret=lambda: self.secrets.get(secret_id),
            notion=self.notion,
            projects=self.projects,
            queue=self.queue,
            notifier=self.slack_notifier,
            control=PipelineControl(self.invocations, lambda: self.api, self.projects),
            approvals=ClaimedApprovals(table, self.dynamodb),
            idempotency_table=table,
            dynamodb_client=self.dynamodb,
            registry=self.registry,
            workflows=self._slack_workflows(),
        )

    def _slack_workflows(self):
        """The onboarding workflows from Slack: the engine this function's services were given (the local stack)
        or the environment's (runtime/onboarding/workflows/wiring.py)."""
        from runtime.handlers.workflows import engine_for
        from runtime.slack.workflows import SlackWorkflows

        # the projects' approvers decide change sets; Slack-started workflows belong to the default project
        return SlackWorkflows(lambda: engine_for(self), self.slack_notifier, projects=lambda: self.projects)

    @cached_property
    def api(self):
        from runtime.pipeline.api import ApiService

        return ApiService(**self._run_state(), queue=self.queue, invoker=self.invoker,
                          access=self.settings.api_access, notion=self.notion)

    @cached_property
    def sweepers(self):
        from runtime.pipeline.sweepers import Sweepers

        # The queue only on first use: the timeouts and budget-alert sweepers never publish, and are not given it.
        return Sweepers(**self._run_state(), queue=lambda: self.queue, notion=self.notion, writeback=self.writeback,
                        invoker=self.invoker, silent_after=None if self.settings.heartbeat_timeout_seconds is None
                        else timedelta(seconds=self.settings.heartbeat_timeout_seconds))


_current: OnePerProcess[PipelineServices] = OnePerProcess(lambda: PipelineServices(PipelineSettings.from_env()))


def get_services() -> PipelineServices:
    """The process's services, built from the environment on the first call (a Lambda container keeps them)."""
    return _current.get()


def set_services(services: PipelineServices | None) -> None:
    """Use these services in the handlers (the local stack, tests); None: build from the environment again."""
    _current.set(services)


def reset_services() -> None:
    set_services(None)

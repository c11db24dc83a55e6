"""Where the pipeline finds its tables, queues, secrets and agents: names, URLs and ARNs, never secret values."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

from runtime import resources
from runtime.models import ProjectConfig

MAX_WEBHOOK_BODY_BYTES = 256 * 1024


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


def env_var(name: str, default: str | bool | None = "") -> Any:
    """A setting read from the environment variable `name` by `FunctionSettings.from_env`: the text as it is
    (a `None` default: None while unset or empty), or, with a bool default, a flag."""
    return field(default=default, metadata={"env": name})


@dataclass(frozen=True)
class FunctionSettings:
    """What every function's settings have and do alike (the pipeline's below, the content sync's in
    runtime/kb/services.py): the settings both read, `require` one, and `from_env`, which reads each `env_var`
    setting and the default project, plus what a subclass parses itself (`parsed_from`). Each raises its `error`."""

    error: ClassVar[type[RuntimeError]] = SettingsError
    kind: ClassVar[str] = "pipeline"  # "pipeline setting 'x' is not configured"

    projects_table: str = env_var(resources.PROJECTS.env_var)
    notion_token_secret: str = env_var(resources.NOTION_TOKEN.env_var)
    notion_api_base: str | None = env_var(resources.Env.NOTION_API_BASE, None)
    # The project served when no Notion row names one (the stack's PROJECT_CONFIG JSON).
    default_project: ProjectConfig | None = None
    # The internal API refuses calls without an IAM identity (AWS)
    require_iam_auth: bool = env_var(resources.Env.API_REQUIRE_IAM, False)

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise self.error(f"{self.kind} setting {name!r} is not configured (see runtime/resources.py for the env var)")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            if "env" in setting.metadata:
                raw = env.get(setting.metadata["env"])
                values[setting.name] = flag(raw) if isinstance(setting.default, bool) else raw or setting.default
        return cls(**values, default_project=cls._default_project(env), **cls.parsed_from(env))

    @classmethod
    def parsed_from(cls, env: Mapping[str, str]) -> dict[str, Any]:
        """The settings a subclass parses from `env` itself (JSON, lists), by field name; none here."""
        return {}

    @classmethod
    def _default_project(cls, env: Mapping[str, str]) -> ProjectConfig | None:
        raw = env.get(resources.Env.PROJECT_CONFIG)
        try:
            project = json.loads(raw) if raw else None
            return ProjectConfig.model_validate(project) if project else None
        except ValueError as exc:  # not JSON, or not a project
            raise cls.error(f"{resources.Env.PROJECT_CONFIG} is not a valid project configuration: {exc}") from None


@dataclass(frozen=True)
class PipelineSettings(FunctionSettings):
    invocations_table: str = env_var(resources.INVOCATIONS.env_var)
    idempotency_table: str = env_var(resources.IDEMPOTENCY.env_var)
    task_queue_url: str = env_var(resources.TASKS.env_var)
    completion_queue_url: str = env_var(resources.COMPLETIONS.env_var)
    # The content sync's queue: the webhook asks for a page's sync (runtime/kb/sync.py)
    kb_sync_queue_url: str = env_var(resources.KB_SYNC.env_var)
    # The secret id holding Notion's verification_token
    webhook_secret: str = env_var(resources.WEBHOOK_VERIFICATION.env_var)
    # The secret id holding the automation shared secret
    automation_secret: str = env_var(resources.AUTOMATION_SECRET.env_var)
    # The secret id holding the GitHub webhook's secret (X-Hub-Signature-256 key)
    github_webhook_secret: str = env_var(resources.GITHUB_WEBHOOK_SECRET.env_var)
    # The secret id holding the Slack app's signing secret
    slack_signing_secret: str = env_var(resources.SLACK_SIGNING_SECRET.env_var)
    # The secret id holding the Slack bot token; unset: no Slack notifications
    slack_bot_token_secret: str = env_var(resources.SLACK_BOT_TOKEN.env_var)
    # The secret id of the tool-token key (runtime/tools/identity.py): runs' tokens
    tool_token_key_secret: str = env_var(resources.TOOL_TOKEN_KEY.env_var)
    slack_api_base: str | None = env_var(resources.Env.SLACK_API_BASE, None)  # the local Slack emulator; unset in AWS
    agent_runtimes: dict[str, str] = field(default_factory=dict)  # agent -> runtime ARN or loopback URL
    agent_endpoints: dict[str, dict[str, str]] = field(default_factory=dict)  # agent -> {endpoint: version}
    # Invoke retries: 30 s then 60 s in AWS (the seed's backoff); tests pass zeros.
    invoke_retry_delays: tuple[float, ...] = (30.0, 60.0)
    # Notion write-back retries on top of the adapter's own 429 handling (an outage, not a rate limit).
    writeback_retry_delays: tuple[float, ...] = (2.0, 8.0, 30.0)
    model_prices: dict[str, Any] | None = None  # model id -> runtime.cost.ModelPrice; None: the built-in prices
    # No EMF cost metrics (the local stack)
    metrics_disabled: bool = env_var(resources.Env.POWERTOOLS_METRICS_DISABLED, False)
    # A task that must wait (cap, budget in flight) is deferred first by this many seconds, doubling up to the
    # second figure (`runtime.pipeline.deferral`).
    defer_seconds: tuple[float, float] = (10.0, 900.0)
    # A running run whose agent sent no heartbeat for this long is failed (the agent died or hung); None: no check.
    heartbeat_timeout_seconds: float | None = 120.0
    # The internal API's tenants: caller (IAM principal ARN) -> the project ids it may use, "*" for any. None: no
    # map configured, every authenticated caller may use every project (one team, one deployment).
    api_access: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def parsed_from(cls, env: Mapping[str, str]) -> dict[str, Any]:
        def json_env(name: str, default):
            raw = env.get(name)
            if not raw:
                return default
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"{name} is not valid JSON: {exc}") from None

        delays = json_env(resources.Env.INVOKE_RETRY_DELAYS, None)
        wb_delays = json_env(resources.Env.WRITEBACK_RETRY_DELAYS, None)
        return dict(
            agent_runtimes=json_env(resources.Env.AGENT_RUNTIMES, {}),
            agent_endpoints=_agent_endpoints(env.get(resources.Env.AGENT_ENDPOINTS)),
            invoke_retry_delays=tuple(delays) if delays is not None else (30.0, 60.0),
            writeback_retry_delays=tuple(wb_delays) if wb_delays is not None else (2.0, 8.0, 30.0),
            model_prices=_model_prices(json_env(resources.Env.MODEL_PRICES, None)),
            defer_seconds=_defer_seconds(json_env(resources.Env.DEFER_SECONDS, None)),
            api_access=_api_access(json_env(resources.Env.API_ACCESS, None)),
        )


def _defer_seconds(raw) -> tuple[float, float]:
    if raw is None:
        return (10.0, 900.0)
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, (int, float)) and v >= 0 for v in raw)):
        raise SettingsError(f"{resources.Env.DEFER_SECONDS} must be a JSON list [first, max] of seconds, got {raw!r}")
    return (float(raw[0]), float(raw[1]))


def flag(raw: str | None) -> bool:
    """An on/off environment variable: on when 1, true or yes."""
    return (raw or "").strip().lower() in ("1", "true", "yes")


def _model_prices(raw: Any) -> dict[str, Any] | None:
    from runtime.cost import ModelPrice

    if not raw:
        return None
    try:
        return {model: ModelPrice.model_validate(price) for model, price in raw.items()}
    except (ValueError, AttributeError) as exc:
        raise SettingsError(f"{resources.Env.MODEL_PRICES} is not valid: {exc}") from None


def _agent_endpoints(raw: str | None) -> dict[str, dict[str, str]]:
    from runtime.pipeline.endpoints import parse_endpoint_map

    try:
        return parse_endpoint_map(raw, resources.Env.AGENT_ENDPOINTS)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _api_access(raw) -> dict[str, tuple[str, ...]] | None:
    if raw is None:
        return None
    if not (isinstance(raw, dict) and all(isinstance(v, list) and all(isinstance(p, str) for p in v)
                                          for v in raw.values())):
        raise SettingsError(f"{resources.Env.API_ACCESS} must be a JSON object {{principal ARN: [project ids]}}")
    return {str(k): tuple(v) for k, v in raw.items()}

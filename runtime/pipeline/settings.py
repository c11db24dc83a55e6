"""Where the pipeline finds its tables, queues, secrets and agents: names, URLs and ARNs, never secret values."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import resources
from runtime.models import ProjectConfig

MAX_WEBHOOK_BODY_BYTES = 256 * 1024


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class PipelineSettings:
    invocations_table: str = ""
    projects_table: str = ""
    idempotency_table: str = ""
    task_queue_url: str = ""
    completion_queue_url: str = ""
    kb_sync_queue_url: str = ""  # the content sync's queue: the webhook asks for a page's sync (runtime/kb/sync.py)
    notion_token_secret: str = ""
    webhook_secret: str = ""  # secret id holding Notion's verification_token
    automation_secret: str = ""  # secret id holding the automation shared secret
    github_webhook_secret: str = ""  # secret id holding the GitHub webhook's secret (X-Hub-Signature-256 key)
    notion_api_base: str | None = None
    slack_signing_secret: str = ""  # secret id holding the Slack app's signing secret
    slack_bot_token_secret: str = ""  # secret id holding the Slack bot token; unset: no Slack notifications
    tool_token_key_secret: str = ""  # secret id of the tool-token key (runtime/tools/identity.py): runs' tokens
    slack_api_base: str | None = None  # the local Slack emulator; unset in AWS
    agent_runtimes: dict[str, str] = field(default_factory=dict)  # agent -> runtime ARN or loopback URL
    agent_endpoints: dict[str, dict[str, str]] = field(default_factory=dict)  # agent -> {endpoint: version}
    default_project: ProjectConfig | None = None
    # Invoke retries: 30 s then 60 s in AWS (the seed's backoff); tests pass zeros.
    invoke_retry_delays: tuple[float, ...] = (30.0, 60.0)
    # Notion write-back retries on top of the adapter's own 429 handling (an outage, not a rate limit).
    writeback_retry_delays: tuple[float, ...] = (2.0, 8.0, 30.0)
    require_iam_auth: bool = False  # the internal API refuses calls without an IAM identity (AWS)
    model_prices: dict[str, Any] | None = None  # model id -> runtime.cost.ModelPrice; None: the built-in prices
    metrics_disabled: bool = False  # POWERTOOLS_METRICS_DISABLED: no EMF cost metrics (the local stack)
    # A task that must wait (cap, budget in flight) is deferred first by this many seconds, doubling up to the
    # second figure (`runtime.pipeline.deferral`).
    defer_seconds: tuple[float, float] = (10.0, 900.0)
    # A running run whose agent sent no heartbeat for this long is failed (the agent died or hung); None: no check.
    heartbeat_timeout_seconds: float | None = 120.0
    # The internal API's tenants: caller (IAM principal ARN) -> the project ids it may use, "*" for any. None: no
    # map configured, every authenticated caller may use every project (one team, one deployment).
    api_access: dict[str, tuple[str, ...]] | None = None

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise SettingsError(f"pipeline setting {name!r} is not configured (see runtime/resources.py for the env var)")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "PipelineSettings":
        env = os.environ if environ is None else environ

        def json_env(name: str, default):
            raw = env.get(name)
            if not raw:
                return default
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"{name} is not valid JSON: {exc}") from None

        project_raw = json_env(resources.Env.PROJECT_CONFIG, None)
        try:
            default_project = ProjectConfig.model_validate(project_raw) if project_raw else None
        except ValueError as exc:
            raise SettingsError(f"{resources.Env.PROJECT_CONFIG} is not a valid project configuration: {exc}") from None
        delays = json_env(resources.Env.INVOKE_RETRY_DELAYS, None)
        wb_delays = json_env(resources.Env.WRITEBACK_RETRY_DELAYS, None)
        return cls(
            invocations_table=env.get(resources.INVOCATIONS.env_var, ""),
            projects_table=env.get(resources.PROJECTS.env_var, ""),
            idempotency_table=env.get(resources.IDEMPOTENCY.env_var, ""),
            task_queue_url=env.get(resources.TASKS.env_var, ""),
            completion_queue_url=env.get(resources.COMPLETIONS.env_var, ""),
            kb_sync_queue_url=env.get(resources.KB_SYNC.env_var, ""),
            notion_token_secret=env.get(resources.NOTION_TOKEN.env_var, ""),
            webhook_secret=env.get(resources.WEBHOOK_VERIFICATION.env_var, ""),
            automation_secret=env.get(resources.AUTOMATION_SECRET.env_var, ""),
            github_webhook_secret=env.get(resources.GITHUB_WEBHOOK_SECRET.env_var, ""),
            notion_api_base=env.get(resources.Env.NOTION_API_BASE) or None,
            slack_signing_secret=env.get(resources.SLACK_SIGNING_SECRET.env_var, ""),
            slack_bot_token_secret=env.get(resources.SLACK_BOT_TOKEN.env_var, ""),
            tool_token_key_secret=env.get(resources.TOOL_TOKEN_KEY.env_var, ""),
            slack_api_base=env.get(resources.Env.SLACK_API_BASE) or None,
            agent_runtimes=json_env(resources.Env.AGENT_RUNTIMES, {}),
            agent_endpoints=_agent_endpoints(env.get(resources.Env.AGENT_ENDPOINTS)),
            default_project=default_project,
            invoke_retry_delays=tuple(delays) if delays is not None else (30.0, 60.0),
            writeback_retry_delays=tuple(wb_delays) if wb_delays is not None else (2.0, 8.0, 30.0),
            require_iam_auth=_flag(env.get(resources.Env.API_REQUIRE_IAM)),
            model_prices=_model_prices(json_env(resources.Env.MODEL_PRICES, None)),
            metrics_disabled=_flag(env.get(resources.Env.POWERTOOLS_METRICS_DISABLED)),
            defer_seconds=_defer_seconds(json_env(resources.Env.DEFER_SECONDS, None)),
            api_access=_api_access(json_env(resources.Env.API_ACCESS, None)),
        )


def _defer_seconds(raw) -> tuple[float, float]:
    if raw is None:
        return (10.0, 900.0)
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, (int, float)) and v >= 0 for v in raw)):
        raise SettingsError(f"{resources.Env.DEFER_SECONDS} must be a JSON list [first, max] of seconds, got {raw!r}")
    return (float(raw[0]), float(raw[1]))


def _flag(raw: str | None) -> bool:
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

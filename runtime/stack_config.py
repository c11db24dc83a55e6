"""The stack configuration: every `aidlc:` key of `Pulumi.<stack>.yaml`, validated once.

Three readers share it:
- the Pulumi program (`from_pulumi_config()`, inside `pulumi up` or under mocks),
- the CLI and the local stack (`load_stack_config(stack, root)`, which parses the YAML file without Pulumi),
- the handlers, through `StackConfig.project_config()` (what the dev stack would run, the local stack runs too).

Secrets (`notionToken`, `githubToken`, `automationSecret`, `slackSigningSecret`, `slackBotToken`, `toolTokenKey`) are not fields here: they live in the stack file only as
Pulumi-encrypted `secure:` values (`pulumi config set --secret aidlc:notionToken ...`), are read by the program with
`pulumi.Config.get_secret`, and go straight into Secrets Manager. Nothing else ever sees their values.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from runtime.cost import DEFAULT_MODEL_ID, ModelPrice
from runtime.models import AgentName, BranchStrategy, ChainTemplate, ProjectConfig
from runtime.pipeline.endpoints import BETA, EndpointName, EndpointVersions

NAMESPACE = "aidlc"
SECRET_KEYS: tuple[str, ...] = ("notionToken", "githubToken", "automationSecret", "slackSigningSecret",
                                "slackBotToken", "toolTokenKey", "githubWebhookSecret")
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


class StackConfigError(ValueError):
    """The stack configuration is invalid. Each problem names the `aidlc:` key it is about."""

    def __init__(self, problems: list[str], source: str = "stack config") -> None:
        self.problems = problems
        super().__init__(f"invalid {source}:\n" + "\n".join(f"  - {p}" for p in problems))


class StackConfig(BaseModel):
    """Every `aidlc:` setting. Field names are snake_case; the YAML keys are their camelCase aliases."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    project_id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    workspace_id: str = ""
    # Notion (API 2025-09-03): stories are queried through a data source; the dashboard is a data source too.
    notion_database_id: str = ""
    notion_stories_data_source_id: str = ""
    notion_dashboard_data_source_id: str = ""
    # The "Projects" data source: each row configures one more project (runtime/pipeline/project_sync.py); "": none.
    notion_projects_data_source_id: str = ""
    trigger_property: str = Field(default="Status", min_length=1)
    trigger_map: dict[str, AgentName] = Field(default_factory=dict)
    owner_user_id: str = ""
    # GitHub
    github_repo: str = Field(default="", pattern=r"^$|^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    github_branch_strategy: BranchStrategy = BranchStrategy.FEATURE_BRANCH
    coding_standards: str = ""
    framework_preferences: list[str] = Field(default_factory=list)
    agent_chain_template: ChainTemplate = ChainTemplate.STORY_TO_MOCK_TO_DECK
    # Models and money
    model_id: str = Field(default=DEFAULT_MODEL_ID, min_length=1)
    # The model agents run on, PROVIDER[:MODEL] (runtime.agent.models): offline, bedrock[:ID] (sets modelId),
    # anthropic:MODEL, openai:MODEL (any OpenAI-compatible endpoint), litellm:MODEL. "": the local stack runs the
    # offline model; `aidlc dev --model` overrides it. Deployed runtimes run on Bedrock (modelId).
    model: str = ""
    # Extra models the agents may call (a plugin's Limits.model_id); the runtimes' IAM allows exactly these.
    allowed_model_ids: list[str] = Field(default_factory=list)
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)
    cost_limit_per_invocation: Decimal = Field(default=Decimal("5"), gt=0)
    cost_limit_per_month: Decimal = Field(default=Decimal("200"), gt=0)
    concurrency_limit: int = Field(default=5, ge=1, le=100)
    # Hosting, operations
    prototype_expiry_days: int = Field(default=7, ge=1, le=365)
    alarm_email: str = Field(default="", pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    log_retention_days: int = 30
    api_throttle_rate: float = Field(default=20.0, gt=0)
    api_throttle_burst: int = Field(default=40, ge=1)
    agent_runtime: str = Field(default="PYTHON_3_12", pattern=r"^PYTHON_3_1[2-4]$")
    lambda_architecture: str = Field(default="arm64", pattern=r"^(arm64|x86_64)$")
    # Versioned agent endpoints (runtime/pipeline/endpoints.py): {agent: {dev|staging|prod|beta: runtime version}};
    # an endpoint left out serves the runtime's latest version, `beta` exists only where given. A rollback is an
    # earlier version here. The default project's endpoint, and the share of its runs a beta endpoint takes.
    agent_versions: EndpointVersions = Field(default_factory=dict)
    agent_endpoint: EndpointName = "prod"
    agent_beta_share: float = Field(default=0.0, ge=0, le=1)
    # The onboarding workflows (seed 003): the role provisioning assumes in each member account (Organizations makes
    # OrganizationAccountAccessRole in every account it creates); the workflow roles may assume exactly this name.
    access_role_name: str = Field(default="OrganizationAccountAccessRole", pattern=r"^[\w+=,.@-]{1,64}$")
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_allowed(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs accepts only {', '.join(map(str, LOG_RETENTION_DAYS))} days")
        return value

    @field_validator("model")
    @classmethod
    def _model_is_a_choice(cls, value: str) -> str:
        from runtime.agent.models import parse_model_choice

        return str(parse_model_choice(value)) if value.strip() else ""

    @model_validator(mode="before")
    @classmethod
    def _bedrock_choice_sets_model_id(cls, values: Any) -> Any:
        """`model: bedrock:<id>` and `modelId` are one fact: the choice fills modelId in, and may not contradict it."""
        if not isinstance(values, dict):
            return values
        provider, _, model = str(values.get("model") or "").strip().partition(":")
        if provider.strip().lower() != "bedrock" or not model.strip():
            return values
        given = values.get("modelId", values.get("model_id"))
        if given not in (None, model.strip()):
            raise ValueError(f"aidlc:model names Bedrock model {model.strip()!r} but aidlc:modelId is {given!r}: "
                             "set one of them")
        return {**values, "modelId": model.strip()}

    @model_validator(mode="after")
    def _chosen_model_has_a_price(self) -> "StackConfig":
        from runtime.agent.models import parse_model_choice
        from runtime.cost import UnknownModelPrice, price_for

        choice = parse_model_choice(self.model) if self.model else None
        if choice is not None and choice.provider not in ("offline", "bedrock") and choice.model_id:
            try:
                price_for(choice.model_id, self.model_prices)
            except UnknownModelPrice:
                raise ValueError(
                    f"aidlc:model {self.model!r} has no price, so budgets could not hold: add "
                    f"{choice.model_id!r} to aidlc:modelPrices (USD per million input/output tokens; 0 for a free "
                    "local model)") from None
        return self

    @model_validator(mode="after")
    def _beta_share_has_a_beta(self) -> "StackConfig":
        if self.agent_beta_share > 0 and not any(BETA in v for v in self.agent_versions.values()):
            raise ValueError(f"aidlc:agentBetaShare is {self.agent_beta_share} but no agent has a {BETA!r} version in "
                             "aidlc:agentVersions: add one (e.g. {code: {beta: \"4\"}}) or set the share to 0")
        return self

    @model_validator(mode="after")
    def _month_covers_invocation(self) -> "StackConfig":
        if self.cost_limit_per_month < self.cost_limit_per_invocation:
            raise ValueError("costLimitPerMonth is below costLimitPerInvocation: no invocation could ever run")
        return self

    # --- derived --------------------------------------------------------------------------------------------

    @property
    def model_ids(self) -> list[str]:
        """Every model the agent runtimes may invoke: the default first, then the extra ones, each once."""
        return list(dict.fromkeys([self.model_id, *self.allowed_model_ids]))

    def project_config(self) -> ProjectConfig:
        """The default project this stack serves, as the handlers see it: the settings of the same name as they are,
        the rest renamed ("" here is None there)."""
        return ProjectConfig(**{
            **self.model_dump(include=set(ProjectConfig.model_fields)),
            "notion_data_source_id": self.notion_stories_data_source_id,
            "dashboard_data_source_id": self.notion_dashboard_data_source_id or None,
            "owner_user_id": self.owner_user_id or None,
            "beta_share": self.agent_beta_share,
            "projects_data_source_id": self.notion_projects_data_source_id or None,
        })

    def model_prices_json(self) -> str:
        return json.dumps({k: v.model_dump(mode="json") for k, v in self.model_prices.items()}, sort_keys=True)

    # --- parsing --------------------------------------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: dict[str, Any], source: str = "stack config") -> "StackConfig":
        """Validate `{camelCaseKey: value}`; structured values may arrive as JSON strings (as Pulumi hands them)."""
        unknown_secret = [k for k in settings if k in SECRET_KEYS]
        values = {k: _maybe_json(v) for k, v in settings.items() if k not in unknown_secret}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise StackConfigError([_describe(error) for error in exc.errors()], source) from None


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _describe(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    if not loc:
        return error["msg"].removeprefix("Value error, ")
    key = f"{NAMESPACE}:{loc[0]}" + "".join(f".{part}" for part in loc[1:])
    if error["type"] == "extra_forbidden":
        known = ", ".join(sorted(f.alias or n for n, f in StackConfig.model_fields.items()))
        return f"{key}: unknown setting (known: {known}; secrets go in with `pulumi config set --secret`)"
    return f"{key}: {error['msg'].removeprefix('Value error, ')} (got {error.get('input')!r})"


def stack_file(stack: str, root: Path) -> Path:
    return Path(root) / f"Pulumi.{stack}.yaml"


def read_stack_settings(stack: str = "dev", root: Path = Path(".")) -> dict[str, Any]:
    """The raw `aidlc:` settings of `Pulumi.<stack>.yaml` (namespace stripped), plus project defaults from
    `Pulumi.yaml` `config:` (`aidlc:key: {default: ...}` or a plain value). `secure:` values are left out."""
    path = stack_file(stack, root)
    if not path.exists():
        raise StackConfigError([f"{path} does not exist (create it with `pulumi stack init {stack}`)"], str(path))
    settings: dict[str, Any] = {}
    project_file = Path(root) / "Pulumi.yaml"
    if project_file.exists():
        project = yaml.safe_load(project_file.read_text()) or {}
        for key, value in (project.get("config") or {}).items():
            if key.startswith(f"{NAMESPACE}:"):
                settings[key.split(":", 1)[1]] = value.get("default") if isinstance(value, dict) else value
    data = yaml.safe_load(path.read_text()) or {}
    for key, value in (data.get("config") or {}).items():
        if not key.startswith(f"{NAMESPACE}:"):
            continue
        if isinstance(value, dict) and "secure" in value:
            continue
        settings[key.split(":", 1)[1]] = value
    return settings


def load_stack_config(stack: str = "dev", root: Path = Path(".")) -> StackConfig:
    """Parse and validate `Pulumi.<stack>.yaml` without Pulumi (CLI, local stack, tests)."""
    return StackConfig.from_settings(read_stack_settings(stack, root), str(stack_file(stack, root)))


def pulumi_config_map(stack: str = "dev", root: Path = Path(".")) -> dict[str, str]:
    """The stack file's config as the Pulumi engine hands it to a program: `{"ns:key": string or JSON}`.
    Used to run the real program under mocks (`aidlc infra inventory`, tests)."""
    path = stack_file(stack, root)
    data = yaml.safe_load(path.read_text()) or {}
    out: dict[str, str] = {}
    for key, value in (data.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            continue
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def from_pulumi_config() -> StackConfig:
    """Read the `aidlc:` namespace through `pulumi.Config` (inside the Pulumi program)."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    settings: dict[str, Any] = {}
    for name, field in StackConfig.model_fields.items():
        key = field.alias or name
        raw = config.get(key)
        if raw is not None:
            settings[key] = raw
    # Keys Pulumi knows but no field reads: report them instead of silently ignoring a typo.
    all_config = pulumi.runtime.get_config_env() | dict(_current_config())
    known = {f.alias or n for n, f in StackConfig.model_fields.items()} | set(SECRET_KEYS)
    for full_key, value in all_config.items():
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE and key not in known:
            settings[key] = value
    return StackConfig.from_settings(settings, f"Pulumi config of stack {pulumi.get_stack()}")


def _current_config() -> dict[str, Any]:
    from pulumi.runtime.config import CONFIG

    return dict(CONFIG.get() or {})


def secret_value(key: str):
    """A secret from the `aidlc:` namespace as a Pulumi secret Output, or None when it is not set."""
    import pulumi

    if key not in SECRET_KEYS:
        raise KeyError(f"{key!r} is not one of the secret settings {SECRET_KEYS}")
    return pulumi.Config(NAMESPACE).get_secret(key)

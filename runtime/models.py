"""Domain models (pydantic v2), after the seed design's section 2 and 3.1.

These are the contracts between the parts: the webhook writes a `QueueMessage`, the orchestrator stores an
`InvocationRecord` and sends an `AgentRequest`, the agent app answers with a `CompletionEvent`.
`agent_type` is a plain string checked against the plugin registry at the edges, not an enum, so a new plugin
needs no model change.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator
from ulid import ULID

from runtime.errors import ErrorCode


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_ulid() -> str:
    return str(ULID())


def _check_ulid(value: str) -> str:
    try:
        ULID.from_str(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a ULID (26 Crockford base32 characters): {exc}") from None
    return value


def _check_agent_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,47}", value):
        raise ValueError(
            f"{value!r} is not a valid agent name: use lower-case letters, digits and underscores, "
            "starting with a letter (e.g. 'demo_deck')"
        )
    return value


Ulid = Annotated[str, AfterValidator(_check_ulid)]
AgentName = Annotated[str, AfterValidator(_check_agent_name)]
Usd = Annotated[Decimal, Field(ge=0, decimal_places=6)]


class Strict(BaseModel):
    """Base for our own records: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class InvocationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (InvocationStatus.COMPLETED, InvocationStatus.FAILED, InvocationStatus.CANCELLED)


class ArtifactType(str):
    """An artifact type: an open, validated name (lower_snake_case), so a plugin's tool can produce a type of its
    own with no model change. The built-in types are constants (`ArtifactType.PROTOTYPE`...), and `.value` reads
    as it did when this was an enum."""

    PULL_REQUEST: ClassVar[ArtifactType]
    PROTOTYPE: ClassVar[ArtifactType]
    NOTION_PAGE: ClassVar[ArtifactType]
    NOTION_DATABASE: ClassVar[ArtifactType]
    INSIGHT_REPORT: ClassVar[ArtifactType]

    def __new__(cls, value: str) -> "ArtifactType":
        if not isinstance(value, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,47}", value):
            raise ValueError(f"{value!r} is not a valid artifact type: use lower-case letters, digits and "
                             "underscores, starting with a letter (e.g. 'prototype' or 'diagram')")
        return super().__new__(cls, value)

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"ArtifactType({self.value!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


ArtifactType.PULL_REQUEST = ArtifactType("pull_request")
ArtifactType.PROTOTYPE = ArtifactType("prototype")
ArtifactType.NOTION_PAGE = ArtifactType("notion_page")
ArtifactType.NOTION_DATABASE = ArtifactType("notion_database")
ArtifactType.INSIGHT_REPORT = ArtifactType("insight_report")


class ChainTemplate(StrEnum):
    STORY_TO_CODE = "story-to-code"
    STORY_TO_MOCK_TO_DECK = "story-to-mock-to-deck"
    CUSTOM = "custom"


class BranchStrategy(StrEnum):
    FEATURE_BRANCH = "feature-branch"
    DIRECT_TO_MAIN = "direct-to-main"


# --- Output artifacts (2.1.1) ------------------------------------------------------------------------------


class PullRequestMetadata(Strict):
    kind: Literal["pull_request"] = "pull_request"
    repo: str
    branch: str
    pr_number: int = Field(ge=1)
    files_changed: int = Field(ge=0)


class PrototypeMetadata(Strict):
    kind: Literal["prototype"] = "prototype"
    s3_key: str
    cloudfront_url: str
    expiry_days: int = Field(ge=1)
    screenshot_url: str | None = None
    variant: str | None = None


class NotionPageMetadata(Strict):
    kind: Literal["notion_page"] = "notion_page"
    page_id: str
    parent_page_id: str | None = None
    page_type: str = "general"


class NotionDatabaseMetadata(Strict):
    kind: Literal["notion_database"] = "notion_database"
    database_id: str
    data_source_id: str | None = None
    record_count: int = Field(default=0, ge=0)


class InsightReportMetadata(Strict):
    kind: Literal["insight_report"] = "insight_report"
    page_id: str
    feedback_count: int = Field(default=0, ge=0)
    source_data_source_ids: list[str] = Field(default_factory=list)


class PluginArtifactMetadata(BaseModel):
    """Metadata of an artifact type a plugin brings: its `kind` (the type) plus fields of the plugin's own
    (JSON values: strings, numbers, booleans, lists and objects of them)."""

    model_config = ConfigDict(extra="allow")

    kind: ArtifactType


_BUILTIN_METADATA = (PullRequestMetadata, PrototypeMetadata, NotionPageMetadata, NotionDatabaseMetadata,
                     InsightReportMetadata)
_BUILTIN_KINDS = frozenset(m.model_fields["kind"].default for m in _BUILTIN_METADATA)


def _metadata_tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in _BUILTIN_KINDS else "plugin"


# A built-in type's metadata is its own strict model; any other type's is PluginArtifactMetadata.
ArtifactMetadata = Annotated[
    Annotated[PullRequestMetadata, Tag("pull_request")]
    | Annotated[PrototypeMetadata, Tag("prototype")]
    | Annotated[NotionPageMetadata, Tag("notion_page")]
    | Annotated[NotionDatabaseMetadata, Tag("notion_database")]
    | Annotated[InsightReportMetadata, Tag("insight_report")]
    | Annotated[PluginArtifactMetadata, Tag("plugin")],
    Discriminator(_metadata_tag),
]


class OutputArtifact(Strict):
    type: ArtifactType
    url: str
    title: str
    metadata: ArtifactMetadata
    expires_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _plugin_metadata_default(cls, data: Any) -> Any:
        """A plugin's own artifact type may come with no metadata: it then carries just its kind."""
        if isinstance(data, dict) and data.get("metadata") is None and data.get("type") not in _BUILTIN_KINDS:
            return {**data, "metadata": {"kind": data.get("type")}}
        return data

    @model_validator(mode="after")
    def _metadata_matches_type(self) -> "OutputArtifact":
        if self.metadata.kind != self.type.value:
            raise ValueError(f"artifact of type {self.type.value!r} carries {self.metadata.kind!r} metadata")
        return self


# --- Invocation record (2.1) -------------------------------------------------------------------------------


class TokenUsage(Strict):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _total(self) -> "TokenUsage":
        if self.total_tokens == 0:
            self.total_tokens = self.input_tokens + self.output_tokens
        return self

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class InvocationRecord(Strict):
    invocation_id: Ulid
    notion_page_id: str
    workspace_id: str
    project_id: str
    agent_type: AgentName
    status: InvocationStatus = InvocationStatus.QUEUED
    trigger_value: str | None = None
    input_context: dict[str, Any] = Field(default_factory=dict)
    output_summary: str | None = None
    output_artifacts: list[OutputArtifact] = Field(default_factory=list)
    parent_invocation_id: Ulid | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    cost_usd: Usd = Decimal("0")
    reserved_usd: Usd = Decimal("0")
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    session_id: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_code: ErrorCode | None = None
    error_detail: str | None = None
    delivery_status: Literal["pending", "delivered", "failed"] = "pending"
    # The AgentCore endpoint and runtime version that ran it (runtime/pipeline/endpoints.py); None: not started.
    agent_endpoint: str | None = None
    agent_version: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_message(cls, message: "QueueMessage", config: dict[str, Any] | None = None) -> "InvocationRecord":
        """The queued record of the run a task message asks for (the orchestrator, and POST /invoke before it
        enqueues); `config`: the project settings the run is recorded with. The fields the two share (the ids, the
        agent, the trigger, the parent) carry over as they are."""
        return cls(
            **message.model_dump(include=set(cls.model_fields) & set(type(message).model_fields)),
            input_context={"story": message.page_snapshot.model_dump(mode="json"),
                           "chain_context": message.chain_context,
                           **({"slack": message.slack.model_dump(mode="json")} if message.slack else {})},
            config=dict(config or {}),
        )


# --- Project configuration (2.2) ---------------------------------------------------------------------------


class ProjectConfig(Strict):
    project_id: str = Field(min_length=1)
    workspace_id: str = ""
    notion_database_id: str = ""
    # API 2025-09-03: a database holds data sources; stories are queried through the data source.
    notion_data_source_id: str = ""
    dashboard_data_source_id: str | None = None
    trigger_property: str = "Status"
    owner_user_id: str | None = None
    github_repo: str = ""
    github_branch_strategy: BranchStrategy = BranchStrategy.FEATURE_BRANCH
    coding_standards: str = ""
    framework_preferences: list[str] = Field(default_factory=list)
    agent_chain_template: ChainTemplate = ChainTemplate.STORY_TO_MOCK_TO_DECK
    # Extra Notion status values -> agent names, on top of the ones plugins register.
    trigger_map: dict[str, AgentName] = Field(default_factory=dict)
    prototype_expiry_days: int = Field(default=7, ge=1, le=365)
    cost_limit_per_invocation: Usd = Decimal("5")
    cost_limit_per_month: Usd = Decimal("200")
    month_to_date_cost: Usd = Decimal("0")
    concurrency_limit: int = Field(default=5, ge=1)
    # The agent endpoint this project's runs use (dev | staging | prod), and the share of them a `beta` endpoint
    # takes when the stack gives an agent a beta version (runtime/pipeline/endpoints.py).
    agent_endpoint: Literal["dev", "staging", "prod"] = "prod"
    beta_share: float = Field(default=0.0, ge=0, le=1)
    knowledge_base_id: str | None = None
    # Slack user ids who may press Approve / Reject (and cancel others' runs) for this project's workflows.
    approvers: list[str] = Field(default_factory=list)
    # Globs of repository paths agents must not change (recorded here; enforced by the code tools' policy).
    protected_paths: list[str] = Field(default_factory=list)
    # Cancel by status change (runtime/pipeline/cancellation.py): a person moving a story out of its run's trigger
    # status cancels the run (off: only `cancel_status` does); moving it to `cancel_status` always cancels.
    cancel_on_status_change: bool = True
    cancel_status: str | None = None
    # The Notion "Projects" row this project is configured from (runtime/pipeline/project_sync.py); None: the
    # stack configuration's default project.
    notion_config_page_id: str | None = None
    # On the default project only: the deployment's "Projects" data source, whose rows configure more projects.
    projects_data_source_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("github_repo")
    @classmethod
    def _repo_is_owner_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
            raise ValueError("not owner/name (e.g. 'acme/web-app')")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> "ProjectConfig":
        if self.cost_limit_per_month < self.cost_limit_per_invocation:
            raise ValueError(f"cost_limit_per_month (${self.cost_limit_per_month}) is below cost_limit_per_invocation "
                             f"(${self.cost_limit_per_invocation}): no run could ever start")
        return self


# --- Feedback entry (2.3) ----------------------------------------------------------------------------------

Rating = Annotated[int, Field(ge=1, le=5)]


class FeedbackEntry(Strict):
    title: str
    respondent: str = ""
    demo_deck_page_id: str | None = None
    user_story_page_id: str | None = None
    overall_rating: Rating | None = None
    clarity_rating: Rating | None = None
    desirability_rating: Rating | None = None
    open_feedback: str = ""
    would_use: Literal["Yes", "No", "Maybe"] | None = None
    top_concern: str = ""
    submitted_at: datetime | None = None


# The Notion property schema of the feedback database (2.3), as `POST /v1/databases` takes it, without its relation:
# Notion (2025-09-03) refuses a relation that names no data source, so "User Story" is added by
# `feedback_database_properties` from the stories data source. The seed's "Demo Deck" relation cannot exist (a
# relation points at a data source, and a deck is a page): the database is created under the deck page instead.
FEEDBACK_DATABASE_PROPERTIES: dict[str, dict[str, Any]] = {
    "Title": {"title": {}},
    "Respondent": {"rich_text": {}},
    "Overall Rating": {"number": {"format": "number"}},
    "Clarity Rating": {"number": {"format": "number"}},
    "Desirability Rating": {"number": {"format": "number"}},
    "Open Feedback": {"rich_text": {}},
    "Would Use": {"select": {"options": [{"name": "Yes"}, {"name": "No"}, {"name": "Maybe"}]}},
    "Top Concern": {"rich_text": {}},
    "Submitted At": {"date": {}},
}


def feedback_database_properties(stories_data_source_id: str | None) -> dict[str, dict[str, Any]]:
    """The feedback database's schema, with "User Story" related to the stories data source when it is known."""
    properties = dict(FEEDBACK_DATABASE_PROPERTIES)
    if stories_data_source_id:
        properties["User Story"] = {"relation": {"data_source_id": stories_data_source_id, "single_property": {}}}
    return properties


# --- Messages between the parts ----------------------------------------------------------------------------


class PageSnapshot(BaseModel):
    """The story as the webhook saw it: enough for the agent to start without reading Notion again."""

    page_id: str = ""
    url: str = ""
    title: str
    properties: dict[str, Any] = Field(default_factory=dict)
    content_markdown: str = ""
    last_edited_time: str | None = None

    @property
    def acceptance_criteria(self) -> list[str]:
        """The 'Acceptance Criteria' property, one criterion per line, list markers removed."""
        raw = self.properties.get("Acceptance Criteria") or ""
        if isinstance(raw, list):
            raw = "\n".join(str(item) for item in raw)
        lines = (re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in str(raw).splitlines())
        return [line for line in lines if line]


class SlackOrigin(Strict):
    """Where a run was asked for in Slack: its notifications go to this thread, and only this thread."""

    channel: str = Field(min_length=1)
    thread_ts: str | None = None  # the thread's first message; None until it is posted
    workflow_id: str = ""  # the first run's invocation id: the thread belongs to it and the runs it chains
    user: str = ""  # who asked
    stakeholders: list[str] = Field(default_factory=list)  # Slack user ids named in the request, mentioned


class QueueMessage(Strict):
    """The task queue message (seed 3.1), plus the chaining fields."""

    invocation_id: Ulid
    workspace_id: str
    notion_page_id: str
    agent_type: AgentName
    trigger_value: str
    project_id: str
    page_snapshot: PageSnapshot
    parent_invocation_id: Ulid | None = None
    chain_context: dict[str, Any] = Field(default_factory=dict)
    slack: SlackOrigin | None = None  # asked for from Slack (the chain's runs inherit it)
    enqueued_at: datetime = Field(default_factory=utcnow)
    # When the story in page_snapshot was read from Notion (None: not read for this message): a re-trigger is told
    # from a late report of the same edit by it (orchestrator.is_retrigger), not by when the message was sent.
    story_read_at: datetime | None = None


class AgentProjectSettings(BaseModel):
    """The project settings an agent sees (a subset of `ProjectConfig`)."""

    project_id: str
    github_repo: str = ""
    github_branch_strategy: BranchStrategy = BranchStrategy.FEATURE_BRANCH
    coding_standards: str = ""
    framework_preferences: list[str] = Field(default_factory=list)
    prototype_expiry_days: int = 7
    stories_data_source_id: str = ""
    dashboard_data_source_id: str | None = None
    protected_paths: list[str] = Field(default_factory=list)  # globs the agent must never change (Cedar enforces)

    @classmethod
    def from_project(cls, project: ProjectConfig) -> "AgentProjectSettings":
        """The settings of `project` its agents see: those of the same name, and the stories' data source."""
        return cls(**project.model_dump(include=set(cls.model_fields) - {"stories_data_source_id"}),
                   stories_data_source_id=project.notion_data_source_id)


class Budget(BaseModel):
    cost_limit_usd: Usd = Decimal("5")
    token_limit: int | None = Field(default=None, ge=1)


class ParentContext(BaseModel):
    """What a chained run inherits: the parent invocation and the context its chaining rule passes on."""

    invocation_id: Ulid
    agent_type: AgentName
    artifacts: list[OutputArtifact] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)


class AgentRequest(Strict):
    """The orchestrator's payload to an agent runtime (`POST /invocations`)."""

    invocation_id: Ulid
    session_id: str = Field(min_length=33)
    agent_type: AgentName
    project_id: str
    workspace_id: str = ""
    notion_page_id: str
    story: PageSnapshot
    project: AgentProjectSettings
    parent: ParentContext | None = None
    budget: Budget = Field(default_factory=Budget)
    model_id: str | None = None
    # The run's tool token (runtime/tools/identity.py): signed by whoever holds the tool-token key for this agent
    # and invocation; the agent sends it with every tool call. None: the run's tools refuse it (or the runtime is
    # handed one another way, as the local stack does).
    tool_token: str | None = Field(default=None, repr=False)
    # The AgentCore endpoint (the invoke qualifier) the orchestrator chose; None: the invoker's default.
    endpoint: str | None = None


class CompletionEvent(Strict):
    """What an agent run sends to the completion queue, exactly once per run."""

    invocation_id: Ulid
    agent_type: AgentName
    session_id: str | None = None
    status: Literal["completed", "failed", "cancelled"]
    summary: str = ""
    artifacts: list[OutputArtifact] = Field(default_factory=list)
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    cost_usd: Usd = Decimal("0")
    model_id: str | None = None
    error_code: ErrorCode | None = None
    error_detail: str | None = None
    finished_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _failure_has_code(self) -> "CompletionEvent":
        if self.status == "failed" and self.error_code is None:
            raise ValueError("a failed completion event needs an error_code")
        return self


class RunProgress(Strict):
    """How far a running run has got, as its heartbeats carry it: the story's live progress property shows it
    (runtime/notion/schema.py PROGRESS_PROPERTY, written by runtime/pipeline/writeback.py)."""

    step: str = Field(max_length=200)  # what it is doing now: "calling github_commit_files", "model turn 3"
    tool_calls: int = Field(default=0, ge=0)
    elapsed_seconds: int = Field(default=0, ge=0)
    cost_usd: Usd = Decimal("0")


class Heartbeat(Strict):
    """What a running agent sends to the completion queue every few seconds: it is alive. A run with none for a
    while is failed by the liveness sweeper (runtime.pipeline.sweepers), not left to its hours-long timeout."""

    kind: Literal["heartbeat"]  # required: a completion event never validates as a heartbeat, nor the reverse
    invocation_id: Ulid
    agent_type: AgentName
    session_id: str | None = None
    at: datetime = Field(default_factory=utcnow)
    progress: RunProgress | None = None

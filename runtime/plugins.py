"""What a plugin author imports from the host: this module, and `runtime.tools.spec` for tools. The built-in agents
in agent_plugins/ import nothing else from aidlc, so what they use is what any plugin may rely on.

    from runtime.plugins import AgentSpec, ChainRule, Limits, ToolCall, hookimpl

Declaring an agent (`register_agents`, see runtime/hookspecs.py): an `AgentSpec`. Its system prompt is read from
`prompt_file`, which defaults to `prompts/<name>.md` beside the module that declares the plugin.

Writing its offline script (`AgentSpec.offline`, what it does under the offline model): a generator that yields
`ToolCall`s, receives each tool's result (a dict shaped by the tool's result model, runtime/tools/*.py) and returns
the run's summary. The helpers the built-ins share:

- `criteria(request)`: the story's acceptance criteria, one string each (or one made from the title);
- `slug(text)`: lower-case words joined by hyphens, for branch and file names;
- `OFFLINE_LABEL`: the sentence every artifact made offline carries, so no one mistakes it for a model's work;
- `feedback_database_properties(stories_data_source_id)`: the feedback database's Notion schema (seed 2.3), which
  the `feedback_statistics` tool reads;
- `story_page(request, title, markdown)`: the `notion_create_page` call for a page under the story (`page = yield
  from story_page(...)` returns the tool's result: `page_id`, `url`);
- `workflow_agent(name, ...)`: the `AgentSpec` of an agent that a workflow runs rather than a story's Status (the
  onboarding and provisioning agents), with its one trigger `"<Name> Workflow"`.

The chain context: when a chain rule starts a run, `request.parent.context` carries what the finished run passed
on (built by `chain_context`, read with `parent_context` / `chained_url`):

- `"<type>_url"` (`chain_url_key(type)`): the URL of the first artifact of each type, e.g. `"prototype_url"`;
- `"variant"` (`VARIANT_KEY`): the variant of the artifact passed on, when it has one (A/B prototypes);
- `"artifacts"` (`ARTIFACTS_KEY`): the artifacts passed on, as JSON.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Generator, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.hookspecs import hookimpl
from runtime.models import (
    AgentName,
    AgentRequest,
    ArtifactType,
    ChainTemplate,
    OutputArtifact,
    feedback_database_properties,
)

__all__ = [
    "ARTIFACTS_KEY", "AgentSpec", "ChainRule", "Limits", "MemoryStrategy", "OFFLINE_LABEL", "OfflineScript", "RunMemory",
    "ToolCall", "VARIANT_KEY",
    "chain_context", "chain_url_key", "chained_url", "criteria", "feedback_database_properties", "hookimpl",
    "parent_context", "slug", "story_page", "workflow_agent",
]

OFFLINE_LABEL = "Made offline by aidlc's deterministic offline model (no LLM was called)."
VARIANT_KEY = "variant"
ARTIFACTS_KEY = "artifacts"


def criteria(request: AgentRequest) -> list[str]:
    """The story's acceptance criteria, or, when it lists none, one criterion made from its title."""
    return request.story.acceptance_criteria or [f"The user can {request.story.title.lower()}"]


def slug(text: str, limit: int = 40) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:limit].rstrip("-") or "story"


def chain_url_key(artifact_type: str) -> str:
    return f"{artifact_type}_url"


def chain_context(artifacts: Sequence[OutputArtifact]) -> dict[str, Any]:
    """The context a chained run receives for the artifacts passed on to it (see the module docstring)."""
    context: dict[str, Any] = {}
    for artifact in artifacts:
        context.setdefault(chain_url_key(artifact.type.value), artifact.url)
        variant = getattr(artifact.metadata, "variant", None)
        if variant:
            context.setdefault(VARIANT_KEY, variant)
    context[ARTIFACTS_KEY] = [a.model_dump(mode="json") for a in artifacts]
    return context


def parent_context(request: AgentRequest) -> dict[str, Any]:
    """What the run before this one in its chain passed on; empty when the run was not chained."""
    return dict(request.parent.context) if request.parent is not None else {}


def chained_url(request: AgentRequest, artifact_type: str) -> str | None:
    """The URL of the `artifact_type` artifact the previous run in the chain passed on, if any."""
    return parent_context(request).get(chain_url_key(artifact_type))


class ToolCall(NamedTuple):
    """One tool call an offline script asks for; the tool's result is sent back into the script."""

    name: str
    args: dict[str, Any]


def story_page(request: AgentRequest, title: str, markdown: str) -> Generator[ToolCall, dict[str, Any], dict[str, Any]]:
    """In an offline script, `page = yield from story_page(request, title, markdown)`: the page an agent writes
    under the story's own page (`notion_create_page`); returns the tool's result (`page_id`, `url`)."""
    return (yield ToolCall("notion_create_page", {"parent_page_id": request.notion_page_id, "title": title,
                                                  "markdown": markdown}))


# An offline script is a generator: it yields the tool calls a real model would make, receives each tool's
# result (a dict) back from `yield`, and returns the run's summary text. The offline model drives it. A script that
# also takes a `memory` keyword argument is given the run's `RunMemory` (agents with `Limits.uses_memory`).
OfflineScript = Callable[[AgentRequest], Generator[ToolCall, dict[str, Any], str]]


class ChainRule(BaseModel):
    """After a successful run, start agent `to`, when the project's chain template is `template`.

    With `for_each` set to an artifact type, one run starts per artifact of that type (e.g. one demo deck per
    A/B variant); otherwise one run starts. The next run's context carries `<type>_url` for the artifacts passed on.
    """

    model_config = ConfigDict(extra="forbid")

    to: AgentName
    template: ChainTemplate
    for_each: ArtifactType | None = None


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str | None = None  # None: the project's model, else the deployment default
    max_tokens: int = Field(default=200_000, ge=1_000)
    cost_limit_usd: Decimal | None = Field(default=None, gt=0)  # None: the project's per-invocation limit
    timeout_seconds: int = Field(default=3_600, ge=60, le=8 * 3_600)  # AgentCore sessions last 8 h at most
    memory_mb: int = Field(default=2_048, ge=512)
    # A run's caps on model turns (model calls) and tool calls: past either the run stops cleanly, as failed with
    # BUDGET_EXCEEDED, keeping what it made (commits already on its branch, artifacts already recorded).
    max_turns: int = Field(default=100, ge=1, le=10_000)
    max_tool_calls: int = Field(default=300, ge=1, le=10_000)
    uses_memory: bool = False  # ask for an AgentCore Memory resource (its strategies: AgentSpec.memory_strategies)


MemoryStrategyType = Literal["SEMANTIC", "USER_PREFERENCE", "SUMMARIZATION"]


class MemoryStrategy(BaseModel):
    """One long-term memory strategy of an agent with `Limits.uses_memory`: what AgentCore Memory extracts from the
    agent's events into the project's namespace `/projects/{actorId}/<name>` (the actor is the project). In AWS it
    becomes an `AgentcoreMemoryStrategy` of `type` (the service's own extraction, asynchronous); locally the stand-in
    keeps the texts of events tagged with the strategy's name (runtime/local/agentcore_memory.py). At most one of each
    type per agent (an AgentCore rule)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    type: MemoryStrategyType = "SEMANTIC"
    description: str = Field(min_length=1, max_length=4_096)
    # True: each successful run's final summary is written for this strategy (e.g. what an insight run found).
    from_run_summary: bool = False

    @property
    def namespace_template(self) -> str:
        return f"/projects/{{actorId}}/{self.name}"

    def namespace(self, actor_id: str) -> str:
        return self.namespace_template.replace("{actorId}", actor_id)


class RunMemory(BaseModel):
    """What an agent remembers at the start of a run: the session's earlier turns (short-term) and, per strategy
    name, the project's long-term records. An offline script that takes a `memory` keyword argument receives it;
    a model reads it in the task prompt."""

    model_config = ConfigDict(extra="forbid")

    session: list[str] = Field(default_factory=list)
    long_term: dict[str, list[str]] = Field(default_factory=dict)

    def records(self, strategy: str) -> list[str]:
        return list(self.long_term.get(strategy, []))

    @property
    def empty(self) -> bool:
        return not self.session and not any(self.long_term.values())


class AgentSpec(BaseModel):
    """An agent, declared as data. See the README's "Write an agent plugin"."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: AgentName
    description: str = Field(min_length=1)
    triggers: list[str] = Field(min_length=1)
    # Words after `/aidlc` that start this agent from Slack (`/aidlc <command> <notion story url>`); checked by
    # the registry like triggers: well-formed, unique, not one of the host's own words (run, status, ...).
    slack_commands: list[str] = Field(default_factory=list)
    prompt_file: Path | None = None  # default: prompts/<name>.md beside the plugin's module (set when it loads)
    tools: list[str] = Field(min_length=1)
    outputs: list[ArtifactType] = Field(min_length=1)
    completion_status: str = Field(min_length=1)
    failure_status: str = "Agent Failed"
    chains: list[ChainRule] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    # Long-term memory strategies (only with limits.uses_memory); see MemoryStrategy and the README's "Agent memory".
    memory_strategies: list[MemoryStrategy] = Field(default_factory=list)
    offline: OfflineScript | None = Field(default=None, exclude=True)
    # Filled in by the registry: where the plugin came from.
    source: str = ""

    @model_validator(mode="after")
    def _memory_strategies_need_memory(self) -> "AgentSpec":
        if self.memory_strategies and not self.limits.uses_memory:
            raise ValueError("memory_strategies needs limits=Limits(uses_memory=True)")
        names = [s.name for s in self.memory_strategies]
        if len(set(names)) != len(names):
            raise ValueError(f"memory_strategies: names must be unique, got {names}")
        types = [s.type for s in self.memory_strategies]
        if len(set(types)) != len(types):
            raise ValueError(f"memory_strategies: AgentCore allows one strategy of each type per memory, got {types}")
        return self

    @property
    def system_prompt(self) -> str:
        if self.prompt_file is None:
            raise ValueError(f"agent {self.name!r} has no prompt_file (the registry sets the default when it loads)")
        return self.prompt_file.read_text(encoding="utf-8")

    def default_prompt_file(self, plugin: object) -> None:
        """Fill in `prompt_file` as `prompts/<name>.md` beside the module that defines `plugin`, if not given."""
        if self.prompt_file is not None or plugin is None:
            return
        owner = plugin if isinstance(plugin, (ModuleType, type)) else type(plugin)
        try:
            self.prompt_file = Path(inspect.getfile(owner)).parent / "prompts" / f"{self.name}.md"
        except TypeError:  # defined where no file is (a REPL): leave it unset, and the registry says so
            pass

    def describe(self) -> dict[str, Any]:
        """The JSON shape `aidlc plugins --json` prints."""
        return {
            "name": self.name,
            "description": self.description,
            "triggers": list(self.triggers),
            "slack_commands": list(self.slack_commands),
            "chains_to": [rule.to for rule in self.chains],
            "chains": [rule.model_dump(mode="json") for rule in self.chains],
            "tools": list(self.tools),
            "outputs": [output.value for output in self.outputs],
            "completion_status": self.completion_status,
            "limits": self.limits.model_dump(mode="json"),
            "memory_strategies": [strategy.model_dump(mode="json") for strategy in self.memory_strategies],
            "offline": self.offline is not None,
            "source": self.source,
        }


def workflow_agent(name: str, **fields: Any) -> AgentSpec:
    """An agent that a workflow runs (calling its tools with its `agent_type`, or starting it with a context), not a
    story's Status: `triggers` must be non-empty, so it gets `"<Name> Workflow"`, a Status no built-in step uses (a
    story set to it starts the agent as any trigger does). Every other field is `AgentSpec`'s."""
    fields.setdefault("triggers", [f"{name.replace('_', ' ').title()} Workflow"])
    return AgentSpec(name=name, **fields)

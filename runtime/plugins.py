"""What a plugin author imports: the hook marker and the data an agent is declared with.

    from runtime.plugins import AgentSpec, ChainRule, Limits, ToolCall, hookimpl
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from runtime.hookspecs import hookimpl
from runtime.models import AgentName, AgentRequest, ArtifactType, ChainTemplate

__all__ = ["AgentSpec", "ChainRule", "Limits", "OfflineScript", "ToolCall", "hookimpl"]


class ToolCall(NamedTuple):
    """One tool call an offline script asks for; the tool's result is sent back into the script."""

    name: str
    args: dict[str, Any]


# An offline script is a generator: it yields the tool calls a real model would make, receives each tool's
# result (a dict) back from `yield`, and returns the run's summary text. The offline model drives it.
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
    uses_memory: bool = False  # ask for an AgentCore Memory resource


class AgentSpec(BaseModel):
    """An agent, declared as data. See the README's "Write an agent plugin"."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: AgentName
    description: str = Field(min_length=1)
    triggers: list[str] = Field(min_length=1)
    # Words after `/aidlc` that start this agent from Slack (`/aidlc <command> <notion story url>`); checked by
    # the registry like triggers: well-formed, unique, not one of the host's own words (run, status, ...).
    slack_commands: list[str] = Field(default_factory=list)
    prompt_file: Path
    tools: list[str] = Field(min_length=1)
    outputs: list[ArtifactType] = Field(min_length=1)
    completion_status: str = Field(min_length=1)
    failure_status: str = "Agent Failed"
    chains: list[ChainRule] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    offline: OfflineScript | None = Field(default=None, exclude=True)
    # Filled in by the registry: where the plugin came from.
    source: str = ""

    @property
    def system_prompt(self) -> str:
        return self.prompt_file.read_text(encoding="utf-8")

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
            "offline": self.offline is not None,
            "source": self.source,
        }

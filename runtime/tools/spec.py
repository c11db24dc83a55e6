"""What a tool is, for a plugin author: a typed Python function with typed arguments and a typed result.

    from pydantic import BaseModel, ConfigDict
    from runtime.plugins import hookimpl
    from runtime.tools.spec import OutputArtifact, ToolResultModel, ToolSpec

    class RenderArgs(BaseModel):
        model_config = ConfigDict(extra="forbid")
        title: str
        nodes: list[str]

    class RenderResult(ToolResultModel):
        url: str
        node_count: int

    def render(context, args: RenderArgs) -> dict:          # context: runtime.tools.base.ToolContext
        return {"url": upload_svg(context.invocation_id, args.nodes), "node_count": len(args.nodes)}

    def diagram(args: RenderArgs, result: RenderResult, run) -> OutputArtifact:   # optional: what a call made
        return OutputArtifact(type="diagram", url=result.url, title=args.title,
                              metadata={"kind": "diagram", "node_count": result.node_count})

    @hookimpl
    def register_tools():
        return [ToolSpec("diagram_render", "Render a flow diagram", "analysis", RenderArgs, render,
                         result_model=RenderResult, artifact=diagram)]

The built-in tools (runtime/tools/builtin.py) are declared exactly so. The tool registry validates each call's
arguments against `args_model` before `func` runs (a model gets a readable error to fix its call) and each result
against `result_model` after (a result of the wrong shape is a bug in the tool, reported as such, never passed on).
An agent that lists "diagram" in its `outputs` gets each call's artifact on its run. `OutputArtifact` and
`ArtifactType` are exported here; an artifact type is any lower_snake_case name, so a plugin's own type needs no
model change (its metadata is `{"kind": <type>, ...}` with fields of the plugin's own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from runtime.models import ArtifactType, OutputArtifact

if TYPE_CHECKING:
    from runtime.models import AgentRequest

__all__ = ["ArtifactContext", "ArtifactHook", "ArtifactType", "OutputArtifact", "ToolCallRecord", "ToolResultModel",
           "ToolSpec"]


class ToolResultModel(BaseModel):
    """Base for result models: a field the model does not declare is an error, so the documented shape is the
    whole shape (offline scripts and artifact hooks rely on it)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolCallRecord:
    """One successful tool call of a run, as the agent saw it: arguments sent, result (JSON object) received."""

    tool: str
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass(frozen=True)
class ArtifactContext:
    """What a tool's `artifact` hook knows besides its own call: the run's request, the agent, the artifact types
    that agent declares (`outputs`), and the run's successful calls before this one (`earlier`)."""

    request: AgentRequest
    agent_type: str
    outputs: frozenset[str]
    earlier: Sequence[ToolCallRecord] = ()

    def earlier_calls(self, tool: str) -> list[ToolCallRecord]:
        return [call for call in self.earlier if call.tool == tool]


# artifact(args, result, run) -> the OutputArtifact this call produced, or None. `args` is an `args_model`
# instance, `result` a `result_model` instance (the plain dict when the tool declares no result model).
ArtifactHook = Callable[[Any, Any, ArtifactContext], "OutputArtifact | None"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool.

    name: unique across all plugins; what the model calls (the gateway shows it as `<target>___<name>`).
    description: what the model reads to decide when to call it.
    target: its group ("notion", "github", "prototype", "analysis" or a plugin's own): the Cedar policy's action
        group and the gateway target it is served under.
    args_model: a pydantic model of its arguments; the JSON schema every surface shows is its
        `model_json_schema()`. Use `ConfigDict(extra="forbid")` so a misspelt argument is an error.
    func: `func(context, args)` receives the call's `runtime.tools.base.ToolContext` (who is calling, for which
        invocation, with which adapters) and an `args_model` instance, and returns a JSON-serialisable dict.
    result_model: a pydantic model of that dict (subclass `ToolResultModel`). The registry validates every result
        against it and returns the validated values; without one, any JSON object is passed on unchecked.
    artifact: optional `artifact(args, result, run: ArtifactContext) -> OutputArtifact | None`, called agent-side
        after each successful call: the artifact this call produced for the run (a prototype, a PR, a page...).
        It is kept only when its type is one of the calling agent's declared `outputs`. The artifact's `type` may
        be a type of the plugin's own (any lower_snake_case name), with metadata of its own.
    changed_paths: optional `changed_paths(args) -> paths`: the repository files this call would change. The
        policy is given them (`context.changed_paths`, and `context.protected_changes`: those matching the
        project's protected path globs), so a commit that touches a protected file is refused before it runs.
    """

    name: str
    description: str
    target: str
    args_model: type[BaseModel]
    func: Callable[..., dict[str, Any]]
    result_model: type[BaseModel] | None = None
    artifact: ArtifactHook | None = field(default=None, compare=False)
    changed_paths: Callable[[Any], list[str]] | None = field(default=None, compare=False)

    def input_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()

    def result_schema(self) -> dict[str, Any] | None:
        return self.result_model.model_json_schema() if self.result_model is not None else None

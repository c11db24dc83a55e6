"""Artifacts are gathered from the tools the agent called, never parsed from what the model wrote.

`ArtifactCollector` remembers each successful tool call (name, arguments, result); `artifacts_from_calls` asks each
call's tool what it produced (its `ToolSpec.artifact` hook, see runtime/tools/spec.py) and keeps the artifacts whose
type the plugin declares as one of its outputs. Nothing here knows a tool by name: a plugin's tool that produces an
artifact of a type of its own is handled exactly like a built-in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.models import AgentRequest, OutputArtifact
from runtime.plugins import AgentSpec
from runtime.tools.spec import ArtifactContext, ToolCallRecord, ToolSpec

__all__ = ["ArtifactCollector", "ToolCallRecord", "artifacts_from_calls", "bare_tool_name"]

log = logging.getLogger("aidlc.agent")


def bare_tool_name(name: str) -> str:
    """AgentCore Gateway names tools `target___tool`; the registry knows them as `tool`."""
    return name.rsplit("___", 1)[-1]


@dataclass
class ArtifactCollector:
    calls: list[ToolCallRecord] = field(default_factory=list)

    def add(self, tool: str, args: dict[str, Any], result: dict[str, Any]) -> None:
        self.calls.append(ToolCallRecord(bare_tool_name(tool), dict(args or {}), result))


def artifacts_from_calls(calls: list[ToolCallRecord], spec: AgentSpec, request: AgentRequest,
                         tools: Mapping[str, ToolSpec]) -> list[OutputArtifact]:
    """The run's artifacts, in call order. `tools`: every registered tool by name (`AgentRegistry.tools`)."""
    outputs = frozenset(spec.outputs)
    artifacts: list[OutputArtifact] = []
    for index, call in enumerate(calls):
        tool = tools.get(call.tool)
        if tool is None or tool.artifact is None:
            continue
        run = ArtifactContext(request=request, agent_type=spec.name, outputs=outputs, earlier=tuple(calls[:index]))
        try:
            args = tool.args_model.model_validate(call.args)
            result = tool.result_model.model_validate(call.result) if tool.result_model is not None else call.result
            artifact = tool.artifact(args, result, run)
        except Exception as exc:
            # The call succeeded, so the registry accepted these arguments and this result: a hook that fails on
            # them is a bug in the tool's plugin; the run still ends with its other artifacts and its one event.
            log.error("tool %s: its artifact hook failed: %s: %s", call.tool, type(exc).__name__, exc, exc_info=True)
            continue
        if artifact is not None and artifact.type in outputs:
            artifacts.append(artifact)
    return artifacts

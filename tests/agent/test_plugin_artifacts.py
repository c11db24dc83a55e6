"""A plugin's own tool produces an artifact of a type no model knows: it ends up on the run's artifacts, survives the
completion event's JSON, and a chain rule can fan out over it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.agent.tools import registry_tools
from runtime.models import CompletionEvent, InvocationRecord
from runtime.plugins import AgentSpec, ChainRule, ToolCall, hookimpl
from runtime.registry import load_registry
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices
from runtime.tools.spec import ArtifactContext, OutputArtifact, ToolResultModel, ToolSpec

from tests.agent.conftest import make_request


class RenderArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    nodes: list[str]


class RenderResult(ToolResultModel):
    url: str
    node_count: int


def render(context, args: RenderArgs) -> dict:
    return {"url": f"https://diagrams.example/{context.invocation_id}/{len(args.nodes)}.svg",
            "node_count": len(args.nodes)}


def diagram_artifact(args: RenderArgs, result: RenderResult, run: ArtifactContext) -> OutputArtifact:
    return OutputArtifact(type="diagram", url=result.url, title=f"{args.title} ({run.request.story.title})",
                          metadata={"kind": "diagram", "node_count": result.node_count})


def offline(request):
    yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
    for size in (2, 3):
        yield ToolCall("diagram_render", {"title": f"Flow {size}", "nodes": [f"n{i}" for i in range(size)]})
    return "two diagrams"


@pytest.fixture
def registry(tmp_path):
    prompt = tmp_path / "diagrammer.md"
    prompt.write_text("Draw the story as diagrams.", encoding="utf-8")

    class DiagramPlugin:
        @staticmethod
        @hookimpl
        def register_tools():
            return [ToolSpec("diagram_render", "Render a flow diagram", "analysis", RenderArgs, render,
                             result_model=RenderResult, artifact=diagram_artifact)]

        @staticmethod
        @hookimpl
        def register_agents():
            return [AgentSpec(name="diagrammer", description="Draws diagrams", triggers=["Draw Diagrams"],
                              prompt_file=prompt, tools=["notion_read_page", "diagram_render"], outputs=["diagram"],
                              completion_status="Diagrams Ready", offline=offline,
                              chains=[ChainRule(to="demo_deck", template="custom", for_each="diagram")])]

    return load_registry(extra_plugins=[DiagramPlugin], entry_points=False)


def test_a_plugin_tools_artifact_of_a_new_type_is_on_the_runs_artifacts_and_chains(registry):
    request = make_request("diagrammer")
    spec = registry.get("diagrammer")
    context = ToolContext(agent_type=spec.name, invocation_id=request.invocation_id,
                          services=ToolServices(notion=_FakeNotion()))
    tools = registry_tools(ToolRegistry.default(registry), context, spec.tools)
    event = run_agent(request, settings=AgentSettings(model_provider="offline"), sink=MemoryCompletionSink(),
                      options=RunOptions(tools=tools, audit=MemoryAuditSink(), registry=registry))

    assert event.status == "completed", event.error_detail
    assert [(a.type, a.title, a.metadata.node_count) for a in event.artifacts] == [
        ("diagram", "Flow 2 (Export invoices as CSV)", 2), ("diagram", "Flow 3 (Export invoices as CSV)", 3)]
    # what the completion queue carries, and what the invocation record stores, keep it as it was
    sent = CompletionEvent.model_validate_json(event.model_dump_json())
    assert sent.artifacts == event.artifacts and sent.artifacts[0].metadata.node_count == 2
    record = InvocationRecord(invocation_id=request.invocation_id, notion_page_id="p", workspace_id="w",
                              project_id="proj-1", agent_type="diagrammer", output_artifacts=sent.artifacts)
    steps = registry.next_steps("diagrammer", "custom", record.output_artifacts)
    assert [(s.agent_type, s.context["diagram_url"]) for s in steps] == [
        ("demo_deck", event.artifacts[0].url), ("demo_deck", event.artifacts[1].url)]


def test_an_artifact_type_is_a_validated_name():
    with pytest.raises(ValueError, match="not a valid artifact type"):
        OutputArtifact(type="Diagram!", url="u", title="t")
    with pytest.raises(ValueError, match="carries 'prototype' metadata"):
        OutputArtifact(type="diagram", url="u", title="t", metadata={"kind": "prototype", "s3_key": "k",
                                                                       "cloudfront_url": "u", "expiry_days": 1})


class _FakeNotion:
    def page_snapshot(self, page_id):
        return make_request("diagrammer").story

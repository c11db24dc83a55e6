"""A plugin dropped into a plugin folder gets its own AgentCore runtime, role, endpoints (and memory when it asks),
with no infrastructure change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.registry import get_registry, reset_registry
from tests.infra.conftest import run_dev

PLUGIN = '''
from pathlib import Path

from runtime.plugins import AgentSpec, Limits, hookimpl


@hookimpl
def register_agents():
    return [
        AgentSpec(
            name="changelog",
            description="Writes a changelog page for the story.",
            triggers=["Write Changelog"],
            prompt_file=Path(__file__).with_name("changelog.md"),
            tools=["notion_read_page", "notion_create_page"],
            outputs=["notion_page"],
            completion_status="Changelog Ready",
            limits=Limits(uses_memory=True, model_id="us.anthropic.claude-opus-4-1-20250805-v1:0",
                          timeout_seconds=600),
        )
    ]
'''


@pytest.fixture
def changelog_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "changelog.py").write_text(PLUGIN)
    (folder / "changelog.md").write_text("You write changelogs.")
    monkeypatch.setenv("AIDLC_PLUGIN_DIRS", str(folder))
    reset_registry()
    return folder


def test_added_plugin_gets_its_runtime(changelog_plugin: Path) -> None:
    registry = get_registry()
    assert "changelog" in registry.agents
    recording = run_dev()
    runtimes = {r.inputs["environmentVariables"]["AIDLC_AGENT"]: r
                for r in recording.of_type("aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")}
    assert set(runtimes) == set(registry.agents)
    assert {"code", "mock", "demo_deck", "changelog"} <= set(runtimes)  # by name: other plugins may be installed
    changelog = runtimes["changelog"]
    assert changelog.inputs["agentRuntimeName"] == "aidlc_dev_changelog"
    assert changelog.inputs["lifecycleConfigurations"][0]["maxLifetime"] == 600
    env = changelog.inputs["environmentVariables"]
    assert env["AIDLC_PLUGIN_DIRS"] == "plugins/0"  # the folder ships inside the agent bundle
    assert env["AIDLC_MODEL_ID"] == "us.anthropic.claude-opus-4-1-20250805-v1:0"

    # Memory only for the plugins that asked for it (one each), and its role may use exactly its own memory.
    memories = {m.inputs["tags"]["aidlc:agent"]: m
                for m in recording.of_type("aws:bedrock/agentcoreMemory:AgentcoreMemory")}
    assert set(memories) == {name for name in registry.agents if registry.get(name).limits.uses_memory}
    assert "changelog" in memories and "mock" not in memories
    assert env["AIDLC_MEMORY_ID"] == memories["changelog"].id
    statements = {st["Sid"]: st for st in json.loads(recording.named("agents-changelog-policy").inputs["policy"])
                  ["Statement"]}
    assert statements["UseMemory"]["Resource"] == [memories["changelog"].state["arn"]]
    # One AgentCore memory strategy per declared strategy, on the agent's own memory.
    strategies = recording.of_type("aws:bedrock/agentcoreMemoryStrategy:AgentcoreMemoryStrategy")
    code_strategies = {s.inputs["name"]: s for s in strategies if s.inputs["memoryId"] == memories["code"].id}
    assert set(code_strategies) == {s.name for s in registry.get("code").memory_strategies}
    assert code_strategies["review_feedback"].inputs["namespaceTemplates"] == ["/projects/{actorId}/review_feedback"]
    # Its declared model is callable by its runtime only, not by the others.
    assert any("claude-opus-4-1" in arn for arn in statements["InvokeConfiguredModels"]["Resource"])
    code_models = next(st for st in json.loads(recording.named("agents-code-policy").inputs["policy"])["Statement"]
                       if st["Sid"] == "InvokeConfiguredModels")["Resource"]
    assert not any("claude-opus-4-1" in arn for arn in code_models)

    # The orchestrator can start it; the gateway is shared.
    orchestrator_env = recording.named("pipeline-orchestrator-fn").inputs["environment"]["variables"]
    assert "changelog" in json.loads(orchestrator_env["AIDLC_AGENT_RUNTIMES"])
    # The Lambdas load it too: the webhook needs its trigger, the completion step its chains, the gateway its tools.
    for function in ("pipeline-webhook-fn", "pipeline-completion-fn", "agents-tools-fn"):
        assert recording.named(function).inputs["environment"]["variables"]["AIDLC_PLUGIN_DIRS"] == "/var/task/plugins/0"
    for endpoint in ("dev", "staging", "prod"):  # its versioned endpoints, each on its latest version
        made = recording.named(f"agents-changelog-endpoint-{endpoint}")
        assert made.inputs["agentRuntimeId"] == changelog.state["agentRuntimeId"]
        assert made.inputs["agentRuntimeVersion"] == changelog.state["agentRuntimeVersion"]


def test_plugin_folder_changes_the_bundle_hash(changelog_plugin: Path) -> None:
    from components import packaging

    with_plugin = packaging.plan_bundle(packaging.bundle_spec("agent", plugin_dirs=[changelog_plugin]))
    without = packaging.plan_bundle(packaging.bundle_spec("agent"))
    assert with_plugin.content_hash != without.content_hash
    assert with_plugin.source_files == without.source_files + 2

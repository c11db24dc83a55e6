"""The plugin registry: loading, discovery through all three doors, and every validation failure."""

import json
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.models import ArtifactType, OutputArtifact, PrototypeMetadata
from runtime.plugins import AgentSpec, ChainRule, hookimpl
from runtime.registry import PluginError, load_registry

BUILTIN_TRIGGERS = {
    "code": ["Generate Code"],
    "mock": ["Generate Prototype"],
    "demo_deck": ["Generate Demo Deck"],
    "insight": ["Synthesize Feedback"],
    "spec": ["Generate Spec"],
    "review": ["Review Code"],
    "a_b_test": ["Generate A/B Variants"],
}


def make_prompt(tmp_path: Path, name: str = "p.md", text: str = "You are a test agent.") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def plugin_returning(*specs):
    class Plugin:
        __name__ = "test-plugin"

        @hookimpl
        def register_agents(self):
            return list(specs)

    return Plugin()


def spec(tmp_path, **overrides):
    fields = dict(
        name="extra",
        description="An extra agent",
        triggers=["Do Extra"],
        prompt_file=make_prompt(tmp_path),
        tools=["notion_read_page"],
        outputs=["notion_page"],
        completion_status="Extra Done",
    )
    fields.update(overrides)
    return AgentSpec(**fields)


def test_builtin_agents_load_with_their_triggers():
    registry = load_registry(entry_points=False)
    # by name: a plugin dropped into agent_plugins/ or pip-installed adds agents, never changes these
    assert {name: registry.agents[name].triggers for name in BUILTIN_TRIGGERS} == BUILTIN_TRIGGERS
    assert all(registry.agents[name].source == "builtin" for name in BUILTIN_TRIGGERS)
    assert all(s.system_prompt.strip() for s in registry.agents.values())
    assert registry.agent_for_trigger("Generate Prototype").name == "mock"
    assert registry.agent_for_trigger("Not A Trigger") is None


def test_chaining_rules_follow_the_template():
    registry = load_registry(entry_points=False)
    prototype = OutputArtifact(
        type=ArtifactType.PROTOTYPE,
        url="http://proto/1/index.html",
        title="p",
        metadata=PrototypeMetadata(s3_key="1/index.html", cloudfront_url="http://proto/1/index.html", expiry_days=7),
    )
    steps = registry.next_steps("mock", "story-to-mock-to-deck", [prototype])
    assert [(s.agent_type, s.context["prototype_url"]) for s in steps] == [("demo_deck", "http://proto/1/index.html")]
    assert registry.next_steps("mock", "story-to-code", [prototype]) == []
    assert [s.agent_type for s in registry.next_steps("spec", "story-to-code", [])] == ["code"]


def test_a_b_test_chains_once_per_variant():
    registry = load_registry(entry_points=False)
    variants = [
        OutputArtifact(
            type="prototype",
            url=f"http://proto/{v}",
            title=v,
            metadata=PrototypeMetadata(s3_key=v, cloudfront_url=f"http://proto/{v}", expiry_days=7, variant=v),
        )
        for v in "AB"
    ]
    steps = registry.next_steps("a_b_test", "story-to-mock-to-deck", variants)
    assert [(s.agent_type, s.context["variant"]) for s in steps] == [("demo_deck", "A"), ("demo_deck", "B")]


def test_project_trigger_map_adds_values_and_rejects_unknown_agents():
    registry = load_registry(entry_points=False)
    assert registry.agent_for_trigger("Prototype please", {"Prototype please": "mock"}).name == "mock"
    with pytest.raises(KeyError, match="nobody"):
        registry.trigger_map({"X": "nobody"})


def test_module_dropped_into_a_plugin_folder_is_discovered(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "changelog.md").write_text("You write changelogs.")
    (tmp_path / "changelog.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from runtime.plugins import AgentSpec, hookimpl

            @hookimpl
            def register_agents():
                return [AgentSpec(name="changelog", description="Writes release notes",
                                  triggers=["Write Changelog"],
                                  prompt_file=Path(__file__).parent / "prompts" / "changelog.md",
                                  tools=["notion_read_page", "notion_create_page"], outputs=["notion_page"],
                                  completion_status="Changelog Ready")]
            """
        )
    )
    registry = load_registry(plugin_dirs=[tmp_path], entry_points=False)
    assert registry.agent_for_trigger("Write Changelog").name == "changelog"
    assert registry.get("changelog").source.endswith("changelog.py")
    assert set(registry.agents) >= {*BUILTIN_TRIGGERS, "changelog"}


def test_entry_point_plugin_is_discovered(tmp_path, monkeypatch):
    package = tmp_path / "aidlc_ext_translate"
    package.mkdir()
    (package / "translate.md").write_text("You translate stories.")
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from runtime.plugins import AgentSpec, hookimpl

            @hookimpl
            def register_agents():
                return [AgentSpec(name="translate", description="Translates a story",
                                  triggers=["Translate"], prompt_file=Path(__file__).parent / "translate.md",
                                  tools=["notion_read_page"], outputs=["notion_page"],
                                  completion_status="Translated")]
            """
        )
    )
    dist_info = tmp_path / "aidlc_ext_translate-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: aidlc-ext-translate\nVersion: 1.2.3\n")
    (dist_info / "entry_points.txt").write_text("[aidlc.agents]\ntranslate = aidlc_ext_translate\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    registry = load_registry()
    assert registry.agent_for_trigger("Translate").name == "translate"
    assert registry.get("translate").source == "entry point: aidlc-ext-translate 1.2.3"
    sys.modules.pop("aidlc_ext_translate", None)


def test_duplicate_trigger_names_both_plugins(tmp_path):
    with pytest.raises(PluginError) as caught:
        load_registry(entry_points=False, extra_plugins=[plugin_returning(spec(tmp_path, triggers=["Generate Code"]))])
    message = str(caught.value)
    assert "'triggers'" in message and "'Generate Code'" in message
    assert "agent 'extra'" in message and "agent 'code'" in message


def test_duplicate_agent_name_names_both_plugins(tmp_path):
    with pytest.raises(PluginError, match=r"plugin 'test-plugin': field 'name': agent 'mock' is also declared by "
                                          r"plugin 'agent_plugins.mock'"):
        load_registry(entry_points=False, extra_plugins=[plugin_returning(spec(tmp_path, name="mock"))])


def test_unknown_chain_target(tmp_path):
    bad = spec(tmp_path, chains=[ChainRule(to="nowhere", template="custom")])
    with pytest.raises(PluginError, match=r"field 'chains': chain target 'nowhere' is not provided"):
        load_registry(entry_points=False, extra_plugins=[plugin_returning(bad)])


def test_unknown_tool(tmp_path):
    with pytest.raises(PluginError, match=r"agent 'extra'.*field 'tools': unknown tool 'rm_rf'"):
        load_registry(entry_points=False, extra_plugins=[plugin_returning(spec(tmp_path, tools=["rm_rf"]))])


def test_missing_and_empty_prompt(tmp_path):
    missing = spec(tmp_path, prompt_file=tmp_path / "nope.md")
    with pytest.raises(PluginError, match=r"field 'prompt_file': .*nope.md does not exist"):
        load_registry(entry_points=False, extra_plugins=[plugin_returning(missing)])
    empty = spec(tmp_path, name="blank", triggers=["Blank"], prompt_file=make_prompt(tmp_path, "e.md", "  \n"))
    with pytest.raises(PluginError, match=r"field 'prompt_file': .*e.md is empty"):
        load_registry(entry_points=False, extra_plugins=[plugin_returning(empty)])


def test_invalid_spec_fields_name_the_plugin_and_field(tmp_path):
    class Plugin:
        __name__ = "sloppy"

        @hookimpl
        def register_agents(self):
            return [{"name": "Bad Name", "description": "x", "triggers": [], "prompt_file": "x",
                     "tools": ["notion_read_page"], "outputs": ["Not A Type!"], "completion_status": "Done",
                     "limits": {"max_tokens": 5}}]

    with pytest.raises(PluginError) as caught:
        load_registry(entry_points=False, extra_plugins=[Plugin()])
    message = str(caught.value)
    assert "plugin 'sloppy': field 'name'" in message
    assert "field 'triggers'" in message
    assert "field 'outputs.0'" in message
    assert "field 'limits.max_tokens'" in message  # the dotted path to the nested field


def test_misspelt_hook_is_caught():
    class Plugin:
        __name__ = "typo"

        @hookimpl
        def register_agent(self):  # missing the final "s"
            return []

    with pytest.raises(PluginError, match=r"plugin 'typo'.*register_agent.*misspelt hook"):
        load_registry(entry_points=False, extra_plugins=[Plugin()])


def test_plugin_that_fails_to_import(tmp_path):
    (tmp_path / "broken.py").write_text("import does_not_exist_anywhere\n")
    with pytest.raises(PluginError, match=r"broken.py.*import failed: ModuleNotFoundError"):
        load_registry(plugin_dirs=[tmp_path], entry_points=False)


def test_registry_describe_is_json_serialisable():
    registry = load_registry(entry_points=False)
    described = json.loads(json.dumps(registry.describe()))
    mock = next(d for d in described if d["name"] == "mock")
    assert mock["chains_to"] == ["demo_deck"] and mock["outputs"] == ["prototype"]

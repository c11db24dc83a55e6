"""`runtime.plugins.workflow_agent`, the declaration of an agent a workflow runs, which the onboarding and
provisioning built-ins (and any plugin) use instead of choosing a trigger each; and `story_page`, the page an
offline script writes under the story."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runtime.plugins import AgentSpec, Limits, hookimpl, workflow_agent
from runtime.registry import get_registry, load_registry

FIELDS = dict(description="d", tools=["notion_read_page"], outputs=["notion_page"], completion_status="Done")


def test_its_trigger_is_the_name_as_a_workflow_status():
    assert workflow_agent("release_notes", **FIELDS).triggers == ["Release Notes Workflow"]
    spec = workflow_agent("audit", limits=Limits(timeout_seconds=600), **FIELDS)
    assert isinstance(spec, AgentSpec) and spec.triggers == ["Audit Workflow"] and spec.limits.timeout_seconds == 600


def test_triggers_given_are_kept_and_fields_are_validated_as_any_spec():
    assert workflow_agent("audit", triggers=["Run Audit"], **FIELDS).triggers == ["Run Audit"]
    with pytest.raises(ValidationError):
        workflow_agent("audit", **{**FIELDS, "tools": []})


def test_the_built_in_workflow_agents_are_declared_with_it():
    registry = get_registry()
    assert registry.get("onboarding").triggers == ["Onboarding Workflow"]
    assert registry.get("provisioning").triggers == ["Provisioning Workflow"]
    assert registry.agent_for_trigger("Provisioning Workflow").name == "provisioning"


def test_a_plugin_can_declare_one(tmp_path):
    prompt = tmp_path / "audit.md"
    prompt.write_text("Audit.")

    class Plugin:
        @staticmethod
        @hookimpl
        def register_agents():
            return [workflow_agent("audit", prompt_file=prompt, **FIELDS)]

    registry = load_registry(extra_plugins=[Plugin], builtin_agents=False, entry_points=False)
    assert registry.agent_for_trigger("Audit Workflow").name == "audit"


def test_story_page_yields_the_page_under_the_story_and_returns_the_tools_result():
    from runtime.plugins import ToolCall, story_page

    from tests.agent.conftest import make_request

    request = make_request("spec")
    script = story_page(request, "Spec: x", "# x")
    assert next(script) == ToolCall("notion_create_page", {"parent_page_id": request.notion_page_id,
                                                           "title": "Spec: x", "markdown": "# x"})
    with pytest.raises(StopIteration) as done:
        script.send({"page_id": "p1", "url": "https://www.notion.so/p1"})
    assert done.value.value == {"page_id": "p1", "url": "https://www.notion.so/p1"}

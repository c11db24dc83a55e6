"""Self-contained plugins: the built-ins use only the documented host API, their prompts default to
prompts/<name>.md beside the module, and the chain-context keys are the ones runtime.plugins documents."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agent_plugins
from runtime.models import OutputArtifact, ParentContext, PrototypeMetadata, new_ulid
from runtime.plugins import (
    AgentSpec,
    chain_context,
    chain_url_key,
    chained_url,
    criteria,
    hookimpl,
    parent_context,
    slug,
)
from runtime.registry import PluginError, get_registry, load_registry

from tests.agent.conftest import make_request

PLUGINS_DIR = Path(agent_plugins.__file__).parent
HOST_API = {"runtime.plugins", "runtime.tools.spec"}  # documented for plugin authors: nothing else


def _host_imports(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "runtime"]
            imported.update(n for n in names if n.split(".")[0] == "runtime" and n != "runtime")
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.split(".")[0] == "runtime")
    return imported


@pytest.mark.parametrize("path", sorted(PLUGINS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_a_built_in_imports_only_the_documented_host_api(path):
    assert _host_imports(path) <= HOST_API, f"{path.name} imports {sorted(_host_imports(path) - HOST_API)}"


def test_the_check_would_catch_an_undocumented_import(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from runtime import models\nimport runtime.registry\nfrom runtime.plugins import slug\n")
    assert _host_imports(sneaky) - HOST_API == {"runtime.models", "runtime.registry"}


def test_built_in_prompts_default_to_prompts_beside_the_module():
    registry = get_registry()
    for name in ("code", "mock", "demo_deck", "insight", "spec", "review", "a_b_test"):
        assert registry.get(name).prompt_file == PLUGINS_DIR / "prompts" / f"{name}.md"
        assert registry.get(name).system_prompt.strip()


def _plugin(name: str, **fields):
    class Plugin:
        @staticmethod
        @hookimpl
        def register_agents():
            return [AgentSpec(name=name, description="d", triggers=[f"Run {name}"], tools=["notion_read_page"],
                              outputs=["notion_page"], completion_status="Done", **fields)]
    return Plugin


def test_a_plugins_prompt_defaults_beside_its_module_and_a_missing_one_is_named():
    with pytest.raises(PluginError) as missing:
        load_registry(extra_plugins=[_plugin("no_prompt_here")], builtin_agents=False, entry_points=False)
    expected = Path(__file__).parent / "prompts" / "no_prompt_here.md"
    assert f"field 'prompt_file': {expected} does not exist" in str(missing.value)


def test_an_explicit_prompt_file_wins(tmp_path):
    prompt = tmp_path / "mine.md"
    prompt.write_text("Be brief.")
    registry = load_registry(extra_plugins=[_plugin("explicit", prompt_file=prompt)], builtin_agents=False,
                             entry_points=False)
    assert registry.get("explicit").system_prompt == "Be brief."


def test_chain_context_keys_are_the_documented_ones():
    prototype = OutputArtifact(type="prototype", url="http://p/B/index.html", title="t",
                               metadata=PrototypeMetadata(s3_key="k", cloudfront_url="u", expiry_days=1, variant="B"))
    context = chain_context([prototype])
    assert set(context) == {chain_url_key("prototype"), "variant", "artifacts"}
    assert (context["prototype_url"], context["variant"]) == ("http://p/B/index.html", "B")

    chained = make_request("demo_deck", parent=ParentContext(invocation_id=new_ulid(), agent_type="mock",
                                                             context=context))
    assert chained_url(chained, "prototype") == "http://p/B/index.html" and parent_context(chained) == context
    assert chained_url(make_request("demo_deck"), "prototype") is None and parent_context(make_request()) == {}


def test_criteria_and_slug():
    assert criteria(make_request(criteria=["A", "B"])) == ["A", "B"]
    assert criteria(make_request(title="Export CSV", criteria=[])) == ["The user can export csv"]
    assert slug("Export invoices as CSV!") == "export-invoices-as-csv" and slug("!!!") == "story"

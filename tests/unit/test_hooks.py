"""Every hook is called through pluggy: wrappers and tryfirst/trylast work, and every problem names its plugin.

The `test_hook_<name>_...` tests are the per-hook tests `test_hook_docs.py::test_every_hook_has_a_test` looks for.
"""

from pathlib import Path

import pytest
from pydantic import BaseModel

from runtime.plugins import AgentSpec, Limits, hookimpl
from runtime.registry import PluginError, load_registry
from runtime.tools.spec import ToolSpec

BUILTIN_AGENTS = {"code", "mock", "demo_deck", "insight", "spec", "review", "a_b_test"}


class EchoArgs(BaseModel):
    text: str


def echo(context, args: EchoArgs) -> dict:
    return {"text": args.text}


ECHO = ToolSpec(name="echo", description="Echo a text", target="analysis", args_model=EchoArgs, func=echo)


def agent(tmp_path: Path, name: str = "extra", **overrides) -> AgentSpec:
    prompt = tmp_path / f"{name}.md"
    prompt.write_text("You are a test agent.")
    fields = dict(name=name, description="An extra agent", triggers=[f"Do {name}"], prompt_file=prompt,
                  tools=["notion_read_page"], outputs=["notion_page"], completion_status="Done")
    return AgentSpec(**{**fields, **overrides})


def named(name: str, **hooks):
    """A plugin object called `name` whose hooks are the given functions."""
    return type(name, (), {"__name__": name, **{k: staticmethod(v) for k, v in hooks.items()}})()


def test_hook_register_agents_declares_agents_that_load(tmp_path):
    extra = agent(tmp_path)
    registry = load_registry(entry_points=False, extra_plugins=[named("extra-plugin", register_agents=hookimpl(
        lambda: [extra]))])
    assert registry.get("extra").source == "registered in code"
    assert BUILTIN_AGENTS <= set(registry.agents)


def test_hook_register_tools_a_tools_only_plugin_loads_and_is_listed():
    registry = load_registry(entry_points=False, extra_plugins=[named("echo-tools", register_tools=hookimpl(
        lambda: [ECHO]))])
    assert registry.tools["echo"] is ECHO
    assert "notion_read_page" in registry.tools  # the built-in tools come through the same hook
    plugins = {p.name: p for p in registry.plugins}
    assert plugins["echo-tools"].hooks == {"register_tools": ["echo"]}
    assert "notion_read_page" in plugins["runtime.tools.builtin"].hooks["register_tools"]
    described = registry.describe_plugins()
    assert {"name": "echo", "target": "analysis", "description": "Echo a text", "plugin": "echo-tools"} in described["tools"]


def test_a_wrapper_sees_every_plugins_agents_and_may_change_them(tmp_path):
    extra, dropped = agent(tmp_path), agent(tmp_path, "dropped")
    seen: list[str] = []

    @hookimpl(wrapper=True)
    def site_policy():
        declared = yield
        seen.extend(spec.name for batch in declared for spec in batch)
        # a site policy: every agent gets at most 50k tokens, and one agent is switched off
        return [[s.model_copy(update={"limits": Limits(max_tokens=50_000)}) for s in batch if s.name != "dropped"]
                for batch in declared]

    registry = load_registry(entry_points=False, extra_plugins=[
        named("extra-plugin", register_agents=hookimpl(lambda: [extra, dropped])),
        named("site-policy", register_agents=site_policy),
    ])
    assert set(seen) >= BUILTIN_AGENTS | {"extra", "dropped"}  # one call saw every plugin's answer
    assert "dropped" not in registry.agents and "extra" in registry.agents
    assert {s.limits.max_tokens for s in registry.agents.values()} == {50_000}
    # what the wrapper passed on is still attributed to the plugin that declared it
    assert registry.get("extra").source == "registered in code"
    assert registry.get("mock").source == "builtin"
    plugins = {p.name: p for p in registry.plugins}
    assert plugins["site-policy"].hooks == {"register_agents": ["(wrapper)"]}
    assert plugins["extra-plugin"].hooks == {"register_agents": ["extra"]}


def test_tryfirst_and_trylast_implementations_are_called(tmp_path):
    first, last = agent(tmp_path, "first"), agent(tmp_path, "last")
    registry = load_registry(entry_points=False, extra_plugins=[
        named("early", register_agents=hookimpl(tryfirst=True)(lambda: [first])),
        named("late", register_agents=hookimpl(trylast=True)(lambda: [last])),
    ])
    assert {"first", "last"} <= set(registry.agents)


def test_a_raising_plugin_is_named_and_the_others_are_still_checked(tmp_path):
    def boom():
        raise RuntimeError("no config")

    with pytest.raises(PluginError) as caught:
        load_registry(entry_points=False, extra_plugins=[
            named("fragile", register_agents=hookimpl(boom)),
            named("copycat", register_agents=hookimpl(lambda: [agent(tmp_path, triggers=["Generate Code"])])),
        ])
    message = str(caught.value)
    assert "plugin 'fragile': register_agents raised RuntimeError: no config" in message
    assert "test_hooks.py:" in message  # where it raised
    assert "trigger value 'Generate Code' is already used" in message  # another plugin's problem, same load


def test_a_raising_wrapper_is_named(tmp_path):
    @hookimpl(wrapper=True)
    def broken():
        yield
        raise ValueError("wrapper bug")

    with pytest.raises(PluginError, match=r"plugin 'bad-wrapper': the register_tools wrapper raised ValueError"):
        load_registry(entry_points=False, extra_plugins=[named("bad-wrapper", register_tools=broken)])


def test_an_answer_that_is_not_a_list_is_named():
    with pytest.raises(PluginError, match=r"plugin 'single': register_tools returned ToolSpec, not a list"):
        load_registry(entry_points=False, extra_plugins=[named("single", register_tools=hookimpl(lambda: ECHO))])


def test_a_tool_name_taken_by_a_builtin_names_the_builtin_plugin():
    clash = ToolSpec(name="notion_read_page", description="x", target="notion", args_model=EchoArgs, func=echo)
    with pytest.raises(PluginError, match=r"plugin 'clash': field 'name': tool 'notion_read_page' is also declared "
                                          r"by plugin 'runtime.tools.builtin'"):
        load_registry(entry_points=False, extra_plugins=[named("clash", register_tools=hookimpl(lambda: [clash]))])


def test_an_agent_may_list_a_plugin_tool_but_not_an_unregistered_one(tmp_path):
    registry = load_registry(entry_points=False, extra_plugins=[
        named("echo-tools", register_tools=hookimpl(lambda: [ECHO])),
        named("echoer", register_agents=hookimpl(lambda: [agent(tmp_path, "echoer", tools=["echo"])])),
    ])
    assert registry.get("echoer").tools == ["echo"]
    with pytest.raises(PluginError, match=r"agent 'echoer'.*unknown tool 'echo'"):
        load_registry(entry_points=False, extra_plugins=[
            named("echoer", register_agents=hookimpl(lambda: [agent(tmp_path, "echoer", tools=["echo"])]))])


def test_without_builtin_agents_only_the_builtin_tools_and_your_plugin_load(tmp_path):
    registry = load_registry(entry_points=False, builtin_agents=False,
                             extra_plugins=[named("solo", register_agents=hookimpl(lambda: [agent(tmp_path)]))])
    assert set(registry.agents) == {"extra"}
    assert "notion_read_page" in registry.tools

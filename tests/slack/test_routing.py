"""Seed 003 property 1: every request goes to exactly one route, decided by the registry; plugins add commands."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.slack import commands
from runtime.slack.commands import HOST_COMMANDS, NotUnderstood, RunAgent, route
from tests.slack.conftest import fake_registry, notion_url

agent_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
command_words = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True).filter(lambda w: w not in HOST_COMMANDS)


@st.composite
def registries(draw):
    """Agents with unique Slack commands, as the registry's validation guarantees."""
    names = draw(st.lists(agent_names, min_size=1, max_size=6, unique=True))
    words = draw(st.lists(command_words, max_size=12, unique=True))
    owners = draw(st.lists(st.sampled_from(names), min_size=len(words), max_size=len(words)))
    by_agent: dict[str, list[str]] = {name: [] for name in names}
    for word, owner in zip(words, owners):
        by_agent[owner].append(word)
    return fake_registry(by_agent)


@settings(deadline=None)  # examples: the Hypothesis profile (tests/conftest.py)
@given(registry=registries(), data=st.data())
def test_each_declared_command_routes_to_exactly_its_agent(registry, data):
    """Feature: agent-onboarding-provisioning, Property 1: Message Routing Correctness — for any Slack message with a
    valid intent, routing delivers it to exactly one agent whose capabilities match that intent. (Shown to fail: a
    `route` that sends every declared command word to the first agent that declares any fails here.)"""
    declared = [(w, spec.name) for spec in registry.agents.values() for w in spec.slack_commands]
    page = str(uuid.UUID(int=data.draw(st.integers(0, 2**128 - 1))))
    for word, owner in declared:
        result = route(f"{word} {notion_url(page)}", registry)
        assert result == RunAgent(owner, page, notion_url(page))
    name = data.draw(st.sampled_from(sorted(registry.agents)))
    assert route(f"run {name} {notion_url(page)}", registry) == RunAgent(name, page, notion_url(page))


@settings(deadline=None)  # examples: the Hypothesis profile (tests/conftest.py)
@given(registry=registries(), text=st.text(max_size=120))
def test_any_text_has_exactly_one_route(registry, text):
    result = route(text, registry)
    assert isinstance(result, (commands.RunAgent, commands.Status, commands.Cancel, commands.Help, NotUnderstood))
    if isinstance(result, RunAgent):
        # A run names an agent that exists, and only through `run <agent>` or that agent's own command.
        first = text.split()[0].lower()
        assert result.agent_type in registry.agents
        assert first == "run" or first in registry.agents[result.agent_type].slack_commands


@settings(deadline=None)  # examples: the Hypothesis profile (tests/conftest.py)
@given(registry=registries(), word=command_words)
def test_undeclared_words_are_not_understood(registry, word):
    if registry.agent_for_slack_command(word) is None:
        result = route(f"{word} {notion_url(str(uuid.uuid4()))}", registry)
        assert isinstance(result, NotUnderstood) and result.text == "I did not understand; try /aidlc help"


def test_urls_mentions_and_escaped_links():
    registry = fake_registry({"mock": []})
    page = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a10"
    escaped = f"<https://www.notion.so/acme/Story-{page.replace('-', '')}?pvs=4|Story>"
    result = route(f"run mock {escaped} <@U0SAM00001|sam> <@U0PRIYA001>", registry)
    assert result == RunAgent("mock", page, f"https://www.notion.so/acme/Story-{page.replace('-', '')}?pvs=4",
                              ("U0SAM00001", "U0PRIYA001"))
    assert isinstance(route("run mock https://example.com/not-notion", registry), NotUnderstood)
    assert isinstance(route("run ghost https://www.notion.so/x-" + "a" * 32, registry), NotUnderstood)
    assert isinstance(route("status not-a-ulid", registry), NotUnderstood)
    assert route("status 01jbcdefghjkmnpqrstvwxyz00", registry) == commands.Status("01JBCDEFGHJKMNPQRSTVWXYZ00")


# --- a dropped-in plugin adds its command; the registry validates commands like triggers ----------------------

PLUGIN = '''
from pathlib import Path
from runtime.plugins import AgentSpec, hookimpl

@hookimpl
def register_agents():
    return [AgentSpec(name="{name}", description="changelog from a story", triggers=["{trigger}"],
                      prompt_file=Path(__file__).with_suffix(".md"), tools=["notion_read_page"],
                      outputs=["notion_page"], completion_status="Changelog Ready", slack_commands={commands!r})]
'''


def _drop_in(folder: Path, name: str, commands_: list[str], trigger: str) -> None:
    (folder / f"{name}.py").write_text(PLUGIN.format(name=name, trigger=trigger, commands=commands_))
    (folder / f"{name}.md").write_text("You write changelogs.")


def test_a_dropped_in_plugin_adds_its_slack_command(tmp_path):
    from runtime.registry import load_registry

    _drop_in(tmp_path, "changelog", ["changelog"], "Write Changelog")
    registry = load_registry(plugin_dirs=[tmp_path], entry_points=False)
    page = str(uuid.uuid4())
    assert route(f"changelog {notion_url(page)}", registry) == RunAgent("changelog", page, notion_url(page))
    assert "/aidlc changelog" in commands.help_text(registry)


@pytest.mark.parametrize("bad, message", [
    (["run"], "one of aidlc's own Slack commands"),
    (["Bad Word"], "not a valid Slack command word"),
])
def test_reserved_and_malformed_commands_stop_the_load(tmp_path, bad, message):
    from runtime.registry import PluginError, load_registry

    _drop_in(tmp_path, "changelog", bad, "Write Changelog")
    with pytest.raises(PluginError) as caught:
        load_registry(plugin_dirs=[tmp_path], entry_points=False)
    assert message in str(caught.value) and "slack_commands" in str(caught.value)


def test_a_command_two_plugins_declare_stops_the_load(tmp_path):
    from runtime.registry import PluginError, load_registry

    _drop_in(tmp_path, "changelog", ["notes"], "Write Changelog")
    _drop_in(tmp_path, "releasenotes", ["notes"], "Write Release Notes")
    with pytest.raises(PluginError) as caught:
        load_registry(plugin_dirs=[tmp_path], entry_points=False)
    assert "'notes' is already used by agent" in str(caught.value)

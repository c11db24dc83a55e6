"""The agent registry: loads every plugin once, validates it, and answers the questions the rest of aidlc asks.

- the webhook: which agent does this Status value start? (`agent_for_trigger`)
- the completion step: what runs next? (`next_steps`)
- Pulumi: which agents need a runtime? (`agents`)
- the agent app: which prompt, tools and limits? (`get`)
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ValidationError

from runtime import hookspecs
from runtime.models import ChainTemplate, OutputArtifact
from runtime.plugins import AgentSpec, chain_context
from runtime.tools.spec import ToolSpec

ENTRY_POINT_GROUP = "aidlc.agents"
BUILTIN_PLUGINS_PACKAGE = "agent_plugins"
# The built-in tools: a plugin like any other (llm's default_plugins/), loaded even without the built-in agents,
# since every agent's tools must exist.
BUILTIN_TOOL_PLUGINS = ("runtime.tools.builtin", "runtime.onboarding.tools")
# The built-in plugins, loaded first. Any other module in agent_plugins/ is loaded after them, the same way.
DEFAULT_PLUGINS = (
    *BUILTIN_TOOL_PLUGINS,
    "agent_plugins.code",
    "agent_plugins.mock",
    "agent_plugins.demo_deck",
    "agent_plugins.insight",
    "agent_plugins.spec",
    "agent_plugins.review",
    "agent_plugins.a_b_test",
)


class PluginError(Exception):
    """A plugin failed to load or validate. The message names the plugin and the field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid agent plugins:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class ChainStep:
    """A run the completion step should start next."""

    agent_type: str
    template: ChainTemplate
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin, as `aidlc plugins` shows it: where it came from and what each of its hooks declared."""

    name: str
    source: str
    hooks: dict[str, list[str]]  # hook name -> the agent or tool names it declared ("(wrapper)" for a wrapper)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "hooks": {k: list(v) for k, v in self.hooks.items()}}


@dataclass
class AgentRegistry:
    agents: dict[str, AgentSpec]
    tools: dict[str, ToolSpec]  # built-in and plugin tools alike: every tool an agent may list
    plugin_manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)

    # --- lookups -------------------------------------------------------------------------------------------

    def get(self, name: str) -> AgentSpec:
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none"
            raise KeyError(f"no agent plugin named {name!r} (registered: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.agents

    def trigger_map(self, project_trigger_map: Mapping[str, str] | None = None) -> dict[str, str]:
        """Status value -> agent name: the plugins' triggers, then the project's own additions on top."""
        mapping = {trigger: spec.name for spec in self.agents.values() for trigger in spec.triggers}
        for trigger, agent in (project_trigger_map or {}).items():
            if agent not in self.agents:
                raise KeyError(f"project trigger_map maps {trigger!r} to {agent!r}, which no plugin provides")
            mapping[trigger] = agent
        return mapping

    def agent_for_trigger(
        self, value: str | None, project_trigger_map: Mapping[str, str] | None = None
    ) -> AgentSpec | None:
        """The agent a Status value starts, or None when the value is not a trigger."""
        if not value:
            return None
        name = self.trigger_map(project_trigger_map).get(value)
        return self.agents[name] if name else None

    def agent_for_slack_command(self, command: str | None) -> AgentSpec | None:
        """The agent a Slack `/aidlc <command>` starts, or None when no plugin declares that command."""
        if not command:
            return None
        for spec in self.agents.values():
            if command in spec.slack_commands:
                return spec
        return None

    def next_steps(
        self, agent_type: str, template: ChainTemplate | str, artifacts: Iterable[OutputArtifact]
    ) -> list[ChainStep]:
        """The runs to start after `agent_type` succeeded, under the project's chain template."""
        template = ChainTemplate(template)
        artifacts = list(artifacts)
        steps: list[ChainStep] = []
        for rule in self.get(agent_type).chains:
            if rule.template != template:
                continue
            if rule.for_each is None:
                steps.append(ChainStep(rule.to, template, chain_context(artifacts)))
            else:
                for artifact in (a for a in artifacts if a.type == rule.for_each):
                    steps.append(ChainStep(rule.to, template, chain_context([artifact])))
        return steps

    def describe(self) -> list[dict[str, Any]]:
        """Every agent, in the JSON shape of `AgentSpec.describe`."""
        return [spec.describe() for spec in self.agents.values()]

    def describe_plugins(self) -> dict[str, Any]:
        """What `aidlc plugins --json` prints: plugins -> hooks -> agents and tools, then each agent and tool."""
        tool_owner = {name: plugin.name for plugin in self.plugins for name in plugin.hooks.get("register_tools", [])}
        return {
            "plugins": [plugin.describe() for plugin in self.plugins],
            "agents": self.describe(),
            "tools": [
                {"name": t.name, "target": t.target, "description": t.description, "plugin": tool_owner.get(t.name)}
                for t in self.tools.values()
            ],
        }


# --- loading -----------------------------------------------------------------------------------------------


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def load_registry(
    *,
    plugin_dirs: Sequence[Path] = (),
    entry_points: bool = True,
    extra_plugins: Sequence[object] = (),
    builtin_agents: bool = True,
) -> AgentRegistry:
    """Load and validate every plugin. Raises `PluginError` listing every problem found.

    plugin_dirs: more folders whose `*.py` modules are loaded as plugins (tests, `AIDLC_PLUGIN_DIRS`). A module
        already loaded (e.g. `plugin_dirs=[Path("agent_plugins")]`) is not loaded twice.
    entry_points: load pip-installed plugins (the `aidlc.agents` entry-point group).
    extra_plugins: plugin objects or modules registered directly (tests).
    builtin_agents: load the built-in agents and every module in `agent_plugins/`. The built-in tools always load.
    """
    pm = new_plugin_manager()
    problems: list[str] = []
    sources: dict[str, str] = {}  # plugin name -> where it came from

    def register(plugin: object, name: str, source: str) -> None:
        if pm.get_plugin(name) is not None or pm.is_registered(plugin) or _already_loaded(pm, plugin):
            return
        try:
            pm.register(plugin, name=name)
            sources[name] = source
        except Exception as exc:  # pluggy raises on a hook implementation with unknown arguments
            problems.append(f"plugin {name!r}: cannot register: {exc}")

    for module_name in _builtin_module_names() if builtin_agents else list(BUILTIN_TOOL_PLUGINS):
        module = _import(module_name, problems)
        if module is not None:
            where = "builtin" if module_name in DEFAULT_PLUGINS else f"agent_plugins/{module_name.rsplit('.', 1)[-1]}.py"
            register(module, module_name, where)
    for folder in plugin_dirs:
        for path in sorted(Path(folder).glob("*.py")):
            if path.name.startswith("_") or _loaded_from(pm, path):
                continue
            module = _import_file(path, problems)
            if module is not None:
                register(module, f"file:{path}", str(path))
    if entry_points:
        _load_entry_points(register, problems)
    for index, plugin in enumerate(extra_plugins):
        register(plugin, getattr(plugin, "__name__", f"plugin-{index}"), "registered in code")

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        problems.append(f"plugin {_plugin_label(pm, exc.plugin)!r}: {exc} (misspelt hook? see runtime/hookspecs.py)")

    declared_tools = _call_hook(pm, "register_tools", problems)
    declared_agents = _call_hook(pm, "register_agents", problems)
    tools = _collect_tools(declared_tools, problems)
    agents, owners = _collect_agents(declared_agents, sources, problems)
    for name, spec in agents.items():  # prompts/<name>.md beside the plugin's module, unless it names a file
        spec.default_prompt_file(pm.get_plugin(owners[name]))
    _validate(agents, owners, set(tools), problems)
    if problems:
        raise PluginError(problems)
    plugins = _describe_plugins(pm, sources, {"register_tools": declared_tools, "register_agents": declared_agents})
    return AgentRegistry(agents=agents, tools=tools, plugin_manager=pm, plugins=plugins)


def _builtin_module_names() -> list[str]:
    names = list(DEFAULT_PLUGINS)
    package = importlib.import_module(BUILTIN_PLUGINS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        full = f"{BUILTIN_PLUGINS_PACKAGE}.{info.name}"
        if not info.name.startswith("_") and full not in names:
            names.append(full)
    return names


def _module_file(plugin: object) -> Path | None:
    file = getattr(plugin, "__file__", None) if isinstance(plugin, ModuleType) else None
    return Path(file).resolve() if file else None


def _loaded_from(pm: pluggy.PluginManager, path: Path) -> bool:
    """Is a module from this file already registered (e.g. `agent_plugins/x.py`, imported as `agent_plugins.x`)?"""
    return any(_module_file(plugin) == path.resolve() for _, plugin in pm.list_name_plugin())


def _already_loaded(pm: pluggy.PluginManager, plugin: object) -> bool:
    return _module_file(plugin) is not None and _loaded_from(pm, _module_file(plugin))


def _import(module_name: str, problems: list[str]) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        problems.append(f"plugin {module_name!r}: import failed: {_exception_summary(exc)}")
        return None


def _import_file(path: Path, problems: list[str]) -> ModuleType | None:
    module_name = f"aidlc_plugin_{path.stem}_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module
    except Exception as exc:
        sys.modules.pop(module_name, None)
        problems.append(f"plugin {str(path)!r}: import failed: {_exception_summary(exc)}")
        return None


def _exception_summary(exc: BaseException) -> str:
    """`Type: message (file:line)`: where it was raised, the deepest frame outside the loading machinery
    (importlib, pluggy, this module)."""
    import traceback

    loader = ("importlib", f"{Path(pluggy.__file__).parent}", __file__)
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not any(part in f.filename for part in loader)]
    where = f" ({own[-1].filename}:{own[-1].lineno})" if own else ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    return f"{type(exc).__name__}: {exc}{where}"


def _load_entry_points(register: Callable[[object, str, str], None], problems: list[str]) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = ep.load()
        except Exception as exc:
            problems.append(f"plugin {ep.name!r} (entry point {ep.value}): import failed: {_exception_summary(exc)}")
            continue
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value
        register(plugin, ep.name, f"entry point: {dist}")


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or repr(plugin)


# A hook's answer, attributed: (the plugin that declared it, one AgentSpec / ToolSpec / dict).
Declared = list[tuple[str, Any]]


def _call_hook(pm: pluggy.PluginManager, hook_name: str, problems: list[str]) -> Declared:
    """Call a hook through pluggy and say which plugin declared each item.

    pluggy merges every implementation's answer into one list and stops at the first exception, so neither tells
    which plugin declared what or which one failed, and every message here must name the plugin. So each plugin is
    called alone through its own sub-hook (`pm.subset_hook_caller`), which names the owner of every declared name
    and every failing plugin. When a plugin implements the hook as a wrapper (`wrapper=True` / `hookwrapper=True`),
    the hook is then called once as a whole (`pm.hook.<name>()`), so the wrapper sees and may change every plugin's
    answer, and that answer is what loads, each item attributed by name to the plugin that declared it (or to the
    wrappers, for a name no plugin declared). Without a wrapper the whole call would return the same items, so it
    is not made. Hooks must therefore return data and do nothing else: they may be called twice.
    """
    hook = getattr(pm.hook, hook_name)
    impls = hook.get_hookimpls()  # read for who implements the hook and how; never called directly
    wrappers = [pm.get_name(i.plugin) for i in impls if i.wrapper or i.hookwrapper]
    implementers = {i.plugin for i in impls if not (i.wrapper or i.hookwrapper)}
    everyone = set(pm.get_plugins())
    alone: Declared = []
    failed = False
    for name, plugin in pm.list_name_plugin():  # registration order: built-ins first, as DEFAULT_PLUGINS lists them
        if plugin not in implementers:
            continue
        try:
            answer = pm.subset_hook_caller(hook_name, remove_plugins=everyone - {plugin})()
        except ValidationError as exc:  # an AgentSpec(...) built with a bad field
            problems.extend(_validation_problems(name, exc))
            failed = True
            continue
        except Exception as exc:
            problems.append(f"plugin {name!r}: {hook_name} raised {_exception_summary(exc)}")
            failed = True
            continue
        before = len(problems)
        alone.extend((name, item) for item in _items(name, hook_name, answer, problems))
        failed = failed or len(problems) > before
    if failed or not wrappers:
        return alone

    wrapped_by = " and ".join(repr(w) for w in wrappers)
    try:
        answer = hook()
    except Exception as exc:
        problems.append(f"plugin {wrapped_by}: the {hook_name} wrapper raised {_exception_summary(exc)}")
        return alone
    owners: dict[str | None, list[str]] = {}
    for name, item in alone:
        owners.setdefault(_item_name(item), []).append(name)
    merged: Declared = []
    for item in _items(wrapped_by, hook_name, answer, problems):
        declared_by = owners.get(_item_name(item))
        merged.append((declared_by.pop(0) if declared_by else wrappers[0], item))
    return merged


def _items(label: str, hook_name: str, answer: list[Any], problems: list[str]) -> list[Any]:
    """The items of a hook's answer (one list per implementation; None from an implementation means nothing)."""
    items: list[Any] = []
    for returned in answer:
        if isinstance(returned, (list, tuple)):
            items.extend(returned)
        else:
            problems.append(f"plugin {label!r}: {hook_name} returned {type(returned).__name__}, not a list")
    return items


def _item_name(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
    return name if isinstance(name, str) else None


def _collect_tools(declared: Declared, problems: list[str]) -> dict[str, ToolSpec]:
    tools: dict[str, ToolSpec] = {}
    owner: dict[str, str] = {}
    for label, tool in declared:
        if not isinstance(tool, ToolSpec):
            problems.append(f"plugin {label!r}: register_tools returned {type(tool).__name__}, not a ToolSpec")
        elif tool.name in tools:
            problems.append(
                f"plugin {label!r}: field 'name': tool {tool.name!r} is also declared by plugin {owner[tool.name]!r}; "
                "tool names must be unique"
            )
        else:
            tools[tool.name] = tool
            owner[tool.name] = label
    return tools


def _collect_agents(
    declared: Declared, sources: Mapping[str, str], problems: list[str]
) -> tuple[dict[str, AgentSpec], dict[str, str]]:
    """The declared agents, and for each the name of the plugin that declared it."""
    agents: dict[str, AgentSpec] = {}
    owner: dict[str, str] = {}
    for label, item in declared:
        try:
            # a copy: the registry fills in `source` and the prompt default, and a plugin's spec may be a constant
            # shared by every registry loaded in the process
            spec = item.model_copy() if isinstance(item, AgentSpec) else AgentSpec.model_validate(item)
        except ValidationError as exc:
            problems.extend(_validation_problems(label, exc))
            continue
        if spec.name in agents:
            problems.append(
                f"plugin {label!r}: field 'name': agent {spec.name!r} is also declared by plugin {owner[spec.name]!r}; "
                "agent names must be unique"
            )
            continue
        spec.source = sources.get(label, label)
        agents[spec.name] = spec
        owner[spec.name] = label
    return agents, owner


def _describe_plugins(
    pm: pluggy.PluginManager, sources: Mapping[str, str], declared: Mapping[str, Declared]
) -> list[PluginInfo]:
    plugins = []
    for name, plugin in pm.list_name_plugin():
        hooks: dict[str, list[str]] = {}
        for caller in pm.get_hookcallers(plugin) or []:
            impl = next(i for i in caller.get_hookimpls() if i.plugin is plugin)
            names = [str(_item_name(item)) for label, item in declared.get(caller.name, []) if label == name]
            hooks[caller.name] = names + (["(wrapper)"] if impl.wrapper or impl.hookwrapper else [])
        plugins.append(PluginInfo(name=name, source=sources.get(name, ""), hooks=hooks))
    return plugins


def _validation_problems(label: str, exc: ValidationError) -> list[str]:
    """One line per pydantic error, with the field's dotted path (`limits.max_tokens`)."""
    return [
        f"plugin {label!r}: field {'.'.join(str(p) for p in error['loc']) or '(agent)'!r}: {error['msg']}"
        for error in exc.errors()
    ]


def slack_command_problem(command: str) -> str | None:
    """Why `command` cannot be a plugin's Slack command, or None. The host's own words stay the host's."""
    from runtime.slack.commands import HOST_COMMANDS, SLACK_COMMAND_PATTERN

    if not SLACK_COMMAND_PATTERN.fullmatch(command):
        return (f"{command!r} is not a valid Slack command word: use lower-case letters, digits and hyphens, "
                "starting with a letter, at most 32 characters")
    if command in HOST_COMMANDS:
        return f"{command!r} is one of aidlc's own Slack commands ({', '.join(sorted(HOST_COMMANDS))})"
    return None


def _validate(
    agents: Mapping[str, AgentSpec], owners: Mapping[str, str], tool_names: set[str], problems: list[str]
) -> None:
    trigger_owner: dict[str, str] = {}
    command_owner: dict[str, str] = {}
    for spec in agents.values():
        who = f"plugin {owners[spec.name]!r} (agent {spec.name!r})"
        for command in spec.slack_commands:
            problem = slack_command_problem(command)
            if problem:
                problems.append(f"{who}: field 'slack_commands': {problem}")
            elif command in command_owner:
                problems.append(
                    f"{who}: field 'slack_commands': Slack command {command!r} is already used by agent "
                    f"{command_owner[command]!r} of plugin {owners[command_owner[command]]!r}; each command "
                    "may start one agent only"
                )
            else:
                command_owner[command] = spec.name
        for trigger in spec.triggers:
            if not trigger.strip():
                problems.append(f"{who}: field 'triggers': empty trigger value")
            elif trigger in trigger_owner:
                problems.append(
                    f"{who}: field 'triggers': trigger value {trigger!r} is already used by agent "
                    f"{trigger_owner[trigger]!r} of plugin {owners[trigger_owner[trigger]]!r}; each Status value "
                    "may start one agent only"
                )
            else:
                trigger_owner[trigger] = spec.name
        for rule in spec.chains:
            if rule.to not in agents:
                problems.append(
                    f"{who}: field 'chains': chain target {rule.to!r} is not provided by any plugin "
                    f"(registered: {', '.join(sorted(agents))})"
                )
        for tool in spec.tools:
            if tool not in tool_names:
                problems.append(
                    f"{who}: field 'tools': unknown tool {tool!r} (known tools: {', '.join(sorted(tool_names))})"
                )
        if spec.prompt_file is None:
            problems.append(f"{who}: field 'prompt_file': not given, and the plugin has no module file to find "
                            f"prompts/{spec.name}.md beside")
        elif not spec.prompt_file.is_file():
            problems.append(f"{who}: field 'prompt_file': {spec.prompt_file} does not exist")
        elif not spec.prompt_file.read_text(encoding="utf-8").strip():
            problems.append(f"{who}: field 'prompt_file': {spec.prompt_file} is empty")


@lru_cache(maxsize=1)
def _cached_registry(plugin_dirs: tuple[str, ...]) -> AgentRegistry:
    return load_registry(plugin_dirs=[Path(p) for p in plugin_dirs])


def get_registry() -> AgentRegistry:
    """The process-wide registry, loaded once. Extra plugin folders come from `AIDLC_PLUGIN_DIRS` (os.pathsep)."""
    import os

    dirs = tuple(p for p in os.environ.get("AIDLC_PLUGIN_DIRS", "").split(os.pathsep) if p)
    return _cached_registry(dirs)


def reset_registry() -> None:
    """Forget the cached registry (tests, and `aidlc dev` after a plugin was dropped in)."""
    _cached_registry.cache_clear()

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ValidationError

from runtime import hookspecs
from runtime.models import ChainTemplate, OutputArtifact
from runtime.plugins import AgentSpec
from runtime.tools.catalog import BUILTIN_TOOLS
from runtime.tools.spec import ToolSpec

ENTRY_POINT_GROUP = "aidlc.agents"
BUILTIN_PLUGINS_PACKAGE = "agent_plugins"
# The built-in agents, loaded first. Any other module in agent_plugins/ is loaded after them, the same way.
DEFAULT_PLUGINS = (
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


@dataclass
class AgentRegistry:
    agents: dict[str, AgentSpec]
    tools: dict[str, ToolSpec]
    plugin_manager: pluggy.PluginManager

    # --- lookups -------------------------------------------------------------------------------------------

    def get(self, name: str) -> AgentSpec:
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none"
            raise KeyError(f"no agent plugin named {name!r} (registered: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.agents

    def known_tool_names(self) -> set[str]:
        return set(BUILTIN_TOOLS) | set(self.tools)

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
                steps.append(ChainStep(rule.to, template, _chain_context(artifacts)))
            else:
                for artifact in (a for a in artifacts if a.type == rule.for_each):
                    steps.append(ChainStep(rule.to, template, _chain_context([artifact])))
        return steps

    def describe(self) -> list[dict[str, Any]]:
        return [spec.describe() for spec in self.agents.values()]


def _chain_context(artifacts: Sequence[OutputArtifact]) -> dict[str, Any]:
    """`<type>_url` for the first artifact of each type, plus the artifacts themselves."""
    context: dict[str, Any] = {}
    for artifact in artifacts:
        context.setdefault(f"{artifact.type.value}_url", artifact.url)
        variant = getattr(artifact.metadata, "variant", None)
        if variant:
            context.setdefault("variant", variant)
    context["artifacts"] = [a.model_dump(mode="json") for a in artifacts]
    return context


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
    builtins: bool = True,
) -> AgentRegistry:
    """Load and validate every plugin. Raises `PluginError` listing every problem found.

    plugin_dirs: more folders whose `*.py` modules are loaded as plugins (tests, `AIDLC_PLUGIN_DIRS`).
    extra_plugins: plugin objects registered directly (tests).
    """
    pm = new_plugin_manager()
    problems: list[str] = []
    sources: dict[int, str] = {}

    def register(plugin: object, name: str, source: str) -> None:
        if pm.get_plugin(name) is not None or pm.is_registered(plugin):
            return
        try:
            pm.register(plugin, name=name)
            sources[id(plugin)] = source
        except Exception as exc:  # pluggy raises on a hook implementation with unknown arguments
            problems.append(f"plugin {name!r}: cannot register: {exc}")

    if builtins:
        for module_name in _builtin_module_names():
            module = _import(module_name, problems)
            if module is not None:
                where = "builtin" if module_name in DEFAULT_PLUGINS else f"agent_plugins/{module_name.rsplit('.', 1)[-1]}.py"
                register(module, module_name, where)
    for folder in plugin_dirs:
        for path in sorted(Path(folder).glob("*.py")):
            if path.name.startswith("_"):
                continue
            module = _import_file(path, problems)
            if module is not None:
                register(module, f"file:{path}", str(path))
    if entry_points:
        _load_entry_points(pm, problems, sources)
    for index, plugin in enumerate(extra_plugins):
        register(plugin, getattr(plugin, "__name__", f"plugin-{index}"), "registered in code")

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        problems.append(f"plugin {_plugin_label(pm, exc.plugin)!r}: {exc} (misspelt hook? see runtime/hookspecs.py)")

    tools = _collect_tools(pm, sources, problems)
    agents, owners = _collect_agents(pm, sources, problems)
    _validate(agents, owners, set(BUILTIN_TOOLS) | set(tools), problems)
    if problems:
        raise PluginError(problems)
    return AgentRegistry(agents=agents, tools=tools, plugin_manager=pm)


def _builtin_module_names() -> list[str]:
    names = list(DEFAULT_PLUGINS)
    package = importlib.import_module(BUILTIN_PLUGINS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        full = f"{BUILTIN_PLUGINS_PACKAGE}.{info.name}"
        if not info.name.startswith("_") and full not in names:
            names.append(full)
    return names


def _import(module_name: str, problems: list[str]) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        problems.append(f"plugin {module_name!r}: import failed: {type(exc).__name__}: {exc}")
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
        problems.append(f"plugin {str(path)!r}: import failed: {type(exc).__name__}: {exc}")
        return None


def _load_entry_points(pm: pluggy.PluginManager, problems: list[str], sources: dict[int, str]) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            problems.append(f"plugin {ep.name!r} (entry point {ep.value}): import failed: {type(exc).__name__}: {exc}")
            continue
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value
        try:
            pm.register(plugin, name=ep.name)
            sources[id(plugin)] = f"entry point: {dist}"
        except Exception as exc:
            problems.append(f"plugin {ep.name!r}: cannot register: {exc}")


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or repr(plugin)


def _collect_tools(pm: pluggy.PluginManager, sources: dict[int, str], problems: list[str]) -> dict[str, ToolSpec]:
    tools: dict[str, ToolSpec] = {}
    owner: dict[str, str] = {}
    for impl in pm.hook.register_tools.get_hookimpls():
        label = _plugin_label(pm, impl.plugin)
        try:
            declared = impl.function() or []
        except Exception as exc:
            problems.append(f"plugin {label!r}: register_tools raised {type(exc).__name__}: {exc}")
            continue
        for tool in declared:
            if not isinstance(tool, ToolSpec):
                problems.append(f"plugin {label!r}: register_tools returned {type(tool).__name__}, not a ToolSpec")
            elif tool.name in tools or tool.name in BUILTIN_TOOLS:
                other = owner.get(tool.name, "the built-in tools")
                problems.append(f"plugin {label!r}: field 'name': tool {tool.name!r} is already provided by {other}")
            else:
                tools[tool.name] = tool
                owner[tool.name] = repr(label)
    return tools


def _collect_agents(
    pm: pluggy.PluginManager, sources: dict[int, str], problems: list[str]
) -> tuple[dict[str, AgentSpec], dict[str, str]]:
    """The declared agents, and for each the name of the plugin that declared it."""
    agents: dict[str, AgentSpec] = {}
    owner: dict[str, str] = {}
    # get_hookimpls() lists implementations in registration order: built-ins first, as DEFAULT_PLUGINS has them.
    for impl in pm.hook.register_agents.get_hookimpls():
        label = _plugin_label(pm, impl.plugin)
        try:
            declared = impl.function() or []
        except ValidationError as exc:
            problems.extend(_validation_problems(label, exc))
            continue
        except Exception as exc:
            problems.append(f"plugin {label!r}: register_agents raised {type(exc).__name__}: {exc}")
            continue
        for item in declared:
            try:
                spec = item if isinstance(item, AgentSpec) else AgentSpec.model_validate(item)
            except ValidationError as exc:
                problems.extend(_validation_problems(label, exc))
                continue
            if spec.name in agents:
                problems.append(
                    f"plugin {label!r}: field 'name': agent {spec.name!r} is already provided by plugin {owner[spec.name]!r}"
                )
                continue
            spec.source = sources.get(id(impl.plugin), label)
            agents[spec.name] = spec
            owner[spec.name] = label
    return agents, owner


def _validation_problems(label: str, exc: ValidationError) -> list[str]:
    return [
        f"plugin {label!r}: field {'.'.join(str(p) for p in error['loc']) or '(agent)'!r}: {error['msg']}"
        for error in exc.errors()
    ]


def _validate(
    agents: Mapping[str, AgentSpec], owners: Mapping[str, str], tool_names: set[str], problems: list[str]
) -> None:
    trigger_owner: dict[str, str] = {}
    for spec in agents.values():
        who = f"plugin {owners[spec.name]!r} (agent {spec.name!r})"
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
        if not spec.prompt_file.is_file():
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

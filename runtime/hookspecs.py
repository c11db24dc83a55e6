"""The hooks an aidlc plugin can implement. This module is the whole plugin contract.

Plugins implement hooks with the `hookimpl` marker and are found in three places, all through the same door:
the built-in modules in `agent_plugins/`, any module dropped into that folder, and pip-installed packages that
declare an entry point in the group `aidlc.agents`.

Hooks are called through the plugin manager (`pm.hook.<name>(...)`), with keyword arguments (as pytest does), so an
implementation may accept only the arguments it needs, and pluggy's `tryfirst`, `trylast` and `wrapper=True` work as
pluggy documents them. The registry calls each plugin alone first, so that every problem names the plugin that
caused it, and, when a plugin wraps the hook, once more as a whole so the wrapper sees every plugin's answer:
implementations must return data and do nothing else. What they return is merged by name; a name declared twice is
an error, so the call order decides nothing.

Every hook here is documented in the README under "Plugin hooks" with the signature the plugin manager holds, and
has a test; `tests/unit/test_hook_docs.py` fails when either is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # imported for annotations only: keeps this module free of import-time work
    from runtime.plugins import AgentSpec
    from runtime.tools.spec import ToolSpec

PROJECT_NAME = "aidlc"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_agents() -> list[AgentSpec]:
    """Declare the agents this plugin provides.

    Signature: ``register_agents() -> list[AgentSpec]``

    Arguments: none.

    Returns: a list of `runtime.plugins.AgentSpec`, one per agent. Each names the agent (its `agent_type`), the
    Notion Status values that trigger it, its system prompt file, the tools it may call, the artifacts it produces,
    the status written back on success, its chaining rules, its limits and its offline script. A dict with the
    same fields is accepted too. The registry validates every field at load and fails with a message naming the
    plugin and the field (`limits.max_tokens`). A wrapper (``@hookimpl(wrapper=True)``) receives the list of every
    plugin's lists from ``yield`` and returns the lists that load.

    Example::

        @hookimpl
        def register_agents():
            return [AgentSpec(name="changelog", description="Drafts release notes",
                              triggers=["Write Changelog"], prompt_file=here / "prompts" / "changelog.md",
                              tools=["notion_read_page", "notion_create_page"], outputs=["notion_page"],
                              completion_status="Changelog Ready")]
    """


@hookspec
def register_tools() -> list[ToolSpec]:
    """Add tools to the tool registry, as the built-in Notion, GitHub, prototype and analysis tools are added.

    Signature: ``register_tools() -> list[ToolSpec]``

    Arguments: none.

    Returns: a list of `runtime.tools.spec.ToolSpec`. The built-in tools come through this hook too
    (`runtime/tools/builtin.py`). A tool's name must be unique across all plugins; it is served over the local MCP
    server and the AgentCore Gateway, gets a generated JSON schema, and is checked by the Cedar tool policy like
    every built-in tool. An agent may only call tools it lists in `AgentSpec.tools`, and may list only tools that
    some plugin registers. A plugin may register tools and no agents.

    Example::

        @hookimpl
        def register_tools():
            return [ToolSpec(name="word_count", description="Count words in a text",
                             target="analysis", args_model=WordCountArgs, func=word_count)]
    """

"""The built-in tools, registered through `register_tools` like any plugin's (llm's `default_plugins/` model).

The agent registry loads this module as one of its default plugins, so built-in and plugin tools are one set,
validated the same way; nothing else keeps a list of tool names.
"""

from __future__ import annotations

from runtime.hookspecs import hookimpl
from runtime.tools.spec import ToolSpec


@hookimpl
def register_tools() -> list[ToolSpec]:
    from runtime.tools import analysis, github_tools, kb_tools, notion_tools, prototype_tools, repo_tools, sandbox_tools

    return [*notion_tools.TOOLS, *github_tools.TOOLS, *repo_tools.TOOLS, *sandbox_tools.TOOLS, *prototype_tools.TOOLS,
            *analysis.TOOLS, *kb_tools.TOOLS]

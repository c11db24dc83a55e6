"""A plugin that only registers a tool: it loads, its tool is served like a built-in (registry, MCP), its result is
checked against its result model, and a tool that raises says what and where."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from runtime.plugins import hookimpl
from runtime.registry import load_registry
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.mcp_client import MCPToolClient, MCPToolError
from runtime.tools.mcp_server import serve_mcp
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices
from runtime.tools.spec import ToolResultModel, ToolSpec


class ShoutArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str


class ShoutResult(ToolResultModel):
    text: str
    length: int


def shout(context, args: ShoutArgs) -> dict:
    if args.text == "boom":
        raise ZeroDivisionError("the plugin's own bug")
    if args.text == "wrong shape":
        return {"text": args.text.upper(), "length": "long"}
    return {"text": args.text.upper(), "length": len(args.text)}


class ToolsOnlyPlugin:
    """No register_agents at all: a plugin may bring tools only."""

    @staticmethod
    @hookimpl
    def register_tools():
        return [ToolSpec("shout", "Upper-case a text", "analysis", ShoutArgs, shout, result_model=ShoutResult)]


@pytest.fixture(scope="module")
def registry():
    return ToolRegistry.default(load_registry(extra_plugins=[ToolsOnlyPlugin], entry_points=False))


def test_a_tools_only_plugin_loads_and_its_tool_is_called_through_the_registry(registry):
    assert "shout" in registry.names() and "notion_read_page" in registry.names()
    assert registry.agents.agents, "the built-in agents still load beside it"
    audit = MemoryAuditSink()
    result = registry.call("shout", {"text": "hi"}, ToolContext(services=ToolServices(audit=audit)))
    assert result.ok and result.content == {"text": "HI", "length": 2}
    assert [(r.source, r.tool, r.outcome) for r in audit.records] == [("tool", "shout", "ok")]


def test_a_result_of_the_wrong_shape_is_a_tool_bug_not_passed_on(registry):
    result = registry.call("shout", {"text": "wrong shape"}, ToolContext(services=ToolServices()))
    assert not result.ok and not result.denied and result.content == {}
    assert result.error.startswith("shout returned a result that does not match its result model ShoutResult "
                                   "(a bug in the tool): 'length': ")


def test_a_built_in_result_is_checked_too(registry, git):
    # a backend drifting from the documented shape is caught at the tool, not downstream in an artifact
    git.read_file = lambda path, ref=None: {"path": path, "content": "x", "size": 1}
    result = registry.call("github_read_file", {"path": "a"}, ToolContext(services=ToolServices(github=git)))
    assert "does not match its result model ReadFileResult" in result.error and "'size': Extra inputs" in result.error


def test_a_tool_that_raises_names_the_exception_and_where(registry):
    result = registry.call("shout", {"text": "boom"}, ToolContext(services=ToolServices()))
    line = shout.__code__.co_firstlineno + 2
    assert result.error == f"shout failed: ZeroDivisionError at {__file__}:{line}: the plugin's own bug"


def test_the_plugin_tool_is_served_over_mcp(registry):
    with serve_mcp(registry, ToolServices()) as handle, \
            MCPToolClient(handle.url, token=handle.tokens.issue("mock", "01JD0000000000000000000001")) as client:
        listed = {tool.name: tool for tool in client.list_tools()}
        # the result model is the MCP output schema, which mcp's client checks each successful result against
        assert listed["shout"].output_schema["required"] == ["text", "length"]
        # every built-in tool has one (checked by name: a third-party plugin's tool may declare none)
        from runtime.tools.builtin import register_tools as builtin_tools
        assert all(listed[tool.name].output_schema for tool in builtin_tools())
        with pytest.raises(MCPToolError, match="'text': Field required"):
            client.call("shout", {})
        # served as its caller: the mock agent declares no "shout", so the call is refused (an agent that declares
        # it gets its result: the registry test above)
        with pytest.raises(MCPToolError, match="does not declare tool 'shout'"):
            client.call("shout", {"text": "mcp"})

"""The registry: built-in and plugin tools through one door, typed results, schemas for the gateway, readable
errors, the audit trail."""

from __future__ import annotations

import json

from pydantic import BaseModel

from runtime.plugins import hookimpl
from runtime.registry import load_registry
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices
from runtime.tools.spec import ToolSpec
from tests.tools.conftest import INVOCATION, agent_context


BUILTIN_TOOL_NAMES = {
    "notion_search", "notion_read_page", "notion_query_data_source", "notion_create_page", "notion_update_page",
    "notion_create_database", "notion_create_comment", "github_create_branch", "github_commit_files",
    "github_create_pull_request", "github_read_file", "github_read_pull_request", "github_comment_pull_request",
    "prototype_upload", "prototype_check", "prototype_url", "feedback_statistics",
    "repo_list_files", "repo_search_code", "repo_read_files", "repo_branch_diff", "sandbox_run", "kb_retrieve",
}


def test_the_built_in_tools_come_through_register_tools_with_typed_results(tools):
    import runtime.tools.builtin

    registered = {t.name: t for t in runtime.tools.builtin.register_tools()}
    assert set(registered) == BUILTIN_TOOL_NAMES and BUILTIN_TOOL_NAMES <= set(tools.names())
    agents = load_registry(builtin_agents=False, entry_points=False)  # no agent at all: the tools still load
    assert BUILTIN_TOOL_NAMES <= set(agents.tools) and not agents.agents
    for name, tool in registered.items():
        assert tool.result_model is not None, f"{name} declares no result model"
        assert tool.result_schema()["properties"], name


def test_gateway_schemas_use_only_what_the_gateway_accepts(tools):
    allowed_keys = {"type", "description", "properties", "required", "items"}

    def check(node):
        assert set(node) <= allowed_keys, node
        assert node["type"] in {"string", "number", "integer", "boolean", "object", "array"}
        for child in node.get("properties", {}).values():
            check(child)
        if "items" in node:
            check(node["items"])

    schemas = tools.schemas()
    assert [s["name"] for s in schemas] == tools.names()
    for schema in schemas:
        assert schema["description"] and schema["inputSchema"]["type"] == "object"
        check(schema["inputSchema"])
    commit = next(s for s in schemas if s["name"] == "github_commit_files")["inputSchema"]
    assert commit["required"] == ["branch", "message", "files"] and commit["properties"]["files"]["type"] == "object"
    search = next(s for s in schemas if s["name"] == "notion_search")["inputSchema"]
    assert "One of: page, data_source" in search["properties"]["object_type"]["description"]
    mcp = next(s for s in tools.mcp_schemas() if s["name"] == "notion_search")["inputSchema"]
    assert mcp["properties"]["object_type"]["enum"] == ["page", "data_source"]
    inputs = json.dumps([s["inputSchema"] for s in tools.mcp_schemas()])
    assert "$ref" not in inputs and "anyOf" not in inputs


def test_bad_arguments_get_an_error_a_model_can_fix():
    tools = ToolRegistry.default()
    context = ToolContext(services=ToolServices())
    missing = tools.call("github_commit_files", {"branch": "x"}, context)
    assert not missing.ok and not missing.denied
    assert "'message': Field required" in missing.error and "'files': Field required" in missing.error
    assert "takes: branch, message, files" in missing.error
    wrong_type = tools.call("github_read_pull_request", {"number": "seven"}, context)
    assert "'number'" in wrong_type.error and "integer" in wrong_type.error
    extra = tools.call("prototype_url", {"invocation_id": "X", "colour": "red"}, context)
    assert "'colour': unknown argument" in extra.error
    both = tools.call("notion_create_page", {"title": "t", "parent_page_id": "a", "parent_data_source_id": "b"}, context)
    assert "exactly one of parent_page_id or parent_data_source_id" in both.error
    assert "expected a JSON object" in tools.call("notion_read_page", ["x"], context).error
    unknown = tools.call("rm_rf", {}, context)
    assert "unknown tool 'rm_rf'" in unknown.error and "notion_search" in unknown.error


def test_an_unconfigured_service_is_a_readable_error():
    result = ToolRegistry.default().call("notion_read_page", {"page_id": "p"}, ToolContext(services=ToolServices()))
    assert not result.ok and "notion_read_page needs notion, which is not configured" in result.error


class _Words(BaseModel):
    text: str


class _WordCountPlugin:
    @staticmethod
    @hookimpl
    def register_tools():
        return [ToolSpec("word_count", "Count words", "analysis", _Words,
                         lambda context, args: {"words": len(args.text.split())})]


def test_plugin_tools_are_served_and_policed_like_built_ins(policy):
    agents = load_registry(extra_plugins=[_WordCountPlugin], entry_points=False)
    tools = ToolRegistry.default(agents)
    assert "word_count" in tools.names() and any(s["name"] == "word_count" for s in tools.schemas())
    open_context = ToolContext(services=ToolServices())
    assert tools.call("word_count", {"text": "a b c"}, open_context).content == {"words": 3}
    # no built-in agent declares word_count: the policy refuses it for them
    refused = tools.call("word_count", {"text": "a"}, agent_context(ToolServices(policy=policy), "mock", tools))
    assert refused.denied and "may not call 'word_count'" in refused.error


def test_undeclared_allowed_tools_are_looked_up_from_the_agent_registry(policy):
    tools = ToolRegistry.default()
    services = ToolServices(policy=policy)
    # the mock agent declares prototype_upload but not github tools
    as_mock = ToolContext(agent_type="mock", invocation_id="I1", services=services)
    assert tools.call("github_read_file", {"path": "a"}, as_mock).denied
    assert "needs prototypes" in tools.call("prototype_url", {"invocation_id": "I1"}, as_mock).error
    stranger = ToolContext(agent_type="stranger", invocation_id="I1", services=services)
    assert tools.call("prototype_url", {"invocation_id": "I1"}, stranger).denied


def test_a_failing_adapter_is_reported_not_raised_and_audited(git, policy, audit_log):
    tools = ToolRegistry.default()
    services = ToolServices(github=git, policy=policy, audit=audit_log)
    result = tools.call("github_read_file", {"path": "nope.txt"}, agent_context(services, "code", tools))
    assert not result.ok and result.error == "github_read_file failed: no file 'nope.txt' at 'main'"
    (record,) = audit_log.records
    assert (record.source, record.outcome, record.invocation_id) == ("tool", "error", INVOCATION)
    assert len(record.args_sha256) == 64 and record.to_item()["detail"].startswith("github_read_file failed")


def test_a_failing_audit_sink_does_not_fail_the_call(git):
    class Broken:
        def record(self, record):
            raise RuntimeError("audit store down")

    tools = ToolRegistry.default()
    result = tools.call("github_read_file", {"path": "README.md"},
                        ToolContext(services=ToolServices(github=git, audit=Broken())))
    assert result.ok and "Local remote" in result.content["content"]

"""Pure parts of the agent runtime: settings from env, the offline model's protocol, artifact mapping, audit items."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from runtime.agent.artifacts import ToolCallRecord, artifacts_from_calls
from runtime.tools.audit import AuditRecord, DynamoDbAuditSink, argument_digest
from runtime.agent.offline_model import CHARS_PER_TOKEN, OfflineModel, OfflineScriptError, count_tokens
from runtime.agent.settings import AgentSettings
from runtime.models import ArtifactType
from runtime.plugins import ToolCall
from runtime.registry import get_registry

from tests.agent.conftest import make_request


def test_settings_from_env():
    settings = AgentSettings.from_env({
        "AIDLC_AGENT": "mock", "AIDLC_MODEL": "Bedrock", "AIDLC_GATEWAY_URL": "http://127.0.0.1:1/mcp",
        "AIDLC_GATEWAY_AUTH": "iam", "COMPLETION_QUEUE_URL": "q", "AUDIT_TABLE": "t",
        "AIDLC_MODEL_PRICES": json.dumps({"m": {"input_per_million": "1", "output_per_million": "2"}}),
    })
    assert (settings.agent_name, settings.model_provider, settings.gateway_auth) == ("mock", "bedrock", "iam")
    assert settings.completion_queue_url == "q" and settings.audit_table == "t"
    assert settings.prices["m"].output_per_million == Decimal("2")
    gateway = "https://gw-1.gateway.bedrock-agentcore.us-east-1.amazonaws.com/mcp"
    assert AgentSettings.from_env({"AIDLC_GATEWAY_URL": gateway}).gateway_auth == "iam"
    assert AgentSettings.from_env({"AIDLC_GATEWAY_URL": "http://127.0.0.1:5/mcp"}).gateway_auth == "none"
    with pytest.raises(ValueError, match="AIDLC_MODEL"):
        AgentSettings.from_env({"AIDLC_MODEL": "gpt"})
    # No explicit choice: Bedrock when credentials exist (the test env has fake ones), offline otherwise.
    assert AgentSettings.from_env({}).model_provider == "bedrock"


def test_settings_default_to_offline_without_credentials(monkeypatch):
    monkeypatch.setattr("runtime.agent.settings.aws_credentials_present", lambda: False)
    assert AgentSettings.from_env({}).model_provider == "offline"


def _drain(model, messages, tool_specs):
    async def collect():
        return [chunk async for chunk in model.stream(messages, tool_specs, "system")]
    return asyncio.run(collect())


def _first_tool_call(script, agent: str) -> tuple[OfflineModel, str]:
    """`script` as `agent`'s offline model, run to its first tool call; returns the model and that call's id."""
    model = OfflineModel(script, make_request(agent))
    chunks = _drain(model, [{"role": "user", "content": [{"text": "go"}]}], [])
    return model, chunks[1]["contentBlockStart"]["start"]["toolUse"]["toolUseId"]


def _tool_result(tool_use_id: str, status: str, text: str) -> dict:
    """The user turn that answers the tool call `tool_use_id`, as strands sends it."""
    return {"role": "user", "content": [{"toolResult": {"toolUseId": tool_use_id, "status": status,
                                                        "content": [{"text": text}]}}]}


def test_offline_model_drives_a_script_and_counts_tokens():
    seen: list[dict] = []

    def script(request):
        first = yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
        seen.append(first)
        return f"read {first['title']}"

    request = make_request("mock")
    model = OfflineModel(script, request)
    specs = [{"name": "aidlc___notion_read_page", "description": "", "inputSchema": {"json": {}}}]
    messages = [{"role": "user", "content": [{"text": "go"}]}]
    chunks = _drain(model, messages, specs)
    tool_use = chunks[1]["contentBlockStart"]["start"]["toolUse"]
    assert tool_use["name"] == "aidlc___notion_read_page"  # the gateway's prefixed name was matched
    assert json.loads(chunks[2]["contentBlockDelta"]["delta"]["toolUse"]["input"]) == {"page_id": "page-1"}
    usage = chunks[-1]["metadata"]["usage"]
    assert usage["inputTokens"] == count_tokens("system", messages, specs)
    assert usage["inputTokens"] == -(-len("system" + json.dumps(messages, sort_keys=True)
                                           + json.dumps(specs, sort_keys=True)) // CHARS_PER_TOKEN)

    messages += [{"role": "assistant", "content": [{"toolUse": {**tool_use, "input": {}}}]},
                 _tool_result(tool_use["toolUseId"], "success", '{"title": "Story"}')]
    chunks = _drain(model, messages, specs)
    assert seen == [{"title": "Story"}]
    assert chunks[2]["contentBlockDelta"]["delta"]["text"] == "read Story"
    assert chunks[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert chunks[-1]["metadata"]["usage"]["outputTokens"] == count_tokens("read Story")


def test_offline_model_stops_on_a_failed_tool():
    def script(request):
        yield ToolCall("prototype_upload", {})
        return "unreachable"

    model, tool_use_id = _first_tool_call(script, "mock")
    with pytest.raises(OfflineScriptError, match="prototype_upload failed: denied by policy"):
        _drain(model, [_tool_result(tool_use_id, "error", "denied by policy")], [])


def _artifacts(agent: str, calls: list[ToolCallRecord]):
    registry = get_registry()
    return artifacts_from_calls(calls, registry.get(agent), make_request(agent), registry.tools)


def test_artifacts_follow_the_plugins_declared_outputs():
    upload = {"url": "http://x/i/index.html", "key_prefix": "i/", "s3_key": "i/index.html", "bucket": "b",
              "files": ["i/index.html"], "expires_at": "2026-12-01T00:00:00Z", "expiry_days": 7}
    [artifact] = _artifacts("insight", [
        ToolCallRecord("feedback_statistics", {"data_source_id": "ds-9"}, {"count": 4}),
        ToolCallRecord("notion_create_page", {"title": "Synthesis", "parent_page_id": "page-1"},
                       {"page_id": "p2", "url": "http://n/p2"}),
        ToolCallRecord("prototype_upload", {"invocation_id": "i", "files": {"index.html": "x"}}, upload),  # ignored
    ])
    assert artifact.type == ArtifactType.INSIGHT_REPORT
    assert (artifact.metadata.page_id, artifact.metadata.feedback_count) == ("p2", 4)
    assert artifact.metadata.source_data_source_ids == ["ds-9"]

    deck = _artifacts("demo_deck", [
        ToolCallRecord("notion_create_page", {"title": "Deck", "parent_page_id": "page-1"},
                       {"page_id": "d1", "url": "http://n/d1"}),
        ToolCallRecord("notion_create_database", {"title": "Feedback", "parent_page_id": "d1",
                                                  "properties": {"Name": {"title": {}}}},
                       {"database_id": "db1", "data_source_id": "ds1", "url": "http://n/db1"})])
    assert [(a.type, a.title) for a in deck] == [(ArtifactType.NOTION_PAGE, "Deck"),
                                                 (ArtifactType.NOTION_DATABASE, "Feedback")]
    assert deck[0].metadata.page_type == "demo_deck" and deck[1].metadata.data_source_id == "ds1"

    pr = _artifacts("code", [
        ToolCallRecord("github_commit_files", {"branch": "b", "message": "m", "files": {"a": "", "b": ""}},
                       {"branch": "b", "sha": "1", "files_changed": 2}),
        ToolCallRecord("github_create_pull_request", {"branch": "b", "title": "T"},
                       {"number": 7, "url": "http://g/pr/7", "branch": "b", "repo": "acme/app"})])
    assert pr[0].metadata.model_dump() == {"kind": "pull_request", "repo": "acme/app", "branch": "b",
                                           "pr_number": 7, "files_changed": 2}


def test_a_result_the_tools_model_refuses_makes_no_artifact_and_the_rest_still_count(caplog):
    [page] = _artifacts("spec", [
        ToolCallRecord("notion_create_page", {"title": "Broken", "parent_page_id": "p"}, {"url": "http://n/x"}),
        ToolCallRecord("notion_create_page", {"title": "Spec", "parent_page_id": "p"},
                       {"page_id": "s1", "url": "http://n/s1"}),
    ])
    assert page.title == "Spec"
    assert "notion_create_page: its artifact hook failed" in caplog.text and "page_id" in caplog.text


def test_argument_digest_is_canonical():
    assert argument_digest({"b": 1, "a": [1, 2]}) == argument_digest({"a": [1, 2], "b": 1})
    assert argument_digest({"a": 1}) != argument_digest({"a": 2})


def test_dynamodb_audit_sink_keeps_order_ttl_and_both_sources(aws):
    sink = DynamoDbAuditSink(aws.audit_table)
    for tool in ("notion_read_page", "prototype_upload", "prototype_url"):
        sink.record(AuditRecord(source="agent", invocation_id="inv1", agent_type="mock", tool=tool,
                                args_sha256=argument_digest({}), outcome="ok", duration_ms=3))
    sink.record(AuditRecord(source="tool", invocation_id="inv1", agent_type="mock", tool="prototype_url",
                            args_sha256=argument_digest({}), outcome="ok", duration_ms=1))
    sink.record(AuditRecord(source="agent", invocation_id="inv2", agent_type="mock", tool="x", args_sha256="0" * 64,
                            outcome="error", duration_ms=1, detail="boom"))
    assert [r.tool for r in sink.records_for("inv1", source="agent")] == ["notion_read_page", "prototype_upload",
                                                                          "prototype_url"]
    assert [(r.source, r.duration_ms) for r in sink.records_for("inv1", source="tool")] == [("tool", 1)]
    (stored,) = sink.records_for("inv2")
    item = aws.ddb.get_item(TableName=aws.audit_table, Key={"invocation_id": {"S": "inv2"}, "seq": {"S": stored.seq}})
    assert item["Item"]["detail"] == {"S": "boom"} and int(item["Item"]["expires_at"]["N"]) > 0
    assert stored == AuditRecord.from_item({**stored.to_item()})


def test_an_offline_script_that_raises_names_its_exception_and_place():
    def script(request):
        yield ToolCall("notion_read_page", {"page_id": request.notion_page_id})
        raise LookupError("no feedback database")

    model, tool_use_id = _first_tool_call(script, "insight")
    with pytest.raises(OfflineScriptError) as raised:
        _drain(model, [_tool_result(tool_use_id, "success", "{}")], [])
    line = script.__code__.co_firstlineno + 2
    assert str(raised.value) == (f"the offline script of agent 'insight' raised LookupError at {__file__}:{line}: "
                                 "no feedback database")


def test_a_failed_tool_shows_the_tools_error_not_its_json():
    def script(request):
        yield ToolCall("notion_create_page", {})
        return "unreachable"

    model, tool_use_id = _first_tool_call(script, "spec")
    payload = {"error": "notion_create_page failed: KeyError at /x/plugin.py:12: 'id'", "denied": False}
    with pytest.raises(OfflineScriptError) as raised:
        _drain(model, [_tool_result(tool_use_id, "error", json.dumps(payload))], [])
    assert str(raised.value) == payload["error"]


def test_the_app_module_does_not_import_strands_or_the_mcp_client():
    """Cold start pays only for the HTTP contract: strands and the MCP client load at the first invocation."""
    import subprocess
    import sys

    code = ("import sys, runtime.agent.app as m; assert m.app is not None; "
            "print(sorted(n for n in ('strands', 'mcp', 'strands.tools.mcp') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_budget_hook_timeout_and_limits_with_a_fake_clock():
    from runtime.agent.hooks import BudgetHook, RunControl
    from runtime.errors import ErrorCode
    from runtime.models import TokenUsage

    now = [100.0]
    tokens = BudgetHook(RunControl(), model_id="aidlc-offline", token_limit=1000, cost_limit_usd=None,
                        timeout_seconds=60, clock=lambda: now[0])
    # The projected input tokens count: 1000 in all is within the limit; one more is not.
    assert tokens.check(TokenUsage(input_tokens=400, output_tokens=0), 600) is None
    assert tokens.check(TokenUsage(input_tokens=400, output_tokens=1), 600).code == ErrorCode.BUDGET_EXCEEDED

    cost = BudgetHook(RunControl(), model_id="aidlc-offline", token_limit=None, cost_limit_usd=Decimal("0.002"))
    # $3/M in, $15/M out: 100 in + 100 out = $0.0018; 200 in + 100 out = $0.0021.
    assert cost.check(TokenUsage(input_tokens=100, output_tokens=100), 0) is None
    over = cost.check(TokenUsage(input_tokens=100, output_tokens=100), 100)
    assert over.code == ErrorCode.BUDGET_EXCEEDED and "$0.002100" in over.detail

    now[0] += 61
    late = tokens.check(TokenUsage(), 0)
    assert (late.status, late.code) == ("failed", ErrorCode.AGENT_TIMEOUT)


def test_the_app_runs_as_agentcore_starts_it_a_file_path_entry_point():
    """AgentCore runs `python runtime/agent/app.py` from the bundle root: it must find its package and answer /ping."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(AIDLC_AGENT="mock", AIDLC_MODEL="offline", AIDLC_AGENT_PORT=str(port), AIDLC_AGENT_HOST="127.0.0.1")
    process = subprocess.Popen([sys.executable, "runtime/agent/app.py"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    assert b'"Healthy"' in response.read()
                    break
            except OSError:
                assert time.monotonic() < deadline, "no /ping answer"
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(10)

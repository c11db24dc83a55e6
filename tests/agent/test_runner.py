"""One run from request to completion event, with a scripted model: hooks, budget, failures, the SQS sink."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.tools.audit import DynamoDbAuditSink, MemoryAuditSink
from runtime.agent.completion import MemoryCompletionSink, SqsCompletionSink
from runtime.agent.runner import RunOptions, run_agent
from runtime.cost import cost_usd
from runtime.errors import ErrorCode
from runtime.models import ArtifactType, Budget, CompletionEvent, TokenUsage

from tests.agent.conftest import ScriptedModel, last_tool_result, make_request, python_tool, receive_all


def upload_tool(calls):
    def upload(args):
        calls.append(args)
        n = len(calls)
        return {"url": f"http://127.0.0.1/prototypes/{args['invocation_id']}/{n}/index.html",
                "key_prefix": f"{args['invocation_id']}/", "bucket": "test-bucket",
                "s3_key": f"{args['invocation_id']}/{n}/index.html",
                "files": list(args["files"]), "expires_at": "2026-12-01T00:00:00+00:00", "expiry_days": 7,
                "variant": None}
    return python_tool("prototype_upload", upload)


def test_completed_run_sends_one_event_with_artifacts_usage_and_cost(aws, settings):
    request = make_request("mock")
    uploads: list[dict] = []
    model = ScriptedModel([
        ("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {"index.html": "<h1>x</h1>"}}),
        ("text", "Prototype is live."),
    ], usage=(1000, 200))
    audit = DynamoDbAuditSink(aws.audit_table)
    event = run_agent(request, settings=settings, sink=SqsCompletionSink(aws.queue_url),
                      options=RunOptions(model=model, tools=[upload_tool(uploads)], audit=audit))

    sent = receive_all(aws.sqs, aws.queue_url)
    assert len(sent) == 1
    assert CompletionEvent.model_validate(sent[0]) == event
    assert event.status == "completed" and event.error_code is None
    assert event.summary == "Prototype is live."
    assert event.token_usage == TokenUsage(input_tokens=2000, output_tokens=400)
    assert event.cost_usd == cost_usd(TokenUsage(input_tokens=2000, output_tokens=400), "aidlc-offline")
    assert [a.type for a in event.artifacts] == [ArtifactType.PROTOTYPE]
    artifact = event.artifacts[0]
    assert artifact.url == f"http://127.0.0.1/prototypes/{request.invocation_id}/1/index.html"
    assert artifact.metadata.s3_key == f"{request.invocation_id}/1/index.html" and artifact.expires_at is not None
    records = audit.records_for(request.invocation_id)
    assert [(r.tool, r.outcome, r.agent_type) for r in records] == [("prototype_upload", "ok", "mock")]
    assert len(records[0].args_sha256) == 64


def registry_backed_tools(request, *, policy=None, server_audit=None):
    """Every registry tool in process, as the tool side serves them (policy and audit in the registry), with no
    prototype store: a call the policy lets through fails as unconfigured, one it refuses never gets that far."""
    from runtime.agent.tools import registry_tools
    from runtime.policy import ToolPolicy
    from runtime.tools.base import ToolContext, ToolServices
    from runtime.tools.registry import ToolRegistry

    services = ToolServices(policy=policy or ToolPolicy.load(), audit=server_audit)
    return registry_tools(ToolRegistry.default(),
                          ToolContext(agent_type=request.agent_type, invocation_id=request.invocation_id,
                                      services=services))


def test_a_policy_denial_is_a_readable_error_recorded_denied_on_both_sides(aws, settings):
    request = make_request("mock")  # mock does not declare github_create_branch
    model = ScriptedModel([("tool", "github_create_branch", {"branch": "x"}), ("text", "gave up")])
    audit = DynamoDbAuditSink(aws.audit_table)
    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                      options=RunOptions(model=model, tools=registry_backed_tools(request, server_audit=audit),
                                         audit=audit))

    result = last_tool_result(model)
    assert result["status"] == "error"
    assert "may not call 'github_create_branch'" in result["content"][0]["text"]
    records = audit.records_for(request.invocation_id)
    assert sorted((r.source, r.tool, r.outcome) for r in records) == [
        ("agent", "github_create_branch", "denied"), ("tool", "github_create_branch", "denied")]
    assert len({r.args_sha256 for r in records}) == 1  # one call, seen from both sides
    assert [r.tool for r in audit.records_for(request.invocation_id, source="agent")] == ["github_create_branch"]
    assert all("github_create_branch" in r.detail for r in records)
    assert event.status == "completed" and event.artifacts == []


def test_a_projects_policy_object_decides_on_the_tool_side(settings):
    class DenyUploads:
        def authorize(self, agent_type, tool, args, **_):
            return type("D", (), {"allowed": tool != "prototype_upload", "reason": "uploads are frozen",
                                  "policy_ids": ("frozen",)})()

    request = make_request("mock")
    model = ScriptedModel([("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {"a": "b"}}),
                           ("text", "ok")])
    audit, server_audit = MemoryAuditSink(), MemoryAuditSink()
    run_agent(request, settings=settings, sink=MemoryCompletionSink(),
              options=RunOptions(model=model, audit=audit,
                                 tools=registry_backed_tools(request, policy=DenyUploads(), server_audit=server_audit)))
    assert "uploads are frozen" in last_tool_result(model)["content"][0]["text"]
    assert [r.outcome for r in audit.records] == [r.outcome for r in server_audit.records] == ["denied"]


def test_budget_stop_fails_the_run_cleanly_with_budget_exceeded(settings):
    request = make_request("mock", budget=Budget(cost_limit_usd=Decimal("0.01")))
    uploads: list[dict] = []
    # Each model call costs 1000*3/1e6 + 500*15/1e6 = $0.0105 on the offline price: the second call would pass $0.01.
    model = ScriptedModel([
        ("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {"index.html": "a"}}),
        ("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {"index.html": "b"}}),
        ("text", "never reached"),
    ], usage=(1000, 500))
    sink = MemoryCompletionSink()
    event = run_agent(request, settings=settings, sink=sink,
                      options=RunOptions(model=model, tools=[upload_tool(uploads)], audit=MemoryAuditSink()))

    assert sink.events == [event]
    assert event.status == "failed" and event.error_code == ErrorCode.BUDGET_EXCEEDED
    assert "limit of $0.01" in event.error_detail
    assert len(model.seen) == 1 and len(uploads) == 1  # stopped before the second model call
    assert event.token_usage == TokenUsage(input_tokens=1000, output_tokens=500)
    assert len(event.artifacts) == 1  # what it made before the stop is still reported


def test_token_limit_from_the_request_budget(settings):
    request = make_request("mock", budget=Budget(token_limit=250))
    model = ScriptedModel([("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {}}),
                           ("text", "x")], usage=(200, 40))
    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                      options=RunOptions(model=model, tools=[upload_tool([])], audit=MemoryAuditSink()))
    assert event.error_code == ErrorCode.BUDGET_EXCEEDED and "250" in event.error_detail


def test_agent_that_raises_sends_one_failed_event_with_agent_error(aws, settings):
    request = make_request("mock")
    model = ScriptedModel([("raise", RuntimeError("model exploded"))])
    event = run_agent(request, settings=settings, sink=SqsCompletionSink(aws.queue_url),
                      options=RunOptions(model=model, tools=[], audit=MemoryAuditSink()))
    sent = receive_all(aws.sqs, aws.queue_url)
    assert len(sent) == 1
    assert sent[0]["status"] == "failed" and sent[0]["error_code"] == "AGENT_ERROR"
    assert "model exploded" in sent[0]["error_detail"]
    assert event.status == "failed"


def test_unknown_agent_still_reports_once(settings):
    request = make_request("mock").model_copy(update={"agent_type": "nosuchagent"})
    sink = MemoryCompletionSink()
    event = run_agent(request, settings=settings, sink=sink, options=RunOptions(tools=[], audit=MemoryAuditSink()))
    assert sink.events == [event] and event.error_code == ErrorCode.AGENT_ERROR
    assert "nosuchagent" in event.error_detail


def test_stop_request_ends_the_run_cancelled(settings):
    request = make_request("mock")
    options = RunOptions(audit=MemoryAuditSink(), tools=[upload_tool([])])
    model = ScriptedModel([
        ("tool", "prototype_upload", {"invocation_id": request.invocation_id, "files": {}}),
        ("text", "never"),
    ])
    original = model.stream

    async def stream_then_stop(*args, **kwargs):
        async for chunk in original(*args, **kwargs):
            yield chunk
        options.control.stop_requested.set()

    model.stream = stream_then_stop
    options.model = model
    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(), options=options)
    assert event.status == "cancelled" and event.error_code == ErrorCode.CANCELLED


def test_sqs_sink_retries_transient_errors(monkeypatch):
    import boto3
    from botocore.stub import Stubber
    from tenacity import wait_none

    monkeypatch.setattr(SqsCompletionSink.send.retry, "wait", wait_none())
    client = boto3.client("sqs", region_name="us-east-1")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    event = CompletionEvent(invocation_id=make_request().invocation_id, agent_type="mock", status="completed")
    with Stubber(client) as stub:
        stub.add_client_error("send_message", service_error_code="ServiceUnavailable", http_status_code=503)
        stub.add_response("send_message", {"MessageId": "m1", "MD5OfMessageBody": "x"})
        SqsCompletionSink(url, client=client).send(event)
        stub.assert_no_pending_responses()

    with Stubber(client) as stub:  # a non-transient error is not retried
        stub.add_client_error("send_message", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(Exception, match="AccessDenied"):
            SqsCompletionSink(url, client=client).send(event)


def test_cedar_policy_denies_a_declared_tool_called_out_of_bounds(settings):
    """The policy is the Cedar one from runtime.policy, not just the declared-tools list: mock may upload
    prototypes, but only under its own invocation's prefix."""
    request = make_request("mock")
    someone_else = make_request("mock").invocation_id
    model = ScriptedModel([("tool", "prototype_upload", {"invocation_id": someone_else, "files": {"index.html": "x"}}),
                           ("text", "ok")])
    audit = MemoryAuditSink()
    run_agent(request, settings=settings, sink=MemoryCompletionSink(),
              options=RunOptions(model=model, tools=registry_backed_tools(request), audit=audit))
    text = last_tool_result(model)["content"][0]["text"]
    assert "own invocation prefix" in text and "own-prototype-prefix" in text
    assert [(r.tool, r.outcome) for r in audit.records] == [("prototype_upload", "denied")]


def test_an_offline_script_that_raises_is_reported_with_its_type_and_place(settings):
    from runtime.plugins import ToolCall

    def script(request):
        yield ToolCall("prototype_url", {"invocation_id": request.invocation_id})
        raise LookupError("no prototype for this story")

    from runtime.registry import get_registry

    spec = get_registry().get("mock").model_copy(update={"offline": script})
    request = make_request("mock")
    event = run_agent(request, settings=settings, sink=MemoryCompletionSink(), spec=spec,
                      options=RunOptions(tools=[python_tool("prototype_url", lambda args: {"url": "http://p/"})],
                                         audit=MemoryAuditSink()))
    line = script.__code__.co_firstlineno + 2
    assert event.status == "failed" and event.error_code == ErrorCode.AGENT_ERROR
    assert event.error_detail == ("OfflineScriptError: the offline script of agent 'mock' raised LookupError at "
                                  f"{__file__}:{line}: no prototype for this story")

"""The Bedrock path at its boundary: strands' BedrockModel, built by the runner, against a stubbed bedrock-runtime
client (botocore Stubber on Converse). The stub checks what would be sent to Bedrock; the run does the rest."""

from __future__ import annotations

from botocore.stub import Stubber

from runtime.tools.audit import MemoryAuditSink
from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.runner import RunOptions, build_model, resolve_model_id, run_agent
from runtime.agent.settings import AgentSettings
from runtime.cost import DEFAULT_MODEL_ID, cost_usd
from runtime.models import ArtifactType, TokenUsage
from runtime.registry import get_registry

from tests.agent.conftest import make_request, python_tool


def converse_response(content, stop_reason, usage):
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)},
        "metrics": {"latencyMs": 12},
    }


def test_model_id_precedence():
    spec = get_registry().get("mock")
    settings = AgentSettings(model_provider="bedrock", model_id="deploy-default")
    request = make_request("mock")
    assert resolve_model_id(spec, request, settings) == "deploy-default"
    assert resolve_model_id(spec, request.model_copy(update={"model_id": "project-model"}), settings) == "project-model"
    pinned = spec.model_copy(update={"limits": spec.limits.model_copy(update={"model_id": "plugin-model"})})
    assert resolve_model_id(pinned, request.model_copy(update={"model_id": "project-model"}), settings) == "plugin-model"
    assert resolve_model_id(spec, request, AgentSettings(model_provider="bedrock")) == DEFAULT_MODEL_ID
    assert resolve_model_id(spec, request, AgentSettings(model_provider="offline")) == "aidlc-offline"


def test_bedrock_run_through_a_stubbed_converse():
    spec = get_registry().get("mock")
    request = make_request("mock")
    settings = AgentSettings(model_provider="bedrock", region="us-east-1")
    model = build_model(spec, request, settings)
    model.update_config(streaming=False)  # Converse, not ConverseStream: Stubber can shape a plain response
    upload_args = {"invocation_id": request.invocation_id, "files": {"index.html": "<h1>hi</h1>"}}
    uploads = []

    def upload(args):
        uploads.append(args)
        return {"url": "http://127.0.0.1/p/index.html", "s3_key": f"{request.invocation_id}/index.html",
                "key_prefix": f"{request.invocation_id}/", "bucket": "b", "files": ["index.html"], "expiry_days": 7,
                "expires_at": "2026-12-01T00:00:00Z"}

    with Stubber(model.client) as stub:
        sent: list[dict] = []
        model.client.meta.events.register("provide-client-params.bedrock-runtime.Converse",
                                          lambda params, **_: sent.append(params))
        stub.add_response(
            "converse",
            converse_response([{"toolUse": {"toolUseId": "tu1", "name": "prototype_upload", "input": upload_args}}],
                              "tool_use", (1200, 300)),
        )
        stub.add_response("converse", converse_response([{"text": "Prototype is live."}], "end_turn", (1600, 40)))
        event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                          options=RunOptions(model=model, tools=[python_tool("prototype_upload", upload)],
                                             audit=MemoryAuditSink()))
        stub.assert_no_pending_responses()

    assert uploads == [upload_args]
    assert [params["modelId"] for params in sent] == [DEFAULT_MODEL_ID, DEFAULT_MODEL_ID]
    assert "prototype_upload" in [t["toolSpec"]["name"] for t in sent[0]["toolConfig"]["tools"]]
    assert sent[0]["system"][0]["text"] == spec.system_prompt
    assert request.story.title in sent[0]["messages"][0]["content"][0]["text"]
    assert sent[1]["messages"][-1]["content"][0]["toolResult"]["status"] == "success"
    assert event.status == "completed" and event.summary == "Prototype is live."
    assert event.model_id == DEFAULT_MODEL_ID
    assert event.token_usage == TokenUsage(input_tokens=2800, output_tokens=340)
    assert event.cost_usd == cost_usd(TokenUsage(input_tokens=2800, output_tokens=340), DEFAULT_MODEL_ID)
    assert [a.type for a in event.artifacts] == [ArtifactType.PROTOTYPE]

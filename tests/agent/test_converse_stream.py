"""The production model path at the wire: strands' BedrockModel, built by the runner from `AIDLC_MODEL=bedrock`,
calls `ConverseStream` on a loopback endpoint (botocore's own `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`) that answers with
AWS event-stream frames, and the agent's tools come over the real MCP gateway. botocore signs the request, encodes
it from the service model, and decodes the binary frames; nothing between the runner and the socket is faked."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from runtime.tools.audit import MemoryAuditSink
from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.cost import DEFAULT_MODEL_ID
from runtime.registry import get_registry

from tests.agent.wire import (  # noqa: F401  (tool_gateway is a fixture)
    Turn,
    comparable,
    encode_event_frame,
    record_offline,
    s3_text,
    serve_wire,
    story_request,
    tool_gateway,
)


def test_event_stream_frames_decode_with_botocore():
    frames = [("messageStart", {"role": "assistant"}),
              ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo " * 50}}),
              ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}})]
    data = b"".join(encode_event_frame(kind, payload) for kind, payload in frames)
    buffer = EventStreamBuffer()
    decoded = []
    for i in range(0, len(data), 37):  # frames split across reads, as a socket delivers them
        buffer.add_data(data[i:i + 37])
        decoded += [(m.headers, json.loads(m.payload)) for m in buffer]
    assert decoded == [({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                        payload) for kind, payload in frames]

    corrupt = bytearray(encode_event_frame("messageStart", {"role": "assistant"}))
    corrupt[-6] ^= 0xFF  # one payload byte: the message CRC no longer matches
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(corrupt))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def run_over_converse_stream(request, turns: list[Turn], gateway_url: str, monkeypatch):
    """`request` run as in AWS against a loopback ConverseStream answering `turns`: no model and no tools passed in,
    so the runner builds BedrockModel (from AIDLC_MODEL=bedrock) and the MCP client. Returns the completion event
    and the wire (what the model endpoint saw)."""
    wire, server = serve_wire(turns)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.base_url)
    settings = AgentSettings.from_env({"AIDLC_MODEL": "bedrock", "AIDLC_GATEWAY_URL": gateway_url,
                                       "AWS_REGION": "us-east-1"})
    try:
        event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                          options=RunOptions(audit=MemoryAuditSink()))
    finally:
        server.stop()
    return event, wire


def test_converse_stream_run_matches_the_offline_run(tool_gateway, monkeypatch):
    spec = get_registry().get("mock")
    request = story_request(tool_gateway, "mock")
    offline, turns = record_offline(request, tool_gateway.url)
    assert [t.tool for t in turns] == ["notion_read_page", "prototype_upload", None]  # two tool turns, a final one

    event, wire = run_over_converse_stream(request, turns, tool_gateway.url, monkeypatch)
    assert event.status == "completed", event.error_detail
    # What went over the wire: three signed ConverseStream calls for the default model, with the plugin's tools.
    assert [seen.path for seen in wire.seen] == [f"/model/{DEFAULT_MODEL_ID}/converse-stream"] * 3
    assert all(seen.headers["authorization"].startswith("AWS4-HMAC-SHA256 ") and "/bedrock/aws4_request" in
               seen.headers["authorization"] for seen in wire.seen)
    first = wire.seen[0].body
    assert first["system"] == [{"text": spec.system_prompt}]
    assert sorted(t["toolSpec"]["name"] for t in first["toolConfig"]["tools"]) == sorted(spec.tools)
    assert request.story.title in first["messages"][0]["content"][0]["text"]
    results = [[b["toolResult"] for b in seen.body["messages"][-1]["content"] if "toolResult" in b]
               for seen in wire.seen[1:]]
    assert [(r[0]["toolUseId"], r[0]["status"]) for r in results] == [
        (turns[0].tool_use_id, "success"), (turns[1].tool_use_id, "success")]
    assert request.story.title in json.dumps(results[0])  # the page the real notion_read_page tool read

    # The same run as offline: the same artifact, usage and cost (the offline model is priced as the default).
    assert event.model_id == DEFAULT_MODEL_ID
    assert event.token_usage == offline.token_usage
    assert event.token_usage.input_tokens == sum(t.input_tokens for t in turns)
    assert event.cost_usd == offline.cost_usd > 0
    assert comparable(event.artifacts) == comparable(offline.artifacts)
    assert event.summary == offline.summary
    assert request.story.title in s3_text(event.artifacts[0].metadata.s3_key)


def test_an_exception_frame_fails_the_run_with_the_service_message(tool_gateway, monkeypatch):
    request = story_request(tool_gateway, "mock")
    failing = [Turn(error="validationException", text="The model returned a malformed request")]
    event, wire = run_over_converse_stream(request, failing, tool_gateway.url, monkeypatch)
    assert len(wire.seen) == 1
    assert event.status == "failed" and event.error_code == "AGENT_ERROR"
    assert "malformed request" in event.error_detail and "(validationException)" in event.error_detail
    assert event.artifacts == []

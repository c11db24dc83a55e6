"""Wire-level stand-ins for the model providers, on loopback: each speaks its provider's real HTTP API and plays a
script of turns (a tool call, or a final text), so the real strands Model and the provider's own SDK run unchanged.

- Bedrock Runtime `ConverseStream`: `POST /model/{modelId}/converse-stream`, answered with AWS event-stream frames
  (binary; `encode_event_frame` below, checked against botocore's decoder in the tests);
- OpenAI chat completions: `POST /v1/chat/completions`, server-sent events of `chat.completion.chunk`s with streamed
  tool calls, a usage chunk, then `[DONE]`;
- Anthropic messages: `POST /v1/messages`, server-sent events `message_start` ... `message_stop` with `tool_use`.

A script can be recorded from the offline model (`record_offline`), so a provider run can be compared with the
offline run of the same plugin: same tool calls, same token counts, hence the same artifacts, usage and cost.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from strands.models.model import Model

from tests.conftest import seeded_notion

# --- the script -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One model answer: a tool call (`tool` = name, `args`) or a final `text`, with its token counts."""

    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    tool_use_id: str = "tooluse_1"
    input_tokens: int = 100
    output_tokens: int = 20
    error: str | None = None  # Bedrock: a modelled exception sent mid-stream instead (e.g. validationException)


class RecordingModel(Model):
    """Wraps a strands Model and writes down each answer it streams as a `Turn`."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.turns: list[Turn] = []

    def update_config(self, **kw: Any) -> None:
        self.inner.update_config(**kw)

    def get_config(self) -> Any:
        return self.inner.get_config()

    async def structured_output(self, *args: Any, **kwargs: Any):  # pragma: no cover
        raise NotImplementedError
        yield

    async def stream(self, *args: Any, **kwargs: Any):
        tool: dict[str, Any] = {}
        text, arguments, usage = "", "", {}
        async for event in self.inner.stream(*args, **kwargs):
            start = event.get("contentBlockStart", {}).get("start", {})
            if "toolUse" in start:
                tool = start["toolUse"]
            delta = event.get("contentBlockDelta", {}).get("delta", {})
            text += delta.get("text", "")
            arguments += delta.get("toolUse", {}).get("input", "")
            usage = event.get("metadata", {}).get("usage", usage)
            yield event
        self.turns.append(Turn(tool=tool.get("name"), args=json.loads(arguments) if tool else {}, text=text,
                               tool_use_id=tool.get("toolUseId", "tooluse_1"),
                               input_tokens=usage["inputTokens"], output_tokens=usage["outputTokens"]))


def record_offline(request: Any, gateway_url: str, prices: dict | None = None):
    """Run `request`'s plugin with the offline model over the MCP gateway: its completion event and its turns."""
    from runtime.tools.audit import MemoryAuditSink
    from runtime.agent.completion import MemoryCompletionSink
    from runtime.agent.offline_model import OfflineModel
    from runtime.agent.runner import RunOptions, run_agent
    from runtime.agent.settings import AgentSettings
    from runtime.registry import get_registry

    spec = get_registry().get(request.agent_type)
    model = RecordingModel(OfflineModel(spec.offline, request))
    event = run_agent(request, settings=AgentSettings(model_provider="offline", gateway_url=gateway_url),
                      sink=MemoryCompletionSink(), options=RunOptions(model=model, audit=MemoryAuditSink()))
    assert event.status == "completed", event.error_detail
    return event, model.turns


# --- AWS event-stream frames ------------------------------------------------------------------------------------

_STRING_HEADER = 7  # header value type "string" in the event-stream format


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return (struct.pack("!B", len(name_bytes)) + name_bytes + struct.pack("!BH", _STRING_HEADER, len(value_bytes))
            + value_bytes)


def encode_event_frame(event_type: str, payload: dict[str, Any], *, message_type: str = "event") -> bytes:
    """One AWS event-stream message (an event, or with message_type="exception" a modelled error): prelude (total length, headers length, prelude CRC32), headers, payload,
    message CRC32; big-endian. Hand-written because botocore ships only the decoder (`botocore.eventstream`)."""
    type_header = ":exception-type" if message_type == "exception" else ":event-type"
    headers = (_header(type_header, event_type) + _header(":content-type", "application/json")
               + _header(":message-type", message_type))
    body = json.dumps(payload).encode()
    total = 4 + 4 + 4 + len(headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack("!I", zlib.crc32(message))


def converse_stream_events(turn: Turn) -> Iterator[tuple[str, dict[str, Any]]]:
    """A turn as Bedrock's ConverseStream events (event type, payload), in the order Bedrock sends them."""
    yield "messageStart", {"role": "assistant"}
    if turn.tool:
        yield "contentBlockStart", {"contentBlockIndex": 0,
                                    "start": {"toolUse": {"toolUseId": turn.tool_use_id, "name": turn.tool}}}
        arguments = json.dumps(turn.args)
        for i in range(0, len(arguments), 200):  # Bedrock streams tool input in pieces
            yield "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": arguments[i:i + 200]}}}
        yield "contentBlockStop", {"contentBlockIndex": 0}
        yield "messageStop", {"stopReason": "tool_use"}
    else:
        yield "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": turn.text}}
        yield "contentBlockStop", {"contentBlockIndex": 0}
        yield "messageStop", {"stopReason": "end_turn"}
    yield "metadata", {"usage": {"inputTokens": turn.input_tokens, "outputTokens": turn.output_tokens,
                                 "totalTokens": turn.input_tokens + turn.output_tokens},
                       "metrics": {"latencyMs": 7}}


# --- server-sent events (OpenAI, Anthropic) ---------------------------------------------------------------------


def openai_chunks(turn: Turn, model: str) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {"id": "chatcmpl-wire", "object": "chat.completion.chunk", "created": 1764547200, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n"

    if turn.tool:
        yield chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": turn.tool_use_id, "type": "function", "function": {"name": turn.tool, "arguments": ""}}]})
        arguments = json.dumps(turn.args)
        for i in range(0, len(arguments), 200):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + 200]}}]})
        yield chunk({}, "tool_calls")
    else:
        yield chunk({"role": "assistant", "content": turn.text})
        yield chunk({}, "stop")
    usage = {"prompt_tokens": turn.input_tokens, "completion_tokens": turn.output_tokens,
             "total_tokens": turn.input_tokens + turn.output_tokens}
    yield "data: " + json.dumps({"id": "chatcmpl-wire", "object": "chat.completion.chunk", "created": 1764547200,
                                 "model": model, "choices": [], "usage": usage}) + "\n\n"
    yield "data: [DONE]\n\n"


def anthropic_events(turn: Turn, model: str) -> Iterator[str]:
    def sse(kind: str, body: dict[str, Any]) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n"

    yield sse("message_start", {"message": {
        "id": "msg_wire", "type": "message", "role": "assistant", "content": [], "model": model, "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": turn.input_tokens, "output_tokens": 1}}})
    if turn.tool:
        yield sse("content_block_start", {"index": 0, "content_block": {
            "type": "tool_use", "id": turn.tool_use_id, "name": turn.tool, "input": {}}})
        arguments = json.dumps(turn.args)
        for i in range(0, len(arguments), 200):
            yield sse("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta",
                                                                    "partial_json": arguments[i:i + 200]}})
        stop = "tool_use"
    else:
        yield sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        yield sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": turn.text}})
        stop = "end_turn"
    yield sse("content_block_stop", {"index": 0})
    yield sse("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": turn.output_tokens}})
    yield sse("message_stop", {})


# --- the loopback server ----------------------------------------------------------------------------------------


@dataclass
class Seen:
    """One request the stand-in received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ModelWire:
    """A Starlette app answering all three providers' streaming APIs from one script of turns."""

    def __init__(self, turns: list[Turn] | Callable[[Seen], Turn]) -> None:
        # A fixed list played in order, or a function that answers each request from what it says.
        self.script = turns if callable(turns) else None
        self.turns = [] if callable(turns) else list(turns)
        self.seen: list[Seen] = []
        self.app = Starlette()
        self.app.add_route("/model/{model_id:path}/converse-stream", self._bedrock, methods=["POST"])
        self.app.add_route("/v1/chat/completions", self._openai, methods=["POST"])
        self.app.add_route("/v1/messages", self._anthropic, methods=["POST"])

    async def _next(self, request: Request) -> Turn | None:
        self.seen.append(Seen(request.url.path, dict(request.headers), json.loads(await request.body())))
        if self.script is not None:
            return self.script(self.seen[-1])
        return self.turns.pop(0) if self.turns else None

    @staticmethod
    async def _stream(parts: Iterator[Any]) -> AsyncIterator[Any]:
        for part in parts:
            yield part

    async def _bedrock(self, request: Request):
        turn = await self._next(request)
        if turn is None:
            return JSONResponse({"message": "script exhausted"}, status_code=400,
                                headers={"x-amzn-ErrorType": "ValidationException"})
        if turn.error:  # the stream starts, then the service reports an error in an exception frame
            frames: Iterator[bytes] = iter([encode_event_frame("messageStart", {"role": "assistant"}),
                                            encode_event_frame(turn.error, {"message": turn.text},
                                                               message_type="exception")])
        else:
            frames = (encode_event_frame(kind, payload) for kind, payload in converse_stream_events(turn))
        return StreamingResponse(self._stream(frames), media_type="application/vnd.amazon.eventstream")

    async def _openai(self, request: Request):
        turn = await self._next(request)
        if turn is None:
            return JSONResponse({"error": {"message": "script exhausted", "type": "invalid_request_error"}}, 400)
        return StreamingResponse(self._stream(openai_chunks(turn, self.seen[-1].body.get("model", ""))),
                                 media_type="text/event-stream")

    async def _anthropic(self, request: Request):
        turn = await self._next(request)
        if turn is None:
            return JSONResponse({"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": "script exhausted"}}, 400)
        return StreamingResponse(self._stream(anthropic_events(turn, self.seen[-1].body.get("model", ""))),
                                 media_type="text/event-stream")


def serve_wire(turns: list[Turn] | Callable[[Seen], Turn]):
    """Start a `ModelWire` on loopback; returns (wire, server handle)."""
    from runtime.local.server import serve

    wire = ModelWire(turns)
    return wire, serve(wire.app)


# --- the tools the runs call: the real MCP gateway over the Notion emulator and moto S3 -------------------------

BUCKET = "aidlc-test-prototypes"


@pytest.fixture
def tool_gateway(aws, tmp_path):
    """The local MCP server over the real tools, backed by the Notion emulator, moto's S3 and a local bare git remote:
    `url` and `tokens` (the gateway), `notion`, `seed`, `git`, `tools` and `services` (what the tools run on), `aws`."""
    from runtime.github.local import LocalGitBackend
    from runtime.policy import ToolPolicy
    from runtime.prototypes import PrototypeStore
    from runtime.tools.base import ToolServices
    from runtime.tools.mcp_server import serve_mcp
    from runtime.tools.registry import ToolRegistry

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    with seeded_notion(tmp_path / "notion") as workspace:
        git = LocalGitBackend(tmp_path / "remote.git")
        tools = ToolRegistry.default()
        services = ToolServices(notion=workspace.notion, github=git, policy=ToolPolicy.load(),
                                prototypes=PrototypeStore(BUCKET, "http://127.0.0.1:9/prototypes"))
        mcp = serve_mcp(tools, services)
        try:
            yield type("ToolGateway", (), dict(url=mcp.url, tokens=mcp.tokens, notion=workspace.notion,
                                               seed=workspace.seed, git=git, tools=tools, services=services, aws=aws))
        finally:
            mcp.stop()


def story_request(gateway: Any, agent_type: str = "mock", *, page_id: str | None = None, parent: Any = None,
                  extra_properties: dict | None = None):
    """A request for a seeded story (the emulator's first by default), as the orchestrator would send it; `parent`:
    a chained run's ParentContext; `extra_properties`: more story properties (e.g. the review's "Pull Request")."""
    from runtime.models import AgentProjectSettings, AgentRequest, new_ulid

    page_id = page_id or gateway.seed.story_page_ids[0]
    snapshot = gateway.notion.page_snapshot(page_id)
    if extra_properties:
        snapshot = snapshot.model_copy(update={"properties": {**snapshot.properties, **extra_properties}})
    invocation_id = new_ulid()
    return AgentRequest(
        invocation_id=invocation_id, session_id="session-" + new_ulid(), agent_type=agent_type, project_id="proj-1",
        notion_page_id=page_id, story=snapshot, parent=parent,
        project=AgentProjectSettings(project_id="proj-1", github_repo="local/app",
                                     stories_data_source_id=gateway.seed.stories_data_source_id),
        tool_token=gateway.tokens.issue(agent_type, invocation_id),  # as the orchestrator signs it
    )


def s3_text(key: str) -> str:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def comparable(artifacts: list[Any]) -> list[dict[str, Any]]:
    """Artifacts as dicts, without `expires_at` (upload time + expiry: it differs between two runs by their gap)."""
    return [artifact.model_dump(exclude={"expires_at"}) for artifact in artifacts]

"""Agent runtime test set-up: moto for SQS and DynamoDB, a scripted strands Model, sample requests."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import moto  # noqa: F401  (imported before any boto3 session, as moto advises)
import pytest
from strands.models.model import Model

from runtime import resources
from runtime.agent.settings import AgentSettings
from runtime.models import AgentProjectSettings, AgentRequest, Budget, PageSnapshot, new_ulid

from tests.conftest import declared_aws


def make_request(agent_type: str = "mock", *, title: str = "Export invoices as CSV", criteria=None,
                 body: str = "Finance wants invoices in their spreadsheet.", budget: Budget | None = None,
                 page_id: str = "page-1", **extra: Any) -> AgentRequest:
    criteria = criteria if criteria is not None else [
        "The user can pick a date range",
        "The export includes the invoice total",
        "A download starts within two seconds",
    ]
    return AgentRequest(
        invocation_id=new_ulid(),
        session_id="session-" + new_ulid(),
        agent_type=agent_type,
        project_id="proj-1",
        notion_page_id=page_id,
        story=PageSnapshot(page_id=page_id, title=title, content_markdown=body,
                           properties={"Acceptance Criteria": "\n".join(f"- {c}" for c in criteria)}),
        project=AgentProjectSettings(project_id="proj-1", github_repo="acme/app"),
        budget=budget or Budget(),
        **extra,
    )


Step = tuple  # ("tool", name, args) | ("text", text) | ("raise", exc) | ("call", fn)


class ScriptedModel(Model):
    """A test double of a strands Model: plays a fixed list of steps, records what it was sent."""

    def __init__(self, steps: list[Step], *, usage: tuple[int, int] = (100, 20), model_id: str = "aidlc-offline"):
        self.steps = list(steps)
        self.usage = usage
        self.config = {"model_id": model_id}
        self.seen: list[list[dict]] = []
        self.tool_names_seen: list[list[str]] = []

    def update_config(self, **kw):
        self.config.update(kw)

    def get_config(self):
        return self.config

    async def structured_output(self, *args, **kwargs):
        raise NotImplementedError
        yield

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):
        self.seen.append(json.loads(json.dumps(messages, default=str)))
        self.tool_names_seen.append([spec["name"] for spec in tool_specs or []])
        step = self.steps.pop(0)
        while step[0] == "call":  # a side effect (e.g. wait for a test's signal), then the next step
            await asyncio.to_thread(step[1])
            step = self.steps.pop(0)
        if step[0] == "raise":
            raise step[1]
        yield {"messageStart": {"role": "assistant"}}
        if step[0] == "tool":
            yield {"contentBlockStart": {"start": {"toolUse": {"toolUseId": f"t{len(self.seen)}", "name": step[1]}}}}
            yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(step[2])}}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
        else:
            yield {"contentBlockStart": {"start": {}}}
            yield {"contentBlockDelta": {"delta": {"text": step[1]}}}
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
        i, o = self.usage
        yield {"metadata": {"usage": {"inputTokens": i, "outputTokens": o, "totalTokens": i + o},
                            "metrics": {"latencyMs": 1}}}


def last_tool_result(model: ScriptedModel) -> dict:
    for block in model.seen[-1][-1]["content"]:
        if "toolResult" in block:
            return block["toolResult"]
    raise AssertionError("the last message holds no tool result")


@pytest.fixture
def aws():
    """moto in-process, with the completion queue and audit table of runtime.resources (tests/conftest.py)."""
    import boto3

    with declared_aws("aidlc-test", tables=[resources.AUDIT], queues=[resources.COMPLETIONS], secrets=[],
                      bucket=False) as local:
        yield type("Aws", (), {"queue_url": local.queue_urls["completions"], "audit_table": local.tables["audit"],
                               "sqs": boto3.client("sqs"), "ddb": boto3.client("dynamodb")})


def receive_all(sqs, queue_url: str, *, heartbeats: bool = False) -> list[dict]:
    """The completion queue's messages, deleted; a running app's heartbeats are dropped unless asked for."""
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            body = json.loads(message["Body"])
            if heartbeats or body.get("kind") != "heartbeat":
                messages.append(body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def settings(aws) -> AgentSettings:
    return AgentSettings(model_provider="offline", completion_queue_url=aws.queue_url, audit_table=aws.audit_table,
                         region="us-east-1")


def python_tool(name: str, func: Callable[[dict], dict]):
    """A plain in-process strands tool returning JSON text, as the MCP server does."""
    from strands.tools.tools import PythonAgentTool

    def call(tool_use, **_):
        try:
            content = func(dict(tool_use.get("input") or {}))
        except Exception as exc:
            return {"toolUseId": tool_use["toolUseId"], "status": "error", "content": [{"text": str(exc)}]}
        return {"toolUseId": tool_use["toolUseId"], "status": "success", "content": [{"text": json.dumps(content)}]}

    spec = {"name": name, "description": name, "inputSchema": {"json": {"type": "object"}}}
    return PythonAgentTool(name, spec, call)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    done = threading.Event()
    deadline = __import__("time").monotonic() + timeout
    while __import__("time").monotonic() < deadline:
        value = predicate()
        if value:
            return value
        done.wait(0.02)
    raise AssertionError("condition not met in time")

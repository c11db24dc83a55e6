"""`aidlc dev --model openai:MODEL`: the whole local stack with its agents on an OpenAI-compatible endpoint (a
loopback stand-in, as Ollama or vLLM would be at OPENAI_BASE_URL). A story moved to "Generate Prototype" must come
back with a hosted prototype the model wrote, priced at the model, through the same pipeline as the offline run."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal

import httpx
import pytest

from tests.agent.wire import Seen, Turn, serve_wire

MODEL = "gpt-4o-mini"
TERMINAL = {"completed", "failed", "cancelled"}
PAGE = "<!doctype html><title>{title}</title><h1>{title}</h1><p>Written by the model at the wire.</p>"


def text_of(message: dict) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or [])


def tool_named(seen: Seen, name: str) -> str:
    """The name the agent offers the tool under (the gateway may prefix it with its target)."""
    names = [t["function"]["name"] for t in seen.body.get("tools", [])]
    return next(n for n in names if n == name or n.endswith("___" + name))


def prototype_author(seen: Seen) -> Turn:
    """A model that builds a prototype: read the story, upload a page, answer with its URL. Any other agent (the
    chained demo deck) just answers."""
    messages = seen.body["messages"]
    system = text_of(next(m for m in messages if m["role"] == "system"))
    if "mock agent" not in system.lower():
        return Turn(text="Nothing for me to do here.", input_tokens=50, output_tokens=10)
    prompt = text_of(next(m for m in messages if m["role"] == "user"))
    page_id, invocation_id = re.search(r"page id (\S+), invocation (\S+)\)", prompt).groups()
    title = re.search(r"^# (.+)$", prompt, re.M).group(1)
    results = [m for m in messages if m["role"] == "tool"]
    if not results:
        return Turn(tool=tool_named(seen, "notion_read_page"), args={"page_id": page_id}, tool_use_id="call_read",
                    input_tokens=1500, output_tokens=40)
    if len(results) == 1:
        return Turn(tool=tool_named(seen, "prototype_upload"), tool_use_id="call_upload",
                    args={"invocation_id": invocation_id, "files": {"index.html": PAGE.format(title=title)}},
                    input_tokens=2500, output_tokens=400)
    url = json.loads(text_of(results[-1]))["url"]
    return Turn(text=f"The prototype is live at {url}.", input_tokens=3000, output_tokens=30)


@pytest.fixture
def openai_stack(tmp_path, monkeypatch):
    from runtime.local.stack import LocalStack, StackOptions

    wire, server = serve_wire(prototype_author)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-stack-test")
    local = LocalStack(StackOptions(port=0, state_dir=tmp_path / "state", model=f"openai:{MODEL}",
                                    sweep_interval_seconds=30))
    local.start()
    try:
        yield local, wire
    finally:
        local.stop()
        server.stop()


def finished_runs(stack, page_id: str, timeout: float = 120) -> list[dict]:
    """The story's runs once a mock run and its chained deck have finished (whatever else the pipeline started)."""
    from tests.e2e.test_local_stack import invocations

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = invocations(stack, page_id)
        agents = {r["agent_type"] for r in runs if r["status"] in TERMINAL and r.get("delivery_status") != "pending"}
        if {"mock", "demo_deck"} <= agents and all(r["status"] in TERMINAL for r in runs):
            return runs
        time.sleep(0.5)
    raise AssertionError(f"timed out; runs: {invocations(stack, page_id)}")


def test_a_story_runs_on_an_openai_compatible_model_in_the_local_stack(openai_stack):
    from tests.e2e.test_local_stack import create_story, set_status

    stack, wire = openai_stack
    page_id = create_story(stack, "Dispatcher sees free ambulances", ["Free ambulances are listed first"])
    set_status(stack, page_id, "Generate Prototype")
    runs = finished_runs(stack, page_id)

    mocks = [r for r in runs if r["agent_type"] == "mock"]
    with httpx.Client(base_url=stack.info.api_base, timeout=30) as api:
        mock = api.get(f"/invocation/{mocks[0]['invocation_id']}").json()
    assert mock["status"] == "completed"
    assert mock["token_usage"] == {"input_tokens": 7000, "output_tokens": 470, "total_tokens": 7470}
    # 1500+2500+3000 in, 40+400+30 out, at gpt-4o-mini's list price (0.15 / 0.60 USD per million).
    assert Decimal(str(mock["cost_usd"])) == Decimal("0.001332")
    prototype = next(a for a in mock["output_artifacts"] if a["type"] == "prototype")
    page = httpx.get(prototype["url"], timeout=30)
    assert page.status_code == 200 and "Written by the model at the wire." in page.text
    assert "Dispatcher sees free ambulances" in page.text
    assert all(seen.path == "/v1/chat/completions" and seen.body["model"] == MODEL for seen in wire.seen)
    assert sum(1 for seen in wire.seen if "mock agent" in text_of(seen.body["messages"][0]).lower()) == 3 * len(mocks)

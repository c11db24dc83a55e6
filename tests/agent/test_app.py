"""The AgentCore HTTP contract: /ping, POST /invocations accepted at once, HealthyBusy while the run goes on,
one completion event on the (moto) completion queue after."""

from __future__ import annotations

import threading

import pytest
from starlette.testclient import TestClient

from runtime.agent.app import SESSION_HEADER, create_app
from runtime.tools.audit import MemoryAuditSink
from runtime.agent.completion import SqsCompletionSink
from runtime.agent.runner import RunOptions

from tests.agent.conftest import ScriptedModel, make_request, python_tool, receive_all, wait_for


@pytest.fixture
def gated(aws, settings):
    """An app whose runs wait for `gate` before their model answers."""
    gate = threading.Event()
    models: list[ScriptedModel] = []

    def options(request):
        model = ScriptedModel([
            ("call", lambda: gate.wait(30)),
            ("tool", "notion_read_page", {"page_id": request.notion_page_id}),
            ("text", f"done {request.story.title}"),
        ])
        models.append(model)
        read_page = python_tool("notion_read_page", lambda args: {"page_id": args["page_id"], "title": "t"})
        return RunOptions(model=model, tools=[read_page], audit=MemoryAuditSink())

    app = create_app("mock", settings=settings, sink=SqsCompletionSink(aws.queue_url), options_factory=options)
    with TestClient(app) as client:
        yield client, gate, models
    gate.set()


def test_ping_is_healthy_when_idle(gated):
    client, _, _ = gated
    response = client.get("/ping")
    assert response.status_code == 200 and response.json()["status"] == "Healthy"


def test_invocation_is_accepted_then_busy_then_one_completion_event(gated, aws):
    client, gate, models = gated
    request = make_request("mock")
    response = client.post("/invocations", content=request.model_dump_json(),
                           headers={"Content-Type": "application/json", SESSION_HEADER: request.session_id})
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "invocation_id": request.invocation_id,
                               "session_id": request.session_id, "agent_type": "mock"}
    assert client.get("/ping").json()["status"] == "HealthyBusy"
    # Still running: no completion event yet, but a heartbeat at once (the liveness sweeper's sign of life).
    beats = wait_for(lambda: receive_all(aws.sqs, aws.queue_url, heartbeats=True))
    assert [(b["kind"], b["invocation_id"], b["session_id"]) for b in beats] == [
        ("heartbeat", request.invocation_id, request.session_id)]

    # A redelivery of the same invocation does not start a second run.
    again = client.post("/invocations", content=request.model_dump_json(), headers={"Content-Type": "application/json"})
    assert again.json()["status"] == "already_running"

    gate.set()
    events = wait_for(lambda: receive_all(aws.sqs, aws.queue_url))
    wait_for(lambda: client.get("/ping").json()["status"] == "Healthy")
    assert len(events) == 1 and len(models) == 1
    late = client.post("/invocations", content=request.model_dump_json(), headers={"Content-Type": "application/json"})
    assert late.json()["status"] == "already_finished" and len(models) == 1
    assert events[0]["invocation_id"] == request.invocation_id
    assert events[0]["status"] == "completed"
    assert events[0]["summary"] == "done Export invoices as CSV"
    assert receive_all(aws.sqs, aws.queue_url) == []


def test_bad_payload_is_a_400_with_the_validation_message(gated):
    client, _, models = gated
    payload = make_request("mock").model_dump(mode="json")
    payload["session_id"] = "too-short"
    response = client.post("/invocations", json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST" and "session_id" in error["message"]
    assert models == []
    assert client.post("/invocations", content=b"{not json").status_code == 400


def test_a_request_for_another_agent_is_refused(gated):
    client, _, models = gated
    response = client.post("/invocations", json=make_request("code").model_dump(mode="json"))
    assert response.status_code == 400 and "serves agent 'mock'" in response.json()["error"]["message"]
    assert models == []


@pytest.mark.parametrize("by", ["invocation_id", "session_id", "session_header"])
def test_stop_action_cancels_a_running_invocation(gated, aws, by):
    client, gate, _ = gated
    request = make_request("mock")
    assert client.post("/invocations", json=request.model_dump(mode="json")).json()["status"] == "accepted"
    assert client.post("/invocations", json={"action": "stop", "invocation_id": "nope"}).status_code == 404
    body, headers = {"action": "stop"}, {}
    if by == "session_header":
        headers[SESSION_HEADER] = request.session_id
    else:
        body[by] = getattr(request, by)
    stop = client.post("/invocations", json=body, headers=headers)
    assert stop.json() == {"status": "stopping", "invocation_id": request.invocation_id}
    gate.set()
    events = wait_for(lambda: receive_all(aws.sqs, aws.queue_url))
    # The model was mid-call; the stop lands before the next model call.
    assert len(events) == 1
    assert events[0]["status"] == "cancelled" and events[0]["error_code"] == "CANCELLED"


def test_shutdown_stops_running_runs_and_waits_for_their_event(aws, settings):
    """SIGTERM (uvicorn's lifespan shutdown): a run in progress is asked to stop and still reports, once."""
    holder: dict = {}

    def wait_for_stop(args):
        # Blocks until the shutdown has asked the run to stop, so the order is certain.
        holder["app"].state.running[holder["invocation_id"]].stop_requested.wait(30)
        return {"page_id": args["page_id"]}

    def options(request):
        model = ScriptedModel([("tool", "notion_read_page", {"page_id": request.notion_page_id}),
                               ("text", "never reached")])
        return RunOptions(model=model, tools=[python_tool("notion_read_page", wait_for_stop)], audit=MemoryAuditSink())

    app = create_app("mock", settings=settings, sink=SqsCompletionSink(aws.queue_url), options_factory=options)
    holder["app"] = app
    request = make_request("mock")
    holder["invocation_id"] = request.invocation_id
    with TestClient(app) as client:
        assert client.post("/invocations", json=request.model_dump(mode="json")).json()["status"] == "accepted"
    # Leaving the client ran the shutdown, which waited for the run to report.
    events = receive_all(aws.sqs, aws.queue_url)
    assert len(events) == 1
    assert events[0]["status"] == "cancelled" and events[0]["invocation_id"] == request.invocation_id

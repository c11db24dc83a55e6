"""Hung and dead agents (issue 17 item 4): a runtime that never answers its start does not hold the batch behind
it, and a run whose agent stops sending heartbeats is failed by the sweeper long before its timeout."""

from __future__ import annotations

import json
import threading

import pytest

from runtime.models import InvocationStatus
from runtime.pipeline.adapters.invoker import HttpAgentInvoker
from tests.pipeline.conftest import build_pipeline, make_project
from tests.pipeline.test_orchestrator import task


class HangingAgent:
    """The AgentCore HTTP contract on loopback; the invocations named in `hang` are read and never answered."""

    def __init__(self) -> None:
        self.hang: set[str] = set()
        self.seen: list[str] = []  # invocation ids, in the order the requests arrived
        self.release = threading.Event()

    def app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def invocations(request):
            import anyio

            body = json.loads(await request.body())
            self.seen.append(body["invocation_id"])
            if body["invocation_id"] in self.hang:
                await anyio.to_thread.run_sync(self.release.wait)
            return JSONResponse({"status": "accepted"})

        return Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])


@pytest.fixture
def hanging(aws_names):
    from runtime.local.server import serve
    from runtime.pipeline.services import set_services

    agent = HangingAgent()
    with serve(agent.app()) as server:
        invoker = HttpAgentInvoker({"mock": server.base_url}, timeout=0.5)
        p = build_pipeline(aws_names, make_project(concurrency_limit=5), invoker=invoker)
        set_services(p.services)
        try:
            yield p, agent
        finally:
            agent.release.set()
            set_services(None)


def test_a_hung_runtime_does_not_hold_the_next_start_behind_it(hanging):
    p, agent = hanging
    stuck, other = task(p, "page-hung"), task(p, "page-ok")
    agent.hang.add(stuck.invocation_id)

    response = p.run_orchestrator()

    assert response["batchItemFailures"] == []
    # The hung start was tried once and then left alone: no in-line retry, no back-off sleep in the batch.
    assert agent.seen == [stuck.invocation_id, other.invocation_id]
    assert p.sleeps == []
    assert p.record(other.invocation_id).status == InvocationStatus.RUNNING
    # Maybe accepted, so neither failed nor retried: it stays running for the liveness sweeper to judge.
    hung = p.record(stuck.invocation_id)
    assert hung.status == InvocationStatus.RUNNING and hung.error_code is None


def beat(p, invocation_id: str, session_id: str | None, at=None) -> dict:
    """A heartbeat as the agent app sends it: a message on the completion queue, through its handler."""
    from runtime.handlers import completion
    from runtime.models import Heartbeat

    heartbeat = Heartbeat(kind="heartbeat", invocation_id=invocation_id, agent_type="mock", session_id=session_id,
                          **({"at": at} if at else {}))
    p.sqs.send_message(QueueUrl=p.queue_url("completions"), MessageBody=heartbeat.model_dump_json())
    return p._deliver(completion.handler, "completions", None)


def sweepers_at(p, clock):
    from runtime.pipeline.sweepers import Sweepers

    s = p.services
    return Sweepers(invocations=s.invocations, projects=s.projects, queue=lambda: s.queue, notion=s.notion,
                    writeback=s.writeback, invoker=s.invoker, clock=lambda: clock)


def test_an_agent_that_stops_beating_is_failed_long_before_its_timeout(pipeline):
    from datetime import datetime, timedelta, timezone

    from runtime.errors import ErrorCode

    p = pipeline
    message = task(p, "page-dies")
    p.drain()
    run = p.record(message.invocation_id)
    assert run.status == InvocationStatus.RUNNING
    now = datetime.now(timezone.utc)
    assert beat(p, run.invocation_id, run.session_id, at=now)["batchItemFailures"] == []
    # A beat from a session the orchestrator did not start is not believed (it would keep a dead run alive).
    beat(p, run.invocation_id, "another-session-" + "x" * 20, at=now + timedelta(minutes=10))

    assert sweepers_at(p, now + timedelta(seconds=90)).timeouts()["timed_out"] == []  # beat 90 s ago: alive
    # Then the agent dies: no beat for 3 minutes, while the mock's limit is an hour.
    later = now + timedelta(minutes=3)
    assert sweepers_at(p, later).timeouts()["timed_out"] == [run.invocation_id]
    failed = p.record(run.invocation_id)
    assert failed.status == InvocationStatus.FAILED and failed.error_code == ErrorCode.AGENT_ERROR
    assert "no heartbeat for 180 s" in failed.error_detail
    assert p.services.projects.budget("acme").reserved == 0 and p.services.projects.running("acme") == 0
    assert p.invoker.stopped == [("mock", run.session_id)]
    # A late beat of the dead run changes nothing.
    assert beat(p, run.invocation_id, run.session_id)["batchItemFailures"] == []
    assert p.record(run.invocation_id).status == InvocationStatus.FAILED


def test_a_run_that_never_beat_is_judged_from_its_start(pipeline):
    from datetime import timedelta

    p = pipeline
    message = task(p, "page-hung")
    p.drain()
    started = p.record(message.invocation_id).started_at
    assert sweepers_at(p, started + timedelta(seconds=60)).timeouts()["timed_out"] == []
    assert sweepers_at(p, started + timedelta(seconds=121)).timeouts()["timed_out"] == [message.invocation_id]


def test_a_body_that_is_neither_event_nor_heartbeat_is_reported_failed(pipeline):
    from runtime.handlers import completion

    p = pipeline
    p.sqs.send_message(QueueUrl=p.queue_url("completions"), MessageBody=json.dumps({"kind": "heartbeat"}))
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    # The whole batch failed (powertools raises then); the error is the completion event's, which says what's wrong.
    with pytest.raises(BatchProcessingError, match="status\n +Field required"):
        p._deliver(completion.handler, "completions", None)
    assert p.invocations() == []


def test_agentcore_start_is_bounded_and_a_read_timeout_is_unanswered_not_retried():
    from botocore.exceptions import ReadTimeoutError

    from runtime.models import AgentRequest
    from runtime.pipeline.adapters.invoker import AGENTCORE_ACCEPT_TIMEOUT_SECONDS, AgentCoreInvoker, _accept_config
    from runtime.pipeline.ports import InvokeUnanswered
    from tests.pipeline.test_invoker import ARN, request

    config = _accept_config()
    assert config.read_timeout == AGENTCORE_ACCEPT_TIMEOUT_SECONDS and config.retries["max_attempts"] == 1
    calls: list[AgentRequest] = []

    class HungRuntime:  # what botocore raises when InvokeAgentRuntime's answer never comes
        def invoke_agent_runtime(self, **params):
            calls.append(params)
            raise ReadTimeoutError(endpoint_url="https://bedrock-agentcore.us-east-1.amazonaws.com")

    with pytest.raises(InvokeUnanswered):
        AgentCoreInvoker({"mock": ARN}, client=HungRuntime()).invoke(request())
    assert len(calls) == 1

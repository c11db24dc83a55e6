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

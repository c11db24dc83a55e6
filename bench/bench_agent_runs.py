"""Offline run wall time per built-in agent, and the peak memory of a run.

Each agent runs with the offline model against the local stand-ins (Notion emulator on loopback, moto S3 in
process, a local bare git remote), tools called in-process through the ToolRegistry. The baseline, measured in
the same run, is a bare strands agent turn with the offline model and no tool call: the ratio says what an
agent's real work (tool calls, Notion, S3, git) costs on top of the agent loop.

Run: .venv/bin/python bench/bench_agent_runs.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ[name] = "bench"

import moto  # noqa: E402  (before any boto3 session)

ROUNDS = 3
ORDER = ("mock", "a_b_test", "spec", "demo_deck", "insight", "code", "review")


def main() -> None:
    import logging

    import boto3
    from moto import mock_aws

    logging.disable(logging.WARNING)
    from runtime.tools.audit import MemoryAuditSink
    from runtime.agent.completion import MemoryCompletionSink
    from runtime.agent.runner import RunOptions, run_agent
    from runtime.agent.settings import AgentSettings
    from runtime.agent.tools import registry_tools
    from runtime.github.local import LocalGitBackend
    from runtime.local.notion_emulator import NotionEmulator
    from runtime.local.server import serve
    from runtime.models import AgentProjectSettings, AgentRequest, ParentContext, new_ulid
    from runtime.notion.adapter import NotionAdapter
    from runtime.notion.throttle import Throttle
    from runtime.plugins import AgentSpec
    from runtime.policy import ToolPolicy
    from runtime.prototypes import PrototypeStore
    from runtime.registry import get_registry
    from runtime.tools.base import ToolContext, ToolServices
    from runtime.tools.registry import ToolRegistry

    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        boto3.client("s3").create_bucket(Bucket="bench-prototypes")
        emulator = NotionEmulator(Path(tmp) / "notion")
        server = serve(emulator.app)
        from runtime.notion.schema import workspace_schema

        seed = emulator.seed_workspace(workspace_schema())
        notion = NotionAdapter(emulator.integration_token, base_url=server.base_url,
                               throttle=Throttle(rate_per_second=10_000, burst=10_000))
        services = ToolServices(notion=notion, github=LocalGitBackend(Path(tmp) / "remote.git"),
                                prototypes=PrototypeStore("bench-prototypes", "http://127.0.0.1:9/p"),
                                policy=ToolPolicy.load())
        tools = ToolRegistry.default()
        registry = get_registry()
        settings = AgentSettings(model_provider="offline")
        story_id = seed.story_page_ids[0]
        context: dict[str, dict] = {}

        def request_for(agent: str) -> AgentRequest:
            snapshot = notion.page_snapshot(story_id)
            if agent == "review":
                snapshot.properties["Pull Request"] = context["pr_url"]
            parent = None
            if agent == "insight":
                parent = ParentContext(invocation_id=new_ulid(), agent_type="demo_deck",
                                       context={"feedback_data_source_id": context["feedback"]})
            return AgentRequest(invocation_id=new_ulid(), session_id="session-" + new_ulid(), agent_type=agent,
                                project_id="bench", notion_page_id=story_id, story=snapshot,
                                project=AgentProjectSettings(project_id="bench"), parent=parent)

        def run(spec: AgentSpec, request: AgentRequest):
            tool_context = ToolContext(agent_type=spec.name, invocation_id=request.invocation_id,
                                       allowed_tools=spec.tools, services=services)
            options = RunOptions(tools=registry_tools(tools, tool_context, spec.tools), audit=MemoryAuditSink())
            event = run_agent(request, settings=settings, sink=MemoryCompletionSink(), spec=spec, options=options)
            if event.status != "completed":
                raise SystemExit(f"{spec.name} failed: {event.error_code} {event.error_detail}")
            return event

        def bare_script(request):
            return "nothing to do"
            yield  # a generator with no tool call

        bare = registry.get("mock").model_copy(update={"name": "mock", "offline": bare_script})
        run(bare, request_for("mock"))  # warm-up: imports, first connections
        baseline = statistics.median(_timed(lambda: run(bare, request_for("mock"))) for _ in range(ROUNDS))

        rows = []
        for agent in ORDER:
            spec = registry.get(agent)
            times = []
            for _ in range(ROUNDS):
                request = request_for(agent)
                started = time.perf_counter()
                event = run(spec, request)
                times.append(time.perf_counter() - started)
            if agent == "demo_deck":
                context["feedback"] = event.artifacts[1].metadata.data_source_id
            if agent == "code":
                context["pr_url"] = event.artifacts[0].url
            rows.append((agent, statistics.median(times), event))

        tracemalloc.start()
        run(registry.get("mock"), request_for("mock"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        server.stop()

    import resource

    print(f"rounds: {ROUNDS} per agent (median wall time); offline model, in-process tools, local stand-ins")
    print(f"baseline  bare offline agent turn (no tool call)   {baseline * 1000:7.1f} ms")
    print(f"{'agent':<10} {'wall ms':>8} {'x baseline':>10} {'tokens':>8} {'cost USD':>9}  artifacts")
    for agent, seconds, event in rows:
        kinds = ", ".join(a.type.value for a in event.artifacts)
        print(f"{agent:<10} {seconds * 1000:8.1f} {seconds / baseline:10.1f} {event.token_usage.total_tokens:8d} "
              f"{event.cost_usd:9.4f}  {kinds}")
    print(f"peak Python memory allocated during one mock run (tracemalloc): {peak / 1e6:.1f} MB")
    print(f"process max RSS after all runs: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()

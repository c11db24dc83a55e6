"""The agent side of a run's live progress (issue 15 item 5): the budget hook moves it on each model turn and tool
call, the beat loop sends it on the heartbeats, and the pacer keeps those to at most one per `progress_seconds`
while still beating every `heartbeat_seconds` (injected clocks: no timing thresholds)."""

from __future__ import annotations

from decimal import Decimal

from runtime.agent.app import BeatPacer, create_app, progress_seconds_from_env
from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.hooks import RunControl
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.cost import ModelPrice
from runtime.tools.audit import MemoryAuditSink

from tests.agent.conftest import ScriptedModel, make_request, python_tool, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_beats_at_once_then_on_progress_at_most_every_progress_seconds_and_always_every_heartbeat():
    clock = Clock()
    pacer = BeatPacer(heartbeat_seconds=30, progress_seconds=5, clock=clock)
    sent: list[float] = []

    def look(changes: int) -> None:
        if pacer.due(changes):
            pacer.sent(changes)
            sent.append(clock.now - 1000)

    look(0)  # the first beat goes at once, whatever happened
    for second, changes in ((1, 1), (2, 2), (4, 3), (5, 4), (6, 4), (9, 5), (10, 6), (11, 6)):
        clock.now = 1000 + second
        look(changes)
    # progress moved at 1, 2 and 4 s: one beat at 5 s (5 s after the first), then not before 10 s
    assert sent == [0, 5, 10]
    # nothing moves any more: a beat every 30 s all the same (liveness), none in between
    for second in range(11, 71):
        clock.now = 1000 + second
        look(6)
    assert sent == [0, 5, 10, 40, 70]
    assert pacer.tick == 5


def test_progress_seconds_comes_from_the_environment(monkeypatch):
    import pytest

    from runtime.resources import Env

    monkeypatch.delenv(Env.PROGRESS_SECONDS, raising=False)
    assert progress_seconds_from_env() == 5.0
    monkeypatch.setenv(Env.PROGRESS_SECONDS, "12.5")
    assert progress_seconds_from_env() == 12.5
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv(Env.PROGRESS_SECONDS, bad)
        with pytest.raises(ValueError, match=Env.PROGRESS_SECONDS):
            progress_seconds_from_env()


def test_the_budget_hook_moves_the_progress_on_each_turn_and_tool_call():
    clock = Clock()
    control = RunControl(clock=clock)
    assert control.progress.snapshot().step == "starting" and control.progress.changes == 0

    def read_page(args):
        clock.now += 7  # each tool call takes 7 s of the injected clock
        return {"page_id": args["page_id"], "title": "t"}

    model = ScriptedModel([("tool", "notion_read_page", {"page_id": "p"}),
                           ("tool", "notion_read_page", {"page_id": "p"}), ("text", "done")], usage=(1000, 100))
    settings = AgentSettings(model_provider="offline",
                             prices={"aidlc-offline": ModelPrice(input_per_million=Decimal("3"),
                                                                 output_per_million=Decimal("15"))})
    event = run_agent(make_request("mock"), settings=settings, sink=MemoryCompletionSink(),
                      options=RunOptions(model=model, tools=[python_tool("notion_read_page", read_page)],
                                         audit=MemoryAuditSink(), control=control))
    assert event.status == "completed"
    progress = control.progress.snapshot()
    assert progress.tool_calls == 2
    assert progress.step == "model turn 3"  # the last thing it did: its third model call
    assert progress.elapsed_seconds == 14
    # cost so far at the third turn: two model calls of 1,000 in / 100 out at $3 / $15 per million
    assert progress.cost_usd == Decimal("2") * (Decimal("0.003") + Decimal("0.0015"))
    assert control.progress.changes == 5  # three turns, two tool calls


def test_each_heartbeat_carries_the_runs_progress(settings):
    import threading

    gate = threading.Event()
    sink = MemoryCompletionSink()

    def options(request):
        model = ScriptedModel([("call", lambda: gate.wait(30)), ("text", "done")])
        return RunOptions(model=model, tools=[], audit=MemoryAuditSink())

    from starlette.testclient import TestClient

    app = create_app("mock", settings=settings, sink=sink, options_factory=options)
    request = make_request("mock")
    with TestClient(app) as client:
        assert client.post("/invocations", content=request.model_dump_json(),
                           headers={"Content-Type": "application/json"}).status_code == 200
        beats = wait_for(lambda: list(sink.heartbeats))
        gate.set()
        wait_for(lambda: sink.events)
    first = beats[0]
    assert first.invocation_id == request.invocation_id and first.progress is not None
    assert first.progress.tool_calls == 0 and first.progress.cost_usd == 0

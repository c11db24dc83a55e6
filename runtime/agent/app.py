"""The AgentCore app: one program for every agent plugin.

AgentCore Runtime (and the local stack, on loopback) calls `POST /invocations` with the orchestrator's
`AgentRequest` and polls `GET /ping`. The entrypoint validates the payload (400 with the validation message),
starts the run as an `@app.async_task` (so `/ping` answers `HealthyBusy` while it runs) and answers at once:
a run can last hours and nobody waits for it. The run's result goes to the completion queue, not to the caller.

Which plugin this runtime serves: `create_app(agent_name=...)`, else env `AIDLC_AGENT`, else the request's
agent_type (the local stack may serve several agents from one app). `{"action": "stop", "invocation_id": ...}`
(or `"session_id"`, or just the session header) asks a running invocation to stop before its next model call;
it then ends `cancelled`, with its one completion event.

Start: `python -m runtime.agent.app` (port 8080, as AgentCore expects) or `uvicorn runtime.agent.app:app`.
Heavy imports (strands, the MCP client, boto3) happen at the first invocation, not at start.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a file (AgentCore's code entry point is this path): the bundle root must be importable, and this
    # folder must not be, or its modules (settings, tools, cli...) would shadow top-level names.
    _root = str(Path(__file__).resolve().parents[2])
    sys.path[:] = [_root] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bedrock_agentcore.runtime import BedrockAgentCoreApp
from pydantic import ValidationError
from starlette.responses import JSONResponse

from runtime.errors import ErrorCode, ErrorResponse
from runtime.models import AgentRequest
from runtime.resources import Header

log = logging.getLogger("aidlc.agent")

SESSION_HEADER = Header.AGENTCORE_SESSION
FINISHED_MEMORY = 1_000  # how many finished invocation ids a runtime remembers, to refuse redeliveries
# A running run tells the pipeline it is alive this often (the liveness sweeper fails a run silent for 120 s).
HEARTBEAT_SECONDS = 30.0
# Between those, a beat goes as soon as the run's progress moved, but at most this often: each beat is one write of
# the story's progress property, and Notion allows an integration 3 requests a second (Env.PROGRESS_SECONDS).
PROGRESS_SECONDS = 5.0


class BeatPacer:
    """When the next beat is due: the first at once (a hung start is told from a slow one); then whenever the run's
    progress moved (`changes`, runtime.agent.hooks.ProgressTracker) and `progress_seconds` passed since the last
    beat; and every `heartbeat_seconds` whatever happened. So a story's progress is written at most once per
    `progress_seconds`, and a run that is quietly busy still shows it is alive."""

    def __init__(self, *, heartbeat_seconds: float = HEARTBEAT_SECONDS, progress_seconds: float = PROGRESS_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self.progress_seconds = progress_seconds
        self.clock = clock
        self._last_sent: float | None = None
        self._last_changes = -1

    @property
    def tick(self) -> float:
        """How long the beat loop sleeps between looks."""
        return min(self.heartbeat_seconds, self.progress_seconds)

    def due(self, changes: int) -> bool:
        if self._last_sent is None:
            return True
        since = self.clock() - self._last_sent
        return since >= self.heartbeat_seconds or (changes != self._last_changes and since >= self.progress_seconds)

    def sent(self, changes: int) -> None:
        self._last_sent, self._last_changes = self.clock(), changes


def progress_seconds_from_env() -> float:
    import os

    from runtime.resources import Env

    text = os.environ.get(Env.PROGRESS_SECONDS, "").strip()
    try:
        seconds = float(text) if text else PROGRESS_SECONDS
    except ValueError:
        raise ValueError(f"{Env.PROGRESS_SECONDS}={text!r}: give a number of seconds") from None
    if seconds <= 0:
        raise ValueError(f"{Env.PROGRESS_SECONDS}={text!r}: give a positive number of seconds")
    return seconds


def _error(status: int, code: ErrorCode, message: str, invocation_id: str | None = None) -> JSONResponse:
    return JSONResponse(ErrorResponse.of(code, message, invocation_id).model_dump(mode="json"), status_code=status)


def create_app(
    agent_name: str | None = None,
    *,
    settings: Any = None,
    sink: Any = None,
    options_factory: Callable[[AgentRequest], Any] | None = None,
    shutdown_grace_seconds: float = 20.0,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    progress_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> BedrockAgentCoreApp:
    """Build the app. Everything not given is resolved from the environment at the first invocation.

    `options_factory(request) -> runtime.agent.runner.RunOptions` lets the local stack and tests supply the model,
    tools, audit sink or policy for each run. `progress_seconds`: the least time between two progress beats (None:
    env AIDLC_PROGRESS_SECONDS, else PROGRESS_SECONDS); `clock`: the pacer's."""
    state: dict[str, Any] = {"settings": settings, "sink": sink}
    lock = threading.Lock()
    running: dict[str, Any] = {}  # invocation id -> RunControl
    sessions: dict[str, str] = {}  # session id -> invocation id, for the runs in progress
    tasks: set[asyncio.Task] = set()  # a reference, so a running task is never garbage-collected
    finished: OrderedDict[str, None] = OrderedDict()  # recent invocation ids that already reported

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):
        yield
        # Shutting down (SIGTERM: the session is stopped or the runtime replaced). Ask every run to stop before its
        # next model call so it still sends its one completion event, and give it a bounded time to do so.
        for control in list(running.values()):
            control.stop_requested.set()
        deadline = time.monotonic() + shutdown_grace_seconds
        while running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if running:
            log.warning("shutting down with runs still in progress: %s", ", ".join(running))

    app = BedrockAgentCoreApp(lifespan=lifespan)

    def resolved() -> tuple[Any, Any]:
        with lock:
            if state["settings"] is None:
                from runtime.agent.settings import AgentSettings

                state["settings"] = AgentSettings.from_env()
                if agent_name:
                    state["settings"].agent_name = agent_name
            if state["sink"] is None:
                from runtime.agent.completion import SqsCompletionSink

                queue_url = state["settings"].completion_queue_url
                if not queue_url:
                    raise RuntimeError("COMPLETION_QUEUE_URL is not set: the run would have nowhere to report to")
                state["sink"] = SqsCompletionSink(queue_url)
            return state["settings"], state["sink"]

    async def beat_while_running(request: AgentRequest, sink: Any, control: Any) -> None:
        """Heartbeats on the completion sink while the run lasts, each carrying the run's progress, paced by
        `BeatPacer`. A sink without `beat` (a test's) sends none."""
        from runtime.models import Heartbeat
        from runtime.observe.trace import in_stage

        beat = getattr(sink, "beat", None)
        if beat is None:
            return
        pacer = BeatPacer(heartbeat_seconds=heartbeat_seconds, clock=clock,
                          progress_seconds=progress_seconds or progress_seconds_from_env())

        def send() -> None:
            with in_stage("heartbeat", request.invocation_id):  # counted apart (bench/bench_round_trips.py)
                beat(Heartbeat(kind="heartbeat", invocation_id=request.invocation_id, agent_type=request.agent_type,
                               session_id=request.session_id, progress=control.progress.snapshot()))

        while True:
            changes = control.progress.changes
            if pacer.due(changes):
                pacer.sent(changes)
                try:
                    await asyncio.to_thread(send)
                except Exception as exc:  # noqa: BLE001 - a lost beat is replaced by the next; the run goes on
                    log.warning("heartbeat not sent: %s", exc, extra={"invocation_id": request.invocation_id})
            await asyncio.sleep(pacer.tick)

    @app.async_task
    async def run_in_background(request: AgentRequest, options: Any) -> None:
        from runtime.agent.runner import run_agent

        settings, sink = resolved()
        beats = asyncio.create_task(beat_while_running(request, sink, options.control))
        try:
            await asyncio.to_thread(run_agent, request, settings=settings, sink=sink, options=options)
        finally:
            beats.cancel()
            finished[request.invocation_id] = None
            while len(finished) > FINISHED_MEMORY:
                finished.popitem(last=False)
            running.pop(request.invocation_id, None)
            sessions.pop(request.session_id, None)

    @app.entrypoint
    async def invoke(payload: Any, context: Any = None) -> Any:
        if isinstance(payload, dict) and payload.get("action") == "stop":
            # By invocation id, or by session id (the body's, else the session header), as StopRuntimeSession does.
            invocation_id = payload.get("invocation_id") or sessions.get(
                str(payload.get("session_id") or getattr(context, "session_id", None) or ""))
            control = running.get(str(invocation_id))
            if control is None:
                return _error(404, ErrorCode.NOT_FOUND, "no run with this invocation_id or session_id is in progress "
                              "here", invocation_id)
            control.stop_requested.set()
            return {"status": "stopping", "invocation_id": invocation_id}
        try:
            request = AgentRequest.model_validate(payload)
        except ValidationError as exc:
            return _error(400, ErrorCode.INVALID_REQUEST, f"invalid AgentRequest: {exc}")
        try:
            settings, _ = resolved()
        except Exception as exc:
            return _error(500, ErrorCode.AGENT_ERROR, f"agent runtime misconfigured: {exc}", request.invocation_id)
        served = agent_name or settings.agent_name
        if served and request.agent_type != served:
            return _error(400, ErrorCode.INVALID_REQUEST,
                          f"this runtime serves agent {served!r}, not {request.agent_type!r}", request.invocation_id)
        from runtime.registry import get_registry

        if request.agent_type not in get_registry():
            return _error(400, ErrorCode.INVALID_REQUEST, f"no agent plugin named {request.agent_type!r}",
                          request.invocation_id)
        # AgentCore may redeliver an invocation; a second run would send a second completion event.
        if request.invocation_id in running:
            return {"status": "already_running", "invocation_id": request.invocation_id,
                    "session_id": request.session_id}
        if request.invocation_id in finished:
            return {"status": "already_finished", "invocation_id": request.invocation_id,
                    "session_id": request.session_id}
        from runtime.agent.runner import RunOptions

        options = options_factory(request) if options_factory else RunOptions()
        running[request.invocation_id] = options.control
        sessions[request.session_id] = request.invocation_id
        session_id = getattr(context, "session_id", None) or request.session_id
        task = asyncio.create_task(run_in_background(request, options))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        # Let the task start (and register with the app) before answering, so the next /ping says HealthyBusy.
        await asyncio.sleep(0)
        return {"status": "accepted", "invocation_id": request.invocation_id, "session_id": session_id,
                "agent_type": request.agent_type}

    app.state.running = running  # for tests and the local dashboard
    return app


app = create_app()

if __name__ == "__main__":
    import os

    # AgentCore calls port 8080; the overrides are for running several by hand.
    app.run(port=int(os.environ.get("AIDLC_AGENT_PORT", "8080")), host=os.environ.get("AIDLC_AGENT_HOST") or None)

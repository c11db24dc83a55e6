"""The hooks every run carries (Strands hook providers).

- `AuditHook`: after each tool call, the agent's record in the one audit trail (runtime.tools.audit, source
  "agent"): digest of the arguments, outcome, duration. A call the tool side refused by policy is `denied` here too.
- `BudgetHook`: before each model call, stop cleanly if the tokens or cost would pass the invocation's limit, if
  the run is past its timeout or its cap of model turns (`Limits.max_turns`), or if it was asked to stop; before
  each tool call, refuse the call past the cap of tool calls (`Limits.max_tool_calls`) and stop the run there.
  Stopping keeps the work so far: the commits a run made are on its branch already, its artifacts are recorded.
- `ArtifactHook`: remembers successful tool results, from which artifacts are built.

There is no agent-side policy hook any more, and none is needed: every tool an agent run gets is served by the tool
registry (the local MCP server, the AgentCore Gateway's Lambda target, or `registry_tools` in process), and
`ToolRegistry.call` evaluates the Cedar policy on every call before the tool runs (with the declared-tools floor
when no policy is configured). A second evaluation inside the agent's own process added nothing an attacker in that
process could not skip, and it hid from the tool side's audit trail the calls it stopped. The model is still shown
only its plugin's declared tools (`mcp_tool_client`'s filter, `registry_tools`' names).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from strands.hooks import AfterToolCallEvent, BeforeModelCallEvent, BeforeToolCallEvent, HookProvider, HookRegistry

from runtime.agent.artifacts import ArtifactCollector, bare_tool_name
from runtime.agent.offline_model import parse_tool_result
from runtime.cost import ModelPrice, cost_usd
from runtime.errors import ErrorCode
from runtime.models import RunProgress, TokenUsage
from runtime.tools.audit import AuditRecord, AuditSink, Outcome

log = logging.getLogger("aidlc.agent")


@dataclass
class StopReason:
    status: str  # "failed" | "cancelled"
    code: ErrorCode
    detail: str


class ProgressTracker:
    """What the run is doing, for its heartbeats (runtime/agent/app.py): the budget hook moves it on each model
    turn and tool call; `changes` counts the moves, so the beat loop can tell that something new happened."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.step = "starting"
        self.tool_calls = 0
        self.cost_usd = Decimal("0")
        self.changes = 0

    def update(self, *, step: str | None = None, tool_calls: int | None = None,
               cost_usd: Decimal | None = None) -> None:
        with self._lock:
            self.step = step[:200] if step is not None else self.step
            self.tool_calls = tool_calls if tool_calls is not None else self.tool_calls
            self.cost_usd = cost_usd if cost_usd is not None else self.cost_usd
            self.changes += 1

    def snapshot(self) -> RunProgress:
        with self._lock:
            return RunProgress(step=self.step, tool_calls=self.tool_calls, cost_usd=self.cost_usd,
                               elapsed_seconds=max(0, int(self._clock() - self._started)))


class RunControl:
    """Shared by the hooks and the runner: why the run stopped early, if it did, the stop request flag, and the
    run's progress."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.stop_requested = threading.Event()
        self.stopped: StopReason | None = None
        self.progress = ProgressTracker(clock)

    def stop(self, reason: StopReason) -> None:
        if self.stopped is None:
            self.stopped = reason


class AuditHook(HookProvider):
    def __init__(self, sink: AuditSink, *, agent_type: str, invocation_id: str) -> None:
        self.sink = sink
        self.agent_type = agent_type
        self.invocation_id = invocation_id
        self._started: dict[str, float] = {}

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeToolCallEvent, self.before_tool_call)
        registry.add_callback(AfterToolCallEvent, self.after_tool_call)

    def before_tool_call(self, event: BeforeToolCallEvent) -> None:
        self._started[event.tool_use["toolUseId"]] = time.monotonic()

    def after_tool_call(self, event: AfterToolCallEvent) -> None:
        started = self._started.pop(event.tool_use["toolUseId"], None)
        duration = event.duration if event.duration is not None else (
            time.monotonic() - started if started is not None else 0.0
        )
        outcome: Outcome
        if event.cancel_message:
            outcome, detail = "denied", event.cancel_message
        elif event.selected_tool is None:  # the model asked for a tool this agent was never given
            outcome, detail = "unknown_tool", _result_text(event.result)
        elif event.exception is not None:
            outcome, detail = "error", f"{type(event.exception).__name__}: {event.exception}"
        elif event.result.get("status") == "error":
            payload = parse_tool_result(event.result)
            # the tool side marks its policy denials, so a denial is recorded as one on this side too
            outcome = "denied" if payload.get("denied") is True else "error"
            detail = str(payload.get("error") or _result_text(event.result))
        else:
            outcome, detail = "ok", ""
        record = AuditRecord.of_call(source="agent", tool=bare_tool_name(event.tool_use["name"]),
                                     args=event.tool_use.get("input") or {}, outcome=outcome, duration_s=duration,
                                     agent_type=self.agent_type, invocation_id=self.invocation_id, detail=detail)
        try:
            self.sink.record(record)
        except Exception:  # the audit trail must not kill the run; the record goes to the logs instead
            log.exception("audit record not written", extra={"audit": record.model_dump(mode="json")})


def _result_text(result: Mapping[str, Any]) -> str:
    return " ".join(str(item.get("text", "")) for item in result.get("content", []))


class ArtifactHook(HookProvider):
    def __init__(self, collector: ArtifactCollector) -> None:
        self.collector = collector

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(AfterToolCallEvent, self.after_tool_call)

    def after_tool_call(self, event: AfterToolCallEvent) -> None:
        if event.cancel_message or event.exception is not None or event.result.get("status") == "error":
            return
        result = parse_tool_result(event.result)
        if "text" in result and len(result) == 1:  # not JSON: no artifact to build from it
            return
        self.collector.add(event.tool_use["name"], dict(event.tool_use.get("input") or {}), result)


def usage_of(agent: Any) -> TokenUsage:
    usage = agent.event_loop_metrics.accumulated_usage
    return TokenUsage(input_tokens=int(usage.get("inputTokens", 0)), output_tokens=int(usage.get("outputTokens", 0)))


class BudgetHook(HookProvider):
    """Checked before each model call: the call would add at least its input tokens, so stop if those alone
    would pass the token or cost limit, or if it would be turn `max_turns + 1`. The run then ends as failed with
    BUDGET_EXCEEDED (or AGENT_TIMEOUT, or cancelled), with whatever artifacts it had already made. Before each tool
    call: the call past `max_tool_calls` is refused (the model is told why) and the run stops at its next turn."""

    def __init__(self, control: RunControl, *, model_id: str, token_limit: int | None, cost_limit_usd: Decimal | None,
                 prices: Mapping[str, ModelPrice] | None = None, timeout_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic, max_turns: int | None = None,
                 max_tool_calls: int | None = None) -> None:
        self.control = control
        self.model_id = model_id
        self.token_limit = token_limit
        self.cost_limit_usd = cost_limit_usd
        self.prices = prices
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.started = clock()
        self.max_turns = max_turns
        self.max_tool_calls = max_tool_calls
        self.turns = 0  # model calls made
        self.tool_calls = 0  # tool calls let through

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeModelCallEvent, self.before_model_call)
        registry.add_callback(BeforeToolCallEvent, self.before_tool_call)

    def before_model_call(self, event: BeforeModelCallEvent) -> None:
        used = usage_of(event.agent)
        reason = self.check(used, event.projected_input_tokens or 0)
        if reason is not None:
            self.control.stop(reason)
            event.cancel = reason.detail
            return
        self.turns += 1
        try:
            spent: Decimal | None = cost_usd(used, self.model_id, self.prices)
        except KeyError:  # an unpriced model: the run reports that at its end; progress shows no cost meanwhile
            spent = None
        self.control.progress.update(step=f"model turn {self.turns}", cost_usd=spent)

    def before_tool_call(self, event: BeforeToolCallEvent) -> None:
        if self.control.stopped is not None:  # stopping: the rest of this turn's calls do not run either
            event.cancel_tool = f"not run: {self.control.stopped.detail}"
            return
        if self.max_tool_calls is not None and self.tool_calls >= self.max_tool_calls:
            reason = StopReason("failed", ErrorCode.BUDGET_EXCEEDED,
                                f"the run reached its cap of {self.max_tool_calls} tool calls")
            self.control.stop(reason)
            event.cancel_tool = f"not run: {reason.detail}; the run stops here, keeping what it made"
            return
        self.tool_calls += 1
        self.control.progress.update(step=f"calling {bare_tool_name(event.tool_use['name'])}",
                                     tool_calls=self.tool_calls)

    def check(self, used: TokenUsage, projected_input_tokens: int) -> StopReason | None:
        if self.control.stop_requested.is_set():
            return StopReason("cancelled", ErrorCode.CANCELLED, "the run was stopped on request")
        if self.control.stopped is not None:  # a tool-call cap stopped it between turns
            return self.control.stopped
        if self.max_turns is not None and self.turns >= self.max_turns:
            return StopReason("failed", ErrorCode.BUDGET_EXCEEDED,
                              f"the run reached its cap of {self.max_turns} model turns")
        if self.timeout_seconds is not None and self.clock() - self.started > self.timeout_seconds:
            return StopReason("failed", ErrorCode.AGENT_TIMEOUT,
                              f"the run passed its timeout of {self.timeout_seconds:.0f} s")
        projected = TokenUsage(input_tokens=used.input_tokens + projected_input_tokens,
                               output_tokens=used.output_tokens)
        if self.token_limit is not None and projected.total_tokens > self.token_limit:
            return StopReason("failed", ErrorCode.BUDGET_EXCEEDED,
                              f"the next model call would bring the run to {projected.total_tokens} tokens, "
                              f"over its limit of {self.token_limit}")
        if self.cost_limit_usd is not None:
            cost = cost_usd(projected, self.model_id, self.prices)
            if cost > self.cost_limit_usd:
                return StopReason("failed", ErrorCode.BUDGET_EXCEEDED,
                                  f"the next model call would bring the run to ${cost} on {self.model_id}, "
                                  f"over its limit of ${self.cost_limit_usd}")
        return None

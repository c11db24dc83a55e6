"""Every call a run makes, counted per invocation and per stage: AWS requests, Notion requests, model calls.

Call counts are what set a story's cost and latency (Notion allows 3 requests a second), and unlike time they are
exact on a noisy machine. Two context variables say where a call belongs:

- the stage (`webhook`, `orchestrator`, `agent`, `completion`, `write-back`, `chain`), set with `in_stage(...)` by
  whoever runs that stage (the local stack around each function call, the completion service around its write-back
  and chain, the agent runner around a run, the tool gateway around a tool call);
- the invocation, set with `with bind_invocation(id):` by each service around the work it does for that id.

A call made outside any stage (the local pollers' receives, the stack's housekeeping, a test acting as a user) is
stage `None`: the event source mapping and the user are not aidlc's calls, and the benchmarks leave them out.

`CallTrace` gathers the calls from three sources: the AWS `CallRecorder` (botocore events, runtime/observe/calls.py),
the Notion adapter's request observers (the notion-client httpx transport's request hook), and `note_model_call`
(the agent runner's model-call hook). Nothing is observed until a trace is started.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_stage: ContextVar[str | None] = ContextVar("aidlc_stage", default=None)
_invocation: ContextVar[str | None] = ContextVar("aidlc_invocation", default=None)

# A Notion object id in a path, dashed or not (pages, blocks, data sources, comments, users).
_NOTION_ID = re.compile(r"/[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}(?=/|$)")


@contextmanager
def in_stage(stage: str, invocation_id: str | None = None) -> Iterator[None]:
    """Calls made inside belong to `stage` (and to `invocation_id`, when given; else the invocation bound so far).
    Both are restored on the way out, so a bind inside a stage does not leak into the next call of the thread."""
    stage_token = _stage.set(stage)
    invocation_token = _invocation.set(invocation_id or _invocation.get())
    try:
        yield
    finally:
        _invocation.reset(invocation_token)
        _stage.reset(stage_token)


@contextmanager
def bind_invocation(invocation_id: str | None) -> Iterator[None]:
    """Calls made inside work for `invocation_id` (None: for the invocation bound so far). Restored on the way out:
    a Lambda reuses its thread (and context) for the next invocation, which must not be counted for this one."""
    token = _invocation.set(invocation_id or _invocation.get())
    try:
        yield
    finally:
        _invocation.reset(token)


def current_stage() -> str | None:
    return _stage.get()


def current_invocation() -> str | None:
    return _invocation.get()


@dataclass(frozen=True)
class TracedCall:
    kind: str  # "aws", "notion" or "model"
    what: str  # "sqs.SendMessage", "PATCH /v1/pages/{id}", "model offline"
    stage: str | None
    invocation_id: str | None
    principal: str | None = None  # the AWS principal, for AWS calls

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def notion_endpoint(method: str, path: str) -> str:
    """`PATCH /v1/pages/{id}` for `PATCH /v1/pages/1f3a...`: the endpoint, with object ids taken out."""
    return f"{method.upper()} {_NOTION_ID.sub('/{id}', path)}"


_model_observers: list[Callable[[str], None]] = []


def note_model_call(model_id: str) -> None:
    """One model call is about to be made (called by the agent runner's hook)."""
    for observer in list(_model_observers):
        observer(model_id)


def model_call_hook(model_id: str) -> Any:
    """A Strands hook provider that notes each model call of a run (strands imported only when a run builds it)."""
    from strands.hooks import BeforeModelCallEvent, HookProvider

    class ModelCallHook(HookProvider):
        def register_hooks(self, registry: Any, **kwargs: Any) -> None:
            registry.add_callback(BeforeModelCallEvent, lambda event: note_model_call(model_id))

    return ModelCallHook()


@dataclass
class CallTrace:
    """Collects `TracedCall`s while started (`with CallTrace().recording(recorder):`). `on_call(call)` sees each one
    as it is made (the local stack's `--trace-calls` log); `path` gets one JSON line per call."""

    on_call: Callable[[TracedCall], None] | None = None
    path: Path | None = None
    calls: list[TracedCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, call: TracedCall) -> None:
        with self._lock:
            self.calls.append(call)
            if self.path is not None:
                with Path(self.path).open("a", encoding="utf-8") as out:
                    out.write(call.as_json() + "\n")
        if self.on_call is not None:
            self.on_call(call)

    def _here(self, kind: str, what: str, principal: str | None = None) -> None:
        self.add(TracedCall(kind, what, _stage.get(), _invocation.get(), principal))

    def _aws(self, call: Any) -> None:
        self._here("aws", f"{call.service}.{call.operation}", call.principal)

    def _notion(self, request: Any) -> None:
        self._here("notion", notion_endpoint(request.method, request.url.path))

    def _model(self, model_id: str) -> None:
        self._here("model", f"model {model_id}")

    def start(self, recorder: Any | None = None) -> Callable[[], None]:
        """Observe every source (and `recorder`'s AWS calls); returns the function that stops observing."""
        from runtime.notion.adapter import observe_requests

        stop_notion = observe_requests(self._notion)
        _model_observers.append(self._model)
        if recorder is not None:
            recorder.listeners.append(self._aws)

        def stop() -> None:
            stop_notion()
            if self._model in _model_observers:
                _model_observers.remove(self._model)
            if recorder is not None and self._aws in recorder.listeners:
                recorder.listeners.remove(self._aws)

        return stop

    @contextmanager
    def recording(self, recorder: Any | None = None) -> Iterator["CallTrace"]:
        stop = self.start(recorder)
        try:
            yield self
        finally:
            stop()

    # --- reading -------------------------------------------------------------------------------------------

    def snapshot(self) -> list[TracedCall]:
        with self._lock:
            return list(self.calls)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def per_stage(self, *, include_outside: bool = False) -> Counter:
        return Counter(c.stage for c in self.snapshot() if include_outside or c.stage is not None)

    def per_invocation(self) -> Counter:
        return Counter(c.invocation_id for c in self.snapshot() if c.stage is not None)

    def of_stage(self, stage: str) -> list[TracedCall]:
        return [c for c in self.snapshot() if c.stage == stage]

    def what(self, stage: str | None = None, kind: str | None = None) -> Counter:
        """How many of each call (`"notion PATCH /v1/pages/{id}"`), in one stage or all stages."""
        return Counter(f"{c.kind} {c.what}" for c in self.snapshot()
                       if c.stage is not None and (stage is None or c.stage == stage)
                       and (kind is None or c.kind == kind))


def format_call(call: TracedCall) -> str:
    """One line of the local stack's call log."""
    where = call.stage or "-"
    invocation = call.invocation_id or "-"
    return f"call      {where:<12} {invocation[:26]:<26} {call.kind:<6} {call.what}"


__all__ = [
    "CallTrace", "TracedCall", "bind_invocation", "current_invocation", "current_stage", "format_call", "in_stage",
    "model_call_hook", "note_model_call", "notion_endpoint",
]

"""A recorder of every AWS API call, attributed to the principal that made it.

Each Lambda function, agent runtime and the tool gateway creates its boto3 clients from its own session
(`runtime.aws.AwsClients`, tagged with its principal); `CallRecorder.attach(session, principal)` hooks that session's
botocore event system, so every call any of its clients makes is recorded, with no change to the calling code.
The IAM coverage check (components/checks.py) compares these records with the statements the Pulumi program grants
each principal.

One record (`AwsCall`, and one JSON line in the file when the recorder writes one) is:

    {
      "principal": "timeouts",          # a Function's logical_name ("webhook", "api", "tool_gateway", ...),
                                        # or "agent:<agent name>" for an agent runtime
      "service":   "dynamodb",          # the botocore service name, as in boto3.client("dynamodb")
      "operation": "Scan",              # the API operation name, as in the service model ("PutObject", ...)
      "params":    {"TableName": "..."},# the request parameters as the caller passed them (top level copied;
                                        # in the JSON file bytes and streams become {"bytes": n} / "<stream>")
      "region":    "us-east-1",         # the client's region
      "ok":        true,                # false: AWS answered an error, or the call did not get an answer;
                                        # null: the call never got as far as being sent (parameter validation)
      "error":     null                 # the error code ("AccessDeniedException", "ConditionalCheckFailedException")
                                        # or the exception class name for a connection failure
    }

It costs one dict copy of the top-level parameters per call, nothing more (no deep copies, no serialising on the
call path unless a file is written).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_CONTEXT_KEY = "aidlc_call"  # where the call in flight sits in botocore's per-request context dict


@dataclass
class AwsCall:
    principal: str
    service: str
    operation: str
    params: dict[str, Any]
    region: str | None
    ok: bool | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), default=_summarise, sort_keys=True)


def _summarise(value: Any) -> Any:
    """JSON for what botocore accepts but JSON cannot hold: bytes, file-like bodies, dates, sets."""
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value)}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if hasattr(value, "read"):
        return "<stream>"
    return str(value)


@dataclass
class CallRecorder:
    """Collects `AwsCall`s in memory (`calls`) and, when `path` is set, appends each finished call to that
    JSON-lines file. Thread-safe: the local stack's functions run in many threads."""

    path: Path | None = None
    calls: list[AwsCall] = field(default_factory=list)
    # Called with each call as it starts, in the calling thread (runtime/observe/trace.py reads its context there).
    listeners: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, session: Any, principal: str) -> Any:
        """Record every call made by clients created from `session` (a boto3 or botocore session) as `principal`.
        Attach before creating clients: a client copies its session's handlers when it is created."""
        emitter = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        uid = f"aidlc-recorder-{id(self)}"
        emitter.register("before-parameter-build", self._starting(principal), unique_id=f"{uid}-start")
        emitter.register("after-call", self._answered, unique_id=f"{uid}-answered")
        emitter.register("after-call-error", self._failed, unique_id=f"{uid}-failed")
        return session

    def _starting(self, principal: str):
        def handler(params: dict, model: Any, context: dict, **_: Any) -> None:
            call = AwsCall(
                principal=principal,
                service=model.service_model.service_name,
                operation=model.name,
                params=dict(params),
                region=context.get("client_region"),
            )
            context[_CONTEXT_KEY] = call
            with self._lock:
                self.calls.append(call)
            for listener in list(self.listeners):
                listener(call)

        return handler

    def _answered(self, http_response: Any, parsed: dict, context: dict, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY)
        if call is None:
            return
        error = (parsed or {}).get("Error") or {}
        status = getattr(http_response, "status_code", 200)
        call.ok = status < 300 and not error
        call.error = error.get("Code") or (None if call.ok else str(status))
        self._written(call)

    def _failed(self, exception: BaseException, context: dict, **_: Any) -> None:
        call = context.get(_CONTEXT_KEY)
        if call is None:
            return
        call.ok, call.error = False, type(exception).__name__
        self._written(call)

    def _written(self, call: AwsCall) -> None:
        if self.path is None:
            return
        line = call.as_json() + "\n"
        with self._lock:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)

    # --- reading -------------------------------------------------------------------------------------------

    def for_principal(self, principal: str) -> list[AwsCall]:
        with self._lock:
            return [c for c in self.calls if c.principal == principal]

    def principals(self) -> set[str]:
        with self._lock:
            return {c.principal for c in self.calls}

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


def read_calls(path: Path) -> list[dict[str, Any]]:
    """The records a recorder wrote to `path` (one JSON object per line), for the IAM coverage check."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["AwsCall", "CallRecorder", "read_calls"]

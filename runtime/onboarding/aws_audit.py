"""The audit hook on every AWS client the onboarding tools and workflows use (seed 003, property 21).

`AwsAuditHook(sink).attach(session, principal=..., account=...)` registers three botocore handlers on a boto3 session's
event system (the same interface as `runtime.observe.calls.CallRecorder.attach`, so both can hook one session):

- `before-parameter-build`: the call starts; its API parameters are digested here (`argument_digest`: sha256 of the
  canonical JSON) and never kept;
- `after-call`: AWS answered (success or an error response): one record, outcome "ok" or "error" (with the code);
- `after-call-error`: the request got no answer (connection failure, timeout): one record, outcome "error".

A call botocore refuses before sending (parameter validation) never reaches AWS and makes no record. botocore's own
retries of one call happen between `before-call` and `after-call`, so one API call is one record whatever its retry
count (the record's detail says how many retries it took).

Each record goes into the ONE audit trail (`runtime.tools.audit`), `source="aws"`, tool `"<service>:<Operation>"`
(the IAM action's spelling), with account, region and principal (the caller's ARN), and the invocation and agent of
the tool call it was made for when a tool bound one (`audit_scope`). The sink must not write through an audited
client (a DynamoDbAuditSink keeps its own client), and a failing sink never fails the AWS call.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from runtime.tools.audit import AuditRecord, AuditSink, argument_digest

logger = logging.getLogger(__name__)

_CONTEXT_KEY = "aidlc_aws_audit"  # the call in flight, in botocore's per-request context dict


@dataclass(frozen=True)
class AuditScope:
    invocation_id: str | None = None
    agent_type: str | None = None


_scope: contextvars.ContextVar[AuditScope] = contextvars.ContextVar("aidlc_aws_audit_scope", default=AuditScope())


@contextlib.contextmanager
def audit_scope(invocation_id: str | None, agent_type: str | None) -> Iterator[None]:
    """AWS calls made inside are recorded as made for this invocation and agent (a tool call binds its own)."""
    token = _scope.set(AuditScope(invocation_id, agent_type))
    try:
        yield
    finally:
        _scope.reset(token)


@dataclass
class _Call:
    service: str
    operation: str
    digest: str
    region: str
    started: float
    scope: AuditScope


class AwsAuditHook:
    """Writes one `AuditRecord(source="aws")` per AWS API call made by clients of the sessions it is attached to."""

    def __init__(self, sink: AuditSink | None) -> None:
        self.sink = sink
        self._writing = threading.local()  # a sink that calls AWS through an audited client must not recurse

    def attach(self, session: Any, principal: str | Callable[[], str] = "", *, account: str | Callable[[], str] = "") -> Any:
        """Audit every call of clients created from `session` afterwards (a client copies its session's handlers
        when it is created). `principal` / `account`: the caller's ARN and account id, or callables answering them
        when the record is written (the management identity is learnt from its first GetCallerIdentity)."""
        emitter = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        uid = f"aidlc-aws-audit-{id(self)}-{id(session)}"
        emitter.register("before-parameter-build", self._starting, unique_id=f"{uid}-start")
        emitter.register("after-call", self._answered(principal, account), unique_id=f"{uid}-answered")
        emitter.register("after-call-error", self._failed(principal, account), unique_id=f"{uid}-failed")
        return session

    # --- handlers ------------------------------------------------------------------------------------------

    def _starting(self, params: dict, model: Any, context: dict, **_: Any) -> None:
        context[_CONTEXT_KEY] = _Call(service=model.service_model.service_name, operation=model.name,
                                      digest=argument_digest(params), region=context.get("client_region") or "",
                                      started=time.perf_counter(), scope=_scope.get())

    def _answered(self, principal, account):
        def handler(http_response: Any, parsed: dict, context: dict, **_: Any) -> None:
            call = context.pop(_CONTEXT_KEY, None)
            if call is None:
                return
            error = (parsed or {}).get("Error") or {}
            status = getattr(http_response, "status_code", 200)
            ok = status < 300 and not error
            retries = ((parsed or {}).get("ResponseMetadata") or {}).get("RetryAttempts") or 0
            detail = "" if ok else f"{error.get('Code') or status}: {error.get('Message') or ''}".strip().rstrip(":")
            if retries:
                detail = f"{detail} (after {retries} retries)".strip()
            if ok and call.operation == "GetCallerIdentity" and call.service == "sts":
                # the answer is the caller's identity itself (the management identity is learnt from this call)
                self._write(call, "ok", detail, parsed.get("Arn", ""), parsed.get("Account", ""))
                return
            self._write(call, "ok" if ok else "error", detail, principal, account)

        return handler

    def _failed(self, principal, account):
        def handler(exception: BaseException, context: dict, **_: Any) -> None:
            call = context.pop(_CONTEXT_KEY, None)
            if call is None:
                return
            self._write(call, "error", f"no answer: {type(exception).__name__}: {exception}", principal, account)

        return handler

    def _write(self, call: _Call, outcome: str, detail: str, principal, account) -> None:
        if self.sink is None or getattr(self._writing, "active", False):
            return
        try:  # first (they may call AWS themselves: the management identity's one GetCallerIdentity)
            account, principal = _value(account), _value(principal)
        except Exception:
            logger.exception("the caller's identity is unknown for %s:%s", call.service, call.operation)
            account, principal = "", ""
        self._writing.active = True
        try:
            record = AuditRecord(
                source="aws", tool=f"{call.service}:{call.operation}", args_sha256=call.digest, outcome=outcome,
                duration_ms=max(0, int((time.perf_counter() - call.started) * 1000)),
                agent_type=call.scope.agent_type or "", invocation_id=call.scope.invocation_id or "none",
                detail=detail[:500], account=account, region=call.region, principal=principal)
            self.sink.record(record)
        except Exception:  # the audit trail never turns an answered AWS call into a failure
            logger.exception("AWS audit record not written for %s:%s", call.service, call.operation)
        finally:
            self._writing.active = False


def _value(value: str | Callable[[], str]) -> str:
    return value() if callable(value) else value


class SessionHooks:
    """Several `attach(session, principal)` hooks as one recorder (runtime.aws_clients.AwsClients takes one): the
    IAM-coverage `CallRecorder` when there is one, and the audit hook."""

    def __init__(self, *hooks: Callable[[Any, str], Any]) -> None:
        self.hooks = hooks

    def attach(self, session: Any, principal: str) -> Any:
        for hook in self.hooks:
            hook(session, principal)
        return session


__all__ = ["AuditScope", "AwsAuditHook", "SessionHooks", "audit_scope"]

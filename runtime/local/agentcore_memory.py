"""A loopback stand-in for the AgentCore Memory data plane (`bedrock-agentcore`), so the same client code
(`bedrock_agentcore.memory.MemorySessionManager` over a boto3 `bedrock-agentcore` client with `endpoint_url` here)
runs locally as in AWS.

The contract is botocore's service model of `bedrock-agentcore` (botocore/data/bedrock-agentcore/*/service-2.json):
each request is routed by the operation's `requestUri` and method, its URI and JSON body members are validated
against the operation's input shape (required members, unknown members refused, types, unions with exactly one
member, string lengths and patterns, enums, list/map sizes, number ranges) and refused as the service refuses them:
400 `ValidationException` with `reason` `FieldValidationFailed` and a `fieldList` naming each field. Every answer is
checked against the output shape before it is sent (a stand-in bug is a 500 here, not a silent drift). Patterns are
matched whole (`re.fullmatch`), as AWS's validators do.

Operations served (only what `runtime/agent/memory.py` calls): CreateEvent, ListEvents, RetrieveMemoryRecords,
ListMemoryRecords. Anything else answers 404 `UnknownOperationException`.

What it does, and what it does not emulate:
- Memories exist only as configured at start (`MemoryConfig`: id and strategies, from the agents' declarations);
  an unknown memory id is a 404 `ResourceNotFoundException`. No control plane (CreateMemory etc.).
- Short-term memory: events are stored per (memory, actor, session) and listed newest first, paginated.
  Branches, event expiry, blob/json payload semantics and `extractionMode` beyond storing are not emulated.
- Long-term memory: AgentCore's strategies extract records from events asynchronously with a model (semantic facts,
  preferences, summaries), consolidating them with earlier ones. The stand-in does NOT do that. It does one honest,
  simple thing: an event whose metadata `aidlc:strategy` names one of the memory's strategies becomes, at once, one
  record per conversational text in that strategy's namespace (its template resolved with actorId and sessionId),
  identical texts in a namespace kept once. Untagged events make no records.
- Retrieval is lexical (the share of the query's words found in a record), not semantic; like a vector search it
  still returns the top K when nothing overlaps. Metadata filters are refused (not emulated) rather than ignored.
- No SigV4 verification, no IAM (the IAM coverage check over the recorded calls stands for it), no throttling.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runtime.agent.memory import STRATEGY_METADATA_KEY  # which strategy an event is for (read by the extraction)

SERVICE = "bedrock-agentcore"
OPERATIONS = ("CreateEvent", "ListEvents", "RetrieveMemoryRecords", "ListMemoryRecords")


@cache
def service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def new_memory_id(name: str) -> str:
    """A memory id shaped as AgentCore's (`<name>-<10 alphanumerics>`, the model's MemoryId pattern); the same for
    the same name, so a restarted local stack finds the events and records it kept."""
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class StrategyConfig:
    name: str
    namespace_template: str
    strategy_id: str = ""

    def resolved(self, actor_id: str, session_id: str) -> str:
        return (self.namespace_template.replace("{actorId}", actor_id).replace("{sessionId}", session_id)
                .replace("{memoryStrategyId}", self.strategy_id or self.name))


@dataclass(frozen=True)
class MemoryConfig:
    memory_id: str
    strategies: tuple[StrategyConfig, ...] = ()


# --- validation against the botocore model -----------------------------------------------------------------
# Hand-written because botocore's own ParamValidator checks required/unknown members, types and minimums only,
# not maximums, patterns or enums, which are what the service refuses most often.


def validate(shape: Any, value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every way `value` breaks `shape` (a botocore Shape), as (field path, message)."""
    kind = shape.type_name
    errors: list[tuple[str, str]] = []
    where = path or shape.name
    meta = shape.metadata
    if kind == "structure":
        if shape.metadata.get("document") or getattr(shape, "is_document_type", False):
            return []
        if not isinstance(value, dict):
            return [(where, f"must be an object, not {type(value).__name__}")]
        members = shape.members
        for key in value:
            if key not in members:
                errors.append((f"{path}.{key}" if path else key, "is not a member of " + shape.name))
        for key in shape.required_members:
            if value.get(key) is None:
                errors.append((f"{path}.{key}" if path else key, "is required"))
        if shape.metadata.get("union") or getattr(shape, "is_tagged_union", False):
            present = [k for k in value if value[k] is not None]
            if len(present) != 1:
                errors.append((where, f"must set exactly one of {sorted(members)}, got {present}"))
        for key, item in value.items():
            if key in members and item is not None:
                errors += validate(members[key], item, f"{path}.{key}" if path else key)
    elif kind == "list":
        if not isinstance(value, list):
            return [(where, "must be a list")]
        errors += _size(meta, len(value), where, "items")
        for i, item in enumerate(value):
            errors += validate(shape.member, item, f"{where}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [(where, "must be an object")]
        errors += _size(meta, len(value), where, "entries")
        for key, item in value.items():
            errors += validate(shape.key, key, f"{where}.<key {key!r}>")
            errors += validate(shape.value, item, f"{where}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            return [(where, "must be a string")]
        errors += _size(meta, len(value), where, "characters")
        if "pattern" in meta and re.fullmatch(meta["pattern"], value) is None:
            errors.append((where, f"must match the pattern {meta['pattern']}"))
        if shape.enum and value not in shape.enum:
            errors.append((where, f"must be one of {list(shape.enum)}"))
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [(where, "must be an integer")]
        errors += _range(meta, value, where)
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return [(where, "must be a number")]
        errors += _range(meta, value, where)
    elif kind == "boolean":
        if not isinstance(value, bool):
            return [(where, "must be a boolean")]
    elif kind == "timestamp":
        if isinstance(value, datetime):
            return []
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return [(where, "must be a timestamp")]
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return [(where, "must be a timestamp")]
    return errors


def _size(meta: dict, size: int, where: str, unit: str) -> list[tuple[str, str]]:
    if "min" in meta and size < meta["min"]:
        return [(where, f"must have at least {meta['min']} {unit}")]
    if "max" in meta and size > meta["max"]:
        return [(where, f"must have at most {meta['max']} {unit}")]
    return []


def _range(meta: dict, value: float, where: str) -> list[tuple[str, str]]:
    if "min" in meta and value < meta["min"]:
        return [(where, f"must be at least {meta['min']}")]
    if "max" in meta and value > meta["max"]:
        return [(where, f"must be at most {meta['max']}")]
    return []


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JSONResponse:
        return JSONResponse({"message": self.message, **self.extra}, status_code=self.status,
                            headers={"x-amzn-ErrorType": self.code})


def _validation_error(errors: list[tuple[str, str]]) -> ServiceError:
    return ServiceError(400, "ValidationException", "; ".join(f"{name} {message}" for name, message in errors),
                        reason="FieldValidationFailed",
                        fieldList=[{"name": name, "message": message} for name, message in errors])


def _uri_pattern(request_uri: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", request_uri.split("?", 1)[0])
    regex = "".join(f"(?P<{p[1:-1].rstrip('+')}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


@cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    model = service_model()
    out = []
    for name in OPERATIONS:
        http = model.operation_model(name).http
        out.append((http["method"], _uri_pattern(http["requestUri"]), name))
    return out


def _iso(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _wire(value: Any) -> Any:
    """rest-json's default timestamp format in bodies is epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class MemoryStandIn:
    """The stand-in's state and operations; `app` is its Starlette app. `path`: a JSON file it keeps its events and
    records in (so `aidlc dev` remembers across restarts); None keeps them in memory."""

    def __init__(self, memories: list[MemoryConfig], path: Path | None = None) -> None:
        self.memories = {m.memory_id: m for m in memories}
        self.path = path
        self._lock = threading.Lock()
        self.events: dict[str, list[dict[str, Any]]] = {}  # memory id -> events (stored shapes)
        self.records: dict[str, list[dict[str, Any]]] = {}  # memory id -> records
        self._counter = 0
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            self.events, self.records = saved.get("events", {}), saved.get("records", {})
            self._counter = int(saved.get("counter", 0))
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])

    # --- HTTP ---------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        try:
            for method, pattern, name in _routes():
                match = pattern.match(path)
                if match and request.method == method:
                    break
            else:
                raise ServiceError(404, "UnknownOperationException",
                                   f"{request.method} {path} is no operation this stand-in serves ({OPERATIONS})")
            raw = await request.body()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise ServiceError(400, "ValidationException", f"the body is not JSON: {exc}",
                                   reason="CannotParse") from None
            if not isinstance(body, dict):
                raise ServiceError(400, "ValidationException", "the body must be a JSON object", reason="CannotParse")
            return self.call(name, {**body, **match.groupdict()})
        except ServiceError as exc:
            return exc.response()

    def call(self, operation: str, params: dict[str, Any]) -> JSONResponse:
        """One operation: validate `params` (URI and body members together) against the input shape, run it,
        check the answer against the output shape."""
        op = service_model().operation_model(operation)
        errors = validate(op.input_shape, params)
        if errors:
            raise _validation_error(errors)
        memory = self.memories.get(params["memoryId"])
        if memory is None:
            raise ServiceError(404, "ResourceNotFoundException", f"memory {params['memoryId']} not found")
        with self._lock:
            result = getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower())(memory, params)
            if operation == "CreateEvent":
                self._save()
        wrong = validate(op.output_shape, result)
        if wrong:  # the stand-in's own bug: say so rather than send what the client would misread
            raise ServiceError(500, "ServiceException", f"stand-in answer breaks {op.output_shape.name}: {wrong}")
        return JSONResponse(_wire(result), status_code=op.http.get("responseCode", 200))

    def _save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(_wire({"events": self.events, "records": self.records,
                                             "counter": self._counter})))
            tmp.replace(self.path)

    # --- operations -----------------------------------------------------------------------------------------

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _create_event(self, memory: MemoryConfig, p: dict[str, Any]) -> dict[str, Any]:
        session_id = p.get("sessionId") or "default"
        timestamp = _iso(p["eventTimestamp"])
        event = {"memoryId": memory.memory_id, "actorId": p["actorId"], "sessionId": session_id,
                 "eventId": f"{int(timestamp.timestamp() * 1000)}#{self._next():016x}",
                 "eventTimestamp": timestamp.timestamp(), "payload": p["payload"]}
        for key in ("branch", "metadata"):
            if p.get(key):
                event[key] = p[key]
        self.events.setdefault(memory.memory_id, []).append(event)
        tag = ((p.get("metadata") or {}).get(STRATEGY_METADATA_KEY) or {}).get("stringValue")
        strategy = next((s for s in memory.strategies if s.name == tag), None)
        if strategy is not None and p.get("extractionMode") != "SKIP":
            namespace = strategy.resolved(p["actorId"], session_id)
            records = self.records.setdefault(memory.memory_id, [])
            for item in p["payload"]:
                text = ((item.get("conversational") or {}).get("content") or {}).get("text")
                if not text or any(r["content"]["text"] == text and r["namespaces"] == [namespace] for r in records):
                    continue
                records.append({"memoryRecordId": f"mem-{self._next():08d}-{secrets.token_hex(16)}",
                                "content": {"text": text[:16_000]}, "memoryStrategyId": strategy.strategy_id
                                or strategy.name, "namespaces": [namespace], "createdAt": timestamp.timestamp()})
        return {"event": self._event_out(event, True)}

    @staticmethod
    def _event_out(event: dict[str, Any], payloads: bool) -> dict[str, Any]:
        out = {**event, "eventTimestamp": _iso(event["eventTimestamp"])}
        if not payloads:
            out["payload"] = []
        return out

    @staticmethod
    def _page(items: list[Any], p: dict[str, Any]) -> tuple[list[Any], str | None]:
        start = int(p["nextToken"]) if str(p.get("nextToken") or "").isdigit() else 0
        size = p.get("maxResults") or 20
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    def _list_events(self, memory: MemoryConfig, p: dict[str, Any]) -> dict[str, Any]:
        if (p.get("filter") or {}).get("eventMetadata"):
            raise ServiceError(400, "ValidationException", "filter.eventMetadata is not emulated by the stand-in",
                               reason="FieldValidationFailed")
        events = [e for e in self.events.get(memory.memory_id, [])
                  if e["actorId"] == p["actorId"] and e["sessionId"] == p["sessionId"]]
        branch = (p.get("filter") or {}).get("branch")
        if branch:
            events = [e for e in events if (e.get("branch") or {}).get("name") == branch["name"]]
        events.sort(key=lambda e: e["eventId"], reverse=True)  # newest first, as the service lists them
        page, token = self._page(events, p)
        out: dict[str, Any] = {"events": [self._event_out(e, p.get("includePayloads", True)) for e in page]}
        if token:
            out["nextToken"] = token
        return out

    def _in_namespace(self, record: dict[str, Any], p: dict[str, Any]) -> bool:
        if p.get("namespace") is not None:
            return p["namespace"] in record["namespaces"]
        if p.get("namespacePath") is not None:
            prefix = p["namespacePath"].rstrip("/")
            return any(n == prefix or n.startswith(prefix + "/") for n in record["namespaces"])
        return True

    def _summary(self, record: dict[str, Any], score: float | None = None) -> dict[str, Any]:
        out = {**record, "createdAt": _iso(record["createdAt"])}
        if score is not None:
            out["score"] = score
        return out

    def _retrieve_memory_records(self, memory: MemoryConfig, p: dict[str, Any]) -> dict[str, Any]:
        criteria = p["searchCriteria"]
        if criteria.get("metadataFilters"):
            raise ServiceError(400, "ValidationException", "searchCriteria.metadataFilters is not emulated by the "
                               "stand-in", reason="FieldValidationFailed")
        query = _words(criteria["searchQuery"])
        found = [r for r in self.records.get(memory.memory_id, []) if self._in_namespace(r, p)
                 and criteria.get("memoryStrategyId") in (None, r["memoryStrategyId"])]
        scored = sorted(((len(query & _words(r["content"]["text"])) / max(1, len(query)), i, r)
                         for i, r in enumerate(found)), key=lambda t: (-t[0], -t[1]))
        scored = scored[: criteria.get("topK") or 10]
        page, token = self._page(scored, p)
        out: dict[str, Any] = {"memoryRecordSummaries": [self._summary(r, s) for s, _, r in page]}
        if token:
            out["nextToken"] = token
        return out

    def _list_memory_records(self, memory: MemoryConfig, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("metadataFilters"):
            raise ServiceError(400, "ValidationException", "metadataFilters is not emulated by the stand-in",
                               reason="FieldValidationFailed")
        found = [r for r in self.records.get(memory.memory_id, []) if self._in_namespace(r, p)
                 and p.get("memoryStrategyId") in (None, r["memoryStrategyId"])]
        page, token = self._page(found, p)
        out: dict[str, Any] = {"memoryRecordSummaries": [self._summary(r) for r in page]}
        if token:
            out["nextToken"] = token
        return out


def local_memory_name(agent: str) -> str:
    """The local memory's name; like the stack's (`<prefix>_<agent>_memory`, components/agentcore.py) it ends with
    `_<agent>_memory`, which is how the IAM coverage check finds the agent's memory ARN."""
    return f"aidlc_{agent}_memory"


def memory_configs(specs: Any) -> dict[str, MemoryConfig]:
    """{agent: its memory} for each agent with `uses_memory`, its strategies as the agent declares them."""
    return {spec.name: MemoryConfig(new_memory_id(local_memory_name(spec.name)), tuple(
        StrategyConfig(s.name, s.namespace_template, s.name) for s in spec.memory_strategies))
        for spec in specs if spec.limits.uses_memory}


__all__ = ["MemoryConfig", "MemoryStandIn", "STRATEGY_METADATA_KEY", "StrategyConfig", "local_memory_name", "memory_configs",
           "new_memory_id", "service_model", "validate"]

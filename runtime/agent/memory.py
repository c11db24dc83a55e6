"""Agent memory: what an agent with `Limits.uses_memory` remembers, read at the start of a run and written at its end.

- Short-term, per session: the run's turns (the task prompt and the final summary) as AgentCore Memory events in
  the run's session (`request.session_id`), actor = the project.
- Long-term, per project: the agent's declared strategies (`AgentSpec.memory_strategies`), each a namespace
  `/projects/<project>/<strategy>` of memory records. In AWS the service's strategies extract those records from
  the events asynchronously; locally the stand-in (runtime/local/agentcore_memory.py) keeps the texts of events
  tagged with a strategy's name. Either way, what goes in is an event: the run's turn (tagged for a strategy that
  takes `from_run_summary`), or feedback from outside the run (`remember`, e.g. a review comment on the agent's pull
  request).

`AgentMemory` is the port; `AgentCoreMemory` the adapter, through `bedrock_agentcore.memory.MemorySessionManager`
over a boto3 `bedrock-agentcore` client: in AWS the runtime's own role and endpoint, locally the stack's recorded
session with `endpoint_url` at the stand-in. The runner treats memory as help, not as a dependency: a memory that
cannot be read or written is logged and the run goes on.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from runtime.models import AgentRequest
from runtime.plugins import AgentSpec, RunMemory

log = logging.getLogger("aidlc.agent")

STRATEGY_METADATA_KEY = "aidlc:strategy"  # an event meant for one strategy (the stand-in's extraction reads it)
MAX_EVENT_TEXT = 20_000  # of the model's 100,000 per conversational text: a prompt is kept to its start
SESSION_EVENTS = 10  # how many of the session's latest events a run reads back
RECORDS_PER_STRATEGY = 5


def actor_id(project_id: str) -> str:
    """The project as an AgentCore actor id (the model's ActorId pattern, at most 255 characters)."""
    value = re.sub(r"[^a-zA-Z0-9_/-]", "-", project_id).strip("-_/") or "project"
    return value[:255]


def session_key(session_id: str) -> str:
    """The run's session as an AgentCore session id (`[a-zA-Z0-9][a-zA-Z0-9-_]*`, at most 100 characters)."""
    value = re.sub(r"[^a-zA-Z0-9_-]", "-", session_id).strip("-_") or "session"
    return value[:100]


def recall_query(request: AgentRequest) -> str:
    story = request.story
    return (f"{story.title}\n{story.content_markdown}".strip() or story.title)[:2_000]


def memory_prompt(memory: RunMemory, spec: AgentSpec) -> str:
    """The task prompt's memory section (empty when there is nothing to remember)."""
    if memory.empty:
        return ""
    parts = ["What you remember (AgentCore Memory). Follow these unless the story says otherwise:"]
    for strategy in spec.memory_strategies:
        records = memory.records(strategy.name)
        if records:
            parts.append(f"## {strategy.name}: {strategy.description}\n" + "\n".join(f"- {r}" for r in records))
    if memory.session:
        parts.append("## This session so far\n" + "\n".join(f"- {t}" for t in memory.session))
    return "\n\n".join(parts)


class AgentMemory(Protocol):
    def recall(self, spec: AgentSpec, request: AgentRequest) -> RunMemory: ...

    def record(self, spec: AgentSpec, request: AgentRequest, *, prompt: str, summary: str) -> None: ...

    def remember(self, spec: AgentSpec, project_id: str, strategy: str, texts: Sequence[str], *,
                 session_id: str) -> None: ...


class _ClientsSession:
    """What MemorySessionManager needs of a boto3 session (`region_name`, `client(...)`), served by an `AwsClients`
    (runtime/aws_clients.py): its principal's recorded session, its `endpoint_url` (locally: the stand-in)."""

    def __init__(self, clients: Any) -> None:
        self._clients = clients

    @property
    def region_name(self) -> str | None:
        return self._clients.region

    def client(self, service: str, region_name: str | None = None, config: Any = None, **_: Any) -> Any:
        return self._clients.client(service, region_name, config=config)


class AgentCoreMemory:
    """The port over AgentCore Memory's data plane (CreateEvent, ListEvents, RetrieveMemoryRecords)."""

    def __init__(self, memory_id: str, *, clients: Any = None, region: str | None = None) -> None:
        """`clients`: an `AwsClients` to make the boto3 client with (locally: the agent's principal, `endpoint_url`
        at the stand-in); None: boto3's default session (the runtime's role, AgentCore's endpoint)."""
        self.memory_id = memory_id
        self._clients, self._region = clients, region
        self._manager: Any = None
        self._lock = threading.Lock()

    @property
    def manager(self) -> Any:
        with self._lock:
            if self._manager is None:
                from bedrock_agentcore.memory import MemorySessionManager

                if self._clients is not None:
                    session: Any = _ClientsSession(self._clients)
                else:
                    import boto3

                    session = boto3.Session(region_name=self._region)
                self._manager = MemorySessionManager(self.memory_id, region_name=self._region or session.region_name,
                                                     boto3_session=session)
            return self._manager

    def recall(self, spec: AgentSpec, request: AgentRequest) -> RunMemory:
        actor, session = actor_id(request.project_id), session_key(request.session_id)
        events = self.manager.list_events(actor_id=actor, session_id=session, max_results=SESSION_EVENTS)
        turns = []
        for event in reversed(events):  # listed newest first; the prompt reads oldest first
            for item in event.get("payload", []):
                message = item.get("conversational") or {}
                text = (message.get("content") or {}).get("text")
                if text:
                    turns.append(f"{message.get('role', 'OTHER')}: {text[:500]}")
        query = recall_query(request)
        long_term: dict[str, list[str]] = {}
        for strategy in spec.memory_strategies:
            records = self.manager.search_long_term_memories(
                query=query, namespace=strategy.namespace(actor), top_k=RECORDS_PER_STRATEGY,
                max_results=RECORDS_PER_STRATEGY)
            texts = [r.get("content", {}).get("text") for r in records]
            long_term[strategy.name] = [t for t in texts if t]
        return RunMemory(session=turns, long_term=long_term)

    def _add(self, actor: str, session: str, messages: list[Any], strategy: str | None) -> None:
        metadata = {STRATEGY_METADATA_KEY: {"stringValue": strategy}} if strategy else None
        self.manager.add_turns(actor_id=actor, session_id=session, messages=messages, metadata=metadata,
                               event_timestamp=datetime.now(timezone.utc))

    def record(self, spec: AgentSpec, request: AgentRequest, *, prompt: str, summary: str) -> None:
        """The run's turn, in its session; once more tagged for each strategy that learns from run summaries."""
        from bedrock_agentcore.memory.constants import ConversationalMessage, MessageRole

        actor, session = actor_id(request.project_id), session_key(request.session_id)
        self._add(actor, session, [ConversationalMessage(prompt[:MAX_EVENT_TEXT], MessageRole.USER),
                                   ConversationalMessage(summary[:MAX_EVENT_TEXT] or "(no summary)",
                                                         MessageRole.ASSISTANT)], None)
        for strategy in spec.memory_strategies:
            if strategy.from_run_summary and summary.strip():
                self._add(actor, session, [ConversationalMessage(summary[:MAX_EVENT_TEXT], MessageRole.ASSISTANT)],
                          strategy.name)

    def remember(self, spec: AgentSpec, project_id: str, strategy: str, texts: Sequence[str], *,
                 session_id: str) -> None:
        """Feedback from outside a run (a review comment, a reader's note on a deck) for one of the agent's
        strategies, as an event in `session_id` (e.g. the session of the run it is about)."""
        from bedrock_agentcore.memory.constants import ConversationalMessage, MessageRole

        if strategy not in {s.name for s in spec.memory_strategies}:
            raise ValueError(f"agent {spec.name!r} has no memory strategy {strategy!r}: it has "
                             f"{[s.name for s in spec.memory_strategies]}")
        messages = [ConversationalMessage(t[:MAX_EVENT_TEXT], MessageRole.USER) for t in texts if t.strip()]
        if not messages:
            raise ValueError("remember: nothing to remember (every text is empty)")
        self._add(actor_id(project_id), session_key(session_id), messages, strategy)


def build_memory(spec: AgentSpec, memory_id: str | None, *, region: str | None = None) -> AgentMemory | None:
    """The memory a run of `spec` uses in AWS: the runtime's own (AIDLC_MEMORY_ID), or none."""
    if not spec.limits.uses_memory or not memory_id:
        return None
    return AgentCoreMemory(memory_id, region=region)


def offline_takes_memory(script: Any) -> bool:
    import inspect

    try:
        return "memory" in inspect.signature(script).parameters
    except (TypeError, ValueError):
        return False


__all__ = ["AgentCoreMemory", "AgentMemory", "STRATEGY_METADATA_KEY", "actor_id", "build_memory", "memory_prompt",
           "offline_takes_memory", "recall_query", "session_key"]


"""One agent run, from `AgentRequest` to exactly one `CompletionEvent`.

`run_agent` is synchronous: the AgentCore app runs it in a worker thread (so `/ping` stays answered) and the CLI
and tests call it directly. Whatever happens inside (the model raises, a tool is denied, the budget runs out,
the plugin is unknown) the run ends with one event sent to the sink.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from runtime.agent.artifacts import ArtifactCollector, artifacts_from_calls
from runtime.agent.completion import CompletionSink
from runtime.agent.memory import memory_prompt
from runtime.agent.hooks import ArtifactHook, AuditHook, BudgetHook, RunControl, usage_of
from runtime.agent.offline_model import OfflineScriptError
from runtime.agent.models import build_model, resolve_model_id  # the model choice and its strands Model
from runtime.agent.settings import AgentSettings
from runtime.cost import DEFAULT_MODEL_ID, OFFLINE_MODEL_ID, cost_usd
from runtime.errors import ErrorCode
from runtime.models import AgentRequest, CompletionEvent, TokenUsage
from runtime.observe.trace import in_stage, model_call_hook
from runtime.plugins import AgentSpec, RunMemory
from runtime.tools.audit import AuditSink, DynamoDbAuditSink, MemoryAuditSink
from runtime.tools.base import raised_at

@functools.cache
def _run_logger() -> Any:
    """Powertools' structured logger; the invocation id is the correlation id of every line a run logs.
    Keys are thread-local: the app runs several invocations at once, one worker thread each."""
    from aws_lambda_powertools import Logger

    return Logger(service="aidlc-agent", child=False)


class AgentConfigError(RuntimeError):
    pass


@dataclass
class RunOptions:
    """What a run may be given instead of building it from settings (tests, the CLI, the local stack)."""

    model: Any = None  # a strands Model
    tools: list[Any] | None = None  # strands tools (an MCPClient, PythonAgentTools...)
    audit: AuditSink | None = None
    registry: Any = None  # the AgentRegistry the agent and its tools' specs come from (default: the process one)
    tool_token: str | None = None  # the run's tool token, when not in the request (the local stack's MCP issues it)
    memory: Any = None  # an AgentMemory (runtime/agent/memory.py); default: the runtime's own, for uses_memory agents
    control: RunControl = field(default_factory=RunControl)


def gateway_auth(settings: AgentSettings) -> Any:
    from runtime.agent.tools import BearerAuth, SigV4Auth

    if settings.gateway_auth == "iam":
        import boto3

        return SigV4Auth(settings.region or boto3.Session().region_name or "us-east-1")
    if settings.gateway_auth == "bearer":
        if not settings.gateway_token_secret:
            raise AgentConfigError("gateway auth 'bearer' needs AIDLC_GATEWAY_TOKEN_SECRET (a Secrets Manager name)")
        import boto3

        secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.gateway_token_secret)
        return BearerAuth(secret["SecretString"])
    return None


def build_tools(spec: AgentSpec, request: AgentRequest, settings: AgentSettings,
                tool_token: str | None = None) -> list[Any]:
    if not settings.gateway_url:
        raise AgentConfigError(
            "no tools: set AIDLC_GATEWAY_URL to the MCP endpoint, or pass in-process tools (runtime.agent.tools."
            "registry_tools) for a synchronous run"
        )
    from runtime.agent.tools import mcp_tool_client

    return [
        mcp_tool_client(settings.gateway_url, agent_type=spec.name, invocation_id=request.invocation_id,
                        token=tool_token or request.tool_token, auth=gateway_auth(settings), allowed_tools=spec.tools)
    ]


def build_audit(settings: AgentSettings) -> AuditSink:
    return DynamoDbAuditSink(settings.audit_table) if settings.audit_table else MemoryAuditSink()


def failure_detail(exc: BaseException) -> str:
    """What a run reports for the exception that ended it: strands wraps what the model or a tool raised in an
    EventLoopException, so the cause is reported, with its type and, unless it says where already, `file:line`."""
    from strands.types.exceptions import EventLoopException

    while isinstance(exc, EventLoopException) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, OfflineScriptError):  # its message names the script's own exception and place
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__} at {raised_at(exc)}: {exc}"


def task_prompt(request: AgentRequest, remembered: str = "") -> str:
    """The first user message: everything the orchestrator sent, so the agent need not read Notion to start, and
    what the agent remembers (`remembered`: runtime.agent.memory.memory_prompt)."""
    story = request.story
    parts = [
        f"Work on this Notion user story (page id {request.notion_page_id}, invocation {request.invocation_id}).",
        f"# {story.title}",
    ]
    if story.url:
        parts.append(f"URL: {story.url}")
    if story.properties:
        parts.append("Properties:\n" + json.dumps(story.properties, indent=2, default=str))
    if story.content_markdown.strip():
        parts.append("Body:\n" + story.content_markdown.strip())
    parts.append("Project settings:\n" + request.project.model_dump_json(indent=2))
    if request.parent is not None:
        parts.append("This run follows another agent's run:\n" + request.parent.model_dump_json(indent=2))
    if remembered:
        parts.append(remembered)
    parts.append("Use your tools to produce your artifacts, then answer with a short summary with their links.")
    return "\n\n".join(parts)


def kept_work(collector: ArtifactCollector) -> str:
    """What a stopped run leaves behind, for its summary: its commits are on their branches already."""
    commits = [call for call in collector.calls if call.tool == "github_commit_files"]
    branches = list(dict.fromkeys(str(call.result.get("branch") or call.args.get("branch")) for call in commits))
    if not branches:
        return ""
    return (f" Work so far is kept: {len(commits)} commit(s) on {', '.join(branches)}"
            f" (last {str(commits[-1].result.get('sha', ''))[:12]}).")


def _limits(spec: AgentSpec, request: AgentRequest) -> tuple[int | None, Decimal | None]:
    tokens = [t for t in (spec.limits.max_tokens, request.budget.token_limit) if t is not None]
    costs = [c for c in (spec.limits.cost_limit_usd, request.budget.cost_limit_usd) if c is not None]
    return (min(tokens) if tokens else None, min(costs) if costs else None)


def _recall(spec: AgentSpec, request: AgentRequest, settings: AgentSettings, options: RunOptions,
            ) -> tuple[Any, RunMemory, AgentSpec]:
    """The run's memory, what it remembers, and the spec to build the model from (its offline script given the
    memory when it takes a `memory` argument). Memory helps a run but never stops one: a failure is logged."""
    from runtime.agent.memory import build_memory, offline_takes_memory

    memory = options.memory if options.memory is not None else build_memory(spec, settings.memory_id,
                                                                            region=settings.region)
    remembered = RunMemory()
    if memory is not None and spec.limits.uses_memory:
        try:
            remembered = memory.recall(spec, request)
        except Exception:
            _run_logger().warning("agent memory not read; the run goes on without it", exc_info=True)
    run_spec = spec
    if spec.offline is not None and offline_takes_memory(spec.offline):
        run_spec = spec.model_copy(update={"offline": functools.partial(spec.offline, memory=remembered)})
    return (memory if spec.limits.uses_memory else None), remembered, run_spec


def _record(memory: Any, spec: AgentSpec, request: AgentRequest, prompt: str, summary: str) -> None:
    if memory is None:
        return
    try:
        memory.record(spec, request, prompt=prompt, summary=summary)
    except Exception:
        _run_logger().warning("agent memory not written; the run's result stands", exc_info=True)


def run_agent(request: AgentRequest, *, settings: AgentSettings, sink: CompletionSink,
              spec: AgentSpec | None = None, options: RunOptions | None = None) -> CompletionEvent:
    with in_stage("agent", request.invocation_id):  # every call of the run counts as the agent's
        return _run_agent(request, settings=settings, sink=sink, spec=spec, options=options)


def _run_agent(request: AgentRequest, *, settings: AgentSettings, sink: CompletionSink,
               spec: AgentSpec | None = None, options: RunOptions | None = None) -> CompletionEvent:
    options = options or RunOptions()
    logger = _run_logger()
    logger.thread_safe_append_keys(invocation_id=request.invocation_id, correlation_id=request.invocation_id,
                                   agent_type=request.agent_type, session_id=request.session_id)
    logger.info("agent run started")
    collector = ArtifactCollector()
    agent = None
    registry = None
    usage = TokenUsage()
    model_id = OFFLINE_MODEL_ID if settings.model_provider == "offline" else (request.model_id or DEFAULT_MODEL_ID)
    status, summary, error_code, error_detail = "failed", "", ErrorCode.AGENT_ERROR, ""
    try:
        registry = options.registry
        if registry is None:
            from runtime.registry import get_registry

            registry = get_registry()
        if spec is None:
            spec = registry.get(request.agent_type)
        model_id = resolve_model_id(spec, request, settings)
        if options.model is not None:
            model_id = str((options.model.get_config() or {}).get("model_id") or model_id)
        token_limit, cost_limit = _limits(spec, request)
        memory, remembered, run_spec = _recall(spec, request, settings, options)
        prompt = task_prompt(request, memory_prompt(remembered, spec))
        hooks = [  # no policy hook: the tool registry enforces the Cedar policy on every call (see hooks.py)
            AuditHook(options.audit or build_audit(settings), agent_type=spec.name,
                      invocation_id=request.invocation_id),
            BudgetHook(options.control, model_id=model_id, token_limit=token_limit, cost_limit_usd=cost_limit,
                       prices=settings.prices, timeout_seconds=spec.limits.timeout_seconds,
                       max_turns=spec.limits.max_turns, max_tool_calls=spec.limits.max_tool_calls),
            ArtifactHook(collector),
            model_call_hook(model_id),  # counted per invocation (runtime/observe/trace.py)
        ]
        from strands import Agent

        agent = Agent(
            model=options.model if options.model is not None else build_model(run_spec, request, settings),
            tools=(options.tools if options.tools is not None
                   else build_tools(spec, request, settings, options.tool_token)),
            system_prompt=spec.system_prompt,
            hooks=hooks,
            callback_handler=None,
            name=spec.name,
        )
        result = agent(prompt)
        usage = usage_of(agent)
        stopped = options.control.stopped
        if stopped is not None:
            status, error_code, error_detail = stopped.status, stopped.code, stopped.detail
            summary = f"Stopped: {stopped.detail}.{kept_work(collector)}"
        else:
            status, error_code, summary = "completed", None, str(result).strip()
            _record(memory, spec, request, prompt, summary)
    except Exception as exc:  # any failure still ends the run with its one completion event
        logger.exception("agent run failed")
        if agent is not None:
            usage = usage_of(agent)
        error_detail = failure_detail(exc)[:2000]
        summary = f"The {request.agent_type} agent failed: {error_detail}"[:500]
    finally:
        if agent is not None:
            try:
                agent.cleanup()
            except Exception:
                logger.warning("agent cleanup failed", exc_info=True)

    artifacts = (artifacts_from_calls(collector.calls, spec, request, registry.tools)
                 if spec is not None and registry is not None else [])
    try:
        cost = cost_usd(usage, model_id, settings.prices)
    except KeyError as exc:  # an unpriced model: report it rather than lose the event
        cost = Decimal("0")
        error_detail = (error_detail + f"; {exc}").lstrip("; ")
    event = CompletionEvent(
        invocation_id=request.invocation_id,
        agent_type=request.agent_type,
        session_id=request.session_id,
        status=status,  # type: ignore[arg-type]
        summary=summary,
        artifacts=artifacts,
        token_usage=usage,
        cost_usd=cost,
        model_id=model_id,
        error_code=error_code,
        error_detail=error_detail or None,
    )
    try:
        sink.send(event)
        logger.info("agent run finished", status=event.status, error_code=event.error_code,
                    input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=str(event.cost_usd),
                    artifacts=len(event.artifacts))
    except Exception:
        # Nothing more can be done here: the timeout sweeper fails the invocation when its limit passes.
        logger.exception("completion event not sent", completion_event=event.model_dump(mode="json"))
        raise
    finally:
        logger.thread_safe_clear_keys()
    return event



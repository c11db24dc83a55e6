"""The queues, tables, bucket and secrets aidlc needs, the functions that use them, the environment variables,
headers and HTTP routes between them: each declared once.

The Pulumi components create the resources in AWS from these declarations; the local stack creates the same ones in
moto; each function gets exactly the environment `function_environment()` derives from its declaration, in AWS and
locally. Change a table, a function's needs or a route here and all of them follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    logical_name: str
    env_var: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    purpose: str = ""

    def attribute_names(self) -> list[str]:
        """Every key attribute (table and indexes), each once: DynamoDB wants them declared, all strings here."""
        names: list[str] = []
        for key in (self.hash_key, self.range_key, *[k for i in self.indexes for k in (i.hash_key, i.range_key)]):
            if key and key not in names:
                names.append(key)
        return names

    def create_table_request(self, physical_name: str) -> dict:
        """The DynamoDB `CreateTable` request for this table (moto locally and in tests; Pulumi builds its own)."""
        def key_schema(hash_key: str, range_key: str | None) -> list[dict]:
            return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
                [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []
            )

        request: dict = {
            "TableName": physical_name,
            "KeySchema": key_schema(self.hash_key, self.range_key),
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in self.attribute_names()],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {"IndexName": i.name, "KeySchema": key_schema(i.hash_key, i.range_key),
                 "Projection": {"ProjectionType": "ALL"}}
                for i in self.indexes
            ]
        return request


@dataclass(frozen=True)
class Queue:
    logical_name: str
    env_var: str
    fifo: bool
    max_receive_count: int = 3
    visibility_timeout_seconds: int = 180
    purpose: str = ""

    def physical_name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical_name}" + (".fifo" if self.fifo else "")

    def dlq_name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical_name}-dlq" + (".fifo" if self.fifo else "")


@dataclass(frozen=True)
class Secret:
    logical_name: str
    env_var: str  # holds the secret's ARN (AWS) or name (local), never the value
    purpose: str = ""


@dataclass(frozen=True)
class Bucket:
    logical_name: str
    env_var: str
    prefix: str = ""
    purpose: str = ""


class Env:
    """Environment variable names the handlers and the agent app read. Values are names, URLs and ARNs only."""

    STACK = "AIDLC_STACK"
    PROJECT_CONFIG = "AIDLC_PROJECT_CONFIG"  # JSON of ProjectConfig fields for the default project
    SLACK_API_BASE = "SLACK_API_BASE"  # unset in AWS: slack_sdk's default (https://slack.com/api/)
    NOTION_API_BASE = "NOTION_API_BASE"  # unset in AWS: notion-client's default
    PROTOTYPE_BASE_URL = "PROTOTYPE_BASE_URL"  # CloudFront (AWS) or the local stack's /prototypes
    AGENT_RUNTIMES = "AIDLC_AGENT_RUNTIMES"  # JSON {agent_type: runtime ARN or loopback URL}
    # JSON {agent_type: {endpoint: runtime version}}: the versioned endpoints (dev, staging, prod, beta) the
    # orchestrator chooses from (runtime/pipeline/endpoints.py); unset: the invoker's DEFAULT endpoint
    AGENT_ENDPOINTS = "AIDLC_AGENT_ENDPOINTS"
    GATEWAY_URL = "AIDLC_GATEWAY_URL"  # the MCP endpoint agents call tools through
    AGENT_NAME = "AIDLC_AGENT"  # which plugin an agent runtime is deployed as
    MEMORY_ID = "AIDLC_MEMORY_ID"  # the agent runtime's AgentCore Memory id (plugins with Limits.uses_memory)
    MODEL_ID = "AIDLC_MODEL_ID"
    MODEL_PROVIDER = "AIDLC_MODEL"  # bedrock | offline
    MODEL_PRICES = "AIDLC_MODEL_PRICES"  # JSON {model_id: {input_per_million, output_per_million}}
    GITHUB_REPO = "AIDLC_GITHUB_REPO"
    GITHUB_API_BASE = "GITHUB_API_BASE"
    LOCAL_GIT_REMOTE = "AIDLC_LOCAL_GIT_REMOTE"  # a bare repository path: the offline GitHub backend
    PLUGIN_DIRS = "AIDLC_PLUGIN_DIRS"  # os.pathsep-separated folders of dropped-in plugins (inside the bundle in AWS)
    POLICY_DIRS = "AIDLC_POLICY_DIRS"  # os.pathsep-separated folders of a project's own .cedar files
    API_REQUIRE_IAM = "AIDLC_API_REQUIRE_IAM"  # "true": the internal API refuses calls with no IAM identity
    INVOKE_RETRY_DELAYS = "AIDLC_INVOKE_RETRY_DELAYS"  # JSON list of seconds; default 30, 60 (the seed's backoff)
    WRITEBACK_RETRY_DELAYS = "AIDLC_WRITEBACK_RETRY_DELAYS"  # JSON list of seconds; default 2, 8, 30
    API_ACCESS = "AIDLC_API_ACCESS"  # JSON {caller IAM principal ARN: [project ids]}: the internal API's tenants
    DEFER_SECONDS = "AIDLC_DEFER_SECONDS"  # JSON [first, max] seconds a waiting task is deferred; default 10, 900
    PROTOTYPE_EXPIRY_DAYS = "AIDLC_PROTOTYPE_EXPIRY_DAYS"
    # The least seconds between two progress beats of a run (runtime/agent/app.py; default 5): each one Notion write
    PROGRESS_SECONDS = "AIDLC_PROGRESS_SECONDS"
    BROWSER = "AIDLC_BROWSER"  # the browser prototypes are rendered in before upload: agentcore | chromium | unset
    # The onboarding workflows (seed 003): the durable functions by workflow kind, and the role they assume in a
    # member account (Organizations makes OrganizationAccountAccessRole in every account it creates).
    WORKFLOW_FUNCTIONS = "AIDLC_WORKFLOW_FUNCTIONS"  # JSON {"onboarding": name or ARN, "provisioning": ...}
    ACCESS_ROLE_NAME = "AIDLC_ACCESS_ROLE_NAME"  # default OrganizationAccountAccessRole
    # The knowledge base (runtime/kb/): the Bedrock KB and its S3 data source in AWS; locally, the SQLite FTS5
    # index's path instead (lexical retrieval where the AWS one is semantic).
    KB_ID = "AIDLC_KB_ID"
    KB_DATA_SOURCE_ID = "AIDLC_KB_DATA_SOURCE_ID"
    KB_LOCAL_INDEX = "AIDLC_KB_LOCAL_INDEX"
    # Read by Powertools itself.
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
    POWERTOOLS_METRICS_DISABLED = "POWERTOOLS_METRICS_DISABLED"


class Header:
    """HTTP header names crossing a boundary. HTTP header names are case-insensitive; API Gateway (payload 2.0) and
    the local gateway hand them to the handlers lower-cased, so compare with `.lower()`."""

    NOTION_SIGNATURE = "X-Notion-Signature"  # Notion's webhook HMAC: "sha256=<hex>"
    AUTOMATION_SECRET = "X-Aidlc-Automation-Secret"  # the shared secret a Notion automation's webhook action sends
    GITHUB_SIGNATURE = "X-Hub-Signature-256"  # GitHub's webhook HMAC-SHA256 of the body: "sha256=<hex>"
    GITHUB_EVENT = "X-GitHub-Event"  # the webhook's event name, e.g. "pull_request_review_comment"
    GITHUB_DELIVERY = "X-GitHub-Delivery"  # a GUID per delivery, the same on a redelivery: deduplicates them
    AGENT = "X-Aidlc-Agent"  # which agent calls a tool (the Cedar principal); propagated by the AgentCore Gateway
    INVOCATION_ID = "X-Aidlc-Invocation-Id"  # which run calls a tool (audit, artifacts)
    TOOL_TOKEN = "X-Aidlc-Tool-Token"  # the signed proof of AGENT and INVOCATION_ID (runtime/tools/identity.py)
    AGENTCORE_SESSION = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"  # AgentCore Runtime's session header

    # The headers an agent sends with each tool call, which the gateway target must allow-list for propagation.
    TOOL_CALLER = (AGENT, INVOCATION_ID, TOOL_TOKEN)


@dataclass(frozen=True)
class Route:
    """One HTTP API route: `method path` (API Gateway's route key syntax, `{name}` for a path parameter), the
    function that serves it and how callers authenticate (`none`: the handler checks a signature itself)."""

    method: str
    path: str
    function: str  # a Function's logical_name
    auth: Literal["none", "iam"]

    @property
    def key(self) -> str:
        """API Gateway's route key, e.g. "GET /invocation/{id}"."""
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when `method path` hits this route (as API Gateway resolves it), else None."""
        if method.upper() != self.method:
            return None
        found = _path_pattern(self.path).fullmatch(path)
        return found.groupdict() if found else None


def _path_pattern(template: str) -> re.Pattern[str]:
    # `{name}` matches one path segment, `{name+}` (API Gateway's greedy form) the rest of the path.
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\+?\})", template)
    regex = "".join(
        (f"(?P<{p[1:-2]}>.+)" if p.endswith("+}") else f"(?P<{p[1:-1]}>[^/]+)") if p.startswith("{") else re.escape(p)
        for p in parts
    )
    return re.compile(regex)


ROUTES: tuple[Route, ...] = (
    Route("POST", "/webhook/notion", "webhook", "none"),  # Notion cannot sign SigV4; the handler checks its HMAC
    # Review comments on the agents' pull requests (runtime/pipeline/feedback.py); GitHub signs X-Hub-Signature-256.
    Route("POST", "/webhook/github", "github_webhook", "none"),
    # The internal API (ARCHITECTURE.md "The flow").
    Route("POST", "/invoke", "api", "iam"),
    Route("GET", "/invocation/{id}", "api", "iam"),
    Route("POST", "/invocation/{id}/cancel", "api", "iam"),
    Route("GET", "/project/{id}/invocations", "api", "iam"),
    Route("GET", "/project/{id}/cost-summary", "api", "iam"),
    # The onboarding workflows (runtime/handlers/workflows.py, served by the internal API's function).
    Route("POST", "/workflows", "api", "iam"),
    Route("GET", "/workflows/{id}", "api", "iam"),
    Route("POST", "/workflows/{id}/resume", "api", "iam"),
    Route("POST", "/workflows/{id}/cancel", "api", "iam"),
    Route("POST", "/workflows/{id}/approve", "api", "iam"),
    # The Slack app (ARCHITECTURE.md "Onboarding and provisioning"): Slack signs each request; the handler checks it.
    Route("POST", "/slack/events", "slack", "none"),
    Route("POST", "/slack/commands", "slack", "none"),
    Route("POST", "/slack/interactivity", "slack", "none"),
    # The content sync (seed 3.3): ask for a page's or a data source's sync, follow the job.
    Route("POST", "/sync/page", "sync", "iam"),
    Route("POST", "/sync/database", "sync", "iam"),
    Route("GET", "/sync/status/{job_id}", "sync", "iam"),
)


def match_route(method: str, path: str, routes: tuple[Route, ...] = ROUTES) -> tuple[Route, dict[str, str]] | None:
    """The route `method path` hits and its path parameters, or None (API Gateway would answer 404)."""
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


INVOCATIONS = Table("invocations", "INVOCATIONS_TABLE", "invocation_id", indexes=(
    Index("by_project", "project_id", "created_at"),
    Index("by_page", "notion_page_id", "created_at"),
    Index("by_status", "status", "created_at"),
), purpose="agent invocation records (seed 2.1)")
PROJECTS = Table("projects", "PROJECTS_TABLE", "pk",
                 purpose="project configuration (seed 2.2) and per-month budget counters")
IDEMPOTENCY = Table("idempotency", "IDEMPOTENCY_TABLE", "id", ttl_attribute="expiration",
                    purpose="Powertools idempotency records for webhook deliveries")
AUDIT = Table("audit", "AUDIT_TABLE", "invocation_id", "seq", ttl_attribute="expires_at",
              purpose="one record per tool call: agent, tool, argument digest, outcome, duration")
KB_SYNC_STATE = Table("kb-state", "KB_SYNC_TABLE", "pk", ttl_attribute="expires_at",
                      purpose="knowledge base sync: each page's ingested_at, and the sync jobs")
WORKFLOWS = Table(
    "workflows", "WORKFLOWS_TABLE", "workflow_id", indexes=(Index("by_customer", "customer_id", "created_at"),),
    purpose="onboarding and provisioning workflow state and checkpoints (seed 003), and the circuit breakers' state",
)
TABLES: tuple[Table, ...] = (INVOCATIONS, PROJECTS, IDEMPOTENCY, AUDIT, KB_SYNC_STATE, WORKFLOWS)

# Queue settings, and why (checked by components/aws_rules.py `sqs_redrive` and components/checks.py
# `queues_have_dlq`): the visibility timeout is at least the consuming function's timeout (120 s; Lambda refuses
# an event source mapping otherwise) with room for a slow batch, and short enough that a failed message is retried
# within minutes. maxReceiveCount stays 3 for real failures: a task waiting for a concurrency slot is not
# redelivered but deferred (runtime/pipeline/deferral.py: ChangeMessageVisibility with a growing delay, and a fresh
# copy before one more receive would reach the limit), so waiting never sends a task to the DLQ.
TASKS = Queue("tasks", "TASK_QUEUE_URL", fifo=True,
              purpose="invocations to start, one message group per Notion page")
COMPLETIONS = Queue("completions", "COMPLETION_QUEUE_URL", fifo=False, purpose="completion events from agent runs")
KB_SYNC = Queue("kb-sync", "KB_SYNC_QUEUE_URL", fifo=False,
                visibility_timeout_seconds=360,  # the sync function's 300 s, and room
                purpose="knowledge base sync jobs: pages and data sources to sync (webhook events, POST /sync/*)")
QUEUES: tuple[Queue, ...] = (TASKS, COMPLETIONS, KB_SYNC)

PROTOTYPES = Bucket("prototypes", "PROTOTYPE_BUCKET",
                    purpose="hosted prototypes under {invocation_id}/, expired by lifecycle rule")

NOTION_TOKEN = Secret("notion-token", "NOTION_TOKEN_SECRET", "the Notion integration token")
GITHUB_TOKEN = Secret("github-token", "GITHUB_TOKEN_SECRET", "the GitHub token for the code and review agents")
WEBHOOK_VERIFICATION = Secret(
    "webhook-verification-token", "WEBHOOK_SECRET", "Notion's webhook verification_token (written by the webhook)"
)
AUTOMATION_SECRET = Secret(
    "automation-secret", "AUTOMATION_SECRET", "the shared secret Notion automations send in X-Aidlc-Automation-Secret"
)
SLACK_SIGNING_SECRET = Secret(
    "slack-signing-secret", "SLACK_SIGNING_SECRET", "the Slack app's signing secret (X-Slack-Signature HMAC key)"
)
SLACK_BOT_TOKEN = Secret("slack-bot-token", "SLACK_BOT_TOKEN_SECRET", "the Slack app's bot token (xoxb-)")
TOOL_TOKEN_KEY = Secret(
    "tool-token-key", "TOOL_TOKEN_KEY_SECRET",
    "the HMAC key of tool tokens: the orchestrator signs each run's, the tool gateway verifies (no agent reads it)",
)
GITHUB_WEBHOOK_SECRET = Secret(
    "github-webhook-secret", "GITHUB_WEBHOOK_SECRET",
    "the GitHub webhook's secret (the X-Hub-Signature-256 HMAC key), set in the repository's webhook settings",
)
SECRETS: tuple[Secret, ...] = (NOTION_TOKEN, GITHUB_TOKEN, WEBHOOK_VERIFICATION, AUTOMATION_SECRET,
                               SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, TOOL_TOKEN_KEY, GITHUB_WEBHOOK_SECRET)
KB_DOCUMENTS = Bucket("kb-documents", "KB_DOCUMENTS_BUCKET",
                      purpose="the knowledge base's S3 data source: pages/<page id>.md and its .metadata.json")
PACKAGES = Bucket(
    "packages", "PACKAGE_BUCKET",
    purpose="CloudFormation packages by customer and version: versioning on, objects never overwritten (seed 003)",
)
BUCKETS: tuple[Bucket, ...] = (PROTOTYPES, KB_DOCUMENTS, PACKAGES)

TABLES_BY_NAME: dict[str, Table] = {t.logical_name: t for t in TABLES}
QUEUES_BY_NAME: dict[str, Queue] = {q.logical_name: q for q in QUEUES}
SECRETS_BY_NAME: dict[str, Secret] = {s.logical_name: s for s in SECRETS}
BUCKETS_BY_NAME: dict[str, Bucket] = {b.logical_name: b for b in BUCKETS}


# Settings every function reads (its stack, its plugins, Powertools' logging and metrics).
COMMON_SETTINGS: tuple[str, ...] = (
    Env.STACK,
    Env.PLUGIN_DIRS,
    Env.POWERTOOLS_SERVICE_NAME,
    Env.POWERTOOLS_METRICS_NAMESPACE,
    Env.POWERTOOLS_LOG_LEVEL,
    Env.POWERTOOLS_METRICS_DISABLED,
)


@dataclass(frozen=True)
class Function:
    """A Lambda function: its handler and everything it uses. What it uses decides its environment
    (`function_environment`) and its IAM statements (components/iam.py): declare a use here or it is not there."""

    logical_name: str
    handler: str
    timeout_seconds: int = 30
    memory_mb: int = 512
    tables: tuple[str, ...] = ()
    queues_send: tuple[str, ...] = ()
    queues_consume: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    schedule: str | None = None
    invokes_agents: bool = False  # InvokeAgentRuntime (starts runs)
    stops_agents: bool = False  # StopRuntimeSession only (cancel, time out)
    settings: tuple[str, ...] = ()  # `Env` names it reads beyond those derived in `setting_names()`
    pipeline: bool = True  # reads runtime.pipeline.settings.PipelineSettings (the project, Notion, agents)
    starts_workflows: bool = False  # Invoke of the durable workflow functions, their callbacks (approve, cancel)
    durable: bool = False  # a Lambda durable function (durable_config; python3.13 or later): the workflows
    # AWS it reaches beyond its declared resources, scoped by the infra: "organizations" (the management account),
    # "assume-access-role" (sts:AssumeRole into member accounts; CloudFormation there runs under that role)
    aws: tuple[str, ...] = ()
    knowledge_base: Literal["", "sync", "retrieve"] = ""  # StartIngestionJob / Retrieve on the knowledge base

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(r for r in ROUTES if r.function == self.logical_name)

    def setting_names(self) -> tuple[str, ...]:
        """Every non-resource `Env` name this function reads, derived from what it uses."""
        names = list(COMMON_SETTINGS)
        if self.pipeline:
            names.append(Env.PROJECT_CONFIG)
            if NOTION_TOKEN.logical_name in self.secrets:
                names += [Env.NOTION_API_BASE, Env.WRITEBACK_RETRY_DELAYS]
            if self.invokes_agents:
                names.append(Env.INVOKE_RETRY_DELAYS)
            if self.invokes_agents or self.stops_agents:
                names += [Env.AGENT_RUNTIMES, Env.AGENT_ENDPOINTS]
            if any(route.auth == "iam" for route in self.routes):
                names += [Env.API_REQUIRE_IAM, Env.API_ACCESS]
        if self.starts_workflows or self.durable:
            names.append(Env.WORKFLOW_FUNCTIONS)
        names += [n for n in self.settings if n not in names]
        return tuple(names)

    def environment_names(self) -> tuple[str, ...]:
        """Every environment variable this function may read: its resources' and its settings'."""
        return (
            *(TABLES_BY_NAME[t].env_var for t in self.tables),
            *(QUEUES_BY_NAME[q].env_var for q in dict.fromkeys((*self.queues_send, *self.queues_consume))),
            *(SECRETS_BY_NAME[s].env_var for s in self.secrets),
            *(BUCKETS_BY_NAME[b].env_var for b in self.buckets),
            *self.setting_names(),
        )


def _handler_function(name: str, **uses: Any) -> Function:
    """A function whose handler is `handler` in runtime/handlers/<name>.py."""
    return Function(name, f"runtime.handlers.{name}.handler", **uses)


def _sweeper(name: str, schedule: str, timeout_seconds: int = 120, **uses: Any) -> Function:
    """A scheduled sweep of runtime/handlers/sweepers.py: it reads the runs and their projects, and writes to Notion."""
    return Function(name, f"runtime.handlers.sweepers.{name}_handler", timeout_seconds=timeout_seconds,
                    tables=("invocations", "projects"), secrets=("notion-token",), schedule=schedule, **uses)


FUNCTIONS: tuple[Function, ...] = (
    _handler_function(
        "webhook",
        timeout_seconds=15,
        # invocations: a comment on a story re-runs the story's last run (runtime/pipeline/feedback.py)
        tables=("idempotency", "projects", "invocations"),
        queues_send=("tasks", "kb-sync"),  # kb-sync: a page event asks for the page's sync, never runs it here
        secrets=("notion-token", "webhook-verification-token", "automation-secret"),
        stops_agents=True,  # a person moving a story out of its trigger status cancels its run
    ),
    _handler_function(
        "github_webhook",
        timeout_seconds=15,  # GitHub gives up on a delivery after 10 s; the agent's work leaves through the queue
        tables=("idempotency", "projects", "invocations"),  # deliveries seen; the PR's run and its story
        queues_send=("tasks",),
        secrets=("github-webhook-secret",),
    ),
    _handler_function(
        "orchestrator",
        timeout_seconds=120,
        tables=("invocations", "projects"),
        queues_consume=("tasks",),
        # the bot token: "started" / "failed" in the Slack thread; the tool-token key: each run's signed tool token
        secrets=("notion-token", "slack-bot-token", "tool-token-key"),
        invokes_agents=True,
        settings=(Env.DEFER_SECONDS, Env.SLACK_API_BASE),
    ),
    _handler_function(
        "completion",
        timeout_seconds=120,
        tables=("invocations", "projects"),
        queues_consume=("completions",),
        queues_send=("tasks",),
        secrets=("notion-token", "slack-bot-token"),  # the bot token: results posted to the Slack thread
        settings=(Env.MODEL_PRICES, Env.SLACK_API_BASE),  # the cost of a run's usage
    ),
    _handler_function(
        "slack",
        timeout_seconds=15,  # Slack wants its answer in 3 s; the agent's work leaves through the task queue
        # audit: a change-set decision, and a refused attempt at one, in the audit trail (runtime/slack/workflows.py)
        tables=("idempotency", "projects", "invocations", "workflows", "audit"),
        queues_send=("tasks",),
        secrets=("notion-token", "slack-signing-secret", "slack-bot-token"),
        stops_agents=True,  # /aidlc cancel stops the agent session
        starts_workflows=True,  # /aidlc onboard | provision | status | cancel | resume, the approval button
        settings=(Env.SLACK_API_BASE,),
    ),
    _handler_function(
        "api",
        timeout_seconds=30,
        tables=("invocations", "projects", "workflows", "audit"),  # audit: POST /workflows/{id}/approve's decision
        queues_send=("tasks",),
        stops_agents=True,  # POST /invocation/{id}/cancel stops the agent session
        starts_workflows=True,  # POST /workflows and the approve / cancel / resume routes
    ),
    _sweeper("reconcile", "rate(15 minutes)", timeout_seconds=300, queues_send=("tasks",)),
    # Every minute: a run silent for 120 s (a dead or hung agent) is failed within 3 minutes, not at its timeout.
    _sweeper("timeouts", "rate(1 minute)", stops_agents=True),  # a timed-out run's session is stopped
    _sweeper("budget_alerts", "rate(1 hour)"),
    Function(
        "tool_gateway",
        "runtime.tools.gateway_target.handler",
        timeout_seconds=300,
        memory_mb=1024,
        tables=("audit",),
        secrets=("notion-token", "github-token", "tool-token-key"),
        buckets=("prototypes",),
        pipeline=False,
        settings=(Env.NOTION_API_BASE, Env.PROTOTYPE_BASE_URL, Env.PROTOTYPE_EXPIRY_DAYS, Env.BROWSER, Env.GITHUB_REPO,
                  Env.GITHUB_API_BASE, Env.LOCAL_GIT_REMOTE, Env.POLICY_DIRS, Env.KB_ID, Env.KB_LOCAL_INDEX),
        knowledge_base="retrieve",  # kb_retrieve
    ),
    _handler_function(
        "sync",
        timeout_seconds=300,  # a data source of a few hundred rows at Notion's 3 requests/s; bigger ones resume
        tables=("kb-state", "projects"),  # projects: a stories row's project, for the retrieval filter
        queues_send=("kb-sync",),
        queues_consume=("kb-sync",),
        secrets=("notion-token",),
        buckets=("kb-documents",),
        knowledge_base="sync",
        pipeline=False,  # built by components/knowledge_base.py with the bucket and the KB it writes to
        settings=(Env.PROJECT_CONFIG, Env.NOTION_API_BASE, Env.KB_ID, Env.KB_DATA_SOURCE_ID, Env.KB_LOCAL_INDEX,
                  Env.API_REQUIRE_IAM),
    ),
)
FUNCTIONS_BY_NAME: dict[str, Function] = {f.logical_name: f for f in FUNCTIONS}

# The onboarding workflows (seed 003, issue 13): Lambda durable functions, one per workflow kind. Declared here for
# the Pulumi program (durable_config, python3.13, the roles from what they use) and built by the local stack;
# kept out of FUNCTIONS until the program creates them, so every FUNCTIONS entry has its Lambda.
_WORKFLOW_USES = dict(
    timeout_seconds=900,  # one invocation; the execution itself lasts up to durable_config.execution_timeout
    memory_mb=1024,  # cfn-lint validates the package in the onboarding workflow
    tables=("workflows", "audit"),  # state and breakers; the audit trail of every tool and AWS call
    buckets=("packages",),
    secrets=("slack-bot-token",),  # each step posted into the workflow's Slack thread
    durable=True,
    pipeline=False,
    settings=(Env.SLACK_API_BASE, Env.ACCESS_ROLE_NAME, Env.POLICY_DIRS),
)
WORKFLOW_FUNCTIONS: tuple[Function, ...] = (
    Function("onboarding_workflow", "runtime.onboarding.workflows.onboarding.handler",
             aws=("organizations",), **_WORKFLOW_USES),  # starts provisioning: WORKFLOW_FUNCTIONS (durable=True)
    Function("provisioning_workflow", "runtime.onboarding.workflows.provisioning.handler",
             aws=("organizations", "assume-access-role"), **_WORKFLOW_USES),
)
WORKFLOW_FUNCTION_FOR: dict[str, str] = {"onboarding": "onboarding_workflow", "provisioning": "provisioning_workflow"}
# The workflows' circuit breakers, one per external service, and the metrics a breaker's opening and a critical
# error emit: the runtime (runtime/onboarding/workflows/resilience.py) and the Pulumi program's alarms read them.
BREAKER_SERVICES = ("organizations", "cloudformation", "s3", "slack")
WORKFLOW_METRIC_NAMESPACE = "aidlc/workflows"
CIRCUIT_OPEN_METRIC = "WorkflowCircuitOpen"
CRITICAL_METRIC = "WorkflowCriticalError"  # a workflow halted on an error retrying cannot fix


@dataclass(frozen=True)
class PhysicalNames:
    """Where one deployment's resources are, and its deployment-wide settings: what `function_environment` needs.

    Values are plain strings locally and in tests, `pulumi.Output[str]` (or any `pulumi.Input`) in the Pulumi
    program; they are passed through untouched, never inspected.

    - `tables`:   table logical name  -> physical table name
    - `queues`:   queue logical name  -> queue URL
    - `secrets`:  secret logical name -> secret ARN (AWS) or name (local); never the value
    - `buckets`:  bucket logical name -> bucket name
    - `settings`: `Env` name -> value, for the deployment-wide settings (stack, project config JSON, model prices,
      agent runtimes JSON and qualifier, prototype base URL, plugin dirs, Powertools' service name...). A function
      gets only the names its declaration reads (`Function.setting_names()`); a name absent here, or None, is left
      out of the environment (the reader's default applies).
    """

    tables: Mapping[str, Any] = field(default_factory=dict)
    queues: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    buckets: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


def function_environment(function: Function, names: PhysicalNames) -> dict[str, Any]:
    """The environment variables `function` runs with, derived from its declaration: the physical names/URLs/ARNs
    of the tables, queues, secrets and buckets it declares, plus the settings it reads that `names.settings` has.

    The Pulumi program (components/orchestration.py, components/agentcore.py for the tool gateway) and the local
    stack both call this, so a function gets the same variables in AWS and on one machine; the handler tests run
    each handler with exactly this and nothing from the process environment. A resource the function declares
    but `names` lacks is a `ValueError` naming both (a wiring bug, found at `pulumi preview` or stack start)."""

    def lookup(kind: str, mapping: Mapping[str, Any], logical: str) -> Any:
        try:
            return mapping[logical]
        except KeyError:
            raise ValueError(f"function {function.logical_name!r} uses {kind} {logical!r}, "
                             f"which the deployment's names do not include") from None

    env: dict[str, Any] = {}
    for table in function.tables:
        env[TABLES_BY_NAME[table].env_var] = lookup("table", names.tables, table)
    for queue in dict.fromkeys((*function.queues_send, *function.queues_consume)):
        env[QUEUES_BY_NAME[queue].env_var] = lookup("queue", names.queues, queue)
    for secret in function.secrets:
        env[SECRETS_BY_NAME[secret].env_var] = lookup("secret", names.secrets, secret)
    for bucket in function.buckets:
        env[BUCKETS_BY_NAME[bucket].env_var] = lookup("bucket", names.buckets, bucket)
    for name in function.setting_names():
        value = names.settings.get(name)
        if value is not None:
            env[name] = value
    return env


# The agent app AgentCore Runtime runs, one runtime per plugin, same code.
AGENT_APP_ENTRY_POINT = "runtime/agent/app.py"

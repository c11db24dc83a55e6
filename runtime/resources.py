"""The queues, tables, bucket and secrets aidlc needs, declared once.

The Pulumi components create them in AWS from these declarations; the local stack creates the same ones in moto;
the handlers find them through the environment variables named in `Env`. Change a table here and all three follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    NOTION_API_BASE = "NOTION_API_BASE"  # unset in AWS: notion-client's default
    PROTOTYPE_BASE_URL = "PROTOTYPE_BASE_URL"  # CloudFront (AWS) or the local stack's /prototypes
    AGENT_RUNTIMES = "AIDLC_AGENT_RUNTIMES"  # JSON {agent_type: runtime ARN or loopback URL}
    AGENT_QUALIFIER = "AIDLC_AGENT_QUALIFIER"  # AgentCore endpoint qualifier, default DEFAULT
    GATEWAY_URL = "AIDLC_GATEWAY_URL"  # the MCP endpoint agents call tools through
    AGENT_NAME = "AIDLC_AGENT"  # which plugin an agent runtime is deployed as
    MODEL_ID = "AIDLC_MODEL_ID"
    MODEL_PROVIDER = "AIDLC_MODEL"  # bedrock | offline
    MODEL_PRICES = "AIDLC_MODEL_PRICES"  # JSON {model_id: {input_per_million, output_per_million}}
    GITHUB_REPO = "AIDLC_GITHUB_REPO"
    GITHUB_API_BASE = "GITHUB_API_BASE"
    LOCAL_GIT_REMOTE = "AIDLC_LOCAL_GIT_REMOTE"  # a bare repository path: the offline GitHub backend


INVOCATIONS = Table(
    logical_name="invocations",
    env_var="INVOCATIONS_TABLE",
    hash_key="invocation_id",
    indexes=(
        Index("by_project", "project_id", "created_at"),
        Index("by_page", "notion_page_id", "created_at"),
        Index("by_status", "status", "created_at"),
    ),
    purpose="agent invocation records (seed 2.1)",
)
PROJECTS = Table(
    logical_name="projects",
    env_var="PROJECTS_TABLE",
    hash_key="pk",
    purpose="project configuration (seed 2.2) and per-month budget counters",
)
IDEMPOTENCY = Table(
    logical_name="idempotency",
    env_var="IDEMPOTENCY_TABLE",
    hash_key="id",
    ttl_attribute="expiration",
    purpose="Powertools idempotency records for webhook deliveries",
)
AUDIT = Table(
    logical_name="audit",
    env_var="AUDIT_TABLE",
    hash_key="invocation_id",
    range_key="seq",
    ttl_attribute="expires_at",
    purpose="one record per tool call: agent, tool, argument digest, outcome, duration",
)
TABLES: tuple[Table, ...] = (INVOCATIONS, PROJECTS, IDEMPOTENCY, AUDIT)

TASKS = Queue(
    logical_name="tasks",
    env_var="TASK_QUEUE_URL",
    fifo=True,
    visibility_timeout_seconds=180,
    purpose="invocations to start, one message group per Notion page",
)
COMPLETIONS = Queue(
    logical_name="completions",
    env_var="COMPLETION_QUEUE_URL",
    fifo=False,
    visibility_timeout_seconds=180,
    purpose="completion events from agent runs",
)
QUEUES: tuple[Queue, ...] = (TASKS, COMPLETIONS)

PROTOTYPES = Bucket(
    logical_name="prototypes",
    env_var="PROTOTYPE_BUCKET",
    purpose="hosted prototypes under {invocation_id}/, expired by lifecycle rule",
)

NOTION_TOKEN = Secret("notion-token", "NOTION_TOKEN_SECRET", "the Notion integration token")
GITHUB_TOKEN = Secret("github-token", "GITHUB_TOKEN_SECRET", "the GitHub token for the code and review agents")
WEBHOOK_VERIFICATION = Secret(
    "webhook-verification-token", "WEBHOOK_SECRET", "Notion's webhook verification_token (written by the webhook)"
)
AUTOMATION_SECRET = Secret(
    "automation-secret", "AUTOMATION_SECRET", "the shared secret Notion automations send in X-Aidlc-Automation-Secret"
)
SECRETS: tuple[Secret, ...] = (NOTION_TOKEN, GITHUB_TOKEN, WEBHOOK_VERIFICATION, AUTOMATION_SECRET)


@dataclass(frozen=True)
class Function:
    """A Lambda function: its handler, what it needs, and whether it carries the agent-only packages."""

    logical_name: str
    handler: str
    timeout_seconds: int = 30
    memory_mb: int = 512
    tables: tuple[str, ...] = ()
    queues_send: tuple[str, ...] = ()
    queues_consume: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    schedule: str | None = None
    invokes_agents: bool = False
    extra: dict[str, str] = field(default_factory=dict)


FUNCTIONS: tuple[Function, ...] = (
    Function(
        "webhook",
        "runtime.handlers.webhook.handler",
        timeout_seconds=15,
        tables=("idempotency", "projects"),
        queues_send=("tasks",),
        secrets=("notion-token", "webhook-verification-token", "automation-secret"),
    ),
    Function(
        "orchestrator",
        "runtime.handlers.orchestrator.handler",
        timeout_seconds=120,
        tables=("invocations", "projects"),
        queues_consume=("tasks",),
        secrets=("notion-token",),
        invokes_agents=True,
    ),
    Function(
        "completion",
        "runtime.handlers.completion.handler",
        timeout_seconds=120,
        tables=("invocations", "projects"),
        queues_consume=("completions",),
        queues_send=("tasks",),
        secrets=("notion-token",),
    ),
    Function(
        "api",
        "runtime.handlers.api.handler",
        timeout_seconds=30,
        tables=("invocations", "projects"),
        queues_send=("tasks",),
        invokes_agents=True,  # POST /invocation/{id}/cancel stops the agent session
    ),
    Function(
        "reconcile",
        "runtime.handlers.sweepers.reconcile_handler",
        timeout_seconds=300,
        tables=("invocations", "projects"),
        queues_send=("tasks",),
        secrets=("notion-token",),
        schedule="rate(15 minutes)",
    ),
    Function(
        "timeouts",
        "runtime.handlers.sweepers.timeouts_handler",
        timeout_seconds=120,
        tables=("invocations", "projects"),
        secrets=("notion-token",),
        schedule="rate(5 minutes)",
        invokes_agents=True,
    ),
    Function(
        "budget_alerts",
        "runtime.handlers.sweepers.budget_alerts_handler",
        timeout_seconds=120,
        tables=("invocations", "projects"),
        secrets=("notion-token",),
        schedule="rate(1 hour)",
    ),
    Function(
        "tool_gateway",
        "runtime.tools.gateway_target.handler",
        timeout_seconds=300,
        memory_mb=1024,
        tables=("audit",),
        secrets=("notion-token", "github-token"),
        extra={"bucket": "prototypes"},
    ),
)

# The agent app AgentCore Runtime runs, one runtime per plugin, same code.
AGENT_APP_ENTRY_POINT = "runtime/agent/app.py"

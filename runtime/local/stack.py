"""The embedded local stack: every part of aidlc on one machine, no cloud account, no network but loopback.

What runs, and what stands in for what:

| In AWS                         | Locally                                                        |
|--------------------------------|----------------------------------------------------------------|
| SQS, DynamoDB, S3, Secrets     | moto's server on loopback, resources from runtime/resources.py |
| Notion                         | the workspace emulator (runtime/local/notion_emulator.py)      |
| API Gateway + Lambda           | the local gateway calling the same handler functions           |
| SQS event source mappings      | pollers building the same SQS events                           |
| EventBridge schedules          | a timer calling the sweeper handlers                           |
| AgentCore Runtime, per plugin  | the same agent app, one loopback server per plugin             |
| AgentCore Gateway (MCP)        | the local MCP server over the same tool registry               |
| AgentCore Memory (data plane)  | the memory stand-in (runtime/local/agentcore_memory.py)        |
| GitHub                         | a bare git repository with pull-request records                |
| CloudFront                     | `/prototypes/...` on the local gateway                         |
| Bedrock                        | the offline model (unless --model bedrock)                     |
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import logging
import secrets
import socket
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from runtime import resources
from runtime.local import aws as local_aws
from runtime.local.polling import wait_until

log = logging.getLogger("aidlc.local")

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port
    state_dir: Path = Path(".aidlc")
    model: str = "offline"  # PROVIDER[:MODEL] (runtime.agent.models): offline, bedrock, openai:gpt-4o-mini...
    stack: str = "dev"  # which Pulumi.<stack>.yaml the local project is configured from
    sweep_interval_seconds: float = 30.0
    on_event: Any = None  # callable(str) for the readable pipeline log; None: quiet
    verbose: bool = False  # show the handlers' and agent apps' own JSON logs
    record_calls: bool = False  # also write every AWS call to <state_dir>/aws-calls.jsonl (runtime/observe/calls.py)
    trace_calls: bool = False  # log every AWS, Notion and model call by stage and invocation; also <state_dir>/calls.jsonl


@dataclass
class DevInfo:
    """What `GET /dev/info` answers: local, throwaway values, never exposed in AWS."""

    notion_api_base: str
    notion_token: str
    notion_user_token: str
    stories_data_source_id: str
    dashboard_data_source_id: str
    project_id: str
    webhook_url: str
    webhook_verification_token: str
    automation_secret: str
    api_base: str
    dashboard_url: str
    mcp_url: str = ""
    aws_endpoint_url: str = ""
    agent_endpoints: dict[str, str] = field(default_factory=dict)
    git_remote: str = ""
    # Slack (runtime/local/slack_emulator.py): act as Slack (sign with the secret) or as a person (the user token).
    slack_api_base: str = ""
    slack_bot_token: str = ""
    slack_user_token: str = ""
    slack_signing_secret: str = ""
    slack_channel_id: str = ""
    slack_channel_url: str = ""  # the channel view: type /aidlc commands, press buttons, watch threads
    slack_events_url: str = ""
    slack_commands_url: str = ""
    slack_interactivity_url: str = ""
    projects_data_source_id: str = ""  # the Projects rows: one more project each (runtime/pipeline/project_sync.py)
    example_project_id: str = ""  # the second team's project, from its Projects row
    example_stories_data_source_id: str = ""
    # GitHub's webhook (review comments on PRs, runtime/pipeline/feedback.py): where the local remote delivers, and
    # the secret it signs X-Hub-Signature-256 with (POST /dev/git/pr/<n>/review does both)
    github_webhook_url: str = ""
    github_webhook_secret: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quiet_agent_app_logs() -> None:
    for name in ("bedrock_agentcore", "bedrock_agentcore.app"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The runs' Powertools logger: created once per process (Powertools sets its level when it is created, so it is
    # created here and then lowered, rather than told through POWERTOOLS_LOG_LEVEL in the process environment).
    from runtime.agent.runner import _run_logger

    _run_logger().setLevel(logging.WARNING)


def _quiet_handler_logs() -> None:
    """The handlers' Powertools JSON logs are for CloudWatch; locally the pipeline log (runtime/local/follow.py) says
    the same in one line per step. (Logger levels are process-wide, like the loggers themselves.)"""
    for function in resources.FUNCTIONS:
        module = importlib.import_module(function.handler.rsplit(".", 1)[0])
        logger = getattr(module, "logger", None)
        if logger is not None:
            logger.setLevel(logging.WARNING)


@dataclass
class LocalFunction:
    """One deployed function, locally: its declaration, exactly the environment the Pulumi program gives it (values
    local), and its handler bound to services built from that environment alone."""

    function: resources.Function
    environment: dict[str, str]
    services: Any
    handler: Any  # (event, context) -> result, as Lambda calls it

    def __call__(self, event: dict, context: Any) -> Any:
        from runtime.observe.trace import in_stage

        with in_stage(self.function.logical_name):  # its calls count as this function's (runtime/observe/trace.py)
            return self.handler(event, context)


class StartRefused(RuntimeError):
    """The stack will not start on these options (its state folder or port); the message says what to change."""


def _checked_state_dir(raw: Any) -> Path:
    """The state folder, made if missing; refused at once when it can't be one (`--state ''` would be the current
    folder, so an empty value is refused rather than resolved)."""
    if raw is None or not str(raw).strip() or (isinstance(raw, str) and not raw.strip()):
        raise StartRefused("the state folder is empty; give --state a folder, e.g. --state .aidlc")
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise StartRefused(f"the state folder {path} is a file; give --state a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartRefused(f"cannot make the state folder {path}: {exc.strerror}; give --state a folder you can "
                           f"write to") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StartRefused(f"the state folder {path} is not writable; give --state a folder you can write to")
    return path


def _lock_state_dir(path: Path) -> int:
    """Hold an exclusive lock on the state folder for as long as the stack runs (released when its descriptor
    closes, so also when the process is killed). Two stacks on one folder would overwrite each other's journal."""
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise StartRefused(f"the state folder {path} is in use by another aidlc dev (pid {holder}); stop it, or "
                           f"give this one another --state") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartRefused(f"port {port} on {host} is in use ({exc.strerror}); stop what uses it, or give "
                               f"--port another port") from None


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class LocalStack:
    """Start with `start()` (or `with LocalStack(options) as stack:`); `stop()` shuts everything down cleanly."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._raw_state_dir = options.state_dir
        self.state_dir = Path(options.state_dir or ".").resolve()  # checked (and refused if unusable) on start
        self.info: DevInfo | None = None
        self._exit = ExitStack()
        self._stop = threading.Event()
        self.pollers: list[Any] = []
        self.aws: local_aws.LocalAws | None = None
        self.functions: dict[str, LocalFunction] = {}
        from runtime.observe.calls import CallRecorder

        # Every AWS call any part of this stack makes, attributed to its principal (see `clients_for`).
        self.calls = CallRecorder(path=self.state_dir / "aws-calls.jsonl" if options.record_calls else None)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clients_for(self, principal: str):
        """boto3 clients for one principal (a function's logical name, `agent:<name>`, or `local` for the stack's own
        housekeeping), against this stack's moto, with every call recorded in `self.calls`."""
        from runtime.aws_clients import AwsClients

        return AwsClients(principal, recorder=self.calls, endpoint_url=self.aws.endpoint_url,
                          region=local_aws.LOCAL_REGION, credentials=("local", "local"))

    def _event(self, message: str) -> None:
        if self.options.on_event:
            self.options.on_event(message)

    def start(self) -> DevInfo:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> DevInfo:
        opts = self.options
        self.state_dir = _checked_state_dir(self._raw_state_dir)
        self._exit.callback(os.close, _lock_state_dir(self.state_dir))
        if opts.port:
            _check_port_free(opts.host, opts.port)
        port = opts.port or _free_port(opts.host)
        self.started_at = datetime.now(timezone.utc)
        base_url = self.base_url = f"http://{opts.host}:{port}"
        local_secrets = self._local_secrets()
        if self.calls.path is not None:
            self.calls.path.unlink(missing_ok=True)  # this run's calls only
        if opts.trace_calls:
            self._start_call_trace()
        if not opts.verbose:
            _quiet_handler_logs()
            _quiet_agent_app_logs()

        # 1. AWS on loopback, with the declared resources, and what a previous run kept.
        moto_server, endpoint = local_aws.start_moto()
        self._exit.callback(moto_server.stop)
        # moto's backends are per process, shared with any other stack in it: this stack's resources get a prefix of
        # their own (kept in the state folder: the journal names its tables), and are deleted on stop (after the
        # snapshot), so a stopped stack leaves nothing behind.
        prefix = local_secrets.setdefault("aws_prefix", f"aidlc-{opts.stack}-{secrets.token_hex(3)}")
        local_secrets.setdefault("github_webhook_secret", secrets.token_urlsafe(24))  # a state folder from before it
        (self.state_dir / "secrets.json").write_text(json.dumps(local_secrets))
        self.aws = local_aws.create_resources(endpoint, prefix, {"automation-secret": local_secrets["automation_secret"]})
        self._exit.callback(local_aws.delete_resources, self.aws)
        self.housekeeping = self.clients_for("local")
        self._moto = moto_server
        restored, replayed = local_aws.resume(moto_server, self.aws, self.state_dir)
        self._exit.callback(self._snapshot)  # only once resumed: a snapshot before would drop the journal's writes
        self._event(f"aws       moto on {endpoint} ({restored} items restored, {replayed} journaled writes replayed)")

        # 2. Notion.
        from runtime.local.notion_emulator import NotionEmulator
        from runtime.local.server import serve

        # Page URLs point at the dashboard's page view, so links in comments and artifacts open locally.
        emulator = NotionEmulator(self.state_dir / "notion", page_url_base=f"{base_url}/dev/notion")
        notion_server = serve(emulator.app, host=opts.host, port=0)
        self._exit.callback(notion_server.stop)
        from runtime.notion.schema import workspace_schema

        seed = emulator.seed_workspace(workspace_schema())  # the plugins' statuses; the emulator knows only Notion
        # The Projects data source with a second team's row (runtime/pipeline/project_sync.py): through the Notion
        # API, as a person would set up a real workspace; the reconcile sweep at start syncs the row.
        from runtime.notion.adapter import NotionAdapter
        from runtime.pipeline.project_sync import seed_example_project

        self.example_project = seed_example_project(
            NotionAdapter(emulator.user_token, base_url=notion_server.base_url), parent_page_id=seed.root_page_id,
            status_values=list(workspace_schema().status_values))
        self.emulator = emulator
        self.notion_api_base = notion_server.base_url
        self._put_secret(resources.NOTION_TOKEN, emulator.integration_token)
        self._event(f"notion    emulator on {notion_server.base_url}")

        # 2b. Slack: the workspace emulator, its signing secret and bot token stored as the Slack app's would be.
        from runtime.local.slack_emulator import SlackEmulator

        slack = self.slack = SlackEmulator()
        slack_server = serve(slack.starlette, host=opts.host, port=0)
        self._exit.callback(slack_server.stop)
        self.slack_api_base = slack_server.base_url + "/api/"
        self._put_secret(resources.SLACK_SIGNING_SECRET, slack.signing_secret)
        self._put_secret(resources.SLACK_BOT_TOKEN, slack.bot_token)
        # The GitHub webhook's secret, as typed into a repository's webhook settings; the local remote signs with it.
        self._put_secret(resources.GITHUB_WEBHOOK_SECRET, local_secrets["github_webhook_secret"])
        self._event(f"slack     emulator on {slack_server.base_url} (channel view {slack_server.base_url}/)")

        # 3. The project, configured from Pulumi.<stack>.yaml where it applies, and the deployment-wide settings
        # each function takes what it reads from (runtime/resources.py: function_environment).
        project = self._project_config(seed)
        self.project = project
        self.git_remote = self.state_dir / "git" / "remote.git"
        self.settings: dict[str, str] = {
            resources.Env.STACK: opts.stack,
            resources.Env.NOTION_API_BASE: notion_server.base_url,
            resources.Env.SLACK_API_BASE: self.slack_api_base,
            resources.Env.PROTOTYPE_BASE_URL: f"{base_url}/prototypes",
            resources.Env.PROJECT_CONFIG: project.model_dump_json(),
            resources.Env.MODEL_PROVIDER: opts.model,
            # The stack's aidlc:modelPrices, as the Pulumi program gives them to the completion step and the agents.
            resources.Env.MODEL_PRICES: self.stack_config.model_prices_json(),
            resources.Env.LOCAL_GIT_REMOTE: str(self.git_remote),
            resources.Env.PROTOTYPE_EXPIRY_DAYS: str(project.prototype_expiry_days),
            # AWS waits 30 s and 60 s before retrying an agent invoke or a Notion write-back; locally a failing
            # step should show up in seconds, not hold a poller for a minute and a half.
            resources.Env.INVOKE_RETRY_DELAYS: "[1, 2]",
            resources.Env.WRITEBACK_RETRY_DELAYS: "[1, 2]",
            resources.Env.DEFER_SECONDS: "[1, 5]",  # a capped task retries within seconds locally
            # Cost metrics are CloudWatch embedded-metric lines on stdout; the dashboard shows the same figures.
            resources.Env.POWERTOOLS_METRICS_DISABLED: "true",
            # The local gateway has no SigV4 verifier to stand behind (AWS_IAM auth on the routes in AWS).
            resources.Env.API_REQUIRE_IAM: "false",
            # The knowledge base: an SQLite FTS5 index in the state folder stands in for Bedrock's (runtime/kb).
            resources.Env.KB_LOCAL_INDEX: str(self.state_dir / "kb-index.sqlite3"),
        }

        # 4. Tools: the local MCP gateway over the tool registry.
        from runtime.tools.mcp_server import serve_mcp

        mcp = serve_mcp(self.tool_registry(), self.tool_services(), host=opts.host, port=0)
        self._exit.callback(mcp.stop)
        self.tool_tokens = mcp.tokens  # the MCP endpoint's key: each agent app gets its own token per run from it
        self.settings[resources.Env.GATEWAY_URL] = mcp.url
        self._event(f"tools     MCP gateway on {mcp.url}")

        # 5. One agent app per plugin, on loopback (the AgentCore HTTP contract).
        from runtime.registry import get_registry, reset_registry

        reset_registry()  # pick up plugins dropped in since the last start
        self.registry = get_registry()
        # 5a. AgentCore Memory's data plane for the agents with uses_memory: the stand-in on loopback, its events and
        # records kept in the state folder (runtime/local/agentcore_memory.py says what it does not emulate).
        from runtime.local.agentcore_memory import MemoryStandIn, memory_configs

        memories = memory_configs(self.registry.get(name) for name in self.registry.agents)
        self.memory = MemoryStandIn(list(memories.values()), self.state_dir / "agentcore-memory.json")
        memory_server = serve(self.memory.app, host=opts.host, port=0)
        self._exit.callback(memory_server.stop)
        self.memory_url = memory_server.base_url
        self.memory_ids = {agent: config.memory_id for agent, config in memories.items()}
        self._event(f"memory    AgentCore Memory stand-in on {self.memory_url} ({', '.join(memories) or 'no agent'})")
        endpoints: dict[str, str] = {}
        for name in self.registry.agents:
            agent_server = serve(self._agent_app(name), host=opts.host, port=0)
            self._exit.callback(agent_server.stop)
            endpoints[name] = agent_server.base_url
        if not opts.verbose:
            _quiet_agent_app_logs()  # the apps set their loggers to INFO when created
        self.settings[resources.Env.AGENT_RUNTIMES] = json.dumps(endpoints)
        self._event(f"agents    {len(endpoints)} agent runtimes: {', '.join(endpoints)}")

        # 6. The functions, each with exactly its own environment; then the front door, then the webhook
        # subscription (the verification handshake goes through it).
        self._build_functions()
        self._start_workflows()
        from runtime.local.dashboard import DashboardViews
        from runtime.local.gateway import create_gateway_app, loopback_hosts

        self.dashboard = DashboardViews(self)

        gateway = serve(create_gateway_app(self._backends(), allowed_hosts=loopback_hosts(port, opts.host)),
                        host=opts.host, port=port)
        self._exit.callback(gateway.stop)
        webhook_url = f"{base_url}/webhook/notion"
        slack.connect(events_url=f"{base_url}/slack/events", commands_url=f"{base_url}/slack/commands",
                      interactivity_url=f"{base_url}/slack/interactivity")
        # A new subscription each start (its token handed to the webhook, which stores it); the stored secret is
        # read back, so a stack whose webhook would refuse every event (401) stops here with the reason instead.
        verification_token = emulator.subscribe(webhook_url)
        stored_token = self.housekeeping.client("secretsmanager").get_secret_value(
            SecretId=self.aws.secrets[resources.WEBHOOK_VERIFICATION.logical_name])["SecretString"]
        if stored_token != verification_token:
            raise RuntimeError("the webhook did not store the Notion subscription's verification token; every "
                               "Notion event would be refused (401)")

        # 7. Queue workers and the sweepers' schedule.
        self._start_workers()

        self.info = DevInfo(
            notion_api_base=notion_server.base_url,
            notion_token=emulator.integration_token,
            notion_user_token=emulator.user_token,
            stories_data_source_id=seed.stories_data_source_id,
            dashboard_data_source_id=seed.dashboard_data_source_id,
            project_id=project.project_id,
            webhook_url=webhook_url,
            projects_data_source_id=self.example_project.projects_data_source_id,
            example_project_id=self.example_project.project_id,
            example_stories_data_source_id=self.example_project.stories_data_source_id,
            webhook_verification_token=verification_token,
            automation_secret=local_secrets["automation_secret"],
            api_base=base_url,
            dashboard_url=f"{base_url}/",
            mcp_url=mcp.url,
            aws_endpoint_url=endpoint,
            agent_endpoints=endpoints,
            git_remote=str(self.git_remote),
            slack_api_base=self.slack_api_base,
            slack_bot_token=slack.bot_token,
            slack_user_token=slack.user_token,
            slack_signing_secret=slack.signing_secret,
            slack_channel_id=slack.channel_id,
            slack_channel_url=slack_server.base_url + "/",
            slack_events_url=f"{base_url}/slack/events",
            slack_commands_url=f"{base_url}/slack/commands",
            slack_interactivity_url=f"{base_url}/slack/interactivity",
            github_webhook_url=f"{base_url}/webhook/github",
            github_webhook_secret=local_secrets["github_webhook_secret"],
        )
        self._event(f"ready     dashboard {base_url}/")
        return self.info

    def physical_names(self) -> resources.PhysicalNames:
        return resources.PhysicalNames(
            tables=self.aws.tables, queues=self.aws.queue_urls, secrets=self.aws.secrets,
            buckets={resources.PROTOTYPES.logical_name: self.aws.bucket,
                     # named for the sync function's environment; never written locally (the local index is)
                     resources.KB_DOCUMENTS.logical_name: f"{self.aws.prefix}-{resources.KB_DOCUMENTS.logical_name}",
                     resources.PACKAGES.logical_name: f"{self.aws.prefix}-{resources.PACKAGES.logical_name}"},
            settings=self.settings,
        )

    def _start_workflows(self) -> None:
        """The onboarding workflows (Lambda durable functions in AWS) in this process, on the durable SDK's runner:
        each workflow function as Lambda would run it, its services from exactly its derived environment and its
        AWS calls made as its own principal against this stack's moto (Organizations, STS, CloudFormation, S3,
        DynamoDB; the IAM coverage check reads them), its steps posted to the Slack emulator; the API and Slack
        functions get an engine from their own environment (/workflows, /aidlc onboard ...)."""
        from runtime.onboarding.package_store import ensure_package_bucket
        from runtime.onboarding.workflows import onboarding, provisioning
        from runtime.onboarding.workflows.engine import LocalBackend, WorkflowEngine
        from runtime.onboarding.workflows.local import declared_agent_tools
        from runtime.onboarding.workflows.wiring import engine_from_environment, services_from_environment

        names = self.physical_names()
        ensure_package_bucket(self.clients_for("local").client("s3"),
                              names.buckets[resources.PACKAGES.logical_name], local_aws.LOCAL_REGION)
        agent_tools = declared_agent_tools()
        services = {}
        for function in resources.WORKFLOW_FUNCTIONS:
            environment = resources.function_environment(function, names)
            services[function.logical_name] = services_from_environment(
                environment, clients=self.clients_for(function.logical_name), agent_tools=agent_tools,
                aws_options={"principal": function.logical_name, "recorder": self.calls,
                             "endpoint_url": self.aws.endpoint_url, "region": local_aws.LOCAL_REGION,
                             "credentials": ("local", "local")})
        for_kind = {kind: services[function] for kind, function in resources.WORKFLOW_FUNCTION_FOR.items()}
        backend = LocalBackend({"onboarding": onboarding.make_handler(for_kind["onboarding"]),
                                "provisioning": provisioning.make_handler(for_kind["provisioning"])})
        self._exit.callback(backend.close)
        for each in services.values():
            WorkflowEngine(each, backend)  # an onboarding starts its provisioning through it
        for name in ("api", "slack"):
            if name in self.functions:
                function = self.functions[name]
                function.services.workflows = engine_from_environment(
                    function.environment, clients=self.clients_for(name), backend=backend)
        self._event("workflows onboarding and provisioning on the durable SDK's local runner, each with its own "
                    "environment")

    def _build_functions(self) -> None:
        """Every pipeline function as Lambda would run it: settings from its derived environment only, its own
        clients (so its calls are attributed to it), its handler bound to those services."""
        from runtime.pipeline.services import PipelineServices
        from runtime.pipeline.settings import PipelineSettings

        names = self.physical_names()
        for function in resources.FUNCTIONS:
            if not function.pipeline:
                continue  # the tool gateway is served by the local MCP server (tool_services)
            environment = resources.function_environment(function, names)
            services = PipelineServices(PipelineSettings.from_env(environment), registry=self.registry,
                                        clients=self.clients_for(function.logical_name))
            module, name = function.handler.rsplit(".", 1)
            handler = partial(getattr(importlib.import_module(module), name), services=services)
            self.functions[function.logical_name] = LocalFunction(function, environment, services, handler)
        self._build_kb_sync(names)

    def _build_kb_sync(self, names: resources.PhysicalNames) -> None:
        """The knowledge base's sync function (its own services, runtime.kb.services), from its derived environment
        like the others: the webhook's page events and POST /sync/* reach it through its queue and its routes."""
        from runtime.handlers.sync import handler as sync_handler
        from runtime.kb.services import KbServices, KbSettings

        function = resources.FUNCTIONS_BY_NAME["sync"]
        environment = resources.function_environment(function, names)
        services = KbServices(KbSettings.from_env(environment), clients=self.clients_for(function.logical_name))
        self.functions[function.logical_name] = LocalFunction(
            function, environment, services, partial(sync_handler, services=services))

    def _agent_app(self, name: str):
        """One agent runtime: the agent app with the settings AgentCore would give it, its completion queue and
        audit table reached through its own clients (`agent:<name>`)."""
        from botocore.config import Config

        from runtime.agent.app import create_app
        from runtime.tools.audit import DynamoDbAuditSink
        from runtime.agent.completion import SqsCompletionSink
        from runtime.agent.runner import RunOptions
        from runtime.agent.settings import AgentSettings

        from runtime.agent.memory import AgentCoreMemory
        from runtime.aws_clients import AwsClients

        clients = self.clients_for(f"agent:{name}")
        memory_id = self.memory_ids.get(name)
        # The same principal's recorded session, its endpoint the memory stand-in (the IAM coverage check reads it).
        memory = AgentCoreMemory(memory_id, region=local_aws.LOCAL_REGION, clients=AwsClients(
            f"agent:{name}", recorder=self.calls, endpoint_url=self.memory_url, region=local_aws.LOCAL_REGION,
            credentials=("local", "local"))) if memory_id else None
        settings = AgentSettings.from_env({
            **({resources.Env.MEMORY_ID: memory_id} if memory_id else {}),
            resources.Env.AGENT_NAME: name,
            resources.Env.MODEL_PROVIDER: self.options.model,
            # The stack's aidlc:modelPrices, so a model it prices (a local one at 0, say) may run and is costed.
            resources.Env.MODEL_PRICES: self.settings[resources.Env.MODEL_PRICES],
            resources.Env.GATEWAY_URL: self.settings[resources.Env.GATEWAY_URL],
            resources.COMPLETIONS.env_var: self.aws.queue_urls[resources.COMPLETIONS.logical_name],
            resources.AUDIT.env_var: self.aws.tables[resources.AUDIT.logical_name],
        })
        # One attempt per call: the sink's own retry policy is the only one (see SqsCompletionSink).
        sqs = clients.client("sqs", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        sink = SqsCompletionSink(settings.completion_queue_url, client=sqs)
        audit = DynamoDbAuditSink(settings.audit_table, client=clients.client("dynamodb"))
        return create_app(agent_name=name, settings=settings, sink=sink,
                          options_factory=lambda request: RunOptions(
                              audit=audit, registry=self.registry, memory=memory,
                              # bound to this app's agent, whatever the request claims (the app refuses others)
                              tool_token=self.tool_tokens.issue(name, request.invocation_id,
                                                                protected_paths=request.project.protected_paths)))

    def stop(self) -> None:
        """Stop within seconds: the pollers are told to stop all at once and waited for together (each finishes the
        batch it holds, or is left behind: a daemon thread, and whatever it had not acknowledged is redone after a
        restart), then the servers close."""
        self._stop.set()
        for poller in self.pollers:
            poller._stop.set()
        deadline = time.monotonic() + 5
        for poller in self.pollers:
            if poller._thread:
                poller._thread.join(max(0.0, deadline - time.monotonic()))
        self.pollers.clear()
        self._exit.close()

    # --- parts ---------------------------------------------------------------------------------------------

    def _start_call_trace(self) -> None:
        """`aidlc dev --trace-calls`: each call in the log as it is made (`format_call`) and in calls.jsonl."""
        from runtime.observe.trace import CallTrace, format_call

        path = self.state_dir / "calls.jsonl"
        path.unlink(missing_ok=True)
        self.trace = CallTrace(on_call=lambda call: self._event(format_call(call)), path=path)
        self._exit.callback(self.trace.start(self.calls))

    def _local_secrets(self) -> dict[str, str]:
        path = self.state_dir / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        values = {"automation_secret": secrets.token_urlsafe(24)}
        path.write_text(json.dumps(values))
        return values

    def _put_secret(self, secret: resources.Secret, value: str) -> None:
        self.housekeeping.client("secretsmanager").put_secret_value(
            SecretId=self.aws.secrets[secret.logical_name], SecretString=value
        )

    def _project_config(self, seed: Any):
        from runtime.stack_config import load_stack_config

        self.stack_config = load_stack_config(self.options.stack, root=PROJECT_ROOT)
        config = self.stack_config.project_config()
        return config.model_copy(
            update={
                "workspace_id": getattr(seed, "workspace_id", "") or config.workspace_id or "local-workspace",
                "notion_database_id": seed.stories_database_id,
                "notion_data_source_id": seed.stories_data_source_id,
                "dashboard_data_source_id": seed.dashboard_data_source_id,
                "projects_data_source_id": self.example_project.projects_data_source_id,
                "github_repo": config.github_repo or "local/aidlc-demo",
                "approvers": config.approvers or [self.slack.approver.id],  # the emulator's approving person
            }
        )

    def tool_registry(self):
        from runtime.tools.registry import ToolRegistry

        return ToolRegistry.default()

    def tool_services(self):
        from runtime.github import LocalGitBackend
        from runtime.kb.retrieval import retriever_for
        from runtime.notion.adapter import NotionAdapter
        from runtime.policy import ToolPolicy
        from runtime.prototypes import PrototypeStore
        from runtime.tools.audit import DynamoDbAuditSink
        from runtime.tools.registry import ToolServices

        # The tool gateway's own clients: its prototype uploads are its calls.
        clients = self.clients_for("tool_gateway")
        # Prototypes are rendered in headless Chromium before upload (AgentCore Browser in AWS); one browser for the
        # stack, started on the first upload, stopped with the stack.
        from runtime.browser import PageChecker
        from runtime.browser.local import LocalChromium, chromium_available

        browser = LocalChromium() if chromium_available() else None
        if browser is not None:
            self._exit.callback(browser.close)
        return ToolServices(
            notion=NotionAdapter(self.emulator.integration_token, base_url=self.settings[resources.Env.NOTION_API_BASE]),
            github=LocalGitBackend(self.git_remote, web_base_url=self.base_url),
            prototypes=PrototypeStore(
                self.aws.bucket,
                self.settings[resources.Env.PROTOTYPE_BASE_URL],
                s3_client=clients.client("s3"),
                expiry_days=self.project.prototype_expiry_days,
                checker=PageChecker(browser) if browser is not None else None,
            ),
            policy=ToolPolicy.load(),
            kb=retriever_for(None, self.settings[resources.Env.KB_LOCAL_INDEX]),  # kb_retrieve: the local index
            # the tool side of the audit trail, as the gateway Lambda writes it in AWS
            audit=DynamoDbAuditSink(self.aws.tables[resources.AUDIT.logical_name], client=clients.client("dynamodb")),
        )

    def _start_workers(self) -> None:
        from runtime.local.lambda_shim import SqsPoller

        for function in resources.FUNCTIONS:
            local = self.functions.get(function.logical_name)
            for queue in function.queues_consume if local else ():
                # An event source mapping receives and deletes with the function's own role: its calls are its own.
                poller = SqsPoller(function.logical_name, self.aws.queue_urls[queue], local,
                                   sqs_client=local.services.sqs, timeout_seconds=function.timeout_seconds)
                poller.start()
                self.pollers.append(poller)
        threading.Thread(target=self._sweep_forever, name="sweepers", daemon=True).start()

    def _sweep_forever(self) -> None:
        from runtime.local.lambda_shim import LocalLambdaContext

        scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        swept = [f for f in resources.FUNCTIONS if f.schedule and f.logical_name in self.functions]
        self._resume_interrupted()
        while not self._stop.wait(self.options.sweep_interval_seconds):
            for function in swept:
                try:
                    self.functions[function.logical_name](scheduled, LocalLambdaContext(
                        function_name=function.logical_name, timeout_seconds=function.timeout_seconds))
                except Exception:
                    log.exception("sweeper %s failed", function.logical_name)

    def _resume_interrupted(self) -> None:
        """What a previous run left unfinished: runs `running` when it stopped have no agent any more (its threads
        died with it), so they are failed now by the timeout sweeper's own path (budget and slot released, the
        story told); runs left `queued` are re-sent by reconcile (their task died with the in-memory queue)."""
        from datetime import timedelta

        from runtime.observe.trace import in_stage

        try:
            failed = self.functions["timeouts"].services.sweepers.timeouts(interrupted_before=self.started_at)
            delivered = self._deliver_interrupted(self.functions["reconcile"].services.sweepers)
            requeued = self.functions["reconcile"].services.sweepers.requeue_stranded(older_than=timedelta(0))
            if failed["timed_out"] or requeued or delivered:
                self._event(f"resume    {len(failed['timed_out'])} interrupted runs failed, {len(delivered)} "
                            f"interrupted write-backs done, {len(requeued)} queued runs re-sent")
            # No grace at a start: the previous process's webhook deliveries and task queue died with it (queues are
            # not kept), so a story left in its trigger status with no run was missed for sure, and a webhook sent
            # since names the same run (the id derived from the edit), which is created once.
            with in_stage("reconcile"):
                self.functions["reconcile"].services.sweepers.reconcile(grace=timedelta(0))
        except Exception:
            log.exception("could not resume what the previous run left unfinished")

    def _deliver_interrupted(self, sweepers) -> list[str]:
        """Finished runs whose write-back a previous run had not done (killed before it claimed it, or while it
        held the claim): every claim older than this start is a dead worker's, so it is taken over at once (the
        ledger's own stale-claim rule, with this start as the cutoff) and the result told by the same path."""
        from runtime.pipeline.orchestrator import tell_notion
        from runtime.pipeline.sweepers import FINAL_STATUSES

        done: list[str] = []
        stale_after = datetime.now(timezone.utc) - self.started_at
        for stored in sweepers.invocations.with_status([status.value for status in FINAL_STATUSES]):
            record = stored.record
            project = sweepers.projects.get(record.project_id)
            if record.delivery_status != "pending" or project is None:
                continue
            if sweepers.ledger.claim_delivery(record.invocation_id, stale_after=stale_after):
                tell_notion(sweepers.invocations, sweepers._writeback(), sweepers.registry, record.invocation_id,
                            project)
                done.append(record.invocation_id)
        return done

    def _snapshot(self) -> None:
        if self.aws is not None:
            try:
                local_aws.checkpoint(self._moto, self.aws, self.state_dir)
            except Exception:
                log.exception("could not save the local AWS state")

    # --- what the gateway serves ---------------------------------------------------------------------------

    def _backends(self):
        from runtime.local.gateway import GatewayBackends

        return GatewayBackends(
            handlers={name: local for name, local in self.functions.items() if local.function.routes},
            read_prototype=self.read_prototype,
            dev_info=lambda: self.info.as_dict() if self.info else {},
            dashboard_state=self.dashboard.state,
            set_story_status=self.set_story_status,
            pull_request_view=self.dashboard.pull_request,
            notion_page_view=self.dashboard.notion_page,
            invocation_steps=self.dashboard.steps,
            review_pull_request=self.review_pull_request,
        )

    def read_prototype(self, key: str) -> tuple[bytes, str] | None:
        s3 = self.housekeeping.client("s3")  # CloudFront's read, through its origin access
        try:
            obj = s3.get_object(Bucket=self.aws.bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        return obj["Body"].read(), obj.get("ContentType", "application/octet-stream")

    def api_get(self, path: str) -> Any:
        """Call the internal API handler in-process, exactly as the gateway does."""
        from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

        raw_path, _, query = path.partition("?")
        found = resources.match_route("GET", raw_path)
        route_key, params = (found[0].key, found[1]) if found else (f"GET {raw_path}", {})
        event = http_api_event("GET", raw_path, headers={}, body=b"", query=query, route_key=route_key,
                               path_parameters=params)
        result = self.functions["api"](event, LocalLambdaContext(function_name="api"))
        return json.loads(result["body"]) if isinstance(result, dict) and "body" in result else result

    def user_notion(self):
        from runtime.notion.adapter import NotionAdapter

        return NotionAdapter(self.emulator.user_token, base_url=self.info.notion_api_base)

    def set_story_status(self, page_id: str, status: str) -> None:
        self.user_notion().set_status(page_id, self.project.trigger_property, status)

    def review_pull_request(self, number: int, body: str, path: str | None = None,
                            line: int | None = None) -> dict[str, Any]:
        """A person's review comment on a PR of the local remote, sent signed to this stack's GitHub webhook, as
        GitHub would (`POST /dev/git/pr/<number>/review`, tests) -> {comment, delivery, status}."""
        from runtime.github import LocalGitBackend

        return LocalGitBackend(self.git_remote, web_base_url=self.base_url).add_review_comment(
            number, body, path=path, line=line, webhook=(self.info.github_webhook_url, self.info.github_webhook_secret))

    # --- waiting (demo, tests) -----------------------------------------------------------------------------

    def invocations_for_page(self, page_id: str) -> list[dict[str, Any]]:
        listing = self.api_get(f"/project/{self.project.project_id}/invocations?limit=100")
        items = listing.get("invocations", listing.get("items", [])) if isinstance(listing, dict) else listing
        return [inv for inv in items if inv.get("notion_page_id") == page_id]

    def wait_for(self, predicate, *, timeout: float = 120.0, interval: float = 0.25, what: str = "the pipeline"):
        return wait_until(predicate, timeout=timeout, interval=interval, what=what)

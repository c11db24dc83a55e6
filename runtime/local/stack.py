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
| GitHub                         | a bare git repository with pull-request records                |
| CloudFront                     | `/prototypes/...` on the local gateway                         |
| Bedrock                        | the offline model (unless --model bedrock)                     |
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime import resources
from runtime.local import aws as local_aws

log = logging.getLogger("aidlc.local")

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port
    state_dir: Path = Path(".aidlc")
    model: str = "offline"  # offline | bedrock
    stack: str = "dev"  # which Pulumi.<stack>.yaml the local project is configured from
    sweep_interval_seconds: float = 30.0
    on_event: Any = None  # callable(str) for the readable pipeline log; None: quiet
    verbose: bool = False  # show the handlers' and agent apps' own JSON logs


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quiet_agent_app_logs() -> None:
    for name in ("bedrock_agentcore", "bedrock_agentcore.app"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class LocalStack:
    """Start with `start()` (or `with LocalStack(options) as stack:`); `stop()` shuts everything down cleanly."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.state_dir = Path(options.state_dir).resolve()
        self.info: DevInfo | None = None
        self._exit = ExitStack()
        self._saved_env: dict[str, str | None] = {}
        self._stop = threading.Event()
        self.pollers: list[Any] = []
        self.aws: local_aws.LocalAws | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

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
        self.state_dir.mkdir(parents=True, exist_ok=True)
        port = opts.port or _free_port(opts.host)
        base_url = self.base_url = f"http://{opts.host}:{port}"
        local_secrets = self._local_secrets()
        if not opts.verbose:
            # The handlers' Powertools JSON logs and the AgentCore app's request logs are for CloudWatch; locally
            # the pipeline log (runtime/local/follow.py) says the same in one line per step.
            # Cost metrics are CloudWatch embedded-metric lines on stdout; the dashboard shows the same figures.
            self._set_env({"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
            _quiet_agent_app_logs()

        # 1. AWS on loopback, with the declared resources, and what a previous run kept.
        moto_server, endpoint = local_aws.start_moto()
        self._exit.callback(moto_server.stop)
        # moto keeps its backends per process: wipe them on stop, so a stopped stack leaves nothing behind.
        self._exit.callback(local_aws.reset_moto, endpoint)
        self.aws = local_aws.create_resources(endpoint, f"aidlc-{opts.stack}", {"automation-secret": local_secrets["automation_secret"]})
        self._exit.callback(self._snapshot)
        restored = local_aws.restore(self.aws, self.state_dir)
        self._set_env(self.aws.environment())
        self._event(f"aws       moto on {endpoint} ({restored} items restored)")

        # 2. Notion.
        from runtime.local.notion_emulator import NotionEmulator
        from runtime.local.server import serve

        # Page URLs point at the dashboard's page view, so links in comments and artifacts open locally.
        emulator = NotionEmulator(self.state_dir / "notion", page_url_base=f"{base_url}/dev/notion")
        notion_server = serve(emulator.app, host=opts.host, port=0)
        self._exit.callback(notion_server.stop)
        from runtime.notion.schema import workspace_schema

        seed = emulator.seed_workspace(workspace_schema())  # the plugins' statuses; the emulator knows only Notion
        self.emulator = emulator
        self._put_secret(resources.NOTION_TOKEN, emulator.integration_token)
        self._event(f"notion    emulator on {notion_server.base_url}")

        # 3. The project, configured from Pulumi.<stack>.yaml where it applies.
        project = self._project_config(seed)
        self.project = project
        self._set_env(
            {
                resources.Env.NOTION_API_BASE: notion_server.base_url,
                resources.Env.PROTOTYPE_BASE_URL: f"{base_url}/prototypes",
                resources.Env.PROJECT_CONFIG: project.model_dump_json(),
                resources.Env.MODEL_PROVIDER: opts.model,
                resources.Env.LOCAL_GIT_REMOTE: str(self.state_dir / "git" / "remote.git"),
                resources.Env.STACK: opts.stack,
                # AWS waits 30 s and 60 s before retrying an agent invoke or a Notion write-back; locally a failing
                # step should show up in seconds, not hold a poller for a minute and a half.
                "AIDLC_INVOKE_RETRY_DELAYS": "[1, 2]",
                "AIDLC_WRITEBACK_RETRY_DELAYS": "[1, 2]",
            }
        )

        # 4. Tools: the local MCP gateway over the tool registry.
        from runtime.tools.mcp_server import serve_mcp

        mcp = serve_mcp(self.tool_registry(), self.tool_services(), host=opts.host, port=0)
        self._exit.callback(mcp.stop)
        self._set_env({resources.Env.GATEWAY_URL: mcp.url})
        self._event(f"tools     MCP gateway on {mcp.url}")

        # 5. One agent app per plugin, on loopback (the AgentCore HTTP contract).
        from runtime.agent.app import create_app
        from runtime.registry import get_registry, reset_registry

        reset_registry()  # pick up plugins dropped in since the last start
        endpoints: dict[str, str] = {}
        for name in get_registry().agents:
            agent_server = serve(create_app(agent_name=name), host=opts.host, port=0)
            self._exit.callback(agent_server.stop)
            endpoints[name] = agent_server.base_url
        if not opts.verbose:
            _quiet_agent_app_logs()  # the apps set their loggers to INFO when created
        self._set_env({resources.Env.AGENT_RUNTIMES: json.dumps(endpoints)})
        self._event(f"agents    {len(endpoints)} agent runtimes: {', '.join(endpoints)}")

        # 6. The front door, then the webhook subscription (the verification handshake goes through it).
        from runtime.local.gateway import create_gateway_app

        gateway = serve(create_gateway_app(self._backends()), host=opts.host, port=port)
        self._exit.callback(gateway.stop)
        webhook_url = f"{base_url}/webhook/notion"
        verification_token = emulator.subscribe(webhook_url)

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
            webhook_verification_token=verification_token,
            automation_secret=local_secrets["automation_secret"],
            api_base=base_url,
            dashboard_url=f"{base_url}/",
            mcp_url=mcp.url,
            aws_endpoint_url=endpoint,
            agent_endpoints=endpoints,
            git_remote=str(self.state_dir / "git" / "remote.git"),
        )
        self._event(f"ready     dashboard {base_url}/")
        return self.info

    def stop(self) -> None:
        self._stop.set()
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()
        self._exit.close()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # --- parts ---------------------------------------------------------------------------------------------

    def _local_secrets(self) -> dict[str, str]:
        path = self.state_dir / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        values = {"automation_secret": secrets.token_urlsafe(24)}
        path.write_text(json.dumps(values))
        return values

    def _put_secret(self, secret: resources.Secret, value: str) -> None:
        import boto3

        boto3.client("secretsmanager", endpoint_url=self.aws.endpoint_url).put_secret_value(
            SecretId=self.aws.secrets[secret.logical_name], SecretString=value
        )

    def _project_config(self, seed: Any):
        from runtime.stack_config import load_stack_config

        config = load_stack_config(self.options.stack, root=PROJECT_ROOT).project_config()
        return config.model_copy(
            update={
                "workspace_id": getattr(seed, "workspace_id", "") or config.workspace_id or "local-workspace",
                "notion_database_id": seed.stories_database_id,
                "notion_data_source_id": seed.stories_data_source_id,
                "dashboard_data_source_id": seed.dashboard_data_source_id,
                "github_repo": config.github_repo or "local/aidlc-demo",
            }
        )

    def tool_registry(self):
        from runtime.tools.registry import ToolRegistry

        return ToolRegistry.default()

    def tool_services(self):
        from runtime.github import LocalGitBackend
        from runtime.notion.adapter import NotionAdapter
        from runtime.policy import ToolPolicy
        from runtime.prototypes import PrototypeStore
        from runtime.tools.registry import ToolServices

        return ToolServices(
            notion=NotionAdapter(self.emulator.integration_token, base_url=os.environ[resources.Env.NOTION_API_BASE]),
            github=LocalGitBackend(Path(os.environ[resources.Env.LOCAL_GIT_REMOTE]), web_base_url=self.base_url),
            prototypes=PrototypeStore(
                os.environ[resources.PROTOTYPES.env_var],
                os.environ[resources.Env.PROTOTYPE_BASE_URL],
                expiry_days=self.project.prototype_expiry_days,
            ),
            policy=ToolPolicy.load(),
        )

    def _start_workers(self) -> None:
        import boto3

        from runtime.handlers import completion, orchestrator
        from runtime.local.lambda_shim import SqsPoller

        sqs = boto3.client("sqs", endpoint_url=self.aws.endpoint_url)
        for name, queue, handler in (
            ("orchestrator", "tasks", orchestrator.handler),
            ("completion", "completions", completion.handler),
        ):
            poller = SqsPoller(name, self.aws.queue_urls[queue], handler, sqs_client=sqs)
            poller.start()
            self.pollers.append(poller)
        threading.Thread(target=self._sweep_forever, name="sweepers", daemon=True).start()

    def _sweep_forever(self) -> None:
        from runtime.handlers import sweepers
        from runtime.local.lambda_shim import LocalLambdaContext

        scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        while not self._stop.wait(self.options.sweep_interval_seconds):
            for name in ("reconcile_handler", "timeouts_handler", "budget_alerts_handler"):
                try:
                    getattr(sweepers, name)(scheduled, LocalLambdaContext(function_name=name))
                except Exception:
                    log.exception("sweeper %s failed", name)

    def _snapshot(self) -> None:
        if self.aws is not None:
            try:
                local_aws.snapshot(self.aws, self.state_dir)
            except Exception:
                log.exception("could not save the local AWS state")

    # --- what the gateway serves ---------------------------------------------------------------------------

    def _backends(self):
        from runtime.handlers import api, webhook
        from runtime.local.gateway import GatewayBackends

        return GatewayBackends(
            webhook_handler=webhook.handler,
            api_handler=api.handler,
            read_prototype=self.read_prototype,
            dev_info=lambda: self.info.as_dict() if self.info else {},
            dashboard_state=self.dashboard_state,
            set_story_status=self.set_story_status,
            pull_request_view=self.pull_request_view,
            notion_page_view=self.notion_page_view,
        )

    def read_prototype(self, key: str) -> tuple[bytes, str] | None:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.aws.endpoint_url)
        try:
            obj = s3.get_object(Bucket=self.aws.bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        return obj["Body"].read(), obj.get("ContentType", "application/octet-stream")

    def api_get(self, path: str) -> Any:
        """Call the internal API handler in-process, exactly as the gateway does."""
        from runtime.handlers import api
        from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

        from runtime.local.gateway import match_api_route

        raw_path, _, query = path.partition("?")
        route, params = match_api_route("GET", raw_path) or (f"GET {raw_path}", {})
        event = http_api_event("GET", raw_path, headers={}, body=b"", query=query, route_key=route, path_parameters=params)
        result = api.handler(event, LocalLambdaContext(function_name="api"))
        return json.loads(result["body"]) if isinstance(result, dict) and "body" in result else result

    def user_notion(self):
        from runtime.notion.adapter import NotionAdapter

        return NotionAdapter(self.emulator.user_token, base_url=self.info.notion_api_base)

    def set_story_status(self, page_id: str, status: str) -> None:
        self.user_notion().set_status(page_id, self.project.trigger_property, status)

    def dashboard_state(self) -> dict[str, Any]:
        from runtime.notion.adapter import plain_properties, page_title
        from runtime.registry import get_registry

        notion = self.user_notion()
        registry = get_registry()
        data_source = notion.retrieve_data_source(self.info.stories_data_source_id)
        status_prop = data_source.get("properties", {}).get(self.project.trigger_property, {})
        options = [o["name"] for o in (status_prop.get("status") or status_prop.get("select") or {}).get("options", [])]
        # A plugin dropped in after the workspace was seeded has triggers Notion has no option for yet.
        triggers = sorted(registry.trigger_map(self.project.trigger_map))
        statuses = options + [t for t in triggers if t not in options]
        pages = notion.query_data_source(self.info.stories_data_source_id)
        stories = [
            {"page_id": p["id"], "title": page_title(p), "status": plain_properties(p).get(self.project.trigger_property)}
            for p in pages
        ]
        titles = {s["page_id"]: s["title"] for s in stories}
        listing = self.api_get(f"/project/{self.project.project_id}/invocations?limit=50")
        invocations = listing.get("invocations", listing.get("items", [])) if isinstance(listing, dict) else listing
        for inv in invocations:
            inv["story_title"] = titles.get(inv.get("notion_page_id"), "")
            for artifact in inv.get("output_artifacts") or []:
                artifact["local_url"] = self.local_artifact_url(artifact)
        return {
            "project_id": self.project.project_id,
            "model": self.options.model,
            "statuses": statuses,
            "trigger_statuses": triggers,
            "stories": stories,
            "invocations": invocations,
            "cost": self.api_get(f"/project/{self.project.project_id}/cost-summary"),
            "plugins": registry.describe(),
        }

    def local_artifact_url(self, artifact: dict[str, Any]) -> str:
        """Where a person opens an artifact locally: prototypes are served as is; PRs and Notion pages by views."""
        metadata = artifact.get("metadata") or {}
        if artifact.get("type") == "pull_request":
            return f"{self.info.api_base}/dev/git/pr/{metadata.get('pr_number')}"
        if artifact.get("type") in ("notion_page", "insight_report"):
            return f"{self.info.api_base}/dev/notion/{metadata.get('page_id')}"
        if artifact.get("type") == "notion_database":
            return artifact.get("url", "")
        return artifact.get("url", "")

    def pull_request_view(self, number: int) -> dict | None:
        from runtime.github import LocalGitBackend

        try:
            return LocalGitBackend(Path(self.info.git_remote)).read_pull_request(number)
        except Exception:
            return None

    def notion_page_view(self, page_id: str) -> dict | None:
        from runtime.notion.adapter import page_title

        # Accept both a page id and the emulator's page URL form, "<Title-slug>-<32 hex digits>".
        import re
        import uuid

        match = re.search(r"([0-9a-fA-F]{32})$", page_id.replace("-", ""))
        if not match:
            return None
        page_id = str(uuid.UUID(match.group(1)))
        notion = self.user_notion()
        try:
            page = notion.retrieve_page(page_id)
        except Exception:
            return self._database_view(notion, page_id)
        return {"title": page_title(page), "markdown": notion.read_markdown(page_id)}

    def _database_view(self, notion, database_id: str) -> dict | None:
        """A database (the feedback database) shown as its title and rows."""
        from runtime.notion.adapter import plain_properties

        try:
            database = notion.retrieve_database(database_id)
        except Exception:
            database = None
        if not database:
            return None
        title = "".join(t.get("plain_text", "") for t in database.get("title", [])) or "database"
        source_id = database["data_sources"][0]["id"]
        columns = list(notion.retrieve_data_source(source_id).get("properties", {}))
        rows = [plain_properties(p) for p in notion.query_data_source(source_id)]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
        return {"title": title, "markdown": f"{len(rows)} entries\n\n" + "\n".join(lines)}

    # --- waiting (demo, tests) -----------------------------------------------------------------------------

    def invocations_for_page(self, page_id: str) -> list[dict[str, Any]]:
        listing = self.api_get(f"/project/{self.project.project_id}/invocations?limit=100")
        items = listing.get("invocations", listing.get("items", [])) if isinstance(listing, dict) else listing
        return [inv for inv in items if inv.get("notion_page_id") == page_id]

    def wait_for(self, predicate, *, timeout: float = 120.0, interval: float = 0.25, what: str = "the pipeline"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

"""Local stand-ins for one synchronous run, for `aidlc agent run` and the benchmarks: the Notion emulator on
loopback (seeded workspace), moto's S3 in process for prototypes, a local bare git remote, all under a temporary
folder, with the tool registry called in-process. Nothing leaves the machine.

    with Sandbox() as box:
        event = box.run("mock", story_page_id=box.seed.story_page_ids[0])
"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from runtime.models import AgentProjectSettings, AgentRequest, CompletionEvent, ParentContext, new_ulid

BUCKET = "aidlc-sandbox-prototypes"


class Sandbox:
    def __init__(self, state_dir: Path | None = None) -> None:
        self._stack = ExitStack()
        self.state_dir = state_dir
        self.notion: Any = None
        self.services: Any = None
        self.tools: Any = None
        self.seed: Any = None
        self.audit: Any = None

    def __enter__(self) -> "Sandbox":
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        for name, value in (("AWS_ACCESS_KEY_ID", "sandbox"), ("AWS_SECRET_ACCESS_KEY", "sandbox"),
                            ("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))):
            self._stack.callback(_restore_env, name, os.environ.get(name))
            os.environ[name] = value
        import boto3
        from moto import mock_aws

        from runtime.tools.audit import MemoryAuditSink
        from runtime.github.local import LocalGitBackend
        from runtime.local.notion_emulator import NotionEmulator
        from runtime.local.server import serve
        from runtime.notion.adapter import NotionAdapter
        from runtime.notion.throttle import Throttle
        from runtime.policy import ToolPolicy
        from runtime.prototypes import PrototypeStore
        from runtime.tools.base import ToolServices
        from runtime.tools.registry import ToolRegistry

        folder = self.state_dir or Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="aidlc-")))
        self.state_dir = folder
        self._stack.enter_context(mock_aws())
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        emulator = NotionEmulator(folder / "notion")
        server = serve(emulator.app)
        self._stack.callback(server.stop)
        from runtime.notion.schema import workspace_schema

        self.seed = emulator.seed_workspace(workspace_schema())
        # The emulator has no rate limit here; the real adapter code still runs, without the 3 req/s wait.
        self.notion = NotionAdapter(emulator.integration_token, base_url=server.base_url,
                                    throttle=Throttle(rate_per_second=10_000, burst=10_000))
        self.git = LocalGitBackend(folder / "remote.git")
        self.services = ToolServices(notion=self.notion, github=self.git, policy=ToolPolicy.load(),
                                     prototypes=PrototypeStore(BUCKET, "http://127.0.0.1/prototypes"))
        self.tools = ToolRegistry.default()
        self.audit = MemoryAuditSink()

    def request(self, agent_type: str, *, story_page_id: str | None = None, parent_context: dict | None = None,
                parent_agent: str = "mock", extra_properties: dict | None = None) -> AgentRequest:
        page_id = story_page_id or self.seed.story_page_ids[0]
        story = self.notion.page_snapshot(page_id)
        if extra_properties:
            story = story.model_copy(update={"properties": {**story.properties, **extra_properties}})
        parent = (ParentContext(invocation_id=new_ulid(), agent_type=parent_agent, context=parent_context)
                  if parent_context else None)
        return AgentRequest(invocation_id=new_ulid(), session_id="sandbox-session-" + new_ulid(),
                            agent_type=agent_type, project_id="sandbox", notion_page_id=page_id, story=story,
                            project=AgentProjectSettings(project_id="sandbox", github_repo="local/sandbox",
                                                         stories_data_source_id=self.seed.stories_data_source_id),
                            parent=parent)

    def run(self, agent_type: str, *, request: AgentRequest | None = None, spec: Any = None,
            **request_args: Any) -> CompletionEvent:
        from runtime.agent.completion import MemoryCompletionSink
        from runtime.agent.runner import RunOptions, run_agent
        from runtime.agent.settings import AgentSettings
        from runtime.agent.tools import registry_tools
        from runtime.registry import get_registry
        from runtime.tools.base import ToolContext

        spec = spec or get_registry().get(agent_type)
        request = request or self.request(agent_type, **request_args)
        context = ToolContext(agent_type=spec.name, invocation_id=request.invocation_id, allowed_tools=spec.tools,
                              services=self.services)
        options = RunOptions(tools=registry_tools(self.tools, context, spec.tools), audit=self.audit)
        return run_agent(request, settings=AgentSettings(model_provider="offline"), sink=MemoryCompletionSink(),
                         spec=spec, options=options)

    def create_story(self, title: str, criteria: list[str], body: str = "") -> str:
        """A new story in the seeded stories database; returns its page id."""
        page = self.notion.create_page(
            parent_data_source_id=self.seed.stories_data_source_id, title=title, markdown=body or None,
            properties={"Acceptance Criteria": {"rich_text": [{"text": {"content": "\n".join(criteria)}}]}})
        return page["id"]

    def prototype_html(self, s3_key: str) -> str:
        import boto3

        return boto3.client("s3").get_object(Bucket=BUCKET, Key=s3_key)["Body"].read().decode()


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value

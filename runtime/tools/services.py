"""Build `ToolServices` from settings or from the environment (the gateway Lambda, the local stack).

Nothing is read at import. `ToolSettings.from_env()` reads variable *names* from `runtime.resources`; secrets are
fetched from Secrets Manager by ARN/name, once per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime import resources
from runtime.policy import POLICY_DIRS_ENV
from runtime.tools.audit import AuditSink, DynamoDbAuditSink
from runtime.tools.base import ToolServices

PROTOTYPE_EXPIRY_ENV = "AIDLC_PROTOTYPE_EXPIRY_DAYS"


@dataclass
class ToolSettings:
    notion_token: str | None = None
    notion_base_url: str | None = None
    github_token: str | None = None
    github_repo: str | None = None
    github_api_base: str | None = None
    local_git_remote: str | None = None
    local_git_web_base_url: str | None = None
    prototype_bucket: str | None = None
    prototype_base_url: str | None = None
    prototype_expiry_days: int = 7
    policy_dirs: Sequence[str] = field(default_factory=tuple)
    audit_table: str | None = None
    knowledge_base_id: str | None = None  # kb_retrieve: the Bedrock KB (AWS)
    kb_local_index: str | None = None  # kb_retrieve: the local SQLite FTS5 index (the local stack)
    browser: str | None = None  # "agentcore" (AgentCore Browser, AWS) or "chromium" (local); None: not rendered
    region: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, secret_reader: Callable[[str], str] | None = None) -> "ToolSettings":
        env = dict(os.environ if env is None else env)
        read_secret = secret_reader or read_secret_value
        notion_secret = env.get(resources.NOTION_TOKEN.env_var)
        github_secret = env.get(resources.GITHUB_TOKEN.env_var)
        return cls(
            notion_token=env.get("NOTION_TOKEN") or (read_secret(notion_secret) if notion_secret else None),
            notion_base_url=env.get(resources.Env.NOTION_API_BASE) or None,
            github_token=env.get("GITHUB_TOKEN") or (read_secret(github_secret) if github_secret and env.get(resources.Env.GITHUB_REPO) else None),
            github_repo=env.get(resources.Env.GITHUB_REPO) or None,
            github_api_base=env.get(resources.Env.GITHUB_API_BASE) or None,
            local_git_remote=env.get(resources.Env.LOCAL_GIT_REMOTE) or None,
            prototype_bucket=env.get(resources.PROTOTYPES.env_var) or None,
            prototype_base_url=env.get(resources.Env.PROTOTYPE_BASE_URL) or None,
            prototype_expiry_days=int(env.get(PROTOTYPE_EXPIRY_ENV) or 7),
            policy_dirs=tuple(p for p in env.get(POLICY_DIRS_ENV, "").split(os.pathsep) if p),
            audit_table=env.get(resources.AUDIT.env_var) or None,
            knowledge_base_id=env.get(resources.Env.KB_ID) or None,
            kb_local_index=env.get(resources.Env.KB_LOCAL_INDEX) or None,
            browser=env.get(resources.Env.BROWSER) or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        )


def prototype_checker(settings: ToolSettings) -> Any:
    """The browser prototype uploads are rendered in first (runtime/browser), from `settings.browser`."""
    if not settings.browser:
        return None
    from runtime.browser import PageChecker

    if settings.browser == "agentcore":
        from runtime.browser.agentcore import AgentCoreBrowser

        return PageChecker(AgentCoreBrowser(settings.region or ""))
    if settings.browser == "chromium":
        from runtime.browser.local import LocalChromium

        return PageChecker(LocalChromium())
    raise ValueError(f"{resources.Env.BROWSER}={settings.browser!r}: use 'agentcore' or 'chromium'")


def read_secret_value(secret_id: str) -> str:
    import boto3

    return boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


def build_services(settings: ToolSettings, *, s3_client: Any | None = None, dynamodb_client: Any | None = None,
                   audit: AuditSink | None = None) -> ToolServices:
    from runtime.policy import ToolPolicy

    services = ToolServices(policy=ToolPolicy.load(settings.policy_dirs))
    if settings.notion_token:
        from runtime.notion.adapter import NotionAdapter

        services.notion = NotionAdapter(settings.notion_token, base_url=settings.notion_base_url)
    if settings.local_git_remote:
        from runtime.github.local import LocalGitBackend

        services.github = LocalGitBackend(settings.local_git_remote, web_base_url=settings.local_git_web_base_url)
    elif settings.github_repo and settings.github_token:
        from runtime.github.rest import GitHubRestBackend

        services.github = GitHubRestBackend(settings.github_token, settings.github_repo, base_url=settings.github_api_base)
    if settings.prototype_bucket and settings.prototype_base_url:
        from runtime.prototypes import PrototypeStore

        services.prototypes = PrototypeStore(settings.prototype_bucket, settings.prototype_base_url, s3_client=s3_client,
                                             expiry_days=settings.prototype_expiry_days,
                                             checker=prototype_checker(settings))
    if settings.knowledge_base_id or settings.kb_local_index:
        from runtime.kb.retrieval import retriever_for

        services.kb = retriever_for(settings.knowledge_base_id, settings.kb_local_index)
    if audit is not None:
        services.audit = audit
    elif settings.audit_table:
        services.audit = DynamoDbAuditSink(settings.audit_table, client=dynamodb_client)
    return services


__all__ = ["POLICY_DIRS_ENV", "ToolSettings", "build_services", "read_secret_value"]



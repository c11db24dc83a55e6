"""What every tool call carries: the adapters (services), who is calling (context), and what comes back (result)."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.github.backend import GitHubBackend
    from runtime.notion.adapter import NotionAdapter
    from runtime.onboarding.aws import AwsClients
    from runtime.onboarding.package_store import PackageStore
    from runtime.policy import ToolPolicy
    from runtime.prototypes import PrototypeStore
    from runtime.sandbox import CodeSandbox
    from runtime.tools.audit import AuditSink


class ToolError(Exception):
    """A tool could not do what was asked; the message is shown to the model as the tool's error."""


def raised_at(exc: BaseException) -> str:
    """`file:line` where an exception was raised (its innermost frame): errors a plugin's author can act on."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "(unknown place)"


@dataclass
class ToolServices:
    """The adapters tools stand on; any may be None when not configured (its tools then answer with an error)."""

    notion: NotionAdapter | None = None
    github: GitHubBackend | None = None
    prototypes: PrototypeStore | None = None
    policy: ToolPolicy | None = None
    audit: AuditSink | None = None  # the tool side of the one audit trail (runtime.tools.audit)
    sandbox: CodeSandbox | None = None  # None: runtime.sandbox.default_sandbox(github) (sandbox_run)
    kb: Any | None = None  # the knowledge base's retriever (runtime.kb.retrieval.Retriever): kb_retrieve
    aws: AwsClients | None = None  # the onboarding tools' audited AWS clients (runtime/onboarding/aws.py)
    packages: PackageStore | None = None  # the CloudFormation package store (runtime/onboarding/package_store.py)

    def require(self, name: str, tool: str) -> Any:
        service = getattr(self, name)
        if service is None:
            hints = {
                "notion": "set the Notion token (NOTION_TOKEN_SECRET) or run the local stack",
                "github": "set AIDLC_GITHUB_REPO with a GitHub token, or AIDLC_LOCAL_GIT_REMOTE for a local remote",
                "prototypes": "set PROTOTYPE_BUCKET and PROTOTYPE_BASE_URL",
                "kb": "set AIDLC_KB_ID (the Bedrock knowledge base) or AIDLC_KB_LOCAL_INDEX (the local stack)",
                "aws": "give the tools an AwsClients (runtime.onboarding.aws) for the organisation's management account",
                "packages": "give the tools a PackageStore (runtime.onboarding.package_store) on the package bucket",
            }
            raise ToolError(f"{tool} needs {name}, which is not configured here: {hints.get(name, '')}".rstrip(": "))
        return service


@dataclass
class ToolContext:
    """Who is calling: the agent (the policy's principal), its invocation, and its plugin's declared tools."""

    agent_type: str | None = None
    invocation_id: str | None = None
    allowed_tools: Sequence[str] | None = None
    services: ToolServices = field(default_factory=ToolServices)
    # A person approved this call (the workflow's approval step): the policy's `context.approved`, which deletes
    # and account closure need (runtime/policies/onboarding.cedar).
    approved: bool = False
    # The project's protected path globs (ProjectConfig.protected_paths), from the caller's signed tool token: the
    # files no agent may change (runtime/policies/defaults.cedar, no-protected-path-changes).
    protected_paths: Sequence[str] = ()


@dataclass
class ToolResult:
    ok: bool
    content: dict[str, Any]
    error: str | None = None
    denied: bool = False

    def as_payload(self) -> dict[str, Any]:
        """The JSON a surface returns: the content on success, {"error", "denied"} otherwise."""
        if self.ok:
            return self.content
        return {"error": self.error, "denied": self.denied, **self.content}

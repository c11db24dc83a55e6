"""Fixtures for the tools tests: a local git remote, the default policy, a moto S3 prototype bucket."""

from __future__ import annotations

import moto  # noqa: F401  (imported before any boto3 session exists)
import pytest

from runtime.github.local import LocalGitBackend
from runtime.policy import ToolPolicy
from runtime.tools.audit import MemoryAuditSink
from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices

INVOCATION = "01JD0000000000000000000001"


@pytest.fixture(scope="session")
def policy() -> ToolPolicy:
    return ToolPolicy.load()


@pytest.fixture
def tools() -> ToolRegistry:
    return ToolRegistry.default()


@pytest.fixture
def git(tmp_path) -> LocalGitBackend:
    return LocalGitBackend(tmp_path / "remote" / "app.git", web_base_url="http://127.0.0.1:9/")


@pytest.fixture
def audit_log() -> MemoryAuditSink:
    return MemoryAuditSink()


@pytest.fixture
def services(git, policy, audit_log) -> ToolServices:
    return ToolServices(github=git, policy=policy, audit=audit_log)


def agent_context(services: ToolServices, agent: str, tools: ToolRegistry, invocation: str = INVOCATION) -> ToolContext:
    """The context an agent's tool calls carry: its plugin's declared tools, its invocation."""
    return ToolContext(agent_type=agent, invocation_id=invocation,
                       allowed_tools=tools.agents.get(agent).tools, services=services)

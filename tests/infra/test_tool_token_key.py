"""The tool-token key signs who an agent is (runtime/tools/identity.py): only the orchestrator, which signs each
run's token, and the tool gateway's Lambda, which verifies it, may read it. An agent runtime that could read it
could sign itself any agent's identity."""

from __future__ import annotations

import json

from components.mockrun import Recording


def test_only_the_orchestrator_and_the_tool_gateway_may_read_the_tool_token_key(dev_stack: Recording) -> None:
    readers = set()
    for policy in dev_stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            resources = statement.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            if any("tool-token-key" in str(r) or r == "*" for r in resources) and any(
                    a.startswith("secretsmanager:") or a == "*" for a in _actions(statement)):
                readers.add(policy.name)
    assert readers == {"pipeline-orchestrator-policy", "agents-tools-policy"}


def _actions(statement: dict) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)

"""The orchestrator signs each run's tool token with the tool-token-key secret (runtime/tools/identity.py): bound to
the run's agent and invocation, verifiable by the tool gateway, and absent (so the run's tool calls are refused)
while the secret holds no key."""

from __future__ import annotations

import boto3
import pytest

from runtime.tools.identity import IdentityRefused, ToolTokens
from tests.pipeline.conftest import build_pipeline, make_project
from tests.pipeline.test_orchestrator import task

KEY = "0123456789abcdef" * 4


@pytest.fixture
def signing(aws_names):
    """The pipeline with the tool-token-key secret configured (its value: what each test stores)."""
    from runtime.pipeline.services import set_services

    pipeline = build_pipeline(aws_names, make_project(), tool_token_key_secret=aws_names["secrets"]["tool-token-key"])
    set_services(pipeline.services)
    yield pipeline
    set_services(None)


def test_each_run_carries_a_token_for_its_own_agent_and_invocation(signing, aws_names):
    pipeline = signing
    boto3.client("secretsmanager").put_secret_value(SecretId=aws_names["secrets"]["tool-token-key"], SecretString=KEY)
    message = task(pipeline)
    pipeline.drain()
    [request] = pipeline.invoker.requests
    caller = ToolTokens(KEY).verify(request.tool_token)
    assert (caller.agent_type, caller.invocation_id) == (message.agent_type, message.invocation_id)
    # signed with the deployment's key: another key does not verify it
    with pytest.raises(IdentityRefused):
        ToolTokens("f" * 64).verify(request.tool_token)
    assert "tool_token" not in repr(request)  # kept out of logged reprs


def test_without_a_key_runs_carry_no_token(signing):
    pipeline = signing  # the secret holds the deployment's placeholder
    message = task(pipeline)
    pipeline.drain()
    [request] = pipeline.invoker.requests
    assert request.invocation_id == message.invocation_id and request.tool_token is None

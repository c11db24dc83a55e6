"""The orchestrator signs the project's protected path globs into each run's tool token (the tool side enforces
them from there: tests/tools/test_protected_paths.py) and shows them to the agent in its project settings."""

from __future__ import annotations

import boto3

from runtime.tools.identity import ToolTokens
from tests.pipeline.conftest import build_pipeline, make_project
from tests.pipeline.test_orchestrator import task

KEY = "0123456789abcdef" * 4


def test_the_runs_token_and_settings_carry_the_projects_protected_paths(aws_names):
    from runtime.pipeline.services import set_services

    globs = ["infra/**", ".github/**"]
    p = build_pipeline(aws_names, make_project(protected_paths=globs),
                       tool_token_key_secret=aws_names["secrets"]["tool-token-key"])
    set_services(p.services)
    try:
        boto3.client("secretsmanager").put_secret_value(SecretId=aws_names["secrets"]["tool-token-key"],
                                                        SecretString=KEY)
        task(p)
        p.drain()
    finally:
        set_services(None)
    [request] = p.invoker.requests
    assert ToolTokens(KEY).verify(request.tool_token).protected_paths == tuple(globs)
    assert request.project.protected_paths == globs

"""Services from the environment (as the gateway Lambda builds them) and the DynamoDB audit trail, under moto."""

from __future__ import annotations

import boto3
from moto import mock_aws

from runtime import resources
from runtime.github import GitHubRestBackend, LocalGitBackend
from runtime.tools.registry import ToolContext, ToolRegistry
from runtime.tools.services import ToolSettings, build_services


def test_settings_read_names_from_the_environment_and_tokens_from_secrets_manager(tmp_path):
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.create_secret(Name="aidlc-dev-github-token", SecretString="ghp_secret")["ARN"]
        env = {resources.GITHUB_TOKEN.env_var: arn, resources.Env.GITHUB_REPO: "acme/shop",
               resources.Env.GITHUB_API_BASE: "http://127.0.0.1:9", resources.PROTOTYPES.env_var: "bucket",
               resources.Env.PROTOTYPE_BASE_URL: "https://cdn.example", "AIDLC_PROTOTYPE_EXPIRY_DAYS": "5"}
        settings = ToolSettings.from_env(env)
    assert settings.github_token == "ghp_secret" and settings.github_repo == "acme/shop"
    services = build_services(settings, s3_client=object())
    assert isinstance(services.github, GitHubRestBackend) and services.notion is None
    assert services.prototypes.expiry_days == 5 and services.prototypes.bucket == "bucket"
    assert services.policy is not None and services.audit is None

    local = build_services(ToolSettings(local_git_remote=str(tmp_path / "r.git"), local_git_web_base_url="http://h:1"))
    assert isinstance(local.github, LocalGitBackend) and local.github.web_base_url == "http://h:1"


def test_every_tool_call_lands_in_the_audit_table(tmp_path):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**resources.AUDIT.create_table_request("audit"))
        services = build_services(ToolSettings(local_git_remote=str(tmp_path / "r.git"), audit_table="audit"),
                                  dynamodb_client=dynamodb)
        tools = ToolRegistry.default()
        context = ToolContext(agent_type="code", invocation_id="INV-A", services=services)
        tools.call("github_read_file", {"path": "README.md"}, context)
        tools.call("github_commit_files", {"branch": "main", "message": "m", "files": {"a": "b"}}, context)
        items = dynamodb.query(TableName="audit", KeyConditionExpression="invocation_id = :i",
                               ExpressionAttributeValues={":i": {"S": "INV-A"}})["Items"]
    assert [(i["tool"]["S"], i["outcome"]["S"]) for i in items] == [("github_read_file", "ok"),
                                                                    ("github_commit_files", "denied")]
    assert all(i["agent_type"]["S"] == "code" and int(i["expires_at"]["N"]) > 0 for i in items)
    assert "default branch" in items[1]["detail"]["S"] and len(items[0]["args_sha256"]["S"]) == 64
    assert all(i["source"]["S"] == "tool" for i in items)

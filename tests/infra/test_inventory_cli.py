"""`aidlc infra inventory`: the real program under mocks, printed; a plugin author sees their runtime appear."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from runtime.cli import app
from runtime.registry import get_registry
from tests.infra.conftest import PROJECT_ROOT


def test_inventory_json_lists_runtimes_statements_and_passing_checks() -> None:
    result = CliRunner().invoke(app, ["infra", "inventory", "--stack", "dev", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    runtimes = [r for r in report["resources"] if r["type"] == "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"]
    assert sorted(r["settings"]["agent"] for r in runtimes) == sorted(get_registry().agents)
    assert all(r["parent"] == "agents" for r in runtimes)
    webhook_policy = next(r for r in report["resources"] if r["name"] == "pipeline-webhook-policy")
    assert webhook_policy["parent"] == "pipeline-webhook"
    assert {st["Sid"] for st in webhook_policy["statements"]} >= {"SendToQueues", "ReadSecrets", "WriteOwnLogs"}
    assert report["checks"] and all(found == [] for found in report["checks"].values())
    assert {"botocore_shape", "provider_inputs", "aws_rules", "iam_database"} <= set(report["checks"])
    # Every resource's full inputs, as the provider receives them (camelCase), beside the key settings.
    table = next(r for r in report["resources"] if r["name"] == "state-invocations")
    assert table["inputs"]["hashKey"] == "invocation_id" and table["inputs"]["billingMode"] == "PAY_PER_REQUEST"
    assert all("inputs" in r for r in report["resources"])
    version = next(r for r in report["resources"] if r["name"] == "state-notion-token-value")
    assert version["inputs"]["secretString"] == "[secret]"  # never the value
    function = next(r for r in report["resources"] if r["name"] == "pipeline-webhook-fn")
    assert function["inputs"]["code"]["FileArchive"].endswith(".zip")
    components = {r["type"] for r in report["resources"] if r["component"]}
    assert {f"aidlc:index:{n}" for n in ("Ingress", "Orchestration", "PrototypeHosting", "AgentCore",
                                          "Monitoring")} <= components


def test_inventory_checks_recorded_calls_for_iam_coverage(tmp_path: Path) -> None:
    calls = tmp_path / "aws-calls.jsonl"
    calls.write_text(json.dumps({"principal": "webhook", "service": "dynamodb", "operation": "Scan",
                                 "params": {"TableName": "aidlc-local-invocations"}, "region": "us-east-1"}) + "\n")
    result = CliRunner().invoke(app, ["infra", "inventory", "--json", "--calls", str(calls)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["recorded_calls"]["count"] == 1
    (violation,) = report["checks"]["iam_coverage"]
    assert violation.startswith("[iam_coverage] webhook: dynamodb.Scan needs dynamodb:Scan on arn:aws:dynamodb:")


def test_inventory_table_output_and_bad_stack_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["infra", "inventory", "--no-statements"])
    assert result.exit_code == 0, result.output
    assert "aidlc_dev_demo_deck" in result.output
    assert "check least_privilege: pass" in result.output

    (tmp_path / "Pulumi.yaml").write_text((PROJECT_ROOT / "Pulumi.yaml").read_text())
    data = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    data["config"]["aidlc:concurrencyLimit"] = 0
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["infra", "inventory", "--stack", "broken", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert "aidlc:concurrencyLimit" in result.output

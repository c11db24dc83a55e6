"""Versioned agent endpoints in the Pulumi program (issue 14 item 4): dev, staging and prod endpoints per runtime
(beta where configured) at the versions aidlc:agentVersions sets, the map the orchestrator reads in one env var,
`aidlc infra inventory` showing which version each endpoint serves, every infra check passing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from components.agentcore import AgentCoreArgs
from components.base import ComponentArgsError
from runtime.cli import app
from runtime.registry import get_registry
from tests.infra.conftest import PROJECT_ROOT

ENDPOINT = "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint"


def _stack_root(tmp_path: Path, changes: dict) -> Path:
    """The project folder with one more stack file: every entry linked, so the real program runs."""
    for entry in PROJECT_ROOT.iterdir():
        if not entry.name.startswith("Pulumi.") or entry.name == "Pulumi.yaml":
            (tmp_path / entry.name).symlink_to(entry)
    data = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    data["config"].update(changes)
    (tmp_path / "Pulumi.versions.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_inventory_shows_each_endpoints_version_and_a_rollback_is_a_config_change(tmp_path: Path) -> None:
    # Over 10 s (~17 s): two mock runs of the whole program through the CLI (JSON, then the table), because the
    # inventory must be read as a user runs it; the endpoints, the orchestrator's env var and every check.
    root = _stack_root(tmp_path, {"aidlc:agentVersions": {"code": {"prod": "2", "staging": "3", "beta": "4"}},
                                  "aidlc:agentBetaShare": 0.1})
    result = CliRunner().invoke(app, ["infra", "inventory", "--stack", "versions", "--root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert all(found == [] for found in report["checks"].values()), report["checks"]
    endpoints = {(r["inputs"]["tags"]["aidlc:agent"], r["settings"]["name"]): r["settings"]["version"]
                 for r in report["resources"] if r["type"] == ENDPOINT}
    agents = set(get_registry().agents)
    assert {agent for agent, _ in endpoints} == agents
    # code: prod rolled back to 2, staging at 3, a beta at 4, dev on the latest (the mocks' version 1)
    assert {name: v for (agent, name), v in endpoints.items() if agent == "code"} == {
        "dev": "1", "staging": "3", "prod": "2", "beta": "4"}
    # every other agent: the three stable endpoints, no beta, each on the latest version
    for agent in agents - {"code"}:
        assert {name: v for (a, name), v in endpoints.items() if a == agent} == {
            "dev": "1", "staging": "1", "prod": "1"}
    orchestrator = next(r for r in report["resources"] if r["name"] == "pipeline-orchestrator-fn")
    env = orchestrator["inputs"]["environment"]["variables"]
    assert json.loads(env["AIDLC_AGENT_ENDPOINTS"])["code"] == {"dev": "1", "staging": "3", "prod": "2", "beta": "4"}
    assert "AIDLC_AGENT_QUALIFIER" not in env
    # The default project's share reaches the handlers with the project configuration.
    assert json.loads(env["AIDLC_PROJECT_CONFIG"])["beta_share"] == 0.1

    table = CliRunner().invoke(app, ["infra", "inventory", "--stack", "versions", "--root", str(root),
                                     "--no-statements"])
    assert table.exit_code == 0
    assert "name=beta" in table.output and "version=4" in table.output


@pytest.mark.parametrize("changes, key", [
    ({"aidlc:agentVersions": {"code": {"prod": "latest"}}}, "aidlc:agentVersions.code.prod"),
    ({"aidlc:agentVersions": {"code": {"canary": "2"}}}, "aidlc:agentVersions.code.canary"),
    ({"aidlc:agentBetaShare": 0.5}, "aidlc:agentBetaShare"),
    ({"aidlc:agentEndpoint": "qa"}, "aidlc:agentEndpoint"),
])
def test_a_bad_endpoint_setting_is_refused_naming_the_key(tmp_path: Path, changes: dict, key: str) -> None:
    root = _stack_root(tmp_path, changes)
    result = CliRunner().invoke(app, ["infra", "inventory", "--stack", "versions", "--root", str(root)])
    assert result.exit_code == 2  # refused before the program runs
    assert key in result.output


def test_versions_for_an_agent_no_plugin_registers_are_refused_by_name() -> None:
    with pytest.raises(ComponentArgsError, match=r"aidlc:agentVersions\.cdoe: no agent plugin named 'cdoe'"):
        AgentCoreArgs(name_prefix="p", agents=list(get_registry().agents.values()), state=None, agent_code=None,
                      code_bucket_key="k", tool_gateway_code=None, tool_payloads=[{}], prototype_bucket_name="b",
                      prototype_bucket_arn="a", model_id="m", region="r", account_id="1",
                      agent_versions={"cdoe": {"prod": "2"}})

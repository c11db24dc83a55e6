"""The stack configuration: the dev file is valid and complete; a bad value is rejected with its key named,
both by the YAML reader and inside the Pulumi program."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from runtime.stack_config import SECRET_KEYS, StackConfig, StackConfigError, load_stack_config
from tests.infra.conftest import PROJECT_ROOT, run_dev


def test_dev_stack_sets_every_setting() -> None:
    data = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    keys = {k.split(":", 1)[1] for k in data if k.startswith("aidlc:")}
    expected = {field.alias for field in StackConfig.model_fields.values()}
    assert keys == expected
    config = load_stack_config("dev", PROJECT_ROOT)
    assert config.project_config().project_id == config.project_id
    assert config.model_ids[0] == config.model_id


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("prototypeExpiryDays", 0, "greater than or equal to 1"),
        ("logRetentionDays", 13, "CloudWatch Logs accepts only"),
        ("githubRepo", "not a repo", "should match pattern"),
        ("agentChainTemplate", "story-to-everything", "story-to-code"),
        ("alarmEmail", "nobody", "should match pattern"),
        ("agentRuntime", "PYTHON_3_9", "should match pattern"),
        ("triggerMap", {"Ship It": "Not An Agent"}, "not a valid agent name"),
        ("costLimitPerMonth", "-1", "greater than 0"),
        ("projectId", "Has Spaces", "should match pattern"),
        ("notionTokn", "typo", "unknown setting"),
    ],
)
def test_bad_value_is_rejected_with_its_key(tmp_path: Path, key: str, value: object, fragment: str) -> None:
    data = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    data["config"][f"aidlc:{key}"] = value
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(StackConfigError) as caught:
        load_stack_config("bad", tmp_path)
    message = str(caught.value)
    assert f"aidlc:{key}" in message
    assert fragment in message
    assert "Pulumi.bad.yaml" in message


def test_month_budget_below_invocation_budget_is_rejected() -> None:
    with pytest.raises(StackConfigError, match="costLimitPerMonth is below costLimitPerInvocation"):
        StackConfig.from_settings({"projectId": "p", "costLimitPerInvocation": "10", "costLimitPerMonth": "5"})


def test_values_arrive_as_strings_from_pulumi() -> None:
    config = StackConfig.from_settings({
        "projectId": "p", "concurrencyLimit": "7", "tags": '{"team": "x"}', "costLimitPerMonth": "12.5",
        "modelPrices": '{"m": {"input_per_million": 1, "output_per_million": 2}}',
    })
    assert config.concurrency_limit == 7
    assert config.tags == {"team": "x"}
    assert config.cost_limit_per_month == Decimal("12.5")
    assert config.model_prices["m"].output_per_million == 2


def test_secure_values_never_read_from_the_file(tmp_path: Path) -> None:
    data = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    for key in SECRET_KEYS:
        data["config"][f"aidlc:{key}"] = {"secure": "AAABAKxyz"}
    (tmp_path / "Pulumi.sec.yaml").write_text(yaml.safe_dump(data))
    assert load_stack_config("sec", tmp_path).project_id == "aidlc-dev"


def test_the_program_rejects_bad_config_naming_the_key() -> None:
    with pytest.raises(StackConfigError) as caught:
        run_dev({"aidlc:prototypeExpiryDays": "400"})
    assert "aidlc:prototypeExpiryDays" in str(caught.value)


def test_the_program_reports_unknown_keys_instead_of_ignoring_them() -> None:
    with pytest.raises(StackConfigError, match="aidlc:costLimitPerMonthh: unknown setting"):
        run_dev({"aidlc:costLimitPerMonthh": "50"})


def test_missing_stack_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError, match="pulumi stack init prod"):
        load_stack_config("prod", tmp_path)

"""Domain model validation: bad records fail with messages that say what is wrong."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from runtime.errors import AidlcError, ErrorCode, ErrorResponse
from runtime.models import (
    CompletionEvent,
    InvocationRecord,
    OutputArtifact,
    PageSnapshot,
    ProjectConfig,
    QueueMessage,
    TokenUsage,
    new_ulid,
)


def record(**overrides):
    fields = dict(
        invocation_id=new_ulid(),
        notion_page_id="page-1",
        workspace_id="ws",
        project_id="proj",
        agent_type="mock",
    )
    fields.update(overrides)
    return InvocationRecord(**fields)


def test_a_valid_record_has_seed_defaults():
    rec = record()
    assert rec.status == "queued" and rec.cost_usd == Decimal("0") and rec.output_artifacts == []
    assert rec.created_at.tzinfo is not None


def test_negative_cost_is_rejected():
    with pytest.raises(ValidationError, match=r"cost_usd\n.*greater than or equal to 0"):
        record(cost_usd=Decimal("-0.01"))


def test_unknown_status_is_rejected():
    with pytest.raises(ValidationError, match=r"status\n.*'queued', 'running', 'completed', 'failed' or 'cancelled'"):
        record(status="paused")


def test_a_ulid_that_is_not_one_is_rejected():
    with pytest.raises(ValidationError, match=r"invocation_id\n.*'not-a-ulid' is not a ULID"):
        record(invocation_id="not-a-ulid")


def test_agent_type_is_any_registry_name_but_well_formed():
    assert record(agent_type="my_new_agent").agent_type == "my_new_agent"
    with pytest.raises(ValidationError, match="not a valid agent name"):
        record(agent_type="Demo Deck")


def test_unknown_fields_are_errors_not_dropped():
    with pytest.raises(ValidationError, match="cost_usdd"):
        record(cost_usdd=1)


def test_artifact_metadata_must_match_its_type():
    with pytest.raises(ValidationError, match="carries 'pull_request' metadata"):
        OutputArtifact(
            type="prototype",
            url="u",
            title="t",
            metadata={"kind": "pull_request", "repo": "a/b", "branch": "x", "pr_number": 1, "files_changed": 1},
        )


def test_token_usage_totals_itself():
    assert TokenUsage(input_tokens=3, output_tokens=4).total_tokens == 7
    assert (TokenUsage(input_tokens=1) + TokenUsage(output_tokens=2)).total_tokens == 3


def test_project_config_defaults_and_limits():
    cfg = ProjectConfig(project_id="p")
    assert cfg.prototype_expiry_days == 7 and cfg.agent_chain_template == "story-to-mock-to-deck"
    with pytest.raises(ValidationError, match="agent_chain_template"):
        ProjectConfig(project_id="p", agent_chain_template="story-to-everything")


def test_failed_completion_needs_a_code():
    with pytest.raises(ValidationError, match="needs an error_code"):
        CompletionEvent(invocation_id=new_ulid(), agent_type="mock", status="failed")


def test_queue_message_round_trips_json():
    message = QueueMessage(
        invocation_id=new_ulid(),
        workspace_id="ws",
        notion_page_id="p",
        agent_type="mock",
        trigger_value="Generate Prototype",
        project_id="proj",
        page_snapshot=PageSnapshot(title="T", properties={"Acceptance Criteria": "- one\n2. two\n\n* three"}),
    )
    again = QueueMessage.model_validate_json(message.model_dump_json())
    assert again == message
    assert again.page_snapshot.acceptance_criteria == ["one", "two", "three"]


def test_error_response_shape_and_default_remediation():
    body = ErrorResponse.of(ErrorCode.BUDGET_EXCEEDED, "Monthly budget of $50.00 has been exhausted").model_dump()
    assert set(body["error"]) == {"code", "message", "invocation_id", "remediation"}
    assert "cost_limit_per_month" in body["error"]["remediation"]
    err = AidlcError(ErrorCode.NOT_FOUND, "no invocation 1", invocation_id="1")
    assert err.to_response().error.invocation_id == "1"

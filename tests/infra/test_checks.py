"""Each security/correctness check passes on the dev stack and fails on a deliberately bad resource."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from components import checks
from components.mockrun import Recording, run_program


def _set_policy(recording: Recording, name: str, mutate: Callable[[dict], None]) -> None:
    resource = recording.named(name)
    document = json.loads(resource.inputs["policy"])
    mutate(document)
    resource.inputs["policy"] = json.dumps(document)


def _wildcard_action(r: Recording) -> None:
    _set_policy(r, "pipeline-webhook-policy", lambda d: d["Statement"].append(
        {"Sid": "Oops", "Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::x"]}))


def _webhook_invokes_agents(r: Recording) -> None:
    _set_policy(r, "pipeline-webhook-policy", lambda d: d["Statement"].append(
        {"Sid": "Agents", "Effect": "Allow", "Action": ["bedrock-agentcore:InvokeAgentRuntime"],
         "Resource": ["arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/x"]}))


def _unencrypted_queue(r: Recording) -> None:
    r.named("state-completions").inputs.pop("sqsManagedSseEnabled")


def _public_access_off(r: Recording) -> None:
    r.named("prototypes-no-public-access").inputs["restrictPublicBuckets"] = False


def _origin_without_oac(r: Recording) -> None:
    r.named("prototypes-cdn").inputs["origins"][0].pop("originAccessControlId")


def _queue_without_dlq(r: Recording) -> None:
    r.named("state-tasks").inputs.pop("redrivePolicy")


def _log_group_forever(r: Recording) -> None:
    r.named("pipeline-api-logs").inputs.pop("retentionInDays")


def _silent_alarm(r: Recording) -> None:
    r.named("monitoring-budget-80").inputs["alarmActions"] = []


def _secret_in_env(r: Recording) -> None:
    r.named("pipeline-webhook-fn").inputs["environment"]["variables"]["NOTION_TOKEN"] = "secret_abc123"


def _whole_batch_retry(r: Recording) -> None:
    r.named("pipeline-orchestrator-from-tasks").inputs["functionResponseTypes"] = []


def _unpinned_trust(r: Recording) -> None:
    role = r.named("agents-code-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    trust["Statement"][0].pop("Condition")
    role.inputs["assumeRolePolicy"] = json.dumps(trust)


def _runtime_name_with_a_hyphen(r: Recording) -> None:
    r.named("agents-code-runtime").inputs["agentRuntimeName"] = "aidlc-dev-code"  # AgentCore: [a-zA-Z][a-zA-Z0-9_]*


def _provider_unknown_nested_field(r: Recording) -> None:
    payloads = r.named("agents-gateway-target").inputs["targetConfiguration"]["mcp"]["lambda"]["toolSchema"]
    payloads["inlinePayloads"][0]["inputSchema"]["properties"].append(
        {"name": "rows", "type": "array", "items": {"type": "object", "propertiesJson": "{}"}})


def _table_tag_with_parentheses(r: Recording) -> None:
    r.named("state-invocations").inputs["tags"]["aidlc:purpose"] = "agent invocation records (seed 2.1)"


def _action_that_does_not_exist(r: Recording) -> None:
    _set_policy(r, "pipeline-webhook-policy", lambda d: d["Statement"].append(
        {"Sid": "Typo", "Effect": "Allow", "Action": ["sqs:SendMessages"],
         "Resource": ["arn:aws:sqs:us-east-1:123456789012:x"]}))


BREAKERS: dict[str, tuple[Callable[[Recording], None], str]] = {
    "least_privilege": (_wildcard_action, "pipeline-webhook-policy"),
    "encryption_at_rest": (_unencrypted_queue, "state-completions"),
    "no_public_s3": (_public_access_off, "prototypes-bucket"),
    "oac_only": (_origin_without_oac, "prototypes-cdn"),
    "queues_have_dlq": (_queue_without_dlq, "state-tasks"),
    "lambdas_have_log_retention": (_log_group_forever, "pipeline-api-fn"),
    "alarms_have_actions": (_silent_alarm, "monitoring-budget-80"),
    "no_secret_values_in_env": (_secret_in_env, "pipeline-webhook-fn"),
    "partial_batch_responses": (_whole_batch_retry, "pipeline-orchestrator-from-tasks"),
    "service_roles_pinned": (_unpinned_trust, "agents-code-role"),
    "botocore_shape": (_runtime_name_with_a_hyphen, "agents-code-runtime"),
    "provider_inputs": (_provider_unknown_nested_field, "agents-gateway-target"),
    "aws_rules": (_table_tag_with_parentheses, "state-invocations"),
    "iam_database": (_action_that_does_not_exist, "pipeline-webhook-policy"),
}


def test_every_check_has_a_breaking_case() -> None:
    assert set(BREAKERS) == set(checks.CHECKS)


def test_all_checks_pass_on_the_dev_stack(dev_stack: Recording) -> None:
    results = checks.run_checks(dev_stack)
    assert {name: [str(v) for v in found] for name, found in results.items() if found} == {}


@pytest.mark.parametrize("check_name", sorted(BREAKERS))
def test_check_fails_on_a_bad_resource(dev_stack: Recording, check_name: str) -> None:
    breaker, culprit = BREAKERS[check_name]
    breaker(dev_stack)
    violations = checks.CHECKS[check_name](dev_stack)
    assert {v.resource for v in violations} == {culprit}, violations
    assert all(v.check == check_name for v in violations)


def test_least_privilege_catches_a_capability_the_declaration_does_not_grant(dev_stack: Recording) -> None:
    _webhook_invokes_agents(dev_stack)
    (violation,) = checks.least_privilege(dev_stack)
    assert "webhook may invoke agent runtimes" in violation.message


def test_wildcard_resource_allowed_only_for_unscoped_actions(dev_stack: Recording) -> None:
    # The cost metric statement uses "*" (CloudWatch metrics have no ARN) and passes...
    statements = json.loads(dev_stack.named("pipeline-completion-policy").inputs["policy"])["Statement"]
    assert any(st["Resource"] == ["*"] for st in statements)
    assert checks.least_privilege(dev_stack) == []
    # ...but "*" on an action that can be scoped fails.
    _set_policy(dev_stack, "pipeline-completion-policy", lambda d: d["Statement"].append(
        {"Sid": "AnyTable", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["*"]}))
    (violation,) = checks.least_privilege(dev_stack)
    assert "dynamodb:GetItem" in violation.message


def test_checks_catch_a_bad_program_not_just_edited_records() -> None:
    """A small program of its own, registered through the same mocks: a public, unencrypted bucket."""

    def bad_program() -> None:
        bucket = aws.s3.Bucket("open-bucket")
        aws.s3.BucketPolicy("open-policy", bucket=bucket.id, policy=pulumi.Output.json_dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": pulumi.Output.concat(bucket.arn, "/*")}],
        }))
        aws.sqs.Queue("lonely-queue")

    recording = run_program(bad_program)
    found = {name: sorted(v.resource for v in vs) for name, vs in checks.run_checks(recording).items() if vs}
    assert found == {
        "no_public_s3": ["open-bucket", "open-policy"],
        "encryption_at_rest": ["lonely-queue", "open-bucket"],
        "queues_have_dlq": ["lonely-queue"],
    }

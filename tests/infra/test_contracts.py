"""The program against contracts nobody here wrote: botocore's input shapes, the provider's input types, AWS's
documented rules, the IAM action database, and IAM coverage of the calls the code makes. Each kind of failure is
shown on a planted bad resource, statement or call."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi_aws as aws
import pytest

from components import aws_rules, botocore_shapes, iam_coverage, iam_database, provider_schema
from components.mockrun import Recording, run_program
from runtime.tools.schemas import gateway_inline_payloads
from runtime.resources import Header


def _policy(recording: Recording, name: str) -> dict:
    return json.loads(recording.named(name).inputs["policy"])


def _set_policy(recording: Recording, name: str, mutate: Callable[[dict], None]) -> None:
    document = _policy(recording, name)
    mutate(document)
    recording.named(name).inputs["policy"] = json.dumps(document)


# --- botocore shapes -----------------------------------------------------------------------------------------


def _problems(recording: Recording, name: str) -> list[str]:
    resource = recording.named(name)
    return [str(p) for request in botocore_shapes.requests_for(resource, recording)
            for p in botocore_shapes.validate(request)]


@pytest.mark.parametrize(("name", "plant", "expected"), [
    ("pipeline-webhook-fn", lambda i: i.update(runtime="python2.1"), "'python2.1' is not one of"),  # enum
    ("pipeline-webhook-fn", lambda i: i.update(memorySize=65536.0), "65536: above the maximum"),  # max
    ("pipeline-webhook-fn", lambda i: i.pop("role"), "CreateFunction.Role: required"),  # required
    ("pipeline-webhook-fn", lambda i: i.update(handler="two words"), "does not match"),  # pattern
    ("agents-gateway-target", lambda i: i["metadataConfiguration"].update(
        allowedRequestHeaders=[f"X-H{n}" for n in range(11)]), "11 items: above the maximum 10"),  # list count
    ("state-tasks", lambda i: i.update(name="x" * 90 + ".fifo"), "80 characters"),  # an AWS rule, see below
])
def test_botocore_shapes_catch_each_kind(dev_stack: Recording, name, plant, expected) -> None:
    assert _problems(dev_stack, name) == []
    plant(dev_stack.named(name).inputs)
    found = _problems(dev_stack, name) + [str(v) for v in aws_rules.names(dev_stack)]
    assert any(expected in p for p in found), found


def test_an_unknown_member_in_a_nested_api_structure_is_caught(dev_stack: Recording) -> None:
    code = dev_stack.named("agents-code-runtime").inputs["agentRuntimeArtifact"]["codeConfiguration"]
    code["entrypoint"] = "app.py"
    assert any("entrypoint: unknown member of CodeConfiguration" in p
               for p in _problems(dev_stack, "agents-code-runtime"))


def test_every_registered_resource_type_has_a_request_mapping(dev_stack: Recording) -> None:
    assert botocore_shapes.unmapped_types(dev_stack.resources) == []
    recording = run_program(lambda: aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16"))
    assert botocore_shapes.unmapped_types(recording.resources) == ["aws:ec2/vpc:Vpc"]


# --- the provider's input types: nested array-of-object tool arguments ----------------------------------------


NESTED_SCHEMA = {
    "name": "notion_create_rows",
    "description": "rows of cells",
    "inputSchema": {
        "type": "object",
        "required": ["rows"],
        "properties": {
            "rows": {"type": "array", "items": {
                "type": "object", "properties": {
                    "cells": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}}}},
                    "title": {"type": "string"},
                }}},
            "meta": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
        },
    },
}


def test_nested_array_of_object_arguments_give_fields_the_provider_accepts() -> None:
    payloads = gateway_inline_payloads([NESTED_SCHEMA])

    def program() -> None:
        aws.bedrock.AgentcoreGatewayTarget(
            "target", gateway_identifier="gw-abcdefghij", name="t",
            target_configuration={"mcp": {"lambda_": {"lambda_arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                                      "tool_schema": {"inline_payloads": payloads}}}})

    (target,) = run_program(program).of_type("aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget")
    assert provider_schema.problems(target) == []
    # ...and the API sees the schema whole: rows -> items -> properties -> cells -> items -> text.
    definition = botocore_shapes.tool_definition(
        target.inputs["targetConfiguration"]["mcp"]["lambda"]["toolSchema"]["inlinePayloads"][0])
    rows = definition["inputSchema"]["properties"]["rows"]
    assert rows["items"]["properties"]["cells"]["items"]["properties"]["text"] == {"type": "string"}
    assert definition["inputSchema"]["required"] == ["rows"]


# --- AWS rules botocore does not model -------------------------------------------------------------------------


def _fifo_dlq_is_standard(r: Recording) -> None:
    dlq = r.named("state-tasks-dlq").inputs
    dlq.pop("fifoQueue")
    dlq["name"] = dlq["name"].removesuffix(".fifo")


def _visibility_below_timeout(r: Recording) -> None:
    r.named("state-tasks").inputs["visibilityTimeoutSeconds"] = 60.0  # the orchestrator's timeout is 120 s


def _big_environment(r: Recording) -> None:
    r.named("pipeline-completion-fn").inputs["environment"]["variables"]["AIDLC_PROJECT_CONFIG"] = "x" * 5000


def _reserved_variable(r: Recording) -> None:
    r.named("pipeline-completion-fn").inputs["environment"]["variables"]["AWS_REGION"] = "eu-west-1"


def _managed_sns_key(r: Recording) -> None:
    r.named("monitoring-alarms").inputs["kmsMasterKeyId"] = "alias/aws/sns"


def _key_without_cloudwatch(r: Recording) -> None:
    _set_policy(r, "monitoring-alarms-key", lambda d: d["Statement"].pop(1))


def _no_index_function(r: Recording) -> None:
    r.named("prototypes-cdn").inputs["defaultCacheBehavior"].pop("functionAssociations")


def _headers_not_allow_listed(r: Recording) -> None:
    r.named("agents-gateway-target").inputs.pop("metadataConfiguration")


def _plural_rate(r: Recording) -> None:
    r.named("pipeline-budget_alerts-schedule").inputs["scheduleExpression"] = "rate(1 hours)"


def _long_function_name(r: Recording) -> None:
    r.named("pipeline-webhook-fn").inputs["name"] = "f" * 65


RULE_BREAKERS = {
    "dynamodb tag": (lambda r: r.named("state-audit").inputs["tags"].update({"aidlc:purpose": "a, b (c)"}),
                     "state-audit", "characters DynamoDB refuses"),
    "FIFO DLQ": (_fifo_dlq_is_standard, "state-tasks", "dead-letter queue"),
    "visibility": (_visibility_below_timeout, "state-tasks", "shorter than"),
    "env size": (_big_environment, "pipeline-completion-fn", "over Lambda's 4 KB"),
    "reserved env": (_reserved_variable, "pipeline-completion-fn", "reserves"),
    "aws/sns key": (_managed_sns_key, "monitoring-alarms", "aws/sns cannot"),
    "key policy": (_key_without_cloudwatch, "monitoring-alarms-key", "does not let CloudWatch"),
    "folder URLs": (_no_index_function, "prototypes-cdn", "answers 403"),
    "header allow-list": (_headers_not_allow_listed, "agents-gateway-target", "does not allow-list"),
    "schedule": (_plural_rate, "pipeline-budget_alerts-schedule", "not a valid"),
    "function name": (_long_function_name, "pipeline-webhook-fn", "longer than 64"),
    "alarm period": (lambda r: r.named("monitoring-budget-80").inputs.update(period=90.0), "monitoring-budget-80",
                     "not 10, 30 or a multiple of 60"),
    "alarm span": (lambda r: r.named("monitoring-budget-100").inputs.update(evaluationPeriods=25.0),
                   "monitoring-budget-100", "exceed one day"),
}


@pytest.mark.parametrize("rule", sorted(RULE_BREAKERS))
def test_each_aws_rule_fails_on_a_planted_resource(dev_stack: Recording, rule: str) -> None:
    assert aws_rules.aws_rules(dev_stack) == []
    plant, culprit, message = RULE_BREAKERS[rule]
    plant(dev_stack)
    found = aws_rules.aws_rules(dev_stack)
    assert [v.resource for v in found] == [culprit], found
    assert message in found[0].message


def test_table_purposes_are_valid_dynamodb_tags(dev_stack: Recording) -> None:
    from runtime.resources import TABLES

    assert any(set(t.purpose) & set("(),{}") for t in TABLES)  # the declarations do hold such characters...
    for table in dev_stack.of_type("aws:dynamodb/table:Table"):  # ...the tags sent to CreateTable do not
        assert aws_rules.DYNAMODB_TAG_CHARS.match(table.inputs["tags"]["aidlc:purpose"])
    assert aws_rules.dynamodb_tag_value("records (seed 2.1), per {id}") == "records seed 2.1 per id"


def test_the_gateway_forwards_exactly_the_headers_the_agents_send(dev_stack: Recording) -> None:
    from runtime.agent import tools as agent_tools

    target = dev_stack.named("agents-gateway-target").inputs
    assert target["metadataConfiguration"]["allowedRequestHeaders"] == list(Header.TOOL_CALLER)
    assert {agent_tools.AGENT_HEADER} <= set(Header.TOOL_CALLER)


def test_the_alarm_topic_uses_a_key_cloudwatch_may_use(dev_stack: Recording) -> None:
    topic = dev_stack.named("monitoring-alarms").inputs
    key = dev_stack.named("monitoring-alarms-key")
    assert topic["kmsMasterKeyId"] == key.state["arn"]
    (cloudwatch,) = [st for st in _policy(dev_stack, "monitoring-alarms-key")["Statement"]
                     if st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


# --- the IAM action database -------------------------------------------------------------------------------


@pytest.mark.parametrize(("statement", "expected"), [
    ({"Sid": "A", "Effect": "Allow", "Action": ["dynamodb:GetItems"], "Resource": ["arn:aws:dynamodb:us-east-1:1:table/t"]},
     "does not exist"),
    ({"Sid": "R", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:s3:::bucket/*"]},
     "cannot be granted on"),
    ({"Sid": "S", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
      "Resource": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"]}, "its resource types: *"),
    ({"Sid": "C", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": ["*"],
      "Condition": {"StringEquals": {"cloudwatch:namespaces": "aidlc"}}}, "condition key 'cloudwatch:namespaces'"),
])
def test_iam_database_catches_each_kind(dev_stack: Recording, statement: dict, expected: str) -> None:
    assert iam_database.iam_database(dev_stack) == []
    _set_policy(dev_stack, "pipeline-completion-policy", lambda d: d["Statement"].append(statement))
    found = iam_database.iam_database(dev_stack)
    assert {v.resource for v in found} == {"pipeline-completion-policy"}
    assert any(expected in v.message for v in found), found


def test_iam_wildcards_cross_colons_as_iam_does() -> None:
    # `log-group:x:*` grants the log streams of x (policy_sentry's own matcher would say no).
    assert iam_database.grants("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:x:*")
    assert not iam_database.grants("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:x")


# --- IAM coverage of recorded calls ------------------------------------------------------------------------

LOCAL = "aidlc-local"  # the local stack's prefix: the calls name its physical resources


def call(principal: str, service: str, operation: str, **params) -> dict:
    return {"principal": principal, "service": service, "operation": operation, "params": params,
            "region": "us-east-1", "ok": True, "error": None}


SWEEPER_SCANS = [call(p, "dynamodb", "Scan", TableName=f"{LOCAL}-projects") for p in ("reconcile", "budget_alerts")]
PROTOTYPE_UPLOAD = call("tool_gateway", "s3", "PutObject", Bucket=f"{LOCAL}-prototypes", Key="01J/index.html",
                        Body=b"<html>", Tagging="aidlc-expires=true")


def _without(recording: Recording, policy: str, action: str) -> None:
    def drop(document: dict) -> None:
        for st in document["Statement"]:
            st["Action"] = [a for a in st["Action"] if a != action]
    _set_policy(recording, policy, drop)


def test_coverage_catches_the_sweepers_scan_without_dynamodb_scan(dev_stack: Recording) -> None:
    assert iam_coverage.iam_coverage(dev_stack, SWEEPER_SCANS) == []  # the grant is there now
    for function in ("reconcile", "budget_alerts"):  # as it was before the fix
        _without(dev_stack, f"pipeline-{function}-policy", "dynamodb:Scan")
    found = iam_coverage.iam_coverage(dev_stack, SWEEPER_SCANS)
    assert sorted(v.resource for v in found) == ["budget_alerts", "reconcile"]
    projects_arn = dev_stack.named("state-projects").state["arn"]
    assert all(v.message == f"dynamodb.Scan needs dynamodb:Scan on {projects_arn}" for v in found)


def test_coverage_catches_a_tagged_upload_without_put_object_tagging(dev_stack: Recording) -> None:
    assert iam_coverage.iam_coverage(dev_stack, [PROTOTYPE_UPLOAD]) == []
    _without(dev_stack, "agents-tools-policy", "s3:PutObjectTagging")
    (violation,) = iam_coverage.iam_coverage(dev_stack, [PROTOTYPE_UPLOAD])
    bucket_arn = dev_stack.named("prototypes-bucket").state["arn"]
    assert (violation.resource, violation.message) == (
        "tool_gateway", f"s3.PutObject needs s3:PutObjectTagging on {bucket_arn}/01J/index.html")
    # Without the Tagging parameter the upload needs no more than s3:PutObject.
    untagged = {**PROTOTYPE_UPLOAD, "params": {k: v for k, v in PROTOTYPE_UPLOAD["params"].items() if k != "Tagging"}}
    assert iam_coverage.iam_coverage(dev_stack, [untagged]) == []


def test_coverage_knows_stopping_from_invoking_and_reports_what_it_cannot_map(dev_stack: Recording) -> None:
    runtime = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/aidlc_dev_mock-Ab12Cd34Ef"
    calls = [
        call("api", "bedrock-agentcore", "StopRuntimeSession", agentRuntimeArn=runtime, runtimeSessionId="s" * 33),
        call("timeouts", "bedrock-agentcore", "StopRuntimeSession", agentRuntimeArn=runtime, runtimeSessionId="s"),
        call("orchestrator", "bedrock-agentcore", "InvokeAgentRuntime", agentRuntimeArn=runtime, payload=b"{}"),
        call("completion", "cloudwatch", "PutMetricData", Namespace="aidlc", MetricData=[]),
        call("completion", "dynamodb", "TransactWriteItems", TransactItems=[
            {"Update": {"TableName": f"{LOCAL}-invocations"}}, {"Update": {"TableName": f"{LOCAL}-projects"}}]),
        call("orchestrator", "dynamodb", "Query", TableName=f"{LOCAL}-invocations", IndexName="by_project"),
        call("webhook", "sqs", "SendMessage", QueueUrl=f"http://127.0.0.1:1/123456789012/{LOCAL}-tasks.fifo"),
        call("webhook", "secretsmanager", "GetSecretValue", SecretId=f"{LOCAL}/notion-token"),
    ]
    assert iam_coverage.iam_coverage(dev_stack, calls) == []
    refused = [
        call("api", "bedrock-agentcore", "InvokeAgentRuntime", agentRuntimeArn=runtime),  # may only stop
        call("completion", "cloudwatch", "PutMetricData", Namespace="other"),  # the namespace condition
        call("webhook", "dynamodb", "PutItem", TableName=f"{LOCAL}-audit"),  # a table it does not declare
        call("webhook", "ec2", "DescribeVpcs"),  # no mapping: reported, not skipped
        call("nobody", "sqs", "SendMessage", QueueUrl="http://x/1/q"),
    ]
    found = iam_coverage.iam_coverage(dev_stack, refused)
    assert [v.resource for v in found] == ["api", "completion", "webhook", "webhook", "nobody"]
    assert "needs bedrock-agentcore:InvokeAgentRuntime" in found[0].message
    assert "needs cloudwatch:PutMetricData on *" in found[1].message
    assert "needs dynamodb:PutItem" in found[2].message
    assert "cannot map" in found[3].message and "no role" in found[4].message


# --- the cost metrics the alarms and widgets read ------------------------------------------------------------


def _emitted_metrics(env: dict[str, str], capsys, monkeypatch) -> set[tuple[str, frozenset[str]]]:
    """Run the completion step's real metric emission with exactly `env` for Powertools and capture its EMF."""
    from types import SimpleNamespace

    from runtime.handlers.completion import publish_cost_metrics

    for key in [k for k in __import__("os").environ if k.startswith("POWERTOOLS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("POWERTOOLS_"):
            monkeypatch.setenv(key, value)
    record = SimpleNamespace(project_id="proj-1", agent_type="mock", cost_usd=0.25)
    services = SimpleNamespace(
        settings=SimpleNamespace(metrics_disabled=False),
        projects=SimpleNamespace(budget=lambda _pid: SimpleNamespace(month_to_date=3.5)))
    capsys.readouterr()
    publish_cost_metrics(services, record)
    emitted = set()
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    emitted.add((directive["Namespace"], metric["Name"], frozenset(dimensions)))
    return emitted


def _read_by_monitoring(recording: Recording) -> set[tuple[str, str, frozenset[str]]]:
    wanted = set()
    for alarm in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        if alarm.inputs.get("namespace") == "aidlc":
            wanted.add(("aidlc", alarm.inputs["metricName"], frozenset(alarm.inputs["dimensions"])))
    import re

    cost = json.loads(recording.named("monitoring-cost").inputs["dashboardBody"])
    for widget in cost["widgets"]:
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):  # a SEARCH('{namespace,dim,...} MetricName="X"')
                schema, name = re.search(r"\{([^}]*)\} MetricName=\"(\w+)\"", metric[0]["expression"]).groups()
                namespace, *dimensions = schema.split(",")
                wanted.add((namespace, name, frozenset(dimensions)))
            else:
                namespace, name, *pairs = metric
                wanted.add((namespace, name, frozenset(pairs[0::2])))
    return wanted


def test_alarms_and_widgets_read_metrics_the_completion_step_emits(dev_stack: Recording, capsys, monkeypatch) -> None:
    env = dev_stack.named("pipeline-completion-fn").inputs["environment"]["variables"]
    wanted = _read_by_monitoring(dev_stack)
    assert {name for _, name, _ in wanted} == {"MonthToDateCostUSD", "InvocationCostUSD"}
    emitted = _emitted_metrics(env, capsys, monkeypatch)
    assert wanted <= emitted, (wanted - emitted, emitted)
    # With Powertools' service name in the environment (as before the fix) every metric gains a `service`
    # dimension and no alarm matches.
    emitted = _emitted_metrics({**env, "POWERTOOLS_SERVICE_NAME": "aidlc"}, capsys, monkeypatch)
    assert not wanted & emitted


# --- prototype URLs without a file name ----------------------------------------------------------------------


def test_folder_urls_are_rewritten_to_their_index(dev_stack: Recording) -> None:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the function is plain cloudfront-js)")
    code = dev_stack.named("prototypes-index").inputs["code"]
    cases = {"/01J/": "/01J/index.html", "/01J": "/01J/index.html", "/01J/a/": "/01J/a/index.html",
             "/01J/style.css": "/01J/style.css", "/01J/index.html": "/01J/index.html", "/": "/index.html"}
    script = code + "\nconst cases = " + json.dumps(list(cases)) + ";\n" + \
        "console.log(JSON.stringify(cases.map(u => handler({request: {uri: u}}).uri)));\n"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == list(cases.values())


# --- typed component Args ----------------------------------------------------------------------------------


def test_component_args_are_validated_at_construction() -> None:
    from components.base import ComponentArgsError
    from components.hosting import PrototypeHostingArgs
    from components.state import StateArgs

    with pytest.raises(TypeError, match="expiry_days"):
        PrototypeHostingArgs()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="expiry"):
        PrototypeHostingArgs(expiry_days=3, expiry=4)  # type: ignore[call-arg]
    with pytest.raises(ComponentArgsError, match="expiry_days must be 1..365"):
        PrototypeHostingArgs(expiry_days=0)
    with pytest.raises(ComponentArgsError, match="unknown secrets"):
        StateArgs(name_prefix="p", secret_values={"no-such-secret": "x"})

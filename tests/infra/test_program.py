"""The whole program for the dev config: components, resources and their wiring, as `pulumi up` would create them."""

from __future__ import annotations

import json

import pytest

from components.agentcore import ENDPOINT_NAMES
from components.ingress import INTERNAL_ROUTES, WEBHOOK_ROUTE
from runtime.resources import ROUTES
from components.mockrun import Recording
from runtime.registry import get_registry
from runtime.resources import FUNCTIONS, QUEUES, SECRETS, TABLES, WORKFLOW_FUNCTIONS
from runtime.stack_config import load_stack_config
from tests.infra.conftest import PROJECT_ROOT, TEST_SECRETS, run_dev

COMPONENT_TYPES = ("State", "Ingress", "Orchestration", "PrototypeHosting", "AgentCore", "Monitoring", "KnowledgeBase",
                   "Onboarding", "Workflows", "WorkflowAlarms")


def plain(value):
    """A secret input arrives wrapped; Pulumi secrets (`config set --secret`) stay marked secret to the provider."""
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    is_secret = isinstance(value, dict) and value.get(_special_sig_key) == _special_secret_sig
    return ("secret", value["value"]) if is_secret else value


def _policy(recording: Recording, name: str) -> list[dict]:
    return json.loads(recording.named(name).inputs["policy"])["Statement"]


def _actions(statements: list[dict]) -> set[str]:
    return {action for st in statements for action in st["Action"]}


def _resources(statements: list[dict]) -> list[str]:
    return [resource for st in statements for resource in st["Resource"]]


def test_each_component_once_with_its_children(dev_stack: Recording) -> None:
    components = [r for r in dev_stack.components() if r.type != "aidlc:index:LambdaFunction"]
    assert sorted(r.type.rsplit(":", 1)[-1] for r in components) == sorted(COMPONENT_TYPES)
    for component in components:
        children = dev_stack.children_of(component.name)
        assert children, f"{component.name} has no children"
        assert all(child.name.startswith(f"{component.name}-") for child in children), component.name
    # Every custom resource sits under a component: nothing is created loose at the stack root.
    assert all(r.parent for r in dev_stack.resources if r.custom)
    assert len(dev_stack.of_type("aidlc:index:LambdaFunction")) == len(FUNCTIONS) + len(WORKFLOW_FUNCTIONS)


def test_tables_follow_the_shared_declarations(dev_stack: Recording) -> None:
    for table in TABLES:
        resource = dev_stack.named(f"state-{table.logical_name}")
        assert resource.inputs["hashKey"] == table.hash_key
        assert resource.inputs.get("rangeKey") == table.range_key
        assert [g["name"] for g in resource.inputs.get("globalSecondaryIndexes", [])] == [i.name for i in table.indexes]
        ttl = resource.inputs.get("ttl")
        assert (ttl or {}).get("attributeName") == table.ttl_attribute
        assert resource.inputs["serverSideEncryption"] == {"enabled": True}


def test_queues_redrive_to_their_dlq_after_three_receives(dev_stack: Recording) -> None:
    for queue in QUEUES:
        main = dev_stack.named(f"state-{queue.logical_name}")
        dlq = dev_stack.named(f"state-{queue.logical_name}-dlq")
        redrive = json.loads(main.inputs["redrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq.state["arn"]
        assert redrive["maxReceiveCount"] == 3
        assert bool(main.inputs.get("fifoQueue")) == bool(dlq.inputs.get("fifoQueue")) == queue.fifo
        assert main.inputs["name"].endswith(".fifo") == queue.fifo


def test_queue_to_function_mappings_report_partial_batch_failures(dev_stack: Recording) -> None:
    mappings = {}
    functions_by_arn = {f.state["arn"]: f.name for f in dev_stack.of_type("aws:lambda/function:Function")}
    queues_by_arn = {q.state["arn"]: q.name for q in dev_stack.of_type("aws:sqs/queue:Queue")}
    for mapping in dev_stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        mappings[queues_by_arn[mapping.inputs["eventSourceArn"]]] = functions_by_arn[mapping.inputs["functionName"]]
    assert mappings == {
        "state-tasks": "pipeline-orchestrator-fn",
        "state-completions": "pipeline-completion-fn",
        "state-kb-sync": "knowledge-sync-fn",
    }


def test_functions_get_their_handlers_schedules_and_resource_names(dev_stack: Recording) -> None:
    for function in FUNCTIONS:
        component = {"tool_gateway": "agents-tools", "sync": "knowledge-sync"}.get(function.logical_name,
                                                                               f"pipeline-{function.logical_name}")
        resource = dev_stack.named(f"{component}-fn")
        assert resource.inputs["handler"] == function.handler
        assert resource.inputs["timeout"] == function.timeout_seconds
    schedules = {r.name: r.inputs["scheduleExpression"] for r in dev_stack.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert schedules == {f"pipeline-{f.logical_name}-schedule": f.schedule for f in FUNCTIONS if f.schedule}
    webhook_env = dev_stack.named("pipeline-webhook-fn").inputs["environment"]["variables"]
    tasks = dev_stack.named("state-tasks")
    assert webhook_env["TASK_QUEUE_URL"] == tasks.state["url"]
    assert webhook_env["IDEMPOTENCY_TABLE"] == dev_stack.named("state-idempotency").state["name"]
    assert webhook_env["NOTION_TOKEN_SECRET"] == dev_stack.named("state-notion-token").state["arn"]
    # A secret's value never reaches an environment variable: only ARNs.
    everything = json.dumps([f.inputs.get("environment") for f in dev_stack.of_type("aws:lambda/function:Function")])
    assert not any(value in everything for value in TEST_SECRETS.values())
    project = json.loads(webhook_env["AIDLC_PROJECT_CONFIG"])
    assert project["project_id"] == load_stack_config("dev", PROJECT_ROOT).project_id


def test_routes_webhook_public_internal_api_signed(dev_stack: Recording) -> None:
    routes = {r.inputs["routeKey"]: r for r in dev_stack.of_type("aws:apigatewayv2/route:Route")}
    slack_routes = {"POST /slack/events", "POST /slack/commands", "POST /slack/interactivity"}
    github_route = "POST /webhook/github"  # GitHub signs X-Hub-Signature-256; it cannot sign SigV4 either
    assert set(routes) == {WEBHOOK_ROUTE, github_route, *INTERNAL_ROUTES, *slack_routes}
    assert routes[WEBHOOK_ROUTE].inputs["authorizationType"] == "NONE"
    assert routes[github_route].inputs["authorizationType"] == "NONE"
    # Slack signs its requests (the handler checks X-Slack-Signature); it cannot sign SigV4.
    assert all(routes[key].inputs["authorizationType"] == "NONE" for key in slack_routes)
    assert all(routes[key].inputs["authorizationType"] == "AWS_IAM" for key in INTERNAL_ROUTES)
    integrations = {f"integrations/{r.id}": r.inputs["integrationUri"]
                    for r in dev_stack.of_type("aws:apigatewayv2/integration:Integration")}
    assert integrations[routes[WEBHOOK_ROUTE].inputs["target"]] == dev_stack.named("pipeline-webhook-fn").state["arn"]
    assert integrations[routes[github_route].inputs["target"]] == \
        dev_stack.named("pipeline-github_webhook-fn").state["arn"]
    api_arn = dev_stack.named("pipeline-api-fn").state["arn"]
    sync_routes = {r.key for r in ROUTES if r.function == "sync"}
    assert sync_routes == {"POST /sync/page", "POST /sync/database", "GET /sync/status/{job_id}"}
    assert all(integrations[routes[key].inputs["target"]] == api_arn for key in set(INTERNAL_ROUTES) - sync_routes)
    sync_arn = dev_stack.named("knowledge-sync-fn").state["arn"]
    assert all(integrations[routes[key].inputs["target"]] == sync_arn for key in sync_routes)
    slack_arn = dev_stack.named("pipeline-slack-fn").state["arn"]
    assert all(integrations[routes[key].inputs["target"]] == slack_arn for key in slack_routes)
    assert dev_stack.named("pipeline-api-fn").inputs["environment"]["variables"]["AIDLC_API_REQUIRE_IAM"] == "true"
    stage = dev_stack.named("ingress-stage").inputs
    config = load_stack_config("dev", PROJECT_ROOT)
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == config.api_throttle_rate
    assert stage["accessLogSettings"]["destinationArn"] == dev_stack.named("ingress-access-logs").state["arn"]


def test_prototypes_served_only_through_cloudfront_oac(dev_stack: Recording) -> None:
    distribution = dev_stack.named("prototypes-cdn")
    oac = dev_stack.named("prototypes-oac")
    bucket = dev_stack.named("prototypes-bucket")
    (origin,) = distribution.inputs["origins"]
    assert origin["originAccessControlId"] == oac.id
    assert origin["domainName"] == bucket.state["bucketRegionalDomainName"]
    (statement,) = json.loads(dev_stack.named("prototypes-policy").inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution.state["arn"]}}
    assert statement["Resource"] == bucket.state["arn"] + "/*"


def test_lifecycle_days_come_from_config() -> None:
    recording = run_dev({"aidlc:prototypeExpiryDays": "3"})
    (rule,) = recording.named("prototypes-expiry").inputs["rules"]
    assert rule["expiration"]["days"] == 3
    assert rule["status"] == "Enabled"
    tool_env = recording.named("agents-tools-fn").inputs["environment"]["variables"]
    assert tool_env["AIDLC_PROTOTYPE_EXPIRY_DAYS"] == "3"


def test_one_runtime_per_plugin_wired_to_gateway_queue_and_audit(dev_stack: Recording) -> None:
    registry = get_registry()
    runtimes = {r.inputs["environmentVariables"]["AIDLC_AGENT"]: r
                for r in dev_stack.of_type("aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")}
    assert set(runtimes) == set(registry.agents)
    gateway = dev_stack.named("agents-gateway")
    completions = dev_stack.named("state-completions")
    for agent, runtime in runtimes.items():
        env = runtime.inputs["environmentVariables"]
        assert env["AIDLC_GATEWAY_URL"] == gateway.state["gatewayUrl"]
        assert env["COMPLETION_QUEUE_URL"] == completions.state["url"]
        assert env["AUDIT_TABLE"] == dev_stack.named("state-audit").state["name"]
        code = runtime.inputs["agentRuntimeArtifact"]["codeConfiguration"]
        assert code["runtime"] in ("PYTHON_3_12", "PYTHON_3_13", "PYTHON_3_14")
        assert code["entryPoints"] == ["runtime/agent/app.py"]
        assert code["code"]["s3"]["prefix"] == dev_stack.named("agents-agent-zip").inputs["key"]
        role = dev_stack.named(f"agents-{agent.replace('_', '-')}-role")
        assert runtime.inputs["roleArn"] == role.state["arn"]
        for name in ENDPOINT_NAMES:  # dev, staging, prod; the dev stack pins none, so each serves the latest
            endpoint = dev_stack.named(f"agents-{agent.replace('_', '-')}-endpoint-{name}")
            assert endpoint.inputs["name"] == name
            assert endpoint.inputs["agentRuntimeId"] == runtime.state["agentRuntimeId"]
            assert endpoint.inputs["agentRuntimeVersion"] == runtime.state["agentRuntimeVersion"]
    # The orchestrator knows every runtime and may invoke exactly those.
    orchestrator_env = dev_stack.named("pipeline-orchestrator-fn").inputs["environment"]["variables"]
    arns = json.loads(orchestrator_env["AIDLC_AGENT_RUNTIMES"])
    assert arns == {agent: r.state["agentRuntimeArn"] for agent, r in runtimes.items()}
    versions = json.loads(orchestrator_env["AIDLC_AGENT_ENDPOINTS"])  # the one env var with the endpoint map
    assert versions == {agent: {name: r.state["agentRuntimeVersion"] for name in ENDPOINT_NAMES}
                        for agent, r in runtimes.items()}
    invoke = [st for st in _policy(dev_stack, "pipeline-orchestrator-policy") if st["Sid"] == "InvokeAgentRuntimes"]
    assert set(invoke[0]["Resource"]) >= set(arns.values())


def test_gateway_serves_the_tool_registry(dev_stack: Recording) -> None:
    from runtime.tools.registry import ToolRegistry

    gateway = dev_stack.named("agents-gateway").inputs
    assert gateway["protocolType"] == "MCP"
    assert gateway["protocolConfiguration"]["mcp"]["searchType"] == "SEMANTIC"
    target = dev_stack.named("agents-gateway-target").inputs
    lambda_target = target["targetConfiguration"]["mcp"]["lambda"]
    assert lambda_target["lambdaArn"] == dev_stack.named("agents-tools-fn").state["arn"]
    names = [p["name"] for p in lambda_target["toolSchema"]["inlinePayloads"]]
    assert sorted(names) == sorted(ToolRegistry.default().names())
    gateway_policy = _policy(dev_stack, "agents-gateway-policy")
    assert _actions(gateway_policy) == {"lambda:InvokeFunction"}
    assert _resources(gateway_policy) == [dev_stack.named("agents-tools-fn").state["arn"]]
    # One copy of each token: the tool Lambda reads them from Secrets Manager; no credential provider holds one
    # (a Lambda target's outbound auth is the gateway's IAM role).
    assert not dev_stack.of_type("aws:bedrock/agentcoreApiKeyCredentialProvider:AgentcoreApiKeyCredentialProvider")
    assert target["credentialProviderConfiguration"] == {"gatewayIamRole": {}}


def test_least_privilege_by_function(dev_stack: Recording) -> None:
    webhook = _policy(dev_stack, "pipeline-webhook-policy")
    # The webhook stops a run a person's status change cancels, and may start none.
    assert {a for a in _actions(webhook) if a.startswith("bedrock-agentcore:")} == {"bedrock-agentcore:StopRuntimeSession"}
    assert {"sqs:SendMessage", "secretsmanager:GetSecretValue"} <= _actions(webhook)
    assert dev_stack.named("state-tasks").state["arn"] in _resources(webhook)
    orchestrator = _policy(dev_stack, "pipeline-orchestrator-policy")
    assert not any(a.startswith("s3:") for a in _actions(orchestrator))
    assert "bedrock-agentcore:InvokeAgentRuntime" in _actions(orchestrator)
    code_runtime = _policy(dev_stack, "agents-code-policy")
    config = load_stack_config("dev", PROJECT_ROOT)
    models = next(st for st in code_runtime if st["Sid"] == "InvokeConfiguredModels")["Resource"]
    for model_id in config.model_ids:
        assert any(model_id in arn for arn in models), model_id
    assert all("*" != r for r in _resources(code_runtime))
    by_sid = {st["Sid"]: st for st in code_runtime}
    assert by_sid["CallToolGateway"]["Resource"] == [dev_stack.named("agents-gateway").state["gatewayArn"]]
    assert by_sid["ReportCompletion"]["Resource"] == [dev_stack.named("state-completions").state["arn"]]


def test_monitoring_alarms_cover_every_dlq_function_and_budget(dev_stack: Recording) -> None:
    alarms = dev_stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    topic_arn = dev_stack.named("monitoring-alarms").state["arn"]
    assert all(a.inputs["alarmActions"] == [topic_arn] for a in alarms)
    dlq_alarms = {a.inputs["dimensions"]["QueueName"] for a in alarms if a.inputs.get("namespace") == "AWS/SQS"}
    assert dlq_alarms == {dev_stack.named(f"state-{q.logical_name}-dlq").state["name"] for q in QUEUES}
    error_alarms = [a for a in alarms if a.inputs.get("metricQueries")]
    assert len(error_alarms) == len(FUNCTIONS) + len(WORKFLOW_FUNCTIONS)  # the durable workflows' too
    assert all(a.inputs["threshold"] == 10 for a in error_alarms)
    budget = float(load_stack_config("dev", PROJECT_ROOT).cost_limit_per_month)
    thresholds = sorted(a.inputs["threshold"] for a in alarms if a.inputs.get("namespace") == "aidlc")
    assert thresholds == [pytest.approx(budget * 0.8), pytest.approx(budget)]
    assert len(dev_stack.of_type("aws:cloudwatch/dashboard:Dashboard")) == 2
    subscription = dev_stack.named("monitoring-alarm-email").inputs
    assert subscription["endpoint"] == load_stack_config("dev", PROJECT_ROOT).alarm_email


def test_secret_values_only_from_pulumi_secrets_and_placeholders_otherwise(dev_stack: Recording) -> None:
    from runtime.pipeline.adapters.secrets import UNSET

    versions = {r.name: plain(r.inputs["secretString"]) for r in
                dev_stack.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    assert versions == {
        "state-notion-token-value": ("secret", TEST_SECRETS["notionToken"]),
        "state-github-token-value": ("secret", TEST_SECRETS["githubToken"]),
        "state-automation-secret-value": ("secret", TEST_SECRETS["automationSecret"]),
        "state-slack-signing-secret-value": ("secret", TEST_SECRETS["slackSigningSecret"]),
        "state-slack-bot-token-value": ("secret", TEST_SECRETS["slackBotToken"]),
        "state-tool-token-key-value": ("secret", TEST_SECRETS["toolTokenKey"]),
        "state-github-webhook-secret-value": ("secret", TEST_SECRETS["githubWebhookSecret"]),
        "state-webhook-verification-token-placeholder": ("secret", UNSET),  # the webhook writes the real one
    }


def test_without_secrets_placeholder_secrets() -> None:
    from runtime.pipeline.adapters.secrets import UNSET

    recording = run_dev(secrets={})
    versions = recording.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert len(versions) == len(recording.of_type("aws:secretsmanager/secret:Secret")) == len(SECRETS)
    assert {plain(v.inputs["secretString"]) for v in versions} == {("secret", UNSET)}


def test_functions_that_only_stop_sessions_cannot_start_runs(dev_stack: Recording) -> None:
    for function in FUNCTIONS:
        if not (function.invokes_agents or function.stops_agents):
            continue
        component = f"pipeline-{function.logical_name}"
        actions = _actions(_policy(dev_stack, f"{component}-policy"))
        assert "bedrock-agentcore:StopRuntimeSession" in actions, function.logical_name
        assert ("bedrock-agentcore:InvokeAgentRuntime" in actions) == function.invokes_agents, function.logical_name
    assert not any(f.invokes_agents for f in FUNCTIONS if f.logical_name in ("api", "timeouts"))


def test_state_is_built_before_and_apart_from_the_functions(dev_stack: Recording) -> None:
    """No cycle: State -> AgentCore -> Orchestration, each built from the outputs of those before it, so no
    component needs a deferred output."""
    # Not asserted: the order the mocks record components in (registrations are sent asynchronously, so it varies).
    names = {r.name for r in dev_stack.components()}
    assert {"state", "agents", "pipeline"} <= names
    state_children = {r.type for r in dev_stack.children_of("state")}
    assert "aws:lambda/function:Function" not in state_children
    assert {"aws:dynamodb/table:Table", "aws:sqs/queue:Queue", "aws:secretsmanager/secret:Secret"} <= state_children
    sources = [p.read_text() for p in (PROJECT_ROOT / "components").glob("*.py")] + \
        [(PROJECT_ROOT / "__main__.py").read_text()]
    assert not any("deferred_output" in text for text in sources)

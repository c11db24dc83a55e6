"""Each function runs with exactly the environment its declaration derives (`runtime.resources.function_environment`),
as the Pulumi program gives it in AWS: no shared process environment, no services handed in by the test. Every
pipeline handler is called the way Lambda calls it, through one story's whole flow, with services built from that
environment alone; each function's boto3 clients are tagged with its name and every AWS call is recorded."""

from __future__ import annotations

from datetime import timedelta

import json
import pytest
from moto import mock_aws
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime import resources
from runtime.local.lambda_shim import LocalLambdaContext, http_api_event, sqs_event
from runtime.models import CompletionEvent
from tests.pipeline.conftest import TOKEN, create_aws, event_body, make_project, new_story, signed

PIPELINE = [f for f in resources.FUNCTIONS if f.pipeline]


@pytest.fixture
def agent_endpoint():
    """An agent runtime on loopback that accepts every run (the AgentCore HTTP contract's answer)."""
    from runtime.local.server import serve

    seen: list[dict] = []

    async def invocations(request):
        seen.append(await request.json())
        return JSONResponse({"status": "accepted"})

    server = serve(Starlette(routes=[Route("/invocations", invocations, methods=["POST"])]))
    server.seen = seen
    yield server
    server.stop()


@pytest.fixture
def deployment(notion_env, agent_endpoint, monkeypatch):
    """moto with the declared resources, and the deployment-wide names every function's environment comes from."""
    from runtime.local.atomic_dynamodb import make_dynamodb_atomic

    for name in {n for f in resources.FUNCTIONS for n in f.environment_names()}:
        monkeypatch.delenv(name, raising=False)  # nothing may come from the process
    make_dynamodb_atomic()
    with mock_aws():
        from runtime.pipeline.adapters import aws

        aws.reset_clients()
        names = create_aws()
        project = make_project(notion_database_id=notion_env.seed.stories_database_id,
                               notion_data_source_id=notion_env.seed.stories_data_source_id,
                               dashboard_data_source_id=notion_env.seed.dashboard_data_source_id)
        sm = aws.client("secretsmanager")
        sm.put_secret_value(SecretId=names["secrets"]["notion-token"], SecretString=notion_env.emulator.integration_token)
        sm.put_secret_value(SecretId=names["secrets"]["webhook-verification-token"], SecretString=TOKEN)
        physical = resources.PhysicalNames(
            tables=names["tables"], queues=names["queues"], secrets=names["secrets"], buckets={"prototypes": "t-protos"},
            settings={
                resources.Env.STACK: "test",
                resources.Env.PROJECT_CONFIG: project.model_dump_json(),
                resources.Env.NOTION_API_BASE: notion_env.base_url,
                resources.Env.AGENT_RUNTIMES: json.dumps({"mock": agent_endpoint.base_url}),
                resources.Env.AGENT_ENDPOINTS: "{}",
                resources.Env.API_REQUIRE_IAM: "true",
                resources.Env.MODEL_PRICES: "{}",
                resources.Env.INVOKE_RETRY_DELAYS: "[0]",
                resources.Env.WRITEBACK_RETRY_DELAYS: "[0]",
                resources.Env.POWERTOOLS_METRICS_DISABLED: "true",
            },
        )
        yield physical, names
    aws.reset_clients()


def function_services(function: resources.Function, physical: resources.PhysicalNames, recorder):
    """What a Lambda container builds: settings from its own environment, clients tagged with its name."""
    from runtime.aws_clients import AwsClients
    from runtime.pipeline.services import PipelineServices
    from runtime.pipeline.settings import PipelineSettings

    env = resources.function_environment(function, physical)
    assert set(env) <= set(function.environment_names())
    clients = AwsClients(function.logical_name, recorder=recorder, region="us-east-1")
    return PipelineServices(PipelineSettings.from_env(env), clients=clients)


def call(function: resources.Function, event: dict, services) -> dict:
    import importlib

    module, name = function.handler.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)
    return handler(event, LocalLambdaContext(function_name=function.logical_name), services=services)


def received(names: dict, logical: str) -> list[dict]:
    from runtime.pipeline.adapters import aws

    return aws.client("sqs").receive_message(QueueUrl=names["queues"][logical], MaxNumberOfMessages=10,
                                             AttributeNames=["All"]).get("Messages", [])


def test_every_pipeline_handler_runs_with_exactly_its_derived_environment(deployment, notion_env, agent_endpoint):
    from runtime.observe.calls import CallRecorder

    physical, names = deployment
    recorder = CallRecorder()
    services = {f.logical_name: function_services(f, physical, recorder) for f in PIPELINE}
    functions = resources.FUNCTIONS_BY_NAME

    # webhook: a person moves a story to a trigger status
    story = new_story(notion_env, "Exact environment")
    body = event_body(story, env=notion_env)
    status = call(functions["webhook"], http_api_event("POST", "/webhook/notion", headers=signed(body), body=body),
                  services["webhook"])
    assert status["statusCode"] == 200, status
    invocation_id = json.loads(status["body"])["invocation_id"]

    # orchestrator: the task starts the agent
    tasks = received(names, "tasks")
    result = call(functions["orchestrator"], sqs_event("arn:aws:sqs:us-east-1:123456789012:t-tasks.fifo", tasks),
                  services["orchestrator"])
    assert result == {"batchItemFailures": []}
    assert [r["invocation_id"] for r in agent_endpoint.seen] == [invocation_id]

    # api: the record, with an IAM identity as API Gateway's authorizer gives it
    event = http_api_event("GET", f"/invocation/{invocation_id}", headers={}, body=b"",
                           route_key="GET /invocation/{id}", path_parameters={"id": invocation_id})
    event["requestContext"]["authorizer"] = {"iam": {"userArn": "arn:aws:iam::123456789012:user/ops"}}
    answer = call(functions["api"], event, services["api"])
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["status"] == "running"

    # the sweepers, on schedule (timeouts and budget alerts have no task queue: they never publish)
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert "TASK_QUEUE_URL" not in resources.function_environment(functions["timeouts"], physical)
    assert call(functions["timeouts"], scheduled, services["timeouts"]) == {"timed_out": []}
    assert call(functions["budget_alerts"], scheduled, services["budget_alerts"]) == {"sent": []}
    # the running story is not enqueued again (the session's Notion emulator may hold other files' waiting stories)
    swept = call(functions["reconcile"], scheduled, services["reconcile"])
    assert invocation_id not in swept["enqueued"], swept

    # completion: the agent reports
    completed = CompletionEvent(invocation_id=invocation_id, agent_type="mock", status="completed", summary="done",
                                session_id=agent_endpoint.seen[0]["session_id"])  # the session it was started in
    from runtime.pipeline.adapters import aws

    aws.client("sqs").send_message(QueueUrl=names["queues"]["completions"], MessageBody=completed.model_dump_json())
    result = call(functions["completion"], sqs_event("arn:aws:sqs:us-east-1:123456789012:t-completions",
                                                     received(names, "completions")), services["completion"])
    assert result == {"batchItemFailures": []}
    assert services["api"].invocations.get(invocation_id).record.status == "completed"

    # every function's calls are its own
    # (the Slack function has its own flow test in tests/slack)
    assert recorder.principals() == {"webhook", "orchestrator", "api", "timeouts", "budget_alerts", "reconcile",
                                     "completion"}
    operations = {(c.principal, c.operation) for c in recorder.calls}
    assert ("webhook", "SendMessage") in operations and ("timeouts", "Query") in operations
    assert [(c.principal, c.operation, c.error) for c in recorder.calls if not c.ok] == []
    # ...and each function's deployed role allows every one of them (components/iam_coverage.py).
    from tests.infra.coverage import assert_calls_allowed

    assert_calls_allowed(recorder.calls)


def test_a_function_given_less_than_it_uses_fails_naming_the_variable(deployment, notion_env, monkeypatch):
    """What the timeouts and budget-alert sweepers did in AWS: code that needs a variable its declaration does not
    give it fails, here, naming the setting (reconcile declared without its task queue, a story waiting)."""
    from runtime.observe.calls import CallRecorder
    from runtime.pipeline.settings import SettingsError

    physical, _ = deployment
    reconcile = resources.FUNCTIONS_BY_NAME["reconcile"]
    without_queue = resources.Function(reconcile.logical_name, reconcile.handler, tables=reconcile.tables,
                                       secrets=reconcile.secrets, schedule=reconcile.schedule)
    services = function_services(without_queue, physical, CallRecorder())
    # Reconcile leaves a story edited in the last minutes to its webhook; this one is to be found at once.
    monkeypatch.setattr("runtime.pipeline.sweepers.RECONCILE_GRACE", timedelta(0))
    new_story(notion_env, "Missed by the webhook")  # sits in a trigger status with no invocation
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    with pytest.raises(SettingsError, match="task_queue_url"):
        call(without_queue, scheduled, services)


def test_function_environment_names_the_missing_resource():
    names = resources.PhysicalNames(tables={"invocations": "i"}, queues={}, secrets={})
    with pytest.raises(ValueError, match="'orchestrator' uses table 'projects'"):
        resources.function_environment(resources.FUNCTIONS_BY_NAME["orchestrator"], names)


def test_settings_reach_only_the_functions_that_read_them():
    names = resources.PhysicalNames(
        tables={t.logical_name: t.logical_name for t in resources.TABLES},
        queues={q.logical_name: q.logical_name for q in resources.QUEUES},
        secrets={s.logical_name: s.logical_name for s in resources.SECRETS},
        buckets={"prototypes": "b", "kb-documents": "kb"},
        settings={resources.Env.AGENT_RUNTIMES: "{}", resources.Env.API_REQUIRE_IAM: "true",
                  resources.Env.MODEL_PRICES: "{}"},
    )
    env = {f.logical_name: resources.function_environment(f, names) for f in resources.FUNCTIONS}

    def given(name: str) -> set[str]:
        return {function for function, environment in env.items() if name in environment}

    # (functions added later, such as the Slack front door, declare their own needs: checked by name here)
    # the webhook stops a run a person's status change cancels (runtime/pipeline/cancellation.py)
    assert {"orchestrator", "api", "timeouts", "webhook"} <= given(resources.Env.AGENT_RUNTIMES)
    assert not {"completion", "reconcile", "budget_alerts", "tool_gateway"} & given(resources.Env.AGENT_RUNTIMES)
    assert given(resources.Env.API_REQUIRE_IAM) == {"api", "sync"}  # the functions behind IAM-auth routes
    assert given(resources.Env.MODEL_PRICES) == {"completion"}
    assert given(resources.PROTOTYPES.env_var) == {"tool_gateway"}
    assert {"webhook", "orchestrator", "completion", "api", "reconcile"} <= given(resources.TASKS.env_var)
    assert not {"timeouts", "budget_alerts", "tool_gateway"} & given(resources.TASKS.env_var)

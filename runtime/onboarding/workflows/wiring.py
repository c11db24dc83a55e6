"""Assembling the workflows' services: from a function's environment (the durable functions and the API / Slack
functions in AWS) or from explicit adapters (the local stack, tests, the demo, the benchmark). Nothing at import."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from runtime import resources
from runtime.onboarding.workflows.engine import (
    LambdaBackend,
    NullNotifier,
    SlackThreadNotifier,
    WorkflowEngine,
    WorkflowServices,
)
from runtime.onboarding.workflows.resilience import Breakers
from runtime.onboarding.workflows.state import WorkflowStore

_lock = threading.Lock()
_cached: dict[str, Any] = {}


def tool_services(*, aws: Any, packages: Any, audit: Any = None, policy: Any = None) -> Any:
    """The `ToolServices` the onboarding tools stand on: audited AWS clients, the package store, the Cedar policy
    (every .cedar file in runtime/policies/, onboarding.cedar among them) and the audit trail."""
    from runtime.policy import ToolPolicy
    from runtime.tools.base import ToolServices

    return ToolServices(aws=aws, packages=packages, audit=audit, policy=policy if policy is not None else ToolPolicy.load())


def build_services(*, dynamodb: Any, table: str, tools: Any, tool_services: Any, notifier: Any = None,
                   shared_breakers: bool = True, **options: Any) -> WorkflowServices:
    """Workflow services over a workflows table; the breakers' state in the same table when `shared_breakers`."""
    return WorkflowServices(
        store=WorkflowStore(table, dynamodb), tools=tools, tool_services=tool_services,
        notifier=notifier or NullNotifier(),
        breakers=Breakers(table=table, client=dynamodb) if shared_breakers else Breakers(), **options)


def slack_notifier(token: str, base_url: str | None = None) -> SlackThreadNotifier:
    from runtime.slack.notifier import SlackNotifier, web_client

    return SlackThreadNotifier(SlackNotifier(web_client(token, base_url)))


def services_from_env(environ: Mapping[str, str] | None = None) -> WorkflowServices:
    """A durable function's services, from its environment (runtime/resources.py WORKFLOW_FUNCTIONS), built once
    per Lambda instance."""
    env = os.environ if environ is None else environ
    with _lock:
        if "services" in _cached:
            return _cached["services"]
        from runtime.aws_clients import AwsClients

        services = services_from_environment(env, clients=AwsClients("workflow"), metrics=True)
        services.breakers.metrics_enabled = True  # a breaker opening is alarmed on (components/workflows.py)
        WorkflowEngine(services, lambda_backend(env))  # onboarding starts provisioning through it
        _cached["services"] = services
        return services


def services_from_environment(env: Mapping[str, str], *, clients: Any, aws_options: dict | None = None,
                              metrics: bool = False, **options: Any) -> WorkflowServices:
    """A workflow function's services from exactly its environment, its AWS calls through `clients` (a
    runtime.aws_clients.AwsClients: the Lambda role's in AWS; in `aidlc dev` the function's own principal against
    moto, so its calls are attributed to it) and the onboarding's clients made with `aws_options` (principal,
    recorder, endpoint_url, region, credentials). `metrics`: critical alerts as metrics too (AWS)."""
    from runtime.onboarding.aws import AwsClients as OnboardingClients
    from runtime.onboarding.package_store import PackageStore
    from runtime.tools.audit import DynamoDbAuditSink
    from runtime.tools.registry import ToolRegistry

    table = _require(env, resources.WORKFLOWS.env_var)
    dynamodb = clients.client("dynamodb")
    audit = DynamoDbAuditSink(_require(env, resources.AUDIT.env_var), client=dynamodb)
    aws = OnboardingClients(audit=audit, access_role_name=env.get(resources.Env.ACCESS_ROLE_NAME) or
                            "OrganizationAccountAccessRole", **(aws_options or {}))
    packages = PackageStore(aws.client("s3"), _require(env, resources.PACKAGES.env_var))
    notifier = None
    secret = env.get(resources.SLACK_BOT_TOKEN.env_var)
    if secret:
        token = clients.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
        notifier = slack_notifier(token, env.get(resources.Env.SLACK_API_BASE))
    services = build_services(dynamodb=dynamodb, table=table, tools=ToolRegistry.default(),
                              tool_services=tool_services(aws=aws, packages=packages, audit=audit),
                              notifier=notifier, **options)
    services.alerts.metrics_enabled = metrics
    return services


def lambda_backend(environ: Mapping[str, str], client: Any = None) -> LambdaBackend:
    import boto3

    raw = environ.get(resources.Env.WORKFLOW_FUNCTIONS) or "{}"
    return LambdaBackend(client if client is not None else boto3.client("lambda"), json.loads(raw))


def engine_from_env(environ: Mapping[str, str] | None = None) -> WorkflowEngine:
    """The engine the API and Slack functions use in AWS: the workflows table, durable executions through Lambda."""
    env = os.environ if environ is None else environ
    with _lock:
        if "engine" not in _cached:
            from runtime.aws_clients import AwsClients

            _cached["engine"] = engine_from_environment(env, clients=AwsClients("workflow-starter"))
        return _cached["engine"]


def engine_from_environment(env: Mapping[str, str], *, clients: Any, backend: Any = None) -> WorkflowEngine:
    """The API's or the Slack function's engine from its environment: the workflows table, the audit trail (the
    change-set decisions and refused attempts at one) when the function has it, and `backend` (locally the durable
    SDK's runner) or the durable functions through Lambda."""
    from runtime.tools.audit import DynamoDbAuditSink
    from runtime.tools.base import ToolServices

    dynamodb = clients.client("dynamodb")
    store = WorkflowStore(_require(env, resources.WORKFLOWS.env_var), dynamodb)
    audit_table = env.get(resources.AUDIT.env_var)
    audit = ToolServices(audit=DynamoDbAuditSink(audit_table, client=dynamodb)) if audit_table else None
    services = WorkflowServices(store=store, tools=None, tool_services=audit)
    services.alerts.metrics_enabled = False  # this engine runs no step: nothing to alert on
    return WorkflowEngine(services, backend if backend is not None else lambda_backend(env, clients.client("lambda")))


def reset() -> None:
    with _lock:
        _cached.clear()


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: the workflows need it (runtime/resources.py declares it)")
    return value

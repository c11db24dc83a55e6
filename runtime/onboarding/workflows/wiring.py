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
        import boto3

        from runtime.onboarding.aws import AwsClients
        from runtime.onboarding.package_store import PackageStore
        from runtime.tools.audit import DynamoDbAuditSink
        from runtime.tools.registry import ToolRegistry

        table = _require(env, resources.WORKFLOWS.env_var)
        dynamodb = boto3.client("dynamodb")
        audit = DynamoDbAuditSink(_require(env, resources.AUDIT.env_var), client=dynamodb)
        aws = AwsClients(audit=audit, access_role_name=env.get(resources.Env.ACCESS_ROLE_NAME) or
                         "OrganizationAccountAccessRole")
        packages = PackageStore(aws.client("s3"), _require(env, resources.PACKAGES.env_var))
        notifier = None
        secret = env.get(resources.SLACK_BOT_TOKEN.env_var)
        if secret:
            token = boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
            notifier = slack_notifier(token, env.get(resources.Env.SLACK_API_BASE))
        services = build_services(dynamodb=dynamodb, table=table, tools=ToolRegistry.default(),
                                  tool_services=tool_services(aws=aws, packages=packages, audit=audit),
                                  notifier=notifier)
        WorkflowEngine(services, lambda_backend(env))  # onboarding starts provisioning through it
        _cached["services"] = services
        return services


def lambda_backend(environ: Mapping[str, str]) -> LambdaBackend:
    import boto3

    raw = environ.get(resources.Env.WORKFLOW_FUNCTIONS) or "{}"
    return LambdaBackend(boto3.client("lambda"), json.loads(raw))


def engine_from_env(environ: Mapping[str, str] | None = None) -> WorkflowEngine:
    """The engine the API and Slack functions use in AWS: the workflows table, durable executions through Lambda."""
    env = os.environ if environ is None else environ
    with _lock:
        if "engine" not in _cached:
            import boto3

            store = WorkflowStore(_require(env, resources.WORKFLOWS.env_var), boto3.client("dynamodb"))
            services = WorkflowServices(store=store, tools=None, tool_services=None)
            _cached["engine"] = WorkflowEngine(services, lambda_backend(env))
        return _cached["engine"]


def reset() -> None:
    with _lock:
        _cached.clear()


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: the workflows need it (runtime/resources.py declares it)")
    return value

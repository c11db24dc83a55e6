"""The whole stack, from a validated StackConfig and the plugin registry. `__main__.py` calls `build_stack`;
so do the tests and `aidlc infra inventory` (under Pulumi mocks), so all three run the same program.

The components, each built from the outputs of those before it (no cycle, no deferred output):
PrototypeHosting, State (tables, queues, secrets) -> KnowledgeBase (its bucket, the Bedrock KB, the sync function)
-> AgentCore (runtimes, gateway, tool Lambda) -> Orchestration
(the pipeline functions, which invoke the runtimes) -> Ingress (routes to them), Monitoring (watches them)."""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import packaging
from components.agentcore import AgentCore, AgentCoreArgs
from components.hosting import PrototypeHosting, PrototypeHostingArgs
from components.ingress import Ingress, IngressArgs
from components.knowledge_base import KnowledgeBase, KnowledgeBaseArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.onboarding import Onboarding, OnboardingArgs
from components.workflows import WorkflowAlarms, WorkflowAlarmsArgs, Workflows, WorkflowsArgs
from components.orchestration import PIPELINE_FUNCTIONS, Orchestration, OrchestrationArgs, project_config_json
from components.state import State, StateArgs
from runtime.tools.schemas import gateway_inline_payloads
from runtime.registry import AgentRegistry
from runtime.resources import (
    AUTOMATION_SECRET, BREAKER_SERVICES, FUNCTIONS, GITHUB_TOKEN, GITHUB_WEBHOOK_SECRET, NOTION_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
    TOOL_TOKEN_KEY, WEBHOOK_VERIFICATION, Env,
)
from runtime.stack_config import StackConfig
from runtime.tools.registry import ToolRegistry


# CPython collects its youngest generation every 700 net container allocations (its default threshold). A Pulumi
# program makes hundreds of thousands of short-lived ones (Outputs, futures, tasks: some thousands per resource), so
# at that pace the collector ran ~340 times per run and took about half of it under mocks (measured with
# gc.callbacks). The program is one short process: collecting 30x less often costs a few MB, not a second.
PROGRAM_GC_THRESHOLDS = (20_000, 20, 20)


def collect_garbage_less_often() -> None:
    """For the program's process (`__main__.py`); components/mockrun.py restores the caller's thresholds after an
    in-process run."""
    gc.set_threshold(*PROGRAM_GC_THRESHOLDS)


@dataclass
class Stack:
    state: State
    ingress: Ingress
    orchestration: Orchestration
    hosting: PrototypeHosting
    agents: AgentCore
    monitoring: Monitoring
    knowledge_base: KnowledgeBase
    bundles: dict[str, packaging.BundlePlan]
    onboarding: Onboarding | None = None  # the onboarding workflows' package bucket (seed 003)
    workflows: Workflows | None = None  # the onboarding and provisioning durable functions
    workflow_alarms: WorkflowAlarms | None = None


def running_under_mocks() -> bool:
    """True inside `pulumi.runtime.set_mocks` (tests, `aidlc infra inventory`): plan bundles, build nothing."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import SETTINGS

    return isinstance(getattr(SETTINGS, "monitor", None), MockMonitor)


def plugin_dirs_from_env() -> list[Path]:
    """The same extra plugin folders the registry loaded (AIDLC_PLUGIN_DIRS), so they ship in the bundles."""
    return [Path(p) for p in os.environ.get(Env.PLUGIN_DIRS, "").split(os.pathsep) if p]


def code_bundles(config: StackConfig, plugin_dirs: Sequence[Path], *, build: bool,
                 installer: packaging.Installer | None = None) -> tuple[dict[str, packaging.BundlePlan], dict[str, Path]]:
    """Plan every bundle; build them only when asked (a real `pulumi up`). Returns (plans, zip paths)."""
    pins = packaging.pinned_versions()
    specs = {
        # Lambdas run python3.12 (durable functions 3.13); the agent bundle follows the stack's AgentCore runtime.
        bundle: packaging.bundle_spec(
            bundle, architecture=config.lambda_architecture, plugin_dirs=plugin_dirs, pins=pins,
            python_version=(packaging.python_version_of(config.agent_runtime) if bundle == "agent"
                            else packaging.BUNDLE_PYTHON.get(bundle, packaging.PYTHON_VERSION)))
        for bundle in packaging.BUNDLES
    }
    plans = packaging.plan_bundles(list(specs.values()))
    if build:
        paths = {bundle: packaging.build_bundle(spec, installer=installer or packaging.pip_installer)
                 for bundle, spec in specs.items()}
    else:
        paths = {bundle: plan.zip_path() for bundle, plan in plans.items()}
    return plans, paths


def build_stack(
    config: StackConfig,
    registry: AgentRegistry,
    *,
    secrets: Mapping[str, Any] | None = None,
    build_code: bool | None = None,
    plugin_dirs: Sequence[Path] | None = None,
    tool_schemas: Sequence[Mapping[str, Any]] | None = None,
) -> Stack:
    """Create every component. `secrets`: {"notionToken": Output|None, ...} (Pulumi secrets)."""
    secrets = dict(secrets or {})
    plugin_dirs = list(plugin_dirs if plugin_dirs is not None else plugin_dirs_from_env())
    build = (not running_under_mocks()) if build_code is None else build_code
    plans, zips = code_bundles(config, plugin_dirs, build=build)
    stack = pulumi.get_stack()
    prefix = f"{config.project_id}-{stack}" if not config.project_id.endswith(f"-{stack}") else config.project_id
    tags = {"aidlc:project": config.project_id, "aidlc:stack": stack, **config.tags}
    region = aws.get_region_output().region
    account = aws.get_caller_identity_output().account_id
    function_code = {f.logical_name: pulumi.FileArchive(str(zips[packaging.FUNCTION_BUNDLES[f.logical_name]]))
                     for f in FUNCTIONS}

    if not secrets.get("toolTokenKey"):  # default deny: say so at deploy time, not at the first tool call
        pulumi.log.warn("aidlc:toolTokenKey is not set: the tool gateway will refuse every tool call until it is "
                        "(pulumi config set --secret aidlc:toolTokenKey \"$(openssl rand -hex 32)\")")
    hosting = PrototypeHosting("prototypes", PrototypeHostingArgs(expiry_days=config.prototype_expiry_days,
                                                                  tags=tags))
    state = State("state", StateArgs(
        name_prefix=prefix,
        secret_values={
            NOTION_TOKEN.logical_name: secrets.get("notionToken"),
            GITHUB_TOKEN.logical_name: secrets.get("githubToken"),
            AUTOMATION_SECRET.logical_name: secrets.get("automationSecret"),
            # the secret typed into the repository's webhook settings; until set, every delivery is refused (401)
            GITHUB_WEBHOOK_SECRET.logical_name: secrets.get("githubWebhookSecret"),
            SLACK_SIGNING_SECRET.logical_name: secrets.get("slackSigningSecret"),
            SLACK_BOT_TOKEN.logical_name: secrets.get("slackBotToken"),
            # at least 32 bytes, e.g. `openssl rand -hex 32`; until set, every tool call is refused (default deny)
            TOOL_TOKEN_KEY.logical_name: secrets.get("toolTokenKey"),
        },
        tags=tags,
    ))
    knowledge_base = KnowledgeBase("knowledge", KnowledgeBaseArgs(
        name_prefix=prefix,
        state=state,
        sync_code=function_code["sync"],
        project_config_json=project_config_json(config),
        region=region,
        account_id=account,
        log_retention_days=config.log_retention_days,
        architecture=config.lambda_architecture,
        tags=tags,
    ))
    schemas = list(tool_schemas) if tool_schemas is not None else ToolRegistry.default(registry).schemas()
    agent_plan = plans["agent"]
    agents = AgentCore("agents", AgentCoreArgs(
        name_prefix=prefix.replace("-", "_"),
        agents=list(registry.agents.values()),
        state=state,
        agent_code=pulumi.FileAsset(str(zips["agent"])),
        code_bucket_key=f"agent/{agent_plan.zip_name}",
        agent_runtime=config.agent_runtime,
        tool_gateway_code=function_code["tool_gateway"],
        tool_payloads=gateway_inline_payloads(schemas),
        prototype_bucket_name=hosting.bucket_name,
        prototype_bucket_arn=hosting.bucket_arn,
        prototype_base_url=hosting.base_url,
        prototype_expiry_days=config.prototype_expiry_days,
        github_repo=config.github_repo,
        model_id=config.model_id,
        model_ids=config.model_ids,
        model_prices_json=config.model_prices_json(),
        plugin_dirs_in_bundle=agent_plan.plugin_dirs_in_bundle,
        region=region,
        account_id=account,
        log_retention_days=config.log_retention_days,
        architecture=config.lambda_architecture,
        tags=tags,
        knowledge_base_id=knowledge_base.knowledge_base_id,
        knowledge_base_arn=knowledge_base.knowledge_base_arn,
        agent_versions=config.agent_versions,
    ))
    onboarding = Onboarding("onboarding", OnboardingArgs(tags=tags))
    workflows = Workflows("workflows", WorkflowsArgs(
        state=state,
        code=pulumi.FileArchive(str(zips[packaging.WORKFLOW_BUNDLES["onboarding_workflow"]])),
        package_bucket_name=onboarding.bucket_name,
        package_bucket_arn=onboarding.bucket_arn,
        package_key_arn=onboarding.package_key.arn,
        region=region,
        account_id=account,
        access_role_name=config.access_role_name,
        log_retention_days=config.log_retention_days,
        architecture=config.lambda_architecture,
        tags=tags,
    ))
    orchestration = Orchestration("pipeline", OrchestrationArgs(
        state=state,
        code={f.logical_name: function_code[f.logical_name] for f in PIPELINE_FUNCTIONS},
        agent_runtime_arns=agents.runtime_arns,
        agent_endpoint_versions=agents.endpoint_versions,
        project_config_json=project_config_json(config),
        model_prices_json=config.model_prices_json(),
        prototype_base_url=hosting.base_url,
        plugin_dirs_in_bundle=plans["pipeline"].plugin_dirs_in_bundle,
        log_retention_days=config.log_retention_days,
        architecture=config.lambda_architecture,
        tags=tags,
        workflow_arns=workflows.arns,
        workflow_qualified_arns=workflows.qualified_arns,
    ))
    routed = {**orchestration.functions, "sync": knowledge_base.sync_function}
    ingress = Ingress("ingress", IngressArgs(
        function_arns={k: f.arn for k, f in routed.items()},
        function_names={k: f.name for k, f in routed.items()},
        throttle_rate=config.api_throttle_rate,
        throttle_burst=config.api_throttle_burst,
        log_retention_days=config.log_retention_days,
        tags=tags,
    ))
    monitoring = Monitoring("monitoring", MonitoringArgs(
        project_id=config.project_id,
        monthly_budget_usd=float(config.cost_limit_per_month),
        alarm_email=config.alarm_email,
        function_names={**{k: f.name for k, f in orchestration.functions.items()},
                        "tool_gateway": agents.tool_function.name, "sync": knowledge_base.sync_function.name,
                        **workflows.function_names},
        dead_letter_queue_names={k: q.name for k, q in state.dead_letter_queues.items()},
        queue_names={k: q.name for k, q in state.queues.items()},
        region=region,
        account_id=account,
        tags=tags,
    ))
    workflow_alarms = WorkflowAlarms("workflow-alarms", WorkflowAlarmsArgs(
        function_names=workflows.function_names, topic_arn=monitoring.topic_arn, breaker_services=BREAKER_SERVICES,
        tags=tags))
    return Stack(state, ingress, orchestration, hosting, agents, monitoring, knowledge_base, plans, onboarding,
                 workflows, workflow_alarms)


def export(stack: Stack, registry: AgentRegistry) -> None:
    pulumi.export("webhook_url", stack.ingress.webhook_url)
    pulumi.export("api_endpoint", stack.ingress.endpoint)
    pulumi.export("prototype_base_url", stack.hosting.base_url)
    pulumi.export("gateway_url", stack.agents.gateway_url)
    pulumi.export("agent_runtime_arns", stack.agents.runtime_arns)
    pulumi.export("agent_endpoint_versions", stack.agents.endpoint_versions)
    if stack.onboarding is not None:
        pulumi.export("package_bucket", stack.onboarding.bucket_name)
    if stack.workflows is not None:
        pulumi.export("workflow_functions", stack.workflows.qualified_arns)
    pulumi.export("task_queue_url", stack.orchestration.task_queue_url)
    pulumi.export("completion_queue_url", stack.orchestration.completion_queue_url)
    pulumi.export("alarm_topic_arn", stack.monitoring.topic_arn)
    pulumi.export("knowledge_base_id", stack.knowledge_base.knowledge_base_id)
    pulumi.export("agents", sorted(registry.agents))
    pulumi.export("bundles", {name: plan.zip_name for name, plan in stack.bundles.items()})
    # The secret a developer puts into Notion's webhook verification step is written by the webhook itself.
    pulumi.export("webhook_verification_secret_arn",
                  stack.state.secret_arns[WEBHOOK_VERIFICATION.logical_name])

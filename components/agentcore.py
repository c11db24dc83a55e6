"""AgentCore: one runtime per registered agent plugin (direct code deployment from an S3 zip), each with its own
role and versioned endpoints (dev, staging, prod, and beta where configured: runtime/pipeline/endpoints.py); one MCP gateway (semantic tool search, IAM auth) whose Lambda target serves the tool
registry (the tokens stay in Secrets Manager, read by that Lambda: one copy of each secret); memory for plugins
that ask for it.

A plugin dropped into agent_plugins/ (or installed) gets its runtime on the next `pulumi up`: the list of
runtimes is the registry, not a list in this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam
from components.base import (PACKAGE, LambdaFunction, LambdaFunctionArgs, check_common, child, keep_private,
                             lambda_plugin_dirs, require)
from components.state import State
from runtime.browser.agentcore import IAM_ACTIONS as BROWSER_ACTIONS
from runtime.browser.agentcore import STREAM_ACTIONS as BROWSER_STREAM_ACTIONS
from runtime.browser.agentcore import browser_arn
from runtime.pipeline.endpoints import BETA, STABLE_ENDPOINTS
from runtime.plugins import AgentSpec
from runtime.sandbox.code_interpreter import IAM_ACTIONS as CODE_INTERPRETER_ACTIONS
from runtime.sandbox.code_interpreter import interpreter_arn
from runtime.resources import (AGENT_APP_ENTRY_POINT, AUDIT, COMPLETIONS, FUNCTIONS_BY_NAME, PROTOTYPES, Env, Header,
                               PhysicalNames)

# The endpoints every runtime has; `beta` only where aidlc:agentVersions gives the agent one. An endpoint whose
# version is not configured serves the runtime's latest version.
ENDPOINT_NAMES = STABLE_ENDPOINTS
GATEWAY_TARGET_NAME = "aidlc-tools"  # tools reach the Lambda as "aidlc-tools___<tool>"
MEMORY_EVENT_EXPIRY_DAYS = 30
AGENT_RUNTIMES = ("PYTHON_3_10", "PYTHON_3_11", "PYTHON_3_12", "PYTHON_3_13", "PYTHON_3_14")
TOOL_GATEWAY = FUNCTIONS_BY_NAME["tool_gateway"]


@dataclass(frozen=True)
class AgentCoreArgs:
    name_prefix: str  # runtime/memory names: letters, digits, underscores
    agents: Sequence[AgentSpec]
    state: State
    agent_code: pulumi.Input[pulumi.Asset]  # the agent zip
    code_bucket_key: str  # S3 key of the agent zip (content-hashed)
    tool_gateway_code: pulumi.Input[pulumi.Archive]
    tool_payloads: Sequence[Mapping[str, Any]]  # runtime.tools.schemas.gateway_inline_payloads(...)
    prototype_bucket_name: pulumi.Input[str]
    prototype_bucket_arn: pulumi.Input[str]
    model_id: str
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    agent_runtime: str = "PYTHON_3_12"
    prototype_base_url: pulumi.Input[str] | None = None
    prototype_expiry_days: int = 7
    github_repo: str = ""
    model_ids: Sequence[str] = ()  # every model the stack allows
    model_prices_json: str = "{}"
    plugin_dirs_in_bundle: Sequence[str] = ()
    log_retention_days: int = 30
    architecture: str = "arm64"
    tags: Mapping[str, str] = field(default_factory=dict)
    # The knowledge base kb_retrieve reads (components/knowledge_base.py); None: the tool says it is not configured.
    knowledge_base_id: pulumi.Input[str] | None = None
    knowledge_base_arn: pulumi.Input[str] | None = None
    # aidlc:agentVersions: {agent: {endpoint: runtime version}} (validated by runtime/stack_config.py)
    agent_versions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require("AgentCore", bool(self.agents), "no agent plugins registered; nothing to deploy")
        require("AgentCore", self.agent_runtime in AGENT_RUNTIMES,
                f"agent_runtime {self.agent_runtime!r} is not one of {AGENT_RUNTIMES}")
        require("AgentCore", bool(self.tool_payloads), "no tool schemas for the gateway target")
        require("AgentCore", 1 <= self.prototype_expiry_days <= 365, "prototype_expiry_days must be 1..365")
        check_common("AgentCore", log_retention_days=self.log_retention_days, architecture=self.architecture)
        for spec in self.agents:
            runtime_name(self.name_prefix, spec.name)  # a clear error now rather than at CreateAgentRuntime
        known = {spec.name for spec in self.agents}
        for agent in self.agent_versions:
            require("AgentCore", agent in known, f"aidlc:agentVersions.{agent}: no agent plugin named {agent!r} is "
                    f"registered (registered: {', '.join(sorted(known))})")


def runtime_name(prefix: str, agent: str) -> str:
    """AgentCore names allow letters, digits and underscores, 48 characters at most."""
    name = f"{prefix}_{agent}".replace("-", "_")
    if len(name) > 48:
        raise ValueError(f"agent runtime name {name!r} is longer than AgentCore's 48 characters: shorten "
                         "aidlc:projectId or the plugin name")
    return name


class AgentCore(pulumi.ComponentResource):
    runtimes: dict[str, aws.bedrock.AgentcoreAgentRuntime]
    endpoints: dict[str, dict[str, aws.bedrock.AgentcoreAgentRuntimeEndpoint]]  # agent -> endpoint name -> endpoint
    runtime_roles: dict[str, aws.iam.Role]
    memories: dict[str, aws.bedrock.AgentcoreMemory]
    memory_strategies: dict[str, list[aws.bedrock.AgentcoreMemoryStrategy]]
    gateway: aws.bedrock.AgentcoreGateway
    gateway_target: aws.bedrock.AgentcoreGatewayTarget
    tool_function: LambdaFunction
    runtime_arns: pulumi.Output[dict[str, str]]
    endpoint_versions: pulumi.Output[dict[str, dict[str, str]]]  # agent -> endpoint -> version it serves
    gateway_url: pulumi.Output[str]

    def __init__(self, name: str, args: AgentCoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:AgentCore", name, None, opts)
        tags = dict(args.tags)
        region, account = args.region, args.account_id
        prefix = args.name_prefix
        state = args.state

        # --- the agent code, in its own private bucket ----------------------------------------------------
        self.code_bucket = aws.s3.Bucket(f"{name}-code", force_destroy=True, tags=tags, opts=child(self))
        code_block = keep_private(self, self.code_bucket, f"{name}-code", acls_off=False)
        self.code_object = aws.s3.BucketObjectv2(
            f"{name}-agent-zip", bucket=self.code_bucket.id, key=args.code_bucket_key, source=args.agent_code,
            opts=child(self, depends_on=[code_block]))
        code_object_arn = pulumi.Output.concat(self.code_bucket.arn, "/", args.code_bucket_key)

        # --- the tool gateway: Lambda target, role, gateway, target ----------------------------------------
        # The tool Lambda reads the Notion and GitHub tokens from Secrets Manager (the one copy of each secret);
        # a Lambda target's outbound auth is the gateway's IAM role, so no credential provider holds them.
        tool_settings: dict[str, Any] = {
            Env.STACK: pulumi.get_stack(),
            Env.GITHUB_REPO: args.github_repo,
            Env.PROTOTYPE_EXPIRY_DAYS: str(args.prototype_expiry_days),
            Env.PROTOTYPE_BASE_URL: args.prototype_base_url,
            Env.BROWSER: "agentcore",  # prototype uploads are rendered in AgentCore Browser first (runtime/browser)
            Env.POWERTOOLS_SERVICE_NAME: "aidlc-tools",
            Env.KB_ID: args.knowledge_base_id,
            Env.PLUGIN_DIRS: lambda_plugin_dirs(args.plugin_dirs_in_bundle) if args.plugin_dirs_in_bundle else None,
        }
        tool_names = PhysicalNames(tables=state.table_names, queues=state.queue_urls, secrets=state.secret_arns,
                                   buckets={PROTOTYPES.logical_name: args.prototype_bucket_name},
                                   settings=tool_settings)
        self.tool_function = LambdaFunction(
            f"{name}-tools",
            LambdaFunctionArgs(
                function=TOOL_GATEWAY,
                code=args.tool_gateway_code,
                arns=iam.StackArns(
                    tables=state.table_arns,
                    secrets=state.secret_arns,
                    buckets={PROTOTYPES.logical_name: args.prototype_bucket_arn},
                    knowledge_base=args.knowledge_base_arn,
                ),
                names=tool_names,
                log_retention_days=args.log_retention_days,
                architecture=args.architecture,
                tags=tags,
                extra_statements=[
                    # The sandbox tool (sandbox_run) runs where every tool runs, in this Lambda, and opens its
                    # AgentCore Code Interpreter sessions from here; the browser check (prototype_upload,
                    # prototype_check) opens AgentCore Browser sessions. Actions and ARNs are the adapters'.
                    iam.statement("RunSandboxInCodeInterpreter", CODE_INTERPRETER_ACTIONS, [interpreter_arn(region)]),
                    iam.statement("CheckPrototypesInAgentCoreBrowser", BROWSER_ACTIONS, [browser_arn(region)]),
                    iam.statement("ConnectAgentCoreBrowserStream", BROWSER_STREAM_ACTIONS, ["*"]),
                ],
            ),
            opts=child(self),
        )
        agentcore_source_arn = pulumi.Output.format("arn:aws:bedrock-agentcore:{0}:{1}:*", region, account)
        self.gateway_role = aws.iam.Role(
            f"{name}-gateway-role",
            assume_role_policy=pulumi.Output.json_dumps(iam.service_trust_policy(
                "bedrock-agentcore.amazonaws.com", source_account=account, source_arn_like=agentcore_source_arn)),
            tags=tags, opts=child(self))
        gateway_policy = aws.iam.RolePolicy(
            f"{name}-gateway-policy", role=self.gateway_role.id,
            policy=pulumi.Output.json_dumps(iam.document(iam.gateway_statements([self.tool_function.arn]))),
            opts=child(self))
        self.gateway = aws.bedrock.AgentcoreGateway(
            f"{name}-gateway",
            name=f"{prefix}-tools".replace("_", "-"),
            description="aidlc tools (Notion, GitHub, prototypes, analysis) for the agent runtimes",
            protocol_type="MCP",
            protocol_configuration={"mcp": {"search_type": "SEMANTIC"}},
            authorizer_type="AWS_IAM",  # the runtimes sign with their roles; no shared bearer token to leak
            role_arn=self.gateway_role.arn,
            tags=tags,
            opts=child(self, depends_on=[gateway_policy]),
        )
        self.gateway_target = aws.bedrock.AgentcoreGatewayTarget(
            f"{name}-gateway-target",
            name=GATEWAY_TARGET_NAME,
            description="the aidlc tool registry (runtime/tools), one Lambda",
            gateway_identifier=self.gateway.gateway_id,
            credential_provider_configuration={"gateway_iam_role": {}},
            target_configuration={"mcp": {"lambda_": {
                "lambda_arn": self.tool_function.arn,
                "tool_schema": {"inline_payloads": list(args.tool_payloads)},
            }}},
            # The gateway forwards only allow-listed request headers; the tool Lambda finds these in
            # client_context.custom["bedrockAgentCorePropagatedHeaders"] (runtime/tools/gateway_target.py).
            metadata_configuration={"allowed_request_headers": list(Header.TOOL_CALLER)},
            opts=child(self),
        )

        # --- one runtime per plugin --------------------------------------------------------------------------
        self.runtimes, self.endpoints, self.runtime_roles, self.memories = {}, {}, {}, {}
        self.memory_strategies = {}
        for spec in args.agents:
            self._agent(name, prefix, spec, args, code_object_arn, agentcore_source_arn, tags)

        self.runtime_arns = pulumi.Output.all(
            **{agent: runtime.agent_runtime_arn for agent, runtime in self.runtimes.items()})
        self.endpoint_versions = pulumi.Output.all(**{
            agent: pulumi.Output.all(**{n: e.agent_runtime_version for n, e in endpoints.items()})
            for agent, endpoints in self.endpoints.items()})
        self.gateway_url = self.gateway.gateway_url
        self.register_outputs({
            "runtime_arns": self.runtime_arns,
            "endpoint_versions": self.endpoint_versions,
            "gateway_url": self.gateway_url,
            "tool_function": self.tool_function.name,
        })

    def _agent(self, name: str, prefix: str, spec: AgentSpec, args: AgentCoreArgs, code_object_arn: Any,
               source_arn: Any, tags: dict[str, str]) -> None:
        agent = spec.name
        base = f"{name}-{agent.replace('_', '-')}"
        rt_name = runtime_name(prefix, agent)
        region, account = args.region, args.account_id
        role = aws.iam.Role(
            f"{base}-role",
            assume_role_policy=pulumi.Output.json_dumps(iam.service_trust_policy(
                "bedrock-agentcore.amazonaws.com", source_account=account, source_arn_like=source_arn)),
            tags={**tags, "aidlc:agent": agent}, opts=child(self))
        memory = None
        if spec.limits.uses_memory:
            memory = aws.bedrock.AgentcoreMemory(
                f"{base}-memory", name=f"{rt_name}_memory"[:48], event_expiry_duration=MEMORY_EVENT_EXPIRY_DAYS,
                description=f"aidlc {agent} agent memory", tags={**tags, "aidlc:agent": agent}, opts=child(self))
            self.memories[agent] = memory
            # The service extracts each strategy's records from the agent's events (runtime/agent/memory.py).
            self.memory_strategies[agent] = [
                aws.bedrock.AgentcoreMemoryStrategy(
                    f"{base}-memory-{strategy.name.replace('_', '-')}", memory_id=memory.id, name=strategy.name,
                    type=strategy.type, description=strategy.description,
                    namespace_templates=[strategy.namespace_template], opts=child(self))
                for strategy in spec.memory_strategies
            ]
        model_ids = list(dict.fromkeys([*(args.model_ids or [args.model_id]),
                                        *([spec.limits.model_id] if spec.limits.model_id else [])]))
        statements = iam.agent_runtime_statements(
            model_arns=iam.bedrock_model_arns(model_ids, region, account),
            gateway_arn=self.gateway.gateway_arn,
            completion_queue_arn=args.state.queue_arns[COMPLETIONS.logical_name],
            audit_table_arn=args.state.table_arns[AUDIT.logical_name],
            log_group_prefix_arn=pulumi.Output.format(
                "arn:aws:logs:{0}:{1}:log-group:/aws/bedrock-agentcore/runtimes/{2}-*", region, account, rt_name),
            code_object_arn=code_object_arn,
            memory_arn=memory.arn if memory is not None else None,
        )
        policy = aws.iam.RolePolicy(f"{base}-policy", role=role.id,
                                    policy=pulumi.Output.json_dumps(iam.document(statements)), opts=child(self))
        environment: dict[str, Any] = {
            Env.AGENT_NAME: agent,
            Env.GATEWAY_URL: self.gateway.gateway_url,
            COMPLETIONS.env_var: args.state.queue_urls[COMPLETIONS.logical_name],
            AUDIT.env_var: args.state.table_names[AUDIT.logical_name],
            Env.MODEL_PROVIDER: "bedrock",
            Env.MODEL_ID: spec.limits.model_id or args.model_id,
            Env.MODEL_PRICES: args.model_prices_json,
            Env.STACK: pulumi.get_stack(),
        }
        if args.plugin_dirs_in_bundle:
            environment[Env.PLUGIN_DIRS] = ":".join(args.plugin_dirs_in_bundle)  # relative to the code root
        if memory is not None:
            environment[Env.MEMORY_ID] = memory.id
        runtime = aws.bedrock.AgentcoreAgentRuntime(
            f"{base}-runtime",
            agent_runtime_name=rt_name,
            description=spec.description[:1200],
            role_arn=role.arn,
            agent_runtime_artifact={"code_configuration": {
                "entry_points": [AGENT_APP_ENTRY_POINT],
                "runtime": args.agent_runtime,
                "code": {"s3": {"bucket": self.code_bucket.bucket, "prefix": args.code_bucket_key}},
            }},
            network_configuration={"network_mode": "PUBLIC"},
            lifecycle_configurations=[{
                "idle_runtime_session_timeout": 900,
                "max_lifetime": spec.limits.timeout_seconds,
            }],
            environment_variables=environment,
            tags={**tags, "aidlc:agent": agent},
            opts=child(self, depends_on=[policy, self.code_object]),
        )
        self.runtime_roles[agent] = role
        self.runtimes[agent] = runtime
        configured = dict(args.agent_versions.get(agent) or {})
        names = [*ENDPOINT_NAMES, *([BETA] if BETA in configured else [])]
        self.endpoints[agent] = {
            endpoint: aws.bedrock.AgentcoreAgentRuntimeEndpoint(
                f"{base}-endpoint-{endpoint}",
                name=endpoint,
                agent_runtime_id=runtime.agent_runtime_id,
                # a configured version (a rollback is an earlier one), else the version this update rolled out
                agent_runtime_version=configured.get(endpoint) or runtime.agent_runtime_version,
                description=f"aidlc {agent}: the {endpoint} endpoint"
                            + (f", pinned to version {configured[endpoint]}" if endpoint in configured else
                               ", the latest version"),
                tags={**tags, "aidlc:agent": agent, "aidlc:endpoint": endpoint},
                opts=child(self),
            )
            for endpoint in names
        }

"""AgentCore: one runtime per registered agent plugin (direct code deployment from an S3 zip), each with its own
role and a pinned endpoint; one MCP gateway (semantic tool search, IAM auth) whose Lambda target serves the tool
registry; API-key credential providers for Notion and GitHub; memory for plugins that ask for it.

A plugin dropped into agent_plugins/ (or installed) gets its runtime on the next `pulumi up`: the list of
runtimes is the registry, not a list in this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from components import iam
from components.base import PACKAGE, PLUGIN_DIRS_ENV, LambdaFunction, child, lambda_plugin_dirs, validate_args
from runtime.plugins import AgentSpec
from runtime.resources import AGENT_APP_ENTRY_POINT, AUDIT, COMPLETIONS, GITHUB_TOKEN, NOTION_TOKEN, PROTOTYPES, Env
from runtime.resources import Function

ENDPOINT_NAME = "live"  # the orchestrator invokes this qualifier; it pins the runtime version rolled out last
GATEWAY_TARGET_NAME = "aidlc-tools"  # tools reach the Lambda as "aidlc-tools___<tool>"
MEMORY_EVENT_EXPIRY_DAYS = 30


class AgentCoreArgs(TypedDict, total=False):
    name_prefix: str  # runtime/memory names: letters, digits, underscores
    agents: Sequence[AgentSpec]
    code_bucket_key: str  # S3 key of the agent zip (content-hashed)
    agent_code: pulumi.Input[pulumi.Asset]  # the agent zip
    agent_runtime: str  # PYTHON_3_12 ... PYTHON_3_14
    tool_gateway: Function  # the gateway target's declaration (runtime/resources.py)
    tool_gateway_code: pulumi.Input[pulumi.Archive]
    tool_payloads: Sequence[Mapping[str, Any]]  # components.tool_schemas.gateway_inline_payloads(...)
    completion_queue_url: pulumi.Input[str]
    completion_queue_arn: pulumi.Input[str]
    audit_table_name: pulumi.Input[str]
    audit_table_arn: pulumi.Input[str]
    secret_arns: Mapping[str, pulumi.Input[str]]  # secret logical name -> ARN
    prototype_bucket_name: pulumi.Input[str]
    prototype_bucket_arn: pulumi.Input[str]
    prototype_base_url: pulumi.Input[str]
    prototype_expiry_days: int
    github_repo: str
    model_id: str
    model_ids: Sequence[str]  # every model the stack allows
    model_prices_json: str
    notion_token: pulumi.Input[str] | None  # Pulumi secrets; write-only into the credential providers
    github_token: pulumi.Input[str] | None
    plugin_dirs_in_bundle: Sequence[str]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    log_retention_days: int
    architecture: str
    tags: Mapping[str, str]


def runtime_name(prefix: str, agent: str) -> str:
    """AgentCore names allow letters, digits and underscores, 48 characters at most."""
    name = f"{prefix}_{agent}".replace("-", "_")
    if len(name) > 48:
        raise ValueError(f"agent runtime name {name!r} is longer than AgentCore's 48 characters: shorten "
                         "aidlc:projectId or the plugin name")
    return name


class AgentCore(pulumi.ComponentResource):
    runtimes: dict[str, aws.bedrock.AgentcoreAgentRuntime]
    endpoints: dict[str, aws.bedrock.AgentcoreAgentRuntimeEndpoint]
    runtime_roles: dict[str, aws.iam.Role]
    memories: dict[str, aws.bedrock.AgentcoreMemory]
    gateway: aws.bedrock.AgentcoreGateway
    gateway_target: aws.bedrock.AgentcoreGatewayTarget
    tool_function: LambdaFunction
    runtime_arns: pulumi.Output[dict[str, str]]
    gateway_url: pulumi.Output[str]

    def __init__(self, name: str, args: AgentCoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE}:AgentCore", name, None, opts)
        args = validate_args("AgentCore", args, AgentCoreArgs, (
            "name_prefix", "agents", "agent_code", "code_bucket_key", "tool_gateway", "tool_gateway_code",
            "tool_payloads", "completion_queue_url", "completion_queue_arn", "audit_table_name", "audit_table_arn",
            "secret_arns", "prototype_bucket_name", "prototype_bucket_arn", "model_id", "region", "account_id",
        ))
        agents = list(args["agents"])
        if not agents:
            raise ValueError("AgentCore: no agent plugins registered; nothing to deploy")
        tags = dict(args.get("tags") or {})
        region, account = args["region"], args["account_id"]
        prefix = args["name_prefix"]

        # --- the agent code, in its own private bucket ----------------------------------------------------
        self.code_bucket = aws.s3.Bucket(f"{name}-code", force_destroy=True, tags=tags, opts=child(self))
        code_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-code-no-public-access", bucket=self.code_bucket.id, block_public_acls=True,
            block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=child(self))
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-code-encryption", bucket=self.code_bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child(self))
        self.code_object = aws.s3.BucketObjectv2(
            f"{name}-agent-zip", bucket=self.code_bucket.id, key=args["code_bucket_key"], source=args["agent_code"],
            opts=child(self, depends_on=[code_block]))
        code_object_arn = pulumi.Output.concat(self.code_bucket.arn, "/", args["code_bucket_key"])

        # --- the tool gateway: Lambda target, role, gateway, target ----------------------------------------
        tool_env: dict[str, Any] = {
            AUDIT.env_var: args["audit_table_name"],
            NOTION_TOKEN.env_var: args["secret_arns"][NOTION_TOKEN.logical_name],
            GITHUB_TOKEN.env_var: args["secret_arns"][GITHUB_TOKEN.logical_name],
            PROTOTYPES.env_var: args["prototype_bucket_name"],
            Env.GITHUB_REPO: args.get("github_repo", ""),
            Env.STACK: pulumi.get_stack(),
            "AIDLC_PROTOTYPE_EXPIRY_DAYS": str(args.get("prototype_expiry_days", 7)),
            "POWERTOOLS_SERVICE_NAME": "aidlc-tools",
        }
        if args.get("prototype_base_url") is not None:
            tool_env[Env.PROTOTYPE_BASE_URL] = args["prototype_base_url"]
        if args.get("plugin_dirs_in_bundle"):
            tool_env[PLUGIN_DIRS_ENV] = lambda_plugin_dirs(args["plugin_dirs_in_bundle"])  # plugins' own tools
        self.tool_function = LambdaFunction(
            f"{name}-tools",
            {
                "function": args["tool_gateway"],
                "code": args["tool_gateway_code"],
                "arns": iam.StackArns(
                    tables={AUDIT.logical_name: args["audit_table_arn"]},
                    secrets={k: v for k, v in args["secret_arns"].items()
                             if k in args["tool_gateway"].secrets},
                    buckets={PROTOTYPES.logical_name: args["prototype_bucket_arn"]},
                ),
                "environment": tool_env,
                "log_retention_days": args.get("log_retention_days", 30),
                "architecture": args.get("architecture", "arm64"),
                "tags": tags,
            },
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
                "tool_schema": {"inline_payloads": list(args["tool_payloads"])},
            }}},
            opts=child(self),
        )

        # --- credential providers (write-only keys: the token never lands in the state file) --------------
        self.credential_providers: dict[str, aws.bedrock.AgentcoreApiKeyCredentialProvider] = {}
        for label, token in (("notion", args.get("notion_token")), ("github", args.get("github_token"))):
            if token is None:
                pulumi.log.warn(f"aidlc:{label}Token is not set: no {label} credential provider "
                                f"(pulumi config set --secret aidlc:{label}Token ...)", resource=self)
                continue
            self.credential_providers[label] = aws.bedrock.AgentcoreApiKeyCredentialProvider(
                f"{name}-{label}-credentials",
                name=f"{prefix}-{label}".replace("_", "-"),
                api_key_wo=token,
                api_key_wo_version=1,
                tags=tags,
                opts=child(self),
            )

        # --- one runtime per plugin --------------------------------------------------------------------------
        self.runtimes, self.endpoints, self.runtime_roles, self.memories = {}, {}, {}, {}
        for spec in agents:
            self._agent(name, prefix, spec, args, code_object_arn, agentcore_source_arn, tags)

        self.runtime_arns = pulumi.Output.all(
            **{agent: runtime.agent_runtime_arn for agent, runtime in self.runtimes.items()})
        self.gateway_url = self.gateway.gateway_url
        self.register_outputs({
            "runtime_arns": self.runtime_arns,
            "gateway_url": self.gateway_url,
            "tool_function": self.tool_function.name,
        })

    def _agent(self, name: str, prefix: str, spec: AgentSpec, args: Mapping[str, Any], code_object_arn: Any,
               source_arn: Any, tags: dict[str, str]) -> None:
        agent = spec.name
        base = f"{name}-{agent.replace('_', '-')}"
        rt_name = runtime_name(prefix, agent)
        region, account = args["region"], args["account_id"]
        role = aws.iam.Role(
            f"{base}-role",
            assume_role_policy=pulumi.Output.json_dumps(iam.service_trust_policy(
                "bedrock-agentcore.amazonaws.com", source_account=account, source_arn_like=source_arn)),
            tags={**tags, "aidlc:agent": agent}, opts=child(self))
        memory = None
        if spec.limits.uses_memory:
            memory = aws.bedrock.AgentcoreMemory(
                f"{base}-memory", name=f"{rt_name}_memory"[:48], event_expiry_duration=MEMORY_EVENT_EXPIRY_DAYS,
                description=f"aidlc {agent} agent memory", tags=tags, opts=child(self))
            self.memories[agent] = memory
        model_ids = list(dict.fromkeys([*(args.get("model_ids") or [args["model_id"]]),
                                        *([spec.limits.model_id] if spec.limits.model_id else [])]))
        statements = iam.agent_runtime_statements(
            model_arns=iam.bedrock_model_arns(model_ids, region, account),
            gateway_arn=self.gateway.gateway_arn,
            completion_queue_arn=args["completion_queue_arn"],
            audit_table_arn=args["audit_table_arn"],
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
            COMPLETIONS.env_var: args["completion_queue_url"],
            AUDIT.env_var: args["audit_table_name"],
            Env.MODEL_PROVIDER: "bedrock",
            Env.MODEL_ID: spec.limits.model_id or args["model_id"],
            Env.MODEL_PRICES: args.get("model_prices_json", "{}"),
            Env.STACK: pulumi.get_stack(),
        }
        if args.get("plugin_dirs_in_bundle"):
            environment[PLUGIN_DIRS_ENV] = ":".join(args["plugin_dirs_in_bundle"])  # relative to the code root
        if memory is not None:
            environment["AIDLC_MEMORY_ID"] = memory.id
        runtime = aws.bedrock.AgentcoreAgentRuntime(
            f"{base}-runtime",
            agent_runtime_name=rt_name,
            description=spec.description[:1200],
            role_arn=role.arn,
            agent_runtime_artifact={"code_configuration": {
                "entry_points": [AGENT_APP_ENTRY_POINT],
                "runtime": args.get("agent_runtime", "PYTHON_3_12"),
                "code": {"s3": {"bucket": self.code_bucket.bucket, "prefix": args["code_bucket_key"]}},
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
        self.endpoints[agent] = aws.bedrock.AgentcoreAgentRuntimeEndpoint(
            f"{base}-endpoint",
            name=ENDPOINT_NAME,
            agent_runtime_id=runtime.agent_runtime_id,
            agent_runtime_version=runtime.agent_runtime_version,
            description=f"aidlc {agent}: the version the orchestrator invokes",
            tags=tags,
            opts=child(self),
        )

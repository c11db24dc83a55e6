"""What an agent runtime is configured with. Read from the environment once, at the first invocation, never at
import (a missing variable must not break `/ping`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from runtime import resources
from runtime.agent.models import ModelChoice, ModelChoiceError, Provider, parse_model_choice
from runtime.cost import ModelPrice
from runtime.resources import Env

# `AIDLC_MODEL` is a model choice, `PROVIDER[:MODEL]` (runtime.agent.models): offline, bedrock, anthropic, openai...
ModelProvider = Provider
GatewayAuth = Literal["none", "iam", "bearer"]

# Not in runtime.resources.Env because only the agent runtime reads them.
GATEWAY_AUTH_ENV = "AIDLC_GATEWAY_AUTH"  # none | iam | bearer
GATEWAY_TOKEN_SECRET_ENV = "AIDLC_GATEWAY_TOKEN_SECRET"  # Secrets Manager name/ARN of the gateway's bearer token


def aws_credentials_present() -> bool:
    """Whether boto3 would find credentials; locally, no credentials means the offline model."""
    import boto3

    return boto3.Session().get_credentials() is not None


def default_gateway_auth(gateway_url: str | None) -> str:
    """An AgentCore Gateway (on amazonaws.com) is deployed with the IAM authorizer: sign. A loopback MCP server
    (the local stack) takes no auth."""
    from urllib.parse import urlparse

    host = urlparse(gateway_url or "").hostname or ""
    return "iam" if host.endswith(".amazonaws.com") else "none"


@dataclass
class AgentSettings:
    agent_name: str | None = None  # None: the request's agent_type (the local stack serves several from one app)
    model_provider: ModelProvider = "offline"
    model_id: str | None = None  # deployment default; the plugin's limits and the request come first
    gateway_url: str | None = None  # the MCP endpoint; None: tools run in-process from the ToolRegistry
    gateway_auth: GatewayAuth = "none"
    gateway_token_secret: str | None = None
    region: str | None = None
    completion_queue_url: str | None = None
    audit_table: str | None = None
    memory_id: str | None = None  # the runtime's AgentCore Memory (plugins with Limits.uses_memory)
    prices: dict[str, ModelPrice] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "AgentSettings":
        env = os.environ if env is None else env
        choice_text = env.get(Env.MODEL_PROVIDER, "").strip()
        try:
            choice = parse_model_choice(choice_text) if choice_text else ModelChoice(
                "bedrock" if aws_credentials_present() else "offline")
        except ModelChoiceError as exc:
            raise ValueError(f"{Env.MODEL_PROVIDER}={choice_text!r}: {exc}") from None
        gateway_url = env.get(Env.GATEWAY_URL) or None
        auth = env.get(GATEWAY_AUTH_ENV, "").strip().lower() or default_gateway_auth(gateway_url)
        if auth not in ("none", "iam", "bearer"):
            raise ValueError(f"{GATEWAY_AUTH_ENV}={auth!r}: use 'none', 'iam' or 'bearer'")
        prices_json = env.get(Env.MODEL_PRICES, "").strip()
        prices = {k: ModelPrice.model_validate(v) for k, v in json.loads(prices_json).items()} if prices_json else {}
        return cls(
            agent_name=env.get(Env.AGENT_NAME) or None,
            model_provider=choice.provider,
            model_id=choice.model_id or env.get(Env.MODEL_ID) or None,
            gateway_url=gateway_url,
            gateway_auth=auth,  # type: ignore[arg-type]
            gateway_token_secret=env.get(GATEWAY_TOKEN_SECRET_ENV) or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            completion_queue_url=env.get(resources.COMPLETIONS.env_var) or None,
            audit_table=env.get(resources.AUDIT.env_var) or None,
            memory_id=env.get(Env.MEMORY_ID) or None,
            prices=prices,
        )

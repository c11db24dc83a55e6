"""Which model an agent run talks to: a choice `PROVIDER[:MODEL]` and the strands Model built from it.

Providers:
- `offline`: the deterministic offline model (no LLM, no network; see `runtime.agent.offline_model`);
- `bedrock[:MODEL_ID]`: Amazon Bedrock through `ConverseStream` (strands' `BedrockModel`);
- `anthropic:MODEL`: the Anthropic API (strands' `AnthropicModel`), key in `ANTHROPIC_API_KEY`, base URL
  `ANTHROPIC_BASE_URL` when set;
- `openai:MODEL`: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, a llama.cpp server;
  strands' `OpenAIModel`), base URL `OPENAI_BASE_URL` (e.g. `http://127.0.0.1:11434/v1` for Ollama), key
  `OPENAI_API_KEY` (optional when a base URL is given: local servers take none);
- `litellm:MODEL`: a LiteLLM proxy at `LITELLM_BASE_URL` (key `LITELLM_API_KEY`), spoken to through its
  OpenAI-compatible API. Not strands' in-process `LiteLLMModel`: the `litellm` package adds ~310 MB of
  dependencies (tokenizers, huggingface_hub, aiohttp...) and ~6 s of import to every agent start, and fetches its
  price map and tokenizer files from the internet at run time, which an offline machine cannot do.

Keys are read from the environment when the model is built and go only into the provider's HTTP client: never into
settings, events, errors or logs. Every model must have a price (`runtime.cost`: the built-in table plus
`aidlc:modelPrices` / `AIDLC_MODEL_PRICES`) before a run starts, so token and cost budgets hold for every provider.

Nothing here imports strands or a provider SDK at import time (cold start); `build_model` imports what it uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from runtime.cost import DEFAULT_MODEL_ID, OFFLINE_MODEL_ID, UnknownModelPrice, price_for
from runtime.resources import Env

if TYPE_CHECKING:  # pragma: no cover
    from runtime.agent.settings import AgentSettings
    from runtime.models import AgentRequest
    from runtime.plugins import AgentSpec

Provider = Literal["offline", "bedrock", "anthropic", "openai", "litellm"]
PROVIDERS: tuple[str, ...] = get_args(Provider)

ANTHROPIC_API_KEY_ENV = "ANTHROPIC_API_KEY"
ANTHROPIC_BASE_URL_ENV = "ANTHROPIC_BASE_URL"
OPENAI_API_KEY_ENV = "OPENAI_API_KEY"
OPENAI_BASE_URL_ENV = "OPENAI_BASE_URL"
LITELLM_API_KEY_ENV = "LITELLM_API_KEY"
LITELLM_BASE_URL_ENV = "LITELLM_BASE_URL"
# The Anthropic Messages API requires max_tokens on every request; this is the output cap per model turn.
ANTHROPIC_MAX_TOKENS = 8192
# OpenAI's client refuses to start without a key; servers on a custom base URL (Ollama, vLLM...) ignore it.
UNUSED_API_KEY = "unused"


class ModelChoiceError(ValueError):
    """A model choice that cannot be used: unknown provider, missing model name, key or price. Says what to set."""


@dataclass(frozen=True)
class ModelChoice:
    provider: Provider
    model_id: str | None = None  # None: bedrock's default; offline has none

    def __str__(self) -> str:
        return self.provider if self.model_id is None else f"{self.provider}:{self.model_id}"


def parse_model_choice(text: str) -> ModelChoice:
    """`offline`, `bedrock`, `bedrock:<model id>`, `anthropic:<model>`, `openai:<model>`, `litellm:<model>`.
    Only the first colon separates: Bedrock ids (`...-v1:0`) and LiteLLM names keep theirs."""
    provider, _, model = (text or "").strip().partition(":")
    provider, model = provider.strip().lower(), model.strip()
    if provider not in PROVIDERS:
        raise ModelChoiceError(
            f"unknown model provider {provider!r} in {text!r}: use one of {', '.join(PROVIDERS)} "
            "(e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-20250514, bedrock, offline)"
        )
    if provider == "offline":
        if model:
            raise ModelChoiceError(f"{text!r}: the offline model takes no model name; use 'offline'")
        return ModelChoice("offline")
    if provider in ("anthropic", "openai", "litellm") and not model:
        raise ModelChoiceError(f"{text!r}: name the model, e.g. {provider}:MODEL")
    return ModelChoice(provider, model or None)  # type: ignore[arg-type]


def resolve_model_id(spec: AgentSpec, request: AgentRequest, settings: AgentSettings) -> str:
    """The model id a run uses and is priced by.

    Bedrock: the plugin's limits first, then the request (the project's choice), then the deployment default; those
    are Bedrock model ids. The other providers: the configured model only (a Bedrock id means nothing to them)."""
    if settings.model_provider == "offline":
        return OFFLINE_MODEL_ID
    if settings.model_provider == "bedrock":
        return spec.limits.model_id or request.model_id or settings.model_id or DEFAULT_MODEL_ID
    if not settings.model_id:
        raise ModelChoiceError(f"model provider {settings.model_provider!r} needs a model: "
                               f"{settings.model_provider}:MODEL")
    return settings.model_id


def require_price(model_id: str, prices: Mapping[str, Any] | None) -> None:
    """Refuse to start a run whose cost could not be counted (so budgets hold for every provider)."""
    try:
        price_for(model_id, prices)
    except UnknownModelPrice as exc:
        free = json.dumps({model_id: {"input_per_million": 0, "output_per_million": 0}})
        raise ModelChoiceError(
            f"{exc.args[0]} (for a free local model: {Env.MODEL_PRICES}='{free}')"
        ) from None


def _env(env: Mapping[str, str], name: str) -> str | None:
    return (env.get(name) or "").strip() or None


def build_model(spec: AgentSpec, request: AgentRequest, settings: AgentSettings,
                env: Mapping[str, str] | None = None) -> Any:
    """The strands Model for this run. `env` (default: the process environment) holds keys and base URLs."""
    env = os.environ if env is None else env
    provider = settings.model_provider
    if provider == "offline":
        if spec.offline is None:
            raise ModelChoiceError(f"agent {spec.name!r} has no offline script, so it cannot run without a model")
        from runtime.agent.offline_model import OfflineModel

        return OfflineModel(spec.offline, request)

    model_id = resolve_model_id(spec, request, settings)
    require_price(model_id, settings.prices)
    if provider == "bedrock":
        from strands.models.bedrock import BedrockModel

        # The endpoint comes from botocore's own AWS_ENDPOINT_URL_BEDROCK_RUNTIME (tests point it at loopback).
        return BedrockModel(model_id=model_id, region_name=settings.region)
    if provider == "anthropic":
        key = _env(env, ANTHROPIC_API_KEY_ENV)
        if key is None:
            raise ModelChoiceError(f"anthropic:{model_id} needs {ANTHROPIC_API_KEY_ENV} in the environment")
        from strands.models.anthropic import AnthropicModel

        client_args: dict[str, Any] = {"api_key": key}
        if base_url := _env(env, ANTHROPIC_BASE_URL_ENV):
            client_args["base_url"] = base_url
        return AnthropicModel(client_args=client_args, model_id=model_id, max_tokens=ANTHROPIC_MAX_TOKENS)
    if provider in ("openai", "litellm"):
        key_env, url_env = ((OPENAI_API_KEY_ENV, OPENAI_BASE_URL_ENV) if provider == "openai"
                            else (LITELLM_API_KEY_ENV, LITELLM_BASE_URL_ENV))
        base_url, key = _env(env, url_env), _env(env, key_env)
        if provider == "litellm" and base_url is None:
            raise ModelChoiceError(f"litellm:{model_id} needs {LITELLM_BASE_URL_ENV}, the LiteLLM proxy's URL "
                                   "(e.g. http://127.0.0.1:4000)")
        if key is None and base_url is None:
            raise ModelChoiceError(f"openai:{model_id} needs {OPENAI_API_KEY_ENV}, or {OPENAI_BASE_URL_ENV} for an "
                                   "OpenAI-compatible server (Ollama, vLLM, llama.cpp)")
        from strands.models.openai import OpenAIModel

        client_args = {"api_key": key or UNUSED_API_KEY}
        if base_url:
            client_args["base_url"] = base_url
        return OpenAIModel(client_args=client_args, model_id=model_id)
    raise ModelChoiceError(f"unknown model provider {provider!r}")  # pragma: no cover (settings validate it)

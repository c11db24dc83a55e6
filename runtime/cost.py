"""Cost accounting: one pure function of token usage and model, used by the budget hook in the agent and by the
completion step, so the cost the budget checks and the cost written to Notion agree to the cent."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field

from runtime.models import TokenUsage

DEFAULT_MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
OFFLINE_MODEL_ID = "aidlc-offline"
USD_QUANTUM = Decimal("0.000001")  # store micro-dollars; show cents


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input_per_million: Decimal = Field(ge=0)
    output_per_million: Decimal = Field(ge=0)


# USD per million tokens, keyed by the model id each provider is called with (runtime.agent.models). A stack can
# override or extend this with `aidlc:modelPrices`. First Bedrock's on-demand prices.
# The offline model is priced like the default model, so budgets and cost summaries behave locally as in AWS.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    DEFAULT_MODEL_ID: ModelPrice(input_per_million=Decimal("3"), output_per_million=Decimal("15")),
    "us.anthropic.claude-opus-4-1-20250805-v1:0": ModelPrice(
        input_per_million=Decimal("15"), output_per_million=Decimal("75")
    ),
    "us.anthropic.claude-3-5-haiku-20241022-v1:0": ModelPrice(
        input_per_million=Decimal("0.8"), output_per_million=Decimal("4")
    ),
    OFFLINE_MODEL_ID: ModelPrice(input_per_million=Decimal("3"), output_per_million=Decimal("15")),
    # The Anthropic API (`anthropic:MODEL`), list prices as published on anthropic.com/pricing.
    "claude-sonnet-4-20250514": ModelPrice(input_per_million=Decimal("3"), output_per_million=Decimal("15")),
    "claude-opus-4-1-20250805": ModelPrice(input_per_million=Decimal("15"), output_per_million=Decimal("75")),
    "claude-3-5-haiku-20241022": ModelPrice(input_per_million=Decimal("0.8"), output_per_million=Decimal("4")),
    # OpenAI (`openai:MODEL`), list prices as published on openai.com/api/pricing. Self-hosted models (Ollama, vLLM,
    # llama.cpp) and LiteLLM routes have no list price: give theirs in aidlc:modelPrices (0 for a free local model);
    # a run on a model with no price is refused before it starts, so budgets always hold.
    "gpt-4o": ModelPrice(input_per_million=Decimal("2.5"), output_per_million=Decimal("10")),
    "gpt-4o-mini": ModelPrice(input_per_million=Decimal("0.15"), output_per_million=Decimal("0.6")),
    "gpt-4.1": ModelPrice(input_per_million=Decimal("2"), output_per_million=Decimal("8")),
    "gpt-4.1-mini": ModelPrice(input_per_million=Decimal("0.4"), output_per_million=Decimal("1.6")),
}


class UnknownModelPrice(KeyError):
    pass


def price_for(model_id: str, prices: Mapping[str, ModelPrice] | None = None) -> ModelPrice:
    table = {**DEFAULT_PRICES, **(prices or {})}
    try:
        return table[model_id]
    except KeyError:
        raise UnknownModelPrice(
            f"no price for model {model_id!r}: add it to aidlc:modelPrices (USD per million input/output tokens)"
        ) from None


def cost_usd(usage: TokenUsage, model_id: str, prices: Mapping[str, ModelPrice] | None = None) -> Decimal:
    """The cost of `usage` on `model_id`, in USD, rounded to the micro-dollar."""
    price = price_for(model_id, prices)
    raw = (
        Decimal(usage.input_tokens) * price.input_per_million
        + Decimal(usage.output_tokens) * price.output_per_million
    ) / Decimal(1_000_000)
    return raw.quantize(USD_QUANTUM, rounding=ROUND_HALF_UP)

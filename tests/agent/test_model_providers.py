"""Real models without an AWS account: the model choice (`AIDLC_MODEL=PROVIDER[:MODEL]`, `aidlc:model`,
`aidlc dev --model`), and each provider path at the wire. strands' OpenAIModel and AnthropicModel, built by the
runner, with the providers' own SDKs (openai, anthropic), talk to a loopback stand-in that speaks the provider's
streaming HTTP API and plays the offline model's tool calls; the tools are the real MCP gateway. Each run must give
the offline run's artifact and token usage, priced at the provider's model, with the key sent and never logged."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from runtime.agent.completion import MemoryCompletionSink
from runtime.agent.models import ModelChoice, ModelChoiceError, build_model, parse_model_choice, resolve_model_id
from runtime.agent.runner import RunOptions, run_agent
from runtime.agent.settings import AgentSettings
from runtime.cost import DEFAULT_PRICES, ModelPrice, cost_usd
from runtime.registry import get_registry
from runtime.tools.audit import MemoryAuditSink

from tests.agent.conftest import make_request
from tests.agent.wire import (  # noqa: F401  (tool_gateway is a fixture)
    comparable,
    record_offline,
    s3_text,
    serve_wire,
    story_request,
    tool_gateway,
)

PROVIDER_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "LITELLM_API_KEY",
                "LITELLM_BASE_URL")


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch):
    """Whatever the machine has set, each test starts with no provider key or URL."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


# --- the choice ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, provider, model", [
    ("offline", "offline", None),
    ("bedrock", "bedrock", None),
    ("bedrock:us.anthropic.claude-3-5-haiku-20241022-v1:0", "bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("OpenAI:Qwen/Qwen2.5-7B-Instruct", "openai", "Qwen/Qwen2.5-7B-Instruct"),  # provider case-free, model kept
    ("anthropic:claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4-20250514"),
    ("litellm:ollama/llama3.2:3b", "litellm", "ollama/llama3.2:3b"),
])
def test_model_choices_parse(text, provider, model):
    assert parse_model_choice(text) == ModelChoice(provider, model)
    assert str(parse_model_choice(text)) == (provider if model is None else f"{provider}:{model}")


@pytest.mark.parametrize("text, message", [
    ("gpt-4o", "unknown model provider 'gpt-4o'"),
    ("azure:gpt-4o", "unknown model provider 'azure'"),
    ("openai", "name the model, e.g. openai:MODEL"),
    ("anthropic:", "name the model"),
    ("offline:x", "takes no model name"),
    ("", "unknown model provider ''"),
])
def test_bad_model_choices_say_what_to_write(text, message):
    with pytest.raises(ModelChoiceError, match=message):
        parse_model_choice(text)


def test_settings_read_the_choice_from_the_environment():
    settings = AgentSettings.from_env({"AIDLC_MODEL": "openai:gpt-4o-mini", "AIDLC_MODEL_ID": "ignored"})
    assert (settings.model_provider, settings.model_id) == ("openai", "gpt-4o-mini")
    settings = AgentSettings.from_env({"AIDLC_MODEL": "bedrock", "AIDLC_MODEL_ID": "us.x-v1:0"})
    assert (settings.model_provider, settings.model_id) == ("bedrock", "us.x-v1:0")
    with pytest.raises(ValueError, match="AIDLC_MODEL='mistral:large'.*unknown model provider"):
        AgentSettings.from_env({"AIDLC_MODEL": "mistral:large"})


def test_other_providers_use_the_configured_model_not_a_bedrock_pin():
    spec = get_registry().get("mock")
    pinned = spec.model_copy(update={"limits": spec.limits.model_copy(update={"model_id": "us.bedrock-only-v1:0"})})
    request = make_request("mock").model_copy(update={"model_id": "us.project-bedrock-v1:0"})
    assert resolve_model_id(pinned, request, AgentSettings(model_provider="openai", model_id="gpt-4o")) == "gpt-4o"
    assert resolve_model_id(pinned, request, AgentSettings(model_provider="bedrock")) == "us.bedrock-only-v1:0"
    with pytest.raises(ModelChoiceError, match="needs a model"):
        resolve_model_id(spec, request, AgentSettings(model_provider="anthropic"))


@pytest.mark.parametrize("settings, env, message", [
    (AgentSettings(model_provider="anthropic", model_id="claude-sonnet-4-20250514"), {}, "needs ANTHROPIC_API_KEY"),
    (AgentSettings(model_provider="openai", model_id="gpt-4o"), {}, "needs OPENAI_API_KEY, or OPENAI_BASE_URL"),
    (AgentSettings(model_provider="litellm", model_id="gpt-4o"), {"LITELLM_API_KEY": "k"}, "needs LITELLM_BASE_URL"),
    # A model with no price cannot run: its cost could not be counted against the budget.
    (AgentSettings(model_provider="openai", model_id="llama3.2"), {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
     "no price for model 'llama3.2': add it to aidlc:modelPrices.*AIDLC_MODEL_PRICES"),
])
def test_a_model_that_cannot_run_is_refused_before_any_call(settings, env, message):
    spec, request = get_registry().get("mock"), make_request("mock")
    with pytest.raises(ModelChoiceError, match=message):
        build_model(spec, request, settings, env=env)


def test_a_refused_model_fails_the_run_with_its_reason_and_sends_nothing(tool_gateway, monkeypatch):
    wire, server = serve_wire([])
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    try:
        event = run_agent(make_request("mock"), sink=MemoryCompletionSink(),
                          settings=AgentSettings.from_env({"AIDLC_MODEL": "openai:llama3.2",
                                                           "AIDLC_GATEWAY_URL": tool_gateway.url}),
                          options=RunOptions(audit=MemoryAuditSink()))
    finally:
        server.stop()
    assert event.status == "failed" and "no price for model 'llama3.2'" in event.error_detail
    assert wire.seen == []


# --- each provider at the wire -------------------------------------------------------------------------------

SECRET = "sk-wire-test-0123456789abcdef"


def openai_tool_results(body):
    return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]


def anthropic_tool_results(body):
    return [(b["tool_use_id"], b["content"]) for m in body["messages"] if m["role"] == "user"
            for b in (m["content"] if isinstance(m["content"], list) else []) if b.get("type") == "tool_result"]


PROVIDERS = {
    # choice: (environment beyond the base URL, path, key header, its value, how tool results come back)
    "openai:gpt-4o-mini": ({"OPENAI_BASE_URL": "{url}/v1", "OPENAI_API_KEY": SECRET}, "/v1/chat/completions",
                           "authorization", f"Bearer {SECRET}", openai_tool_results),
    "anthropic:claude-sonnet-4-20250514": ({"ANTHROPIC_BASE_URL": "{url}", "ANTHROPIC_API_KEY": SECRET},
                                           "/v1/messages", "x-api-key", SECRET, anthropic_tool_results),
    # A LiteLLM proxy, through its OpenAI-compatible API; the route name is LiteLLM's provider/model.
    "litellm:ollama/llama3.2": ({"LITELLM_BASE_URL": "{url}/v1", "LITELLM_API_KEY": SECRET},
                                "/v1/chat/completions", "authorization", f"Bearer {SECRET}", openai_tool_results),
    # Ollama / vLLM / llama.cpp: an OpenAI-compatible server on a base URL, no key.
    "openai:llama3.2": ({"OPENAI_BASE_URL": "{url}/v1"}, "/v1/chat/completions", "authorization", "Bearer unused",
                        openai_tool_results),
}
PRICES = {"ollama/llama3.2": ModelPrice(input_per_million=Decimal("0.1"), output_per_million=Decimal("0.2")),
          "llama3.2": ModelPrice(input_per_million=Decimal("0"), output_per_million=Decimal("0"))}


@pytest.mark.parametrize("choice", list(PROVIDERS))
def test_provider_run_at_the_wire_matches_the_offline_run(choice, tool_gateway, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # everything any library logs, to check the key is never in it
    env, path, key_header, key_value, tool_results = PROVIDERS[choice]
    spec = get_registry().get("mock")
    request = story_request(tool_gateway, "mock")
    offline, turns = record_offline(request, tool_gateway.url)

    wire, server = serve_wire(turns)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(url=server.base_url))
    prices_json = json.dumps({k: v.model_dump(mode="json") for k, v in PRICES.items()})
    settings = AgentSettings.from_env({"AIDLC_MODEL": choice, "AIDLC_GATEWAY_URL": tool_gateway.url,
                                       "AIDLC_MODEL_PRICES": prices_json})
    try:
        event = run_agent(request, settings=settings, sink=MemoryCompletionSink(),
                          options=RunOptions(audit=MemoryAuditSink()))
    finally:
        server.stop()

    assert event.status == "completed", event.error_detail
    model_id = choice.split(":", 1)[1]
    # The provider's API as its SDK speaks it: the model, streaming, the plugin's tools, the key in its header.
    assert [seen.path for seen in wire.seen] == [path] * 3
    assert all(seen.headers[key_header] == key_value for seen in wire.seen)
    first = wire.seen[0].body
    assert first["model"] == model_id and first["stream"] is True
    names = [t["function"]["name"] if "function" in t else t["name"] for t in first["tools"]]
    assert sorted(names) == sorted(spec.tools)
    assert json.dumps(spec.system_prompt)[1:-1] in json.dumps(first)  # OpenAI: a system message; Anthropic: system
    assert request.story.title in json.dumps(first["messages"])
    # Each tool call's real result went back under the provider's tool-call id.
    answered = tool_results(wire.seen[2].body)
    assert [tool_id for tool_id, _ in answered] == [turns[0].tool_use_id, turns[1].tool_use_id]
    assert request.story.title in json.dumps(answered[0][1])

    # The offline run's artifact and usage, priced at this model.
    assert event.model_id == model_id
    assert event.token_usage == offline.token_usage
    assert event.cost_usd == cost_usd(offline.token_usage, model_id, PRICES)
    assert comparable(event.artifacts) == comparable(offline.artifacts)
    assert request.story.title in s3_text(event.artifacts[0].metadata.s3_key)

    # The key was sent, and never logged, printed or put in the event.
    if key_value != "Bearer unused":
        out, err = capfd.readouterr()
        assert SECRET not in caplog.text and SECRET not in out + err
        assert SECRET not in event.model_dump_json()


def test_the_price_table_has_the_built_in_provider_models():
    for model_id in ("claude-sonnet-4-20250514", "gpt-4o", "gpt-4o-mini"):
        assert DEFAULT_PRICES[model_id].output_per_million > DEFAULT_PRICES[model_id].input_per_million > 0


# --- the choice in the stack configuration and on the command line -------------------------------------------


def stack(**settings):
    from runtime.stack_config import StackConfig

    return StackConfig.from_settings({"projectId": "p", **settings})


def test_the_stack_configuration_names_the_model():
    from runtime.stack_config import StackConfigError

    assert stack().model == ""
    assert stack(model="OpenAI:gpt-4o-mini").model == "openai:gpt-4o-mini"
    # bedrock:<id> and modelId are one fact: the choice fills it in (the runtimes' IAM allows that model).
    assert stack(model="bedrock:us.anthropic.claude-3-5-haiku-20241022-v1:0").model_ids == [
        "us.anthropic.claude-3-5-haiku-20241022-v1:0"]
    local = stack(model="openai:llama3.2", modelPrices={"llama3.2": {"input_per_million": 0,
                                                                      "output_per_million": 0}})
    assert local.model == "openai:llama3.2"
    for settings, message in [
        ({"model": "gpt-4o"}, "aidlc:model: unknown model provider 'gpt-4o'"),
        ({"model": "openai:llama3.2"}, "aidlc:model 'openai:llama3.2' has no price.*aidlc:modelPrices"),
        ({"model": "bedrock:us.a-v1:0", "modelId": "us.b-v1:0"}, "aidlc:modelId is 'us.b-v1:0': set one"),
    ]:
        with pytest.raises(StackConfigError, match=message):
            stack(**settings)


def test_aidlc_dev_model_option(tmp_path, monkeypatch):
    import typer

    import runtime.local.stack
    from runtime.local.cli import local_model_choice

    monkeypatch.setattr(runtime.local.stack, "PROJECT_ROOT", tmp_path)
    (tmp_path / "Pulumi.lab.yaml").write_text(
        "config:\n  aidlc:projectId: lab\n  aidlc:model: openai:qwen2.5\n"
        "  aidlc:modelPrices:\n    qwen2.5: {input_per_million: 0, output_per_million: 0}\n")
    assert local_model_choice(None, "lab") == "openai:qwen2.5"  # the stack's choice
    assert local_model_choice(None, "missing") == "offline"
    assert local_model_choice("anthropic:claude-sonnet-4-20250514", "lab") == "anthropic:claude-sonnet-4-20250514"
    with pytest.raises(typer.BadParameter, match="no price for model 'qwen2.5'"):  # only the lab stack prices it
        local_model_choice("openai:qwen2.5", "missing")
    for model, message in [("gpt-4o", "unknown model provider"), ("openai", "name the model"),
                           ("openai:unpriced-model", "no price for model 'unpriced-model'")]:
        with pytest.raises(typer.BadParameter, match=message):
            local_model_choice(model, "lab")

"""Done when: a signed Notion event for a story moved to "Generate Prototype" produces one invocation that runs
the mock agent and then, under story-to-mock-to-deck, the demo deck agent, with the story's status, comments and
dashboard rows written back and the cost summed, all through the handlers against moto and the emulator.

The agents themselves are behind the invoker boundary: each AgentRequest the orchestrator sends is answered with
the completion event the agent would send, through the completion queue."""

from __future__ import annotations

from decimal import Decimal

from runtime.cost import OFFLINE_MODEL_ID, cost_usd
from runtime.local.load import completed_event  # what each agent run answers, as the load bench's stand-in does
from runtime.models import TokenUsage
from runtime.notion.adapter import plain_properties
from tests.pipeline.conftest import TOKEN, event_body, new_story, signed
from tests.pipeline.test_completion import dashboard_rows


def test_story_to_prototype_to_demo_deck_through_the_handlers(notion_pipeline):
    p = notion_pipeline
    env = p.notion_env
    p.put_secret("webhook-verification-token", TOKEN)
    story = new_story(env, "Preview the dashboard layout")
    body = event_body(story, env=env)
    assert p.webhook(body, signed(body))[1]["status"] == "enqueued"

    usages = {"mock": TokenUsage(input_tokens=30_000, output_tokens=8_000),
              "demo_deck": TokenUsage(input_tokens=20_000, output_tokens=5_000)}
    for expected_agent in ("mock", "demo_deck"):
        p.drain()
        request = p.invoker.requests[-1]
        assert request.agent_type == expected_agent and request.notion_page_id == story["id"]
        p.run_completion([completed_event(request, usages[expected_agent])])

    mock_run, deck_run = (p.record(r.invocation_id) for r in p.invoker.requests)
    assert len(p.invoker.requests) == 2 and deck_run.parent_invocation_id == mock_run.invocation_id
    assert {mock_run.status.value, deck_run.status.value} == {"completed"}
    assert mock_run.delivery_status == deck_run.delivery_status == "delivered"

    page = plain_properties(env.bot.retrieve_page(story["id"]))
    from runtime.registry import get_registry

    assert page["Status"] == get_registry().get("demo_deck").completion_status
    comments = ["".join(t.get("plain_text", "") for t in c["rich_text"]) for c in env.bot.list_comments(story["id"])]
    assert len(comments) == 2
    assert f"/{mock_run.invocation_id}/index.html" in comments[0] and "https://www.notion.so/deck" in comments[1]
    assert len(dashboard_rows(env, mock_run.invocation_id)) == 1
    assert len(dashboard_rows(env, deck_run.invocation_id)) == 1

    status, summary = p.api("GET", "/project/acme/cost-summary")
    expected = {agent: cost_usd(usage, OFFLINE_MODEL_ID) for agent, usage in usages.items()}
    assert Decimal(summary["month_to_date_usd"]) == sum(expected.values())
    assert {k: Decimal(v) for k, v in summary["by_agent_usd"].items()} == expected
    assert p.queue_depth("tasks") == 0 and summary["running"] == 0

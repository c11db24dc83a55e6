"""The Notion webhook as the tests drive it: a pipeline whose webhook is subscribed, and a person's edit delivered."""

from __future__ import annotations

import pytest

from tests.pipeline.conftest import TOKEN, event_body, new_story, signed


@pytest.fixture
def subscribed(notion_pipeline):
    """The Notion pipeline with the webhook's verification token stored, as Notion's verification POST leaves it."""
    notion_pipeline.put_secret("webhook-verification-token", TOKEN)
    return notion_pipeline


def deliver(p, story: dict, **kwargs) -> dict:
    """The webhook event for `story` (`event_body`'s options), signed; the webhook must answer 200."""
    body = event_body(story, env=p.notion_env, **kwargs)
    status, reply = p.webhook(body, signed(body))
    assert status == 200, reply
    return reply


def story_with_a_run(p, title: str, **event) -> tuple[dict, dict]:
    """A person's new story in its trigger status, its webhook event (`deliver`'s options) handled and its task
    taken by the orchestrator; returns the story and the webhook's reply (which names the run)."""
    story = new_story(p.notion_env, title)
    reply = deliver(p, story, **event)
    p.drain()
    return story, reply

"""The webhook hands page events to the content sync: one kb-sync message per page event, sent, never synced in
the webhook's 3 s; the sync function then ingests the page. The pipeline's fixtures (moto, the Notion emulator)."""

from __future__ import annotations

import json

from tests.pipeline.conftest import (  # noqa: F401  (fixtures)
    TOKEN, aws_names, event_body, make_notion_pipeline, new_story, notion_env, notion_server, signed,
)


def kb_pipeline(aws_names, notion_env):
    """The Notion pipeline whose webhook is subscribed and sends page events to the kb-sync queue."""
    p = make_notion_pipeline(aws_names, notion_env, settings={"kb_sync_queue_url": aws_names["queues"]["kb-sync"]})
    p.put_secret("webhook-verification-token", TOKEN)
    return p


def test_page_events_ask_the_sync_for_the_page_and_the_sync_ingests_it(aws_names, notion_env, tmp_path):
    from runtime.aws_clients import default_clients
    from runtime.kb.retrieval import LocalIndex
    from runtime.kb.services import KbServices, KbSettings
    from runtime.pipeline.services import set_services
    from tests.kb.conftest import drain

    p = kb_pipeline(aws_names, notion_env)
    try:
        story = new_story(notion_env, "Export the ledger as CSV", status="Backlog")
        notion_env.bot.me()  # the integration's own user, looked up once per process (to skip our own edits)
        requests = notion_env.bot.stats.requests
        body = event_body(story, event_type="page.content_updated", env=notion_env)
        status, answer = p.webhook(body, signed(body))
        assert status == 200 and answer["status"] == "ignored"  # starts no agent
        assert notion_env.bot.stats.requests == requests  # the webhook fetched nothing for the sync
        messages = p.receive("kb-sync")
        assert [json.loads(m["Body"]) for m in messages] == [{"job_id": None, "page_id": story["id"]}]
        assert p.queue_depth("tasks") == 0
        for m in messages:  # give them back for the sync function below
            p.sqs.change_message_visibility(QueueUrl=p.queue_url("kb-sync"), ReceiptHandle=m["ReceiptHandle"],
                                            VisibilityTimeout=0)

        kb = KbServices(KbSettings(state_table=aws_names["tables"]["kb-state"], queue_url=p.queue_url("kb-sync"),
                                   projects_table=aws_names["tables"]["projects"], default_project=p.project),
                        clients=default_clients(), notion=notion_env.bot, sink=LocalIndex(tmp_path / "kb.sqlite3"))
        assert [a["batchItemFailures"] for a in drain(kb)] == [[]]
        found = kb.sink.retrieve("ledger csv export")
        assert [(h.title, h.project_id, h.page_type) for h in found] == [("Export the ledger as CSV", "acme",
                                                                          "user_story")]
    finally:
        set_services(None)


def test_without_a_knowledge_base_the_webhook_sends_nothing_more(aws_names, notion_env):
    from runtime.pipeline.services import set_services

    p = kb_pipeline(aws_names, notion_env)
    p.services.webhook.kb_sync = None
    try:
        story = new_story(notion_env, "No KB here", status="Backlog")
        body = event_body(story, event_type="page.content_updated", env=notion_env)
        assert p.webhook(body, signed(body))[0] == 200
        assert p.queue_depth("kb-sync") == 0
    finally:
        set_services(None)


def test_our_own_edits_ask_for_no_sync(aws_names, notion_env):
    """A page event whose only author is this integration (a write-back, an agent's page) sends nothing to the
    sync: it would re-read what we wrote, at Notion's 3 requests a second. A person's edit of the same page does."""
    from runtime.pipeline.services import set_services

    p = kb_pipeline(aws_names, notion_env)
    try:
        story = new_story(notion_env, "Edited by the bot", status="Backlog")
        bot = {"id": notion_env.bot.me()["id"], "type": "bot"}
        ours = event_body(story, event_type="page.content_updated", env=notion_env, author=bot)
        assert p.webhook(ours, signed(ours))[0] == 200
        assert p.queue_depth("kb-sync") == 0
        theirs = event_body(story, event_type="page.content_updated", env=notion_env)
        assert p.webhook(theirs, signed(theirs))[0] == 200
        assert p.queue_depth("kb-sync") == 1
    finally:
        set_services(None)

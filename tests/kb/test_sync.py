"""The content sync against the Notion emulator: incremental (a changed page re-ingested, an unchanged one skipped),
sub-pages followed, trashed pages removed, the exact Notion requests each sync makes, and retrieval of a design doc
a story mentions.

Times: the emulator stamps `last_edited_time` with the minute the test sets (`notion_time`), the sync stamps
`ingested_at` with the test's `clock`, so which page is "newer" is decided by the test, never by how fast it runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.kb.sync import DatabaseSyncRequest, PageSyncRequest, needs_ingestion
from tests.kb.conftest import drain


def docs_source(person, workspace, title="Docs") -> str:
    database = person.create_database(parent_page_id=workspace.seed.root_page_id, title=title, properties={
        "Name": {"title": {}},
        "Type": {"select": {"options": [{"name": "Design"}, {"name": "Task"}]}},
        "Owner": {"rich_text": {}},
    })
    return database["data_sources"][0]["id"]


def row(person, source: str, title: str, body: str, kind: str = "Task") -> str:
    page = person.create_page(parent_data_source_id=source, title=title, markdown=body,
                              properties={"Type": {"select": {"name": kind}}})
    return page["id"]


def run_job(kb, request):
    job = kb.sync.request_page(request) if isinstance(request, PageSyncRequest) else kb.sync.request_database(request)
    drain(kb)
    return kb.sync.status(job.job_id)


def test_a_changed_page_is_reingested_and_an_unchanged_one_skipped(kb, bot, person, workspace, notion_time, clock):
    notion_time("2026-03-02T10:00:00.000Z")
    source = docs_source(person, workspace)
    first = row(person, source, "Caching policy", "Responses are cached for **five** minutes.")
    second = row(person, source, "Retry policy", "Retries back off exponentially.")

    clock.set("2026-03-02T10:30:00Z")
    before = bot.stats.requests
    job = run_job(kb, DatabaseSyncRequest(data_source_id=source))
    # One query (2 rows, each with its last_edited_time), then per new row: its blocks and its comments.
    assert bot.stats.requests - before == 1 + 2 * 2 == job.notion_requests
    assert (job.status, job.pages_seen, job.pages_ingested, job.pages_skipped) == ("succeeded", 2, 2, 0)
    assert [p.title for p in kb.sink.retrieve("cached minutes")] == ["Caching policy"]

    notion_time("2026-03-02T10:45:00.000Z")  # a person edits the first page after it was ingested
    person.append_markdown(first, "Stale entries are served while revalidating.")
    clock.set("2026-03-02T11:00:00Z")
    before = bot.stats.requests
    job = run_job(kb, DatabaseSyncRequest(data_source_id=source))
    # The query, then the changed row's blocks and comments; the unchanged row costs nothing more.
    assert bot.stats.requests - before == 1 + 2 == job.notion_requests
    assert (job.pages_ingested, job.pages_skipped) == (1, 1)
    assert kb.sync.store.page_state(second)["ingested_at"] == "2026-03-02T10:30:00Z"  # not rewritten
    assert kb.sync.store.page_state(first)["ingested_at"] == "2026-03-02T11:00:00Z"
    assert [p.title for p in kb.sink.retrieve("revalidating")] == ["Caching policy"]  # the new text is indexed

    # A page job on an unchanged page: one request (the page), nothing written.
    before = bot.stats.requests
    job = run_job(kb, PageSyncRequest(page_id=second))
    assert bot.stats.requests - before == 1 == job.notion_requests
    assert (job.status, job.pages_ingested, job.pages_skipped) == ("succeeded", 0, 1)


def test_an_edit_in_the_minute_of_the_ingestion_is_not_missed():
    """Notion rounds last_edited_time down to the minute: an edit at 10:30:40, after an ingestion at 10:30:20,
    shows 10:30:00. Comparing with ingested_at itself would skip it for good; the minute rule re-ingests it."""
    assert needs_ingestion("2026-03-02T10:30:00.000Z", "2026-03-02T10:30:20Z")
    assert not needs_ingestion("2026-03-02T10:29:00.000Z", "2026-03-02T10:30:20Z")
    assert needs_ingestion("2026-03-02T10:31:00.000Z", "2026-03-02T10:30:20Z")
    assert needs_ingestion(None, "2026-03-02T10:30:20Z") and needs_ingestion("2026-03-02T10:29:00Z", None)


def test_retrieval_finds_the_design_doc_a_story_mentions(kb, bot, person, workspace, notion_time, clock):
    from runtime.models import ProjectConfig
    from runtime.pipeline.state.projects import ProjectRepository

    ProjectRepository(kb.settings.projects_table, kb.clients.client("dynamodb")).save(ProjectConfig(
        project_id="shop", workspace_id="ws", notion_data_source_id=workspace.seed.stories_data_source_id,
        cost_limit_per_invocation=Decimal("5"), cost_limit_per_month=Decimal("100")))
    notion_time("2026-03-02T10:00:00.000Z")
    design = person.create_page(parent_page_id=workspace.seed.root_page_id, title="Checkout flow design",
                                markdown="The payment step tokenises the card in the browser; the server never "
                                         "sees a card number. Idempotency keys guard every charge.")
    edge_cases = person.create_page(parent_page_id=design["id"], title="Checkout refunds",
                                    markdown="Partial refunds are issued against the original charge.")
    unrelated = person.create_page(parent_page_id=workspace.seed.root_page_id, title="Office plants",
                                   markdown="Water the ficus on Mondays.")
    story = person.create_page(parent_data_source_id=workspace.seed.stories_data_source_id,
                               title="Pay with a saved card",
                               markdown="Build the saved-card payment as the checkout flow design describes.")
    person.create_comment(story["id"], "Remember the idempotency keys.")

    clock.set("2026-03-02T10:30:00Z")
    before = bot.stats.requests
    job = run_job(kb, PageSyncRequest(page_id=design["id"], project_id="shop"))
    # The page, its blocks (one of them the sub-page) and comments; then the sub-page's three.
    assert bot.stats.requests - before == 3 + 3 == job.notion_requests
    assert (job.pages_ingested, job.source) == (2, "api")
    run_job(kb, PageSyncRequest(page_id=unrelated["id"], project_id="shop"))
    story_job = run_job(kb, PageSyncRequest(page_id=story["id"]))  # its project comes from its data source
    assert story_job.pages_ingested == 1

    story_text = bot.page_snapshot(story["id"])
    found = kb.sink.retrieve(f"{story_text.title} {story_text.content_markdown}", top_k=5, project_id="shop")
    titles = [p.title for p in found]
    # The story itself, then the design doc it names; the sub-page shares words; the office plants share none.
    assert titles[:2] == ["Pay with a saved card", "Checkout flow design"] and "Office plants" not in titles
    design_hit = next(p for p in found if p.title == "Checkout flow design")
    assert design_hit.page_type == "general" and design_hit.project_id == "shop" and design_hit.url
    story_hit = next(p for p in found if p.title == "Pay with a saved card")
    assert story_hit.page_type == "user_story" and story_hit.project_id == "shop"
    # The story's comment is part of its document; the sub-page inherits the job's project.
    assert [p.title for p in kb.sink.retrieve("idempotency keys remember")][0] == "Pay with a saved card"
    assert kb.sink.retrieve("partial refunds", project_id="shop")[0].page_id == edge_cases["id"]
    assert kb.sink.retrieve("checkout design", project_id="another-project") == []


def test_a_trashed_page_leaves_the_index(kb, person, workspace, notion_time, clock):
    notion_time("2026-03-02T10:00:00.000Z")
    page = person.create_page(parent_page_id=workspace.seed.root_page_id, title="Deprecated runbook",
                              markdown="Restart the zeppelin service by hand.")
    clock.set("2026-03-02T10:30:00Z")
    run_job(kb, PageSyncRequest(page_id=page["id"]))
    assert kb.sink.retrieve("zeppelin")
    person.trash_page(page["id"])
    job = run_job(kb, PageSyncRequest(page_id=page["id"]))
    assert (job.pages_deleted, job.status) == (1, "succeeded")
    assert kb.sink.retrieve("zeppelin") == [] and kb.sync.store.page_state(page["id"]) is None


def test_a_page_the_integration_cannot_read_fails_the_job_with_notions_answer(kb):
    job = run_job(kb, PageSyncRequest(page_id="0" * 32))
    assert job.status == "failed" and "404" in (job.error or "")
    assert kb.sync.status(job.job_id).status == "failed"


def test_a_redelivered_message_of_a_finished_job_does_nothing(kb, bot, person, workspace, notion_time, clock):
    notion_time("2026-03-02T10:00:00.000Z")
    page = person.create_page(parent_page_id=workspace.seed.root_page_id, title="Once", markdown="Only once.")
    job = run_job(kb, PageSyncRequest(page_id=page["id"]))
    before = bot.stats.requests
    assert kb.sync.run(job.job_id).status == "succeeded"
    assert bot.stats.requests == before


@pytest.mark.parametrize("kind", ["database_id", "data_source_id"])
def test_a_database_is_synced_by_either_id(kb, bot, person, workspace, notion_time, clock, kind):
    notion_time("2026-03-02T10:00:00.000Z")
    source = docs_source(person, workspace, title=f"By {kind}")
    row(person, source, "Glossary", "A widget is a thing.")
    target = source if kind == "data_source_id" else bot.retrieve_data_source(source)["parent"]["database_id"]
    before = bot.stats.requests
    job = run_job(kb, DatabaseSyncRequest(**{kind: target}))
    # database_id: one more request, the database (its data sources).
    assert bot.stats.requests - before == (1 if kind == "database_id" else 0) + 1 + 2
    assert job.pages_ingested == 1

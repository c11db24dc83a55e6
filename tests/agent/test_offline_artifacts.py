"""Offline artifacts worth showing (issue 15, item 8): the prototype's sample data and wording come from the story
(its nouns, its criteria), each criterion's button changes the page in the way the criterion says (clicked in
headless Chromium), the sentences are grammatical for stories of different shapes, and the deck is the seed's page
sequence (problem, solution, prototype with its screenshot, call to action), each its own page."""

from __future__ import annotations

import html
import re

import pytest

from agent_plugins.demo_deck import PAGE_TITLES, deck_pages
from agent_plugins.mock import problem_sentences, prototype_html, read_story, sample_data, solution_sentence
from runtime.notion.markdown import markdown_to_blocks
from runtime.plugins import OFFLINE_LABEL
from tests.agent.conftest import make_request
from tests.conftest import needs_chromium

AMBULANCE = make_request(
    "mock", title="As a dispatcher, I want to see ambulance availability so that I can send the nearest ambulance",
    body="", criteria=["Only available ambulances are shown when I filter",
                       "Warn the dispatcher when the response time is more than 8 minutes",
                       "Ambulances are sorted with the nearest first",
                       "The dispatcher can dispatch an ambulance"])
INVOICES = make_request("mock", title="Users can export invoices as PDF", body="",
                        criteria=["Overdue invoices are marked", "The user can pick a date range",
                                  "The export is a PDF", "A user can add an invoice"])
NO_CRITERIA = make_request("mock", title="Dispatcher sees ambulance availability", body="", criteria=[])
NOUN_PHRASE = make_request("mock", title="Ambulance availability map", body="", criteria=[])


@pytest.mark.parametrize("request_, noun", [(AMBULANCE, "ambulance"), (INVOICES, "invoice"),
                                             (NO_CRITERIA, "ambulance"), (NOUN_PHRASE, "ambulance")])
def test_the_sample_data_is_about_the_story(request_, noun):
    data = sample_data(request_)
    assert data.entity == noun and data.noun == noun + "s"
    assert data.columns[0] == noun.capitalize()
    assert all(row[0].startswith(noun[:3].upper() + "-") for row in data.rows)
    page = prototype_html(request_)
    assert "Sample accounts" not in page and "Widgets" not in page and "Northwind" not in page or noun == "invoice"
    assert f"{noun.capitalize()}s <small>(made-up sample data)</small>" in page
    assert html.escape(OFFLINE_LABEL) in page


def test_a_threshold_in_a_criterion_shapes_the_numbers_so_the_warning_can_hold():
    data = sample_data(AMBULANCE)
    assert (data.metric, data.unit, data.threshold, data.above) == ("response time", "minutes", 8.0, True)
    values = [row[2] for row in data.rows]
    assert any(v > 8 for v in values) and any(v <= 8 for v in values)  # both sides, or the warning proves nothing
    assert "Available" in data.statuses


@pytest.mark.parametrize("request_, problem, solution", [
    (AMBULANCE, ["Today it is hard for a dispatcher to see ambulance availability.",
                 "They need this so that they can send the nearest ambulance."],
     "With this change, a dispatcher can see ambulance availability."),
    (INVOICES, ["Today it is hard for users to export invoices as PDF."],
     "With this change, users can export invoices as PDF."),
    (NO_CRITERIA, ["Today it is hard for a dispatcher to see ambulance availability."],
     "With this change, a dispatcher can see ambulance availability."),
    (NOUN_PHRASE, ["Today there is no ambulance availability map, so people piece the picture together by hand."],
     "This change brings the ambulance availability map to anyone on the team."),
    (make_request("mock", title="Finance exports invoices as CSV", body=""),
     ["Today it is hard for finance to export invoices as CSV."], "With this change, finance can export invoices as CSV."),
])
def test_sentences_are_grammatical_for_stories_of_different_shapes(request_, problem, solution):
    story = read_story(request_)
    assert problem_sentences(story) == problem
    assert solution_sentence(story) == solution
    # the sentence the old deck wrote, and its kin: a clause pasted after "to"
    assert not re.search(r"\bto (dispatcher|users) \w+s\b", " ".join(problem))


def _deck(request_, screenshot="http://127.0.0.1:9/prototypes/i/_aidlc/screenshots/index.html.png"):
    return deck_pages(request_, "http://127.0.0.1:9/prototypes/i/index.html", screenshot)


def test_the_deck_is_the_seed_page_sequence_with_the_screenshot_as_an_image_block():
    pages = _deck(AMBULANCE)
    assert [title for title, _ in pages] == list(PAGE_TITLES)
    problem, solution, working, action = (markdown for _, markdown in pages)
    assert "Today it is hard for a dispatcher to see ambulance availability." in problem
    assert "- Warn the dispatcher when the response time is more than 8 minutes." in solution
    images = [b for b in markdown_to_blocks(working) if b["type"] == "image"]
    assert [b["image"]["external"]["url"] for b in images] == [
        "http://127.0.0.1:9/prototypes/i/_aidlc/screenshots/index.html.png"]
    assert "Would Use (Yes / No / Maybe)" in action
    assert all(OFFLINE_LABEL in markdown for _, markdown in pages)
    # no screenshot (no browser where the prototype was made): no image block, the link still there
    _, without = _deck(AMBULANCE, screenshot=None)[2]
    assert not [b for b in markdown_to_blocks(without) if b["type"] == "image"] and "Open the prototype" in without


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(offline=True)
    yield context.new_page()
    context.close()


def _load(page, request_):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content(prototype_html(request_))
    return errors


def _rows(page):
    return page.locator("#sample tbody tr:visible")


@needs_chromium
def test_each_ambulance_criterion_does_what_it_says_when_clicked(page):
    errors = _load(page, AMBULANCE)
    data = sample_data(AMBULANCE)
    assert _rows(page).count() == 6

    page.locator(".try").nth(0).click()  # filter: only available ambulances remain
    available = sum(1 for row in data.rows if row[1] == "Available")
    assert 0 < available < 6 and _rows(page).count() == available
    assert set(_rows(page).locator("td:nth-child(2)").all_inner_texts()) == {"Available"}
    assert page.locator("#result-0").inner_text() == f"Showing {available} of 6 ambulances: only the available ones."

    page.locator(".try").nth(1).click()  # warning: the ones over 8 minutes are flagged
    over = [row[0].split(" ")[0] for row in data.rows if row[2] > 8]
    assert page.locator("tr.flagged").count() == len(over) > 0
    warning = page.locator("#result-1")
    assert "warning" in warning.get_attribute("class") and all(code in warning.inner_text() for code in over)
    assert "response time of more than 8 minutes" in warning.inner_text()

    page.locator("#filter").fill("")  # show every row again
    page.locator(".try").nth(2).click()  # sort: nearest first
    values = [int(v) for v in page.locator("#sample tbody tr td:nth-child(3)").all_inner_texts()]
    assert values == sorted(values)

    first = page.locator("#sample tbody tr").first.locator("td:nth-child(2)").inner_text()
    page.locator(".try").nth(3).click()  # dispatch: a row's status changes
    assert "Dispatched" in page.locator("#sample tbody td:nth-child(2)").all_inner_texts()
    assert page.locator("#progress").inner_text() == "4 of 4 demonstrated"
    assert first != "Dispatched" and errors == []


@needs_chromium
def test_each_invoice_criterion_does_what_it_says_when_clicked(page):
    errors = _load(page, INVOICES)
    data = sample_data(INVOICES)
    page.locator(".try").nth(0).click()  # marked: overdue invoices flagged
    overdue = sum(1 for row in data.rows if row[1] == "Overdue")
    assert page.locator("tr.flagged").count() == overdue > 0
    page.locator(".try").nth(1).click()  # a date range: older rows hidden
    recent = sum(1 for row in data.rows if row[3] >= "2026-10-28")
    assert _rows(page).count() == recent < 6
    page.locator(".try").nth(2).click()  # export: a file to download appears, of the rows shown
    link = page.locator("#export-link")
    assert link.is_visible() and link.get_attribute("href").startswith("blob:")
    assert "invoices" in link.get_attribute("download")
    assert f"Exported {recent} invoices" in page.locator("#result-2").inner_text()
    before = page.locator("#sample tbody tr").count()
    page.locator(".try").nth(3).click()  # add: a new invoice row
    assert page.locator("#sample tbody tr").count() == before + 1
    assert errors == []


@needs_chromium
def test_a_story_without_criteria_still_gets_a_working_grammatical_demo(page):
    errors = _load(page, NO_CRITERIA)
    assert page.locator(".criterion span").all_inner_texts() == ["A dispatcher can see ambulance availability"]
    page.locator(".try").first.click()
    assert re.fullmatch(r"6 ambulances: \d available, \d on a call, \d off duty\.",
                        page.locator("#result-0").inner_text())
    assert errors == []


def test_the_offline_deck_run_creates_its_pages_in_order_under_the_deck(tmp_path):
    """Through the real tools and the Notion emulator: the deck page, then its four pages in order, then the
    feedback database; only the deck and the database are the run's artifacts; the screenshot is an image block."""
    from runtime.agent.sandbox import Sandbox

    shot = "http://127.0.0.1:9/prototypes/x/_aidlc/screenshots/index.html.png"
    url = "http://127.0.0.1:9/prototypes/x/index.html"
    artifact = {"type": "prototype", "url": url, "title": "P", "metadata": {
        "kind": "prototype", "s3_key": "x/index.html", "expiry_days": 7, "cloudfront_url": url, "screenshot_url": shot}}
    with Sandbox(state_dir=tmp_path) as sandbox:
        event = sandbox.run("demo_deck", parent_context={"prototype_url": url, "artifacts": [artifact]})
        assert [a.type for a in event.artifacts] == ["notion_page", "notion_database"]
        deck_id = event.artifacts[0].metadata.page_id
        children = sandbox.notion.list_children(deck_id)
        kinds = [(c["type"], (c.get("child_page") or c.get("child_database") or {}).get("title")) for c in children
                 if c["type"] in ("child_page", "child_database")]
        assert kinds == [*(("child_page", t) for t in PAGE_TITLES),
                         ("child_database", f"Feedback: {sandbox.notion.page_snapshot(sandbox.seed.story_page_ids[0]).title}")]
        working = children_of(sandbox, kinds, children, PAGE_TITLES[2])
        assert [b["image"]["external"]["url"] for b in working if b["type"] == "image"] == [shot]


def children_of(sandbox, kinds, children, title):
    page = next(c for c in children if c["type"] == "child_page" and c["child_page"]["title"] == title)
    return sandbox.notion.list_children(page["id"])

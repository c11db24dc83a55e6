"""The offline prototype is a working page, not a placeholder: in headless Chromium (no network), each acceptance
criterion is an interactive element that updates the progress, and the sample data filters as you type."""

from __future__ import annotations

import pytest

from agent_plugins.mock import prototype_html, sample_data
from runtime.plugins import OFFLINE_LABEL

from tests.agent.conftest import make_request
from tests.conftest import needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(offline=True)  # self-contained: it must work with no network at all
    yield context.new_page()
    context.close()


def test_the_prototype_works_in_a_browser(page):
    request = make_request("mock", title="Finance exports invoices as CSV", criteria=[
        "The user can pick a date range", "The export includes the invoice total", "Overdue invoices are marked"])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_content(prototype_html(request))

    assert page.locator("#story-title").inner_text() == request.story.title
    assert page.locator(".criterion span").all_inner_texts() == request.story.acceptance_criteria
    assert page.locator("#progress").inner_text() == "0 of 3 demonstrated"
    page.locator(".try").nth(1).click()
    assert page.locator("#result-1").is_visible()
    assert page.locator("#result-1").inner_text() == "Exported 6 invoices as CSV."  # the export criterion exports
    page.locator(".check").nth(0).check()
    assert page.locator("#progress").inner_text() == "2 of 3 demonstrated"

    data = sample_data(request)
    assert data.noun == "invoices"
    assert page.locator("#sample tbody tr:visible").count() == len(data.rows)
    page.locator("#filter").fill("contoso")
    visible = page.locator("#sample tbody tr:visible")
    assert visible.count() == 1 and "Contoso" in visible.inner_text()
    assert OFFLINE_LABEL in page.locator("footer").inner_text()
    assert errors == []

"""The dashboard in headless Chromium: change a story's status on the board, watch the agent run, open the prototype."""

from tests.conftest import needs_chromium

pytestmark = needs_chromium


def test_status_change_on_the_board_produces_a_prototype(stack, browser, artifacts_dir):
    from tests.e2e.test_local_stack import create_story

    title = "Warehouse manager tracks low stock"
    page_id = create_story(stack, title, ["Items under the reorder level are listed first"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(stack.info.dashboard_url)
    card = page.locator(f'.card[data-page-id="{page_id}"]')
    card.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "dashboard-board.png"), full_page=True)

    card.locator("select").select_option("Generate Prototype")
    row = page.locator('#invocations tr[data-agent="mock"]', has_text=title)
    row.locator(".status.completed").wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts_dir / "dashboard-invocation.png"), full_page=True)

    link = row.locator('a[data-type="prototype"]')
    with page.context.expect_page() as opened:
        link.click()
    prototype = opened.value
    prototype.wait_for_load_state()
    assert prototype.locator("#story-title").inner_text() == title
    assert "Items under the reorder level are listed first" in prototype.content()
    prototype.locator("button.try").first.click()
    assert prototype.locator("#progress").inner_text().startswith("1 of")
    prototype.screenshot(path=str(artifacts_dir / "prototype.png"), full_page=True)

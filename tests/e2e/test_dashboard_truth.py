"""The dashboard tells the truth (issue 17 item 5), in headless Chromium: a run in flight shows its tool calls as
they happen, links to its story, and the Cancel button cancels it through the internal API (its budget freed)."""

from tests.conftest import needs_chromium

pytestmark = needs_chromium


def test_cancel_from_the_dashboard_and_see_the_steps(stack, browser, plugin_dir, artifacts_dir):
    from tests.e2e.test_local_stack import create_story, invocations

    title = "Held run the dashboard cancels"
    page_id = create_story(stack, title, ["Stays running until cancelled"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(stack.info.dashboard_url)
        card = page.locator(f'.card[data-page-id="{page_id}"]')
        card.wait_for(timeout=30_000)
        card.locator("select").select_option("Hold For Test")

        row = page.locator('#invocations tr[data-agent="slowpoke"]', has_text=title)
        row.locator(".status.running").wait_for(timeout=60_000)
        assert row.locator("a.story-link").get_attribute("href").endswith(f"/dev/notion/{page_id}")

        # The steps, as the audit trail records them: the run's notion_read_page, while it is still running.
        row.locator("button.show-steps").click()
        invocation_id = row.get_attribute("data-invocation-id")
        steps = page.locator(f'tr.steps-row[data-steps-for="{invocation_id}"] li.step', has_text="notion_read_page")
        steps.first.wait_for(timeout=30_000)
        assert " · ok · " in steps.first.inner_text()
        page.screenshot(path=str(artifacts_dir / "dashboard-steps.png"), full_page=True)

        row.locator("button.cancel").click()
        row.locator(".status.cancelled").wait_for(timeout=30_000)
        assert row.locator("button.cancel").count() == 0  # a finished run offers no cancel
        record = next(r for r in invocations(stack, page_id) if r["invocation_id"] == invocation_id)
        assert record["status"] == "cancelled" and record["error_code"] == "CANCELLED"
        page.screenshot(path=str(artifacts_dir / "dashboard-cancelled.png"), full_page=True)
    finally:
        (plugin_dir / "RELEASE").write_text("")  # let the agent's thread end
        page.close()

"""`aidlc dev` serves two projects (issue 14 item 1): the stack's default one and "team-b", configured from the row
the local set-up puts in the Notion Projects data source. Over HTTP only: a story in team-b's own stories database,
moved to team-b's own trigger ("Ship It", in its row's trigger map), runs the code agent under team-b, and the
default project's listing never shows it."""

import httpx

from tests.e2e.dev_process import wait_until
from tests.e2e.test_local_stack import notion


def _get(stack, path):
    with httpx.Client(base_url=stack.info.api_base, timeout=30) as api:
        return api.get(path)


def test_a_second_project_from_its_notion_row_runs_beside_the_default_one(stack):
    info = stack.info
    assert info.projects_data_source_id and info.example_project_id == "team-b"
    # The row is synced by the reconcile sweep at start (no webhook came for it: it predates the subscription).
    wait_until(lambda: _get(stack, "/project/team-b/cost-summary").status_code == 200, "team-b to be configured",
               timeout=60, every=0.25)
    with notion(stack) as client:
        created = client.post("/v1/pages", json={
            "parent": {"type": "data_source_id", "data_source_id": info.example_stories_data_source_id},
            "properties": {"Name": {"title": [{"type": "text", "text": {"content": "Team B: saved carts"}}]}},
        })
        assert created.status_code == 200, created.text
        page_id = created.json()["id"]
        moved = client.patch(f"/v1/pages/{page_id}", json={"properties": {"Status": {"status": {"name": "Ship It"}}}})
        assert moved.status_code == 200, moved.text

    def finished():
        runs = [r for r in _get(stack, "/project/team-b/invocations?limit=100").json()["invocations"]
                if r["notion_page_id"] == page_id]
        return runs if runs and all(r["status"] in ("completed", "failed") for r in runs) else None

    runs = wait_until(finished, "team-b's code run", timeout=90, every=0.25)
    assert [(r["agent_type"], r["status"], r["project_id"]) for r in runs] == [("code", "completed", "team-b")]
    default = _get(stack, f"/project/{info.project_id}/invocations?limit=100").json()["invocations"]
    assert page_id not in {r["notion_page_id"] for r in default}

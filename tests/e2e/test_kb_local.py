"""The knowledge base in `aidlc dev` (issue 14 item 3): a design doc synced through the stack's own front door
(POST /sync/page, the sync function on its queue, the local FTS5 index standing in for Bedrock's), then found by
`kb_retrieve` through the tool registry on the index the stack's tool gateway serves."""

import time

import httpx

from runtime import resources
from tests.e2e.test_local_stack import notion


def test_a_synced_design_doc_is_found_by_kb_retrieve(stack):
    with notion(stack) as client:
        created = client.post("/v1/pages", json={
            "parent": {"type": "data_source_id", "data_source_id": stack.info.stories_data_source_id},
            "properties": {"Name": {"title": [{"type": "text", "text": {"content": "Design doc: dispatch board"}}]}},
            "children": [{"object": "block", "type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {
                "content": "The dispatch board shows each ambulance's availability beside its crew roster."}}]}}],
        })
        assert created.status_code == 200, created.text
    page_id = created.json()["id"]
    with httpx.Client(base_url=stack.info.api_base, timeout=30) as api:
        accepted = api.post("/sync/page", json={"page_id": page_id})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        assert api.get("/sync/status/nope").status_code == 404
        deadline, job = time.monotonic() + 60, {}
        while time.monotonic() < deadline and job.get("status") not in ("succeeded", "failed"):
            time.sleep(0.25)
            job = api.get(f"/sync/status/{job_id}").json()
    assert job["status"] == "succeeded" and job["pages_ingested"] == 1, job

    from runtime.kb.retrieval import LocalIndex
    from runtime.tools.base import ToolContext, ToolServices

    services = ToolServices(kb=LocalIndex(stack.settings[resources.Env.KB_LOCAL_INDEX]))
    answer = stack.tool_registry().call("kb_retrieve", {"query": "ambulance availability crew roster"},
                                        ToolContext(agent_type="spec", allowed_tools=["kb_retrieve"],
                                                    services=services))
    assert answer.ok, answer
    passages = answer.content["passages"]
    assert passages and passages[0]["page_id"].replace("-", "") == page_id.replace("-", "")
    assert answer.content["engine"] == "local"

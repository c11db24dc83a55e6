"""`aidlc dev` as a person runs it: start, use, Ctrl-C, start again on the same state: nothing is lost."""

import signal
import subprocess

import httpx
import pytest

from tests.e2e.dev_process import free_port, notion_as_person, start_dev


def stop_dev(proc, log):
    """Ctrl-C, as a person stops it; returns its exit code and what it printed."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, log.read_text()


def seed_finished_run(info, port, page_id):
    """A finished run and its prototype, written into the stack's AWS as the pipeline leaves them: what the
    restart must keep is the state, and the pipeline that makes it is tested elsewhere (tests/e2e/test_local_stack.py),
    so the test does not wait for a whole chain."""
    import boto3

    from runtime import resources
    from runtime.models import InvocationRecord, OutputArtifact, PrototypeMetadata, new_ulid
    from runtime.pipeline.state.dynamo import to_item
    from runtime.pipeline.state.invocations import record_fields

    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    dynamodb = session.client("dynamodb", endpoint_url=info["aws_endpoint_url"])
    s3 = session.client("s3", endpoint_url=info["aws_endpoint_url"])
    table = next(t for t in dynamodb.list_tables()["TableNames"] if t.endswith(f"-{resources.INVOCATIONS.logical_name}"))
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if resources.PROTOTYPES.logical_name in b["Name"])
    invocation_id = new_ulid()
    key = f"{invocation_id}/index.html"
    s3.put_object(Bucket=bucket, Key=key, Body=b"<html><body><li>A photo is required</li></body></html>",
                  ContentType="text/html")
    url = f"http://127.0.0.1:{port}/prototypes/{key}"
    record = InvocationRecord(
        invocation_id=invocation_id, notion_page_id=page_id, workspace_id="local", project_id=info["project_id"],
        agent_type="mock", status="completed", session_id="aidlc-session-" + invocation_id,
        output_artifacts=[OutputArtifact(type="prototype", url=url, title="Prototype",
                                         metadata=PrototypeMetadata(s3_key=key, cloudfront_url=url, expiry_days=7))])
    dynamodb.put_item(TableName=table, Item=to_item(record_fields(record)))
    return invocation_id


# Over 30 s on purpose: two real `aidlc dev` processes, each started and stopped with Ctrl-C (measured on the 2-core
# CI machine under load: about 24 s to ready and 16 s to stop, each), which is what a restart is; the run it keeps
# is seeded, not made by a chain.
@pytest.mark.slow
def test_restart_keeps_stories_invocations_and_prototypes(tmp_path):
    port, state = free_port(), tmp_path / "state"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc, info = start_dev(port, state, first_log)
    try:
        notion = notion_as_person(info)
        page = notion.post("/v1/pages", json={
            "parent": {"type": "data_source_id", "data_source_id": info["stories_data_source_id"]},
            "properties": {"Name": {"title": [{"text": {"content": "Courier confirms delivery with a photo"}}]},
                           "Acceptance Criteria": {"rich_text": [{"text": {"content": "- A photo is required"}}]}},
        }).json()
        invocation_id = seed_finished_run(info, port, page["id"])
        seeded = httpx.get(f"http://127.0.0.1:{port}/invocation/{invocation_id}", timeout=10)
        assert seeded.status_code == 200 and seeded.json()["status"] == "completed", seeded.text
    finally:
        code, output = stop_dev(proc, first_log)
    assert code == 0, output
    assert "stopped; state kept in" in output

    proc, info2 = start_dev(port, state, second_log)
    try:
        assert info2["stories_data_source_id"] == info["stories_data_source_id"]
        record = httpx.get(f"http://127.0.0.1:{port}/invocation/{invocation_id}", timeout=10).json()
        assert record["status"] == "completed"
        prototype = next(a for a in record["output_artifacts"] if a["type"] == "prototype")
        page_html = httpx.get(prototype["url"], timeout=10)
        assert page_html.status_code == 200 and "A photo is required" in page_html.text
        story = httpx.get(f"{info2['notion_api_base']}/v1/pages/{page['id']}", timeout=10,
                          headers={"Authorization": f"Bearer {info2['notion_token']}", "Notion-Version": "2025-09-03"})
        assert story.status_code == 200
    finally:
        code, output = stop_dev(proc, second_log)
    assert code == 0, output

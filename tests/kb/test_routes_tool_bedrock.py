"""The sync routes (bad input, unknown job, the job's status), kb_retrieve through the tool registry, and the AWS
adapters against botocore's own models (bedrock-agent and bedrock-agent-runtime through botocore's Stubber, which
refuses a request or a response that does not fit the service model; S3 through moto)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.kb.documents import KbDocument
from runtime.kb.retrieval import BedrockRetriever, IngestionBusy, LocalIndex, S3KnowledgeBaseSink, fts_query
from tests.kb.conftest import drain

KB_ID, DS_ID = "KBTEST0001", "DSTEST0001"


def call(kb, method: str, path: str, body: bytes = b"", **extra) -> tuple[int, dict]:
    from runtime.handlers import sync
    from runtime.local.lambda_shim import LocalLambdaContext, http_api_event

    event = http_api_event(method, path, headers={"content-type": "application/json"}, body=body)
    event["requestContext"].update(extra)
    result = sync.handler(event, LocalLambdaContext(function_name="sync"), services=kb)
    return result["statusCode"], json.loads(result["body"])


def document(page_id: str = "1" * 32, title: str = "Checkout flow design", body: str = "Cards are tokenised.",
             project: str = "shop") -> KbDocument:
    return KbDocument(page_id=page_id, title=title, content_markdown=body, project_id=project,
                      properties={"Status": "Done", "Owner": "Ana"}, relations={"Stories": ["2" * 32]},
                      comments=[{"text": "Looks right", "created_time": "2026-03-02T10:00:00.000Z"}],
                      last_edited_at="2026-03-02T10:00:00.000Z", ingested_at="2026-03-02T10:30:00Z")


# --- the routes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "status", "named"), [
    ("/sync/page", b"{not json", 400, "JSON"),
    ("/sync/page", b"[]", 422, "object"),
    ("/sync/page", b"{}", 422, "page_id"),
    ("/sync/page", b'{"page_id": "not-an-id"}', 422, "page_id"),
    ("/sync/page", b'{"page_id": "' + b"a" * 32 + b'", "colour": "red"}', 422, "colour"),
    ("/sync/page", b'{"page_id": "' + b"a" * 32 + b'", "project_id": "no spaces"}', 422, "project_id"),
    ("/sync/database", b"{}", 422, "exactly one of data_source_id and database_id"),
    ("/sync/database", b'{"data_source_id": "' + b"a" * 32 + b'", "database_id": "' + b"b" * 32 + b'"}', 422,
     "exactly one"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_queued(kb, path, body, status, named):
    code, answer = call(kb, "POST", path, body)
    assert code == status and named in answer["error"]["message"]
    assert drain(kb) == []  # nothing was queued


def test_an_unknown_job_or_route_is_404(kb):
    code, answer = call(kb, "GET", "/sync/status/01JD0000000000000000000000")
    assert code == 404 and answer["error"]["code"] == "NOT_FOUND"
    assert call(kb, "GET", "/sync/nothing")[0] == 404


def test_without_an_iam_identity_the_routes_refuse_when_required(kb):
    from dataclasses import replace

    kb.settings = replace(kb.settings, require_iam_auth=True)
    assert call(kb, "POST", "/sync/page", b'{"page_id": "' + b"a" * 32 + b'"}')[0] == 401
    assert call(kb, "POST", "/sync/page", b'{"page_id": "' + b"a" * 32 + b'"}',
                authorizer={"iam": {"userArn": "arn:aws:iam::1:user/a"}})[0] == 202


def test_a_job_is_queued_then_its_status_follows_it(kb, person, workspace, notion_time, clock):
    notion_time("2026-03-02T10:00:00.000Z")
    page = person.create_page(parent_page_id=workspace.seed.root_page_id, title="Status page", markdown="Hello.")
    code, answer = call(kb, "POST", "/sync/page", json.dumps({"page_id": page["id"]}).encode())
    assert code == 202 and answer["status"] == "queued" and answer["status_url"] == f"/sync/status/{answer['job_id']}"
    assert call(kb, "GET", answer["status_url"])[1]["status"] == "queued"
    assert [r["batchItemFailures"] for r in drain(kb)] == [[]]
    code, job = call(kb, "GET", answer["status_url"])
    assert code == 200 and (job["status"], job["pages_ingested"], job["notion_requests"]) == ("succeeded", 1, 3)


# --- kb_retrieve through the registry --------------------------------------------------------------------------


def test_kb_retrieve_through_the_tool_registry(tmp_path):
    from runtime.policy import ToolPolicy
    from runtime.tools.registry import ToolContext, ToolRegistry, ToolServices

    index = LocalIndex(tmp_path / "kb.sqlite3")
    index.upsert(document())
    index.upsert(document("3" * 32, "Office plants", "Water the ficus.", project="other"))
    tools = ToolRegistry.default()
    services = ToolServices(policy=ToolPolicy.load(), kb=index)
    context = ToolContext(agent_type="code", invocation_id="01JD0000000000000000000001",
                          allowed_tools=["kb_retrieve"], services=services)
    result = tools.call("kb_retrieve", {"query": "how are cards tokenised?", "project_id": "shop"}, context)
    assert result.ok, result.error
    assert result.content["engine"] == "local"
    assert [p["title"] for p in result.content["passages"]] == ["Checkout flow design"]
    assert result.content["passages"][0]["page_id"] == "1" * 32

    bad = tools.call("kb_retrieve", {"query": "cards", "top_k": 0}, context)
    assert not bad.ok and "'top_k'" in bad.error
    refused = tools.call("kb_retrieve", {"query": "cards"}, ToolContext(
        agent_type="code", invocation_id="01JD0000000000000000000001", allowed_tools=[], services=services))
    assert not refused.ok and refused.denied
    unconfigured = tools.call("kb_retrieve", {"query": "cards"}, ToolContext(
        agent_type="code", allowed_tools=["kb_retrieve"], services=ToolServices(policy=ToolPolicy.load())))
    assert not unconfigured.ok and "AIDLC_KB_ID" in unconfigured.error


_INDEX: list[LocalIndex] = []


def _property_index() -> LocalIndex:
    """One small index for every example (a file in the temp dir, made once), so each example is one query."""
    if not _INDEX:
        import tempfile

        _INDEX.append(LocalIndex(tempfile.mkdtemp(prefix="kb-prop-") + "/kb.sqlite3"))
        _INDEX[0].upsert(document())
    return _INDEX[0]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_query_text_is_a_valid_fts5_query(text):
    """Property: whatever a model asks (quotes, AND/OR/NEAR, `*`, colons, parentheses, emoji), the local engine
    answers without an SQLite error. A broken `fts_query` (unquoted words, say) fails on `a"b`, `NEAR(`, `x:y`."""
    index = _property_index()
    match = fts_query(text)
    assert match is None or all(part.startswith('"') and part.endswith('"') for part in match.split(" OR "))
    index.retrieve(text)  # raises sqlite3.OperationalError on a malformed MATCH


# --- the AWS adapters against botocore's models ------------------------------------------------------------------


def test_the_s3_sink_writes_the_document_and_its_metadata_sidecar_then_starts_one_ingestion():
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="kb-docs")
        agent = boto3.client("bedrock-agent", region_name="us-east-1")
        sink = S3KnowledgeBaseSink("kb-docs", KB_ID, DS_ID, s3=s3, agent=agent)
        doc = document()
        sink.upsert(doc)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="kb-docs")["Contents"])
        assert keys == ["pages/11111111-1111-1111-1111-111111111111.md",
                        "pages/11111111-1111-1111-1111-111111111111.md.metadata.json"]
        sidecar = json.loads(s3.get_object(Bucket="kb-docs", Key=keys[1])["Body"].read())
        assert sidecar == {"metadataAttributes": {
            "page_id": doc.page_id, "title": "Checkout flow design", "url": "", "page_type": "general",
            "project_id": "shop", "last_edited_at": "2026-03-02T10:00:00.000Z", "ingested_at": "2026-03-02T10:30:00Z",
            "related_page_ids": ["2" * 32]}}
        body = s3.get_object(Bucket="kb-docs", Key=keys[0])["Body"].read().decode()
        assert body.startswith("# Checkout flow design") and "**Owner**: Ana" in body and "Looks right" in body
        assert "Cards are tokenised." in body and "**Stories**: " + "2" * 32 in body

        with Stubber(agent) as stub:
            token = "aidlc-sync-01jd0000000000000000000001"
            now = datetime(2026, 3, 2, 10, 31, tzinfo=timezone.utc)
            stub.add_response("start_ingestion_job", {"ingestionJob": {
                "knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "ingestionJobId": "INGEST0001", "status": "STARTING",
                "startedAt": now, "updatedAt": now}},
                {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "clientToken": token, "description": ANY})
            stub.add_client_error("start_ingestion_job", service_error_code="ConflictException", http_status_code=409)
            stub.add_response("get_ingestion_job", {"ingestionJob": {
                "knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "ingestionJobId": "INGEST0001", "status": "COMPLETE",
                "startedAt": now, "updatedAt": now}},
                {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID, "ingestionJobId": "INGEST0001"})
            assert sink.start_ingestion(token) == "INGEST0001"
            with pytest.raises(IngestionBusy):
                sink.start_ingestion(token)
            assert sink.ingestion_status("INGEST0001") == "COMPLETE"
            stub.assert_no_pending_responses()
        sink.delete(doc.page_id)
        assert "Contents" not in s3.list_objects_v2(Bucket="kb-docs")


def test_the_bedrock_retriever_filters_by_project_and_reads_the_metadata():
    client = boto3.client("bedrock-agent-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("retrieve", {"retrievalResults": [{
            "content": {"text": "Cards are tokenised in the browser.", "type": "TEXT"},
            "location": {"type": "S3", "s3Location": {"uri": "s3://kb-docs/pages/" + "1" * 32 + ".md"}},
            "score": 0.82,
            "metadata": {"page_id": "1" * 32, "title": "Checkout flow design", "project_id": "shop",
                         "page_type": "design", "url": "https://www.notion.so/x"}}]},
            {"knowledgeBaseId": KB_ID, "retrievalQuery": {"text": "tokenise cards"},
             "retrievalConfiguration": {"vectorSearchConfiguration": {
                 "numberOfResults": 3, "filter": {"equals": {"key": "project_id", "value": "shop"}}}}})
        passages = BedrockRetriever(KB_ID, client).retrieve("tokenise cards", top_k=3, project_id="shop")
        stub.assert_no_pending_responses()
    assert [(p.title, p.page_type, p.project_id, p.score) for p in passages] == [
        ("Checkout flow design", "design", "shop", 0.82)]


def test_a_busy_knowledge_base_leaves_the_job_ingesting_and_the_retry_only_starts_the_ingestion(
        kb, bot, person, workspace, notion_time, clock):
    notion_time("2026-03-02T10:00:00.000Z")
    page = person.create_page(parent_page_id=workspace.seed.root_page_id, title="Busy", markdown="Queued work.")

    class BusyOnce:
        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def start_ingestion(self, token):
            self.calls += 1
            if self.calls == 1:
                raise IngestionBusy("another ingestion job is running")
            return "INGEST0002"

        def ingestion_status(self, job_id):
            return "IN_PROGRESS"

    from runtime.kb.sync import PageSyncRequest

    kb.sync.sink = BusyOnce(kb.sink)
    job = kb.sync.request_page(PageSyncRequest(page_id=page["id"]))
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):  # the message is not deleted: SQS delivers it again
        drain(kb)
    kb.clients.client("sqs").purge_queue(QueueUrl=kb.settings.queue_url)
    assert kb.sync.status(job.job_id).status == "ingesting"
    before = bot.stats.requests
    retried = kb.sync.run(job.job_id)
    assert (retried.status, retried.ingestion_job_id, bot.stats.requests - before) == ("ingesting", "INGEST0002", 0)
    assert kb.sync.status(job.job_id).ingestion_status == "IN_PROGRESS"

"""The content sync (seed 4.6): Notion pages into the knowledge base, incrementally, on request, never by polling.

    POST /sync/page {"page_id"}                     -> a job: that page and its sub-pages
    POST /sync/database {"data_source_id" | "database_id"} -> a job: every row (and their sub-pages)
    a Notion webhook page event                     -> a page job (the webhook enqueues it; nothing runs inline)
    GET /sync/status/{job_id}                       -> the job: queued, running, ingesting, succeeded, failed

A job is recorded (the sync-state table) and queued (the kb-sync queue) when asked for; the sync function runs it
from the queue. For each page it compares Notion's `last_edited_time` with the `ingested_at` stored for that page:

    re-ingest  when last_edited_time >= ingested_at rounded down to the minute
    skip       otherwise

Notion rounds `last_edited_time` down to the minute, so an edit made in the same minute as the ingestion, after
it, shows the same minute: it is re-ingested rather than missed (the price: a page synced within a minute of its
last edit is ingested once more next time). An unchanged page costs one Notion request (retrieve, or its row in a
data source query); a changed one adds its blocks (one request per 100, and per nested container) and its comments
(one per 100). Every request goes through the throttled adapter (3 requests/s per integration, 429 Retry-After
honoured). After the documents are written, one ingestion job per sync job (Bedrock KB) makes them searchable;
locally the FTS5 index is written directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from ulid import ULID

from runtime.kb.documents import child_page_ids, document_from_page, normal_id
from runtime.kb.retrieval import DocumentSink, IngestionBusy
from runtime.lazy import given_or_built
from runtime.pipeline.adapters.aws import QueueAdapter, TableAdapter
from runtime.pipeline.input_limits import NotionId

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "ingesting", "succeeded", "failed"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed"})
JOB_RETENTION_DAYS = 30
MAX_SUBPAGE_DEPTH = 3  # sub-pages of sub-pages of sub-pages; deeper trees are synced by asking for them
MAX_PAGES_PER_JOB = 5_000  # a guard against a runaway tree: ~30 min of Notion's rate limit


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def needs_ingestion(last_edited_time: str | None, ingested_at: str | None) -> bool:
    """Whether a page with this `last_edited_time` must be ingested again, having been ingested at `ingested_at`
    (see the module docstring for the minute rule). A page never ingested, or without a readable time, is."""
    edited, ingested = parse_iso(last_edited_time), parse_iso(ingested_at)
    if edited is None or ingested is None:
        return True
    return edited >= ingested.replace(second=0, microsecond=0)


# --- requests and jobs ------------------------------------------------------------------------------------------


def exactly_one_of(first: str, second: str) -> Any:
    """A model validator (assign it in the class body): the model sets exactly one of the fields `first`, `second`."""

    def check(model: BaseModel) -> BaseModel:
        if bool(getattr(model, first)) == bool(getattr(model, second)):
            raise ValueError(f"give exactly one of {first} and {second}")
        return model

    return model_validator(mode="after")(check)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class PageSyncRequest(_Request):
    page_id: NotionId


class DatabaseSyncRequest(_Request):
    data_source_id: NotionId | None = None
    database_id: NotionId | None = None
    _one_target = exactly_one_of("data_source_id", "database_id")


class SyncJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    kind: Literal["page", "database"]
    target_id: str
    target_type: Literal["page", "data_source", "database"]
    project_id: str = ""
    source: Literal["api", "webhook"] = "api"
    status: JobStatus = "queued"
    created_at: str
    updated_at: str
    pages_seen: int = 0
    pages_ingested: int = 0
    pages_skipped: int = 0
    pages_deleted: int = 0
    notion_requests: int = 0
    ingestion_job_id: str | None = None
    ingestion_status: str | None = None
    error: str | None = None


class SyncMessage(BaseModel):
    """What goes on the kb-sync queue: a recorded job to run (the API), or a page to sync (the webhook, which
    only sends: the job is recorded when the message is taken)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str | None = None
    page_id: NotionId | None = None
    _one = exactly_one_of("job_id", "page_id")


# --- ports ---------------------------------------------------------------------------------------------------------


class SyncStateStore(TableAdapter):
    """Per-page ingestion state and the jobs, in the sync-state table (`runtime.resources.KB_SYNC_STATE`):
    `page#<page id>` -> {last_edited_time, ingested_at, project_id}; `job#<job id>` -> the job (expires after 30 days)."""

    def page_state(self, page_id: str) -> dict | None:
        from runtime.pipeline.state.dynamo import from_item

        item = self.client.get_item(TableName=self.table_name, Key={"pk": {"S": f"page#{normal_id(page_id)}"}},
                                    ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def record_page(self, page_id: str, *, last_edited_time: str, ingested_at: str, project_id: str) -> None:
        from runtime.pipeline.state.dynamo import to_item

        self.client.put_item(TableName=self.table_name, Item=to_item({
            "pk": f"page#{normal_id(page_id)}", "last_edited_time": last_edited_time, "ingested_at": ingested_at,
            "project_id": project_id}))

    def forget_page(self, page_id: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": f"page#{normal_id(page_id)}"}})

    def put_job(self, job: SyncJob) -> None:
        from runtime.pipeline.state.dynamo import to_item

        expires = int((parse_iso(job.created_at) or now_utc()).timestamp()) + JOB_RETENTION_DAYS * 86400
        item = {"pk": f"job#{job.job_id}", "expires_at": expires, **job.model_dump(exclude_none=True)}
        self.client.put_item(TableName=self.table_name, Item=to_item(item))

    def get_job(self, job_id: str) -> SyncJob | None:
        from runtime.pipeline.state.dynamo import from_item

        item = self.client.get_item(TableName=self.table_name, Key={"pk": {"S": f"job#{job_id}"}},
                                    ConsistentRead=True).get("Item")
        if not item:
            return None
        data = from_item(item)
        data.pop("pk", None)
        data.pop("expires_at", None)
        return SyncJob.model_validate({k: int(v) if k.startswith(("pages_", "notion_")) else v
                                       for k, v in data.items()})


class SqsSyncQueue(QueueAdapter):
    def send(self, message: SyncMessage) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json())


class NotFound(Exception):
    pass


# --- the service -------------------------------------------------------------------------------------------------


class SyncService:
    """Asks for jobs (`request_page`, `request_database`), runs them (`run`), reports them (`status`).

    `notion`: a factory of the throttled `NotionAdapter` (built on first use, as the pipeline's); `projects`: the
    pipeline's `ProjectRepository` or None (a page in a project's stories data source gets that project's id and
    the type `user_story`); `sink`: where documents go (`runtime.kb.retrieval`)."""

    def __init__(self, *, store: SyncStateStore, queue: Any, notion: Callable[[], Any], sink: DocumentSink,
                 projects: Any | None = None, clock: Callable[[], datetime] = now_utc) -> None:
        self.store = store
        self.queue = queue
        self._notion_factory = notion
        self.sink = sink
        self.projects = projects
        self.clock = clock

    @given_or_built
    def notion(self) -> Any:
        return self._notion_factory()

    # --- asking ------------------------------------------------------------------------------------------------

    def request_page(self, request: PageSyncRequest, *, source: Literal["api", "webhook"] = "api") -> SyncJob:
        return self._enqueue("page", normal_id(request.page_id), "page", request.project_id, source)

    def request_database(self, request: DatabaseSyncRequest) -> SyncJob:
        if request.data_source_id:
            return self._enqueue("database", normal_id(request.data_source_id), "data_source", request.project_id,
                                 "api")
        return self._enqueue("database", normal_id(request.database_id or ""), "database", request.project_id, "api")

    def run_message(self, message: SyncMessage) -> SyncJob:
        """Run what a kb-sync queue message asks for."""
        if message.job_id:
            return self.run(message.job_id)
        when = iso(self.clock())
        job = SyncJob(job_id=str(ULID()), kind="page", target_id=normal_id(message.page_id or ""),
                      target_type="page", source="webhook", created_at=when, updated_at=when)
        self.store.put_job(job)
        return self.run(job.job_id)

    def _enqueue(self, kind: str, target: str, target_type: str, project_id: str | None, source: str) -> SyncJob:
        when = iso(self.clock())
        job = SyncJob(job_id=str(ULID()), kind=kind, target_id=target, target_type=target_type,  # type: ignore[arg-type]
                      project_id=project_id or "", source=source, created_at=when, updated_at=when)  # type: ignore[arg-type]
        self.store.put_job(job)  # recorded first: a status request right after the answer finds it
        self.queue.send(SyncMessage(job_id=job.job_id))
        return job

    def status(self, job_id: str) -> SyncJob:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(job_id)
        if job.status == "ingesting" and job.ingestion_job_id:
            ingestion = self.sink.ingestion_status(job.ingestion_job_id)
            if ingestion and ingestion != job.ingestion_status:
                status: JobStatus = ("succeeded" if ingestion == "COMPLETE"
                                     else "failed" if ingestion in ("FAILED", "STOPPED") else "ingesting")
                job = job.model_copy(update={"ingestion_status": ingestion, "status": status,
                                             "updated_at": iso(self.clock())})
                self.store.put_job(job)
        return job

    # --- running -----------------------------------------------------------------------------------------------

    def run(self, job_id: str) -> SyncJob:
        """Run one job from the queue. A finished job is left alone (a redelivered message). If Bedrock is busy
        with another ingestion, `IngestionBusy` propagates with the documents written and the job marked, so the
        redelivery only starts the ingestion."""
        job = self.store.get_job(job_id)
        if job is None:
            log.warning("sync job %s is not recorded; dropping its message", job_id)
            raise NotFound(job_id)
        if job.status in FINISHED or (job.status == "ingesting" and job.ingestion_job_id):
            return job
        if job.status != "ingesting":  # "ingesting" without an id: the documents are written, the start failed
            job = self._write_documents(job)
        return self._ingest(job)

    def _write_documents(self, job: SyncJob) -> SyncJob:
        job = job.model_copy(update={"status": "running", "updated_at": iso(self.clock())})
        self.store.put_job(job)
        before = self._requests()
        counts = {"pages_seen": 0, "pages_ingested": 0, "pages_skipped": 0, "pages_deleted": 0}
        try:
            if job.kind == "page":
                self._sync_page_id(job.target_id, job.project_id, counts, visited=set(), depth=0)
            else:
                self._sync_database(job, counts)
        except Exception as exc:
            from runtime.notion.errors import NotionError

            job = job.model_copy(update={**counts, "notion_requests": self._requests() - before,
                                         "updated_at": iso(self.clock())})
            if isinstance(exc, NotionError) and exc.status in (400, 401, 403, 404):
                # Not something a retry can fix: say what Notion said, and stop.
                job = job.model_copy(update={"status": "failed", "error": f"Notion answered {exc.status}: {exc}"})
                self.store.put_job(job)
                return job
            self.store.put_job(job)
            raise  # an outage: the message is redelivered and the job runs again (unchanged pages are skipped)
        update: dict[str, Any] = {**counts, "notion_requests": self._requests() - before,
                                  "updated_at": iso(self.clock())}
        changed = counts["pages_ingested"] + counts["pages_deleted"]
        update["status"] = "ingesting" if changed else "succeeded"
        job = job.model_copy(update=update)
        self.store.put_job(job)
        return job

    def _ingest(self, job: SyncJob) -> SyncJob:
        if job.status != "ingesting":
            return job
        token = f"aidlc-sync-{job.job_id}".lower()  # 33+ characters, one per job: a retried start is the same job
        try:
            ingestion_id = self.sink.start_ingestion(token)
        except IngestionBusy:
            log.info("the knowledge base is ingesting another job; job %s retries", job.job_id)
            raise
        if ingestion_id is None:  # the local index: already searchable
            job = job.model_copy(update={"status": "succeeded", "updated_at": iso(self.clock())})
        else:
            job = job.model_copy(update={"ingestion_job_id": ingestion_id, "ingestion_status": "STARTING",
                                         "updated_at": iso(self.clock())})
        self.store.put_job(job)
        return job

    def _requests(self) -> int:
        stats = getattr(self.notion, "stats", None)
        return int(getattr(stats, "requests", 0))

    def _project_for(self, page: dict, given: str) -> tuple[str, str]:
        """(project id, default page type) for a page: the job's project if it names one, else the project whose
        stories data source holds the page (its rows are user stories)."""
        if self.projects is not None:
            from runtime.pipeline.ports import parent_ids

            ids = parent_ids(page)
            if any(ids):
                project = self.projects.resolve(*ids)
                if project is not None:
                    return given or project.project_id, "user_story"
        return given, "general"

    def _sync_page_id(self, page_id: str, project_id: str, counts: dict, *, visited: set[str], depth: int) -> None:
        from runtime.notion.errors import NotionError

        if page_id in visited or len(visited) >= MAX_PAGES_PER_JOB:
            return
        visited.add(page_id)
        try:
            page = self.notion.retrieve_page(page_id)
        except NotionError as exc:
            # Gone, or no longer shared with the integration: what the KB holds of it goes too. A top-level page
            # the KB never had is the caller's mistake, and fails the job with Notion's answer.
            if exc.status != 404 or (depth == 0 and self.store.page_state(page_id) is None):
                raise
            counts["pages_seen"] += 1
            self._delete(page_id, counts)
            return
        self._sync_page(page, project_id, counts, visited=visited, depth=depth)

    def _sync_page(self, page: dict, project_id: str, counts: dict, *, visited: set[str], depth: int) -> None:
        page_id = normal_id(page["id"])
        visited.add(page_id)
        counts["pages_seen"] += 1
        if page.get("in_trash") or page.get("archived"):
            self._delete(page_id, counts)
            return
        state = self.store.page_state(page_id)
        project, default_type = self._project_for(page, project_id)
        if state is not None and not needs_ingestion(page.get("last_edited_time"), state.get("ingested_at")):
            counts["pages_skipped"] += 1
            return  # unchanged: its sub-pages too were synced with it (a sub-page's edit has its own event)
        blocks = self.notion.read_blocks(page_id)
        comments = self.notion.list_comments(page_id)
        ingested_at = self.clock()
        document = document_from_page(page, blocks, comments, project_id=project, default_type=default_type,
                                      ingested_at=ingested_at)
        self.sink.upsert(document)
        self.store.record_page(page_id, last_edited_time=document.last_edited_at, ingested_at=document.ingested_at,
                               project_id=project)
        counts["pages_ingested"] += 1
        if depth < MAX_SUBPAGE_DEPTH:
            for child in child_page_ids(blocks):
                self._sync_page_id(normal_id(child), project, counts, visited=visited, depth=depth + 1)

    def _sync_database(self, job: SyncJob, counts: dict) -> None:
        if job.target_type == "database":
            database = self.notion.retrieve_database(job.target_id)
            sources = [normal_id(s["id"]) for s in database.get("data_sources") or []]
        else:
            sources = [job.target_id]
        visited: set[str] = set()
        for source in sources:
            # One query per 100 rows: each row carries its last_edited_time, so an unchanged row costs nothing more.
            for page in self.notion.query_data_source(source):
                self._sync_page(page, job.project_id, counts, visited=visited, depth=0)

    def _delete(self, page_id: str, counts: dict) -> None:
        if self.store.page_state(page_id) is None:
            return
        self.sink.delete(page_id)
        self.store.forget_page(page_id)
        counts["pages_deleted"] += 1


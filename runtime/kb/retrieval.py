"""The knowledge base's two ports and their adapters.

    DocumentSink  where the sync puts documents: `upsert`, `delete`, then `start_ingestion` once per sync job
    Retriever     what `kb_retrieve` asks: `retrieve(query, top_k, project_id)` -> passages, best first

In AWS (`S3KnowledgeBaseSink`, `BedrockRetriever`): documents are objects in the knowledge base's S3 data source
(`pages/<id>.md` + the `.metadata.json` sidecar), a Bedrock Knowledge Base ingestion job (`bedrock-agent`
StartIngestionJob) embeds them, and retrieval is `bedrock-agent-runtime` Retrieve: **semantic** (vector) search,
filtered on the `project_id` metadata attribute.

Locally (`LocalIndex`, both ports in one): an embedded SQLite FTS5 index, which ships with Python. The sync writes
into it directly (there is no ingestion job to wait for) and retrieval ranks with FTS5's BM25. It is **lexical**:
it finds passages that share words with the query (any of them, rarer words weighing more), not passages that
mean the same thing in other words, which the AWS knowledge base does. The interface and the metadata are the
same, so the tool, the sync and their tests do not change between the two.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from runtime.kb.documents import KbDocument, document_key, normal_id

MAX_TOP_K = 20
MAX_QUERY_CHARS = 1_000  # Retrieve takes 20,000; a model's query is a sentence, and FTS5 terms are OR-ed


class Passage(BaseModel):
    """One retrieved passage: where it comes from (the Notion page), its text, its score (higher is better)."""

    model_config = ConfigDict(extra="forbid")

    page_id: str
    title: str = ""
    url: str = ""
    text: str
    score: float
    page_type: str = "general"
    project_id: str = ""
    last_edited_at: str = ""


class Retriever(Protocol):
    def retrieve(self, query: str, *, top_k: int = 5, project_id: str | None = None) -> list[Passage]: ...


class DocumentSink(Protocol):
    def upsert(self, document: KbDocument) -> None: ...
    def delete(self, page_id: str) -> None: ...
    def start_ingestion(self, client_token: str) -> str | None:
        """Start indexing what was upserted; the ingestion job's id, or None when there is none (local)."""
        ...
    def ingestion_status(self, ingestion_job_id: str) -> str | None: ...


class IngestionBusy(Exception):
    """The data source already has an ingestion job running (Bedrock allows one at a time): try again later."""


# --- AWS ---------------------------------------------------------------------------------------------------


@dataclass
class S3KnowledgeBaseSink:
    """Documents into the KB's S3 data source, then StartIngestionJob. `s3` and `agent` are boto3 clients
    (`s3`, `bedrock-agent`)."""

    bucket: str
    knowledge_base_id: str
    data_source_id: str
    _: KW_ONLY
    s3: Any
    agent: Any
    prefix: str = ""

    def upsert(self, document: KbDocument) -> None:
        # The sidecar first: Bedrock pairs a document with `<key>.metadata.json` when it ingests, and an ingestion
        # started between the two puts must not index the document without its project.
        self.s3.put_object(Bucket=self.bucket, Key=document.metadata_key(self.prefix),
                            Body=document.metadata_sidecar().encode(), ContentType="application/json")
        self.s3.put_object(Bucket=self.bucket, Key=document.key(self.prefix), Body=document.body().encode(),
                            ContentType="text/markdown; charset=utf-8")

    def delete(self, page_id: str) -> None:
        key = document_key(page_id, self.prefix)
        self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": key}, {"Key": key + ".metadata.json"}],
                                                            "Quiet": True})

    def start_ingestion(self, client_token: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            response = self.agent.start_ingestion_job(
                knowledgeBaseId=self.knowledge_base_id, dataSourceId=self.data_source_id,
                clientToken=client_token, description="aidlc content sync")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConflictException":
                raise IngestionBusy(str(exc)) from exc
            raise
        return response["ingestionJob"]["ingestionJobId"]

    def ingestion_status(self, ingestion_job_id: str) -> str | None:
        response = self.agent.get_ingestion_job(knowledgeBaseId=self.knowledge_base_id,
                                                 dataSourceId=self.data_source_id, ingestionJobId=ingestion_job_id)
        return response["ingestionJob"]["status"]


@dataclass
class BedrockRetriever:
    """`bedrock-agent-runtime` Retrieve over the knowledge base: semantic search, `project_id` as a metadata
    filter. `client`: a boto3 `bedrock-agent-runtime` client."""

    knowledge_base_id: str
    client: Any

    def retrieve(self, query: str, *, top_k: int = 5, project_id: str | None = None) -> list[Passage]:
        search: dict[str, Any] = {"numberOfResults": max(1, min(MAX_TOP_K, top_k))}
        if project_id:
            search["filter"] = {"equals": {"key": "project_id", "value": project_id}}
        response = self.client.retrieve(
            knowledgeBaseId=self.knowledge_base_id,
            retrievalQuery={"text": query[:MAX_QUERY_CHARS]},
            retrievalConfiguration={"vectorSearchConfiguration": search},
        )
        passages = []
        for result in response.get("retrievalResults", []):
            metadata = result.get("metadata") or {}
            uri = ((result.get("location") or {}).get("s3Location") or {}).get("uri", "")
            page_id = str(metadata.get("page_id") or _page_id_from_uri(uri))
            passages.append(Passage(
                page_id=page_id, title=str(metadata.get("title") or ""), url=str(metadata.get("url") or ""),
                text=(result.get("content") or {}).get("text") or "", score=float(result.get("score") or 0.0),
                page_type=str(metadata.get("page_type") or "general"),
                project_id=str(metadata.get("project_id") or ""),
                last_edited_at=str(metadata.get("last_edited_at") or ""),
            ))
        return passages


def _page_id_from_uri(uri: str) -> str:
    name = uri.rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".md") else name


# --- local: SQLite FTS5 --------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to say what a passage is about: left out of the query, or every passage with a "the" would match.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers him his how i
if in into is it its itself just me more most my no nor not now of off on once only or other our ours out over own
same she should so some such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours
""".split())
_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS documents USING fts5(
    page_id UNINDEXED, project_id UNINDEXED, metadata UNINDEXED, title, body,
    tokenize = 'porter unicode61'
);
"""


def fts_query(text: str) -> str | None:
    """Free text -> an FTS5 query: every word but the stopwords, quoted (so `AND`, `NEAR`, `*`, quotes and colons
    mean nothing), OR-ed, so a passage matching any word is found and BM25 puts those matching more and rarer words first.
    None when the text has no word at all."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text[:MAX_QUERY_CHARS])))
    words = [w for w in words if w not in STOPWORDS] or words  # a query of stopwords alone still asks for them
    return " OR ".join(f'"{w}"' for w in words[:64]) or None


class LocalIndex:
    """The local knowledge base: an SQLite FTS5 table at `path`, both the sync's sink and the tool's retriever.

    Lexical, not semantic (see the module docstring): BM25 over the words of the title (weighted 4x) and the
    body. One connection per call, so threads (the local stack's functions) share the file safely."""

    TITLE_WEIGHT = 4.0

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()  # writes are serialised; _connect takes it again on first use
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30)
        if not self._ready:
            with self._lock:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                connection.executescript(_SCHEMA)
                self._ready = self.path != ":memory:"
        return connection

    def upsert(self, document: KbDocument) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM documents WHERE page_id = ?", (document.page_id,))
            db.execute("INSERT INTO documents (page_id, project_id, metadata, title, body) VALUES (?, ?, ?, ?, ?)",
                       (document.page_id, document.project_id, json.dumps(document.metadata()), document.title,
                        document.body()))

    def delete(self, page_id: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM documents WHERE page_id = ?", (normal_id(page_id),))

    def start_ingestion(self, client_token: str) -> str | None:
        return None  # written straight into the index: nothing to start

    def ingestion_status(self, ingestion_job_id: str) -> str | None:
        return None

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def retrieve(self, query: str, *, top_k: int = 5, project_id: str | None = None) -> list[Passage]:
        match = fts_query(query)
        if match is None:
            return []
        sql = (f"SELECT page_id, project_id, metadata, bm25(documents, 0, 0, 0, {self.TITLE_WEIGHT}, 1.0) AS rank, "
               "snippet(documents, 4, '', '', ' … ', 48) FROM documents WHERE documents MATCH ?")
        params: list[Any] = [match]
        if project_id:
            sql += " AND project_id = ?"
            params.append(project_id)
        sql += " ORDER BY rank LIMIT ?"
        params.append(max(1, min(MAX_TOP_K, top_k)))
        with self._connect() as db:
            rows = db.execute(sql, params).fetchall()
        passages = []
        for page_id, project, metadata, rank, snippet in rows:
            meta = json.loads(metadata)
            passages.append(Passage(
                page_id=page_id, title=meta.get("title", ""), url=meta.get("url", ""), text=snippet,
                score=round(-float(rank), 6),  # FTS5's bm25() is lower-is-better; a score is higher-is-better
                page_type=meta.get("page_type", "general"), project_id=project or "",
                last_edited_at=meta.get("last_edited_at", ""),
            ))
        return passages


class KbSettingsError(RuntimeError):
    """The knowledge base is not configured where it is needed; the message says what to set."""


def retriever_for(knowledge_base_id: str | None, local_index: str | None, *, clients: Any | None = None
                  ) -> Retriever | None:
    """The retriever these settings name: the local index when a path is set (the local stack), else Bedrock
    Retrieve when a knowledge base id is, else None (kb_retrieve then says it is not configured)."""
    if local_index:
        return LocalIndex(local_index)
    if knowledge_base_id:
        if clients is None:
            from runtime.aws_clients import default_clients

            clients = default_clients()
        return BedrockRetriever(knowledge_base_id, clients.client("bedrock-agent-runtime"))
    return None

"""kb_retrieve: passages from the knowledge base of synced Notion pages (runtime/kb/), best first.

Prefer it for background (design docs, earlier stories, decisions): it is one call and needs no page ids. For data
that must be fresh (a story's current status, a page edited a minute ago) read Notion with the notion_* tools: the
knowledge base holds what the last sync ingested. In AWS retrieval is semantic (Bedrock Knowledge Base Retrieve);
in the local stack it is lexical (SQLite FTS5, BM25): the passages share words with the query.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.tools.base import ToolContext
from runtime.tools.spec import ToolResultModel, ToolSpec


class RetrieveArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000, description="What to look for, in words (a question or topic)")
    top_k: int = Field(default=5, ge=1, le=20, description="At most this many passages")
    project_id: str | None = Field(default=None, min_length=1, max_length=64,
                                   description="Only pages of this project (its stories and the pages synced for it)")


class PassageResult(ToolResultModel):
    page_id: str
    title: str
    url: str
    text: str = Field(description="The passage (an excerpt of the page's document)")
    score: float = Field(description="Relevance, higher is better (only comparable within one answer)")
    page_type: str
    project_id: str
    last_edited_at: str = Field(description="When the page was last edited, as of its sync")


class RetrieveResult(ToolResultModel):
    passages: list[PassageResult]
    engine: str = Field(description="'bedrock' (semantic) or 'local' (lexical, SQLite FTS5)")


def retrieve(context: ToolContext, args: RetrieveArgs) -> dict[str, Any]:
    retriever = context.services.require("kb", "kb_retrieve")
    passages = retriever.retrieve(args.query, top_k=args.top_k, project_id=args.project_id)
    from runtime.kb.retrieval import LocalIndex

    return {"passages": [p.model_dump() for p in passages],
            "engine": "local" if isinstance(retriever, LocalIndex) else "bedrock"}


TOOLS = [
    ToolSpec("kb_retrieve", "Search the knowledge base of synced Notion pages (design docs, stories, decisions) and "
             "get the best passages with their page ids. Prefer it for background; use the notion_* tools for "
             "data that must be fresh.", "kb", RetrieveArgs, retrieve, result_model=RetrieveResult),
]

"""Notion tools over the project's NotionAdapter (REST API 2025-09-03 through notion-client).

Results are plain: titles and property values as Python values, page bodies as markdown, so a model never has to
read Notion's rich-text JSON. Property values a tool *writes* are Notion-shaped (as the API takes them), except the
`status` shortcut of notion_update_page, which works whether the Status property is of type status or select.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.models import (
    ArtifactType,
    InsightReportMetadata,
    NotionDatabaseMetadata,
    NotionPageMetadata,
    OutputArtifact,
)
from runtime.tools.base import ToolContext, ToolError
from runtime.tools.spec import ArtifactContext, ToolResultModel, ToolSpec

MAX_QUERY_RESULTS = 1_000


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchArgs(_Args):
    query: str = Field(description="Words to look for in page and database titles")
    object_type: Literal["page", "data_source"] | None = Field(default=None, description="Only pages or only data sources")


class ReadPageArgs(_Args):
    page_id: str = Field(min_length=1, description="Notion page id")


class QueryDataSourceArgs(_Args):
    data_source_id: str = Field(min_length=1, description="Notion data source id (a database's table)")
    filter: dict[str, Any] | None = Field(default=None, description="Notion filter object, e.g. "
                                          "{'property': 'Status', 'status': {'equals': 'Done'}}")
    sorts: list[dict[str, Any]] | None = Field(default=None, description="Notion sorts, e.g. "
                                               "[{'property': 'Name', 'direction': 'ascending'}]")
    limit: int | None = Field(default=None, ge=1, le=MAX_QUERY_RESULTS, description="At most this many rows")


class CreatePageArgs(_Args):
    title: str = Field(min_length=1, description="Page title")
    markdown: str | None = Field(default=None, description="Page body in markdown")
    parent_page_id: str | None = Field(default=None, description="Create under this page (or give parent_data_source_id)")
    parent_data_source_id: str | None = Field(default=None, description="Create as a row of this data source")
    properties: dict[str, Any] | None = Field(default=None, description="Notion-shaped property values (rows only)")
    title_property: str = Field(default="Name", description="The data source's title property name (rows only)")

    @model_validator(mode="after")
    def _one_parent(self) -> "CreatePageArgs":
        if bool(self.parent_page_id) == bool(self.parent_data_source_id):
            raise ValueError("give exactly one of parent_page_id or parent_data_source_id")
        if self.properties and not self.parent_data_source_id:
            raise ValueError("properties are only for rows: use parent_data_source_id, or put the text in markdown")
        return self


class UpdatePageArgs(_Args):
    page_id: str = Field(min_length=1, description="Notion page id")
    properties: dict[str, Any] | None = Field(default=None, description="Notion-shaped property values to set")
    status: str | None = Field(default=None, description="Shortcut: set the status property to this option name")
    status_property: str = Field(default="Status", description="Name of the status property for `status`")
    append_markdown: str | None = Field(default=None, description="Markdown to add at the end of the page body")
    archived: bool | None = Field(default=None, description="Not allowed by the default policy")
    in_trash: bool | None = Field(default=None, description="Not allowed by the default policy")

    @model_validator(mode="after")
    def _something(self) -> "UpdatePageArgs":
        if not (self.properties or self.status or self.append_markdown or self.archived or self.in_trash):
            raise ValueError("nothing to update: give properties, status or append_markdown")
        return self


class CreateDatabaseArgs(_Args):
    parent_page_id: str = Field(min_length=1, description="Page the database is created in")
    title: str = Field(min_length=1, description="Database title")
    properties: dict[str, Any] = Field(min_length=1, description="Notion property schema, e.g. "
                                       "{'Name': {'title': {}}, 'Score': {'number': {}}}")


class CreateCommentArgs(_Args):
    page_id: str = Field(min_length=1, description="Page to comment on")
    text: str = Field(min_length=1, description="Comment text")
    mention_user_ids: list[str] = Field(default_factory=list, description="Notion user ids to @-mention")


# --- results -----------------------------------------------------------------------------------------------


class SearchHit(ToolResultModel):
    id: str
    object: str | None = None  # "page" | "data_source"
    title: str
    url: str


class SearchResult(ToolResultModel):
    results: list[SearchHit]


class ReadPageResult(ToolResultModel):
    page_id: str
    title: str
    url: str
    properties: dict[str, Any] = Field(description="Property name -> plain value (text, number, option name...)")
    markdown: str = Field(description="The page body as markdown")
    last_edited_time: str | None = None


class Row(ToolResultModel):
    page_id: str
    title: str
    url: str
    properties: dict[str, Any] = Field(description="Property name -> plain value")


class QueryDataSourceResult(ToolResultModel):
    results: list[Row]


class CreatePageResult(ToolResultModel):
    page_id: str
    url: str
    parent_page_id: str | None = None
    parent_data_source_id: str | None = None


class UpdatePageResult(ToolResultModel):
    page_id: str
    url: str


class CreateDatabaseResult(ToolResultModel):
    database_id: str
    data_source_id: str | None = None
    url: str
    record_count: int = Field(default=0, ge=0)


class CreateCommentResult(ToolResultModel):
    comment_id: str
    page_id: str


# --- tools -------------------------------------------------------------------------------------------------


def _notion(context: ToolContext, tool: str) -> Any:
    return context.services.require("notion", tool)


def object_title(obj: dict[str, Any]) -> str:
    """A page's or data source's title as plain text."""
    if isinstance(obj.get("title"), list):
        return "".join(part.get("plain_text") or part.get("text", {}).get("content", "") for part in obj["title"])
    for value in (obj.get("properties") or {}).values():
        if isinstance(value, dict) and value.get("type") == "title":
            return "".join(p.get("plain_text") or p.get("text", {}).get("content", "") for p in value.get("title", []))
    return ""


def _row(page: dict[str, Any]) -> dict[str, Any]:
    from runtime.notion.adapter import plain_properties

    return {"page_id": page["id"], "title": object_title(page), "url": page.get("url", ""),
            "properties": plain_properties(page)}


def search(context: ToolContext, args: SearchArgs) -> dict[str, Any]:
    found = _notion(context, "notion_search").search(args.query, object_type=args.object_type)
    return {"results": [{"id": o["id"], "object": o.get("object"), "title": object_title(o), "url": o.get("url", "")}
                        for o in found]}


def read_page(context: ToolContext, args: ReadPageArgs) -> dict[str, Any]:
    snapshot = _notion(context, "notion_read_page").page_snapshot(args.page_id)
    return {"page_id": snapshot.page_id or args.page_id, "title": snapshot.title, "url": snapshot.url,
            "properties": snapshot.properties, "markdown": snapshot.content_markdown,
            "last_edited_time": snapshot.last_edited_time}


def query_data_source(context: ToolContext, args: QueryDataSourceArgs) -> dict[str, Any]:
    pages = _notion(context, "notion_query_data_source").query_data_source(
        args.data_source_id, filter=args.filter, sorts=args.sorts, limit=args.limit or MAX_QUERY_RESULTS
    )
    return {"results": [_row(p) for p in pages]}


def create_page(context: ToolContext, args: CreatePageArgs) -> dict[str, Any]:
    page = _notion(context, "notion_create_page").create_page(
        parent_page_id=args.parent_page_id, parent_data_source_id=args.parent_data_source_id, title=args.title,
        properties=args.properties, markdown=args.markdown, title_property=args.title_property,
    )
    return {"page_id": page["id"], "url": page.get("url", ""), "parent_page_id": args.parent_page_id,
            "parent_data_source_id": args.parent_data_source_id}


def update_page(context: ToolContext, args: UpdatePageArgs) -> dict[str, Any]:
    if args.archived or args.in_trash:
        # only reachable when a project's policy allows it; the adapter deliberately has no delete
        raise ToolError("aidlc tools do not delete, archive or trash Notion pages")
    notion = _notion(context, "notion_update_page")
    page = None
    if args.properties:
        page = notion.update_properties(args.page_id, args.properties)
    if args.status:
        page = notion.set_status(args.page_id, args.status_property, args.status)
    if args.append_markdown:
        notion.append_markdown(args.page_id, args.append_markdown)
    if page is None:
        page = notion.retrieve_page(args.page_id)
    return {"page_id": args.page_id, "url": page.get("url", "")}


def create_database(context: ToolContext, args: CreateDatabaseArgs) -> dict[str, Any]:
    database = _notion(context, "notion_create_database").create_database(
        parent_page_id=args.parent_page_id, title=args.title, properties=args.properties
    )
    sources = database.get("data_sources") or [{}]
    return {"database_id": database["id"], "data_source_id": sources[0].get("id"), "url": database.get("url", ""),
            "record_count": 0}


def create_comment(context: ToolContext, args: CreateCommentArgs) -> dict[str, Any]:
    comment = _notion(context, "notion_create_comment").create_comment(
        args.page_id, args.text, mention_user_ids=args.mention_user_ids
    )
    return {"comment_id": comment["id"], "page_id": args.page_id}


# --- artifacts ---------------------------------------------------------------------------------------------


def page_artifact(args: CreatePageArgs, result: CreatePageResult, run: ArtifactContext) -> OutputArtifact | None:
    """A page is the run's insight report when its agent declares that output (with the feedback it read through
    feedback_statistics earlier in the run), otherwise a Notion page of the agent's kind. A page under a page the
    same run created (a deck's sequence of pages) is part of that page, not an artifact of its own."""
    if args.parent_page_id and any(call.result.get("page_id") == args.parent_page_id
                                   for call in run.earlier_calls("notion_create_page")):
        return None
    if ArtifactType.INSIGHT_REPORT in run.outputs:
        statistics = run.earlier_calls("feedback_statistics")
        return OutputArtifact(
            type=ArtifactType.INSIGHT_REPORT, url=result.url, title=args.title,
            metadata=InsightReportMetadata(
                page_id=result.page_id,
                feedback_count=int(statistics[-1].result.get("count") or 0) if statistics else 0,
                source_data_source_ids=[c.args["data_source_id"] for c in statistics if c.args.get("data_source_id")],
            ),
        )
    return OutputArtifact(
        type=ArtifactType.NOTION_PAGE, url=result.url, title=args.title,
        metadata=NotionPageMetadata(page_id=result.page_id, parent_page_id=result.parent_page_id or args.parent_page_id,
                                    page_type=run.agent_type),
    )


def database_artifact(args: CreateDatabaseArgs, result: CreateDatabaseResult, run: ArtifactContext) -> OutputArtifact:
    return OutputArtifact(
        type=ArtifactType.NOTION_DATABASE, url=result.url, title=args.title,
        metadata=NotionDatabaseMetadata(database_id=result.database_id, data_source_id=result.data_source_id,
                                        record_count=result.record_count),
    )


TOOLS = [
    ToolSpec("notion_search", "Search the Notion workspace by title for pages or data sources (databases).",
             "notion", SearchArgs, search, result_model=SearchResult),
    ToolSpec("notion_read_page", "Read a Notion page: title, URL, property values and the body as markdown.",
             "notion", ReadPageArgs, read_page, result_model=ReadPageResult),
    ToolSpec("notion_query_data_source", "List rows of a Notion data source (database), optionally filtered and "
             "sorted, with plain property values.", "notion", QueryDataSourceArgs, query_data_source,
             result_model=QueryDataSourceResult),
    ToolSpec("notion_create_page", "Create a Notion page under a page (body in markdown) or a row in a data source.",
             "notion", CreatePageArgs, create_page, result_model=CreatePageResult, artifact=page_artifact),
    ToolSpec("notion_update_page", "Update a Notion page: set property values or its status, or append markdown "
             "to its body.", "notion", UpdatePageArgs, update_page, result_model=UpdatePageResult),
    ToolSpec("notion_create_database", "Create a Notion database (with its first data source) inside a page.",
             "notion", CreateDatabaseArgs, create_database, result_model=CreateDatabaseResult,
             artifact=database_artifact),
    ToolSpec("notion_create_comment", "Comment on a Notion page, optionally @-mentioning users.", "notion",
             CreateCommentArgs, create_comment, result_model=CreateCommentResult),
]

"""A Notion page as a knowledge-base document (seed 2.4): markdown body with its properties, comments and relations,
plus the metadata Bedrock Knowledge Bases filters on.

Pure functions over the page objects the Notion adapter returns; nothing here talks to Notion or AWS. The body is
the page's blocks through the one block -> markdown converter (`runtime.notion.markdown.blocks_to_markdown`), and
property values go through the adapter's one reader (`runtime.notion.adapter.plain_value`).

In S3 a document is two objects: `pages/<page_id>.md` and its sidecar `pages/<page_id>.md.metadata.json`, the
format a Bedrock KB S3 data source reads metadata from: `{"metadataAttributes": {key: value}}`, values strings,
numbers, booleans or lists of strings (https://docs.aws.amazon.com/bedrock/latest/userguide/kb-metadata.html).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PageType = Literal["epic", "user_story", "task", "design", "general"]
PAGE_TYPES: tuple[str, ...] = ("epic", "user_story", "task", "design", "general")
# Properties whose select/status value names the page type, and the words that map to each type.
TYPE_PROPERTIES = ("Page Type", "Type", "Kind")
_TYPE_WORDS: dict[str, str] = {
    "epic": "epic", "user story": "user_story", "user_story": "user_story", "story": "user_story",
    "task": "task", "design": "design", "design doc": "design", "spec": "design", "general": "general",
}
DOCUMENTS_PREFIX = "pages/"
METADATA_SUFFIX = ".metadata.json"
# Bedrock KB: a metadata file may be at most 10 KB; string values are kept short, lists bounded.
MAX_METADATA_BYTES = 10 * 1024


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author_id: str | None = None
    created_time: str | None = None
    text: str


class KbDocument(BaseModel):
    """Seed 2.4's Notion content document, with the project it belongs to and the page's relations."""

    model_config = ConfigDict(extra="forbid")

    page_id: str
    parent_page_id: str | None = None
    title: str
    url: str = ""
    content_markdown: str = ""
    page_type: PageType = "general"
    properties: dict[str, Any] = Field(default_factory=dict)
    comments: list[Comment] = Field(default_factory=list)
    relations: dict[str, list[str]] = Field(default_factory=dict)  # relation property -> related page ids
    project_id: str = ""
    last_edited_at: str
    ingested_at: str

    # --- S3 -------------------------------------------------------------------------------------------------

    def key(self, prefix: str = "") -> str:
        return document_key(self.page_id, prefix)

    def metadata_key(self, prefix: str = "") -> str:
        return self.key(prefix) + METADATA_SUFFIX

    def body(self) -> str:
        """What is indexed: the title, the properties, the body, the relations and the comments, as markdown."""
        lines = [f"# {self.title or '(untitled)'}", ""]
        shown = {k: v for k, v in self.properties.items() if v not in (None, "", [], {}) and k not in self.relations}
        if shown:
            lines += ["## Properties", ""] + [f"- **{k}**: {_plain(v)}" for k, v in sorted(shown.items())] + [""]
        if self.content_markdown.strip():
            lines += [self.content_markdown.strip(), ""]
        if any(self.relations.values()):
            lines += ["## Related pages", ""]
            lines += [f"- **{name}**: {', '.join(ids)}" for name, ids in sorted(self.relations.items()) if ids] + [""]
        if self.comments:
            lines += ["## Comments", ""] + [f"- {c.created_time or ''} {c.text}".replace("-  ", "- ")
                                            for c in self.comments] + [""]
        return "\n".join(lines).rstrip() + "\n"

    def metadata(self) -> dict[str, Any]:
        """The filterable attributes (Bedrock KB `metadataAttributes`; the local index stores the same)."""
        attributes: dict[str, Any] = {
            "page_id": self.page_id,
            "title": self.title[:500],
            "url": self.url,
            "page_type": self.page_type,
            "project_id": self.project_id,
            "last_edited_at": self.last_edited_at,
            "ingested_at": self.ingested_at,
        }
        if self.parent_page_id:
            attributes["parent_page_id"] = self.parent_page_id
        related = sorted({page for ids in self.relations.values() for page in ids})[:100]
        if related:
            attributes["related_page_ids"] = related
        return attributes

    def metadata_sidecar(self) -> str:
        text = json.dumps({"metadataAttributes": self.metadata()}, sort_keys=True)
        if len(text.encode()) > MAX_METADATA_BYTES:  # only the related ids can be long: drop them, keep the rest
            attributes = {k: v for k, v in self.metadata().items() if k != "related_page_ids"}
            text = json.dumps({"metadataAttributes": attributes}, sort_keys=True)
        return text


def document_key(page_id: str, prefix: str = "") -> str:
    return f"{prefix}{DOCUMENTS_PREFIX}{normal_id(page_id)}.md"


def normal_id(page_id: str) -> str:
    """Notion ids with or without dashes name the same page; documents are keyed by the dashed lower-case form."""
    raw = page_id.replace("-", "").lower()
    if len(raw) != 32:
        return page_id
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v is not None)
    return str(value)


def page_type_of(page: dict, properties: dict[str, Any], *, default: str = "general") -> str:
    """`epic`, `user_story`, `task`, `design` or `general`: a "Page Type"/"Type"/"Kind" property's value when it
    names one, else `default` (the sync passes "user_story" for rows of a project's stories data source)."""
    for name in TYPE_PROPERTIES:
        value = properties.get(name)
        if isinstance(value, str) and value.strip().lower() in _TYPE_WORDS:
            return _TYPE_WORDS[value.strip().lower()]
    return default if default in PAGE_TYPES else "general"


def comments_of(raw_comments: list[dict]) -> list[Comment]:
    from runtime.notion.markdown import rich_text_plain

    out = []
    for comment in raw_comments:
        text = rich_text_plain(comment.get("rich_text")).strip()
        if text:
            out.append(Comment(author_id=(comment.get("created_by") or {}).get("id"),
                               created_time=comment.get("created_time"), text=text))
    return out


def parent_page_id(page: dict) -> str | None:
    parent = page.get("parent") or {}
    return parent.get("page_id") if parent.get("type") == "page_id" else None


def document_from_page(
    page: dict,
    blocks: list[dict],
    raw_comments: list[dict],
    *,
    project_id: str = "",
    default_type: str = "general",
    ingested_at: datetime | None = None,
) -> KbDocument:
    """The document for one Notion page: `blocks` as `NotionAdapter.read_blocks` returns them (children nested),
    `raw_comments` as `list_comments` does."""
    from runtime.notion.adapter import page_title, plain_value
    from runtime.notion.markdown import blocks_to_markdown

    props = page.get("properties") or {}
    relations = {name: [str(item.get("id")) for item in (prop.get("relation") or []) if item.get("id")]
                 for name, prop in props.items() if isinstance(prop, dict) and prop.get("type") == "relation"}
    plain = {name: plain_value(prop) for name, prop in props.items()
             if isinstance(prop, dict) and prop.get("type") != "title"}
    when = (ingested_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return KbDocument(
        page_id=normal_id(page["id"]),
        parent_page_id=parent_page_id(page),
        title=page_title(page),
        url=page.get("url") or "",
        content_markdown=blocks_to_markdown(blocks),
        page_type=page_type_of(page, plain, default=default_type),  # type: ignore[arg-type]
        properties=plain,
        comments=comments_of(raw_comments),
        relations=relations,
        project_id=project_id,
        last_edited_at=page.get("last_edited_time") or "",
        ingested_at=when.isoformat().replace("+00:00", "Z"),
    )


def child_page_ids(blocks: list[dict]) -> list[str]:
    """The sub-pages among a page's blocks (a `child_page` block's id is the sub-page's id), nested ones too."""
    out: list[str] = []
    for block in blocks:
        if block.get("type") == "child_page":
            out.append(block["id"])
        kind = block.get("type") or ""
        children = block.get("children") or (block.get(kind) or {}).get("children") or []
        out += child_page_ids(children)
    return out

"""Markdown <-> Notion blocks, for page bodies.

Covers what agents write: headings, paragraphs, bulleted / numbered / to-do lists (nested), code, quotes, dividers,
and inline bold, italic, strikethrough, code and links. Parsing is markdown-it-py's (CommonMark); only the mapping to
Notion's block shapes is ours. What Notion refuses is never produced (`runtime.notion.limits`): text is split at
2,000 characters; a rich-text array holds at most 100 items (a long paragraph or code block becomes several blocks;
elsewhere the formatting of the tail is merged away, and past 200,000 characters the text is cut with a marker);
only absolute URLs of at most 2,000 characters become links (a relative link or image path stays as text).
"""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from runtime.notion.limits import MAX_LINK_URL, MAX_RICH_TEXT_ITEMS, MAX_TEXT_CONTENT, is_absolute_url, js_length

RICH_TEXT_LIMIT = MAX_TEXT_CONTENT
TRUNCATED_MARKER = " … [truncated: Notion holds at most 100 × 2,000 characters here]"

# Notion's code block accepts a fixed list of languages; the common ones, with markdown's usual aliases.
_CODE_LANGUAGES = {
    "bash", "c", "c#", "c++", "css", "diff", "docker", "go", "graphql", "html", "java", "javascript", "json",
    "kotlin", "makefile", "markdown", "plain text", "python", "ruby", "rust", "shell", "sql", "swift", "typescript",
    "xml", "yaml", "toml",
}
_LANGUAGE_ALIASES = {
    "py": "python", "js": "javascript", "ts": "typescript", "sh": "shell", "yml": "yaml", "md": "markdown",
    "cs": "c#", "cpp": "c++", "dockerfile": "docker", "": "plain text", "text": "plain text", "txt": "plain text",
}

_ANNOTATIONS = ("bold", "italic", "strikethrough", "underline", "code")

_parser = MarkdownIt("commonmark").enable(["strikethrough", "table"])


# --- rich text -------------------------------------------------------------------------------------------------


_utf16_len = js_length  # Notion counts string length as JavaScript does (UTF-16 code units): an emoji is 2


def _chunks(text: str, limit: int) -> list[str]:
    if _utf16_len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if size + width > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        chunks.append("".join(current))
    return chunks


def _text_item(content: str, annotations: dict[str, bool] | None = None, link: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "text", "text": {"content": content, "link": {"url": link} if link else None}}
    if annotations and any(annotations.values()):
        item["annotations"] = {name: bool(annotations.get(name)) for name in _ANNOTATIONS} | {"color": "default"}
    return item


def split_rich_text(
    text: str, limit: int = RICH_TEXT_LIMIT, max_items: int | None = MAX_RICH_TEXT_ITEMS
) -> list[dict[str, Any]]:
    """Plain text -> rich text items, each at most `limit` characters, at most `max_items` of them (Notion rejects
    longer items and arrays; text that cannot fit is cut, ending with `TRUNCATED_MARKER`). `max_items=None`
    leaves the count to the caller (who caps the whole array, e.g. after mentions)."""
    if not text:
        return []
    items = [_text_item(chunk) for chunk in _chunks(text, limit)]
    return items if max_items is None else cap_rich_text(items, limit, max_items)


def _plain_items(text: str) -> list[dict[str, Any]]:
    """Plain text -> items of at most 2,000 characters, however many (for blocks that split, see `_blocks`)."""
    return [_text_item(chunk) for chunk in _chunks(text, RICH_TEXT_LIMIT)] if text else []


def _item_text(item: dict[str, Any]) -> str:
    if item.get("type") == "text" or "text" in item:
        return item["text"]["content"]
    return item.get("plain_text", "")


def cap_rich_text(
    items: list[dict[str, Any]], limit: int = RICH_TEXT_LIMIT, max_items: int = MAX_RICH_TEXT_ITEMS
) -> list[dict[str, Any]]:
    """At most `max_items` items: as many leading items as possible as they are, the rest merged into plain text
    (formatting dropped, words kept) in chunks of `limit`; when even plain text cannot fit, it is cut and the last
    item says so (`TRUNCATED_MARKER`)."""
    if len(items) <= max_items:
        return items
    texts = [_item_text(item) for item in items]
    for kept in range(max_items, -1, -1):
        rest = "".join(texts[kept:])
        tail = _chunks(rest, limit) if rest else []
        if kept + len(tail) <= max_items:
            return items[:kept] + [_text_item(chunk) for chunk in tail]
    # Leading mentions (a comment's "@owner ") are kept as they are; the text after them is cut.
    lead = 0
    while lead < min(len(items), max_items // 2) and (items[lead].get("type") != "text" or not texts[lead].strip()):
        lead += 1
    head = _chunks("".join(texts[lead:]), limit)[: max_items - lead - 1]
    return items[:lead] + [_text_item(chunk) for chunk in head] + [_text_item(TRUNCATED_MARKER.strip())]


def _split_items(items: list[dict[str, Any]], limit: int = RICH_TEXT_LIMIT) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") != "text":
            out.append(item)
            continue
        for chunk in _chunks(item["text"]["content"], limit):
            out.append({**item, "text": {**item["text"], "content": chunk}})
    return out


def rich_text_plain(items: list[dict[str, Any]] | None) -> str:
    """Rich text -> its plain text."""
    parts = []
    for item in items or []:
        if "plain_text" in item:
            parts.append(item["plain_text"])
        elif item.get("type") == "text":
            parts.append(item["text"]["content"])
    return "".join(parts)


def _linkable(url: str) -> bool:
    return bool(url) and js_length(url) <= MAX_LINK_URL and is_absolute_url(url)


def _plain_of(node: SyntaxTreeNode) -> str:
    return "".join(child.content for child in node.children if child.type in ("text", "code_inline"))


def _inline_to_rich_text(node: SyntaxTreeNode) -> list[dict[str, Any]]:
    """An inline node's children -> merged rich text items."""
    items: list[dict[str, Any]] = []
    state = {"bold": False, "italic": False, "strikethrough": False, "code": False}

    def emit(text: str, link: str | None, extra: dict[str, bool] | None = None) -> None:
        if not text:
            return
        annotations = state | (extra or {})
        last = items[-1] if items else None
        if (
            last is not None
            and last["text"]["link"] == ({"url": link} if link else None)
            and last.get("annotations", {}).get("bold", False) == annotations["bold"]
            and last.get("annotations", {}).get("italic", False) == annotations["italic"]
            and last.get("annotations", {}).get("strikethrough", False) == annotations["strikethrough"]
            and last.get("annotations", {}).get("code", False) == annotations["code"]
        ):
            last["text"]["content"] += text
        else:
            items.append(_text_item(text, annotations, link))

    def walk(children: list[SyntaxTreeNode], link: str | None) -> None:
        for child in children:
            kind = child.type
            if kind == "text":
                emit(child.content, link)
            elif kind == "code_inline":
                emit(child.content, link, {"code": True})
            elif kind in ("softbreak", "hardbreak"):
                emit("\n", link)
            elif kind == "strong":
                state["bold"] = True
                walk(child.children, link)
                state["bold"] = False
            elif kind == "em":
                state["italic"] = True
                walk(child.children, link)
                state["italic"] = False
            elif kind == "s":
                state["strikethrough"] = True
                walk(child.children, link)
                state["strikethrough"] = False
            elif kind == "link":
                href = str(child.attrs.get("href", ""))
                if _linkable(href):
                    walk(child.children, href)
                else:  # Notion refuses relative and over-long link URLs: keep the words, and the target as text
                    walk(child.children, link)
                    if href and href != _plain_of(child):
                        emit(f" ({href})", link)
            elif kind == "image":
                src = str(child.attrs.get("src", ""))
                alt = _plain_of(child)
                if _linkable(src):
                    emit(alt or src, src)
                else:  # an image path in the repository or the prototype: not a URL Notion can open
                    emit(f"{alt} ({src})" if alt and src else alt or src, link)
            else:  # html_inline and anything else: keep the source text
                emit(child.content, link)

    walk(node.children, None)
    return items


# --- markdown -> blocks ----------------------------------------------------------------------------------------


def _block(kind: str, rich_text: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"object": "block", "type": kind, kind: {"rich_text": cap_rich_text(_split_items(rich_text)), **extra}}


def _blocks(kind: str, rich_text: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    """A paragraph or code block whose text needs more than 100 items becomes several blocks of the same kind, so
    nothing is lost."""
    items = _split_items(rich_text)
    if len(items) <= MAX_RICH_TEXT_ITEMS:
        return [{"object": "block", "type": kind, kind: {"rich_text": items, **extra}}]
    return [{"object": "block", "type": kind, kind: {"rich_text": items[start:start + MAX_RICH_TEXT_ITEMS], **extra}}
            for start in range(0, len(items), MAX_RICH_TEXT_ITEMS)]


def _paragraph_text(item: SyntaxTreeNode) -> tuple[list[dict[str, Any]], list[SyntaxTreeNode]]:
    """A list item's own text (its first paragraph) and the rest of its children."""
    rich: list[dict[str, Any]] = []
    rest: list[SyntaxTreeNode] = []
    for child in item.children:
        if child.type == "paragraph" and not rich and not rest:
            rich = _inline_to_rich_text(child.children[0]) if child.children else []
        else:
            rest.append(child)
    return rich, rest


def _lone_image(paragraph: SyntaxTreeNode) -> dict[str, Any] | None:
    """A paragraph that is only `![caption](https://...)` becomes an image block with an external URL (Notion's
    `MediaContentWithFileAndCaptionRequest`); an image among words, or with a relative path, stays inline text."""
    inline = paragraph.children[0] if paragraph.children else None
    parts = [c for c in (inline.children if inline is not None else []) if not (c.type == "text" and not c.content.strip())]
    if len(parts) != 1 or parts[0].type != "image" or not _linkable(str(parts[0].attrs.get("src", ""))):
        return None
    caption = _plain_of(parts[0])
    return {"object": "block", "type": "image", "image": {
        "type": "external", "external": {"url": str(parts[0].attrs["src"])},
        "caption": cap_rich_text(_split_items([_text_item(caption)])) if caption else []}}


def _nodes_to_blocks(nodes: list[SyntaxTreeNode]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for node in nodes:
        kind = node.type
        if kind == "heading":
            level = min(int(node.tag[1]), 3)
            blocks.append(_block(f"heading_{level}", _inline_to_rich_text(node.children[0])))
        elif kind == "paragraph" and _lone_image(node) is not None:
            blocks.append(_lone_image(node))
        elif kind == "paragraph":
            blocks.extend(_blocks("paragraph", _inline_to_rich_text(node.children[0]) if node.children else []))
        elif kind in ("bullet_list", "ordered_list"):
            for item in node.children:
                rich, rest = _paragraph_text(item)
                block_kind = "bulleted_list_item" if kind == "bullet_list" else "numbered_list_item"
                extra: dict[str, Any] = {}
                first = rich[0]["text"]["content"] if rich and rich[0].get("type") == "text" else ""
                if kind == "bullet_list" and first[:4] in ("[ ] ", "[x] ", "[X] "):
                    block_kind = "to_do"
                    extra["checked"] = first[1] in "xX"
                    rich[0]["text"]["content"] = first[4:]
                block = _block(block_kind, rich, **extra)
                children = _nodes_to_blocks(rest)
                if children:
                    block[block_kind]["children"] = children
                blocks.append(block)
        elif kind in ("fence", "code_block"):
            language = (node.info or "").strip().split(" ")[0].lower()
            language = _LANGUAGE_ALIASES.get(language, language)
            if language not in _CODE_LANGUAGES:
                language = "plain text"
            content = node.content[:-1] if node.content.endswith("\n") else node.content
            blocks.extend(_blocks("code", _plain_items(content), language=language))
        elif kind == "blockquote":
            inner = _nodes_to_blocks(node.children)
            text: list[dict[str, Any]] = []
            for index, child in enumerate(inner):
                if index:
                    text.append(_text_item("\n"))
                text.extend(child[child["type"]].get("rich_text", []))
            blocks.append(_block("quote", text))
        elif kind == "hr":
            blocks.append({"object": "block", "type": "divider", "divider": {}})
        elif kind == "table":
            rows = [row for section in node.children for row in section.children]
            cells = [[_inline_to_rich_text(cell.children[0]) if cell.children else [] for cell in row.children]
                     for row in rows]
            width = max((len(row) for row in cells), default=1)
            blocks.append({"object": "block", "type": "table", "table": {
                "table_width": width, "has_column_header": node.children[0].type == "thead",
                "has_row_header": False,
                "children": [{"object": "block", "type": "table_row", "table_row": {
                    "cells": [cap_rich_text(_split_items(cell)) for cell in row] + [[] for _ in range(width - len(row))]}}
                    for row in cells],
            }})
        elif kind in ("html_block",):
            blocks.extend(_blocks("paragraph", _plain_items(node.content.rstrip("\n"))))
    return blocks


def markdown_to_blocks(markdown: str) -> list[dict[str, Any]]:
    """Markdown -> Notion block objects, ready for `PATCH /v1/blocks/{id}/children` (in batches of 100)."""
    return _nodes_to_blocks(SyntaxTreeNode(_parser.parse(markdown or "")).children)


# --- blocks -> markdown ----------------------------------------------------------------------------------------


def rich_text_to_markdown(items: list[dict[str, Any]] | None) -> str:
    out = []
    for item in items or []:
        text = item.get("plain_text")
        if text is None:
            text = item.get("text", {}).get("content", "") if item.get("type") == "text" else ""
        if not text:
            continue
        annotations = item.get("annotations") or {}
        link = item.get("href") or ((item.get("text") or {}).get("link") or {}).get("url")
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()):]
        core = text.strip()
        if core:
            if annotations.get("code"):
                core = f"`{core}`"
            if annotations.get("strikethrough"):
                core = f"~~{core}~~"
            if annotations.get("italic"):
                core = f"*{core}*"
            if annotations.get("bold"):
                core = f"**{core}**"
            if link:
                core = f"[{core}]({link})"
        out.append(lead + core + trail)
    return "".join(out)


_LIST_KINDS = ("bulleted_list_item", "numbered_list_item", "to_do")


def blocks_to_markdown(blocks: list[dict[str, Any]], *, indent: str = "") -> str:
    """Notion blocks (with nested `children` filled in under the block's type key, or at the block's top level)
    -> markdown. Consecutive list items are kept together; other blocks are separated by a blank line."""
    parts: list[str] = []
    previous_kind: str | None = None
    number = 0
    for block in blocks:
        kind = block.get("type", "")
        body = block.get(kind) or {}
        text = rich_text_to_markdown(body.get("rich_text"))
        children = body.get("children") or block.get("children") or []
        number = number + 1 if kind == "numbered_list_item" and previous_kind == kind else 1
        if kind.startswith("heading_"):
            line = f"{'#' * int(kind[-1])} {text}"
        elif kind == "paragraph":
            line = text
        elif kind == "bulleted_list_item":
            line = f"- {text}"
        elif kind == "numbered_list_item":
            line = f"{number}. {text}"
        elif kind == "to_do":
            line = f"- [{'x' if body.get('checked') else ' '}] {text}"
        elif kind == "code":
            language = body.get("language", "plain text")
            fence_language = "" if language == "plain text" else language
            line = f"```{fence_language}\n{rich_text_to_markdown([dict(i, annotations={}) for i in body.get('rich_text', [])])}\n```"
        elif kind == "quote":
            line = "\n".join(f"> {row}" for row in text.split("\n"))
        elif kind == "divider":
            line = "---"
        elif kind == "table":
            line = _table_markdown(body, children)
        elif kind in ("bookmark", "embed"):
            line = f"<{body.get('url', '')}>"
        elif kind == "image":
            source = body.get(body.get("type", "external")) or {}
            line = f"![{rich_text_to_markdown(body.get('caption'))}]({source.get('url', '')})"
        elif kind == "child_page":
            line = f"[{body.get('title', '')}]"
        elif kind == "child_database":
            line = f"[{body.get('title', '')}] (database)"
        else:
            line = text
        if kind in _LIST_KINDS and children:
            width = len(line) - len(text) if kind == "numbered_list_item" else 2
            nested = blocks_to_markdown(children, indent=" " * width)
            line = f"{line}\n{nested}"
        if parts:
            parts.append("\n" if kind in _LIST_KINDS and previous_kind == kind else "\n\n")
        parts.append(line)
        previous_kind = kind
    rendered = "".join(parts)
    if indent:
        rendered = "\n".join(f"{indent}{row}" if row else row for row in rendered.split("\n"))
    return rendered


def _table_markdown(body: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    width = body.get("table_width") or max((len(r.get("table_row", {}).get("cells", [])) for r in rows), default=1)
    lines = []
    for index, row in enumerate(rows):
        cells = row.get("table_row", {}).get("cells", [])
        texts = [rich_text_to_markdown(cell).replace("|", "\\|").replace("\n", " ") for cell in cells]
        texts += [""] * (width - len(texts))
        lines.append("| " + " | ".join(texts) + " |")
        if index == 0:
            lines.append("|" + "|".join(["---"] * width) + "|")
    return "\n".join(lines)

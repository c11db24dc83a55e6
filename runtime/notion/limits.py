"""Notion's documented request limits that its SDK's types do not carry (developers.notion.com, "Request limits":
size limits for property values and block arrays; "Append block children": nesting).

One declaration per limit: the adapter sizes what it sends by these, and the contract checks (tests and the local
emulator) refuse what breaks them, in Notion's words. Lengths are JavaScript string lengths (UTF-16 code units),
as Notion counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

MAX_RICH_TEXT_ITEMS = 100  # any array of rich text objects
MAX_TEXT_CONTENT = 2000  # text.content
MAX_LINK_URL = 2000  # text.link.url, and any URL
MAX_EQUATION = 1000  # equation.expression
MAX_BLOCKS_PER_ARRAY = 100  # any array of blocks (children)
MAX_BLOCKS_PER_REQUEST = 1000  # every block in one request, nested ones included
MAX_PAYLOAD_BYTES = 500 * 1000  # "500KB": counted in decimal kilobytes, which is the safe reading
MAX_NESTING = 2  # levels of nested children under the blocks of one request (the SDK types encode this too)
MAX_PROPERTY_ITEMS = 100  # people, relation and multi_select values of one property
MAX_EMAIL = 200
MAX_PHONE = 200

RICH_TEXT_KEYS = ("rich_text", "title", "caption", "description")
_PAGE_WRITES = ("createPage", "updatePage")
_BLOCK_WRITES = ("createPage", "appendBlockChildren")


def js_length(text: str) -> int:
    """String length as JavaScript (and Notion) counts it: UTF-16 code units, so an emoji is 2."""
    return len(text.encode("utf-16-le")) // 2


def is_absolute_url(url: str) -> bool:
    """Notion refuses relative link URLs ("Invalid URL for link"); it takes web, mail and phone links."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc) and " " not in url
    return parts.scheme in ("mailto", "tel") and bool(parts.path)


def is_iso_8601(value: str) -> bool:
    """A date (2026-12-01) or date-time with an offset or Z (2026-12-01T10:00:00.000Z)."""
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _where(path: tuple[Any, ...]) -> str:
    out = "body"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _too_long(path: tuple[Any, ...], limit: int, actual: int) -> str:
    return f"body failed validation: {_where(path)}.length should be ≤ `{limit}`, instead was `{actual}`."


def _rich_text_arrays(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], list]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in RICH_TEXT_KEYS and isinstance(value, list):
                yield (*path, key), value
            elif key == "cells" and isinstance(value, list):
                for index, cell in enumerate(value):
                    if isinstance(cell, list):
                        yield (*path, key, index), cell
            else:
                yield from _rich_text_arrays(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _rich_text_arrays(item, (*path, index))


def rich_text_problems(body: Any) -> list[str]:
    problems: list[str] = []
    for path, items in _rich_text_arrays(body):
        if len(items) > MAX_RICH_TEXT_ITEMS:
            problems.append(_too_long(path, MAX_RICH_TEXT_ITEMS, len(items)))
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            text = item.get("text")
            if isinstance(text, dict):
                content = text.get("content")
                if isinstance(content, str) and js_length(content) > MAX_TEXT_CONTENT:
                    problems.append(_too_long((*path, index, "text", "content"), MAX_TEXT_CONTENT, js_length(content)))
                link = text.get("link")
                url = link.get("url") if isinstance(link, dict) else None
                if isinstance(url, str):
                    if js_length(url) > MAX_LINK_URL:
                        problems.append(_too_long((*path, index, "text", "link", "url"), MAX_LINK_URL, js_length(url)))
                    elif not is_absolute_url(url):
                        problems.append(f"body failed validation: {_where((*path, index, 'text', 'link', 'url'))}: "
                                        f"Invalid URL for link: `{url[:80]}`.")
            equation = item.get("equation")
            if isinstance(equation, dict) and isinstance(equation.get("expression"), str):
                expression = equation["expression"]
                if js_length(expression) > MAX_EQUATION:
                    problems.append(_too_long((*path, index, "equation", "expression"), MAX_EQUATION,
                                              js_length(expression)))
    return problems


def block_children(block: Any) -> list | None:
    """A block request's nested `children` (under its type key), if any."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type") or next((key for key in block if key not in ("object", "type")), None)
    body = block.get(kind) if isinstance(kind, str) else None
    children = body.get("children") if isinstance(body, dict) else None
    return children if isinstance(children, list) else None


def count_blocks(blocks: list) -> int:
    """Blocks in an array, nested children included (what Notion's 1,000-per-request limit counts)."""
    return sum(1 + count_blocks(block_children(block) or []) for block in blocks)


def block_problems(children: Any, path: tuple[Any, ...] = ("children",)) -> list[str]:
    if not isinstance(children, list):
        return []
    problems: list[str] = []

    def walk(blocks: list, where: tuple[Any, ...], depth: int) -> None:
        if len(blocks) > MAX_BLOCKS_PER_ARRAY:
            problems.append(_too_long(where, MAX_BLOCKS_PER_ARRAY, len(blocks)))
        for index, block in enumerate(blocks):
            nested = block_children(block)
            if not nested:
                continue
            kind = block.get("type") or next(k for k in block if k not in ("object", "type"))
            if depth >= MAX_NESTING:
                problems.append(f"body failed validation: {_where((*where, index, kind, 'children'))} should be not "
                                "present.")
                continue
            walk(nested, (*where, index, kind, "children"), depth + 1)

    walk(children, path, 0)
    total = count_blocks(children)
    if total > MAX_BLOCKS_PER_REQUEST:
        problems.append(f"body failed validation: the request has {total} blocks; at most "
                        f"{MAX_BLOCKS_PER_REQUEST} are allowed in one request.")
    return problems


def property_value_problems(properties: Any) -> list[str]:
    """Limits on page property values (createPage / updatePage)."""
    if not isinstance(properties, dict):
        return []
    problems: list[str] = []
    for name, value in properties.items():
        if not isinstance(value, dict):
            continue
        path: tuple[Any, ...] = ("properties", name)
        for kind in ("people", "relation", "multi_select"):
            items = value.get(kind)
            if isinstance(items, list) and len(items) > MAX_PROPERTY_ITEMS:
                problems.append(_too_long((*path, kind), MAX_PROPERTY_ITEMS, len(items)))
        for kind, limit in (("url", MAX_LINK_URL), ("email", MAX_EMAIL), ("phone_number", MAX_PHONE)):
            text = value.get(kind)
            if isinstance(text, str) and js_length(text) > limit:
                problems.append(_too_long((*path, kind), limit, js_length(text)))
        when = value.get("date")
        if isinstance(when, dict):
            for key in ("start", "end"):
                stamp = when.get(key)
                if isinstance(stamp, str) and not is_iso_8601(stamp):
                    problems.append(f"body failed validation: {_where((*path, 'date', key))} should be a valid ISO "
                                    f"8601 date string, instead was `\"{stamp[:40]}\"`.")
    return problems


def request_problems(endpoint: str, body: Any, size: int) -> list[str]:
    """Every documented limit `body` (sent to the SDK endpoint `endpoint`, `size` bytes) breaks."""
    problems: list[str] = []
    if size > MAX_PAYLOAD_BYTES:
        problems.append(f"body failed validation: the request body is {size} bytes; at most {MAX_PAYLOAD_BYTES} "
                        "are allowed.")
    if not isinstance(body, dict):
        return problems
    problems += rich_text_problems(body)
    if endpoint in _BLOCK_WRITES:
        problems += block_problems(body.get("children"))
    if endpoint in _PAGE_WRITES:
        problems += property_value_problems(body.get("properties"))
    return problems

"""Notion: the adapter (notion-client, API 2025-09-03), its throttle, errors, and markdown <-> blocks.

`from runtime.notion import NotionAdapter` works; the adapter (and notion-client) load only when first asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NotionAdapter", "NotionError", "Throttle", "page_title", "plain_properties", "property_value"]


def __getattr__(name: str) -> Any:
    if name in ("NotionAdapter", "page_title", "plain_properties", "property_value"):
        from runtime.notion import adapter

        return getattr(adapter, name)
    if name == "NotionError":
        from runtime.notion.errors import NotionError

        return NotionError
    if name == "Throttle":
        from runtime.notion.throttle import Throttle

        return Throttle
    raise AttributeError(f"module 'runtime.notion' has no attribute {name!r}")

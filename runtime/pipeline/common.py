"""Small pieces every pipeline service shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class UsesRegistry:
    """A service that asks the agent registry; given one in its constructor (`self._registry`) it uses that, else it
    loads the process-wide registry on first use, so importing a handler does not load the plugins."""

    _registry: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from runtime.registry import get_registry

            self._registry = get_registry()
        return self._registry


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time as Notion and our records write it ('Z' included); None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None

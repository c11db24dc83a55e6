"""The Notion databases aidlc expects, in `POST /v1/databases` `initial_data_source.properties` shape.

The emulator seeds them; a real workspace is set up to match (the README says how). Status options are the
registry's trigger, completion and failure values, so they come from a function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Values around the agents' own: where stories start and end.
BASE_STATUS_VALUES = ("Backlog", "Ready")
FINAL_STATUS_VALUES = ("Done",)

INVOCATION_STATUS_VALUES = ("queued", "running", "completed", "failed", "cancelled")
# The story's live progress while an agent runs on it (step, tool calls, elapsed time, cost), then how it ended;
# written from the run's heartbeats (runtime/pipeline/writeback.py). A workspace without it just shows none.
PROGRESS_PROPERTY = "Agent Progress"


def story_status_values(registry: Any | None = None) -> list[str]:
    """Backlog, Ready, every plugin's triggers and completion / failure values (registration order), Done."""
    if registry is None:
        from runtime.registry import get_registry

        registry = get_registry()
    values: list[str] = list(BASE_STATUS_VALUES)
    for spec in registry.agents.values():
        for value in [*spec.triggers, spec.completion_status, spec.failure_status]:
            if value not in values:
                values.append(value)
    values.extend(v for v in FINAL_STATUS_VALUES if v not in values)
    return values


@dataclass(frozen=True)
class WorkspaceSchema:
    """What a Notion workspace for aidlc holds, as data: the stories' Status options and the dashboard's agents.
    The local emulator is seeded from it (and so never needs the plugin registry)."""

    status_values: tuple[str, ...]
    agent_names: tuple[str, ...]

    def stories(self) -> dict[str, dict[str, Any]]:
        return story_properties(self.status_values)

    def dashboard(self, stories_data_source_id: str | None) -> dict[str, dict]:
        return dashboard_properties(self.agent_names, stories_data_source_id)


def workspace_schema(registry: Any | None = None) -> WorkspaceSchema:
    """The workspace schema the plugin registry implies (the loaded registry when none is given)."""
    if registry is None:
        from runtime.registry import get_registry

        registry = get_registry()
    return WorkspaceSchema(tuple(story_status_values(registry)), tuple(registry.agents))


def _options(names: Iterable[str], colors: Iterable[str] | None = None) -> list[dict[str, str]]:
    palette = ["gray", "blue", "purple", "orange", "green", "red", "yellow", "pink", "brown", "default"]
    return [{"name": name, "color": palette[index % len(palette)]} for index, name in enumerate(names)]


def story_properties(status_values: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {
        "Name": {"title": {}},
        "Status": {"status": {"options": _options(status_values)}},
        "Acceptance Criteria": {"rich_text": {}},
        "Priority": {"select": {"options": _options(["High", "Medium", "Low"])}},
        "Owner": {"people": {}},
        "Pull Request": {"url": {}},
        "Prototype URL": {"url": {}},
        PROGRESS_PROPERTY: {"rich_text": {}},
    }


def dashboard_properties(agent_names: Iterable[str], stories_data_source_id: str | None = None) -> dict[str, dict]:
    """The execution dashboard: one row per invocation, written by the completion step. Its Story column is a
    relation to the stories data source, so it exists only when that data source is given (API 2025-09-03: a
    relation must name the data source it points at; the write-back skips columns a dashboard lacks)."""
    story: dict[str, dict] = {}
    if stories_data_source_id:
        story["Story"] = {"relation": {"type": "single_property", "single_property": {},
                                       "data_source_id": stories_data_source_id}}
    return {
        "Name": {"title": {}},
        "Invocation": {"rich_text": {}},
        "Agent": {"select": {"options": _options(agent_names)}},
        "Status": {"select": {"options": _options(INVOCATION_STATUS_VALUES)}},
        "Cost": {"number": {"format": "dollar"}},
        "Tokens": {"number": {"format": "number"}},
        "Artifacts": {"rich_text": {}},
        **story,
        "Started": {"date": {}},
        "Completed": {"date": {}},
        "Summary": {"rich_text": {}},
        "Error": {"rich_text": {}},
    }

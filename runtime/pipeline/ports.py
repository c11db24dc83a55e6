"""The ports the pipeline's domain modules depend on: what they need from Notion, Secrets Manager, the task queue
and the agent runtimes, as Protocols (the adapters in `runtime.pipeline.adapters` and the Notion adapter implement
them; tests give fakes), plus the page readers the webhook needs before any adapter is involved (an automation event
carries the page in its body).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from runtime.models import AgentRequest, PageSnapshot, QueueMessage


class SecretStore(Protocol):
    def get(self, secret_id: str) -> str | None: ...
    def put(self, secret_id: str, value: str) -> None: ...


class TaskPublisher(Protocol):
    def publish(self, message: QueueMessage) -> str: ...


class InvokeError(Exception):
    """The agent could not be started, and trying again won't change that."""


class TransientInvokeError(InvokeError):
    """The agent could not be started this time; a retry may work."""


class InvokeUnanswered(Exception):
    """The start request was sent but not answered within the accept bound (a hung runtime, or a slow accept).
    It may have been accepted, so it is neither failed nor retried here: the run stays `running` and the liveness
    sweeper fails it if no heartbeat comes (runtime.pipeline.sweepers)."""


class AgentInvoker(Protocol):
    """Starts an agent run (the agent answers at once and reports through the completion queue) or stops its
    session. Errors: `TransientInvokeError` (worth retrying), `InvokeError` (not)."""

    def invoke(self, request: AgentRequest) -> None: ...
    def stop(self, agent_type: str, session_id: str, endpoint: str | None = None) -> None: ...  # endpoint: the run's


class NotionPort(Protocol):
    def me(self) -> dict: ...
    def retrieve_page(self, page_id: str) -> dict: ...
    def page_snapshot(self, page: str | dict) -> PageSnapshot: ...
    def set_status(self, page_id: str, property_name: str, value: str, *, more: dict | None = None) -> dict: ...
    def update_properties(self, page_id: str, properties: dict) -> dict: ...
    def create_comment(self, page_id: str, text: str, *, mention_user_ids: Sequence[str] = (),
                       discussion_id: str | None = None) -> dict: ...  # discussion_id: a reply in that thread
    # The pipeline only adds rows to a data source (the dashboard's); the adapter can also make pages under pages.
    def create_page(self, *, parent_data_source_id: str, title: str, properties: dict | None = None,
                    title_property: str = "Name") -> dict: ...
    def retrieve_data_source(self, data_source_id: str) -> dict: ...
    def list_comments(self, page_id: str) -> list[dict]: ...
    def query_data_source(
        self, data_source_id: str, *, filter: dict | None = None, sorts: list | None = None, limit: int | None = None
    ) -> list[dict]: ...


def choice_value(page: dict, property_name: str) -> str | None:
    """The name chosen in a `status` or `select` property (workspaces use either for Status)."""
    # The adapter's property reader is the one reader of Notion values; imported here, on use, so importing the
    # webhook does not load notion-client (an automation event needs no adapter).
    from runtime.notion.adapter import plain_value

    prop = (page.get("properties") or {}).get(property_name) or {}
    return plain_value(prop) if prop.get("type") in ("status", "select") else None


def parent_ids(page: dict) -> tuple[str | None, str | None]:
    """(data source id, database id) of a page's parent, whichever the page shows."""
    parent = page.get("parent") or {}
    return parent.get("data_source_id"), parent.get("database_id")


def last_editor_id(page: dict) -> str | None:
    return (page.get("last_edited_by") or {}).get("id")


def same_id(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.replace("-", "").lower() == b.replace("-", "").lower()

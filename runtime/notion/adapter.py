"""The Notion adapter: notion-client (API 2025-09-03) behind a small, typed surface.

Every request goes through one path (`_request`): the process-wide token bucket (3 requests/s), then the call, then
retries with tenacity: 429 honours `Retry-After` (and pauses the whole bucket, not just this caller), 5xx and
network errors back off exponentially with jitter. notion-client's own retry loop is switched off so the two never
multiply. Only requests Notion cannot have applied are repeated on any status (429, 409, 529); 500 / 503 / timeouts
are retried for reads and other requests that are safe to repeat, never for creates. Long text is split at 2,000
characters (and arrays capped at 100 items, `runtime.notion.markdown`), block appends are batched at 100 blocks,
1,000 nested, and 450 KB, so nothing is rejected; the limits are `runtime.notion.limits`.

Errors: every failure raises a `runtime.notion.errors.NotionError` subclass (`NotionValidation` 400,
`NotionUnauthorized` 401/403, `NotionNotFound` 404, `NotionRateLimited` 429 after all retries, `NotionUnavailable`
5xx / no response); notion-client's `APIResponseError` is the `__cause__`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from notion_client import Client
from notion_client.errors import APIResponseError, HTTPResponseError, RequestTimeoutError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from runtime.models import PageSnapshot
from runtime.notion import limits
from runtime.notion.errors import NotionError, error_for_status
from runtime.notion.markdown import (
    blocks_to_markdown,
    cap_rich_text,
    markdown_to_blocks,
    rich_text_plain,
    split_rich_text,
)
from runtime.notion.throttle import Throttle

logger = logging.getLogger(__name__)

MAX_BLOCKS_PER_APPEND = limits.MAX_BLOCKS_PER_ARRAY
MAX_BLOCKS_PER_REQUEST = limits.MAX_BLOCKS_PER_REQUEST
# Room left under Notion's 500 KB for the rest of the body (parent, properties) and JSON's escapes.
MAX_BATCH_BYTES = limits.MAX_PAYLOAD_BYTES - 50_000
PAGE_SIZE = 100
# Notion answers within 60 s or gives up (and may still apply a write): wait a little longer than that.
DEFAULT_TIMEOUT_SECONDS = 65.0
# Statuses that say Notion did not apply the request, so any request may be sent again: 429 rate limited,
# 409 conflict while saving, 529 service overloaded. (500 and 503 may follow a write Notion applied after 60 s:
# only requests that are safe to repeat are retried on those; the official JS SDK does the same.)
RETRY_ANY_REQUEST = frozenset({409, 429, 529})

_request_observers: list[Callable[[httpx.Request], None]] = []


def observe_requests(observer: Callable[[httpx.Request], None]) -> Callable[[], None]:
    """Call `observer(request)` before every request any adapter sends (the tests hold each one to Notion's
    contract); returns the function that stops it."""
    _request_observers.append(observer)
    return lambda: _request_observers.remove(observer) if observer in _request_observers else None


def _notify_observers(request: httpx.Request) -> None:
    for observer in list(_request_observers):
        observer(request)


@dataclass
class NotionStats:
    """Counters for benchmarks and logs: requests sent (retries included), 429s seen, retries, seconds waited."""

    requests: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    retries: int = 0


def _retry_after_seconds(error: BaseException) -> float | None:
    headers = getattr(error, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class NotionAdapter:
    """Production adapter; point `base_url` at the local emulator and it works unchanged."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        throttle: Throttle | None = None,
        max_retries: int = 5,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        backoff_initial_seconds: float = 0.5,
        backoff_max_seconds: float = 20.0,
    ) -> None:
        options: dict[str, Any] = {
            "auth": token,
            "retry": False,  # retries are ours (below), so 429/5xx are not retried twice
            "timeout_ms": int(timeout_seconds * 1000),
            "log_level": logging.CRITICAL,  # we log failures ourselves, without request bodies
            "logger": logging.getLogger("aidlc.notion.client"),
        }
        if base_url:
            options["base_url"] = base_url.rstrip("/")
        self._client = Client(client=httpx.Client(event_hooks={"request": [_notify_observers]}), options=options)
        # One bucket per token: Notion's limit is per integration, and a user token is a different caller.
        self.throttle = throttle or Throttle.shared(hashlib.sha256(token.encode()).hexdigest()[:16])
        self.max_retries = max_retries
        self._backoff_initial = backoff_initial_seconds
        self._backoff_max = backoff_max_seconds
        self.stats = NotionStats()
        self._stats_lock = threading.Lock()
        self._me: dict | None = None
        self._property_types: dict[tuple[str, str], str] = {}
        self._typed_pages: set[str] = set()  # pages whose property types are all in _property_types

    def close(self) -> None:
        self._client.close()

    # --- the one request path ----------------------------------------------------------------------------------

    def _count(self, field: str) -> None:
        with self._stats_lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)

    def _request(self, call: Callable[[], Any], *, idempotent: bool) -> Any:
        def retryable(error: BaseException) -> bool:
            if isinstance(error, APIResponseError | HTTPResponseError):
                if error.status in RETRY_ANY_REQUEST:
                    return True
                return error.status >= 500 and idempotent
            if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
                return True  # the request never left
            return idempotent and isinstance(error, RequestTimeoutError | httpx.TransportError)

        backoff = wait_exponential_jitter(initial=self._backoff_initial, max=self._backoff_max, jitter=self._backoff_initial)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            retry_after = _retry_after_seconds(error) if error is not None else None
            if getattr(error, "status", None) == 429:
                # Pause the shared bucket: every thread of this integration waits, then this call retries.
                self.throttle.pause(retry_after if retry_after is not None else 1.0)
                return 0.0
            return backoff(state)

        def before_sleep(state: RetryCallState) -> None:
            self._count("retries")

        def attempt() -> Any:
            self.throttle.acquire()
            self._count("requests")
            try:
                return call()
            except (APIResponseError, HTTPResponseError) as error:
                if error.status == 429:
                    self._count("rate_limited")
                elif error.status >= 500:
                    self._count("server_errors")
                raise

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=wait,
            stop=stop_after_attempt(self.max_retries + 1),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except (APIResponseError, HTTPResponseError) as error:
            code = str(getattr(error.code, "value", error.code))  # APIErrorCode is a str enum; keep the wire value
            logger.warning("notion request failed: status=%s code=%s", error.status, code)
            raise error_for_status(error.status, code, str(error), _retry_after_seconds(error)) from error
        except (RequestTimeoutError, httpx.TransportError) as error:
            raise error_for_status(0, "network_error", f"no response from Notion: {error}") from error

    # --- users ---------------------------------------------------------------------------------------------------

    def me(self) -> dict:
        """The integration's bot user (`GET /v1/users/me`), cached."""
        if self._me is None:
            self._me = self._request(lambda: self._client.users.me(), idempotent=True)
        return self._me

    def list_users(self) -> list[dict]:
        return self._paginate(lambda cursor: self._client.users.list(**_cursor(cursor)), idempotent=True)

    # --- pages -----------------------------------------------------------------------------------------------

    def retrieve_page(self, page_id: str) -> dict:
        return self._request(lambda: self._client.pages.retrieve(page_id), idempotent=True)

    def page_snapshot(self, page: str | dict) -> PageSnapshot:
        """The page as the agents see it: title, plain property values, body as markdown."""
        if isinstance(page, str):
            page = self.retrieve_page(page)
        return PageSnapshot(
            page_id=page["id"],
            url=page.get("url") or "",
            title=page_title(page),
            properties=plain_properties(page),
            content_markdown=self.read_markdown(page["id"]),
            last_edited_time=page.get("last_edited_time"),
        )

    def create_page(
        self,
        *,
        parent_page_id: str | None = None,
        parent_data_source_id: str | None = None,
        title: str,
        properties: dict | None = None,
        markdown: str | None = None,
        title_property: str = "Name",
    ) -> dict:
        """Create a page under a page or in a data source; the body goes with it, the rest appended at 100 blocks
        a request. Returns the raw page."""
        if (parent_page_id is None) == (parent_data_source_id is None):
            raise ValueError("give exactly one of parent_page_id and parent_data_source_id")
        if parent_page_id is not None:
            parent = {"type": "page_id", "page_id": parent_page_id}
            # Under a plain page the only property is the title, keyed "title".
            props = {"title": {"title": split_rich_text(title)}} | dict(properties or {})
        else:
            parent = {"type": "data_source_id", "data_source_id": parent_data_source_id}
            props = {title_property: {"title": split_rich_text(title)}} | dict(properties or {})
        batches = _batch(markdown_to_blocks(markdown)) if markdown else []
        body: dict[str, Any] = {"parent": parent, "properties": props}
        inline = bool(batches) and _wire_size(body) + _wire_size(batches[0][0]) < MAX_BATCH_BYTES
        if inline:
            body["children"] = batches[0][0]  # the first batch goes with the page, unless the properties are large
        # Not idempotent: a retry after a 5xx could create the page twice.
        page = self._request(lambda: self._client.pages.create(**body), idempotent=False)
        if inline:
            first, deferred = batches[0]
            self._append_deferred(page["id"], first, deferred, created=None)
        for batch, deferred in batches[1 if inline else 0:]:
            result = self._request(
                lambda batch=batch: self._client.blocks.children.append(page["id"], children=batch),
                idempotent=False,
            )
            self._append_deferred(page["id"], batch, deferred, created=result.get("results", []))
        return page

    def update_properties(self, page_id: str, properties: dict) -> dict:
        """Set Notion-shaped property values, e.g. {"Pull Request": {"url": "https://..."}}."""
        return self._request(
            lambda: self._client.pages.update(page_id, properties=properties), idempotent=True
        )

    def set_status(self, page_id: str, property_name: str, value: str, *, more: dict | None = None) -> dict:
        """Set a Status property, whether the workspace made it a `status` or a `select` property. `more`: other
        Notion-shaped property values for the same PATCH, each sent only if the page has that property (one
        request for the story's status and the rest; a workspace without an optional property still works)."""
        kind = self._property_type(page_id, property_name)
        properties = {property_name: {kind: {"name": value}}}
        properties.update({name: shaped for name, shaped in (more or {}).items() if self._has_property(page_id, name)})
        return self.update_properties(page_id, properties)

    def _property_type(self, page_id: str, property_name: str) -> str:
        key = (page_id, property_name)
        if key not in self._property_types:
            page = self.retrieve_page(page_id)
            for name, prop in (page.get("properties") or {}).items():  # the page's every type, from one read
                self._property_types[(page_id, name)] = prop["type"]
            self._typed_pages.add(page_id)
            if key not in self._property_types:
                known = ", ".join(sorted(page.get("properties", {}))) or "none"
                raise error_for_status(
                    400, "validation_error", f"{property_name} is not a property that exists (page has: {known})."
                )
        return self._property_types[key]

    def _has_property(self, page_id: str, property_name: str) -> bool:
        if (page_id, property_name) in self._property_types:
            return True
        if page_id in self._typed_pages:
            return False
        try:
            self._property_type(page_id, property_name)
            return True
        except NotionError as exc:
            if exc.status != 400:
                raise
            return False

    def trash_page(self, page_id: str) -> dict:
        return self._request(lambda: self._client.pages.update(page_id, in_trash=True), idempotent=True)

    # --- blocks ----------------------------------------------------------------------------------------------

    def list_children(self, block_id: str) -> list[dict]:
        return self._paginate(
            lambda cursor: self._client.blocks.children.list(block_id, page_size=PAGE_SIZE, **_cursor(cursor)),
            idempotent=True,
        )

    def _children_tree(self, block_id: str) -> list[dict]:
        blocks = self.list_children(block_id)
        for block in blocks:
            if block.get("has_children") and block.get("type") not in ("child_page", "child_database"):
                block["children"] = self._children_tree(block["id"])
        return blocks

    def read_blocks(self, page_id: str) -> list[dict]:
        """Every block of the page, nested children under `children`."""
        return self._children_tree(page_id)

    def read_markdown(self, page_id: str) -> str:
        return blocks_to_markdown(self._children_tree(page_id))

    def append_markdown(self, page_id: str, markdown: str) -> None:
        self.append_blocks(page_id, markdown_to_blocks(markdown))

    def append_blocks(self, block_id: str, blocks: Sequence[dict]) -> None:
        """Append any number of blocks, in order, 100 (and at most 1,000 nested) per request."""
        self._append_blocks(block_id, list(blocks))

    def _append_blocks(self, block_id: str, blocks: list[dict]) -> None:
        for batch, deferred in _batch(blocks):
            # Not idempotent: a retried append after a 5xx could duplicate the blocks.
            result = self._request(
                lambda batch=batch: self._client.blocks.children.append(block_id, children=batch), idempotent=False
            )
            self._append_deferred(block_id, batch, deferred, created=result.get("results", []))

    def _append_deferred(
        self, parent_id: str, batch: list[dict], deferred: list[list[dict] | None], created: list[dict] | None
    ) -> None:
        """Children too deep or too many to send inline go to the new blocks once they exist."""
        if not any(deferred):
            return
        if created is None:  # page creation does not return the blocks: read them back
            created = self.list_children(parent_id)[: len(batch)]
        for block, children in zip(created, deferred, strict=False):
            if children:
                self._append_blocks(block["id"], children)

    # --- data sources and databases ----------------------------------------------------------------------------

    def query_data_source(
        self,
        data_source_id: str,
        *,
        filter: dict | None = None,
        sorts: list | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Pages of the data source (raw), following `has_more`/`next_cursor` up to `limit`."""
        body: dict[str, Any] = {}
        if filter:
            body["filter"] = filter
        if sorts:
            body["sorts"] = sorts
        results: list[dict] = []
        cursor: str | None = None
        while True:
            size = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit - len(results)))
            request = dict(body, page_size=size, **_cursor(cursor))
            page = self._request(
                lambda request=request: self._client.data_sources.query(data_source_id, **request), idempotent=True
            )
            results.extend(page.get("results", []))
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor or (limit is not None and len(results) >= limit):
                return results if limit is None else results[:limit]

    def retrieve_database(self, database_id: str) -> dict:
        """The database (title, parent, `data_sources` [{id, name}])."""
        return self._request(lambda: self._client.databases.retrieve(database_id), idempotent=True)

    def retrieve_data_source(self, data_source_id: str) -> dict:
        return self._request(lambda: self._client.data_sources.retrieve(data_source_id), idempotent=True)

    def create_database(self, *, parent_page_id: str, title: str, properties: dict) -> dict:
        """A database under a page, with its first data source; the result carries `data_sources[0].id`."""
        return self._request(
            lambda: self._client.databases.create(
                parent={"type": "page_id", "page_id": parent_page_id},
                title=split_rich_text(title),
                initial_data_source={"properties": properties},
            ),
            idempotent=False,
        )

    # --- comments, search --------------------------------------------------------------------------------------

    def create_comment(self, page_id: str, text: str, *, mention_user_ids: Sequence[str] = (),
                       discussion_id: str | None = None) -> dict:
        """A comment on the page, or, with `discussion_id`, a reply in that discussion (Notion takes one or the
        other)."""
        rich_text: list[dict] = []
        for user_id in mention_user_ids:
            rich_text.append({"type": "mention", "mention": {"type": "user", "user": {"id": user_id}}})
            rich_text.append({"type": "text", "text": {"content": " "}})
        rich_text = cap_rich_text(rich_text + split_rich_text(text, max_items=None))  # mentions kept, text capped
        return self._request(
            lambda: self._client.comments.create(
                **({"discussion_id": discussion_id} if discussion_id else {"parent": {"page_id": page_id}}),
                rich_text=rich_text),
            idempotent=False,
        )

    def list_comments(self, page_id: str) -> list[dict]:
        return self._paginate(
            lambda cursor: self._client.comments.list(block_id=page_id, **_cursor(cursor)), idempotent=True
        )

    def search(self, query: str, *, object_type: str | None = None) -> list[dict]:
        """Pages and data sources whose title matches; `object_type` "page" or "data_source" narrows it."""
        if object_type not in (None, "page", "data_source"):
            raise ValueError("object_type must be 'page', 'data_source' or None")
        body: dict[str, Any] = {"query": query}
        if object_type:
            body["filter"] = {"property": "object", "value": object_type}
        return self._paginate(
            lambda cursor: self._client.search(**body, page_size=PAGE_SIZE, **_cursor(cursor)), idempotent=True
        )

    # --- helpers ---------------------------------------------------------------------------------------------

    def _paginate(self, fetch: Callable[[str | None], dict], *, idempotent: bool) -> list[dict]:
        results: list[dict] = []
        cursor: str | None = None
        while True:
            page = self._request(lambda cursor=cursor: fetch(cursor), idempotent=idempotent)
            results.extend(page.get("results", []))
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return results


def _cursor(cursor: str | None) -> dict[str, str]:
    return {"start_cursor": cursor} if cursor else {}


def _count_blocks(block: dict) -> int:
    body = block.get(block.get("type", ""), {}) or {}
    return 1 + sum(_count_blocks(child) for child in body.get("children", []) or [])


def _split_children(block: dict) -> tuple[dict, list[dict] | None]:
    """Keep a block's children inline as far as Notion accepts them in one request (at most 100, no
    grandchildren); return the rest to append once the block exists. A table always keeps its first rows
    inline: Notion refuses a table created without any."""
    kind = block.get("type", "")
    body = block.get(kind) or {}
    children = body.get("children")
    if not children:
        return block, None
    if all(_count_blocks(child) == 1 for child in children):
        if len(children) <= MAX_BLOCKS_PER_APPEND:
            return block, None
        inline, later = children[:MAX_BLOCKS_PER_APPEND], children[MAX_BLOCKS_PER_APPEND:]
        return {**block, kind: {**body, "children": inline}}, list(later)
    bare = {**block, kind: {k: v for k, v in body.items() if k != "children"}}
    return bare, list(children)


def _wire_size(value: Any) -> int:
    """Bytes `value` takes in a request body, encoded as httpx encodes it (compact UTF-8 JSON)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _batch(blocks: list[dict]) -> list[tuple[list[dict], list[list[dict] | None]]]:
    """Blocks -> request-sized batches (<=100 top-level, <=1,000 in all, <=450 KB), each with the children
    deferred."""
    batches: list[tuple[list[dict], list[list[dict] | None]]] = []
    batch: list[dict] = []
    deferred: list[list[dict] | None] = []
    total = 0
    total_bytes = 0
    for block in blocks:
        sendable, later = _split_children(block)
        size = _count_blocks(sendable)
        size_bytes = _wire_size(sendable) + 1  # and its comma
        if batch and (
            len(batch) >= MAX_BLOCKS_PER_APPEND
            or total + size > MAX_BLOCKS_PER_REQUEST
            or total_bytes + size_bytes > MAX_BATCH_BYTES
        ):
            batches.append((batch, deferred))
            batch, deferred, total, total_bytes = [], [], 0, 0
        batch.append(sendable)
        deferred.append(later)
        total += size
        total_bytes += size_bytes
    if batch:
        batches.append((batch, deferred))
    return batches


# --- reading Notion objects ----------------------------------------------------------------------------------


def page_title(page: dict) -> str:
    """The page's title, whatever its title property is called."""
    for prop in (page.get("properties") or {}).values():
        if prop.get("type") == "title":
            return rich_text_plain(prop.get("title"))
    return ""


def plain_value(prop: dict) -> Any:
    """One Notion property value -> plain Python."""
    kind = prop.get("type")
    value = prop.get(kind) if kind else None
    if kind in ("title", "rich_text"):
        return rich_text_plain(value)
    if kind in ("status", "select"):
        return value.get("name") if value else None
    if kind == "multi_select":
        return [option.get("name") for option in value or []]
    if kind in ("people", "relation"):
        return [item.get("id") for item in value or []]
    if kind == "date":
        return value.get("start") if value else None
    if kind in ("created_by", "last_edited_by"):
        return value.get("id") if value else None
    if kind == "files":
        return [(item.get("external") or item.get("file") or {}).get("url") for item in value or []]
    if kind == "unique_id":
        return f"{value.get('prefix')}-{value.get('number')}" if value and value.get("prefix") else (value or {}).get("number")
    if kind == "formula":
        return (value or {}).get((value or {}).get("type", ""))
    if kind == "rollup":
        return (value or {}).get((value or {}).get("type", ""))
    return value  # number, url, email, phone_number, checkbox, created_time, last_edited_time


def plain_properties(page: dict) -> dict[str, Any]:
    """Notion property values -> plain Python: title/rich_text -> str, status/select -> name, number, people ->
    [ids], date -> start, url, relation -> [ids], checkbox."""
    return {name: plain_value(prop) for name, prop in (page.get("properties") or {}).items()}


def property_value(kind: str, value: Any) -> dict:
    """Plain Python -> the Notion value to write for a property of type `kind` (the inverse of `plain_value`)."""
    if kind in ("title", "rich_text"):
        return {kind: split_rich_text("" if value is None else str(value))}
    if kind in ("status", "select"):
        return {kind: {"name": str(value)} if value not in (None, "") else None}
    if kind == "multi_select":
        return {kind: [{"name": str(item)} for item in (value or [])]}
    if kind in ("people", "relation"):
        ids = [value] if isinstance(value, str) else list(value or [])
        return {kind: [{"id": item} for item in ids]}
    if kind == "date":
        return {kind: {"start": str(value)} if value else None}
    if kind == "checkbox":
        return {kind: bool(value)}
    if kind == "number":
        return {kind: None if value in (None, "") else float(value) if not isinstance(value, int) else value}
    if kind in ("url", "email", "phone_number"):
        return {kind: str(value) if value else None}
    raise NotionError(f"cannot write a property of type {kind!r}", status=400, code="validation_error")

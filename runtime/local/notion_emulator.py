"""A local Notion workspace: the subset of the Notion REST API (version 2025-09-03) that aidlc uses.

Same JSON shapes and errors as Notion, strict where Notion is strict (unknown properties, rich text over 2,000
characters, more than 100 blocks in one append, bad JSON, bad tokens, unknown ids), so the real adapter's splitting,
batching and retrying are exercised. State lives in SQLite under `state_dir`, so a restarted local stack keeps its
workspace. Webhook subscribers get the verification POST, then events signed as Notion signs them
(`X-Notion-Signature: sha256=<HMAC-SHA256 of the raw body keyed with the verification token>`).

Two tokens are issued: the integration's (its requests are made by the bot user, which `GET /v1/users/me`
returns) and a user token (a person, as if editing in Notion's own UI). Webhook `authors` and `last_edited_by`
follow whoever made the change.

Objects' `created_time` and `last_edited_time` are rounded down to the minute, as Notion's are, so two edits within
a minute look alike here as they do in Notion (the webhook must not mistake a person's re-trigger for a repeat).
Every request is first held to Notion's contract (`runtime.notion.contract`: the official SDK's types and the
documented limits) and refused with 400 `validation_error` where Notion would refuse it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import queue
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.local.server import ServerHandle, serve
from runtime.notion import limits
from runtime.notion.contract import contract

__all__ = ["NotionEmulator", "WorkspaceSeed", "serve", "ServerHandle", "sign_body"]

logger = logging.getLogger(__name__)

RICH_TEXT_LIMIT = limits.MAX_TEXT_CONTENT
MAX_CHILDREN = limits.MAX_BLOCKS_PER_ARRAY
MAX_BLOCKS_PER_REQUEST = limits.MAX_BLOCKS_PER_REQUEST
WORKSPACE_NAME = "Acme Product"

BLOCK_TYPES_WITH_TEXT = {
    "paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item", "numbered_list_item", "to_do",
    "toggle", "quote", "callout", "code",
}
BLOCK_TYPES = BLOCK_TYPES_WITH_TEXT | {"divider", "bookmark", "image", "embed", "table_of_contents", "child_page",
                                      "child_database", "table", "table_row"}
WRITABLE_PROPERTY_TYPES = {
    "title", "rich_text", "status", "select", "multi_select", "number", "url", "email", "phone_number", "people",
    "relation", "date", "checkbox",
}
PROPERTY_TYPES = WRITABLE_PROPERTY_TYPES | {"created_time", "last_edited_time", "created_by", "last_edited_by",
                                            "formula", "rollup", "files", "unique_id"}
EVENT_TYPES = ("page.properties_updated", "page.created", "page.deleted", "page.undeleted", "page.content_updated",
               "comment.created", "data_source.schema_updated")

DEFAULT_ANNOTATIONS = {"bold": False, "italic": False, "strikethrough": False, "underline": False, "code": False,
                       "color": "default"}


def sign_body(body: bytes, verification_token: str) -> str:
    """The `X-Notion-Signature` header value for `body`."""
    return "sha256=" + hmac.new(verification_token.encode(), body, hashlib.sha256).hexdigest()


def _now() -> str:
    """An object timestamp: Notion rounds `created_time` / `last_edited_time` down to the minute."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


def _instant() -> str:
    """An event timestamp, to the millisecond."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _multi(query: Any) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in query.multi_items():
        values.setdefault(key, []).append(value)
    return values


def _new_id() -> str:
    return str(uuid.uuid4())


_utf16_len = limits.js_length


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _validation(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def _normal_id(raw: str, what: str = "id") -> str:
    compact = raw.replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{32}", compact):
        raise _validation(f"path failed validation: path.{what} should be a valid uuid, instead was `\"{raw}\"`.")
    return str(uuid.UUID(compact))


@dataclass
class WorkspaceSeed:
    root_page_id: str
    stories_database_id: str
    stories_data_source_id: str
    dashboard_database_id: str
    dashboard_data_source_id: str
    story_page_ids: list[str] = field(default_factory=list)


@dataclass
class _Actor:
    user: dict
    token_kind: str  # "integration" | "user"

    @property
    def ref(self) -> dict:
        return {"object": "user", "id": self.user["id"]}

    @property
    def author(self) -> dict:
        return {"id": self.user["id"], "type": self.user["type"]}


class _RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()
        self.refused = 0

    def check(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            self.refused += 1
            retry_after = max(1, math.ceil((1 - self.tokens) / self.rate))
        raise ApiError(
            429, "rate_limited", "You have been rate limited. Please try again in a few minutes.",
            {"Retry-After": str(retry_after)},
        )


class _Store:
    """Objects as JSON rows in SQLite, keyed by (kind, id); `seq` keeps insertion order."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a local stand-in: durable enough, and no fsync per write
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS objects (kind TEXT, id TEXT, parent_id TEXT, seq INTEGER, body TEXT,"
            " PRIMARY KEY (kind, id))"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS objects_parent ON objects (kind, parent_id, seq)")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.lock = threading.RLock()
        self._seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM objects").fetchone()[0]

    def meta(self, key: str, default: Callable[[], str]) -> str:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            if row:
                return row[0]
            value = default()
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            return value

    def put(self, kind: str, obj: dict, parent_id: str | None = None) -> dict:
        with self.lock:
            row = self.db.execute("SELECT seq, parent_id FROM objects WHERE kind=? AND id=?", (kind, obj["id"])).fetchone()
            if row:
                self.db.execute(
                    "UPDATE objects SET body=? WHERE kind=? AND id=?", (json.dumps(obj), kind, obj["id"])
                )
            else:
                self._seq += 1
                seq = self._seq
                self.db.execute(
                    "INSERT INTO objects (kind, id, parent_id, seq, body) VALUES (?, ?, ?, ?, ?)",
                    (kind, obj["id"], parent_id, seq, json.dumps(obj)),
                )
            return obj

    def get(self, kind: str, object_id: str) -> dict | None:
        with self.lock:
            row = self.db.execute("SELECT body FROM objects WHERE kind=? AND id=?", (kind, object_id)).fetchone()
        return json.loads(row[0]) if row else None

    def children(self, kind: str, parent_id: str) -> list[dict]:
        with self.lock:
            rows = self.db.execute(
                "SELECT body FROM objects WHERE kind=? AND parent_id=? ORDER BY seq", (kind, parent_id)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def all(self, kind: str) -> list[dict]:
        with self.lock:
            rows = self.db.execute("SELECT body FROM objects WHERE kind=? ORDER BY seq", (kind,)).fetchall()
        return [json.loads(row[0]) for row in rows]


def _paginate(items: list[dict], start_cursor: str | None, page_size: Any, list_type: str) -> dict:
    if page_size is None:
        page_size = 100
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= 100:
        raise _validation(f"body failed validation: body.page_size should be ≤ `100`, instead was `{page_size}`.")
    start = 0
    if start_cursor:
        ids = [item["id"] for item in items]
        if start_cursor not in ids:
            raise _validation(f"body failed validation: start_cursor should be a valid cursor, instead was `{start_cursor}`.")
        start = ids.index(start_cursor)
    page = items[start : start + page_size]
    has_more = start + page_size < len(items)
    return {
        "object": "list",
        "results": page,
        "next_cursor": items[start + page_size]["id"] if has_more else None,
        "has_more": has_more,
        "type": list_type,
        list_type: {},
        "request_id": _new_id(),
    }


def _plain(prop: dict) -> Any:
    kind = prop["type"]
    value = prop.get(kind)
    if kind in ("title", "rich_text"):
        return "".join(item.get("plain_text", "") for item in value or [])
    if kind in ("status", "select"):
        return value["name"] if value else None
    if kind == "multi_select":
        return [option["name"] for option in value or []]
    if kind in ("people", "relation"):
        return [item["id"] for item in value or []]
    if kind == "date":
        return value["start"] if value else None
    return value


class NotionEmulator:
    """The workspace, its HTTP API (`app`, Starlette) and its webhook deliveries."""

    def __init__(
        self,
        state_dir: Path,
        *,
        requests_per_second: float | None = None,
        burst: int = 10,
        page_url_base: str = "https://www.notion.so",
    ) -> None:
        self.state_dir = Path(state_dir)
        self.store = _Store(self.state_dir / "notion.sqlite3")
        self.page_url_base = page_url_base.rstrip("/")
        self.limiter = _RateLimiter(requests_per_second, burst) if requests_per_second else None
        self.workspace_id = self.store.meta("workspace_id", _new_id)
        self.integration_id = self.store.meta("integration_id", _new_id)
        self.integration_token = self.store.meta("integration_token", lambda: "ntn_" + secrets.token_hex(20))
        self.user_token = self.store.meta("user_token", lambda: "ntn_user_" + secrets.token_hex(20))
        self.bot_user = self._ensure_user(
            "bot_user_id",
            lambda user_id: {
                "object": "user", "id": user_id, "name": "aidlc", "avatar_url": None, "type": "bot",
                "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": WORKSPACE_NAME,
                        "workspace_id": self.workspace_id,
                        "workspace_limits": {"max_file_upload_size_in_bytes": 5 * 1024 * 1024}},
            },
        )
        self.person_user = self._ensure_user(
            "person_user_id",
            lambda user_id: {
                "object": "user", "id": user_id, "name": "Priya Product", "avatar_url": None, "type": "person",
                "person": {"email": "priya@example.com"},
            },
        )
        self.request_count = 0
        self._injected: list[int] = []  # statuses the next requests answer with (tests of retry behaviour)
        # (status, path part, method): the next matching writes answer with status after being applied
        self._injected_after_apply: list[tuple[int, str, str]] = []
        self._deliveries: queue.Queue[tuple[str, bytes, str] | None] = queue.Queue()
        self._pending = 0
        self._pending_cond = threading.Condition()
        self._delivery_thread: threading.Thread | None = None
        self.delivered: list[dict] = []  # (for tests and the dashboard) every event sent, newest last
        self.app = Starlette(
            routes=[Route("/v1/{path:path}", self._endpoint, methods=["GET", "POST", "PATCH", "DELETE"])]
        )
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"users/me"), self._users_me),
            ("GET", re.compile(r"users"), self._users_list),
            ("GET", re.compile(r"users/(?P<user_id>[^/]+)"), self._users_retrieve),
            ("POST", re.compile(r"pages"), self._pages_create),
            ("GET", re.compile(r"pages/(?P<page_id>[^/]+)"), self._pages_retrieve),
            ("PATCH", re.compile(r"pages/(?P<page_id>[^/]+)"), self._pages_update),
            ("GET", re.compile(r"blocks/(?P<block_id>[^/]+)/children"), self._blocks_children_list),
            ("PATCH", re.compile(r"blocks/(?P<block_id>[^/]+)/children"), self._blocks_children_append),
            ("GET", re.compile(r"blocks/(?P<block_id>[^/]+)"), self._blocks_retrieve),
            ("DELETE", re.compile(r"blocks/(?P<block_id>[^/]+)"), self._blocks_delete),
            ("POST", re.compile(r"databases"), self._databases_create),
            ("GET", re.compile(r"databases/(?P<database_id>[^/]+)"), self._databases_retrieve),
            ("GET", re.compile(r"data_sources/(?P<data_source_id>[^/]+)"), self._data_sources_retrieve),
            ("POST", re.compile(r"data_sources/(?P<data_source_id>[^/]+)/query"), self._data_sources_query),
            ("POST", re.compile(r"comments"), self._comments_create),
            ("GET", re.compile(r"comments"), self._comments_list),
            ("POST", re.compile(r"search"), self._search),
        ]

    def _ensure_user(self, key: str, make: Callable[[str], dict]) -> dict:
        # Written on every start, so a workspace kept from an older emulator gets today's user shape.
        return self.store.put("user", make(self.store.meta(key, _new_id)))

    # --- HTTP ------------------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            result = self._handle(request.method, request.path_params["path"], request.headers, request.query_params, raw)
            applied_then_failed = None
            with self.store.lock:
                for index, (status, where, method) in enumerate(self._injected_after_apply):
                    if request.method == method and where in request.path_params["path"]:
                        applied_then_failed = self._injected_after_apply.pop(index)[0]
                        break
            if applied_then_failed:  # done, but the caller is told otherwise (a timeout, a 504)
                raise ApiError(applied_then_failed, "gateway_timeout", "Notion is unavailable, please try again later.")
            return JSONResponse(result)
        except ApiError as error:
            body = {"object": "error", "status": error.status, "code": error.code, "message": error.message,
                    "request_id": _new_id()}
            return JSONResponse(body, status_code=error.status, headers=error.headers)

    def _handle(self, method: str, path: str, headers: Any, query: Any, raw: bytes) -> dict:
        self.request_count += 1
        actor = self._authenticate(headers.get("authorization", ""))
        if self.limiter:
            self.limiter.check()
        with self.store.lock:
            if self._injected:
                status = self._injected.pop(0)
                code = {409: "conflict_error", 500: "internal_server_error", 502: "bad_gateway",
                        503: "service_unavailable", 504: "gateway_timeout",
                        529: "service_overload"}.get(status, "internal_server_error")
                message = {409: "Conflict occurred while saving. Please try again.",
                           500: "Unexpected error occurred."}.get(status, "Notion is unavailable, please try again later.")
                raise ApiError(status, code, message)
        if not headers.get("notion-version"):
            raise ApiError(400, "missing_version",
                           "Notion-Version header failed validation: Notion-Version header should be defined, "
                           "instead was `undefined`.")
        body: dict = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None
            if not isinstance(body, dict):
                raise ApiError(400, "invalid_json", "Error parsing JSON body.")
        path = path.strip("/")
        # Notion's own contract first (the official SDK's types and the documented limits): the emulator refuses
        # whatever Notion refuses, so the adapter can never pass a test with a request Notion would reject.
        if contract().endpoint(method, path) is not None:
            problems = contract().check_request(method, path, _multi(query), raw)
            if problems:
                raise _validation(problems[0] if len(problems) == 1 else
                                  "body failed validation. Fix one:\n" + "\n".join(problems[:5]))
        path_matched = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            path_matched = True
            if route_method != method:
                continue
            with self.store.lock:
                return handler(actor=actor, body=body, query=query, **match.groupdict())
        if path_matched:
            raise ApiError(405, "invalid_request", f"Unsupported request method: {method}.")
        raise ApiError(400, "invalid_request_url", "Invalid request URL.")

    def _authenticate(self, authorization: str) -> _Actor:
        token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
        if token and hmac.compare_digest(token, self.integration_token):
            return _Actor(self.bot_user, "integration")
        if token and hmac.compare_digest(token, self.user_token):
            return _Actor(self.person_user, "user")
        raise ApiError(401, "unauthorized", "API token is invalid.")

    # --- users -------------------------------------------------------------------------------------------------

    def _users_me(self, *, actor: _Actor, **_: Any) -> dict:
        return actor.user

    def _users_list(self, *, query: Any, **_: Any) -> dict:
        return _paginate(self.store.all("user"), query.get("start_cursor"), _int(query.get("page_size")), "user")

    def _users_retrieve(self, *, user_id: str, **_: Any) -> dict:
        user = self.store.get("user", _normal_id(user_id, "user_id"))
        if user is None:
            raise ApiError(404, "object_not_found", f"Could not find user with ID: {user_id}.")
        return user

    # --- pages -------------------------------------------------------------------------------------------------

    def _stored(self, kind: str, object_id: str, raw: str | None = None) -> dict:
        """The stored page, data_source, database or block, else Notion's 404 (`raw`: the id as the request wrote
        it, which the message quotes)."""
        found = self.store.get(kind, object_id)
        if found is None:
            raise ApiError(404, "object_not_found",
                           f"Could not find {kind} with ID: {raw or object_id}. Make sure the relevant pages and "
                           "databases are shared with your integration.")
        return found

    def _page(self, page_id: str, *, raw: str | None = None) -> dict:
        return self._stored("page", page_id, raw)

    def _data_source(self, data_source_id: str, raw: str | None = None) -> dict:
        return self._stored("data_source", data_source_id, raw)

    def _page_url(self, title: str, page_id: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
        return f"{self.page_url_base}/{quote(slug)}-{page_id.replace('-', '')}" if slug else \
            f"{self.page_url_base}/{page_id.replace('-', '')}"

    def _pages_create(self, *, actor: _Actor, body: dict, **_: Any) -> dict:
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise _validation("body failed validation: body.parent should be defined, instead was `undefined`.")
        properties_in = body.get("properties") or {}
        if not isinstance(properties_in, dict):
            raise _validation("body failed validation: body.properties should be an object.")
        page_id = _new_id()
        source: dict | None = None
        if "data_source_id" in parent or "database_id" in parent:
            if "data_source_id" in parent:
                source = self._data_source(_normal_id(str(parent["data_source_id"]), "data_source_id"))
            else:
                database = self._database(_normal_id(str(parent["database_id"]), "database_id"))
                source = self._data_source(database["data_sources"][0]["id"])
            stored_parent = {"type": "data_source_id", "data_source_id": source["id"],
                             "database_id": source["parent"]["database_id"]}
            properties = self._defaults(source)
            properties.update(self._property_values(source["properties"], properties_in, source))
            parent_key = source["id"]
        elif "page_id" in parent:
            parent_page = self._page(_normal_id(str(parent["page_id"]), "page_id"))
            stored_parent = {"type": "page_id", "page_id": parent_page["id"]}
            properties = {"title": {"id": "title", "type": "title", "title": []}}
            properties.update(self._property_values(_TITLE_ONLY_SCHEMA, properties_in, None))
            parent_key = parent_page["id"]
        elif parent.get("type") == "workspace" or parent.get("workspace") is True:
            stored_parent = {"type": "workspace", "workspace": True}
            properties = {"title": {"id": "title", "type": "title", "title": []}}
            properties.update(self._property_values(_TITLE_ONLY_SCHEMA, properties_in, None))
            parent_key = "workspace"
        else:
            raise _validation("body failed validation: body.parent should be one of page_id, data_source_id, "
                              "database_id, workspace.")
        children = body.get("children") or []
        self._validate_children(children, "body.children")
        if source is not None:
            self.store.put("data_source", source)  # select options first used by this page
        now = _now()
        title = _plain(next(p for p in properties.values() if p["type"] == "title"))
        page = {
            "object": "page", "id": page_id, "created_time": now, "last_edited_time": now,
            "created_by": actor.ref, "last_edited_by": actor.ref, "cover": body.get("cover"),
            "icon": body.get("icon"), "parent": stored_parent, "in_trash": False, "archived": False,
            "is_archived": False, "is_locked": False, "properties": properties, "url": self._page_url(title, page_id), "public_url": None,
        }
        self.store.put("page", page, parent_key)
        if stored_parent["type"] == "page_id":
            self._store_block(actor, stored_parent["page_id"], {"type": "child_page", "child_page": {"title": title}},
                              block_id=page_id)
        self._store_blocks(actor, page_id, children)
        self._emit("page.created", actor, {"id": page_id, "type": "page"}, {"parent": self._event_parent(page)})
        return page

    def _pages_retrieve(self, *, page_id: str, **_: Any) -> dict:
        return self._page(_normal_id(page_id, "page_id"), raw=page_id)

    def _pages_update(self, *, actor: _Actor, page_id: str, body: dict, **_: Any) -> dict:
        page = self._page(_normal_id(page_id, "page_id"), raw=page_id)
        trash = body.get("in_trash", body.get("archived"))
        if page["in_trash"] and trash is not False:
            raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
        properties_in = body.get("properties") or {}
        if not isinstance(properties_in, dict):
            raise _validation("body failed validation: body.properties should be an object.")
        source = None
        schema = _TITLE_ONLY_SCHEMA
        if page["parent"]["type"] == "data_source_id":
            source = self._data_source(page["parent"]["data_source_id"])
            schema = source["properties"]
        values = self._property_values(schema, properties_in, source)
        if source is not None:
            self.store.put("data_source", source)  # select options first used by this update
        changed = [name for name, value in values.items() if page["properties"].get(name) != value]
        page["properties"].update(values)
        for key in ("icon", "cover"):
            if key in body:
                page[key] = body[key]
        trash_changed = trash is not None and bool(trash) != page["in_trash"]
        if trash is not None:
            page["in_trash"] = page["archived"] = page["is_archived"] = bool(trash)
        if changed or trash_changed or "icon" in body or "cover" in body:
            page["last_edited_time"] = _now()
            page["last_edited_by"] = actor.ref
        title = _plain(next(p for p in page["properties"].values() if p["type"] == "title"))
        page["url"] = self._page_url(title, page["id"])
        self.store.put("page", page)
        if changed:
            self._run_automations(page, changed)
            self._emit(
                "page.properties_updated", actor, {"id": page["id"], "type": "page"},
                {"parent": self._event_parent(page),
                 "updated_properties": [page["properties"][name]["id"] for name in changed]},
            )
        if trash_changed:
            self._emit("page.deleted" if page["in_trash"] else "page.undeleted", actor,
                       {"id": page["id"], "type": "page"}, {"parent": self._event_parent(page)})
        return page

    def _event_parent(self, page: dict) -> dict:
        parent = page["parent"]
        if parent["type"] == "data_source_id":
            return {"id": parent["database_id"], "type": "database", "data_source_id": parent["data_source_id"]}
        if parent["type"] == "page_id":
            return {"id": parent["page_id"], "type": "page"}
        return {"id": self.workspace_id, "type": "space"}

    # --- properties ----------------------------------------------------------------------------------------

    def _defaults(self, source: dict) -> dict:
        values = {}
        for name, schema in source["properties"].items():
            kind = schema["type"]
            default: Any = None
            if kind in ("title", "rich_text", "multi_select", "people", "relation", "files"):
                default = []
            elif kind == "checkbox":
                default = False
            elif kind == "status":
                options = schema["status"].get("options", [])
                default = _option(options[0]) if options else None
            values[name] = {"id": schema["id"], "type": kind, kind: default}
            if kind == "relation":
                values[name]["has_more"] = False
        return values

    def _property_values(self, schema: dict, values: dict, source: dict | None) -> dict:
        by_id = {prop["id"]: name for name, prop in schema.items()}
        out: dict[str, dict] = {}
        for key, value in values.items():
            name = key if key in schema else by_id.get(key) or by_id.get(quote(key, safe=""))
            if name is None:
                raise _validation(f"{key} is not a property that exists.")
            prop = schema[name]
            out[name] = self._property_value(name, prop, value, source)
        return out

    def _property_value(self, name: str, prop: dict, value: Any, source: dict | None) -> dict:
        kind = prop["type"]
        where = f"body.properties.{name}"
        if kind not in WRITABLE_PROPERTY_TYPES:
            raise _validation(f"{name} is a {kind} property, which cannot be set through the API.")
        if not isinstance(value, dict):
            raise _validation(f"body failed validation: {where} should be an object, instead was `{json.dumps(value)}`.")
        given = value.get(kind, ...) if kind in value else ...
        if given is ...:
            other = next((k for k in value if k in PROPERTY_TYPES), None)
            if other is not None:
                raise _validation(f"{name} is expected to be {kind}.")
            raise _validation(f"body failed validation: {where}.{kind} should be defined, instead was `undefined`.")
        result: dict[str, Any] = {"id": prop["id"], "type": kind}
        if kind in ("title", "rich_text"):
            result[kind] = self._rich_text(given, f"{where}.{kind}")
        elif kind in ("status", "select"):
            result[kind] = self._option_value(name, prop, given, source, kind)
        elif kind == "multi_select":
            if not isinstance(given, list):
                raise _validation(f"body failed validation: {where}.multi_select should be an array.")
            result[kind] = [self._option_value(name, prop, item, source, kind) for item in given]
        elif kind == "number":
            if given is not None and (isinstance(given, bool) or not isinstance(given, int | float)):
                raise _validation(f"body failed validation: {where}.number should be a number or `null`, instead was `{json.dumps(given)}`.")
            result[kind] = given
        elif kind in ("url", "email", "phone_number"):
            if given is not None and not isinstance(given, str):
                raise _validation(f"body failed validation: {where}.{kind} should be a string or `null`.")
            if isinstance(given, str) and _utf16_len(given) > RICH_TEXT_LIMIT:
                raise _validation(f"body failed validation: {where}.{kind}.length should be ≤ `{RICH_TEXT_LIMIT}`, instead was `{_utf16_len(given)}`.")
            result[kind] = given or None
        elif kind in ("people", "relation"):
            if not isinstance(given, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in given):
                raise _validation(f"body failed validation: {where}.{kind} should be an array of objects with an id.")
            ids = [_normal_id(item["id"], f"properties.{name}.{kind}.id") for item in given]
            if kind == "people":
                for user_id in ids:
                    if self.store.get("user", user_id) is None:
                        raise _validation(f"Could not find user with ID: {user_id}.")
                result[kind] = [{"object": "user", "id": user_id} for user_id in ids]
            else:
                result[kind] = [{"id": page_id} for page_id in ids]
                result["has_more"] = False
        elif kind == "date":
            if given is not None and (not isinstance(given, dict) or not isinstance(given.get("start"), str)):
                raise _validation(f"body failed validation: {where}.date.start should be defined.")
            result[kind] = None if given is None else {"start": given["start"], "end": given.get("end"),
                                                        "time_zone": given.get("time_zone")}
        elif kind == "checkbox":
            if not isinstance(given, bool):
                raise _validation(f"body failed validation: {where}.checkbox should be a boolean.")
            result[kind] = given
        return result

    def _option_value(self, name: str, prop: dict, given: Any, source: dict | None, kind: str) -> dict | None:
        if given is None:
            if kind == "status":
                raise _validation(f"body failed validation: body.properties.{name}.status should be an object.")
            return None
        if not isinstance(given, dict) or not ({"name", "id"} & set(given)):
            raise _validation(f"body failed validation: body.properties.{name}.{kind} should be an object with a name or id.")
        options = prop[prop["type"]].setdefault("options", [])
        for option in options:
            if option["name"] == given.get("name") or option["id"] == given.get("id"):
                return _option(option)
        if kind == "status":
            label = given.get("name", given.get("id"))
            raise _validation(f"Invalid status option. Status option \"{label}\" does not exist\".")
        if "name" not in given:
            raise _validation(f"Invalid select option id for {name}: {given.get('id')}.")
        if "," in given["name"]:
            raise _validation(f"Invalid select option, commas not allowed: {given['name']}")
        # Notion creates a select option the first time a value is used.
        option = {"id": secrets.token_hex(2), "name": given["name"], "color": given.get("color", "default"),
                  "description": None}
        options.append(option)
        # Saved by the caller once the whole request is valid: a refused request writes nothing.
        return _option(option)

    def _rich_text(self, items: Any, where: str) -> list[dict]:
        if not isinstance(items, list):
            raise _validation(f"body failed validation: {where} should be an array, instead was `{json.dumps(items)[:50]}`.")
        if len(items) > 100:
            raise _validation(f"body failed validation: {where}.length should be ≤ `100`, instead was `{len(items)}`.")
        out = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise _validation(f"body failed validation: {where}[{index}] should be an object.")
            kind = item.get("type") or ("text" if "text" in item else "mention" if "mention" in item else None)
            annotations = DEFAULT_ANNOTATIONS | (item.get("annotations") or {})
            if kind == "text":
                text = item.get("text")
                if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                    raise _validation(f"body failed validation: {where}[{index}].text.content should be defined, instead was `undefined`.")
                content = text["content"]
                length = _utf16_len(content)
                if length > RICH_TEXT_LIMIT:
                    raise _validation(
                        f"body failed validation: {where}[{index}].text.content.length should be ≤ "
                        f"`{RICH_TEXT_LIMIT}`, instead was `{length}`."
                    )
                link = text.get("link")
                href = link.get("url") if isinstance(link, dict) else None
                out.append({"type": "text", "text": {"content": content, "link": {"url": href} if href else None},
                            "annotations": annotations, "plain_text": content, "href": href})
            elif kind == "mention":
                mention = item.get("mention") or {}
                if mention.get("type") == "user" or "user" in mention:
                    user_id = _normal_id(str((mention.get("user") or {}).get("id", "")), f"{where}[{index}].mention.user.id")
                    user = self.store.get("user", user_id)
                    if user is None:
                        raise _validation(f"Could not find user with ID: {user_id}.")
                    out.append({"type": "mention", "mention": {"type": "user", "user": {"object": "user", "id": user_id}},
                                "annotations": annotations, "plain_text": f"@{user['name']}", "href": None})
                elif mention.get("type") == "page" or "page" in mention:
                    target = _normal_id(str((mention.get("page") or {}).get("id", "")), f"{where}[{index}].mention.page.id")
                    out.append({"type": "mention", "mention": {"type": "page", "page": {"id": target}},
                                "annotations": annotations, "plain_text": "Untitled", "href": None})
                else:
                    raise _validation(f"body failed validation: {where}[{index}].mention should be a user or page mention.")
            else:
                raise _validation(f"body failed validation: {where}[{index}].type should be `text` or `mention`.")
        return out

    # --- blocks ----------------------------------------------------------------------------------------------

    def _validate_children(self, children: Any, where: str, depth: int = 0, parent_kind: str | None = None) -> int:
        if not isinstance(children, list):
            raise _validation(f"body failed validation: {where} should be an array.")
        if len(children) > MAX_CHILDREN:
            raise _validation(
                f"body failed validation: {where}.length should be ≤ `{MAX_CHILDREN}`, instead was `{len(children)}`."
            )
        total = 0
        for index, block in enumerate(children):
            if not isinstance(block, dict):
                raise _validation(f"body failed validation: {where}[{index}] should be an object.")
            kind = _block_type(block)
            if kind is None or kind not in BLOCK_TYPES or kind in ("child_page", "child_database"):
                raise _validation(f"body failed validation: {where}[{index}] should have a supported block type.")
            body = block.get(kind)
            if not isinstance(body, dict):
                raise _validation(f"body failed validation: {where}[{index}].{kind} should be an object.")
            if kind in BLOCK_TYPES_WITH_TEXT:
                self._rich_text(body.get("rich_text", []), f"{where}[{index}].{kind}.rich_text")
            if (kind == "table_row") != (parent_kind == "table"):
                raise _validation(f"body failed validation: {where}[{index}]: table_row blocks belong in a table.")
            if kind == "table":
                width = body.get("table_width")
                if not isinstance(width, int) or width < 1:
                    raise _validation(f"body failed validation: {where}[{index}].table.table_width should be a positive integer.")
                if not body.get("children"):
                    raise _validation(f"body failed validation: {where}[{index}].table.children should be defined.")
            if kind == "table_row":
                cells = body.get("cells")
                if not isinstance(cells, list):
                    raise _validation(f"body failed validation: {where}[{index}].table_row.cells should be an array.")
                for cell_index, cell in enumerate(cells):
                    self._rich_text(cell, f"{where}[{index}].table_row.cells[{cell_index}]")
            total += 1
            nested = body.get("children")
            if nested:
                if depth >= limits.MAX_NESTING:
                    raise _validation(f"body failed validation: {where}[{index}].{kind}.children should be not present.")
                total += self._validate_children(nested, f"{where}[{index}].{kind}.children", depth + 1, kind)
        if depth == 0 and total > MAX_BLOCKS_PER_REQUEST:
            raise _validation(f"body failed validation: the request has {total} blocks; at most {MAX_BLOCKS_PER_REQUEST} are allowed.")
        return total

    def _store_block(self, actor: _Actor, parent_id: str, block: dict, *, block_id: str | None = None) -> dict:
        kind = _block_type(block) or "paragraph"
        body = dict(block.get(kind) or {})
        children = body.pop("children", None) or []
        if kind in BLOCK_TYPES_WITH_TEXT:
            body["rich_text"] = self._rich_text(body.get("rich_text", []), "block.rich_text")
            body.setdefault("color", "default")
        for default_kind, defaults in _BLOCK_DEFAULTS.items():
            if kind == default_kind or (default_kind == "heading" and kind.startswith("heading_")):
                for name, value in defaults.items():
                    body.setdefault(name, value)
        if kind == "code":
            body.setdefault("language", "plain text")
            body.setdefault("caption", [])
        if kind == "to_do":
            body["checked"] = bool(body.get("checked", False))
        if kind == "table_row":
            body["cells"] = [self._rich_text(cell, "block.table_row.cells") for cell in body.get("cells", [])]
        now = _now()
        parent_page = self.store.get("page", parent_id)
        is_page_parent = parent_page is not None and block_id != parent_id
        stored = {
            "object": "block", "id": block_id or _new_id(),
            "parent": {"type": "page_id", "page_id": parent_id} if is_page_parent else {"type": "block_id", "block_id": parent_id},
            "created_time": now, "last_edited_time": now, "created_by": actor.ref, "last_edited_by": actor.ref,
            "has_children": bool(children), "archived": False, "in_trash": False, "type": kind, kind: body,
        }
        self.store.put("block", stored, parent_id)
        if children:
            self._store_blocks(actor, stored["id"], children)
        return stored

    def _store_blocks(self, actor: _Actor, parent_id: str, children: list[dict]) -> list[dict]:
        stored = [self._store_block(actor, parent_id, block) for block in children]
        if stored:
            parent_block = self.store.get("block", parent_id)
            if parent_block is not None and not parent_block["has_children"]:
                parent_block["has_children"] = True
                self.store.put("block", parent_block)
        return stored

    def _container(self, block_id: str, raw: str) -> tuple[str, dict | None]:
        """A page or block that can hold children; returns (id, page or None)."""
        page = self.store.get("page", block_id)
        if page is not None:
            return block_id, page
        self._stored("block", block_id, raw)
        return block_id, None

    def _blocks_children_list(self, *, block_id: str, query: Any, **_: Any) -> dict:
        container, _page = self._container(_normal_id(block_id, "block_id"), block_id)
        blocks = [b for b in self.store.children("block", container) if not b["in_trash"]]
        return _paginate(blocks, query.get("start_cursor"), _int(query.get("page_size")), "block")

    def _blocks_children_append(self, *, actor: _Actor, block_id: str, body: dict, **_: Any) -> dict:
        container, page = self._container(_normal_id(block_id, "block_id"), block_id)
        if page is not None and page["in_trash"]:
            raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
        if "children" not in body:
            raise _validation("body failed validation: body.children should be defined, instead was `undefined`.")
        parent_block = self.store.get("block", container) if page is None else None
        parent_kind = "table" if parent_block is not None and parent_block["type"] == "table" else None
        self._validate_children(body["children"], "body.children", parent_kind=parent_kind)
        stored = self._store_blocks(actor, container, body["children"])
        owner = page or self._owning_page(container)
        if owner is not None:
            owner["last_edited_time"] = _now()
            owner["last_edited_by"] = actor.ref
            self.store.put("page", owner)
            self._emit("page.content_updated", actor, {"id": owner["id"], "type": "page"},
                       {"parent": self._event_parent(owner), "updated_blocks": [{"id": b["id"], "type": "block"} for b in stored]})
        return {"object": "list", "results": stored, "next_cursor": None, "has_more": False, "type": "block",
                "block": {}, "request_id": _new_id()}

    def _owning_page(self, block_id: str) -> dict | None:
        for _ in range(50):
            block = self.store.get("block", block_id)
            if block is None:
                return self.store.get("page", block_id)
            parent = block["parent"]
            block_id = parent.get("page_id") or parent.get("block_id")
            if parent["type"] == "page_id":
                return self.store.get("page", block_id)
        return None

    def _blocks_retrieve(self, *, block_id: str, **_: Any) -> dict:
        return self._stored("block", _normal_id(block_id, "block_id"), block_id)

    def _blocks_delete(self, *, block_id: str, **kw: Any) -> dict:
        block = self._blocks_retrieve(block_id=block_id)
        block["in_trash"] = block["archived"] = True
        self.store.put("block", block)
        return block

    # --- databases and data sources ------------------------------------------------------------------------

    def _database(self, database_id: str, raw: str | None = None) -> dict:
        return self._stored("database", database_id, raw)

    def _databases_create(self, *, actor: _Actor, body: dict, **_: Any) -> dict:
        parent = body.get("parent")
        if not isinstance(parent, dict) or "page_id" not in parent:
            raise _validation("body failed validation: body.parent.page_id should be defined, instead was `undefined`.")
        parent_page = self._page(_normal_id(str(parent["page_id"]), "page_id"))
        title = self._rich_text(body.get("title") or [], "body.title")
        initial = body.get("initial_data_source") or {}
        properties_in = initial.get("properties") if isinstance(initial, dict) else None
        if properties_in is None:
            properties_in = body.get("properties")  # older clients send properties at the top level
        if not isinstance(properties_in, dict) or not properties_in:
            raise _validation("body failed validation: body.initial_data_source.properties should be defined.")
        schema = self._schema(properties_in)
        database_id, data_source_id = _new_id(), _new_id()
        now = _now()
        title_text = "".join(item["plain_text"] for item in title)
        database = {
            "object": "database", "id": database_id, "title": title, "description": [],
            "parent": {"type": "page_id", "page_id": parent_page["id"]}, "is_inline": bool(body.get("is_inline")),
            "in_trash": False, "archived": False, "is_locked": False, "created_time": now, "last_edited_time": now,
            "data_sources": [{"id": data_source_id, "name": title_text}], "icon": body.get("icon"),
            "cover": body.get("cover"), "url": self._page_url(title_text, database_id), "public_url": None,
        }
        source = {
            "object": "data_source", "id": data_source_id, "created_time": now, "last_edited_time": now,
            "created_by": actor.ref, "last_edited_by": actor.ref, "properties": schema,
            "parent": {"type": "database_id", "database_id": database_id},
            "database_parent": {"type": "page_id", "page_id": parent_page["id"]}, "archived": False,
            "in_trash": False, "is_inline": database["is_inline"], "icon": None, "cover": None,
            "url": self._page_url(title_text, data_source_id), "public_url": None, "title": title, "description": [],
        }
        self.store.put("database", database, parent_page["id"])
        self.store.put("data_source", source, database_id)
        self._store_block(actor, parent_page["id"], {"type": "child_database", "child_database": {"title": title_text}},
                          block_id=database_id)
        return database

    def _schema(self, properties_in: dict) -> dict:
        schema: dict[str, dict] = {}
        for name, config in properties_in.items():
            if not isinstance(config, dict):
                raise _validation(f"body failed validation: properties.{name} should be an object.")
            kind = config.get("type") or next((k for k in config if k in PROPERTY_TYPES), None)
            if kind is None or kind not in PROPERTY_TYPES:
                raise _validation(f"body failed validation: properties.{name} should have a supported property type.")
            detail = dict(config.get(kind) or {})
            if kind == "relation":
                # A relation can only point at a data source, which must exist (the contract requires the id).
                target = self._data_source(_normal_id(str(detail.get("data_source_id")), "data_source_id"))
                detail.setdefault("type", "single_property" if "single_property" in detail else "dual_property")
                detail["database_id"] = target["parent"]["database_id"]
            if kind in ("status", "select", "multi_select"):
                detail["options"] = [
                    {"id": secrets.token_hex(2), "name": option["name"], "color": option.get("color", "default"),
                     "description": option.get("description")}
                    for option in detail.get("options", [])
                ]
                if kind == "status":
                    ids = [option["id"] for option in detail["options"]]
                    detail["groups"] = [{"id": secrets.token_hex(2), "name": "To-do", "color": "gray", "option_ids": ids[:1]},
                                        {"id": secrets.token_hex(2), "name": "In progress", "color": "blue", "option_ids": ids[1:]},
                                        {"id": secrets.token_hex(2), "name": "Complete", "color": "green", "option_ids": []}]
            property_id = "title" if kind == "title" else quote(secrets.token_urlsafe(3)[:4], safe="")
            schema[name] = {"id": property_id, "name": name, "description": config.get("description"), "type": kind,
                            kind: detail}
        if sum(1 for prop in schema.values() if prop["type"] == "title") != 1:
            raise _validation("Database must have exactly one title property.")
        return schema

    def _databases_retrieve(self, *, database_id: str, **_: Any) -> dict:
        return self._database(_normal_id(database_id, "database_id"), database_id)

    def _data_sources_retrieve(self, *, data_source_id: str, **_: Any) -> dict:
        return self._data_source(_normal_id(data_source_id, "data_source_id"), data_source_id)

    def _data_sources_query(self, *, data_source_id: str, body: dict, **_: Any) -> dict:
        source = self._data_source(_normal_id(data_source_id, "data_source_id"), data_source_id)
        pages = [page for page in self.store.children("page", source["id"]) if not page["in_trash"]]
        if body.get("filter"):
            matches = _compile_filter(body["filter"], source["properties"], "body.filter")
            pages = [page for page in pages if matches(page)]
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list):
            raise _validation("body failed validation: body.sorts should be an array.")
        for sort in reversed(sorts):
            pages = _sorted(pages, sort, source["properties"])
        return _paginate(pages, body.get("start_cursor"), body.get("page_size"), "page_or_data_source")

    # --- comments ----------------------------------------------------------------------------------------------

    def _comments_create(self, *, actor: _Actor, body: dict, **_: Any) -> dict:
        parent = body.get("parent")
        discussion_id = body.get("discussion_id")
        if isinstance(parent, dict) and "page_id" in parent:
            page = self._page(_normal_id(str(parent["page_id"]), "page_id"))
            discussion_id = discussion_id or _new_id()
        elif discussion_id:
            earlier = next((c for c in self.store.all("comment") if c["discussion_id"] == discussion_id), None)
            if earlier is None:
                raise ApiError(404, "object_not_found", f"Could not find discussion with ID: {discussion_id}.")
            page = self._page(earlier["parent"]["page_id"])
        else:
            raise _validation("body failed validation: body.parent.page_id or body.discussion_id should be defined.")
        if "rich_text" not in body:
            raise _validation("body failed validation: body.rich_text should be defined, instead was `undefined`.")
        now = _now()
        comment = {
            "object": "comment", "id": _new_id(), "parent": {"type": "page_id", "page_id": page["id"]},
            "discussion_id": discussion_id, "created_time": now, "last_edited_time": now,
            "created_by": actor.ref, "rich_text": self._rich_text(body["rich_text"], "body.rich_text"),
            "display_name": {"type": "integration" if actor.token_kind == "integration" else "user",
                             "resolved_name": actor.user["name"]},
        }
        self.store.put("comment", comment, page["id"])
        self._emit("comment.created", actor, {"id": comment["id"], "type": "comment"},
                   {"page_id": page["id"], "parent": {"id": page["id"], "type": "page"}})
        return comment

    def _comments_list(self, *, query: Any, **_: Any) -> dict:
        block_id = query.get("block_id")
        if not block_id:
            raise _validation("body failed validation: block_id should be defined, instead was `undefined`.")
        container, _page = self._container(_normal_id(block_id, "block_id"), block_id)
        comments = self.store.children("comment", container)
        return _paginate(comments, query.get("start_cursor"), _int(query.get("page_size")), "comment")

    # --- search ------------------------------------------------------------------------------------------------

    def _search(self, *, body: dict, **_: Any) -> dict:
        text = str(body.get("query") or "").lower()
        wanted = None
        if body.get("filter"):
            flt = body["filter"]
            if flt.get("property") != "object" or flt.get("value") not in ("page", "data_source"):
                raise _validation("body failed validation: body.filter.value should be `page` or `data_source`.")
            wanted = flt["value"]
        results: list[dict] = []
        if wanted in (None, "page"):
            for page in self.store.all("page"):
                title = next((_plain(p) for p in page["properties"].values() if p["type"] == "title"), "")
                if not page["in_trash"] and text in title.lower():
                    results.append(page)
        if wanted in (None, "data_source"):
            for source in self.store.all("data_source"):
                title = "".join(item["plain_text"] for item in source["title"])
                if text in title.lower():
                    results.append(source)
        direction = ((body.get("sort") or {}).get("direction")) or "descending"
        results.sort(key=lambda obj: obj["last_edited_time"], reverse=direction == "descending")
        return _paginate(results, body.get("start_cursor"), body.get("page_size"), "page_or_data_source")

    # --- webhooks ----------------------------------------------------------------------------------------------

    def subscribe(
        self,
        url: str,
        *,
        event_types: Sequence[str] = ("page.properties_updated", "page.created", "comment.created"),
    ) -> str:
        """Subscribe `url`: POST it the verification token now (as Notion does), sign every later event with it."""
        unknown = [t for t in event_types if t not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event types: {unknown}")
        token = "secret_" + secrets.token_urlsafe(32)
        # Subscribing a URL again (a restarted `aidlc dev`) replaces its subscription: one token per URL, the one the
        # receiver was just given; an old one kept would sign every event with a token nobody stores (401s).
        existing = next((s["id"] for s in self.store.all("subscription") if s["url"] == url), None)
        subscription = {"id": existing or _new_id(), "url": url, "verification_token": token,
                        "event_types": list(event_types)}
        response = httpx.post(url, json={"verification_token": token}, timeout=10.0)
        response.raise_for_status()
        self.store.put("subscription", subscription)
        return token

    def add_automation(
        self,
        url: str,
        *,
        data_source_id: str,
        property_name: str = "Status",
        values: Sequence[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """A database automation "When `property_name` changes (to one of `values`) -> Send webhook to `url`".

        As Notion sends it: `{"source": {"type": "automation", ...}, "data": <the page>}`, `User-Agent:
        NotionAutomation`, the custom `headers` (how the receiver authenticates it), and no signature."""
        automation = {"id": _new_id(), "action_id": _new_id(), "url": url, "data_source_id": data_source_id,
                      "property_name": property_name, "values": list(values) if values is not None else None,
                      "headers": dict(headers or {})}
        with self.store.lock:
            source = self._data_source(_normal_id(data_source_id, "data_source_id"))
            if property_name not in source["properties"]:
                raise ValueError(f"{property_name!r} is not a property of data source {data_source_id}")
            automation["data_source_id"] = source["id"]
            self.store.put("automation", automation)
        return automation["id"]

    def _run_automations(self, page: dict, changed: Sequence[str]) -> None:
        parent = page["parent"]
        if parent["type"] != "data_source_id":
            return
        for automation in self.store.all("automation"):
            if automation["data_source_id"] != parent["data_source_id"] or automation["property_name"] not in changed:
                continue
            value = _plain(page["properties"][automation["property_name"]])
            if automation["values"] is not None and value not in automation["values"]:
                continue
            body = {"source": {"type": "automation", "automation_id": automation["id"],
                               "action_id": automation["action_id"], "event_id": _new_id(), "attempt": 1},
                    "data": page}
            headers = {"Content-Type": "application/json", "User-Agent": "NotionAutomation", **automation["headers"]}
            self._enqueue_raw(automation["url"], json.dumps(body).encode(), headers)

    def _emit(self, event_type: str, actor: _Actor, entity: dict, data: dict) -> None:
        for subscription in self.store.all("subscription"):
            if event_type not in subscription["event_types"]:
                continue
            event = {
                "id": _new_id(), "timestamp": _instant(), "workspace_id": self.workspace_id,
                "workspace_name": WORKSPACE_NAME, "subscription_id": subscription["id"],
                "integration_id": self.integration_id, "type": event_type, "authors": [actor.author],
                "attempt_number": 1, "api_version": contract().notion_version, "entity": entity, "data": data,
            }
            self._enqueue(subscription, event)

    def _enqueue(self, subscription: dict, event: dict) -> None:
        self._enqueue_raw(subscription["url"], json.dumps(event).encode(), None, subscription["verification_token"])

    def _enqueue_raw(self, url: str, body: bytes, headers: dict[str, str] | None, token: str | None = None) -> None:
        with self._pending_cond:
            self._pending += 1
            if self._delivery_thread is None or not self._delivery_thread.is_alive():
                self._delivery_thread = threading.Thread(target=self._deliver_loop, name="notion-webhooks", daemon=True)
                self._delivery_thread.start()
        self._deliveries.put((url, body, headers, token))

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                item = self._deliveries.get()
                if item is None:
                    return
                url, body, headers, token = item
                try:
                    self._deliver(client, url, body, headers, token)
                finally:
                    with self._pending_cond:
                        self._pending -= 1
                        self._pending_cond.notify_all()

    def _deliver(self, client: httpx.Client, url: str, body: bytes, fixed_headers: dict[str, str] | None,
                 token: str | None, attempts: int = 3) -> None:
        event = json.loads(body)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                if token is not None:
                    event["attempt_number"] = attempt
                else:
                    event["source"]["attempt"] = attempt
                body = json.dumps(event).encode()
            if token is not None:
                headers = {"Content-Type": "application/json", "User-Agent": "notion-api",
                           "X-Notion-Signature": sign_body(body, token)}
            else:
                headers = dict(fixed_headers or {})
            try:
                response = client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    self.delivered.append(event)
                    return
                logger.warning("webhook %s answered %s (attempt %s)", url, response.status_code, attempt)
            except httpx.HTTPError as error:
                logger.warning("webhook %s failed: %s (attempt %s)", url, error, attempt)
            time.sleep(0.2 * attempt)

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until every queued event has been delivered (or given up on)."""
        deadline = time.monotonic() + timeout
        with self._pending_cond:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self._pending} webhook deliveries still pending after {timeout}s")
                self._pending_cond.wait(remaining)

    def inject_failures(self, status: int = 503, count: int = 1) -> None:
        """The next `count` authenticated requests fail with `status` (409, 500, 502, 503, 504, 529), as Notion
        sometimes does."""
        with self.store.lock:
            self._injected.extend([status] * count)

    def inject_failures_after_apply(self, status: int = 504, count: int = 1, path: str = "",
                                    method: str = "POST") -> None:
        """The next `count` `method` requests whose path contains `path` are applied and then answered with
        `status`, as when Notion times out on a request it carried out: the caller can't know whether to repeat."""
        with self.store.lock:
            self._injected_after_apply.extend([(status, path, method.upper())] * count)

    # --- direct edits (the local dashboard, as a person in Notion's UI) ----------------------------------------

    def update_page_as_person(self, page_id: str, properties: dict) -> dict:
        """Change a page's properties as the person would in Notion's UI (webhook authors: the person)."""
        with self.store.lock:
            return self._pages_update(actor=_Actor(self.person_user, "user"), page_id=page_id,
                                      body={"properties": properties})

    # --- seed --------------------------------------------------------------------------------------------------

    def seed_workspace(self, schema: Any) -> WorkspaceSeed:
        """Idempotent: a root page, the stories database (Status options from `schema`, a
        `runtime.notion.schema.WorkspaceSchema`) with a few stories, and the execution dashboard. The second call
        returns what the first made. The caller (the local stack, a test) says what the workspace holds: the
        emulator knows Notion, not aidlc's plugins."""
        with self.store.lock:
            existing = self.store.meta("seed", lambda: "")
            if existing:
                return WorkspaceSeed(**json.loads(existing))
            person = _Actor(self.person_user, "user")
            root = self._pages_create(actor=person, body={
                "parent": {"type": "workspace", "workspace": True},
                "properties": {"title": {"title": [{"text": {"content": WORKSPACE_NAME}}]}},
                "children": [{"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content":
                    "Product stories for the aidlc agents. Move a story's Status to a trigger value to start an agent."}}]}}],
            })
            stories = self._databases_create(actor=person, body={
                "parent": {"type": "page_id", "page_id": root["id"]},
                "title": [{"text": {"content": "User Stories"}}],
                "initial_data_source": {"properties": schema.stories()},
            })
            stories_source = stories["data_sources"][0]["id"]
            dashboard = self._databases_create(actor=person, body={
                "parent": {"type": "page_id", "page_id": root["id"]},
                "title": [{"text": {"content": "Agent Executions"}}],
                "initial_data_source": {"properties": schema.dashboard(stories_source)},
            })
            story_ids = []
            for title, criteria, priority, body in _SEED_STORIES:
                page = self._pages_create(actor=person, body={
                    "parent": {"type": "data_source_id", "data_source_id": stories_source},
                    "properties": {
                        "Name": {"title": [{"text": {"content": title}}]},
                        "Status": {"status": {"name": "Ready"}},
                        "Acceptance Criteria": {"rich_text": [{"text": {"content": criteria}}]},
                        "Priority": {"select": {"name": priority}},
                        "Owner": {"people": [{"id": self.person_user["id"]}]},
                    },
                    "children": [{"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": body}}]}}],
                })
                story_ids.append(page["id"])
            seed = WorkspaceSeed(
                root_page_id=root["id"], stories_database_id=stories["id"], stories_data_source_id=stories_source,
                dashboard_database_id=dashboard["id"], dashboard_data_source_id=dashboard["data_sources"][0]["id"],
                story_page_ids=story_ids,
            )
            self.store.db.execute("UPDATE meta SET value=? WHERE key='seed'", (json.dumps(seed.__dict__),))
            return seed

    # --- serving -----------------------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
        return serve(self.app, host=host, port=port)


# Fields the SDK's response types require that a request may leave out.
_BLOCK_DEFAULTS: dict[str, dict[str, Any]] = {
    "paragraph": {"icon": None}, "callout": {"icon": None}, "heading": {"is_toggleable": False},
    "table": {"has_column_header": False, "has_row_header": False}, "bookmark": {"caption": []},
    "embed": {"caption": []}, "table_of_contents": {"color": "default"},
}

_TITLE_ONLY_SCHEMA = {"title": {"id": "title", "name": "title", "type": "title", "title": {}}}

_SEED_STORIES = [
    (
        "User can preview dashboard layout",
        "- Widgets can be dragged between columns\n- Layout persists after reload\n"
        "- Empty state explains how to add a widget",
        "High",
        "As a team lead I want to arrange my dashboard's widgets and see the result before saving, so that the "
        "team sees the numbers that matter first.",
    ),
    (
        "Customer can export invoices as CSV",
        "- Export covers the selected date range\n- Amounts use the account currency\n"
        "- The file opens in a spreadsheet without warnings",
        "Medium",
        "As a finance admin I want to download our invoices as a CSV file so that I can reconcile them in our "
        "accounting tool.",
    ),
    (
        "Onboarding checklist for new workspace members",
        "- Checklist shows on first login\n- Each step links to the relevant page\n"
        "- Progress is saved per member",
        "Low",
        "As a new member I want a short checklist of first steps so that I find my way around in my first week.",
    ),
]


def _option(option: dict) -> dict:
    return {"id": option["id"], "name": option["name"], "color": option.get("color", "default")}


def _int(value: Any) -> Any:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _block_type(block: dict) -> str | None:
    kind = block.get("type")
    if kind:
        return kind
    keys = [key for key in block if key in BLOCK_TYPES]
    return keys[0] if len(keys) == 1 else None


# --- data source query: filters and sorts ----------------------------------------------------------------------

_TEXT_TYPES = {"title", "rich_text", "url", "email", "phone_number"}
_FILTER_KEYS = {
    "title": _TEXT_TYPES, "rich_text": _TEXT_TYPES, "url": _TEXT_TYPES, "email": _TEXT_TYPES,
    "phone_number": _TEXT_TYPES, "status": {"status"}, "select": {"select", "status"},
    "multi_select": {"multi_select"}, "number": {"number"}, "checkbox": {"checkbox"}, "people": {"people"},
    "relation": {"relation"}, "date": {"date", "created_time", "last_edited_time"},
}


def _compile_filter(flt: Any, schema: dict, where: str) -> Callable[[dict], bool]:
    if not isinstance(flt, dict):
        raise _validation(f"body failed validation: {where} should be an object.")
    for compound, combine in (("and", all), ("or", any)):
        if compound in flt:
            parts = flt[compound]
            if not isinstance(parts, list):
                raise _validation(f"body failed validation: {where}.{compound} should be an array.")
            tests = [_compile_filter(part, schema, f"{where}.{compound}[{i}]") for i, part in enumerate(parts)]
            return lambda page, tests=tests, combine=combine: combine(test(page) for test in tests)
    if "timestamp" in flt:
        stamp = flt["timestamp"]
        if stamp not in ("created_time", "last_edited_time"):
            raise _validation(f"body failed validation: {where}.timestamp should be `created_time` or `last_edited_time`.")
        condition = flt.get(stamp)
        check = _condition("date", condition, f"{where}.{stamp}")
        return lambda page: check(page[stamp])
    name = flt.get("property")
    if not isinstance(name, str):
        raise _validation(f"body failed validation: {where}.property should be defined, instead was `undefined`.")
    by_id = {prop["id"]: key for key, prop in schema.items()}
    key = name if name in schema else by_id.get(name)
    if key is None:
        raise _validation(f"Could not find property with name or id: {name}")
    kind = schema[key]["type"]
    filter_types = [k for k in flt if k != "property"]
    if len(filter_types) != 1 or filter_types[0] not in _FILTER_KEYS or kind not in _FILTER_KEYS[filter_types[0]]:
        raise _validation(f"body failed validation: {where} has no {kind} filter condition "
                          f"(got {', '.join(filter_types) or 'none'}).")
    check = _condition(filter_types[0], flt[filter_types[0]], f"{where}.{filter_types[0]}")
    return lambda page: check(_plain(page["properties"][key]) if key in page["properties"] else None)


def _condition(filter_type: str, condition: Any, where: str) -> Callable[[Any], bool]:
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _validation(f"body failed validation: {where} should have exactly one condition.")
    op, expected = next(iter(condition.items()))

    def empty(value: Any) -> bool:
        return value in (None, "", [])

    text_ops: dict[str, Callable[[Any], bool]] = {
        "equals": lambda v: (v or "") == expected,
        "does_not_equal": lambda v: (v or "") != expected,
        "contains": lambda v: str(expected).lower() in (v or "").lower(),
        "does_not_contain": lambda v: str(expected).lower() not in (v or "").lower(),
        "starts_with": lambda v: (v or "").lower().startswith(str(expected).lower()),
        "ends_with": lambda v: (v or "").lower().endswith(str(expected).lower()),
        "is_empty": lambda v: empty(v),
        "is_not_empty": lambda v: not empty(v),
    }
    option_ops = {
        "equals": lambda v: v == expected, "does_not_equal": lambda v: v != expected,
        "is_empty": empty, "is_not_empty": lambda v: not empty(v),
    }
    list_ops = {
        "contains": lambda v: expected in (v or []), "does_not_contain": lambda v: expected not in (v or []),
        "is_empty": empty, "is_not_empty": lambda v: not empty(v),
    }
    number_ops = {
        "equals": lambda v: v == expected, "does_not_equal": lambda v: v != expected,
        "greater_than": lambda v: v is not None and v > expected, "less_than": lambda v: v is not None and v < expected,
        "greater_than_or_equal_to": lambda v: v is not None and v >= expected,
        "less_than_or_equal_to": lambda v: v is not None and v <= expected,
        "is_empty": empty, "is_not_empty": lambda v: not empty(v),
    }
    date_ops = {
        "equals": lambda v: v is not None and v[:10] == str(expected)[:10],
        "before": lambda v: v is not None and v < str(expected), "after": lambda v: v is not None and v > str(expected),
        "on_or_before": lambda v: v is not None and v <= str(expected),
        "on_or_after": lambda v: v is not None and v >= str(expected),
        "is_empty": empty, "is_not_empty": lambda v: not empty(v),
    }
    table = {
        "title": text_ops, "rich_text": text_ops, "url": text_ops, "email": text_ops, "phone_number": text_ops,
        "status": option_ops, "select": option_ops, "multi_select": list_ops, "people": list_ops,
        "relation": list_ops, "number": number_ops, "date": date_ops,
        "checkbox": {"equals": lambda v: bool(v) == expected, "does_not_equal": lambda v: bool(v) != expected},
    }[filter_type]
    if op not in table:
        raise _validation(f"body failed validation: {where}.{op} is not a {filter_type} filter condition.")
    return table[op]


def _sorted(pages: list[dict], sort: Any, schema: dict) -> list[dict]:
    if not isinstance(sort, dict):
        raise _validation("body failed validation: body.sorts[] should be an object.")
    direction = sort.get("direction", "ascending")
    if direction not in ("ascending", "descending"):
        raise _validation("body failed validation: sort direction should be `ascending` or `descending`.")
    if "timestamp" in sort:
        stamp = sort["timestamp"]
        if stamp not in ("created_time", "last_edited_time"):
            raise _validation("body failed validation: sort timestamp should be `created_time` or `last_edited_time`.")
        # Ties (same millisecond) fall back to creation order, so "descending" really reverses it.
        order = {page["id"]: index for index, page in enumerate(pages)}
        return sorted(pages, key=lambda page: (page[stamp], order[page["id"]]), reverse=direction == "descending")
    name = sort.get("property")
    by_id = {prop["id"]: key for key, prop in schema.items()}
    key = name if name in schema else by_id.get(name)
    if key is None:
        raise _validation(f"Could not find sort property with name or id: {name}")
    prop_schema = schema[key]
    order: dict[str, int] = {}
    if prop_schema["type"] in ("status", "select"):
        order = {option["name"]: index for index, option in enumerate(prop_schema[prop_schema["type"]].get("options", []))}

    def sort_key(page: dict) -> tuple:
        value = _plain(page["properties"][key]) if key in page["properties"] else None
        if order:
            value = order.get(value, len(order)) if value is not None else None
        if isinstance(value, list):
            value = ",".join(map(str, value))
        # Empty values sort last in both directions, as in Notion.
        return (value is None, value if value is not None else 0)

    present = [p for p in pages if sort_key(p)[0] is False]
    missing = [p for p in pages if sort_key(p)[0] is True]
    return sorted(present, key=lambda p: sort_key(p)[1], reverse=direction == "descending") + missing


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m runtime.local.notion_emulator [--state DIR] [--port N] [--rate 3]`: a seeded workspace on loopback."""
    import argparse

    parser = argparse.ArgumentParser(description="A local Notion workspace (API 2025-09-03) on loopback.")
    parser.add_argument("--state", type=Path, default=Path(".aidlc/notion"), help="state folder (SQLite inside)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=None, help="requests/s before 429 (Notion: 3); default none")
    args = parser.parse_args(argv)
    from runtime.notion.schema import workspace_schema  # the command line seeds from the installed plugins

    emulator = NotionEmulator(args.state, requests_per_second=args.rate)
    seed = emulator.seed_workspace(workspace_schema())
    handle = emulator.serve(args.host, args.port)
    print(f"Notion emulator on {handle.base_url}  (state: {args.state})")
    print(f"  integration token: {emulator.integration_token}")
    print(f"  user token:        {emulator.user_token}")
    print(f"  stories data source: {seed.stories_data_source_id}")
    print(f"  dashboard data source: {seed.dashboard_data_source_id}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()


if __name__ == "__main__":
    main()

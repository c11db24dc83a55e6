"""A local Slack workspace: the subset of the Slack Web API aidlc uses, and Slack's side of the app's endpoints.

Web API (`/api/<method>`, as `slack_sdk.WebClient(base_url=<emulator>/api/)` calls it: JSON or form bodies, query
strings for GET methods, `Authorization: Bearer <token>`): `auth.test`, `chat.postMessage`, `chat.update`,
`conversations.replies`, `users.info`, `reactions.add`. Answers use Slack's shapes: `{"ok": true, ...}`, or HTTP 200
with `{"ok": false, "error": "<code>"}` (`not_authed`, `invalid_auth`, `channel_not_found`, `no_text`,
`message_not_found`, `thread_not_found`, `user_not_found`, `already_reacted`, `invalid_arguments`, ...), and HTTP
429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}` when a limit is injected.

Slack's side: a message posted in the channel is delivered to the app's events URL as an `event_callback` (a
`message` event, and an `app_mention` when it mentions the bot), retried with `X-Slack-Retry-Num` when the app does
not answer 2xx; `command()` sends a form-encoded slash command and returns the app's answer; `click()` sends a
`block_actions` interaction as form field `payload=`. Every request is signed as Slack signs
(`X-Slack-Signature: v0=HMAC-SHA256(signing secret, "v0:{ts}:{body}")`, `X-Slack-Request-Timestamp`).

Two tokens are issued: the bot's (`xoxb-`) and a person's (`xoxp-`), so scripts can act as a person.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from runtime.local.server import ServerHandle, serve

__all__ = ["SlackEmulator", "sign"]

logger = logging.getLogger(__name__)

TEAM_ID = "T0AIDLC01"
TEAM_NAME = "Acme Product"
MAX_TEXT = 40_000  # chat.postMessage truncates longer text; we refuse it (msg_too_long) to make it visible
METHODS_GET = {"conversations.replies", "users.info"}


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request it sends to an app."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}


class _SlackError(Exception):
    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.headers = error, status, headers or {}


@dataclass
class _User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False
    bot_id: str | None = None

    def info(self) -> dict[str, Any]:
        user = {"id": self.id, "team_id": TEAM_ID, "name": self.name, "deleted": False, "real_name": self.real_name,
                "tz": "Europe/London", "tz_label": "Greenwich Mean Time", "tz_offset": 0, "is_admin": False,
                "is_bot": self.is_bot, "is_app_user": False, "updated": 1700000000,
                "profile": {"real_name": self.real_name, "display_name": self.name, "team": TEAM_ID}}
        if self.bot_id:
            user["profile"]["bot_id"] = self.bot_id
        return user


@dataclass
class AppEndpoints:
    events_url: str = ""
    commands_url: str = ""
    interactivity_url: str = ""


@dataclass
class _Channel:
    id: str
    name: str
    messages: list[dict] = field(default_factory=list)  # top-level and replies, in order


class SlackEmulator:
    def __init__(self, *, signing_secret: str | None = None, channel_name: str = "aidlc") -> None:
        self.signing_secret = signing_secret or secrets.token_hex(16)
        self.bot_token = "xoxb-local-" + secrets.token_hex(12)
        self.user_token = "xoxp-local-" + secrets.token_hex(12)
        self.bot = _User("U0AIDLCBOT", "aidlc", "aidlc", is_bot=True, bot_id="B0AIDLCBOT")
        self.person = _User("U0PRIYA001", "priya", "Priya Product")
        self.approver = _User("U0SAM00001", "sam", "Sam Lead")
        self.users = {u.id: u for u in (self.bot, self.person, self.approver)}
        self.tokens = {self.bot_token: self.bot, self.user_token: self.person}
        channel = _Channel("C0AIDLC001", channel_name)
        self.channels = {channel.id: channel}
        self.channel_id = channel.id
        self.app = AppEndpoints()
        self.calls: list[tuple[str, dict]] = []  # (method, arguments), for tests
        self.ephemeral: list[dict] = []  # chat.postEphemeral messages: each seen only by its `user`, never stored
        self.user_groups: dict[str, list[str]] = {}  # user group (subteam) id -> its members' ids
        self._rate_limits: dict[str, list[int]] = {}  # method -> Retry-After values of the next calls
        self._clock = itertools.count(1)
        self._lock = threading.RLock()
        self._deliveries: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._pending = 0
        self._pending_cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.delivered: list[dict] = []  # events the app answered 2xx, newest last
        self.starlette = Starlette(routes=[
            Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/emulator/command", self._command_endpoint, methods=["POST"]),
            Route("/emulator/click", self._click_endpoint, methods=["POST"]),
            Route("/emulator/channel", self._channel_endpoint, methods=["GET"]),
            Route("/", self._channel_view, methods=["GET"]),
        ])

    # --- configuration (tests, the local stack) -----------------------------------------------------------

    def connect(self, *, events_url: str, commands_url: str, interactivity_url: str) -> None:
        self.app = AppEndpoints(events_url, commands_url, interactivity_url)

    def rate_limit(self, method: str, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next `count` calls of `method` with 429 and this Retry-After."""
        with self._lock:
            self._rate_limits.setdefault(method, []).extend([retry_after] * count)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
        return serve(self.starlette, host=host, port=port)

    # --- Web API ------------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        raw = await request.body()
        args: dict[str, Any] = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        try:
            if raw and "json" in content_type:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise _SlackError("invalid_json")
                args.update(body)
            elif raw:
                args.update({k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()})
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"ok": False, "error": "invalid_json"})
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", "")
        try:
            return JSONResponse({"ok": True, **self.call(method, args, token, http_verb=request.method)})
        except _SlackError as exc:
            return JSONResponse({"ok": False, "error": exc.error}, status_code=exc.status, headers=exc.headers)

    def call(self, method: str, args: dict[str, Any], token: str, *, http_verb: str = "POST") -> dict[str, Any]:
        handlers = {
            "auth.test": self._auth_test, "chat.postMessage": self._post_message, "chat.update": self._update,
            "conversations.replies": self._replies, "conversations.history": self._history,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add, "chat.postEphemeral": self._post_ephemeral,
            "usergroups.users.list": self._usergroup_users,
        }
        if method not in handlers:
            raise _SlackError("unknown_method", status=404)
        with self._lock:
            waits = self._rate_limits.get(method)
            if waits:
                retry_after = waits.pop(0)
                raise _SlackError("ratelimited", status=429, headers={"Retry-After": str(retry_after)})
        if not token:
            raise _SlackError("not_authed")
        user = self.tokens.get(token)
        if user is None:
            raise _SlackError("invalid_auth")
        self.calls.append((method, dict(args)))
        return handlers[method](user, args)

    def _auth_test(self, user: _User, args: dict) -> dict:
        answer = {"url": "https://acme-product.slack.com/", "team": TEAM_NAME, "user": user.name,
                  "team_id": TEAM_ID, "user_id": user.id, "is_enterprise_install": False}
        if user.bot_id:
            answer["bot_id"] = user.bot_id
        return answer

    def _channel(self, args: dict) -> _Channel:
        channel = self.channels.get(str(args.get("channel") or ""))
        if channel is None:
            raise _SlackError("channel_not_found")
        return channel

    def _post_message(self, user: _User, args: dict) -> dict:
        channel = self._channel(args)
        text = args.get("text") or ""
        blocks = _json_arg(args.get("blocks"), "invalid_blocks")
        metadata = _json_arg(args.get("metadata"), "invalid_metadata")
        if not text and not blocks:
            raise _SlackError("no_text")
        if len(str(text)) > MAX_TEXT:
            raise _SlackError("msg_too_long")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50
                                   or not all(isinstance(b, dict) and b.get("type") for b in blocks)):
            raise _SlackError("invalid_blocks")
        thread_ts = args.get("thread_ts") or None
        with self._lock:
            if thread_ts and not any(m["ts"] == thread_ts for m in channel.messages):
                raise _SlackError("thread_not_found")
            message: dict[str, Any] = {"type": "message", "text": str(text), "user": user.id,
                                       "ts": self._new_ts(), "team": TEAM_ID}
            if user.bot_id:
                message.update({"bot_id": user.bot_id, "app_id": "A0AIDLC001"})
            if blocks:
                message["blocks"] = blocks
            if isinstance(metadata, dict) and metadata.get("event_type"):
                message["metadata"] = {"event_type": metadata["event_type"],
                                       "event_payload": metadata.get("event_payload") or {}}
            if thread_ts:
                message["thread_ts"] = thread_ts
                parent = next(m for m in channel.messages if m["ts"] == thread_ts)
                message["parent_user_id"] = parent["user"]
                parent.setdefault("thread_ts", thread_ts)
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = message["ts"]
            channel.messages.append(message)
        self._emit_message(channel, message)
        return {"channel": channel.id, "ts": message["ts"], "message": _public(message)}

    def _post_ephemeral(self, user: _User, args: dict) -> dict:
        """Slack's chat.postEphemeral: to one member of the channel, not kept in its history; `message_ts`."""
        channel = self._channel(args)
        target = str(args.get("user") or "")
        if target not in self.users:
            raise _SlackError("user_not_found")
        text = args.get("text") or ""
        if not text and not args.get("blocks"):
            raise _SlackError("no_text")
        with self._lock:
            message = {"channel": channel.id, "user": target, "text": str(text), "ts": self._new_ts(),
                       "thread_ts": args.get("thread_ts") or None, "from": user.id}
            self.ephemeral.append(message)
        return {"message_ts": message["ts"]}

    def _usergroup_users(self, user: _User, args: dict) -> dict:
        group = str(args.get("usergroup") or "")
        if not group:
            raise _SlackError("invalid_arguments")
        if group not in self.user_groups:
            raise _SlackError("no_such_subteam")
        return {"users": list(self.user_groups[group])}

    def _update(self, user: _User, args: dict) -> dict:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        blocks = _json_arg(args.get("blocks"), "invalid_blocks")
        with self._lock:
            message = next((m for m in channel.messages if m["ts"] == ts), None)
            if message is None:
                raise _SlackError("message_not_found")
            if message.get("user") != user.id:
                raise _SlackError("cant_update_message")
            if "text" in args:
                message["text"] = str(args["text"])
            if blocks is not None:
                message["blocks"] = blocks
            message["edited"] = {"user": user.id, "ts": self._new_ts()}
        return {"channel": channel.id, "ts": ts, "text": message["text"], "message": _public(message)}

    def _replies(self, user: _User, args: dict) -> dict:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        if not ts:
            raise _SlackError("invalid_arguments")
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        with self._lock:
            thread = [m for m in channel.messages if m["ts"] == ts or m.get("thread_ts") == ts]
            if not thread:
                raise _SlackError("thread_not_found")
            try:
                limit = max(1, min(int(args.get("limit") or 100), 1000))
                start = int(args.get("cursor") or 0)
            except ValueError:
                raise _SlackError("invalid_cursor") from None
            page = thread[start:start + limit]
            more = start + limit < len(thread)
            messages = [_public(m, with_metadata) for m in page]
        return {"messages": messages, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _history(self, user: _User, args: dict) -> dict:
        """Slack's conversations.history: the channel's top-level messages (a thread's replies are not in it: a
        parent carries reply_count), newest first, paged by cursor."""
        channel = self._channel(args)
        with self._lock:
            top = [m for m in reversed(channel.messages) if m.get("thread_ts") in (None, m["ts"])]
            try:
                limit = max(1, min(int(args.get("limit") or 100), 999))
                start = int(args.get("cursor") or 0)
            except ValueError:
                raise _SlackError("invalid_cursor") from None
            more = start + limit < len(top)
            messages = [_public(m) for m in top[start:start + limit]]
        return {"messages": messages, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _users_info(self, user: _User, args: dict) -> dict:
        found = self.users.get(str(args.get("user") or ""))
        if found is None:
            raise _SlackError("user_not_found")
        return {"user": found.info()}

    def _reactions_add(self, user: _User, args: dict) -> dict:
        channel = self._channel(args)
        name, ts = str(args.get("name") or ""), str(args.get("timestamp") or "")
        if not name or not ts:
            raise _SlackError("no_item_specified" if not ts else "invalid_name")
        with self._lock:
            message = next((m for m in channel.messages if m["ts"] == ts), None)
            if message is None:
                raise _SlackError("message_not_found")
            reactions = message.setdefault("reactions", [])
            reaction = next((r for r in reactions if r["name"] == name), None)
            if reaction and user.id in reaction["users"]:
                raise _SlackError("already_reacted")
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                reactions.append(reaction)
            reaction["users"].append(user.id)
            reaction["count"] += 1
        return {}

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"

    # --- Slack's side: events, slash commands, clicks -----------------------------------------------------

    def _emit_message(self, channel: _Channel, message: dict) -> None:
        if not self.app.events_url:
            return
        event = {**_public(message), "channel": channel.id, "channel_type": "channel",
                 "event_ts": message["ts"]}
        self._send_event(event)
        if f"<@{self.bot.id}>" in message.get("text", "") and message.get("user") != self.bot.id:
            self._send_event({**event, "type": "app_mention"})

    def _send_event(self, event: dict) -> None:
        envelope = {"token": "deprecated-verification-token", "team_id": TEAM_ID, "api_app_id": "A0AIDLC001",
                    "event": event, "type": "event_callback", "event_id": "Ev" + secrets.token_hex(8).upper(),
                    "event_time": int(time.time()),
                    "authorizations": [{"team_id": TEAM_ID, "user_id": self.bot.id, "is_bot": True}]}
        with self._pending_cond:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._deliver_loop, name="slack-events", daemon=True)
                self._thread.start()
        self._deliveries.put((self.app.events_url, json.dumps(envelope).encode()))

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=3.0) as client:  # Slack gives an app 3 s
            while True:
                item = self._deliveries.get()
                if item is None:
                    return
                try:
                    self._deliver(client, *item)
                finally:
                    with self._pending_cond:
                        self._pending -= 1
                        self._pending_cond.notify_all()

    def _deliver(self, client: httpx.Client, url: str, body: bytes, attempts: int = 4) -> None:
        for attempt in range(attempts):
            headers = {"Content-Type": "application/json", "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                       **sign(self.signing_secret, body)}
            if attempt:
                headers.update({"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"})
            try:
                response = client.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    self.delivered.append(json.loads(body))
                    return
                logger.warning("Slack event to %s answered %s", url, response.status_code)
            except httpx.HTTPError as exc:
                logger.warning("Slack event to %s failed: %s", url, exc)
            time.sleep(0.2 * (attempt + 1))

    def flush_events(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._pending_cond:
            while self._pending and time.monotonic() < deadline:
                self._pending_cond.wait(0.05)

    def command(self, text: str, *, user_id: str | None = None, command: str = "/aidlc",
                channel_id: str | None = None) -> tuple[int, dict]:
        """Type a slash command as a person: Slack posts the form to the app and shows its answer."""
        user = self.users[user_id or self.person.id]
        form = {"token": "deprecated-verification-token", "team_id": TEAM_ID, "team_domain": "acme-product",
                "channel_id": channel_id or self.channel_id, "channel_name": "aidlc", "user_id": user.id,
                "user_name": user.name, "command": command, "text": text, "api_app_id": "A0AIDLC001",
                "is_enterprise_install": "false",
                "response_url": "https://hooks.slack.com/commands/T0AIDLC01/1/local",
                "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"}
        return self._post_form(self.app.commands_url, urlencode(form).encode())

    def click(self, ts: str, action_id: str, *, user_id: str | None = None,
              channel_id: str | None = None) -> tuple[int, dict]:
        """Press a button of a message: Slack posts a block_actions payload (form field `payload=`)."""
        channel = self.channels[channel_id or self.channel_id]
        user = self.users[user_id or self.person.id]
        with self._lock:
            message = next(m for m in channel.messages if m["ts"] == ts)
        action = next(
            (element for block in message.get("blocks") or [] if block.get("type") == "actions"
             for element in block.get("elements") or [] if element.get("action_id") == action_id),
            None,
        )
        if action is None:
            raise KeyError(f"message {ts} has no button {action_id!r}")
        payload = {
            "type": "block_actions", "user": {"id": user.id, "username": user.name, "name": user.name,
                                              "team_id": TEAM_ID},
            "api_app_id": "A0AIDLC001", "token": "deprecated-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel.id, "is_ephemeral": False},
            "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}",
            "team": {"id": TEAM_ID, "domain": "acme-product"}, "channel": {"id": channel.id, "name": channel.name},
            "message": _public(message), "response_url": "https://hooks.slack.com/actions/T0AIDLC01/1/local",
            "actions": [{"action_id": action["action_id"], "block_id": "", "text": action.get("text"),
                         "value": action.get("value", ""), "type": "button", "action_ts": f"{time.time():.6f}"}],
        }
        return self._post_form(self.app.interactivity_url, urlencode({"payload": json.dumps(payload)}).encode())

    def _post_form(self, url: str, body: bytes) -> tuple[int, dict]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(self.signing_secret, body)}
        # Slack gives an app 3 s to answer; the emulator waits longer so a loaded test machine (2 cores, CI) does not
        # turn a slow ack into a failed command. Our handlers ack before any Notion or AWS call past the enqueue.
        response = httpx.post(url, content=body, headers=headers, timeout=15.0)
        try:
            answer = response.json()
        except ValueError:
            answer = {"text": response.text}
        return response.status_code, answer

    def thread(self, ts: str, channel_id: str | None = None) -> list[dict]:
        channel = self.channels[channel_id or self.channel_id]
        with self._lock:
            return [_public(m, True) for m in channel.messages if m["ts"] == ts or m.get("thread_ts") == ts]

    # --- the dashboard's channel view (acts as the person) ------------------------------------------------

    async def _command_endpoint(self, request: Request) -> JSONResponse:
        body = await request.json()
        # In a worker thread: the app answers the command by calling this emulator's Web API meanwhile.
        status, answer = await run_in_threadpool(self.command, str(body.get("text", "")), user_id=body.get("user_id"))
        return JSONResponse({"status": status, "answer": answer})

    async def _click_endpoint(self, request: Request) -> JSONResponse:
        body = await request.json()
        try:
            status, answer = await run_in_threadpool(self.click, str(body["ts"]), str(body["action_id"]),
                                                     user_id=body.get("user_id"))
        except (KeyError, StopIteration) as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return JSONResponse({"status": status, "answer": answer})

    async def _channel_view(self, request: Request) -> HTMLResponse:
        return HTMLResponse(CHANNEL_VIEW)

    async def _channel_endpoint(self, request: Request) -> JSONResponse:
        channel = self.channels[self.channel_id]
        with self._lock:
            messages = [_public(m, True) for m in channel.messages]
        return JSONResponse({"channel": {"id": channel.id, "name": channel.name}, "messages": messages,
                             "users": {u.id: u.real_name for u in self.users.values()}})


def _json_arg(value: Any, error: str) -> Any:
    """Blocks and metadata arrive as JSON values (JSON body) or JSON strings (form body)."""
    if value is None or isinstance(value, (list, dict)):
        return value
    try:
        return json.loads(value)
    except (TypeError, json.JSONDecodeError):
        raise _SlackError(error) from None


def _public(message: dict, with_metadata: bool = False) -> dict:
    shown = {k: v for k, v in message.items() if k != "metadata"}
    if with_metadata and "metadata" in message:
        shown["metadata"] = message["metadata"]
    return json.loads(json.dumps(shown))


# The channel view: a person types `/aidlc ...`, presses the buttons, and watches the threads update (polled).
# Text is inserted with textContent only, so message text cannot inject markup.
CHANNEL_VIEW = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>#aidlc - local Slack</title>
<style>
 body{font:14px system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}
 header{background:#3f0e40;color:#fff;padding:8px 16px} #log{flex:1;overflow:auto;padding:8px 16px}
 .msg{border-bottom:1px solid #eee;padding:6px 0} .who{font-weight:600;margin-right:6px}
 .thread{margin-left:24px;border-left:3px solid #ddd;padding-left:8px} pre{white-space:pre-wrap;margin:2px 0;font:inherit}
 form{display:flex;gap:8px;padding:8px 16px;border-top:1px solid #ccc} #text{flex:1;padding:6px}
 button{margin:2px 4px 2px 0}
</style></head><body>
<header>#aidlc <small>(local Slack emulator)</small></header>
<div id="log" aria-live="polite"></div>
<form id="composer"><select id="as"></select><input id="text" placeholder="/aidlc run mock <notion story url>"
 autocomplete="off"><button type="submit" id="send">Send</button></form>
<div id="answer" role="status" style="padding:0 16px 8px;color:#555"></div>
<script>
let users = {};
function line(m){
  const div=document.createElement('div'); div.className='msg'; div.dataset.ts=m.ts;
  const who=document.createElement('span'); who.className='who'; who.textContent=users[m.user]||m.user;
  const text=document.createElement('pre'); text.textContent=m.text; div.append(who,text);
  for (const b of (m.blocks||[])) if (b.type==='actions') for (const e of b.elements) {
    const btn=document.createElement('button'); btn.textContent=e.text.text; btn.dataset.action=e.action_id;
    btn.onclick=async()=>{ const r=await fetch('/emulator/click',{method:'POST',headers:{'content-type':'application/json'},
      body:JSON.stringify({ts:m.ts,action_id:e.action_id,user_id:document.getElementById('as').value})});
      document.getElementById('answer').textContent=JSON.stringify((await r.json()).answer); refresh(); };
    div.append(btn);
  }
  return div;
}
async function refresh(){
  const state=await (await fetch('/emulator/channel')).json(); users=state.users;
  const sel=document.getElementById('as'); if(!sel.options.length) for (const [id,name] of Object.entries(users)) {
    if (id.includes('BOT')) continue; const o=document.createElement('option'); o.value=id; o.textContent=name; sel.append(o); }
  const log=document.getElementById('log'); log.replaceChildren();
  for (const m of state.messages.filter(m=>!m.thread_ts||m.thread_ts===m.ts)) {
    const top=line(m); const thread=document.createElement('div'); thread.className='thread';
    for (const r of state.messages.filter(r=>r.thread_ts===m.ts&&r.ts!==m.ts)) thread.append(line(r));
    top.append(thread); log.append(top);
  }
}
document.getElementById('composer').onsubmit=async(ev)=>{ ev.preventDefault();
  const text=document.getElementById('text').value.replace(/^\\/aidlc\\s*/,'');
  const r=await fetch('/emulator/command',{method:'POST',headers:{'content-type':'application/json'},
    body:JSON.stringify({text,user_id:document.getElementById('as').value})});
  document.getElementById('answer').textContent=(await r.json()).answer.text||''; document.getElementById('text').value='';
  refresh(); };
refresh(); setInterval(refresh,1000);
</script></body></html>
"""

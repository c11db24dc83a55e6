"""Posting a workflow's notices into its own thread, through the real `slack_sdk.WebClient`.

- One thread per workflow: the first notice (or the ingress's acknowledgement) opens it; its `ts` is the thread.
- Rate limits: slack_sdk's `RateLimitErrorRetryHandler` waits out `Retry-After` on 429 (tier limits are Slack's,
  we only honour them).
- No duplicates: before posting, the thread is read (`conversations.replies` with metadata) and a notice whose key
  is already there is not posted again, so a retried completion or a redelivered queue message posts once.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from runtime.models import SlackOrigin
from runtime.slack.messages import METADATA_EVENT_TYPE, Notice, render

log = logging.getLogger(__name__)


def web_client(token: str, base_url: str | None = None, *, rate_limit_retries: int = 3) -> WebClient:
    """A WebClient for the bot; `base_url` points it at the local Slack emulator (it must end with `/`)."""
    kwargs: dict[str, Any] = {"token": token, "timeout": 10}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    client = WebClient(**kwargs)
    client.retry_handlers = [ConnectionErrorRetryHandler(),
                             RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)]
    return client


class SlackNotifier:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._identity: dict[str, Any] | None = None

    def identity(self) -> dict[str, Any]:
        """`auth.test` once: our bot's user id and bot id (to ignore our own messages)."""
        if self._identity is None:
            self._identity = dict(self.client.auth_test().data)
        return self._identity

    def open_thread(self, channel: str, text: str, *, key: str = "") -> str:
        """Post a workflow's first message; its ts names the thread."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if key:
            kwargs["metadata"] = {"event_type": METADATA_EVENT_TYPE, "event_payload": {"key": key}}
        return self.client.chat_postMessage(**kwargs)["ts"]

    def say(self, channel: str, thread_ts: str | None, text: str) -> str:
        return self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)["ts"]

    def notify(self, origin: SlackOrigin, notice: Notice) -> tuple[SlackOrigin, str | None]:
        """Post `notice` into the origin's thread (opening it if the ingress could not); returns the origin with
        its thread and the message ts, or None for the ts when the notice was already there."""
        message = render(notice)
        stakeholders = tuple(dict.fromkeys((*origin.stakeholders, *notice.stakeholders)))
        if stakeholders != notice.stakeholders:
            message = render(Notice(**{**notice.__dict__, "stakeholders": stakeholders}))
        if origin.thread_ts is None:
            ts = self.client.chat_postMessage(channel=origin.channel, **message)["ts"]
            return origin.model_copy(update={"thread_ts": ts}), ts
        if self.already_posted(origin, notice.key):
            log.info("Slack notice %s already in its thread", notice.key)
            return origin, None
        ts = self.client.chat_postMessage(channel=origin.channel, thread_ts=origin.thread_ts, **message)["ts"]
        return origin, ts

    def already_posted(self, origin: SlackOrigin, key: str) -> bool:
        cursor = None
        while True:
            page = self.client.conversations_replies(channel=origin.channel, ts=origin.thread_ts,
                                                     include_all_metadata=True, limit=200, cursor=cursor)
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == METADATA_EVENT_TYPE and \
                        (metadata.get("event_payload") or {}).get("key") == key:
                    return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        """`chat.update` of a known ts: repeating it changes nothing, so it is safe to retry."""
        self.client.chat_update(channel=channel, ts=ts, **message)


def safe(call, *args, **kwargs) -> Any:
    """Run a notifier call where Slack being down must not fail the caller (the pipeline's record is the truth)."""
    try:
        return call(*args, **kwargs)
    except (SlackApiError, OSError) as exc:
        log.warning("Slack call failed: %s", exc)
        return None

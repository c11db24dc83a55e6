"""What the Notion adapter raises. Every failure from Notion surfaces as a `NotionError` subclass; the
notion-client `APIResponseError` (or httpx error) behind it is kept as `__cause__`."""

from __future__ import annotations


class NotionError(Exception):
    """A Notion request failed. `status` is the HTTP status (0 when no response came), `code` Notion's error code."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


class NotionValidation(NotionError):
    """400: the request was malformed (bad property, text too long, too many blocks, bad JSON)."""


class NotionUnauthorized(NotionError):
    """401 / 403: the token is wrong, or the page is not shared with the integration."""


class NotionNotFound(NotionError):
    """404: no such object, or it is not shared with the integration."""


class NotionRateLimited(NotionError):
    """429, still refused after every retry allowed."""


class NotionUnavailable(NotionError):
    """5xx or no response at all, after every retry allowed."""


def error_for_status(status: int, code: str, message: str, retry_after: float | None = None) -> NotionError:
    kind: type[NotionError]
    if status == 400:
        kind = NotionValidation
    elif status in (401, 403):
        kind = NotionUnauthorized
    elif status == 404:
        kind = NotionNotFound
    elif status == 429:
        kind = NotionRateLimited
    elif status >= 500 or status == 0:
        kind = NotionUnavailable
    else:
        kind = NotionError
    return kind(message, status=status, code=code, retry_after=retry_after)

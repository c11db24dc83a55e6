"""Lazy, cached boto3 clients: nothing is created at import, one client per service and region per process."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_lock = threading.Lock()
_session: Any = None


def _shared_session() -> Any:
    """One boto3 session: its loader caches the service models, so a second client doesn't re-read them."""
    global _session
    if _session is None:
        import boto3

        _session = boto3.session.Session()
    return _session


@lru_cache(maxsize=None)
def _client(service: str, region: str | None) -> Any:
    # Sessions are not thread-safe to create clients from; serialise creation only.
    with _lock:
        return _shared_session().client(service, region_name=region)


def client(service: str, region: str | None = None) -> Any:
    """A botocore client; AWS_ENDPOINT_URL (the local stack's moto) is honoured by botocore itself."""
    return _client(service, region)


def reset_clients() -> None:
    """Forget cached clients (tests that start a new moto backend, or change AWS_ENDPOINT_URL)."""
    _client.cache_clear()

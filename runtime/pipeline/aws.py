"""Lazy, cached boto3 clients: nothing is created at import, one client per service and endpoint per process."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_lock = threading.Lock()


@lru_cache(maxsize=None)
def _client(service: str, region: str | None) -> Any:
    import boto3

    # boto3's default session is not thread-safe to create clients from; serialise creation only.
    with _lock:
        return boto3.session.Session().client(service, region_name=region)


def client(service: str, region: str | None = None) -> Any:
    """A botocore client; AWS_ENDPOINT_URL (the local stack's moto) is honoured by botocore itself."""
    return _client(service, region)


def reset_clients() -> None:
    """Forget cached clients (tests that start a new moto backend)."""
    _client.cache_clear()

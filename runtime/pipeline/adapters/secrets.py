"""Secrets Manager reads and the one write the webhook makes (Notion's verification token). Values are cached
briefly: a rotated token is picked up within a minute without a redeploy."""

from __future__ import annotations

import threading
import time
from typing import Any

from runtime.pipeline.adapters import aws

UNSET = "unset"  # what the stacks store before a real value exists


class SecretsManagerStore:
    client = aws.lazy_client("secretsmanager")

    def __init__(self, client: Any | None = None, *, ttl_seconds: float = 60.0) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, secret_id: str) -> str | None:
        """The secret's value, or None when it is missing or still the placeholder."""
        if not secret_id:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(secret_id)
            if cached and cached[0] > now:
                return cached[1]
        try:
            value: str | None = self.client.get_secret_value(SecretId=secret_id)["SecretString"]
        except self.client.exceptions.ResourceNotFoundException:
            value = None
        if value in ("", UNSET):
            value = None
        with self._lock:
            self._cache[secret_id] = (now + self._ttl, value)
        return value

    def put(self, secret_id: str, value: str) -> None:
        self.client.put_secret_value(SecretId=secret_id, SecretString=value)
        with self._lock:
            self._cache[secret_id] = (time.monotonic() + self._ttl, value)

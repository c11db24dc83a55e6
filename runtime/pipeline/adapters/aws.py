"""The process's lazy, cached boto3 clients (`runtime.aws_clients.default_clients()`), for adapters that are not
given a client: nothing is created at import, one client per service and region per process."""

from __future__ import annotations

from typing import Any

from runtime.aws_clients import default_clients


def client(service: str, region: str | None = None) -> Any:
    """A botocore client; AWS_ENDPOINT_URL (moto in tests) is honoured by botocore itself."""
    return default_clients().client(service, region)


def reset_clients() -> None:
    """Forget cached clients (tests that start a new moto backend, or change AWS_ENDPOINT_URL)."""
    default_clients().reset()

"""The process's lazy, cached boto3 clients (`runtime.aws_clients.default_clients()`), for adapters that are not
given a client: nothing is created at import, one client per service and region per process."""

from __future__ import annotations

from typing import Any

from runtime.aws_clients import default_clients
from runtime.lazy import given_or_built


def client(service: str, region: str | None = None) -> Any:
    """A botocore client; AWS_ENDPOINT_URL (moto in tests) is honoured by botocore itself."""
    return default_clients().client(service, region)


def lazy_client(service: str) -> given_or_built:
    """A class's `client` attribute: the client its constructor was given (`self._client`), else this process's
    `service` client, looked up on first use."""
    return given_or_built(lambda self: client(service))


class TableAdapter:
    """An adapter of one DynamoDB table, named `table_name`, through the client it was given or the process's."""

    client = lazy_client("dynamodb")

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client


class QueueAdapter:
    """An adapter of one SQS queue, at `queue_url`, through the client it was given or the process's."""

    client = lazy_client("sqs")

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client


def reset_clients() -> None:
    """Forget cached clients (tests that start a new moto backend, or change AWS_ENDPOINT_URL)."""
    default_clients().reset()

"""Run the Lambda handlers locally exactly as AWS would call them.

- `http_api_event` shapes an HTTP request as API Gateway HTTP API (payload 2.0) delivers it;
- `SqsPoller` receives from a queue, builds the SQS event a Lambda event source mapping builds, calls the handler and
  deletes what succeeded; `batchItemFailures` stay on the queue and come back after the visibility timeout, and
  moto's redrive moves them to the DLQ after `maxReceiveCount`, as in AWS.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("aidlc.local")

Handler = Callable[[dict, Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes Powertools and our handlers read from a Lambda context."""

    function_name: str
    timeout_seconds: int = 30
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: Any = None
    identity: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    body: bytes,
    query: str = "",
    route_key: str | None = None,
    path_parameters: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event. Non-UTF-8 bodies arrive base64-encoded, as API Gateway sends them."""
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    lowered = {k.lower(): v for k, v in headers.items()}
    query_params: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        from urllib.parse import unquote_plus

        query_params[unquote_plus(key)] = unquote_plus(value)
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "queryStringParameters": query_params or None,
        "pathParameters": path_parameters or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def sqs_event(queue_arn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event an SQS event source mapping gives a Lambda for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class SqsPoller:
    """Feeds one queue to one handler, like an event source mapping with ReportBatchItemFailures."""

    def __init__(
        self,
        name: str,
        queue_url: str,
        handler: Handler,
        *,
        sqs_client: Any,
        batch_size: int = 10,
        wait_seconds: int = 1,
        timeout_seconds: int = 120,
    ) -> None:
        self.name = name
        self.queue_url = queue_url
        self.handler = handler
        self.sqs = sqs_client
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.timeout_seconds = timeout_seconds
        self.queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.failures = 0

    def poll_once(self) -> int:
        """Receive one batch and run the handler on it; returns how many messages were received."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        self.batches += 1
        context = LocalLambdaContext(function_name=self.name, timeout_seconds=self.timeout_seconds)
        try:
            response = self.handler(sqs_event(self.queue_arn, received), context) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:
            # A handler that raises fails the whole batch, as in AWS: every message comes back.
            log.exception("%s: handler raised; the whole batch will be retried", self.name)
            failed = {m["MessageId"] for m in received}
        self.failures += len(failed)
        done = [m for m in received if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        return len(received)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("%s: polling failed; retrying in 1 s", self.name)
                self._stop.wait(1)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"poller-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.wait_seconds + 5)
